"""Every bad input gives NO_RESULT with a clear reason and no number; bad specs are refused by name."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from inspection.vision import Calibration, CalibrationError, FrameError, SpecError, Verdict, opencv, run_check
from inspection.vision.calibration import require_fresh
from inspection.vision.frame import from_buffer
from tests.vision.conftest import CALIBRATION, NOW, PART_ROI, spec

RECT = spec(tool="rect", roi=PART_ROI, params={})
SIZED = spec(tool="rect", roi=PART_ROI, frame_size=[640, 480], params={})
CALIPER = spec(
    tool="caliper", roi=[40, 150, 400, 60], params={"x0_px": 10, "y0_px": 30, "x1_px": 390, "y1_px": 30}
)
OLD = Calibration(8.0, datetime(2025, 1, 1, tzinfo=UTC))
FUTURE = Calibration(8.0, datetime(2027, 1, 1, tzinfo=UTC))
TEMPLATE = spec(
    tool="presence",
    roi=[0, 0, 10, 10],
    params={"method": "template", "template": np.zeros((20, 20), np.uint8)},
)


def blank(width: int = 640, height: int = 480) -> np.ndarray:
    return np.full((height, width, 3), 30, np.uint8)


BAD_INPUTS = [  # (case, check, image-maker, calibration, reason, words in the message)
    ("none", RECT, lambda good: None, CALIBRATION, "empty_image", "empty"),
    ("no pixels", RECT, lambda good: np.zeros((0, 0), np.uint8), CALIBRATION, "empty_image", "empty"),
    ("float image", RECT, lambda good: good.astype(np.float32), CALIBRATION, "wrong_type", "float32"),
    (
        "four channels",
        RECT,
        lambda good: np.zeros((480, 640, 4), np.uint8),
        CALIBRATION,
        "wrong_type",
        "(480, 640, 4)",
    ),
    ("wrong size", SIZED, lambda good: good[:240], CALIBRATION, "wrong_size", "640x240 px"),
    (
        "roi outside",
        RECT,
        lambda good: good[:200, :300],
        CALIBRATION,
        "roi_outside_frame",
        "300x200 px frame",
    ),
    ("calibration missing", RECT, lambda good: good, None, "calibration_missing", "no calibration"),
    ("calibration too old", RECT, lambda good: good, OLD, "calibration_too_old", "697 days old, 365 allowed"),
    ("calibration in future", RECT, lambda good: good, FUTURE, "calibration_in_future", "dated after"),
    ("no part", RECT, lambda good: blank(), CALIBRATION, "no_part", "stands out"),
    ("no edge", CALIPER, lambda good: blank(), CALIBRATION, "no_edge", "0 edge(s)"),
    ("template too large", TEMPLATE, lambda good: good, None, "template_too_large", "larger than the roi"),
]


@pytest.mark.parametrize(
    ("case", "check", "make", "calibration", "reason", "words"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_gives_a_reason_never_a_number(good_frame, case, check, make, calibration, reason, words):
    result = run_check(check, make(good_frame), calibration, NOW)
    assert (result.verdict, result.reason, result.value, result.extras) == (
        Verdict.NO_RESULT,
        reason,
        None,
        (),
    )
    assert words in result.message and check.characteristic in result.message


def test_a_part_cut_by_the_roi_is_not_measured(good_frame) -> None:
    result = run_check(spec(tool="rect", roi=[40, 40, 300, 280], params={}), good_frame, CALIBRATION, NOW)
    assert (result.verdict, result.reason, result.value) == (Verdict.NO_RESULT, "part_not_inside_roi", None)


def test_noise_alone_is_not_a_part() -> None:
    noise = np.random.default_rng(1).normal(30, 4, (480, 640)).clip(0, 255).astype(np.uint8)
    result = run_check(RECT, noise, CALIBRATION, NOW)
    assert (result.verdict, result.reason) == (Verdict.NO_RESULT, "no_part")


def test_missing_hole_has_no_diameter_and_no_position(frames) -> None:
    circle = spec(tool="circle", roi=[132, 152, 56, 56], params={"polarity": "dark"})
    position = spec(tool="position", roi=PART_ROI, params={"nominal_x_mm": 10.0, "nominal_y_mm": 12.5})
    for check in (circle, position):
        result = run_check(check, frames["missing_hole_0"], CALIBRATION, NOW)
        assert (result.verdict, result.reason, result.value) == (Verdict.NO_RESULT, "feature_not_found", None)


def test_colour_needs_a_colour_frame(good_frame) -> None:
    check = spec(tool="colour", roi=[0, 0, 10, 10], params={"hsv_lo": [0, 0, 0], "hsv_hi": [179, 255, 255]})
    result = run_check(check, good_frame[:, :, 0].copy(), now=NOW)
    assert (result.verdict, result.reason) == (Verdict.NO_RESULT, "wrong_type")


@pytest.mark.parametrize(
    ("size", "reason"), [(0, "empty_image"), (99, "truncated_image"), (101, "wrong_size")]
)
def test_raw_buffers_of_the_wrong_length(size, reason) -> None:
    with pytest.raises(FrameError) as caught:
        from_buffer(bytes(size), 10, 10)
    assert caught.value.reason == reason


def test_raw_buffer_of_the_right_length() -> None:
    assert from_buffer(bytes(300), 10, 10, 3).shape == (10, 10, 3)


def test_calibration_age_rule_is_inclusive() -> None:
    made = Calibration(8.0, datetime(2026, 11, 19, 12, 0, tzinfo=UTC))
    assert require_fresh(made, NOW, 10) is made
    with pytest.raises(CalibrationError, match="10 days old, 9 allowed"):
        require_fresh(made, NOW, 9)


BAD_SPECS = [  # (entry, words in the error)
    ({"tool": "laser"}, "'laser' is not a valid Tool"),
    (
        {"tool": "position", "unit": "px", "params": {"nominal_x_mm": 1, "nominal_y_mm": 1}},
        "unit must be 'mm'",
    ),
    ({"tool": "rect", "params": {"colour": 1}}, "params ['colour'] are not known to tool rect"),
    ({"tool": "rect", "roi": [-1, 0, 5, 5]}, "roi (-1, 0, 5, 5)"),
    ({"tool": "rect", "lower": 5, "upper": 4}, "lower 5 is above upper 4"),
    ({"tool": "rect", "unit": "inch"}, "unit must be 'mm' or 'px'"),
    ({"tool": "rect", "blur_px": 4}, "blur_px must be 0 or an odd number"),
    ({"tool": "rect", "params": {"polarity": "grey"}}, "polarity must be 'dark' or 'bright'"),
    ({"tool": "caliper", "params": {"x0_px": 0, "y0_px": 0, "x1_px": 1, "y1_px": 0}}, "at least 3 px"),
    ({"tool": "presence", "params": {"method": "template"}}, "template must be a non-empty"),
    ({"tool": "colour", "params": {"hsv_lo": [0, 0, 0], "hsv_hi": [200, 255, 255]}}, "hsv_hi must be"),
    ({"tool": "code", "params": {"symbology": "pdf417"}}, "symbology must be one of"),
    ({"tool": "code", "params": {"expected_ai": {"lot": "x"}}}, "expected_ai keys must be GS1"),
    ({"tool": "rect", "roi": [0, 0]}, "TypeError"),
]


@pytest.mark.parametrize(("entry", "words"), BAD_SPECS, ids=[w for _, w in BAD_SPECS])
def test_bad_spec_is_refused_naming_check_and_field(entry, words) -> None:
    full = {"characteristic": "bore_dia", "roi": [0, 0, 10, 10], "params": {}, **entry}
    with pytest.raises(SpecError) as caught:
        spec(**full)
    assert "check 'bore_dia'" in str(caught.value) and words in str(caught.value)


def test_opencv_failures_become_vision_errors() -> None:
    with pytest.raises(FrameError, match="OpenCV blur failed") as caught:
        opencv.blur(np.zeros((10, 10), np.uint8), 4)  # an even kernel: cv2.error inside
    assert caught.value.reason == "opencv_error"
