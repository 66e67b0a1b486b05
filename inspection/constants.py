"""Control chart constants (d2, d3, c4, A2, A3, B3..B6, D1..D4, E2) computed from the normal distribution.

Owns: the arithmetic of the constants: c4 exactly from the gamma function; d2 and d3, the mean and standard
deviation of the range of n standard normal values, by numerical integration (Tippett, 1925); the rest from
those three, as ASTM E2587 and Montgomery (Appendix VI) define them. Results are cached per n.

Must not: validate a caller's subgroup size (``inspection/spc.py`` does, with ``spc.constants``), tabulate
values by hand, or import anything else of this repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.special import gammaln
from scipy.stats import norm


@dataclass(frozen=True)
class ChartConstants:
    """Control chart constants for subgroup size ``n`` (ASTM E2587 / Montgomery, Appendix VI)."""

    n: int
    d2: float
    d3: float
    c4: float
    A: float
    A2: float
    A3: float
    B3: float
    B4: float
    B5: float
    B6: float
    D1: float
    D2: float
    D3: float
    D4: float
    E2: float


_GRID = np.linspace(-8.0, 8.0, 1601)


@cache
def _range_moments(n: int) -> tuple[float, float]:
    """d2 = E[W] and d3 = sd[W] of the range W of n standard normals, by trapezoidal integration.

    E[W] = integral of 1 - F(x)^n - (1 - F(x))^n; E[W^2] = 2 * double integral over x < y of
    1 - F(y)^n - (1 - F(x))^n + (F(y) - F(x))^n (Tippett, 1925).
    """
    step = _GRID[1] - _GRID[0]
    weights = np.full(_GRID.size, step)
    weights[[0, -1]] = step / 2
    cdf = norm.cdf(_GRID)
    d2 = float(weights @ (1 - cdf**n - (1 - cdf) ** n))
    fy, fx = cdf[None, :], cdf[:, None]
    inner = 1 - fy**n - (1 - fx) ** n + np.clip(fy - fx, 0, None) ** n
    upper = np.triu(np.ones_like(inner), 1) + 0.5 * np.eye(_GRID.size)
    second = 2 * float(weights @ (inner * upper) @ weights)
    return d2, float(np.sqrt(second - d2 * d2))


def c4(n: int) -> float:
    """E[s]/sigma for samples of n: sqrt(2/(n-1)) * Gamma(n/2) / Gamma((n-1)/2)."""
    return float(np.sqrt(2.0 / (n - 1)) * np.exp(gammaln(n / 2) - gammaln((n - 1) / 2)))


@cache
def chart_constants(n: int) -> ChartConstants:
    """The constants for subgroups of ``n`` >= 2 (callers check the range)."""
    d2, d3 = _range_moments(n)
    k4 = c4(n)
    spread = 3 * np.sqrt(1 - k4 * k4)
    root = np.sqrt(n)
    values = dict(
        d2=d2, d3=d3, c4=k4, A=3 / root, A2=3 / (d2 * root), A3=3 / (k4 * root),
        B3=max(0.0, 1 - spread / k4), B4=1 + spread / k4, B5=max(0.0, k4 - spread), B6=k4 + spread,
        D1=max(0.0, d2 - 3 * d3), D2=d2 + 3 * d3, D3=max(0.0, 1 - 3 * d3 / d2), D4=1 + 3 * d3 / d2,
        E2=3 / d2,
    )
    return ChartConstants(n=n, **{name: float(v) for name, v in values.items()})
