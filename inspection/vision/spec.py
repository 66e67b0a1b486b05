"""Check specifications: what a characteristic's vision check is, as plain frozen dataclasses.

A check is a short pipeline over one region of interest: crop the ROI from the frame, convert to grey
(colour keeps BGR), optionally blur, then run one tool with its parameters. Each tool yields one primary
value that is compared, as a Decimal at `resolution`, with the inclusive limits `lower` / `upper`.
`spec_from_mapping` turns one entry of the core's TOML configuration into a spec, raising `SpecError`
that names the check and the field at fault. This module owns validation of settings; it must not
touch pixels, OpenCV, files or anything outside inspection/.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from inspection.vision.errors import SpecError

if TYPE_CHECKING:  # numpy costs ~130 ms to import: configuration checks must not pay for it
    import numpy as np


class Tool(enum.StrEnum):
    PRESENCE = "presence"  # fraction of pixels in a grey range, or template match score
    CALIPER = "caliper"  # edge-to-edge distance along a line, sub-pixel
    RECT = "rect"  # fitted min-area rectangle, length or width
    CIRCLE = "circle"  # fitted circle (hole, boss), diameter
    BLOB = "blob"  # count of blobs within area limits
    COLOUR = "colour"  # fraction of pixels inside an HSV range
    POSITION = "position"  # hole position relative to a datum, true-position diameter
    CODE = "code"  # QR, DataMatrix, GS1 DataMatrix, 1D; content matched with the expected


POLARITIES = ("dark", "bright")
SYMBOLOGIES = ("qr", "datamatrix", "gs1_datamatrix", "code128", "ean13", "linear")


@dataclass(frozen=True, slots=True)
class Roi:
    """A rectangle in frame pixels: left x, top y, width w, height h."""

    x: int
    y: int
    w: int
    h: int

    def __post_init__(self) -> None:
        if min(self.x, self.y) < 0 or min(self.w, self.h) < 1:
            raise SpecError(f"roi {self.as_tuple()} needs x, y >= 0 and w, h >= 1")

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.w, self.h)


@dataclass(frozen=True, slots=True)
class PresenceParams:
    method: str = "pixels"  # "pixels": fraction of pixels with grey in [grey_lo, grey_hi]; "template"
    grey_lo: int = 0
    grey_hi: int = 127
    template: np.ndarray | None = field(default=None, compare=False)  # grey uint8, loaded by the core

    def __post_init__(self) -> None:
        _require(self.method in ("pixels", "template"), "method", "must be 'pixels' or 'template'")
        _require(0 <= self.grey_lo <= self.grey_hi <= 255, "grey_lo/grey_hi", "need 0 <= lo <= hi <= 255")
        if self.method == "template":
            t = self.template
            shape_ok = getattr(t, "ndim", 0) == 2 and getattr(t, "size", 0) > 0
            ok = shape_ok and str(getattr(t, "dtype", "")) == "uint8"
            _require(ok, "template", "must be a non-empty 2-D grey uint8 array for method 'template'")


@dataclass(frozen=True, slots=True)
class CaliperParams:
    """A line from (x0_px, y0_px) to (x1_px, y1_px) in ROI pixels; the first and last edge on it."""

    x0_px: float
    y0_px: float
    x1_px: float
    y1_px: float
    band_px: int = 5  # parallel lines averaged across the caliper, against noise
    min_contrast: float = 20.0  # grey levels per pixel of gradient that count as an edge

    def __post_init__(self) -> None:
        ends = (self.x0_px, self.y0_px, self.x1_px, self.y1_px)
        _require(all(math.isfinite(v) for v in ends), "x0_px..y1_px", "must be finite numbers")
        length = math.hypot(self.x1_px - self.x0_px, self.y1_px - self.y0_px)
        _require(length >= 3, "x0_px..y1_px", "caliper line must be at least 3 px long")
        _require(self.band_px >= 1, "band_px", "must be >= 1")
        _require(self.min_contrast > 0, "min_contrast", "must be > 0")


@dataclass(frozen=True, slots=True)
class ShapeParams:
    """Segmentation shared by rect, circle and blob: object polarity and grey threshold (None = Otsu)."""

    polarity: str = "bright"
    threshold: int | None = None
    dimension: str = "length"  # rect only: "length" (longer side) or "width"
    min_area_px: int = 1  # blob only: area limits of a counted blob
    max_area_px: int = 10**9
    min_contrast: float = 10.0  # rect and circle: gradient (grey/px) of the edges refined sub-pixel

    def __post_init__(self) -> None:
        _require(self.min_contrast > 0, "min_contrast", "must be > 0")
        _require(self.polarity in POLARITIES, "polarity", "must be 'dark' or 'bright'")
        _require(self.threshold is None or 0 <= self.threshold <= 255, "threshold", "must be 0..255")
        _require(self.dimension in ("length", "width"), "dimension", "must be 'length' or 'width'")
        _require(0 < self.min_area_px <= self.max_area_px, "min_area_px/max_area_px", "need 0 < min <= max")


@dataclass(frozen=True, slots=True)
class ColourParams:
    """HSV range in OpenCV units (H 0..179, S and V 0..255); hue_lo > hue_hi wraps through red."""

    hsv_lo: tuple[int, int, int]
    hsv_hi: tuple[int, int, int]

    def __post_init__(self) -> None:
        for name, hsv in (("hsv_lo", self.hsv_lo), ("hsv_hi", self.hsv_hi)):
            ok = len(hsv) == 3 and 0 <= hsv[0] <= 179 and all(0 <= v <= 255 for v in hsv[1:])
            _require(ok, name, "must be [H 0..179, S 0..255, V 0..255]")
        ordered = self.hsv_lo[1] <= self.hsv_hi[1] and self.hsv_lo[2] <= self.hsv_hi[2]
        _require(ordered, "hsv_lo/hsv_hi", "need S and V lo <= hi")


@dataclass(frozen=True, slots=True)
class PositionParams:
    """A dark hole expected at (nominal_x_mm, nominal_y_mm) from the datum, searched within search_mm."""

    nominal_x_mm: float
    nominal_y_mm: float
    search_mm: float = 2.0
    datum: str = "part"  # "part": the part's fitted top-left corner and axes; "roi": the ROI's corner
    part_polarity: str = "bright"

    def __post_init__(self) -> None:
        _require(self.search_mm > 0, "search_mm", "must be > 0")
        _require(self.datum in ("part", "roi"), "datum", "must be 'part' or 'roi'")
        _require(self.part_polarity in POLARITIES, "part_polarity", "must be 'dark' or 'bright'")


@dataclass(frozen=True, slots=True)
class CodeParams:
    """A code to read and the content expected: whole text, and/or GS1 application identifiers."""

    symbology: str = "datamatrix"
    expected: str | None = None
    expected_ai: Mapping[str, str] = field(default_factory=dict)  # e.g. {"10": lot, "21": serial}

    def __post_init__(self) -> None:
        _require(self.symbology in SYMBOLOGIES, "symbology", f"must be one of {', '.join(SYMBOLOGIES)}")
        _require(isinstance(self.expected_ai, Mapping), "expected_ai", "must be a table of AI = text")
        ok = all(isinstance(k, str) and k.isdigit() and 2 <= len(k) <= 4 for k in self.expected_ai)
        _require(ok, "expected_ai", "keys must be GS1 application identifiers of 2 to 4 digits")


ToolParams = PresenceParams | CaliperParams | ShapeParams | ColourParams | PositionParams | CodeParams

PARAMS_BY_TOOL: dict[Tool, type] = {
    Tool.PRESENCE: PresenceParams,
    Tool.CALIPER: CaliperParams,
    Tool.RECT: ShapeParams,
    Tool.CIRCLE: ShapeParams,
    Tool.BLOB: ShapeParams,
    Tool.COLOUR: ColourParams,
    Tool.POSITION: PositionParams,
    Tool.CODE: CodeParams,
}
MM_TOOLS = frozenset({Tool.CALIPER, Tool.RECT, Tool.CIRCLE, Tool.POSITION})


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One characteristic checked by vision. Limits are inclusive, in `unit`, compared at `resolution`."""

    characteristic: str
    tool: Tool
    roi: Roi
    params: ToolParams
    lower: Decimal | None = None
    upper: Decimal | None = None
    resolution: Decimal = Decimal("0.001")
    unit: str = ""  # "mm" or "px" for dimension tools; fixed by the tool otherwise
    frame_size: tuple[int, int] | None = None  # expected (width, height) of the frame, None = any
    blur_px: int = 0  # Gaussian kernel, odd; 0 = none
    max_calibration_age_days: int = 365

    def __post_init__(self) -> None:
        where = f"check {self.characteristic!r}"
        if not isinstance(self.params, PARAMS_BY_TOOL[self.tool]):
            raise SpecError(f"{where}: params are {type(self.params).__name__}, tool {self.tool} needs "
                            f"{PARAMS_BY_TOOL[self.tool].__name__}")
        if self.blur_px and (self.blur_px < 3 or self.blur_px % 2 == 0):
            raise SpecError(f"{where}: blur_px must be 0 or an odd number >= 3, not {self.blur_px}")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise SpecError(f"{where}: lower {self.lower} is above upper {self.upper}")
        if self.resolution <= 0:
            raise SpecError(f"{where}: resolution must be > 0")
        if self.tool in MM_TOOLS and self.unit not in ("mm", "px"):
            raise SpecError(f"{where}: unit must be 'mm' or 'px' for tool {self.tool}, not {self.unit!r}")
        if self.tool is Tool.POSITION and self.unit != "mm":
            raise SpecError(f"{where}: unit must be 'mm' for tool position (its nominal is in mm)")


