"""Calibration of gauges (ISO 9001 7.1.5): the records, the due date they move, and the lots a failure casts doubt on.

Owns what a calibration result does. A pass moves the gauge's due date and (re)turns it to service; a fail takes
it out of service and names every lot measured with it since its last passed calibration (or, lacking one,
since it was registered): the suspect lots. One signed action then puts them all on hold in one transaction,
each hold's reason naming the gauge and the calibration. Must not speak SQL outside the store's Tx and queries.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from edge import auth
from edge.core import Core
from edge.errors import AuthorityError, ConflictError, InvalidInputError, NotFoundError
from edge.store import Store, Tx, new_uid

RESULTS = ("pass", "fail")
HOLDABLE = ("open", "accepted", "released")  # on_hold lots keep the hold they have; scrapped or returned are gone
Query = Callable[[str, tuple[Any, ...]], list[dict[str, Any]]]


def _moment(raw: str | dt.date | dt.datetime, field: str) -> tuple[str, dt.date]:
    """UTC text as the store writes it (a date stays a date) and the calendar date, from an ISO date or time."""
    if isinstance(raw, str):
        try:
            if len(raw.strip()) == 10 and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw, re.ASCII):
                raise ValueError("not YYYY-MM-DD")  # Python's reader takes "2026102611" as 2026-10-26
            raw = dt.date.fromisoformat(raw) if len(raw.strip()) == 10 else dt.datetime.fromisoformat(raw.strip())
        except ValueError:
            raise InvalidInputError(f"{field} must be an ISO date or date-time, not {raw[:40]!r}") from None
    if isinstance(raw, dt.datetime):
        if raw.tzinfo is None:
            raise InvalidInputError(f"{field} needs its UTC offset (for example 2026-11-02T09:30:00Z)")
        try:
            utc = raw.astimezone(dt.UTC)
        except OverflowError:  # 0001-01-01T00:30+01:00 falls before year 1 once in UTC
            raise InvalidInputError(f"{field} {raw.isoformat()} is out of range once in UTC") from None
        return utc.isoformat(timespec="microseconds").replace("+00:00", "Z"), utc.date()
    return raw.isoformat(), raw


def _certificate(certificate: str | None) -> str | None:
    if certificate is None or not certificate.strip():
        return None
    if len(certificate) > 200 or not certificate.isprintable():
        raise InvalidInputError("certificate must be printable text of at most 200 characters")
    return certificate.strip()


def _gauge_row(query: Query, gauge_id: str) -> dict[str, Any]:
    rows = query("SELECT * FROM gauges WHERE uid = ?", (gauge_id,))
    if not rows:
        raise NotFoundError(f"unknown gauge {gauge_id[:64]!r}")
    return rows[0]


def record_calibration(core: Core, actor: auth.Actor, gauge_id: str, *, result: str,
                       calibrated_at: str | dt.date | dt.datetime, due: str | dt.date | None = None,
                       certificate: str | None = None) -> dict[str, Any]:
    """Record a calibration; a failed one answers with the suspect lots (see `suspect_lots`)."""
    allowed = list(core.config.authority.calibrate)
    if actor.role not in allowed:
        raise AuthorityError(f"{actor.name} ({actor.role}) may not record a calibration: only "
                             f"{', '.join(allowed)} may")
    if result not in RESULTS:
        raise InvalidInputError(f"result must be pass or fail, not {str(result)[:20]!r}")
    at_text, at_date = _moment(calibrated_at, "calibrated_at")
    if at_date > core.today():
        raise InvalidInputError(f"calibrated_at {at_text} is in the future")
    due_text = _due(result, due, at_date)
    record = {"uid": new_uid(), "gauge": gauge_id, "calibrated_at": at_text, "due": due_text, "result": result,
              "certificate": _certificate(certificate), "actor": actor.name, "recorded_at": None}

    def job(tx: Tx) -> dict[str, Any]:
        _gauge_row(tx.all, gauge_id)
        since = _since(tx.all, gauge_id)  # the last pass before this one: what a failure puts in doubt
        record["recorded_at"] = tx.at
        tx.add("calibrations", record, action=f"calibration.{'passed' if result == 'pass' else 'failed'}",
               actor=actor.name, station=actor.station, reason=record["certificate"])
        gauge = _apply(tx, actor, record)
        lots = _suspects(tx.all, gauge_id, since) if result == "fail" else []
        return {"calibration": record, "gauge": gauge, "since": since, "suspect_lots": lots}

    return core.store.write(job)


def _due(result: str, due: str | dt.date | None, at_date: dt.date) -> str | None:
    if result == "fail":
        if due is not None:
            raise InvalidInputError("a failed calibration sets no due date: the gauge goes out of service")
        return None
    if due is None:
        raise InvalidInputError("a passed calibration needs the next due date")
    due_date = due if isinstance(due, dt.date) else _moment(due, "due")[1]
    if due_date <= at_date:
        raise InvalidInputError(f"the next due date {due_date} must be after the calibration ({at_date})")
    return due_date.isoformat()


def _apply(tx: Tx, actor: auth.Actor, record: dict[str, Any]) -> dict[str, Any]:
    about = f"calibration {record['uid']} on {record['calibrated_at']}" + (
        f" (certificate {record['certificate']})" if record["certificate"] else "")
    if record["result"] == "pass":
        changes = {"calibration_due": record["due"], "status": "in_service", "updated_at": tx.at}
        return tx.change("gauges", record["gauge"], changes, action="gauge.calibrated", actor=actor.name,
                         station=actor.station, reason=f"{about} passed; next due {record['due']}")
    return tx.change("gauges", record["gauge"], {"status": "out_of_service", "updated_at": tx.at},
                     action="gauge.out_of_service", actor=actor.name, station=actor.station,
                     reason=f"{about} failed: readings refused until a passed calibration")


def _since(query: Query, gauge_id: str) -> str | None:
    """When the gauge was last known good: its last passed calibration; None means since it was registered."""
    rows = query("SELECT calibrated_at FROM calibrations WHERE gauge = ? AND result = 'pass' "
                 "ORDER BY calibrated_at DESC, recorded_at DESC LIMIT 1", (gauge_id,))
    return str(rows[0]["calibrated_at"]) if rows else None


def _suspects(query: Query, gauge_id: str, since: str | None) -> list[dict[str, Any]]:
    # A calibration dated by day counts the whole of that day as suspect: the doubt falls on the lots' side.
    return query(
        "SELECT lots.uid, lots.lot_number, lots.product, lots.supplier, lots.status, COUNT(m.seq) AS measurements, "
        "MIN(m.recorded_at) AS first_measured_at, MAX(m.recorded_at) AS last_measured_at FROM measurements m "
        "JOIN lots ON lots.uid = m.lot_uid WHERE m.gauge = ? AND m.recorded_at >= ? GROUP BY lots.uid "
        "ORDER BY first_measured_at, lots.lot_number", (gauge_id, since or ""))


def _failed_calibration(query: Query, gauge_id: str) -> dict[str, Any]:
    rows = query("SELECT * FROM calibrations WHERE gauge = ? ORDER BY recorded_at DESC LIMIT 1", (gauge_id,))
    if not rows or rows[0]["result"] != "fail":
        raise ConflictError(f"gauge {gauge_id!r} is not out of calibration: its latest calibration "
                            f"{'passed' if rows else 'is none'}, so no lot is suspect")
    return rows[0]


def _earlier_pass(query: Query, gauge_id: str, failed: dict[str, Any]) -> str | None:
    rows = query("SELECT calibrated_at FROM calibrations WHERE gauge = ? AND result = 'pass' AND recorded_at < ? "
                 "ORDER BY calibrated_at DESC, recorded_at DESC LIMIT 1", (gauge_id, failed["recorded_at"]))
    return str(rows[0]["calibrated_at"]) if rows else None


def suspect_lots(store: Store, gauge_id: str) -> dict[str, Any]:
    """The lots in doubt after the gauge's latest (failed) calibration, and since when."""
    _gauge_row(store.query, gauge_id)
    failed = _failed_calibration(store.query, gauge_id)
    since = _earlier_pass(store.query, gauge_id, failed)
    return {"gauge": gauge_id, "calibration": failed, "since": since,
            "lots": _suspects(store.query, gauge_id, since)}


