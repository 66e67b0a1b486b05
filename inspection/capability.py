"""Process capability: Cp, Cpk, Pp, Ppk with confidence intervals, and whether they can be trusted.

Owns: the within-subgroup sigma (R-bar/d2, S-bar/c4 or MR-bar/d2(2) = MR-bar/1.128), the overall sigma (the
sample standard deviation), the indices for two-sided and one-sided specifications, their confidence
intervals (chi-square for Cp and Pp; Bissell's normal approximation for Cpk and Ppk), and an
Anderson-Darling normality test whose verdict says when the indices must not be trusted.

Must not: decide conformance of single parts (tolerance evaluation does), read or write anything, or import
anything else of this repository.

Errors::

    InspectionError
     └── CapabilityError   bad specification limits, too few values, no variation, an unknown method
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import log_ndtr
from scipy.stats import chi2
from scipy.stats import norm as normal_dist

from inspection.errors import InspectionError
from inspection.spc import ChartError, constants

METHODS = ("rbar", "sbar", "mr")
MIN_VALUES = 25  # fewer and the indices' intervals are too wide to act on; they are still computed
Floats = NDArray[np.float64]


class CapabilityError(InspectionError):
    """Capability cannot be computed from what was given; the message names the thing at fault."""


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval."""

    low: float
    high: float
    confidence: float


@dataclass(frozen=True)
class Normality:
    """Anderson-Darling test of normality: A^2, A^2 adjusted for n, its p-value and the verdict at alpha."""

    statistic: float
    adjusted: float
    p_value: float
    alpha: float

    @property
    def normal(self) -> bool:
        return self.p_value >= self.alpha


@dataclass(frozen=True)
class Indices:
    """Cp-family or Pp-family indices for one sigma; None where a one-sided specification leaves one out."""

    sigma: float
    p: float | None
    lower: float | None
    upper: float | None
    k: float
    p_interval: Interval | None
    k_interval: Interval


