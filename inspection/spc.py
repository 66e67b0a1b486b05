"""Shewhart control charts: constants, phase-I limits and the points plotted against them.

Owns: the control chart constants for subgroups of 2..25 (validated here, computed from the normal
distribution in ``inspection/constants.py``, never typed in); limits computed from a phase-I baseline for
X-bar/R, X-bar/S, individuals/moving range, p, np, c and u charts (returned as frozen objects: limits are
never entered by hand); and the points of new data against those limits, with variable limits for p and u
charts when the sample sizes differ. Vectorised with numpy.

Must not: read or write anything, decide what a signal means for a lot, or import anything else of this
repository. Run rules live in ``inspection/rules.py``; capability indices in ``inspection/capability.py``.

Errors::

    InspectionError
     └── ChartError   a baseline or points a chart cannot use; the message names what is wrong and where
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from inspection.constants import ChartConstants, chart_constants
from inspection.errors import InspectionError

MIN_SUBGROUP, MAX_SUBGROUP = 2, 25
MIN_BASELINE = 2  # the arithmetic needs 2; practice wants 20 to 25 subgroups for phase I
Floats = NDArray[np.float64]


class ChartError(InspectionError):
    """A control chart cannot be computed from what was given; the message names the thing at fault."""


# --- constants ----------------------------------------------------------------------------------------


def constants(n: int) -> ChartConstants:
    """All the usual control chart constants for subgroups of ``n`` (2..25), computed once and cached."""
    if isinstance(n, bool) or not isinstance(n, int) or not MIN_SUBGROUP <= n <= MAX_SUBGROUP:
        raise ChartError(f"subgroup size {n!r} is outside {MIN_SUBGROUP}..{MAX_SUBGROUP} of the constants")
    return chart_constants(n)


# --- limits and points --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartPoints:
    """Statistics plotted against limits; ``beyond`` holds the indices outside them.

    ``center``, ``ucl``, ``lcl`` and ``sigma`` (the standard deviation of the plotted statistic, for the run
    rules' zones) are arrays of the same length as ``values``, so that variable limits need no special case.
    """

    chart: str
    values: Floats
    center: Floats
    ucl: Floats
    lcl: Floats
    sigma: Floats

    @property
    def beyond(self) -> NDArray[np.intp]:
        return np.flatnonzero((self.values > self.ucl) | (self.values < self.lcl))

    def to_dict(self) -> dict[str, Any]:
        """Plain lists for JSON."""
        arrays = {name: getattr(self, name).tolist() for name in ("values", "center", "ucl", "lcl", "sigma")}
        return {"chart": self.chart, **arrays, "beyond": self.beyond.tolist()}


@dataclass(frozen=True)
class ControlLimits:
    """Constant three-sigma limits of one chart, computed from a baseline of ``baseline_count`` points."""

    chart: str
    center: float
    ucl: float
    lcl: float
    sigma: float
    baseline_count: int

    def points(self, values: ArrayLike) -> ChartPoints:
        data = _series(values, f"{self.chart} points", 1)
        full = np.full_like(data, 1.0)
        return ChartPoints(self.chart, data, full * self.center, full * self.ucl, full * self.lcl,
                           full * self.sigma)

    def to_dict(self) -> dict[str, Any]:
        return {"chart": self.chart, "center": self.center, "ucl": self.ucl, "lcl": self.lcl,
                "sigma": self.sigma, "baseline_count": self.baseline_count}


def _limits(chart: str, center: float, sigma: float, count: int, floor: float | None = 0.0) -> ControlLimits:
    lcl = center - 3 * sigma
    if floor is not None:
        lcl = max(floor, lcl)
    return ControlLimits(chart, float(center), float(center + 3 * sigma), float(lcl), float(sigma), count)


def _finite(values: ArrayLike, what: str) -> Floats:
    try:
        data = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ChartError(f"{what} are not all numbers (or subgroups of unequal size): {exc}") from exc
    if data.ndim == 0:
        raise ChartError(f"{what} must be a series, not the single number {values!r}")
    bad = np.flatnonzero(~np.isfinite(data).reshape(data.shape[0], -1).all(axis=1))
    if len(bad):
        raise ChartError(f"{what} hold a missing or infinite value at index {int(bad[0])}")
    return data


def _matrix(values: ArrayLike, what: str) -> Floats:
    if not isinstance(values, np.ndarray):
        rows = list(values)  # type: ignore[arg-type]
        sizes = [np.size(row) for row in rows]
        odd = next((i for i, size in enumerate(sizes) if size != sizes[0]), None)
        if odd is not None:
            raise ChartError(f"{what}: subgroups must all be the same size; subgroup {odd} has {sizes[odd]} "
                             f"values, subgroup 0 has {sizes[0]}")
    data = _finite(values, what)
    if data.ndim != 2:
        raise ChartError(f"{what} must be a list of subgroups (2-D), not {data.ndim}-D")
    return data


def _subgroups(baseline: ArrayLike, what: str) -> Floats:
    data = _matrix(baseline, what)
    if data.shape[0] < MIN_BASELINE:
        raise ChartError(f"{what} need at least {MIN_BASELINE} subgroups, got {data.shape[0]}")
    constants(int(data.shape[1]))  # validates the subgroup size
    return data


def _no_zero_spread(spread: float, what: str) -> None:
    if not spread > 0:
        raise ChartError(f"{what} show zero variation: the limits would collapse onto the centre line "
                         "(check the gauge's resolution or the data)")


@dataclass(frozen=True)
class SubgroupChart:
    """A pair of charts over subgroups: X-bar with R (``spread='range'``) or with S (``spread='stdev'``)."""

    xbar: ControlLimits
    spread: ControlLimits
    subgroup_size: int
    sigma_within: float

    def points(self, subgroups: ArrayLike) -> tuple[ChartPoints, ChartPoints]:
        data = _matrix(subgroups, "subgroups")
        if data.shape[1] != self.subgroup_size:
            raise ChartError(f"subgroups must have {self.subgroup_size} values each, like the baseline")
        return self.xbar.points(data.mean(axis=1)), self.spread.points(_spread_of(self.spread.chart, data))


def _spread_of(chart: str, data: Floats) -> Floats:
    if chart == "R":
        return np.asarray(data.max(axis=1) - data.min(axis=1))
    return np.asarray(data.std(axis=1, ddof=1))


def xbar_r(baseline: ArrayLike) -> SubgroupChart:
    """X-bar and R limits from phase-I subgroups (equal sizes 2..25): sigma within = R-bar / d2."""
    data = _subgroups(baseline, "X-bar/R baseline")
    k, n = data.shape
    const = constants(n)
    ranges = _spread_of("R", data)
    r_bar, grand = float(ranges.mean()), float(data.mean())
    _no_zero_spread(r_bar, "the X-bar/R baseline's ranges")
    sigma = r_bar / const.d2
    xbar = _limits("X-bar", grand, const.A2 * r_bar / 3, k, floor=None)
    spread = ControlLimits("R", r_bar, const.D4 * r_bar, const.D3 * r_bar, const.d3 * sigma, k)
    return SubgroupChart(xbar, spread, n, sigma)


def xbar_s(baseline: ArrayLike) -> SubgroupChart:
    """X-bar and S limits from phase-I subgroups (equal sizes 2..25): sigma within = S-bar / c4."""
    data = _subgroups(baseline, "X-bar/S baseline")
    k, n = data.shape
    const = constants(n)
    s_bar, grand = float(_spread_of("S", data).mean()), float(data.mean())
    _no_zero_spread(s_bar, "the X-bar/S baseline's standard deviations")
    sigma = s_bar / const.c4
    xbar = _limits("X-bar", grand, const.A3 * s_bar / 3, k, floor=None)
    s_sigma = sigma * float(np.sqrt(1 - const.c4**2))
    spread = ControlLimits("S", s_bar, const.B4 * s_bar, const.B3 * s_bar, s_sigma, k)
    return SubgroupChart(xbar, spread, n, sigma)


@dataclass(frozen=True)
class IndividualsChart:
    """Individuals (I) and moving range (MR, span 2) limits: sigma within = MR-bar / d2(2) = MR-bar/1.128."""

    individuals: ControlLimits
    moving_range: ControlLimits
    sigma_within: float

    def points(self, values: ArrayLike) -> tuple[ChartPoints, ChartPoints]:
        data = _series(values, "individual values", 2)
        return self.individuals.points(data), self.moving_range.points(np.abs(np.diff(data)))


def _series(values: ArrayLike, what: str, minimum: int) -> Floats:
    data = _finite(values, what)
    if data.ndim != 1:
        raise ChartError(f"{what} must be a flat series, not {data.ndim}-D")
    if data.size < minimum:
        raise ChartError(f"{what} need at least {minimum} points, got {data.size}")
    return data


def individuals(baseline: ArrayLike) -> IndividualsChart:
    """I-MR limits from a phase-I series of single measurements (at least 3 values, 2 moving ranges)."""
    data = _series(baseline, "individuals baseline", 3)
    const = constants(2)
    mr_bar = float(np.abs(np.diff(data)).mean())
    _no_zero_spread(mr_bar, "the individuals baseline's moving ranges")
    sigma = mr_bar / const.d2
    i_chart = _limits("I", float(data.mean()), sigma, data.size, floor=None)
    mr_chart = ControlLimits("MR", mr_bar, const.D4 * mr_bar, const.D3 * mr_bar, const.d3 * sigma,
                             data.size - 1)
    return IndividualsChart(i_chart, mr_chart, sigma)


# --- attribute charts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttributeChart:
    """p, np, c or u chart: the centre from the baseline; limits per point from each point's sample size.

    ``center`` is p-bar (p, np), c-bar (c) or u-bar (u); ``sample_size`` is fixed for np and c charts.
    """

    chart: str
    center: float
    baseline_count: int
    sample_size: float | None = None

    def points(self, counts: ArrayLike, sizes: ArrayLike | None = None) -> ChartPoints:
        found = _counts(counts, f"{self.chart} counts")
        n = self._sizes(sizes, found.size)
        if self.chart in ("p", "np"):
            _within(found, n, self.chart)
        value, center, sigma = _attribute_stats(self.chart, self.center, found, n)
        return ChartPoints(self.chart, value, center, center + 3 * sigma,
                           np.maximum(0.0, center - 3 * sigma), sigma)

    def _sizes(self, sizes: ArrayLike | None, count: int) -> Floats:
        if sizes is None:
            if self.sample_size is None:
                raise ChartError(f"a {self.chart} chart needs the sample size of every point")
            return np.full(count, float(self.sample_size))
        n = _positive(sizes, f"{self.chart} sample sizes", count)
        if self.sample_size is not None and not np.all(n == self.sample_size):
            raise ChartError(f"an {self.chart} chart needs every sample of size {self.sample_size:g}; "
                             f"sample {int(np.flatnonzero(n != self.sample_size)[0])} differs")
        return n

    def to_dict(self) -> dict[str, Any]:
        return {"chart": self.chart, "center": self.center, "baseline_count": self.baseline_count,
                "sample_size": self.sample_size}


def _attribute_stats(chart: str, center: float, found: Floats, n: Floats) -> tuple[Floats, Floats, Floats]:
    """(plotted values, centre per point, sigma per point) for each attribute chart."""
    if chart == "p":
        return found / n, np.full_like(n, center), np.sqrt(center * (1 - center) / n)
    if chart == "np":
        return found, n * center, np.sqrt(n * center * (1 - center))
    if chart == "c":
        return found, np.full_like(n, center), np.full_like(n, np.sqrt(center))
    return found / n, np.full_like(n, center), np.sqrt(center / n)


def _counts(values: ArrayLike, what: str) -> Floats:
    data = _series(values, what, 1)
    if np.any(data < 0) or np.any(data != np.round(data)):
        raise ChartError(f"{what} must be whole numbers >= 0; index {_first_bad_count(data)} is not")
    return data


def _first_bad_count(data: Floats) -> int:
    return int(np.flatnonzero((data < 0) | (data != np.round(data)))[0])


def _positive(values: ArrayLike, what: str, count: int) -> Floats:
    data = _series(values, what, 1)
    if data.size != count:
        raise ChartError(f"{what}: {data.size} given for {count} counts")
    if np.any(data <= 0):
        raise ChartError(f"{what} must be > 0; index {int(np.flatnonzero(data <= 0)[0])} is not")
    return data


def _within(found: Floats, n: Floats, chart: str) -> None:
    over = np.flatnonzero(found > n)
    if over.size:
        raise ChartError(f"{chart} chart: sample {int(over[0])} has more nonconforming items than its size")


def _attribute_baseline(chart: str, counts: ArrayLike, sizes: ArrayLike | None) -> tuple[Floats, Floats]:
    found = _counts(counts, f"{chart} baseline counts")
    if found.size < MIN_BASELINE:
        raise ChartError(f"{chart} baseline counts need at least {MIN_BASELINE} samples, got {found.size}")
    n = np.ones_like(found) if sizes is None else _positive(sizes, f"{chart} baseline sizes", found.size)
    if chart in ("p", "np"):
        _within(found, n, chart)
    return found, n


def p_chart(nonconforming: ArrayLike, sample_sizes: ArrayLike) -> AttributeChart:
    """Fraction nonconforming: p-bar = total nonconforming / total inspected; limits vary with each n."""
    found, n = _attribute_baseline("p", nonconforming, sample_sizes)
    p_bar = float(found.sum() / n.sum())
    _no_zero_spread(p_bar * (1 - p_bar), "the p baseline (p-bar is 0 or 1)")
    return AttributeChart("p", p_bar, found.size)


def np_chart(nonconforming: ArrayLike, sample_size: int) -> AttributeChart:
    """Number nonconforming, for samples that all have the same size ``sample_size``."""
    if isinstance(sample_size, bool) or not isinstance(sample_size, int | np.integer):
        raise ChartError(f"an np chart needs one whole sample size, not {sample_size!r}; "
                         "use a p chart when the sample sizes differ")
    found, n = _attribute_baseline("np", nonconforming, np.full(np.size(nonconforming), sample_size))
    p_bar = float(found.sum() / n.sum())
    _no_zero_spread(p_bar * (1 - p_bar), "the np baseline (p-bar is 0 or 1)")
    return AttributeChart("np", p_bar, found.size, float(sample_size))


def c_chart(counts: ArrayLike) -> AttributeChart:
    """Nonconformities per inspection unit of constant size: c-bar, limits c-bar +/- 3 sqrt(c-bar)."""
    found, _ = _attribute_baseline("c", counts, None)
    c_bar = float(found.mean())
    _no_zero_spread(c_bar, "the c baseline (no nonconformities at all)")
    return AttributeChart("c", c_bar, found.size, 1.0)


def u_chart(counts: ArrayLike, units: ArrayLike | None) -> AttributeChart:
    """Nonconformities per unit when the number of units varies: u-bar = total count / total units."""
    if units is None:
        raise ChartError("a u chart needs the number of units inspected for every sample")
    found, n = _attribute_baseline("u", counts, units)
    u_bar = float(found.sum() / n.sum())
    _no_zero_spread(u_bar, "the u baseline (no nonconformities at all)")
    return AttributeChart("u", u_bar, found.size)