def hold_suspect_lots(core: Core, signer: auth.Actor, gauge_id: str, secret: str,
                      meaning: str = "suspect lots held") -> dict[str, Any]:
    """Put every suspect lot on hold in one transaction, under the signer's re-authenticated signature."""
    _gauge_row(core.store.query, gauge_id)
    auth.countersign(core.store, signer, secret, list(core.config.authority.disposition),
                     "hold the lots measured with an out-of-calibration gauge")

    def job(tx: Tx) -> dict[str, Any]:
        failed = _failed_calibration(tx.all, gauge_id)
        since = _earlier_pass(tx.all, gauge_id, failed)
        lots = _suspects(tx.all, gauge_id, since)
        signature = auth.add_signature(tx, signer, meaning, "calibrations", failed["uid"])
        reason = _hold_reason(gauge_id, failed, since)
        held = [_hold(tx, signer, lot, reason) for lot in lots if lot["status"] in HOLDABLE]
        skipped = [{"lot_number": lot["lot_number"], "status": lot["status"]} for lot in lots
                   if lot["status"] not in HOLDABLE]
        return {"gauge": gauge_id, "calibration": failed["uid"], "signature": signature, "reason": reason,
                "held": held, "skipped": skipped}

    return core.store.write(job)


def _hold_reason(gauge_id: str, failed: dict[str, Any], since: str | None) -> str:
    certificate = f", certificate {failed['certificate']}" if failed["certificate"] else ""
    return (f"gauge {gauge_id} failed calibration {failed['uid']} on {failed['calibrated_at']}{certificate}: "
            f"lot measured with it since {since or 'its registration'}")


