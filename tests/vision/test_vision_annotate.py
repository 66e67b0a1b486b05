"""Annotated images: present for every verdict that has a usable frame, PNG bytes matching their hash."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest

from inspection.vision import Verdict, png_and_sha256, run_check
from tests.vision.conftest import CALIBRATION, NOW, PART_ROI, spec

CHECKS = {
    "pass": (spec(tool="rect", roi=PART_ROI, lower="39.9", upper="40.1", params={}), "good"),
    "fail": (spec(tool="rect", roi=PART_ROI, lower="39.9", upper="40.1", params={}), "wrong_size"),
    "no_result": (spec(tool="circle", roi=[132, 152, 56, 56], params={"polarity": "dark"}), "missing_hole_0"),
    "code": (spec(tool="code", roi=[220, 84, 100, 100], params={"expected": "LOT-4711"}), "good"),
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_annotated_image_is_the_roi_with_a_margin(frames, name) -> None:
    check, frame_name = CHECKS[name]
    result = run_check(check, frames[frame_name], CALIBRATION, NOW)
    assert result.annotated is not None and result.annotated.ndim == 3
    roi = check.roi
    # 16 px margin each side (the ROI is inside the frame), and an 18 px caption band on top
    assert result.annotated.shape[:2] == (roi.h + 32 + 18, roi.w + 32)
    png, sha256 = png_and_sha256(result.annotated)
    assert hashlib.sha256(png).hexdigest() == sha256
    decoded = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(decoded, result.annotated)


def test_the_verdict_colour_is_drawn(frames) -> None:
    passed = run_check(CHECKS["pass"][0], frames["good"], CALIBRATION, NOW).annotated
    failed = run_check(CHECKS["fail"][0], frames["wrong_size"], CALIBRATION, NOW).annotated
    green, red = np.array([0, 170, 0]), np.array([0, 0, 230])
    assert (passed == green).all(axis=2).any() and not (passed == red).all(axis=2).any()
    assert (failed == red).all(axis=2).any()


def test_the_same_frame_gives_the_same_bytes(frames) -> None:
    check, frame_name = CHECKS["pass"]
    first = png_and_sha256(run_check(check, frames[frame_name], CALIBRATION, NOW).annotated)
    again = png_and_sha256(run_check(check, frames[frame_name].copy(), CALIBRATION, NOW).annotated)
    assert first == again


def test_the_frame_is_not_drawn_on(frames) -> None:
    image = frames["good"].copy()
    run_check(CHECKS["pass"][0], image, CALIBRATION, NOW)
    assert np.array_equal(image, frames["good"])


def test_no_annotation_when_the_frame_is_unusable_or_not_asked_for(frames) -> None:
    check = CHECKS["pass"][0]
    assert run_check(check, None, CALIBRATION, NOW).annotated is None
    assert run_check(check, frames["good"][:100, :100], CALIBRATION, NOW).annotated is None
    assert run_check(check, frames["good"], CALIBRATION, NOW, annotated=False).annotated is None
    assert run_check(check, frames["good"], CALIBRATION, NOW).verdict is Verdict.PASS
