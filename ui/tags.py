"""The hold tag: a printable page to hang on a held lot (big lot number, product, reason, date, the lot number
as a Code 128 drawn as SVG on the server), and the same tag in ZPL sent to a label printer over raw TCP.

Owns the tag's content, its ZPL and the talk to the printer (`UiSettings.label_printer`, "host:port").
Must not change a hold: a tag only shows one. The barcode comes from zxing-cpp's writer (a dependency already,
for the vision checks); this module draws nothing itself.

    LabelPrinterError   the printer is not configured, unreachable, or refused the tag (names the printer)
"""

from __future__ import annotations

import re
import socket
from typing import Annotated, Any

import zxingcpp
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from markupsafe import Markup

from edge import holds, sessions, worklist
from edge.errors import ConflictError
from ui.guard import CsrfDep, role
from ui.web import core_of, render, settings_of

router = APIRouter()
Reviewer = Annotated[sessions.Session, Depends(role("supervisor", "admin", "auditor"))]
Printer = Annotated[sessions.Session, Depends(role("supervisor", "admin"))]
ZPL_PORT = 9100
PRINTER_TIMEOUT_S = 5.0
REASON_CHARS = 240


class LabelPrinterError(ConflictError):
    """The tag could not be printed; the message names the printer."""


def barcode_svg(text: str) -> Markup:
    """The text as a Code 128 (a QR Code when Code 128 cannot carry it), an inline SVG scaled to its box.

    Safe to insert unescaped: the writer emits geometry only (no human-readable text is asked for)."""
    try:
        barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.Code128)
        kind = "code128"
    except Exception:  # zxing-cpp raises its own bare errors for text Code 128 cannot encode
        barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode)
        kind = "qr"
    svg = barcode.to_svg(add_hrt=False, add_quiet_zones=True)
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r'<svg width="(\d+)" height="(\d+)"',
                 rf'<svg class="barcode {kind}" viewBox="0 0 \1 \2" preserveAspectRatio="none" role="img" '
                 r'aria-label="barcode of the lot number"', svg, count=1)
    svg = re.sub(r"<desc>.*?</desc>", "", svg, flags=re.S)
    return Markup(svg)  # noqa: S704 - geometry from the writer, see the docstring


def tag_content(evidence: dict[str, Any]) -> dict[str, str]:
    hold, lot = evidence["hold"], evidence["lot"]
    reason = hold["reason"] if len(hold["reason"]) <= REASON_CHARS else hold["reason"][:REASON_CHARS - 1] + "…"
    return {"lot": lot["lot_number"], "product": lot["product"], "revision": lot["plan_revision"] or "",
            "quantity": str(lot["quantity"] or ""), "reason": reason, "date": hold["opened_at"][:10],
            "placed_by": hold["opened_by"], "status": hold["status"], "hold": hold["uid"]}


def zpl_field(text: str) -> str:
    """Field data hex-escaped for ^FH: ^ and ~ would start a command, _ is the escape itself."""
    return "".join(c if " " <= c <= "}" and c not in "^~_" else "".join(f"_{b:02X}" for b in c.encode())
                   for c in text)


def zpl(tag: dict[str, str]) -> bytes:
    """The tag for a 4 x 3 inch label at 203 dpi, UTF-8 (^CI28), every field through ^FH."""
    def field(x: int, y: int, font: str, text: str, block: str = "") -> str:
        return f"^FO{x},{y}{font}{block}^FH_^FD{zpl_field(text)}^FS"

    lines = ["^XA", "^CI28", "^PW812", "^LL609",
             field(30, 20, "^A0N,44,44", "HOLD - DO NOT USE"),
             field(30, 80, "^A0N,90,90", tag["lot"]),
             field(30, 185, "^A0N,34,34", f"Product {tag['product']} rev {tag['revision']}  Qty {tag['quantity']}"),
             field(30, 230, "^A0N,26,26", tag["reason"], "^FB750,3,0,L"),
             field(30, 320, "^A0N,28,28", f"Held {tag['date']} by {tag['placed_by']}"),
             f"^FO30,370^BY3^BCN,150,N,N,N^FH_^FD{zpl_field(tag['lot'])}^FS", "^XZ"]
    return ("\n".join(lines) + "\n").encode()


def printer_address(setting: str | None) -> tuple[str, int]:
    if not setting or not setting.strip():
        raise LabelPrinterError("no label printer is configured (UiSettings.label_printer, e.g. \"10.0.0.9:9100\")")
    host, _, port = setting.strip().rpartition(":") if ":" in setting else (setting.strip(), "", str(ZPL_PORT))
    host = host.strip("[]")
    if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:  # not "²"
        raise LabelPrinterError(f"label printer {setting!r} is not host:port")
    return host, int(port)


def send(setting: str | None, payload: bytes, timeout_s: float = PRINTER_TIMEOUT_S) -> str:
    """Send the ZPL over raw TCP; answers the printer's name, raises LabelPrinterError naming it."""
    host, port = printer_address(setting)
    name = f"{host}:{port}"
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as connection:
            connection.sendall(payload)
    except OSError as exc:
        raise LabelPrinterError(f"label printer {name} is unreachable: {exc.strerror or exc}: the tag was not "
                                "printed") from None
    return name


def _tag_response(request: Request, hold_uid: str, status_code: int = 200, **extra: Any) -> Response:
    evidence = worklist.hold_evidence(core_of(request), hold_uid)
    tag = tag_content(evidence)
    context = {"tag": tag, "barcode": barcode_svg(tag["lot"]), "printer": settings_of(request).label_printer,
               "can_print": request.state.session.actor.role in ("supervisor", "admin"), **extra}
    return render(request, "tag.html", context, block="tag", status_code=status_code)


@router.get("/holds/{hold_uid}/tag")
def tag_page(request: Request, hold_uid: str, _: Reviewer) -> Response:
    return _tag_response(request, hold_uid)


@router.post("/holds/{hold_uid}/tag/print")
def print_tag(request: Request, hold_uid: str, session: CsrfDep, __: Printer) -> Response:
    tag = tag_content(worklist.hold_evidence(core_of(request), hold_uid))
    if tag["status"] != "open":
        return _tag_response(request, hold_uid, 409, error=f"the hold of lot {tag['lot']} is {tag['status']}: a "
                             "closed hold gets no tag to hang on the lot")
    try:
        name = send(settings_of(request).label_printer, zpl(tag))
    except LabelPrinterError as exc:
        return _tag_response(request, hold_uid, 503, error=str(exc))
    holds.note_tag_printed(core_of(request), session.actor, hold_uid, name)
    return _tag_response(request, hold_uid, notice=f"Hold tag of lot {tag['lot']} sent to label printer {name}")
