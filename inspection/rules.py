"""Run rules for control charts: the Western Electric rules and Nelson's eight, each selectable.

Owns: finding where each rule signals in a series of plotted points, given the centre line and the sigma of
the plotted statistic per point (so variable limits need no special case). Every rule answers with the
indices of the points that complete its pattern, vectorised with numpy (cumulative sums over windows).

Must not: compute limits (``inspection/spc.py`` does), decide what a signal means for a lot, or import
anything else of this repository.

Errors::

    InspectionError
     └── ChartError (spc.py)
          └── RuleError   an unknown rule name, or points the rules cannot read

Rules (zones A, B, C are beyond 2, between 1 and 2, and within 1 sigma of the centre line):

    we1 / nelson1  1 point beyond 3 sigma
    we2 / nelson5  2 of 3 consecutive points beyond 2 sigma, same side (the last of them completes it;
                   at the start of a series, 2 of the first 2 already count)
    we3 / nelson6  4 of 5 consecutive points beyond 1 sigma, same side (likewise)
    we4            8 consecutive points on one side of the centre line
    nelson2        9 consecutive points on one side of the centre line
    nelson3        6 consecutive points steadily increasing or decreasing
    nelson4        14 consecutive points alternating up and down
    nelson7        15 consecutive points within 1 sigma, either side
    nelson8        8 consecutive points beyond 1 sigma, either side, none within it
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from inspection.spc import ChartError, ChartPoints

Bools = NDArray[np.bool_]
Indices = NDArray[np.intp]

WESTERN_ELECTRIC = ("we1", "we2", "we3", "we4")
NELSON = ("nelson1", "nelson2", "nelson3", "nelson4", "nelson5", "nelson6", "nelson7", "nelson8")


class RuleError(ChartError):
    """A run rule cannot be applied: unknown name, or points without a usable sigma."""


def _trailing_count(mask: Bools, width: int) -> NDArray[np.int64]:
    """How many of the (up to) ``width`` points ending at each index are set."""
    total = np.concatenate(([0], np.cumsum(mask, dtype=np.int64)))
    start = np.maximum(np.arange(1, mask.size + 1) - width, 0)
    return np.asarray(total[1:] - total[start])


def _run(mask: Bools, length: int) -> Indices:
    """Indices that end a run of ``length`` consecutive set points."""
    return np.flatnonzero(_trailing_count(mask, length) >= length)


def _k_of_w(high: Bools, low: Bools, k: int, width: int) -> Indices:
    """Indices where k of the last ``width`` points (fewer at the start) are on one side, itself included."""
    up = (_trailing_count(high, width) >= k) & high
    down = (_trailing_count(low, width) >= k) & low
    return np.flatnonzero(up | down)


def _beyond3(z: NDArray[np.float64]) -> Indices:
    return np.flatnonzero(np.abs(z) > 3)


def _two_of_three(z: NDArray[np.float64]) -> Indices:
    return _k_of_w(z > 2, z < -2, 2, 3)


def _four_of_five(z: NDArray[np.float64]) -> Indices:
    return _k_of_w(z > 1, z < -1, 4, 5)


def _same_side(length: int) -> Callable[[NDArray[np.float64]], Indices]:
    def rule(z: NDArray[np.float64]) -> Indices:
        return np.union1d(_run(z > 0, length), _run(z < 0, length))
    return rule


def _trend(z: NDArray[np.float64]) -> Indices:
    step = np.diff(z)
    return np.union1d(_run(step > 0, 5), _run(step < 0, 5)) + 1


def _alternating(z: NDArray[np.float64]) -> Indices:
    step = np.diff(z)
    flips = (step[:-1] * step[1:]) < 0
    return _run(flips, 12) + 2


def _hugging(z: NDArray[np.float64]) -> Indices:
    return _run(np.abs(z) < 1, 15)


def _avoiding(z: NDArray[np.float64]) -> Indices:
    return _run(np.abs(z) > 1, 8)


RULES: dict[str, Callable[[NDArray[np.float64]], Indices]] = {
    "we1": _beyond3, "we2": _two_of_three, "we3": _four_of_five, "we4": _same_side(8),
    "nelson1": _beyond3, "nelson2": _same_side(9), "nelson3": _trend, "nelson4": _alternating,
    "nelson5": _two_of_three, "nelson6": _four_of_five, "nelson7": _hugging, "nelson8": _avoiding,
}


def zscores(values: ArrayLike, center: ArrayLike, sigma: ArrayLike) -> NDArray[np.float64]:
    """Distance of each point from the centre line in sigmas of the plotted statistic."""
    data = np.asarray(values, dtype=np.float64)
    spread = np.broadcast_to(np.asarray(sigma, dtype=np.float64), data.shape)
    if data.ndim != 1:
        raise RuleError(f"run rules need a flat series of points, not {data.ndim}-D")
    if not np.all(np.isfinite(data)):
        raise RuleError(f"point {int(np.flatnonzero(~np.isfinite(data))[0])} is missing or infinite")
    if not np.all(spread > 0):
        raise RuleError("the sigma of the plotted statistic must be > 0 at every point")
    return np.asarray((data - np.asarray(center, dtype=np.float64)) / spread)


def evaluate(values: ArrayLike, center: ArrayLike, sigma: ArrayLike,
             rules: Iterable[str] = NELSON) -> dict[str, Indices]:
    """For each selected rule, the indices of the points where it signals (empty when it does not)."""
    chosen = list(rules)
    unknown = [name for name in chosen if name not in RULES]
    if unknown:
        raise RuleError(f"unknown run rule {unknown[0]!r}; known rules are {', '.join(RULES)}")
    z = zscores(values, center, sigma)
    return {name: RULES[name](z) for name in chosen}


def signals(points: ChartPoints, rules: Iterable[str] = NELSON) -> dict[str, Indices]:
    """Run rules over a chart's points, using its centre line and sigma per point."""
    return evaluate(points.values, points.center, points.sigma, rules)
