"""Vision checks on numpy arrays: the public face the core calls.

    spec = spec_from_mapping(entry)            # one characteristic from the line configuration
    result = run_check(spec, frame, calibration, now)   # or: await VisionWorker().run_check(...)
    png, sha256 = png_and_sha256(result.annotated)

It owns measuring and judging one frame; it must not read cameras (drivers/camera.py does), store files or
records (the core does), or import drivers/ or edge/.
"""

from inspection.vision.annotate import png_and_sha256
from inspection.vision.calibration import Calibration, from_target, require_fresh
from inspection.vision.check import run_check
from inspection.vision.errors import (
    CalibrationError,
    CodeUnreadableError,
    FrameError,
    MeasureError,
    RoiError,
    SpecError,
    VisionError,
)
from inspection.vision.result import CheckResult, Value, Verdict
from inspection.vision.retention import Selection, select_for_deletion
from inspection.vision.spec import CheckSpec, Roi, Tool, spec_from_mapping
from inspection.vision.worker import VisionWorker

__all__ = [
    "Calibration", "CalibrationError", "CheckResult", "CheckSpec", "CodeUnreadableError", "FrameError",
    "MeasureError", "Roi", "RoiError", "Selection", "SpecError", "Tool", "Value", "Verdict", "VisionError",
    "VisionWorker", "from_target", "png_and_sha256", "require_fresh", "run_check", "select_for_deletion",
    "spec_from_mapping",
]
