"""The one place inspection/ calls OpenCV: thin typed wrappers, `cv2.error` mapped into `VisionError`.

OpenCV churns and its failures are untyped, so every call the vision tools make goes through here, and
every `cv2.error` becomes a `FrameError` whose message names the operation. It owns no decisions
(thresholds, verdicts, units): those belong to the tool modules. It must not read or write files,
import drivers/ or keep state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import cv2
import numpy as np

from inspection.vision.errors import FrameError

P = ParamSpec("P")
R = TypeVar("R")
Point = tuple[float, float]
RotatedRect = tuple[Point, tuple[float, float], float]


def _mapped(func: Callable[P, R]) -> Callable[P, R]:
    @wraps(func)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except cv2.error as exc:
            raise FrameError(f"OpenCV {func.__name__} failed: {exc.err or exc}", "opencv_error") from exc

    return call


@_mapped
def grey(image: np.ndarray) -> np.ndarray:
    """A grey view of a BGR or grey image; grey input is returned as is (no copy)."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


@_mapped
def bgr(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()


@_mapped
def hsv(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr(image) if image.ndim == 2 else image, cv2.COLOR_BGR2HSV)


@_mapped
def blur(image: np.ndarray, kernel_px: int) -> np.ndarray:
    return cv2.GaussianBlur(image, (kernel_px, kernel_px), 0)


@_mapped
def threshold(grey_image: np.ndarray, level: int | None, dark_object: bool) -> tuple[np.ndarray, float]:
    """Binary mask (255 = object) and the level used; `level=None` lets Otsu choose it."""
    mode = cv2.THRESH_BINARY_INV if dark_object else cv2.THRESH_BINARY
    if level is None:
        used, mask = cv2.threshold(grey_image, 0, 255, mode | cv2.THRESH_OTSU)
    else:
        used, mask = cv2.threshold(grey_image, level, 255, mode)
    return mask, float(used)


@_mapped
def in_range(image: np.ndarray, lo: Sequence[int], hi: Sequence[int]) -> np.ndarray:
    return cv2.inRange(image, np.array(lo, np.uint8), np.array(hi, np.uint8))


@_mapped
def count_nonzero(mask: np.ndarray) -> int:
    return int(cv2.countNonZero(mask))


@_mapped
def histogram(grey_image: np.ndarray) -> np.ndarray:
    """Pixel count of each grey level 0..255."""
    return cv2.calcHist([grey_image], [0], None, [256], [0, 256]).ravel()


@_mapped
def outer_contours(mask: np.ndarray) -> list[np.ndarray]:
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return list(contours)


@_mapped
def contour_area_px(contour: np.ndarray) -> float:
    return float(cv2.contourArea(contour))


@_mapped
def min_area_rect(contour: np.ndarray) -> RotatedRect:
    (cx, cy), (w, h), angle = cv2.minAreaRect(contour)
    return (float(cx), float(cy)), (float(w), float(h)), float(angle)


@_mapped
def components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-blob stats (x, y, w, h, area) and centroids, background row removed."""
    _, _, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return stats[1:], centroids[1:]


@_mapped
def sample(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Bilinear samples of a grey image at float coordinates (pixel centres at integers)."""
    return cv2.remap(image, xs.astype(np.float32, copy=False), ys.astype(np.float32, copy=False),
                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@_mapped
def match_score(grey_image: np.ndarray, template: np.ndarray) -> tuple[float, Point]:
    """Best normalised correlation score (-1..1) of the template in the image, and its top-left."""
    scores = cv2.matchTemplate(grey_image, template, cv2.TM_CCOEFF_NORMED)
    _, best, _, at = cv2.minMaxLoc(scores)
    return float(best), (float(at[0]), float(at[1]))


@_mapped
def decode_qr(grey_image: np.ndarray) -> tuple[str, np.ndarray | None]:
    text, points, _ = cv2.QRCodeDetector().detectAndDecode(grey_image)
    return text, points


@_mapped
def encode_png(image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", image)
    if not ok:
        raise FrameError("OpenCV could not encode the image as PNG", "opencv_error")
    return buffer.tobytes()


@_mapped
def with_band(image: np.ndarray, top_px: int) -> np.ndarray:
    """The image with a black band on top, for a caption that must not hide what is measured."""
    return cv2.copyMakeBorder(image, top_px, 0, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))


@_mapped
def draw_line(image: np.ndarray, p0: Point, p1: Point, colour: tuple[int, int, int]) -> None:
    cv2.line(image, _int(p0), _int(p1), colour, 1, cv2.LINE_AA)


@_mapped
def draw_circle(image: np.ndarray, centre: Point, radius_px: float, colour: tuple[int, int, int]) -> None:
    cv2.circle(image, _int(centre), max(1, round(radius_px)), colour, 1, cv2.LINE_AA)


@_mapped
def draw_polygon(image: np.ndarray, points: Sequence[Point], colour: tuple[int, int, int]) -> None:
    cv2.polylines(image, [np.array(points, np.int32)], True, colour, 1, cv2.LINE_AA)


@_mapped
def draw_text(image: np.ndarray, text: str, at: Point, colour: tuple[int, int, int]) -> None:
    cv2.putText(image, text, _int(at), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)


def box_points(rect: RotatedRect) -> list[Point]:
    return [(float(x), float(y)) for x, y in cv2.boxPoints(rect)]


def _int(point: Any) -> tuple[int, int]:
    return (round(float(point[0])), round(float(point[1])))
