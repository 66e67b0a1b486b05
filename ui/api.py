"""The JSON API under /api/v1: DESIGN.md's contract, reading through `edge` and writing through its services.

Owns request and response shapes and nothing else: every decision is a service's.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from edge import calibration, holds, lots, measurements, plans, stations, trace
from edge.errors import ConflictError
from ui.deps import ActorDep, CoreDep
from ui.web import hub_of

router = APIRouter(prefix="/api/v1")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LotOpen(Body):
    barcode: str | None = Field(default=None, max_length=200, description="a scanned GS1 label")
    product: str | None = Field(default=None, max_length=64)
    lot: str | None = Field(default=None, max_length=64)
    quantity: int | None = None
    supplier: str | None = Field(default=None, max_length=64)


class MeasurementIn(Body):
    characteristic: str = Field(max_length=64)
    value: str | int | float | bool = Field(description="a number, or pass/fail for an attribute")
    unit: str | None = Field(default=None, max_length=32)
    gauge: str | None = Field(default=None, max_length=64)
    sample: int | None = None
    serial: str | None = Field(default=None, max_length=64)
    device: str | None = Field(default=None, max_length=64)
    supersedes: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=500)
    key: str | None = Field(default=None, max_length=64, description="idempotency key: a value sent again with the "
                            "same key is recorded once, and the answer says `duplicate`")


class Signature(Body):
    secret: str = Field(max_length=256, description="the signer's PIN or password, entered again")
    meaning: str = Field(default="approved", max_length=200)


class DispositionIn(Signature):
    decision: Literal["use-as-is", "rework", "scrap", "return-to-supplier"]
    reason: str = Field(max_length=1000)
    cause: str | None = Field(default=None, max_length=1000)
    action: str | None = Field(default=None, max_length=1000)
    meaning: str = Field(default="disposition approved", max_length=200)


@router.get("/health", tags=["health"], responses={503: {"description": "not ready: the store cannot record "
                                                           "(`store.state` and `store.reason` say why); same body"}})
def health(core: CoreDep, request: Request, response: Response) -> dict[str, Any]:
    outbox = core.store.query_one("SELECT COUNT(*) AS depth, MIN(created_at) AS oldest FROM outbox "
                                  "WHERE sent_at IS NULL")
    head = core.store.query_one("SELECT MAX(seq) AS seq FROM audit_events")
    storage = core.store.storage.snapshot()
    store = {"path": str(core.store.path), "state": storage["state"], "audit_head": head["seq"] if head else 0}
    if not storage["recording"]:
        store.update(reason=storage["reason"], since=storage["since"], free_bytes=storage["free_bytes"])
        response.status_code = 503
    return {"status": "ok" if storage["recording"] else "not_ready", "site": core.config.site.id,
            "line": core.config.line.id, "store": store, "outbox": outbox, "devices": request.app.state.devices()}


@router.get("/plans", tags=["plans"])
def list_plans(core: CoreDep, actor: ActorDep) -> list[dict[str, Any]]:
    result = []
    for product in core.config.products:
        try:
            current = plans.in_force(core.store, core.config, product.id).plan.revision
        except ConflictError:
            current = None
        result.append({"product": product.id, "name": product.name, "gtin": product.gtin,
                       "revision_in_force": current,
                       "revisions": [plan.model_dump(mode="json") for plan in product.plans]})
    return result


@router.post("/lots", status_code=201, tags=["lots"])
def open_lot(request: Request, body: LotOpen, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    opened = lots.open_lot(core, actor, product=body.product, lot=body.lot, quantity=body.quantity,
                           supplier=body.supplier, barcode=body.barcode)
    hub_of(request).publish("lot", lot=opened["lot_number"], status=opened["status"], station=actor.station)
    return opened


@router.get("/lots/{lot}", tags=["lots"])
def get_lot(lot: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    return lots.lot_view(core.store, lot)


@router.post("/lots/{lot}/measurements", status_code=201, tags=["lots"])
def record(request: Request, lot: str, body: MeasurementIn, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    given = measurements.MeasurementInput(**body.model_dump())
    result = measurements.record_measurement(core, actor, lot, given)
    hub_of(request).recorded([result], station=actor.station, device=given.device)
    return result


class MeasurementsIn(Body):
    measurements: list[MeasurementIn] = Field(min_length=1, max_length=1000)


@router.post("/lots/{lot}/measurements/batch", status_code=201, tags=["lots"])
def record_batch(request: Request, lot: str, body: MeasurementsIn, core: CoreDep,
                 actor: ActorDep) -> list[dict[str, Any]]:
    """Several values of one lot in one transaction (a device's scan): all are recorded, or none."""
    given = [measurements.MeasurementInput(**item.model_dump()) for item in body.measurements]
    results = measurements.record_measurements(core, actor, lot, given)
    hub_of(request).recorded(results, station=actor.station, device=given[0].device)
    return results


@router.post("/lots/{lot}/release", tags=["lots"])
def release(request: Request, lot: str, body: Signature, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    released = lots.release_lot(core, actor, lot, body.secret, body.meaning)
    hub_of(request).publish("lot", lot=lot, status=released["status"])
    return released


@router.get("/nonconformities", tags=["holds"])
def nonconformities(core: CoreDep, actor: ActorDep,
                    status: Literal["open", "dispositioned"] | None = Query(default=None)) -> list[dict[str, Any]]:
    return holds.list_nonconformities(core, status)


@router.get("/holds", tags=["holds"])
def list_holds(core: CoreDep, actor: ActorDep,
               status: Literal["open", "closed"] | None = Query(default=None)) -> list[dict[str, Any]]:
    return holds.list_holds(core, status)


@router.post("/holds/{hold}/disposition", tags=["holds"])
def disposition(hold: str, body: DispositionIn, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    return holds.disposition(core, actor, hold, body.decision, body.reason, body.secret, body.meaning,
                             body.cause, body.action)


class StationLot(Body):
    lot: str = Field(max_length=64)


@router.get("/stations/{station}", tags=["stations"])
def get_station(station: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    lot = stations.active_lot(core, station)
    return {"station": station, "lot": lots.lot_view(core.store, lot["lot_number"]) if lot else None}


@router.put("/stations/{station}/lot", tags=["stations"])
def set_station_lot(station: str, body: StationLot, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    return stations.set_active_lot(core, actor, station, body.lot)


@router.get("/gauges", tags=["gauges"])
def list_gauges(core: CoreDep, actor: ActorDep) -> list[dict[str, Any]]:
    return calibration.list_gauges(core.store, core.today())


@router.get("/trace/lots/{lot}", tags=["trace"])
def trace_lot(lot: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    return trace.trace_lot(core.store, lot)
