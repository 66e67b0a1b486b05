"""Camera to verdict: frames a smart camera drops in a folder, judged by the worker; and a property test."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import cv2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.camera import FolderCamera, SyntheticCamera
from drivers.simulators.camera import Defects, Part, Scene, draw, renderer
from inspection.vision import Calibration, Verdict, VisionWorker, run_check
from tests.vision.conftest import CALIBRATION, HOLES, NOW, PART, PART_ROI, SCENE, hole_roi, spec

CHECKS = [
    spec(characteristic="length", tool="rect", roi=PART_ROI, lower="39.9", upper="40.1", params={}),
    spec(
        characteristic="holes",
        tool="blob",
        roi=[88, 150, 304, 122],
        lower=3,
        upper=3,
        params={"polarity": "dark", "min_area_px": 400, "max_area_px": 1700},
    ),
    spec(
        characteristic="hole_0",
        tool="circle",
        roi=hole_roi(HOLES[0]),
        lower="4.9",
        upper="5.1",
        params={"polarity": "dark"},
    ),
    spec(characteristic="lot", tool="code", roi=[220, 84, 100, 100], params={"expected": "LOT-4711"}),
]
PLAN = [(PART, Defects()), (PART, Defects(missing_holes=(0,))), (PART, Defects(scale=1.05))]
EXPECTED = [  # verdicts of CHECKS on each frame of PLAN
    [Verdict.PASS, Verdict.PASS, Verdict.PASS, Verdict.PASS],
    [Verdict.PASS, Verdict.FAIL, Verdict.NO_RESULT, Verdict.PASS],
    [Verdict.FAIL, Verdict.PASS, Verdict.PASS, Verdict.PASS],
]


def test_frames_dropped_in_a_folder_are_judged(tmp_path: Path) -> None:
    synthetic = SyntheticCamera("sim", renderer(SCENE, PLAN))
    for n in range(len(PLAN)):
        cv2.imwrite(str(tmp_path / f"part_{n:03d}.png"), synthetic.grab().image)
    camera = FolderCamera("cam1", tmp_path, settle_s=0.0)

    async def line() -> list[list[Verdict]]:
        with VisionWorker() as worker:
            camera.poll()  # first sight of the files; the grabs below see them settled
            frames = [camera.grab(timeout_s=1.0) for _ in PLAN]
            frames.sort(key=lambda f: f.origin)
            results = [await worker.run_checks(CHECKS, f.image, CALIBRATION, NOW) for f in frames]
            return [[r.verdict for r in rs] for rs in results]

    assert asyncio.run(line()) == EXPECTED


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    length_mm=st.floats(20.0, 45.0),
    width_mm=st.floats(10.0, 30.0),
    x_mm=st.floats(8.0, 12.0),
    angle_deg=st.floats(-8.0, 8.0),
    px_per_mm=st.floats(6.0, 9.0),
)
def test_any_rectangle_measures_within_half_a_pixel(length_mm, width_mm, x_mm, angle_deg, px_per_mm) -> None:
    scene = Scene(width_px=640, height_px=480, px_per_mm=px_per_mm, supersample=8)
    part = Part(length_mm=length_mm, width_mm=width_mm, at_mm=(x_mm, 10.0), angle_deg=angle_deg)
    calibration = Calibration(px_per_mm, datetime(2026, 11, 1, tzinfo=UTC))
    image = draw(scene, part)
    for dimension, true_mm in (("length", max(length_mm, width_mm)), ("width", min(length_mm, width_mm))):
        check = spec(tool="rect", roi=[8, 8, 624, 464], params={"dimension": dimension})
        result = run_check(check, image, calibration, NOW)
        assert result.verdict is Verdict.PASS, result.message
        assert abs(float(result.value.value) - true_mm) * px_per_mm <= 0.5
