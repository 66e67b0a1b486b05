"""The quality routes of the JSON API: gauges and calibration, gauge trace, SPC charts and signals, switching.

Owns request and response shapes only: every decision is a service's in `edge`. Included by `ui.app`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from edge import calibration, schedules, signals, spc, switching
from ui.deps import ActorDep, CoreDep

router = APIRouter(prefix="/api/v1")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CalibrationIn(Body):
    result: Literal["pass", "fail"]
    calibrated_at: str = Field(max_length=40, description="ISO date or UTC date-time of the calibration")
    due: dt.date | None = Field(default=None, description="the next due date, for a passed calibration")
    certificate: str | None = Field(default=None, max_length=200, description="the certificate's reference")


class Signature(Body):
    secret: str = Field(max_length=256, description="the signer's PIN or password, entered again")
    meaning: str = Field(default="approved", max_length=200)


class SuspectHold(Signature):
    meaning: str = Field(default="suspect lots held", max_length=200)


@router.post("/gauges/{gauge}/calibrations", status_code=201, tags=["gauges"])
def record_calibration(gauge: str, body: CalibrationIn, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Records a calibration; a failed one takes the gauge out of service and answers with the suspect lots."""
    return calibration.record_calibration(core, actor, gauge, result=body.result, calibrated_at=body.calibrated_at,
                                          due=body.due, certificate=body.certificate)


@router.get("/gauges/{gauge}/suspect-lots", tags=["gauges"])
def suspect_lots(gauge: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    return calibration.suspect_lots(core.store, gauge)


@router.post("/gauges/{gauge}/suspect-lots/hold", tags=["gauges"])
def hold_suspect_lots(gauge: str, body: SuspectHold, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Signed: every suspect lot on hold in one transaction, the reason naming the gauge and the calibration."""
    return calibration.hold_suspect_lots(core, actor, gauge, body.secret, body.meaning)


@router.get("/trace/gauges/{gauge}", tags=["trace"])
def trace_gauge(gauge: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    return calibration.trace_gauge(core.store, gauge)




class LimitsApproval(Signature):
    meaning: str = Field(default="control limits approved", max_length=200)
    since: str | None = Field(default=None, max_length=40, description="start the phase-I baseline at this UTC "
                              "time (after a process change); default: the first value recorded")


class CauseIn(Body):
    cause: str = Field(max_length=64, description="the assignable-cause code")
    action: str | None = Field(default=None, max_length=64, description="the corrective-action code")
    note: str | None = Field(default=None, max_length=1000)


@router.get("/spc/signals", tags=["spc"])
def list_signals(core: CoreDep, actor: ActorDep,
                 status: Literal["open", "closed"] | None = Query(default=None)) -> list[dict[str, Any]]:
    return signals.list_signals(core.store, status)


@router.post("/spc/signals/{signal}/cause", tags=["spc"])
def record_cause(signal: str, body: CauseIn, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Records the assignable cause and corrective action of a signal, closing it."""
    return signals.record_cause(core, actor, signal, body.cause, body.action, body.note)


@router.get("/spc/{product}/{characteristic}", tags=["spc"])
def chart(product: str, characteristic: str, core: CoreDep, actor: ActorDep,
          last: int = Query(default=200, ge=2, le=5000, description="points shown, the latest")) -> dict[str, Any]:
    """Control limits (approved, or proposed and said so), points, run-rule signals and capability."""
    return spc.chart_view(core, product, characteristic, last)


@router.get("/spc/{product}/{characteristic}/limits", tags=["spc"])
def list_limits(product: str, characteristic: str, core: CoreDep, actor: ActorDep) -> list[dict[str, Any]]:
    return spc.list_limits(core.store, product, characteristic)


@router.post("/spc/{product}/{characteristic}/limits", status_code=201, tags=["spc"])
def approve_limits(product: str, characteristic: str, body: LimitsApproval, core: CoreDep,
                   actor: ActorDep) -> dict[str, Any]:
    """Signed: computes the limits from the phase-I baseline and puts them in force, frozen."""
    return spc.approve_limits(core, actor, body.secret, product, characteristic, since=body.since,
                              meaning=body.meaning)


@router.get("/sampling/states", tags=["lots"])
def sampling_states(core: CoreDep, actor: ActorDep) -> list[dict[str, Any]]:
    """The switching state (normal, tightened, reduced; discontinued) per product, supplier and characteristic."""
    return switching.list_states(core.store)


class SetupIn(Body):
    kind: Literal["setup", "tool_change"]
    note: str | None = Field(default=None, max_length=500)


class MissIn(Body):
    reason: str = Field(max_length=64, description="the reason code for the sample not taken")


@router.get("/stations/{station}/schedule", tags=["stations"])
def station_schedule(station: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """In-process samples of the station's active lot: each scheduled characteristic ok, due or overdue."""
    return schedules.station_schedule(core, station)


@router.post("/stations/{station}/setups", status_code=201, tags=["stations"])
def record_setup(station: str, body: SetupIn, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """A set-up or tool change at the station: first-off samples become due."""
    return schedules.record_setup(core, actor, station, body.kind, body.note)


@router.post("/stations/{station}/schedule/{characteristic}/missed", status_code=201, tags=["stations"])
def record_miss(station: str, characteristic: str, body: MissIn, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Records the reason code of a due sample not taken; its due triggers start again."""
    return schedules.record_miss(core, actor, station, characteristic, body.reason)


class ResumeIn(Signature):
    reason: str = Field(max_length=1000, description="the supplier's correction that allows inspection to resume")
    meaning: str = Field(default="inspection resumed on tightened", max_length=200)


@router.post("/sampling/states/{state}/resume", tags=["lots"])
def resume_inspection(state: str, body: ResumeIn, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Signed: discontinued inspection resumes on tightened inspection."""
    return switching.resume(core, actor, body.secret, state, body.reason, body.meaning)
