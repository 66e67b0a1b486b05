"""The supervisor's desk: the holds queue, a hold's evidence (values against limits, gauge and calibration,
who and when), the signed disposition, and the lots awaiting release. Signing goes through
`edge.holds.disposition` and `edge.lots.release_lot`, which re-authenticate the signer.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from edge import holds, sessions, worklist
from edge.errors import InvalidInputError, LinesideError
from ui.guard import CsrfDep, role
from ui.web import core_of, hub_of, render, status_for

router = APIRouter()
Reviewer = Annotated[sessions.Session, Depends(role("supervisor", "admin", "auditor"))]
Field = Annotated[str, Form()]
DECISIONS = {"use-as-is": "Use as is (concession)", "rework": "Rework, then inspect again", "scrap": "Scrap",
             "return-to-supplier": "Return to supplier"}
MEANINGS = ("disposition approved", "reviewed and approved as quality engineer", "approved under concession")


def _may(request: Request, roles: list[str]) -> bool:
    return request.state.session.actor.role in roles  # type: ignore[no-any-return]


def queue_response(request: Request, status_code: int = 200, **extra: Any) -> Response:
    core = core_of(request)
    context = {"queue": worklist.holds_queue(core), "accepted": worklist.awaiting_release(core),
               "can_release": _may(request, list(core.config.authority.release)),
               "meanings": ("released", "released under supervision"), **extra}
    return render(request, "holds.html", context, block="queue", status_code=status_code)


@router.get("/holds")
def holds_page(request: Request, _: Reviewer) -> Response:
    return queue_response(request)


def _hold_response(request: Request, hold_uid: str, status_code: int = 200, **extra: Any) -> Response:
    core = core_of(request)
    context = {"evidence": worklist.hold_evidence(core, hold_uid), "decisions": DECISIONS,
               "can_sign": _may(request, list(core.config.authority.disposition)),
               "meanings": MEANINGS, "entered": {}, **extra}
    return render(request, "hold.html", context, block="hold", status_code=status_code)


@router.get("/holds/{hold_uid}")
def hold_page(request: Request, hold_uid: str, _: Reviewer) -> Response:
    return _hold_response(request, hold_uid)


@router.post("/holds/{hold_uid}/disposition")
def dispose(request: Request, hold_uid: str, session: CsrfDep, _: Reviewer, decision: Field = "",
            reason: Field = "", cause: Field = "", action: Field = "", meaning: Field = "",
            secret: Field = "") -> Response:
    entered = {"decision": decision, "reason": reason, "cause": cause, "action": action, "meaning": meaning}
    try:
        if decision not in DECISIONS:
            raise InvalidInputError("Decision: choose use as is, rework, scrap or return to supplier")
        if not reason.strip():
            raise InvalidInputError("Reason: say why this decision is right for the lot")
        if not secret:
            raise InvalidInputError("Signature: re-enter your password to sign")
        record = holds.disposition(core_of(request), session.actor, hold_uid, decision, reason, secret,
                                   meaning or MEANINGS[0], cause or None, action or None)
    except LinesideError as exc:
        return _hold_response(request, hold_uid, status_for(exc), error=str(exc), entered=entered)
    hub_of(request).publish("disposition", hold=hold_uid, decision=record["decision"], by=session.uid[:8])
    return _hold_response(request, hold_uid, notice=f"Signed: {DECISIONS[decision]}, by {session.actor.name}")
