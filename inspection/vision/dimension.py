"""Dimensions: caliper distance, fitted rectangle length or width, fitted circle diameter.

Each finds its feature roughly with a threshold and contours, then locates the edges to a fraction of a
pixel (`edge`), and converts pixels to the characteristic's unit with `px_per_unit` (px_per_mm from a
fresh calibration, or 1 for px). It must not decide verdicts, know about calibration dates, or import
drivers/.
"""

from __future__ import annotations

import numpy as np

from inspection.vision import edge, opencv
from inspection.vision.errors import MeasureError
from inspection.vision.result import Outcome, Overlay
from inspection.vision.spec import CaliperParams, ShapeParams

Point = tuple[float, float]
MARGIN_PX = 6.0  # caliper lines start this far outside the rough outline, to see the whole edge
MIN_OBJECT_CONTRAST = 20.0  # grey levels between object and background below which nothing is there


def caliper(grey: np.ndarray, params: CaliperParams, px_per_unit: float, unit: str) -> Outcome:
    p0, p1 = (params.x0_px, params.y0_px), (params.x1_px, params.y1_px)
    edge.check_inside(grey, p0, p1)
    first, last = edge.outer_pair(edge.profile(grey, p0, p1, params.band_px), params.min_contrast)
    a, b = edge.point_on(p0, p1, first.at_px), edge.point_on(p0, p1, last.at_px)
    distance_px = last.at_px - first.at_px
    overlay = Overlay(lines=((p0, p1),), points=(a, b))
    return Outcome(distance_px / px_per_unit, unit, extras=(("distance_px", distance_px, "px"),),
                   overlay=overlay)


def rect(grey: np.ndarray, params: ShapeParams, px_per_unit: float, unit: str) -> Outcome:
    centre, (along_u, along_v), (u, v) = fitted_rect(grey, params)
    longer, shorter = max(along_u, along_v), min(along_u, along_v)
    primary = longer if params.dimension == "length" else shorter
    extras = (("length_px", longer, "px"), ("width_px", shorter, "px"))
    return Outcome(primary / px_per_unit, unit, extras=extras,
                   overlay=Overlay(polygons=(corners(centre, along_u, along_v, u, v),)))


def circle(grey: np.ndarray, params: ShapeParams, px_per_unit: float, unit: str) -> Outcome:
    contour = _largest_inside(grey, params)
    (cx, cy), _, _ = opencv.min_area_rect(contour)
    radius_px = np.sqrt(opencv.contour_area_px(contour) / np.pi) + 0.5
    centre, radius_px = fitted_circle(grey, (cx, cy), radius_px, params.polarity == "dark",
                                      params.min_contrast)
    extras = (("centre_x_px", centre[0], "px"), ("centre_y_px", centre[1], "px"))
    return Outcome(2 * radius_px / px_per_unit, unit, extras=extras,
                   overlay=Overlay(circles=((centre, radius_px),), points=(centre,)))


def fitted_circle(grey: np.ndarray, centre: Point, radius_px: float, dark: bool,
                  min_contrast: float) -> tuple[Point, float]:
    """Refine a rough circle on rays from its centre: a dark hole's rim rises from dark to bright."""
    rim = edge.radial_points(grey, centre, max(radius_px * 1.5, radius_px + MARGIN_PX), dark, min_contrast)
    return edge.fit_circle(rim)


def fitted_rect(grey: np.ndarray, params: ShapeParams) -> tuple[Point, tuple[float, float],
                                                                 tuple[Point, Point]]:
    """Centre, extents along its axes u and v (u nearest the image's x), and the axes, sub-pixel."""
    contour = _largest(grey, params)
    centre, size, angle = opencv.min_area_rect(contour)
    u, v = _axes(angle)
    extent_u, extent_v = _extents_along(u, size, angle)
    centre, extent_u = _refine(grey, centre, u, extent_u, params.min_contrast)
    centre, extent_v = _refine(grey, centre, v, extent_v, params.min_contrast)
    return centre, (extent_u, extent_v), (u, v)


def corners(centre: Point, extent_u: float, extent_v: float, u: Point, v: Point) -> tuple[Point, ...]:
    cx, cy = centre
    signs = ((-1, -1), (1, -1), (1, 1), (-1, 1))
    return tuple((cx + su * extent_u / 2 * u[0] + sv * extent_v / 2 * v[0],
                  cy + su * extent_u / 2 * u[1] + sv * extent_v / 2 * v[1]) for su, sv in signs)


