"""Tolerance evaluation: is a value inside a characteristic's limits?

Owns the rule of DESIGN.md: limits are inclusive, and values compare as decimals at the characteristic's
resolution, never as raw floats (10.050 against an upper limit of 10.05 passes). Must not do I/O.

    ToleranceError
    └── BadValueError    a value that is not a finite number, or has more digits than can be compared
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation


class ToleranceError(ValueError):
    """A tolerance or a value that cannot be evaluated."""


class BadValueError(ToleranceError):
    """A value that is not a finite number."""


class Verdict(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Tolerance:
    """Inclusive limits at a resolution; either limit may be absent (one-sided)."""

    resolution: Decimal
    lower: Decimal | None = None
    upper: Decimal | None = None

    def __post_init__(self) -> None:
        if not self.resolution.is_finite() or self.resolution <= 0:
            raise ToleranceError(f"resolution must be a positive number, not {self.resolution}")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ToleranceError(f"lower limit {self.lower} is above upper limit {self.upper}")

    def quantize(self, value: Decimal) -> Decimal:
        """The value rounded half-even to the resolution, as the gauge would display it."""
        try:
            steps = (value / self.resolution).to_integral_value(rounding=ROUND_HALF_EVEN)
            return (steps * self.resolution).quantize(self.resolution)
        except ArithmeticError:  # beyond the 28 digits of the decimal context: 1e25 at a resolution of 0.001
            raise BadValueError(f"value {value} has too many digits to compare at resolution {self.resolution}"
                                ) from None

    def evaluate(self, value: Decimal) -> Verdict:
        shown = self.quantize(value)
        if self.lower is not None and shown < self.quantize(self.lower):
            return Verdict.FAIL
        if self.upper is not None and shown > self.quantize(self.upper):
            return Verdict.FAIL
        return Verdict.PASS


def parse_value(raw: object) -> Decimal:
    """A finite Decimal from text, int, float or Decimal; anything else is a BadValueError naming it."""
    if isinstance(raw, bool):
        raise BadValueError(f"value must be a number, not {raw!r}")
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise BadValueError(f"value must be a finite number, not {raw!r}")
        raw = repr(raw)  # the shortest text that round-trips, not the binary expansion
    if isinstance(raw, int | Decimal):
        value = Decimal(raw)
    elif isinstance(raw, str):
        try:
            value = Decimal(raw.strip())
        except InvalidOperation:
            raise BadValueError(f"value must be a number, not {raw[:40]!r}") from None
    else:
        raise BadValueError(f"value must be a number, not {type(raw).__name__}")
    if not value.is_finite():
        raise BadValueError(f"value must be a finite number, not {raw!r}")
    return value
