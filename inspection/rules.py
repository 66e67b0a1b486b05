"""Run rules for control charts: the Western Electric rules and Nelson's eight, each selectable.

Owns: finding where each rule signals in a series of plotted points, given the centre line and the sigma of
the plotted statistic per point (so variable limits need no special case). Every rule answers with the
indices of the points that complete its pattern, vectorised with numpy (shifted slices, runs by doubling).

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
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from inspection.spc import ChartError, ChartPoints

Bools = NDArray[np.bool_]
Floats = NDArray[np.float64]
Indices = NDArray[np.intp]

WESTERN_ELECTRIC = ("we1", "we2", "we3", "we4")
NELSON = ("nelson1", "nelson2", "nelson3", "nelson4", "nelson5", "nelson6", "nelson7", "nelson8")


class RuleError(ChartError):
    """A run rule cannot be applied: unknown name, or points without a usable sigma."""


class _Series:
    """The z-scores of one series, with the derived arrays several rules share computed once."""

    def __init__(self, z: Floats) -> None:
        self.z = z

    # Boolean masks only: a fresh 8 MB float array per rule costs more in page faults than the arithmetic.
    @cached_property
    def rising(self) -> Bools:
        return np.asarray(self.z[1:] > self.z[:-1])

    @cached_property
    def falling(self) -> Bools:
        return np.asarray(self.z[1:] < self.z[:-1])

    @cached_property
    def above(self) -> Bools:
        return self.z > 0

    @cached_property
    def below(self) -> Bools:
        return self.z < 0

    @cached_property
    def beyond1_up(self) -> Bools:
        return self.z > 1

    @cached_property
    def beyond1_down(self) -> Bools:
        return self.z < -1


def _window_count(mask: Bools, width: int) -> NDArray[np.int8]:
    """How many of the (up to) ``width`` points ending at each index are set; ``width`` is small (<= 5)."""
    padded = np.concatenate((np.zeros(width - 1, dtype=np.int8), mask.view(np.int8)))
    total = padded[width - 1:].copy()
    for shift in range(1, width):
        total += padded[width - 1 - shift:padded.size - shift]
    return total


def _run(mask: Bools, length: int) -> Indices:
    """Indices that end ``length`` consecutive set points, by doubling: about log2(length) passes."""
    if mask.size < length:
        return np.empty(0, dtype=np.intp)
    span, starts = 1, mask  # starts[j]: the span points from j on are all set
    while span * 2 <= length:
        starts = starts[:-span] & starts[span:]
        span *= 2
    extra = length - span
    if extra:
        starts = starts[:starts.size - extra] & starts[extra:]
    return np.flatnonzero(starts) + (length - 1)


def _k_of_w(high: Bools, low: Bools, k: int, width: int) -> Indices:
    """Indices where k of the last ``width`` points (fewer at the start) are on one side, itself included."""
    up = (_window_count(high, width) >= k) & high
    down = (_window_count(low, width) >= k) & low
    return np.flatnonzero(up | down)


def _either(first: Indices, second: Indices) -> Indices:
    return np.union1d(first, second) if first.size and second.size else (first if first.size else second)


def _beyond3(s: _Series) -> Indices:
    return np.flatnonzero((s.z > 3) | (s.z < -3))


def _two_of_three(s: _Series) -> Indices:
    return _k_of_w(s.z > 2, s.z < -2, 2, 3)


def _four_of_five(s: _Series) -> Indices:
    return _k_of_w(s.beyond1_up, s.beyond1_down, 4, 5)


def _same_side(length: int) -> Callable[[_Series], Indices]:
    def rule(s: _Series) -> Indices:
        return _either(_run(s.above, length), _run(s.below, length))
    return rule


def _trend(s: _Series) -> Indices:
    return _either(_run(s.rising, 5), _run(s.falling, 5)) + 1


def _alternating(s: _Series) -> Indices:
    flips = (s.rising[:-1] & s.falling[1:]) | (s.falling[:-1] & s.rising[1:])
    return _run(flips, 12) + 2


def _hugging(s: _Series) -> Indices:
    return _run((s.z < 1) & (s.z > -1), 15)


def _avoiding(s: _Series) -> Indices:
    return _run(s.beyond1_up | s.beyond1_down, 8)


RULES: dict[str, Callable[[_Series], Indices]] = {
    "we1": _beyond3, "we2": _two_of_three, "we3": _four_of_five, "we4": _same_side(8),
    "nelson1": _beyond3, "nelson2": _same_side(9), "nelson3": _trend, "nelson4": _alternating,
    "nelson5": _two_of_three, "nelson6": _four_of_five, "nelson7": _hugging, "nelson8": _avoiding,
}


def zscores(values: ArrayLike, center: ArrayLike, sigma: ArrayLike) -> NDArray[np.float64]:
    """Distance of each point from the centre line in sigmas of the plotted statistic."""
    data = np.asarray(values, dtype=np.float64)
    spread = np.asarray(sigma, dtype=np.float64)
    if data.ndim != 1:
        raise RuleError(f"run rules need a flat series of points, not {data.ndim}-D")
    if not np.isfinite(data).all():
        raise RuleError(f"point {int(np.flatnonzero(~np.isfinite(data))[0])} is missing or infinite")
    if not (spread > 0).all() or spread.ndim > 1 or spread.size not in (1, data.size):
        raise RuleError("the sigma of the plotted statistic must be > 0, one for all points or one per point")
    return np.asarray((data - np.asarray(center, dtype=np.float64)) / spread)


def evaluate(values: ArrayLike, center: ArrayLike, sigma: ArrayLike,
             rules: Iterable[str] = NELSON) -> dict[str, Indices]:
    """For each selected rule, the indices of the points where it signals (empty when it does not)."""
    chosen = list(rules)
    unknown = [name for name in chosen if name not in RULES]
    if unknown:
        raise RuleError(f"unknown run rule {unknown[0]!r}; known rules are {', '.join(RULES)}")
    series = _Series(zscores(values, center, sigma))
    done: dict[Callable[[_Series], Indices], Indices] = {}
    for name in chosen:  # the Western Electric rules 1-3 are Nelson's 1, 5 and 6: computed once
        if RULES[name] not in done:
            done[RULES[name]] = RULES[name](series)
    return {name: done[RULES[name]] for name in chosen}


def signals(points: ChartPoints, rules: Iterable[str] = NELSON) -> dict[str, Indices]:
    """Run rules over a chart's points, using its centre line and sigma per point."""
    return evaluate(points.values, points.center, points.sigma, rules)
