"""The synthetic camera's drawing: parts of known geometry in mm, with the defects a line really sees.

A `Scene` fixes the frame and its scale (px_per_mm); a `Part` places a rectangle of known length and
width, round holes at known positions, an optional colour patch and a printed code; `Defects` removes a
hole, scales the part (wrong size), adds a smudge, or leaves the part out. Geometry is drawn on a
supersampled canvas (8x by default) and averaged down, so edges land at their true sub-pixel places
and tests can check measurements against the drawing. Coordinates: mm from the part's top-left
corner, x right, y down; frame area coordinates (pixel i spans [i, i+1)). Codes are made with
zxing-cpp's writer. It owns drawing only; it must not import anything of this repository outside drivers/.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import zxingcpp

SHIFT_BITS = 4  # OpenCV's fractional bits for sub-pixel vertices on the supersampled canvas
SMUDGE_GREY = 80
CODE_FORMATS = {"qr": zxingcpp.BarcodeFormat.QRCode, "datamatrix": zxingcpp.BarcodeFormat.DataMatrix,
                "gs1_datamatrix": zxingcpp.BarcodeFormat.DataMatrix,
                "code128": zxingcpp.BarcodeFormat.Code128, "ean13": zxingcpp.BarcodeFormat.EAN13}


@dataclass(frozen=True, slots=True)
class Scene:
    width_px: int = 640
    height_px: int = 480
    px_per_mm: float = 8.0
    background_grey: int = 30
    part_grey: int = 200
    noise_grey: float = 0.0  # standard deviation of Gaussian noise; 0 = none
    seed: int = 0
    supersample: int = 8  # canvas pixels per frame pixel: edges within 1/supersample px of true


@dataclass(frozen=True, slots=True)
class Hole:
    x_mm: float
    y_mm: float
    diameter_mm: float


@dataclass(frozen=True, slots=True)
class Marking:
    """A printed code, black on a white label with its quiet zone; `x_mm, y_mm` is its top-left."""

    symbology: str  # "qr", "datamatrix", "gs1_datamatrix" (content "(01)...(10)..."), "code128", "ean13"
    content: str
    x_mm: float
    y_mm: float
    module_px: int = 4


@dataclass(frozen=True, slots=True)
class Patch:
    """A coloured mark (paint dot, label) of BGR colour, axis-aligned, in part mm."""

    x_mm: float
    y_mm: float
    w_mm: float
    h_mm: float
    bgr: tuple[int, int, int] = (40, 180, 40)


@dataclass(frozen=True, slots=True)
class Part:
    length_mm: float = 40.0  # along x
    width_mm: float = 25.0  # along y
    at_mm: tuple[float, float] = (10.0, 10.0)  # the part's top-left corner in the frame, in mm
    angle_deg: float = 0.0  # rotation about the top-left corner
    holes: tuple[Hole, ...] = ()
    patch: Patch | None = None
    marking: Marking | None = None


@dataclass(frozen=True, slots=True)
class Defects:
    missing_holes: tuple[int, ...] = ()  # indexes into Part.holes
    scale: float = 1.0  # wrong size: length and width scaled
    smudge_at_mm: tuple[float, float] | None = None  # dark smear centred here, in part mm
    smudge_mm: tuple[float, float] = (4.0, 2.0)  # its half-axes
    no_part: bool = False


def draw(scene: Scene, part: Part, defects: Defects = Defects()) -> np.ndarray:
    """A BGR frame of the part as the scene's camera would see it."""
    canvas = np.full((scene.height_px * scene.supersample, scene.width_px * scene.supersample),
                     scene.background_grey, np.uint8)
    if not defects.no_part:
        _draw_geometry(canvas, scene, part, defects)
    grey = cv2.resize(canvas, (scene.width_px, scene.height_px), interpolation=cv2.INTER_AREA)
    image = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    if not defects.no_part:
        _draw_patch(image, scene, part)
        _draw_marking(image, scene, part)
    return _noisy(image, scene)


def to_frame_px(scene: Scene, part: Part, x_mm: float, y_mm: float) -> tuple[float, float]:
    """Where a point of the part lands in the frame, in area coordinates (pixel i spans [i, i+1))."""
    a = np.radians(part.angle_deg)
    dx, dy = x_mm * np.cos(a) - y_mm * np.sin(a), x_mm * np.sin(a) + y_mm * np.cos(a)
    return ((part.at_mm[0] + dx) * scene.px_per_mm, (part.at_mm[1] + dy) * scene.px_per_mm)