@dataclass(frozen=True)
class CapabilityStudy:
    """Capability of a characteristic: within (Cp, Cpk) and overall (Pp, Ppk), with the trust verdict."""

    n: int
    mean: float
    lsl: float | None
    usl: float | None
    method: str
    within: Indices
    overall: Indices
    normality: Normality
    warnings: tuple[str, ...]

    @property
    def trustworthy(self) -> bool:
        return not self.warnings

    @property
    def cp(self) -> float | None:
        return self.within.p

    @property
    def cpk(self) -> float:
        return self.within.k

    @property
    def pp(self) -> float | None:
        return self.overall.p

    @property
    def ppk(self) -> float:
        return self.overall.k

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON: the fields, the four headline indices and the verdict."""
        data = asdict(self)
        data["normality"]["normal"] = self.normality.normal
        data["warnings"] = list(self.warnings)
        data.update(cp=self.cp, cpk=self.cpk, pp=self.pp, ppk=self.ppk, trustworthy=self.trustworthy)
        return data


# --- sigma --------------------------------------------------------------------------------------------


def sigma_within(data: ArrayLike, method: str) -> float:
    """Within sigma: 'rbar' (R-bar/d2), 'sbar' (S-bar/c4) over subgroups; 'mr' (MR-bar/1.128), a series."""
    if method not in METHODS:
        raise CapabilityError(f"method {method!r} is not one of {', '.join(METHODS)}")
    values = _values(data)
    if method == "mr":
        return _from_moving_ranges(_flat(values))
    return _from_subgroups(values, method)


def _from_moving_ranges(values: Floats) -> float:
    if values.size < 2:
        raise CapabilityError("the moving-range sigma needs at least 2 values")
    return float(np.abs(np.diff(values)).mean() / constants(2).d2)


def _from_subgroups(values: Floats, method: str) -> float:
    if values.ndim != 2 or values.shape[0] < 1:
        raise CapabilityError(f"method {method!r} needs subgroups (a 2-D array of equal-size subgroups)")
    try:
        const = constants(int(values.shape[1]))
    except ChartError as exc:
        raise CapabilityError(str(exc)) from exc
    if method == "rbar":
        return float((values.max(axis=1) - values.min(axis=1)).mean() / const.d2)
    return float(values.std(axis=1, ddof=1).mean() / const.c4)


def _values(data: ArrayLike) -> Floats:
    try:
        values = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CapabilityError(f"capability data are not all numbers (or subgroups differ in size): {exc}") \
            from exc
    if values.ndim not in (1, 2):
        raise CapabilityError(f"capability data must be a series or a list of subgroups, not {values.ndim}-D")
    if not np.all(np.isfinite(values)):
        raise CapabilityError(f"capability data hold a missing or infinite value at flat index "
                              f"{int(np.flatnonzero(~np.isfinite(values.ravel()))[0])}")
    return values


def _flat(values: Floats) -> Floats:
    return np.asarray(values.ravel())


# --- normality ----------------------------------------------------------------------------------------


def anderson_darling(values: ArrayLike, alpha: float = 0.05) -> Normality:
    """Anderson-Darling test for normality with mean and sigma estimated (D'Agostino & Stephens, 1986)."""
    data = np.sort(_flat(_values(values)))
    n = data.size
    if n < 8:
        raise CapabilityError(f"the Anderson-Darling test needs at least 8 values, got {n}")
    sd = data.std(ddof=1)
    if not sd > 0:
        raise CapabilityError("the values show zero variation: normality cannot be tested")
    z = (data - data.mean()) / sd
    i = np.arange(1, n + 1)
    # log F(z_i) + log(1 - F(z_{n+1-i})), straight from log_ndtr: accurate in the tails, and without the
    # argument checking of scipy.stats' wrappers, which costs three times the arithmetic on 1e6 values
    logs = log_ndtr(z) + log_ndtr(-z[::-1])
    a2 = float(-n - np.sum((2 * i - 1) * logs) / n)
    adjusted = a2 * (1 + 0.75 / n + 2.25 / (n * n))
    return Normality(a2, adjusted, _ad_p_value(adjusted), alpha)


def _ad_p_value(a: float) -> float:
    """p-value of the adjusted A^2 for the normal case with estimated parameters (Stephens' fits)."""
    if a >= 0.6:
        p = np.exp(1.2937 - 5.709 * a + 0.0186 * a * a)
    elif a >= 0.34:
        p = np.exp(0.9177 - 4.279 * a - 1.38 * a * a)
    elif a >= 0.2:
        p = 1 - np.exp(-8.318 + 42.796 * a - 59.938 * a * a)
    else:
        p = 1 - np.exp(-13.436 + 101.14 * a - 223.73 * a * a)
    return float(min(1.0, max(0.0, p)))


# --- indices ------------------------------------------------------------------------------------------


def cp_interval(cp: float, n: int, confidence: float = 0.95) -> Interval:
    """Chi-square interval for Cp (or Pp) from n values: Cp * sqrt(chi2(q, n-1) / (n-1))."""
    dof = n - 1
    tail = (1 - confidence) / 2
    low = cp * np.sqrt(chi2.ppf(tail, dof) / dof)
    high = cp * np.sqrt(chi2.ppf(1 - tail, dof) / dof)
    return Interval(float(low), float(high), confidence)


def cpk_interval(cpk: float, n: int, confidence: float = 0.95) -> Interval:
    """Bissell's (1990) interval for Cpk (or Ppk): Cpk +/- z * sqrt(1/(9n) + Cpk^2 / (2(n-1)))."""
    z = normal_dist.ppf(1 - (1 - confidence) / 2)
    half = z * np.sqrt(1 / (9 * n) + cpk * cpk / (2 * (n - 1)))
    return Interval(float(cpk - half), float(cpk + half), confidence)


def indices(mean: float, sigma: float, lsl: float | None, usl: float | None, n: int,
            confidence: float = 0.95) -> Indices:
    """Cp, Cpl, Cpu and Cpk (or the Pp family, given the overall sigma), with their intervals."""
    if not sigma > 0:
        raise CapabilityError("sigma is zero: the process shows no variation, so capability is undefined")
    lower = None if lsl is None else (mean - lsl) / (3 * sigma)
    upper = None if usl is None else (usl - mean) / (3 * sigma)
    p = None if lsl is None or usl is None else (usl - lsl) / (6 * sigma)
    k = min(v for v in (lower, upper) if v is not None)
    p_interval = None if p is None else cp_interval(p, n, confidence)
    return Indices(sigma, p, lower, upper, k, p_interval, cpk_interval(k, n, confidence))


def _check_specification(lsl: float | None, usl: float | None) -> None:
    if lsl is None and usl is None:
        raise CapabilityError("capability needs a lower or an upper specification limit (or both)")
    for name, limit in (("lower", lsl), ("upper", usl)):
        if limit is not None and not np.isfinite(limit):
            raise CapabilityError(f"the {name} specification limit {limit!r} is not a finite number")
    if lsl is not None and usl is not None and not lsl < usl:
        raise CapabilityError(f"the lower specification limit {lsl} must be below the upper {usl}")


def study(data: ArrayLike, lsl: float | None = None, usl: float | None = None, *, method: str | None = None,
          confidence: float = 0.95, alpha: float = 0.05) -> CapabilityStudy:
    """A capability study of subgroups (2-D; default R-bar/d2) or a series of individuals (1-D; MR-bar)."""
    _check_specification(lsl, usl)
    if not 0 < confidence < 1:
        raise CapabilityError(f"confidence {confidence} must be between 0 and 1")
    values = _values(data)
    chosen = method or ("rbar" if values.ndim == 2 else "mr")
    flat = _flat(values)
    if flat.size < 8:
        raise CapabilityError(f"capability needs at least 8 values, got {flat.size}")
    mean, overall_sigma = float(flat.mean()), float(flat.std(ddof=1))
    if not overall_sigma > 0:
        raise CapabilityError("the values show zero variation: capability is undefined (check the gauge)")
    within = indices(mean, sigma_within(values, chosen), lsl, usl, flat.size, confidence)
    overall = indices(mean, overall_sigma, lsl, usl, flat.size, confidence)
    normality = anderson_darling(flat, alpha)
    return CapabilityStudy(flat.size, mean, lsl, usl, chosen, within, overall, normality,
                           _warnings(flat.size, normality))


def _warnings(n: int, normality: Normality) -> tuple[str, ...]:
    found = []
    if not normality.normal:
        found.append(f"the values are not normal (Anderson-Darling p = {normality.p_value:.4f} < "
                     f"{normality.alpha}): the indices must not be trusted")
    if n < MIN_VALUES:
        found.append(f"only {n} values: at least {MIN_VALUES} are needed before acting on the indices")
    return tuple(found)
