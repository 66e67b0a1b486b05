"""Shared synthetic scenes: a part of known geometry, drawn by the synthetic camera, and its checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from drivers.simulators.camera import Defects, Hole, Marking, Part, Patch, Scene, draw
from inspection.vision import Calibration, CheckSpec, spec_from_mapping

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
PX_PER_MM = 8.0
SCENE = Scene(px_per_mm=PX_PER_MM)
HOLES = (Hole(10.0, 12.5, 5.0), Hole(30.0, 12.5, 5.0), Hole(20.0, 20.0, 3.0))
PART = Part(
    holes=HOLES, patch=Patch(2.0, 2.0, 4.0, 4.0), marking=Marking("datamatrix", "LOT-4711", 20.0, 3.0, 3)
)
CALIBRATION = Calibration(PX_PER_MM, datetime(2026, 11, 1, tzinfo=UTC), 40.0, 320.0)

# The part's top-left corner is at 10 mm = 80 px (area coordinates); its ROI leaves a margin round it.
PART_ROI = [40, 40, 400, 280]


def hole_roi(hole: Hole, margin_mm: float = 2.0) -> list[int]:
    half_px = (hole.diameter_mm / 2 + margin_mm) * PX_PER_MM
    cx, cy = (10.0 + hole.x_mm) * PX_PER_MM, (10.0 + hole.y_mm) * PX_PER_MM
    return [round(cx - half_px), round(cy - half_px), round(2 * half_px), round(2 * half_px)]


def spec(**entry: Any) -> CheckSpec:
    entry.setdefault("characteristic", entry["tool"])
    return spec_from_mapping(entry)


@pytest.fixture(scope="session")
def good_frame() -> np.ndarray:
    return draw(SCENE, PART)


@pytest.fixture(scope="session")
def frames() -> dict[str, np.ndarray]:
    """The defect set: each frame with what is wrong with it."""
    return {
        "good": draw(SCENE, PART),
        "missing_hole_0": draw(SCENE, PART, Defects(missing_holes=(0,))),
        "missing_hole_2": draw(SCENE, PART, Defects(missing_holes=(2,))),
        "smudge": draw(SCENE, PART, Defects(smudge_at_mm=(28.0, 21.5))),
        "wrong_size": draw(SCENE, PART, Defects(scale=1.05)),
        "no_part": draw(SCENE, PART, Defects(no_part=True)),
    }
