"""Blob count: connected regions of the object's polarity whose area lies within the limits.

The primary value is the count ("count"); blobs outside the area limits (dust, a smudge, the part's
outline) are not counted but are reported as an extra. It must not decide verdicts or import drivers/.
"""

from __future__ import annotations

import numpy as np

from inspection.vision import opencv
from inspection.vision.result import Outcome, Overlay
from inspection.vision.spec import ShapeParams


def measure(grey: np.ndarray, params: ShapeParams) -> Outcome:
    mask, _ = opencv.threshold(grey, params.threshold, params.polarity == "dark")
    stats, _ = opencv.components(mask)
    areas = stats[:, 4] if len(stats) else np.empty(0, np.int32)
    counted = stats[(areas >= params.min_area_px) & (areas <= params.max_area_px)]
    boxes = tuple(_box(*(float(v) for v in row[:4])) for row in counted)
    rejected = len(stats) - len(counted)
    return Outcome(float(len(counted)), "count", extras=(("rejected_blobs", float(rejected), "count"),),
                   overlay=Overlay(polygons=boxes))


def _box(x: float, y: float, w: float, h: float) -> tuple[tuple[float, float], ...]:
    return ((x, y), (x + w - 1, y), (x + w - 1, y + h - 1), (x, y + h - 1))