def spec_from_mapping(entry: Mapping[str, Any]) -> CheckSpec:
    """Build a spec from one config entry (TOML table); every error names the check and the field."""
    name = str(entry.get("characteristic", "?"))
    try:
        tool = Tool(entry["tool"])
        params = _params(tool, entry.get("params", {}))
        return CheckSpec(
            characteristic=str(entry["characteristic"]), tool=tool, roi=Roi(*entry["roi"]), params=params,
            lower=_decimal(entry.get("lower")), upper=_decimal(entry.get("upper")),
            resolution=_decimal(entry.get("resolution", _default_resolution(tool))) or Decimal(1),
            unit=str(entry.get("unit", "mm" if tool in MM_TOOLS else "")),
            frame_size=tuple(entry["frame_size"]) if "frame_size" in entry else None,
            blur_px=int(entry.get("blur_px", 0)),
            max_calibration_age_days=int(entry.get("max_calibration_age_days", 365)),
        )
    except SpecError as exc:
        raise SpecError(f"check {name!r}: {exc}") from None
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:  # ArithmeticError: int(inf), Decimal("x")
        raise SpecError(f"check {name!r}: {type(exc).__name__}: {exc}") from None


def _params(tool: Tool, raw: Mapping[str, Any]) -> ToolParams:
    if not isinstance(raw, Mapping):
        raise SpecError(f"params must be a table of the tool's settings, not {raw!r:.40}")
    cls = PARAMS_BY_TOOL[tool]
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SpecError(f"params {unknown} are not known to tool {tool} (known: {sorted(known)})")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    params: ToolParams = cls(**values)
    return params


def _default_resolution(tool: Tool) -> str:
    return "1" if tool is Tool.BLOB else "0.001"


def _decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _require(ok: bool, name: str, message: str) -> None:
    if not ok:
        raise SpecError(f"{name} {message}")
