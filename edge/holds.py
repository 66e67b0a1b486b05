"""Holds and their dispositions: the signed decision that ends a hold (ISO 9001 8.7).

Owns what each decision does: use-as-is releases the lot under concession, rework returns it to inspection,
scrap and return-to-supplier close it. The signer re-enters their secret and must hold the authority.
Must not speak SQL outside the store's Tx.
"""

from __future__ import annotations

from typing import Any

from edge import auth
from edge.core import Core
from edge.errors import ConflictError, InvalidInputError, NotFoundError
from edge.store import Tx, new_uid

# decision -> (lot status after, whether the lot is closed)
DECISIONS = {
    "use-as-is": ("released", True),
    "rework": ("open", False),
    "scrap": ("scrapped", True),
    "return-to-supplier": ("returned", True),
}


def list_holds(core: Core, status: str | None = None) -> list[dict[str, Any]]:
    sql = ("SELECT holds.*, lots.lot_number, lots.product, d.decision, d.reason AS disposition_reason, "
           "d.decided_at, s.signer, s.meaning FROM holds JOIN lots ON lots.uid = holds.lot_uid "
           "LEFT JOIN dispositions d ON d.hold_uid = holds.uid LEFT JOIN signatures s ON s.uid = d.signature_uid")
    if status:
        return core.store.query(sql + " WHERE holds.status = ? ORDER BY holds.opened_at", (status,))
    return core.store.query(sql + " ORDER BY holds.opened_at")


def list_nonconformities(core: Core, status: str | None = None) -> list[dict[str, Any]]:
    sql = ("SELECT nc.*, lots.lot_number, lots.product, vc.image_uid, vc.image_sha256 FROM nonconformities nc "
           "JOIN lots ON lots.uid = nc.lot_uid "
           "LEFT JOIN vision_checks vc ON vc.measurement_uid = nc.measurement_uid")  # a vision value's evidence
    if status:
        return core.store.query(sql + " WHERE nc.status = ? ORDER BY nc.opened_at", (status,))
    return core.store.query(sql + " ORDER BY nc.opened_at")


def _check_text(field: str, value: str | None, required: bool, limit: int = 1000) -> str | None:
    if value is None or not value.strip():
        if required:
            raise InvalidInputError(f"{field} is required")
        return None
    if len(value) > limit:
        raise InvalidInputError(f"{field} is longer than {limit} characters")
    return value.strip()


def disposition(core: Core, signer: auth.Actor, hold_uid: str, decision: str, reason: str, secret: str,
                meaning: str = "disposition approved", cause: str | None = None, action: str | None = None
                ) -> dict[str, Any]:
    if decision not in DECISIONS:
        raise InvalidInputError(f"unknown decision {decision!r}: choose one of {', '.join(DECISIONS)}")
    reason_text = _check_text("reason", reason, required=True)
    cause_text, action_text = _check_text("cause", cause, False), _check_text("action", action, False)
    if core.store.query_one("SELECT 1 FROM holds WHERE uid = ?", (hold_uid,)) is None:
        raise NotFoundError(f"unknown hold {hold_uid!r}")
    auth.countersign(core.store, signer, secret, list(core.config.authority.disposition), "sign a disposition")

    def job(tx: Tx) -> dict[str, Any]:
        hold = tx.row("holds", hold_uid)
        if hold["status"] != "open":
            raise ConflictError(f"hold {hold_uid} is already closed (at {hold['closed_at']}): "
                                "a hold takes one disposition")
        uid = new_uid()
        signature = auth.add_signature(tx, signer, meaning, "dispositions", uid)
        record = {"uid": uid, "hold_uid": hold_uid, "lot_uid": hold["lot_uid"], "decision": decision,
                  "reason": reason_text, "signature_uid": signature, "decided_at": tx.at}
        tx.add("dispositions", record, action="disposition.signed", actor=signer.name, station=signer.station,
               reason=reason_text)
        _apply(tx, signer, hold, decision, reason_text, cause_text, action_text)
        return record

    return core.store.write(job)


def _apply(tx: Tx, signer: auth.Actor, hold: dict[str, Any], decision: str, reason: str | None,
           cause: str | None, action: str | None) -> None:
    who = {"actor": signer.name, "station": signer.station, "reason": reason}
    tx.change("holds", hold["uid"], {"status": "closed", "closed_at": tx.at}, action="hold.closed", **who)
    for nc in tx.all("SELECT uid FROM nonconformities WHERE lot_uid = ? AND status = 'open'", (hold["lot_uid"],)):
        tx.change("nonconformities", nc["uid"], {"status": "dispositioned", "closed_at": tx.at, "cause": cause,
                                                 "action": action}, action="nonconformity.dispositioned", **who)
    status, closed = DECISIONS[decision]
    tx.change("lots", hold["lot_uid"], {"status": status, "closed_at": tx.at if closed else None},
              action=f"lot.{decision}", **who)


def note_tag_printed(core: Core, actor: auth.Actor, hold_uid: str, printer: str) -> None:
    """An audit event for a hold tag sent to a label printer (the tag is no record: it names no row)."""
    core.store.write(lambda tx: tx.audit(actor=actor.name, station=actor.station, action="hold.tag_printed",
                                         entity_type="hold_tags", entity_uid=hold_uid, before=None, after=None,
                                         reason=f"sent to label printer {printer}", record_hash=None))