def _hold(tx: Tx, signer: auth.Actor, lot: dict[str, Any], reason: str) -> dict[str, Any]:
    who = {"actor": signer.name, "station": signer.station, "reason": reason}
    hold = {"uid": new_uid(), "lot_uid": lot["uid"], "reason": reason, "status": "open", "opened_by": signer.name,
            "opened_at": tx.at, "closed_at": None}
    tx.add("holds", hold, action="hold.placed", **who)
    tx.change("lots", lot["uid"], {"status": "on_hold", "closed_at": None}, action="lot.held", **who)
    return {"lot_number": lot["lot_number"], "hold": hold["uid"], "was": lot["status"]}


def list_gauges(store: Store, today: dt.date) -> list[dict[str, Any]]:
    """Gauges with their last calibration and whether they may be read today."""
    gauges = store.query("SELECT g.*, (SELECT c.uid FROM calibrations c WHERE c.gauge = g.uid ORDER BY "
                         "c.recorded_at DESC LIMIT 1) AS last_calibration FROM gauges g ORDER BY g.uid")
    for gauge in gauges:
        overdue = dt.date.fromisoformat(gauge["calibration_due"]) < today
        gauge["calibration_state"] = "out_of_service" if gauge["status"] != "in_service" else (
            "overdue" if overdue else "in_calibration")
    return gauges


def trace_gauge(store: Store, gauge_id: str) -> dict[str, Any]:
    """Forward trace of a gauge: its calibrations and every lot measured with it, with the audit events."""
    gauge = _gauge_row(store.query, gauge_id)
    calibrations = store.query("SELECT * FROM calibrations WHERE gauge = ? ORDER BY recorded_at", (gauge_id,))
    lots = _suspects(store.query, gauge_id, None)
    holds = store.query("SELECT holds.*, lots.lot_number FROM holds JOIN lots ON lots.uid = holds.lot_uid "
                        "WHERE holds.reason LIKE ? ORDER BY holds.opened_at", (f"gauge {gauge_id} %",))
    uids = [gauge_id, *(c["uid"] for c in calibrations)]
    events = store.query(
        f"SELECT seq, at, actor, station, action, entity_type, entity_uid, reason, hash FROM audit_events "
        f"WHERE entity_uid IN ({','.join('?' * len(uids))}) ORDER BY seq", tuple(uids))
    return {"gauge": gauge, "calibrations": calibrations, "lots": lots, "holds": holds,
            "operators": [r["actor"] for r in store.query(
                "SELECT DISTINCT actor FROM measurements WHERE gauge = ? AND actor IS NOT NULL ORDER BY actor",
                (gauge_id,))],
            "audit_events": events}
