"""Feature position: where a hole is, in mm from a datum, and its true-position deviation.

The datum is either the part itself (the top-left corner of its fitted rectangle, with the rectangle's
axes, so a part that sits a little skewed is measured in its own frame) or the ROI's corner (a fixtured
part). The hole is the dark blob nearest its nominal place, within `search_mm`, refined to sub-pixel on
its rim. The primary value is the true-position diameter, 2 x the distance from nominal, in mm; x and y
are extras. It must not decide verdicts or import drivers/.
"""

from __future__ import annotations

import numpy as np

from inspection.vision import dimension, opencv
from inspection.vision.errors import MeasureError
from inspection.vision.result import Outcome, Overlay
from inspection.vision.spec import PositionParams, ShapeParams

Point = tuple[float, float]
MIN_CONTRAST = 10.0  # grey levels per pixel at the hole's rim
Frame = tuple[Point, Point, Point]  # origin, x axis, y axis, in ROI pixels


def measure(grey: np.ndarray, params: PositionParams, px_per_mm: float) -> Outcome:
    origin, u, v = _datum(grey, params)
    nominal = _to_image(origin, u, v, params.nominal_x_mm * px_per_mm, params.nominal_y_mm * px_per_mm)
    rough, radius_px = _nearest_hole(grey, nominal, params.search_mm * px_per_mm, params.part_polarity)
    dark_hole = params.part_polarity == "bright"
    centre, radius_px = dimension.fitted_circle(grey, rough, radius_px, dark_hole, MIN_CONTRAST)
    x_mm, y_mm = (_along(origin, axis, centre) / px_per_mm for axis in (u, v))
    deviation_mm = 2 * float(np.hypot(x_mm - params.nominal_x_mm, y_mm - params.nominal_y_mm))
    extras = (("x_mm", x_mm, "mm"), ("y_mm", y_mm, "mm"), ("diameter_mm", 2 * radius_px / px_per_mm, "mm"))
    overlay = Overlay(lines=((origin, centre),), points=(origin, nominal, centre),
                      circles=((centre, radius_px),))
    return Outcome(deviation_mm, "mm", extras=extras, overlay=overlay)


def _datum(grey: np.ndarray, params: PositionParams) -> Frame:
    if params.datum == "roi":
        return (-0.5, -0.5), (1.0, 0.0), (0.0, 1.0)  # the ROI's outer corner, not its first pixel centre
    part = ShapeParams(polarity=params.part_polarity)
    centre, (extent_u, extent_v), (u, v) = dimension.fitted_rect(grey, part)
    return dimension.corners(centre, extent_u, extent_v, u, v)[0], u, v


def _nearest_hole(grey: np.ndarray, nominal: Point, search_px: float,
                  part_polarity: str) -> tuple[Point, float]:
    mask, _ = opencv.threshold(grey, None, part_polarity == "bright")
    stats, centroids = opencv.components(mask)
    if len(centroids):
        distances = np.hypot(centroids[:, 0] - nominal[0], centroids[:, 1] - nominal[1])
        best = int(np.argmin(distances))
        if distances[best] <= search_px:
            radius_px = float(np.sqrt(stats[best, 4] / np.pi))
            return (float(centroids[best, 0]), float(centroids[best, 1])), radius_px
    raise MeasureError(f"no hole within {search_px:.0f} px of its nominal position "
                       f"({nominal[0]:.0f}, {nominal[1]:.0f}) in the roi", "feature_not_found")


def _to_image(origin: Point, u: Point, v: Point, along_u: float, along_v: float) -> Point:
    return (origin[0] + along_u * u[0] + along_v * v[0], origin[1] + along_u * u[1] + along_v * v[1])


def _along(origin: Point, axis: Point, point: Point) -> float:
    return (point[0] - origin[0]) * axis[0] + (point[1] - origin[1]) * axis[1]
