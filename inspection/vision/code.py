"""Code reading: QR with OpenCV; DataMatrix, GS1 DataMatrix and 1D codes with zxing-cpp.

OpenCV has no DataMatrix decoder, so zxing-cpp (maintained, Apache-2.0) reads every symbology but QR,
and this is the only module that imports it. The decoded content is compared with the expected text
and/or GS1 application identifiers (lot (10), serial (21), ...). A region with no readable code of the
expected symbology raises `CodeUnreadableError`: a mismatch is a FAIL, an unreadable code is no result.
It must not decide limits, or import drivers/.
"""

from __future__ import annotations

import numpy as np
import zxingcpp

from inspection.vision import gs1, opencv
from inspection.vision.errors import CodeUnreadableError
from inspection.vision.result import Outcome, Overlay
from inspection.vision.spec import CodeParams

Point = tuple[float, float]
FORMATS: dict[str, zxingcpp.BarcodeFormats] = {
    "datamatrix": zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.DataMatrix),
    "gs1_datamatrix": zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.DataMatrix),
    "code128": zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.Code128),
    "ean13": zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.EAN13),
    "linear": zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.AllLinear),
}


def measure(grey: np.ndarray, params: CodeParams) -> Outcome:
    data, corners = read(grey, params.symbology)
    fields = gs1.parse(data) if params.symbology == "gs1_datamatrix" or params.expected_ai else {}
    text = gs1.hri(fields) if params.symbology == "gs1_datamatrix" else data
    problem = _mismatch(text, fields, params)
    return Outcome(None, "", text=text, matched=not problem, mismatch=problem,
                   overlay=Overlay(polygons=(corners,) if corners else ()))


def read(grey: np.ndarray, symbology: str) -> tuple[str, tuple[Point, ...]]:
    """Decoded text (GS1 data with GS separators) and the code's corners; unreadable raises."""
    if symbology == "qr":
        text, points = opencv.decode_qr(grey)
        corners = tuple((float(x), float(y)) for x, y in points.reshape(-1, 2)) if points is not None else ()
    else:
        text, corners = _zxing(grey, symbology)
    if not text:
        raise CodeUnreadableError(f"no readable {symbology} code in the roi", "code_unreadable")
    return text, corners


def _zxing(grey: np.ndarray, symbology: str) -> tuple[str, tuple[Point, ...]]:
    found = zxingcpp.read_barcodes(np.ascontiguousarray(grey), formats=FORMATS[symbology],
                                   text_mode=zxingcpp.TextMode.Plain)
    if symbology == "gs1_datamatrix":
        found = [b for b in found if b.content_type == zxingcpp.ContentType.GS1]
    if not found:
        return "", ()
    best = found[0]
    p = best.position
    ordered = (p.top_left, p.top_right, p.bottom_right, p.bottom_left)
    corners = tuple((float(q.x), float(q.y)) for q in ordered)
    return best.text, corners


def _mismatch(text: str, fields: dict[str, str], params: CodeParams) -> str:
    """Empty when the content is as expected; otherwise what differs, for the failure message."""
    if params.expected is not None and text != params.expected:
        return f"content {text!r} is not the expected {params.expected!r}"
    for ai, want in params.expected_ai.items():
        if fields.get(ai) != want:
            return f"GS1 ({ai}) is {fields.get(ai)!r}, expected {want!r}"
    return ""