def _axes(angle_deg: float) -> tuple[Point, Point]:
    """Unit axes of a rotated rect: u within 45 degrees of +x, v within 45 degrees of +y."""
    a = np.radians(angle_deg)
    u = (float(np.cos(a)), float(np.sin(a)))
    if abs(u[0]) < abs(u[1]):
        u = (u[1], -u[0])
    if u[0] < 0:
        u = (-u[0], -u[1])
    return u, (-u[1], u[0])


def _extents_along(u: Point, size: tuple[float, float], angle_deg: float) -> tuple[float, float]:
    """minAreaRect's width lies along its angle; give (extent along u, extent along v)."""
    a = np.radians(angle_deg)
    width_axis = (np.cos(a), np.sin(a))
    parallel = abs(width_axis[0] * u[0] + width_axis[1] * u[1]) >= 0.5
    return (size[0], size[1]) if parallel else (size[1], size[0])


def _refine(grey: np.ndarray, centre: Point, axis: Point, extent_px: float,
            min_contrast: float) -> tuple[Point, float]:
    """Caliper through the centre along one axis: sub-pixel extent, and the centre moved to mid-edges."""
    half = extent_px / 2 + MARGIN_PX
    p0 = (centre[0] - half * axis[0], centre[1] - half * axis[1])
    p1 = (centre[0] + half * axis[0], centre[1] + half * axis[1])
    first, last = edge.outer_pair(edge.profile(grey, p0, p1, 5), min_contrast)
    middle = edge.point_on(p0, p1, (first.at_px + last.at_px) / 2)
    return middle, last.at_px - first.at_px


def _largest(grey: np.ndarray, params: ShapeParams) -> np.ndarray:
    """The largest object of the polarity, which must lie wholly inside the ROI to be measured."""
    contours = opencv.outer_contours(_mask(grey, params, "no_part"))
    if not contours:
        raise MeasureError(f"no {params.polarity} object in the roi", "no_part")
    largest = max(contours, key=opencv.contour_area_px)
    if not _clear_of_border(largest, grey.shape[1], grey.shape[0]):
        raise MeasureError(f"the {params.polarity} object reaches the roi border: it is not wholly in view",
                           "part_not_inside_roi")
    return largest


def _largest_inside(grey: np.ndarray, params: ShapeParams) -> np.ndarray:
    """The largest object that does not touch the ROI's border (a hole, not the background)."""
    height, width = grey.shape
    contours = opencv.outer_contours(_mask(grey, params, "feature_not_found"))
    inside = [c for c in contours if _clear_of_border(c, width, height)]
    if not inside:
        raise MeasureError(f"no {params.polarity} circle clear of the roi border", "feature_not_found")
    return max(inside, key=opencv.contour_area_px)


def _mask(grey: np.ndarray, params: ShapeParams, reason: str) -> np.ndarray:
    """The object mask, refused when nothing stands out: Otsu splits plain noise in two as well."""
    mask, level = opencv.threshold(grey, params.threshold, params.polarity == "dark")
    contrast = _contrast(opencv.histogram(grey), level)
    if contrast < MIN_OBJECT_CONTRAST:
        raise MeasureError(f"no {params.polarity} object stands out in the roi (contrast {contrast:.0f} "
                           f"grey levels, {MIN_OBJECT_CONTRAST:.0f} needed)", reason)
    return mask


def _contrast(histogram: np.ndarray, level: float) -> float:
    """Mean grey above the threshold minus mean grey at or below it; 0 when one side is empty."""
    greys = np.arange(256, dtype=np.float64)
    split = int(level) + 1
    low, high = histogram[:split], histogram[split:]
    if not low.sum() or not high.sum():
        return 0.0
    return float((high @ greys[split:]) / high.sum() - (low @ greys[:split]) / low.sum())


def _clear_of_border(contour: np.ndarray, width: int, height: int) -> bool:
    xs, ys = contour[:, 0, 0], contour[:, 0, 1]
    return bool(xs.min() > 0 and ys.min() > 0 and xs.max() < width - 1 and ys.max() < height - 1)
