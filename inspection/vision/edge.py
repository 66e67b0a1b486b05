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
from inspection.vision.errors import MeasureError

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Edge:
    at_px: float  # distance from the start of the line
    rising: bool  # dark to bright along the line
    strength: float  # grey levels per pixel


def profile(grey: np.ndarray, p0: Point, p1: Point, band_px: int = 1) -> np.ndarray:
    """Mean grey along p0 -> p1 at 1 px steps, averaged over `band_px` parallel lines."""
    length_px = float(np.hypot(p1[0] - p0[0], p1[1] - p0[1]))
    steps = np.arange(int(np.floor(length_px)) + 1, dtype=np.float64)
    ux, uy = (p1[0] - p0[0]) / length_px, (p1[1] - p0[1]) / length_px
    offsets = np.arange(band_px, dtype=np.float64) - (band_px - 1) / 2.0
    xs = p0[0] + np.outer(np.ones_like(offsets), steps * ux) - np.outer(offsets, np.full_like(steps, uy))
    ys = p0[1] + np.outer(np.ones_like(offsets), steps * uy) + np.outer(offsets, np.full_like(steps, ux))
    samples = opencv.sample(grey, xs, ys).astype(np.float64)
    return samples.mean(axis=0)


def edges(values: np.ndarray, min_contrast: float) -> list[Edge]:
    """Every edge on a profile, in order along it, each located to a fraction of a pixel."""
    gradient = np.gradient(values)
    size = np.abs(gradient)
    inner = size[1:-1]
    peak = (inner >= size[:-2]) & (inner > size[2:]) & (inner >= min_contrast)
    found = []
    for i in np.flatnonzero(peak) + 1:
        a, b, c = size[i - 1], size[i], size[i + 1]
        denominator = a - 2 * b + c
        offset = 0.5 * (a - c) / denominator if denominator else 0.0
        found.append(Edge(float(i + offset), bool(gradient[i] > 0), float(b)))
    return found


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
    steps = np.arange(int(reach_px) + 1, dtype=np.float64)
    xs = centre[0] + np.outer(np.cos(angles), steps)
    ys = centre[1] + np.outer(np.sin(angles), steps)
    samples = opencv.sample(grey, xs, ys).astype(np.float64)
    points = []
    for angle, values in zip(angles, samples, strict=True):
        hit = next((e for e in edges(values, min_contrast) if e.rising == rising), None)
        if hit is not None:
            points.append((centre[0] + hit.at_px * np.cos(angle), centre[1] + hit.at_px * np.sin(angle)))
    return points


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
