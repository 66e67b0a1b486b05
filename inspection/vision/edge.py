"""Sub-pixel edges: grey profiles along lines, edge location on them, and circles fitted to edge points.

This is the measuring core of the dimension and position tools. A profile is the mean of `band_px`
parallel lines sampled bilinearly at 1 px steps; an edge is a local maximum of the absolute gradient
above `min_contrast`, located to a fraction of a pixel by a parabola through the peak and its two
neighbours. Coordinates are in the pixels of the image given, with pixel centres at integers. It owns no
units and no verdicts, and must not import drivers/ or call OpenCV except through `opencv`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inspection.vision import opencv
from inspection.vision.errors import MeasureError, RoiError

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Edge:
    at_px: float  # distance from the start of the line
    rising: bool  # dark to bright along the line
    strength: float  # grey levels per pixel


def check_inside(grey: np.ndarray, p0: Point, p1: Point) -> None:
    """A caliper line given by a person (a check's settings, a calibration request) must lie in the ROI: one
    reaching far outside it would be sampled at 1 px steps, a 1e12 px line allocating terabytes."""
    height, width = grey.shape[:2]
    if not all(0 <= x <= width - 1 and 0 <= y <= height - 1 for x, y in (p0, p1)):
        raise RoiError(f"caliper line {p0} -> {p1} leaves the region of interest ({width} x {height} px)")


def profile(grey: np.ndarray, p0: Point, p1: Point, band_px: int = 1) -> np.ndarray:
    """Mean grey along p0 -> p1 at 1 px steps, averaged over `band_px` parallel lines."""
    length_px = float(np.hypot(p1[0] - p0[0], p1[1] - p0[1]))
    steps = np.arange(int(np.floor(length_px)) + 1, dtype=np.float32)
    ux, uy = (p1[0] - p0[0]) / length_px, (p1[1] - p0[1]) / length_px
    offsets = (np.arange(band_px, dtype=np.float32) - (band_px - 1) / 2.0)[:, None]
    xs = (p0[0] + steps * ux) - offsets * uy
    ys = (p0[1] + steps * uy) + offsets * ux
    return opencv.sample(grey, xs, ys).mean(axis=0, dtype=np.float64)


def edges(values: np.ndarray, min_contrast: float) -> list[Edge]:
    """Every edge on a profile, in order along it, each located to a fraction of a pixel."""
    gradient, size, peak = _peaks(values[None, :], min_contrast)
    cols = np.flatnonzero(peak[0])
    at_px = _subpixel(size, np.zeros_like(cols), cols)
    pairs = zip(at_px, cols, strict=True)
    return [Edge(float(a), bool(gradient[0, c] > 0), float(size[0, c])) for a, c in pairs]


def first_edges(rows: np.ndarray, min_contrast: float, rising: bool) -> tuple[np.ndarray, np.ndarray]:
    """For each profile (row) the first edge of the wanted direction: rows that have one, and where."""
    gradient, size, peak = _peaks(rows, min_contrast)
    wanted = peak & ((gradient > 0) if rising else (gradient < 0))
    hit = np.flatnonzero(wanted.any(axis=1))
    cols = wanted.argmax(axis=1)[hit]
    return hit, _subpixel(size, hit, cols)


def _peaks(rows: np.ndarray, min_contrast: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Central-difference gradient of each row, its size, and its local maxima above `min_contrast`."""
    gradient = np.zeros_like(rows, dtype=np.float64)
    gradient[:, 1:-1] = (rows[:, 2:] - rows[:, :-2]) * 0.5
    size = np.abs(gradient)
    inner = size[:, 1:-1]
    peak = np.zeros(rows.shape, dtype=bool)
    peak[:, 1:-1] = (inner >= size[:, :-2]) & (inner > size[:, 2:]) & (inner >= min_contrast)
    return gradient, size, peak


def _subpixel(size: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The vertex of the parabola through each peak and its two neighbours."""
    a, b, c = size[rows, cols - 1], size[rows, cols], size[rows, cols + 1]
    denominator = a - 2 * b + c
    safe = np.where(denominator == 0, 1.0, denominator)
    return cols + np.where(denominator == 0, 0.0, 0.5 * (a - c) / safe)


def outer_pair(values: np.ndarray, min_contrast: float) -> tuple[Edge, Edge]:
    """The first and the last edge of a profile: the outside of the feature the line crosses."""
    found = edges(values, min_contrast)
    if len(found) < 2:
        raise MeasureError(f"found {len(found)} edge(s) with contrast >= {min_contrast:g} on the caliper "
                           "line, 2 are needed", "no_edge")
    return found[0], found[-1]


def point_on(p0: Point, p1: Point, at_px: float) -> Point:
    length_px = float(np.hypot(p1[0] - p0[0], p1[1] - p0[1]))
    return (p0[0] + (p1[0] - p0[0]) * at_px / length_px, p0[1] + (p1[1] - p0[1]) * at_px / length_px)


def radial_points(grey: np.ndarray, centre: Point, reach_px: float, rising: bool,
                  min_contrast: float, rays: int = 64) -> list[Point]:
    """On rays out from `centre`, the first edge of the wanted direction: the rim of a hole or boss."""
    angles = np.linspace(0.0, 2 * np.pi, rays, endpoint=False)
    steps = np.arange(int(reach_px) + 1, dtype=np.float32)
    cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
    samples = opencv.sample(grey, centre[0] + cos * steps, centre[1] + sin * steps).astype(np.float64)
    hit, at_px = first_edges(samples, min_contrast, rising)
    xs, ys = centre[0] + at_px * cos[hit, 0], centre[1] + at_px * sin[hit, 0]
    return list(zip(xs.tolist(), ys.tolist(), strict=True))


def fit_circle(points: list[Point]) -> tuple[Point, float]:
    """Least-squares (Kasa) circle through edge points: centre and radius in pixels."""
    if len(points) < 8:
        raise MeasureError(f"only {len(points)} rim points found, 8 are needed to fit a circle",
                           "feature_not_found")
    xy = np.asarray(points, dtype=np.float64)
    a = np.column_stack([2 * xy[:, 0], 2 * xy[:, 1], np.ones(len(xy))])
    b = (xy**2).sum(axis=1)
    (cx, cy, c), *_ = np.linalg.lstsq(a, b, rcond=None)
    return (float(cx), float(cy)), float(np.sqrt(c + cx * cx + cy * cy))
