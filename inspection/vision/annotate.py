"""The annotated image: the ROI with a margin, what the tool found, the value and the verdict drawn on it.

It is evidence for a nonconformity, so it is small (the ROI, not the whole frame), deterministic (the
same frame and result give the same bytes), and encoded as PNG with its SHA-256 for the record. It must
not write files (the core stores them) or import drivers/.
"""

from __future__ import annotations

import hashlib

import numpy as np

from inspection.vision import opencv
from inspection.vision.result import Overlay, Verdict
from inspection.vision.spec import Roi

MARGIN_PX = 16
CAPTION_PX = 18  # the black band on top that holds the label
COLOURS = {Verdict.PASS: (0, 170, 0), Verdict.FAIL: (0, 0, 230), Verdict.NO_RESULT: (0, 140, 255)}
FOUND = (255, 160, 0)  # edges, outlines and points the tool found


def annotate(frame: np.ndarray, roi: Roi, overlay: Overlay, label: str, verdict: Verdict) -> np.ndarray:
    """A BGR copy of the ROI and its margin, with the ROI box and the overlay; the label in a band on top."""
    height, width = frame.shape[:2]
    x0, y0 = max(roi.x - MARGIN_PX, 0), max(roi.y - MARGIN_PX, 0)
    x1, y1 = min(roi.x + roi.w + MARGIN_PX, width), min(roi.y + roi.h + MARGIN_PX, height)
    image = opencv.with_band(opencv.bgr(frame[y0:y1, x0:x1]), CAPTION_PX)
    dx, dy = roi.x - x0, roi.y - y0 + CAPTION_PX
    box = ((dx - 1, dy - 1), (dx + roi.w, dy - 1), (dx + roi.w, dy + roi.h), (dx - 1, dy + roi.h))
    opencv.draw_polygon(image, box, COLOURS[verdict])
    _draw(image, overlay, dx, dy)
    opencv.draw_text(image, label, (4, 13), COLOURS[verdict])
    return image


def png_and_sha256(image: np.ndarray) -> tuple[bytes, str]:
    """PNG bytes of an annotated image and their SHA-256 (hex), as the record refers to them."""
    data = opencv.encode_png(image)
    return data, hashlib.sha256(data).hexdigest()


def _draw(image: np.ndarray, overlay: Overlay, dx: float, dy: float) -> None:
    def at(p: tuple[float, float]) -> tuple[float, float]:
        return (p[0] + dx, p[1] + dy)

    for p0, p1 in overlay.lines:
        opencv.draw_line(image, at(p0), at(p1), FOUND)
    for polygon in overlay.polygons:
        opencv.draw_polygon(image, [at(p) for p in polygon], FOUND)
    for centre, radius_px in overlay.circles:
        opencv.draw_circle(image, at(centre), radius_px, FOUND)
    for point in overlay.points:
        opencv.draw_circle(image, at(point), 2, COLOURS[Verdict.PASS])
