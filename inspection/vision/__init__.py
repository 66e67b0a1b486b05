"""Vision checks on numpy arrays: the public face the core calls.

    spec = spec_from_mapping(entry)            # one characteristic from the line configuration
    result = run_check(spec, frame, calibration, now)   # or: await VisionWorker().run_check(...)
    png, sha256 = png_and_sha256(result.annotated)

Names are loaded on first use, so validating a configuration (`spec_from_mapping`) does not import
numpy, OpenCV or zxing-cpp. It owns measuring and judging one frame; it must not read cameras
(drivers/camera.py does), store files or records (the core does), or import drivers/ or edge/.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOMES = {
    "png_and_sha256": "annotate",
    "Calibration": "calibration", "from_target": "calibration", "require_fresh": "calibration",
    "run_check": "check",
    "CalibrationError": "errors", "CodeUnreadableError": "errors", "FrameError": "errors",
    "MeasureError": "errors", "RoiError": "errors", "SpecError": "errors", "VisionError": "errors",
    "CheckResult": "result", "Value": "result", "Verdict": "result",
    "Selection": "retention", "select_for_deletion": "retention",
    "CheckSpec": "spec", "Roi": "spec", "Tool": "spec", "spec_from_mapping": "spec",
    "VisionWorker": "worker",
}
__all__ = [  # the names of _HOMES, spelt out so that linters and readers see them
    "Calibration", "CalibrationError", "CheckResult", "CheckSpec", "CodeUnreadableError", "FrameError",
    "MeasureError", "Roi", "RoiError", "Selection", "SpecError", "Tool", "Value", "Verdict", "VisionError",
    "VisionWorker", "from_target", "png_and_sha256", "require_fresh", "run_check", "select_for_deletion",
    "spec_from_mapping",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'inspection.vision' has no attribute {name!r}")
    return getattr(importlib.import_module(f"inspection.vision.{home}"), name)
