"""The vision error tree: every reason a check cannot give a number, as a stable code and a sentence.

    VisionError               reason code              raised when
    ├── SpecError             "bad_spec"               a check's configuration cannot work (caught at load)
    ├── FrameError            "empty_image" ...        the frame is empty, truncated, wrong size or type
    ├── RoiError              "roi_outside_frame"      the region of interest is not wholly inside the frame
    ├── CalibrationError      "calibration_missing" /  a mm result is asked for with no calibration, or one
    │                         "calibration_too_old"    older than the characteristic allows
    ├── MeasureError          "no_edge" / "no_part" /  the image is usable but the feature cannot be found
    │                         "feature_not_found"
    └── CodeUnreadableError   "code_unreadable"        no code of the expected symbology could be decoded

It owns only the error classes; it must not import OpenCV, drivers/ or anything outside inspection/.
"""

from __future__ import annotations


class VisionError(Exception):
    """Base of every vision error; `reason` is a stable code for records and UI, the message is for people."""

    default_reason = "vision_error"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or self.default_reason


class SpecError(VisionError):
    """A check specification that cannot work; the message names the check and the field."""

    default_reason = "bad_spec"


class FrameError(VisionError):
    """A frame that cannot be inspected: empty, truncated, wrong size or wrong pixel type."""

    default_reason = "bad_image"


class RoiError(VisionError):
    """A region of interest that is not wholly inside the frame."""

    default_reason = "roi_outside_frame"


class CalibrationError(VisionError):
    """No usable calibration for a result in millimetres."""

    default_reason = "calibration_missing"


class MeasureError(VisionError):
    """The image is usable but the feature to measure cannot be found."""

    default_reason = "feature_not_found"


class CodeUnreadableError(VisionError):
    """No code of the expected symbology could be decoded in the region."""

    default_reason = "code_unreadable"
