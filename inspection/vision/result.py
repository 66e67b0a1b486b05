"""What a check gives back: values with units, a verdict, a reason when it cannot measure, an overlay.

`Outcome` is what a tool measured, in pixels or in the unit asked for, with the geometry it found
(an `Overlay` in ROI pixels) for the annotated image. `CheckResult` is the record the core keeps: the
primary value as a Decimal rounded to the characteristic's resolution, the verdict, and, when the check
could not measure, the reason code and sentence instead of any number. It must not compute anything
from pixels, nor import drivers/.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np

Point = tuple[float, float]


class Verdict(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NO_RESULT = "no_result"  # could not measure: see reason; never a made-up number


@dataclass(frozen=True, slots=True)
class Value:
    name: str
    value: Decimal
    unit: str


@dataclass(frozen=True, slots=True)
class Overlay:
    """Geometry a tool found, in ROI pixels, drawn on the annotated image."""

    lines: tuple[tuple[Point, Point], ...] = ()
    points: tuple[Point, ...] = ()
    circles: tuple[tuple[Point, float], ...] = ()
    polygons: tuple[tuple[Point, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    """A tool's measurement: the primary value (None for codes), extra values, and what it found."""

    primary: float | None
    unit: str
    extras: tuple[tuple[str, float, str], ...] = ()
    overlay: Overlay = field(default_factory=Overlay)
    text: str | None = None  # decoded code content
    matched: bool | None = None  # codes: content equals the expected; None for measured tools
    mismatch: str = ""


@dataclass(frozen=True, slots=True)
class CheckResult:
    characteristic: str
    tool: str
    verdict: Verdict
    value: Value | None = None
    extras: tuple[Value, ...] = ()
    reason: str | None = None  # stable code, e.g. "roi_outside_frame"; None when measured
    message: str = ""  # the sentence for people: why it failed or could not measure
    text: str | None = None
    annotated: np.ndarray | None = field(default=None, compare=False, repr=False)


def rounded(value: float, resolution: Decimal) -> Decimal:
    """A float as a Decimal at the stated resolution, half to even (no float noise in records)."""
    return (Decimal(repr(float(value))) / resolution).quantize(Decimal(1), ROUND_HALF_EVEN) * resolution
