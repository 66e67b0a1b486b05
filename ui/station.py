"""The operator station: the active lot and its plan, the next characteristic with its limits, a big PASS or
FAIL for each value, and auto-advance to the next. Measuring and releasing a lot are shared with the
inspector's bench, so they live here too. Writes only through `edge` services.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from edge import lots, measurements, sessions, worklist
from edge.errors import InvalidInputError, LinesideError
from ui.guard import CsrfDep, role
from ui.web import core_of, hub_of, render, status_for

router = APIRouter()
MEASURERS = ("operator", "inspector", "supervisor", "admin")
Measurer = Annotated[sessions.Session, Depends(role(*MEASURERS))]
Field = Annotated[str, Form()]
MEANINGS = ("released: plan complete and passed", "released", "approved")


def work_context(request: Request, lot_number: str | None, **extra: Any) -> dict[str, Any]:
    core = core_of(request)
    work = worklist.lot_work(core, lot_number) if lot_number else None
    return {"work": work, "products": core.config.products, "meanings": MEANINGS, **extra}


@router.get("/station")
def station(request: Request, session: Measurer, lot: str | None = None) -> Response:
    chosen = lot or worklist.active_lot(core_of(request), session.actor.station)
    return render(request, "station.html", work_context(request, chosen, view="station"), block="work")


def _quantity(text: str) -> int:
    try:
        quantity = int(text.strip())
    except ValueError:
        raise InvalidInputError(f"Quantity: {text.strip()[:20]!r} is not a whole number") from None
    return quantity


@router.post("/station/lots")
def open_lot(request: Request, session: CsrfDep, _: Measurer, product: Field = "", lot: Field = "",
             quantity: Field = "") -> Response:
    try:
        if not product:
            raise InvalidInputError("Product: choose the product being made")
        if not lot.strip():
            raise InvalidInputError("Lot number: required")
        opened = lots.open_lot(core_of(request), session.actor, product=product, lot=lot,
                               quantity=_quantity(quantity))
    except LinesideError as exc:
        context = work_context(request, None, view="station", error=str(exc),
                               entered={"product": product, "lot": lot, "quantity": quantity})
        return render(request, "station.html", context, block="work", status_code=status_for(exc))
    hub_of(request).publish("lot", lot=opened["lot_number"], status=opened["status"], station=session.actor.station)
    return _after(request, "station.html", opened["lot_number"], "station", f"/station?lot={opened['lot_number']}")


def _after(request: Request, template: str, lot_number: str, view: str, url: str, **extra: Any) -> Response:
    if request.headers.get("HX-Request") != "true":
        return RedirectResponse(url, status_code=303)
    return render(request, template, work_context(request, lot_number, view=view, **extra), block="work",
                  headers={"HX-Push-Url": url})


def _measure(request: Request, session: sessions.Session, lot: str, characteristic: str, value: str,
             entry: str = "") -> dict[str, Any]:
    if not characteristic:
        raise InvalidInputError("Characteristic: missing (reload the page)")
    if not value.strip():
        raise InvalidInputError(f"Value for {characteristic}: enter a number, or PASS or FAIL")
    # `entry` is the form's one-time key: a stale form resubmitted (a double tap, a reload) records nothing twice.
    given = measurements.MeasurementInput(characteristic=characteristic, value=value.strip(),
                                          key=entry or None)
    result = measurements.record_measurement(core_of(request), session.actor, lot, given)
    hub_of(request).recorded([result], station=session.actor.station, by=session.uid[:8])
    return result


@router.post("/lots/{lot}/measurements")
def record(request: Request, lot: str, session: CsrfDep, _: Measurer, characteristic: Field = "",
           value: Field = "", view: Field = "station", entry: Field = "") -> Response:
    template = "inspect.html" if view == "inspect" else "station.html"
    url = f"/{'inspect' if view == 'inspect' else 'station'}?lot={lot}"
    try:
        result = _measure(request, session, lot, characteristic, value, entry[:36])
    except LinesideError as exc:
        context = work_context(request, lot, view=view, error=str(exc),
                               entered={"characteristic": characteristic, "value": value})
        return render(request, template, context, block="work", status_code=status_for(exc))
    return _after(request, template, lot, view, url, result=result)


@router.post("/lots/{lot}/release")
def release(request: Request, lot: str, session: CsrfDep, secret: Field = "", meaning: Field = "",
            view: Field = "inspect") -> Response:
    from ui.supervisor import queue_response  # the supervisor's queue is the other place a lot is released

    try:
        if not secret:
            raise InvalidInputError("Signature: re-enter your PIN or password to sign the release")
        released = lots.release_lot(core_of(request), session.actor, lot, secret, meaning or MEANINGS[0])
        message, error = f"Lot {lot} released by {session.actor.name} ({meaning or MEANINGS[0]})", None
        hub_of(request).publish("lot", lot=lot, status=released["status"], by=session.uid[:8])
    except LinesideError as exc:
        message, error, status = None, str(exc), status_for(exc)
    if view == "holds":
        return queue_response(request, notice=message, error=error, release_lot=lot if error else None)
    context = work_context(request, lot, view="inspect", notice=message, error=error)
    return render(request, "inspect.html", context, block="work", status_code=status if error else 200)
