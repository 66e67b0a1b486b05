"""Running one check: frame -> ROI -> pipeline -> tool -> Decimal value -> verdict -> annotated image.

This is the one entry point the core calls (`run_check`). It never raises for a bad frame, ROI,
calibration or unreadable feature: those become a `NO_RESULT` with the reason code and sentence, and no
value. It owns the verdict (inclusive limits, compared as Decimals at the resolution); it must not store
anything, know about lots or gauges, or import drivers/.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from inspection.vision import blob, code, colour, dimension, frame, opencv, position, presence
from inspection.vision.annotate import annotate
from inspection.vision.calibration import Calibration, require_fresh
from inspection.vision.errors import MeasureError, VisionError
from inspection.vision.result import CheckResult, Outcome, Overlay, Value, Verdict, rounded
from inspection.vision.spec import MM_TOOLS, CheckSpec, Tool

EXTRA_RESOLUTION = Decimal("0.001")


def run_check(spec: CheckSpec, image: np.ndarray, calibration: Calibration | None = None,
              now: datetime | None = None, annotated: bool = True) -> CheckResult:
    """Measure one characteristic in one frame. Bad input gives NO_RESULT with a reason, never a number."""
    try:
        checked = frame.validate(image, spec.frame_size)
        region = frame.crop(checked, spec.roi)
        px_per_unit = _px_per_unit(spec, calibration, now or datetime.now(UTC))
        outcome = _finite(_measure(spec, _prepare(spec, region), px_per_unit))
    except VisionError as exc:
        return _no_result(spec, exc, image, annotated)
    result = _judge(spec, outcome)
    if not annotated:
        return result
    label = f"{spec.characteristic}: {_label(result)}"
    picture = annotate(checked, spec.roi, outcome.overlay, label, result.verdict)
    return replace(result, annotated=picture)


def _px_per_unit(spec: CheckSpec, calibration: Calibration | None, now: datetime) -> float:
    if spec.tool not in MM_TOOLS or spec.unit == "px":
        return 1.0
    return require_fresh(calibration, now, spec.max_calibration_age_days).px_per_mm


def _prepare(spec: CheckSpec, region: np.ndarray) -> np.ndarray:
    prepared = region if spec.tool is Tool.COLOUR else opencv.grey(region)
    return opencv.blur(prepared, spec.blur_px) if spec.blur_px else prepared


def _measure(spec: CheckSpec, region: np.ndarray, px_per_unit: float) -> Outcome:
    p = spec.params
    match spec.tool:
        case Tool.PRESENCE:
            return presence.measure(region, p)  # type: ignore[arg-type]
        case Tool.CALIPER:
            return dimension.caliper(region, p, px_per_unit, spec.unit)  # type: ignore[arg-type]
        case Tool.RECT:
            return dimension.rect(region, p, px_per_unit, spec.unit)  # type: ignore[arg-type]
        case Tool.CIRCLE:
            return dimension.circle(region, p, px_per_unit, spec.unit)  # type: ignore[arg-type]
        case Tool.BLOB:
            return blob.measure(region, p)  # type: ignore[arg-type]
        case Tool.COLOUR:
            return colour.measure(region, p)  # type: ignore[arg-type]
        case Tool.POSITION:
            return position.measure(region, p, px_per_unit)  # type: ignore[arg-type]
        case Tool.CODE:
            return code.measure(region, p)  # type: ignore[arg-type]
    raise AssertionError(f"tool {spec.tool} has no measure")  # pragma: no cover - Tool is closed


def _finite(outcome: Outcome) -> Outcome:
    """A degenerate fit (NaN, infinity) is no measurement, never a number in the record."""
    if outcome.primary is not None and not math.isfinite(outcome.primary):
        raise MeasureError(f"the fit gave {outcome.primary}, not a measurement", "feature_not_found")
    return outcome


def _judge(spec: CheckSpec, outcome: Outcome) -> CheckResult:
    extras = tuple(Value(n, rounded(v, EXTRA_RESOLUTION), u) for n, v, u in outcome.extras)
    base = {"characteristic": spec.characteristic, "tool": str(spec.tool), "extras": extras,
            "text": outcome.text}
    if outcome.matched is not None:
        verdict = Verdict.PASS if outcome.matched else Verdict.FAIL
        return CheckResult(verdict=verdict, message=outcome.mismatch, **base)  # type: ignore[arg-type]
    assert outcome.primary is not None
    value = Value(spec.characteristic, rounded(outcome.primary, spec.resolution), outcome.unit)
    problem = _outside(value, spec.lower, spec.upper)
    verdict = Verdict.FAIL if problem else Verdict.PASS
    return CheckResult(verdict=verdict, value=value, message=problem, **base)  # type: ignore[arg-type]


def _outside(value: Value, lower: Decimal | None, upper: Decimal | None) -> str:
    if lower is not None and value.value < lower:
        return f"{value.value} {value.unit} is below the lower limit {lower}"
    if upper is not None and value.value > upper:
        return f"{value.value} {value.unit} is above the upper limit {upper}"
    return ""


def _no_result(spec: CheckSpec, exc: VisionError, image: object, annotated: bool) -> CheckResult:
    result = CheckResult(spec.characteristic, str(spec.tool), Verdict.NO_RESULT, reason=exc.reason,
                         message=f"{spec.characteristic}: {exc}")
    if not annotated or not _drawable(image, spec):
        return result
    assert isinstance(image, np.ndarray)
    picture = annotate(image, spec.roi, Overlay(), f"{spec.characteristic}: {exc.reason}",
                       Verdict.NO_RESULT)
    return replace(result, annotated=picture)


def _drawable(image: object, spec: CheckSpec) -> bool:
    """A no-result can still show its ROI when the frame itself was usable and holds the ROI."""
    try:
        frame.crop(frame.validate(image, spec.frame_size), spec.roi)
    except VisionError:
        return False
    return True


def _label(result: CheckResult) -> str:
    shown = result.text if result.value is None else f"{result.value.value} {result.value.unit}"
    return f"{shown} {result.verdict.value.upper()}"
