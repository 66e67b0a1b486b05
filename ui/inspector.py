"""The inspector's bench: a scan field that keeps the focus (a scanner types like a keyboard), a GS1 label read
by `edge.labels`, and the lot it names opened with its sampling plan (n, Ac, Re), its progress and its
accept-or-hold state. Writes only through `edge` services.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from edge import lots, sessions
from edge.errors import InvalidInputError, LinesideError, NotFoundError
from edge.labels import GROUP_SEPARATOR, Label, parse_label
from ui.guard import CsrfDep, role
from ui.station import work_context
from ui.web import core_of, hub_of, render, settings_of, status_for

router = APIRouter()
Inspector = Annotated[sessions.Session, Depends(role("inspector", "supervisor", "admin"))]
Field = Annotated[str, Form()]


@router.get("/inspect")
def inspect(request: Request, _: Inspector, lot: str | None = None) -> Response:
    return render(request, "inspect.html", work_context(request, lot, view="inspect"), block="work")


def read_label(request: Request, barcode: str) -> tuple[str, Label]:
    """The scanned text with the configured substitute turned back into GS, and the label it carries."""
    substitute = settings_of(request).separator_substitute
    text = barcode.strip("\r\n")
    if substitute:
        text = text.replace(substitute, GROUP_SEPARATOR)
    return text, parse_label(text)


def _open_or_find(request: Request, session: sessions.Session, text: str, label: Label, quantity: str) -> str:
    core = core_of(request)
    if not label.lot:
        raise InvalidInputError("Barcode: the label has no lot number (AI 10)")
    try:
        return lots.lot_row(core.store, label.lot)["lot_number"]
    except NotFoundError:
        pass
    if label.gtin and not any(p.gtin and p.gtin.zfill(14) == label.gtin.zfill(14) for p in core.config.products):
        raise NotFoundError(f"Barcode: no product in the configuration has GTIN {label.gtin}")
    count = label.count
    if count is None:
        if not quantity.strip():
            raise InvalidInputError("Quantity: the label has no count (AI 37): enter the lot quantity")
        if not quantity.strip().isdigit():
            raise InvalidInputError(f"Quantity: {quantity.strip()[:20]!r} is not a whole number")
        count = int(quantity.strip())
    opened = lots.open_lot(core, session.actor, barcode=text, quantity=count)
    hub_of(request).publish("lot", lot=opened["lot_number"], status=opened["status"], by=session.uid[:8])
    return str(opened["lot_number"])


@router.post("/inspect/scan")
def scan(request: Request, session: CsrfDep, _: Inspector, barcode: Field = "", quantity: Field = "") -> Response:
    try:
        if not barcode.strip():
            raise InvalidInputError("Barcode: scan a lot label")
        text, label = read_label(request, barcode)
        lot_number = _open_or_find(request, session, text, label, quantity)
    except LinesideError as exc:
        context = work_context(request, None, view="inspect", error=str(exc), scanned=barcode,
                               needs_quantity="AI 37" in str(exc))
        return render(request, "inspect.html", context, block="work", status_code=status_for(exc))
    context = work_context(request, lot_number, view="inspect", label=asdict(label))
    return render(request, "inspect.html", context, block="work", headers={"HX-Push-Url": f"/inspect?lot={lot_number}"})
