"""`lineside vision calibrate`: a camera's px per mm from an image file of a target, through the real command."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import cv2

from drivers.simulators.camera import Part, Scene, draw
from tests.conftest import EXAMPLE, SUPERVISOR_SECRET


def calibrate(db, image, *extra: str, secret: str = SUPERVISOR_SECRET) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "edge.cli", "vision", "calibrate", "cam-op20", "--config", str(EXAMPLE),
               "--db", str(db), "--image", str(image), "--target-mm", "40", "--user", "sue", *extra]
    return subprocess.run(command, input=secret + "\n", capture_output=True, text=True)


def test_calibrate_from_an_image_file(core, tmp_path):
    db = core.store.path
    core.close()
    target = tmp_path / "target.png"
    cv2.imwrite(str(target), draw(Scene(), Part()))
    done = calibrate(db, target, "--roi", "40,40,400,280", "--line", "10,140,390,140")
    assert done.returncode == 0, done.stderr
    assert "cam-op20: 8.0" in done.stdout
    conn = sqlite3.connect(db)
    (px_per_mm, actor), = conn.execute("SELECT px_per_mm, actor FROM camera_calibrations").fetchall()
    assert abs(float(px_per_mm) - 8.0) < 0.01 and actor == "sue"
    conn.close()
    bad_roi = calibrate(db, target, "--roi", "40,40,400", "--line", "10,140,390,140")
    assert bad_roi.returncode == 2 and "--roi needs four comma-separated numbers" in bad_roi.stderr
    outside = calibrate(db, target, "--roi", "400,300,400,280", "--line", "10,140,390,140")
    assert outside.returncode == 2 and "calibration target not measured" in outside.stderr
    missing = calibrate(db, tmp_path / "none.png", "--roi", "40,40,400,280", "--line", "10,140,390,140")
    assert missing.returncode == 2 and "cannot read the target's image" in missing.stderr
