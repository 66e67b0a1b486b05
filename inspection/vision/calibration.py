"""Pixel-to-millimetre calibration: made from a target of known size, dated, refused when too old.

A calibration is the scale `px_per_mm` of one camera at one working distance, measured by the caliper
across a target whose size is known (a gauge block or a printed target), with the UTC time it was made.
It owns that scale and the age rule; it must not store calibrations (the core does), import drivers/ or
call OpenCV except through `edge`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from inspection.vision import edge, frame, opencv
from inspection.vision.errors import CalibrationError, SpecError
from inspection.vision.spec import CaliperParams, Roi


@dataclass(frozen=True, slots=True)
class Calibration:
    px_per_mm: float
    calibrated_at: datetime  # timezone-aware UTC
    target_mm: float = 0.0  # the known size of the target it was made from
    measured_px: float = 0.0  # what the caliper measured across it

    def __post_init__(self) -> None:
        if not 0 < self.px_per_mm < math.inf:  # a target stated as 1e-320 mm gives inf
            raise SpecError(f"calibration px_per_mm must be a finite number > 0, not {self.px_per_mm}")
        if self.calibrated_at.tzinfo is None:
            raise SpecError("calibration calibrated_at must be timezone-aware (UTC)")

    @property
    def mm_per_px(self) -> float:
        """The size of one pixel: the finest step a dimension in mm can resolve."""
        return 1.0 / self.px_per_mm

    def to_mm(self, value_px: float) -> float:
        return value_px / self.px_per_mm


def require_fresh(calibration: Calibration | None, now: datetime, max_age_days: int) -> Calibration:
    """The calibration when it exists and is no older than `max_age_days`; otherwise `CalibrationError`."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC): a naive time cannot be compared")
    if calibration is None:
        raise CalibrationError("no calibration: a result in mm needs px_per_mm from a calibration target",
                               "calibration_missing")
    age = now - calibration.calibrated_at
    if age > timedelta(days=max_age_days):
        raise CalibrationError(f"calibration of {calibration.calibrated_at.isoformat()} is {age.days} days "
                               f"old, {max_age_days} allowed", "calibration_too_old")
    if age < timedelta(0):
        raise CalibrationError(f"calibration of {calibration.calibrated_at.isoformat()} is dated after "
                               f"{now.isoformat()}", "calibration_in_future")
    return calibration


def from_target(image: np.ndarray, roi: Roi, caliper: CaliperParams, target_mm: float,
                at: datetime) -> Calibration:
    """Measure a target of `target_mm` with the caliper in the ROI and derive px_per_mm from it."""
    if not 0 < target_mm < math.inf:
        raise SpecError(f"calibration target size must be a finite number > 0 mm, not {target_mm}")
    grey = opencv.grey(frame.crop(frame.validate(image), roi))
    line = ((caliper.x0_px, caliper.y0_px), (caliper.x1_px, caliper.y1_px))
    edge.check_inside(grey, *line)
    first, last = edge.outer_pair(edge.profile(grey, *line, caliper.band_px), caliper.min_contrast)
    measured_px = last.at_px - first.at_px
    return Calibration(measured_px / target_mm, at, target_mm, measured_px)