def _draw_geometry(canvas: np.ndarray, scene: Scene, part: Part, defects: Defects) -> None:
    length, width = part.length_mm * defects.scale, part.width_mm * defects.scale
    # OpenCV fills a polygon's boundary pixels too: draw it half a canvas pixel inside, so each canvas
    # pixel whose centre is inside the true outline is filled, and no other.
    inset = 0.5 / (scene.supersample * scene.px_per_mm)
    far_x, far_y = length - inset, width - inset
    corners = ((inset, inset), (far_x, inset), (far_x, far_y), (inset, far_y))
    outline = [to_frame_px(scene, part, x, y) for x, y in corners]
    cv2.fillPoly(canvas, [_fixed(outline, scene.supersample)], scene.part_grey, cv2.LINE_8, SHIFT_BITS)
    for index, hole in enumerate(part.holes):
        if index not in defects.missing_holes:
            centre = to_frame_px(scene, part, hole.x_mm, hole.y_mm)
            radius = (hole.diameter_mm / 2 * scene.px_per_mm * scene.supersample - 0.5) * (1 << SHIFT_BITS)
            x, y = _fixed([centre], scene.supersample)[0]
            cv2.circle(canvas, (int(x), int(y)), round(radius), scene.background_grey, -1,
                       cv2.LINE_8, SHIFT_BITS)
    if defects.smudge_at_mm is not None:
        centre = _fixed([to_frame_px(scene, part, *defects.smudge_at_mm)], scene.supersample)[0]
        axes = [round(r * scene.px_per_mm * scene.supersample * (1 << SHIFT_BITS)) for r in defects.smudge_mm]
        cv2.ellipse(canvas, (int(centre[0]), int(centre[1])), (axes[0], axes[1]), part.angle_deg + 20, 0, 360,
                    SMUDGE_GREY, -1, cv2.LINE_8, SHIFT_BITS)


def _fixed(points: list[tuple[float, float]], supersample: int) -> np.ndarray:
    """Frame area coordinates to the canvas's fixed-point OpenCV coordinates (pixel centres at integers)."""
    one = 1 << SHIFT_BITS
    return np.array([[round((x * supersample - 0.5) * one), round((y * supersample - 0.5) * one)]
                     for x, y in points], np.int32)


def _draw_patch(image: np.ndarray, scene: Scene, part: Part) -> None:
    if part.patch is None:
        return
    p = part.patch
    x0, y0 = (round(v) for v in to_frame_px(scene, part, p.x_mm, p.y_mm))
    x1, y1 = x0 + round(p.w_mm * scene.px_per_mm), y0 + round(p.h_mm * scene.px_per_mm)
    image[y0:y1, x0:x1] = p.bgr


def _draw_marking(image: np.ndarray, scene: Scene, part: Part) -> None:
    if part.marking is None:
        return
    symbol = code_image(part.marking)
    x, y = (round(v) for v in to_frame_px(scene, part, part.marking.x_mm, part.marking.y_mm))
    h, w = symbol.shape
    visible = image[y : y + h, x : x + w]
    visible[:] = symbol[: visible.shape[0], : visible.shape[1], None]


def code_image(marking: Marking) -> np.ndarray:
    """The code as a grey image, `module_px` pixels a module, with its quiet zone."""
    options = {"gs1": True} if marking.symbology == "gs1_datamatrix" else {}
    symbol = zxingcpp.create_barcode(marking.content, CODE_FORMATS[marking.symbology], **options)
    return np.array(symbol.to_image(scale=marking.module_px, add_quiet_zones=True), dtype=np.uint8)


def _noisy(image: np.ndarray, scene: Scene) -> np.ndarray:
    if not scene.noise_grey:
        return image
    noise = np.random.default_rng(scene.seed).normal(0.0, scene.noise_grey, image.shape)
    return np.clip(image.astype(np.float64) + noise, 0, 255).astype(np.uint8)


def renderer(scene: Scene, plan: list[tuple[Part, Defects]]) -> Callable[[int], np.ndarray]:
    """A render function for drivers.camera.SyntheticCamera: frame n shows plan[(n - 1) % len(plan)]."""
    if not plan:
        raise ValueError("a synthetic camera needs at least one part in its plan")

    def render(seq: int) -> np.ndarray:
        part, defects = plan[(seq - 1) % len(plan)]
        return draw(scene, part, defects)

    return render
