"""The supervisor's desk: the holds queue, a hold's evidence (values against limits, gauge and calibration,
who and when), the signed disposition, and the lots awaiting release. Signing goes through
`edge.holds.disposition` and `edge.lots.release_lot`, which re-authenticate the signer.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, Response

from edge import holds, sessions, spc, worklist
from edge.errors import ConflictError, InvalidInputError, LinesideError, NotFoundError
from ui.charts import chart_svg
from ui.guard import CsrfDep, role
from ui.vision import get_vision
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


def _charts(request: Request, evidence: dict[str, Any]) -> list[dict[str, Any]]:
    """A control chart of each characteristic with a nonconformity in this lot: where the failure sits in the run."""
    core = core_of(request)
    product = core.config.product(evidence["lot"]["product"])
    plan = product.plan(evidence["lot"]["plan_revision"]) if product else None
    charts = []
    for characteristic in (plan.characteristics if plan else []):
        if characteristic.is_attribute or characteristic.id not in {nc["characteristic"]
                                                                    for nc in evidence["nonconformities"]}:
            continue
        try:
            view = spc.chart_view(core, evidence["lot"]["product"], characteristic.id, last=50)
        except LinesideError:
            continue
        lower = float(characteristic.lower) if characteristic.lower is not None else None
        upper = float(characteristic.upper) if characteristic.upper is not None else None
        if (drawn := chart_svg(view, lower, upper)) is not None:
            charts.append({"characteristic": characteristic.id, "unit": characteristic.unit, **drawn})
    return charts


def _images(evidence: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"uid": nc["image_uid"], "sha256": nc.get("image_sha256"), "characteristic": nc["characteristic"]}
            for nc in evidence["nonconformities"] if nc.get("image_uid")]


@router.get("/holds/{hold_uid}/images/{image_uid}")
def evidence_image(request: Request, hold_uid: str, image_uid: str, _: Reviewer) -> Response:
    """An evidence image of this hold's nonconformities, for the signer's screen (session, not token)."""
    evidence = worklist.hold_evidence(core_of(request), hold_uid)
    if image_uid not in {image["uid"] for image in _images(evidence)}:
        raise NotFoundError(f"hold {hold_uid} has no evidence image {image_uid[:64]!r}")
    service = get_vision(request)
    path, sha256 = service.images.path_of(service.core.store, image_uid)
    if not path.is_file():
        raise ConflictError(f"image {image_uid}: its file is missing from the image folder (retention or loss)")
    return FileResponse(path, media_type="image/png", headers={"X-Lineside-SHA256": sha256})


def _hold_response(request: Request, hold_uid: str, status_code: int = 200, **extra: Any) -> Response:
    core = core_of(request)
    evidence = worklist.hold_evidence(core, hold_uid)
    context = {"evidence": evidence, "charts": _charts(request, evidence), "images": _images(evidence),
               "decisions": DECISIONS,
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
