"""Dimensions against drawings of known geometry: within 0.5 px, and in mm within the calibration."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from drivers.simulators.camera import Hole, Part, Scene, draw, to_frame_px
from inspection.vision import Calibration, Roi, Verdict, from_target, run_check
from inspection.vision.spec import CaliperParams
from tests.vision.conftest import CALIBRATION, HOLES, NOW, PART_ROI, hole_roi, spec

# (px_per_mm, angle_deg, noise): scales that do not put edges on whole pixels, skew, sensor noise.
CASES = [(8.0, 0.0, 0.0), (7.3, 0.0, 2.0), (6.37, 3.0, 2.0), (7.3, -5.0, 3.0), (8.0, 12.0, 0.0)]


def scene_and_part(px_per_mm: float, angle_deg: float, noise: float) -> tuple[Scene, Part]:
    scene = Scene(px_per_mm=px_per_mm, noise_grey=noise, seed=7)
    return scene, Part(
        length_mm=40.0,
        width_mm=25.0,
        at_mm=(12.0, 9.0),
        angle_deg=angle_deg,
        holes=(Hole(10.0, 12.5, 5.0), Hole(30.0, 12.5, 5.0)),
    )


def calibration(px_per_mm: float) -> Calibration:
    return Calibration(px_per_mm, datetime(2026, 11, 1, tzinfo=UTC))


@pytest.mark.parametrize(("px_per_mm", "angle_deg", "noise"), CASES)
@pytest.mark.parametrize(("dimension", "true_mm"), [("length", 40.0), ("width", 25.0)])
def test_fitted_rectangle_within_half_a_pixel(px_per_mm, angle_deg, noise, dimension, true_mm) -> None:
    scene, part = scene_and_part(px_per_mm, angle_deg, noise)
    check = spec(tool="rect", roi=[30, 20, 560, 440], params={"dimension": dimension})
    result = run_check(check, draw(scene, part), calibration(px_per_mm), NOW)
    assert result.verdict is Verdict.PASS, result.message
    assert abs(float(result.value.value) - true_mm) * px_per_mm <= 0.5
    assert abs(float(result.value.value) - true_mm) <= 0.5 / px_per_mm  # mm within calibration resolution
    assert result.value.unit == "mm" and result.value.value.as_tuple().exponent == -3


@pytest.mark.parametrize(("px_per_mm", "angle_deg", "noise"), CASES)
def test_fitted_circle_within_half_a_pixel(px_per_mm, angle_deg, noise) -> None:
    scene, part = scene_and_part(px_per_mm, angle_deg, noise)
    image = draw(scene, part)
    cx, cy = (v - 0.5 for v in _hole_centre_px(scene, part, 0))  # area to pixel-centre coordinates
    reach = 5.0 * px_per_mm
    check = spec(
        tool="circle",
        roi=[round(cx - reach), round(cy - reach), round(2 * reach), round(2 * reach)],
        params={"polarity": "dark"},
    )
    result = run_check(check, image, calibration(px_per_mm), NOW)
    assert result.verdict is Verdict.PASS, result.message
    assert abs(float(result.value.value) - 5.0) * px_per_mm <= 0.5


@pytest.mark.parametrize(("px_per_mm", "angle_deg", "noise"), CASES)
def test_hole_position_from_the_part_datum(px_per_mm, angle_deg, noise) -> None:
    scene, part = scene_and_part(px_per_mm, angle_deg, noise)
    check = spec(
        tool="position",
        roi=[30, 20, 560, 440],
        upper="0.2",
        params={"nominal_x_mm": 30.0, "nominal_y_mm": 12.5},
    )
    result = run_check(check, draw(scene, part), calibration(px_per_mm), NOW)
    assert result.verdict is Verdict.PASS, result.message
    extras = {v.name: float(v.value) for v in result.extras}
    assert abs(extras["x_mm"] - 30.0) * px_per_mm <= 0.5
    assert abs(extras["y_mm"] - 12.5) * px_per_mm <= 0.5


def test_caliper_across_the_part_is_exact_on_a_sharp_drawing(good_frame) -> None:
    check = spec(
        tool="caliper",
        roi=[40, 150, 400, 60],
        lower="39.95",
        upper="40.05",
        params={"x0_px": 10, "y0_px": 30, "x1_px": 390, "y1_px": 30},
    )
    result = run_check(check, good_frame, CALIBRATION, NOW)
    assert (result.verdict, result.value.value, result.value.unit) == (Verdict.PASS, Decimal("40.000"), "mm")
    assert {v.name: v.value for v in result.extras} == {"distance_px": Decimal("320.000")}


def test_caliper_in_px_needs_no_calibration(good_frame) -> None:
    check = spec(
        tool="caliper",
        unit="px",
        roi=[40, 150, 400, 60],
        params={"x0_px": 10, "y0_px": 30, "x1_px": 390, "y1_px": 30},
    )
    result = run_check(check, good_frame, None, NOW)
    assert (result.value.value, result.value.unit) == (Decimal("320.000"), "px")


def test_wrong_size_fails_against_the_limits(frames) -> None:
    check = spec(tool="rect", roi=PART_ROI, lower="39.9", upper="40.1", params={"dimension": "length"})
    result = run_check(check, frames["wrong_size"], CALIBRATION, NOW)
    assert result.verdict is Verdict.FAIL
    assert result.value.value == Decimal("42.000")
    assert "above the upper limit 40.1" in result.message


def test_limits_are_inclusive_at_the_resolution(good_frame) -> None:
    check = spec(
        tool="caliper",
        roi=[40, 150, 400, 60],
        lower="40.00",
        upper="40.00",
        resolution="0.01",
        params={"x0_px": 10, "y0_px": 30, "x1_px": 390, "y1_px": 30},
    )
    assert run_check(check, good_frame, CALIBRATION, NOW).verdict is Verdict.PASS


def test_calibration_from_a_target_of_known_size() -> None:
    scene = Scene(px_per_mm=7.77)
    image = draw(scene, Part(length_mm=50.0, width_mm=20.0, at_mm=(10.0, 10.0)))
    caliper = CaliperParams(10.0, 80.0, 480.0, 80.0)
    made = from_target(image, Roi(40, 60, 500, 160), caliper, 50.0, NOW)
    assert abs(made.px_per_mm - 7.77) * 50.0 <= 0.5  # the whole target within half a pixel
    assert made.calibrated_at == NOW and made.target_mm == 50.0


def test_holes_measure_their_drawn_diameters(good_frame) -> None:
    for hole in HOLES:
        result = run_check(
            spec(tool="circle", roi=hole_roi(hole), params={"polarity": "dark"}), good_frame, CALIBRATION, NOW
        )
        assert abs(float(result.value.value) - hole.diameter_mm) * 8.0 <= 0.5, hole


def _hole_centre_px(scene: Scene, part: Part, index: int) -> tuple[float, float]:
    hole = part.holes[index]
    return to_frame_px(scene, part, hole.x_mm, hole.y_mm)


def test_hole_position_from_a_fixtured_roi_corner(good_frame) -> None:
    # Hole 1 is at part (30, 12.5) mm, the part's corner at frame (80, 80) px: frame (320, 180) px,
    # that is (280, 140) px = (35.0, 17.5) mm from the ROI's corner at (40, 40).
    check = spec(
        tool="position",
        roi=PART_ROI,
        upper="0.1",
        params={"nominal_x_mm": 35.0, "nominal_y_mm": 17.5, "datum": "roi"},
    )
    result = run_check(check, good_frame, CALIBRATION, NOW)
    assert result.verdict is Verdict.PASS, result.message
    extras = {v.name: v.value for v in result.extras}
    assert (extras["x_mm"], extras["y_mm"]) == (Decimal("35.000"), Decimal("17.500"))


def test_a_naive_time_is_a_programming_error(good_frame) -> None:
    check = spec(tool="rect", roi=PART_ROI, params={})
    with pytest.raises(ValueError, match="timezone-aware"):
        run_check(check, good_frame, CALIBRATION, datetime(2026, 11, 29))
