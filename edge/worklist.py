"""What the people at the line read: a station's active lot, the next characteristic to measure with its
limits, the holds queue, a hold's evidence (values against limits, gauge and calibration, who and when) and
the lots awaiting release. Read-only views assembled for screens; decisions stay with the services.
"""

from __future__ import annotations

from typing import Any

from edge import lots, plans
from edge.config import Characteristic, Plan
from edge.core import Core
from edge.errors import ConflictError, NotFoundError

LIVE_STATES = ("open", "on_hold", "accepted")


def active_lot(core: Core, station: str | None) -> str | None:
    """The latest lot opened at `station` that is still open, held or awaiting release."""
    row = core.store.query_one(
        f"SELECT lot_number FROM lots WHERE station IS ? AND status IN ({','.join('?' * len(LIVE_STATES))}) "
        "ORDER BY opened_at DESC LIMIT 1", (station, *LIVE_STATES))
    return row["lot_number"] if row else None


def _plan(core: Core, lot: dict[str, Any]) -> Plan | None:
    product = core.config.product(lot["product"])
    return product.plan(lot["plan_revision"]) if product else None


def limits_text(characteristic: Characteristic) -> str:
    if characteristic.method == "attribute":
        return "pass / fail"
    low = characteristic.lower if characteristic.lower is not None else "−∞"
    high = characteristic.upper if characteristic.upper is not None else "+∞"
    return f"{low} … {high} {characteristic.unit or ''}".strip()


def _characteristic_view(characteristic: Characteristic, progress: dict[str, Any]) -> dict[str, Any]:
    return {"id": characteristic.id, "name": characteristic.name or characteristic.id,
            "method": characteristic.method, "nominal": characteristic.nominal, "lower": characteristic.lower,
            "upper": characteristic.upper, "unit": characteristic.unit, "resolution": characteristic.resolution,
            "gauge": characteristic.gauge, "device": characteristic.device, "limits": limits_text(characteristic),
            "criticality": characteristic.criticality, **progress,
            "done": progress["measured"] >= progress["n"]}


def lot_work(core: Core, lot_number: str) -> dict[str, Any]:
    """The lot with its plan's characteristics in order, the next one to measure, and its latest values."""
    view = lots.lot_view(core.store, lot_number)
    plan = _plan(core, lots.lot_row(core.store, lot_number))
    characteristics = [_characteristic_view(c, view["sampling"][c.id]) for c in (plan.characteristics if plan
                                                                                 else []) if c.id in view["sampling"]]
    recent = core.store.query(
        "SELECT uid, characteristic, sample, value, unit, verdict, gauge, flag, actor, station, recorded_at "
        "FROM measurements WHERE lot_uid = ? ORDER BY seq DESC LIMIT 8", (view["uid"],))
    upcoming = next((c for c in characteristics if not c["done"]), None)
    if upcoming and upcoming["gauge"]:
        upcoming["gauge_status"] = _gauge(core, upcoming["gauge"])
    return {"lot": view, "characteristics": characteristics, "next": upcoming, "recent": recent,
            "measured": sum(c["measured"] for c in characteristics),
            "required": sum(c["n"] for c in characteristics)}


def holds_queue(core: Core, limit_closed: int = 20) -> dict[str, list[dict[str, Any]]]:
    base = ("SELECT holds.*, lots.lot_number, lots.product, lots.quantity, lots.station, "
            "(SELECT COUNT(*) FROM nonconformities nc WHERE nc.lot_uid = holds.lot_uid) AS nonconformities "
            "FROM holds JOIN lots ON lots.uid = holds.lot_uid ")
    return {"open": core.store.query(base + "WHERE holds.status = 'open' ORDER BY holds.opened_at"),
            "closed": core.store.query(
                "SELECT holds.*, lots.lot_number, lots.product, d.decision, s.signer, s.meaning, d.decided_at "
                "FROM holds JOIN lots ON lots.uid = holds.lot_uid LEFT JOIN dispositions d ON d.hold_uid = "
                "holds.uid LEFT JOIN signatures s ON s.uid = d.signature_uid WHERE holds.status != 'open' "
                "ORDER BY holds.closed_at DESC LIMIT ?", (limit_closed,))}


def awaiting_release(core: Core) -> list[dict[str, Any]]:
    return core.store.query("SELECT lot_number, product, plan_revision, quantity, station, opened_by, opened_at "
                            "FROM lots WHERE status = 'accepted' ORDER BY opened_at")


def hold_evidence(core: Core, hold_uid: str) -> dict[str, Any]:
    """A hold with everything a signer must see: the values against limits, each gauge and its calibration."""
    hold = core.store.query_one("SELECT * FROM holds WHERE uid = ?", (hold_uid,))
    if hold is None:
        raise NotFoundError(f"unknown hold {hold_uid!r}")
    lot = core.store.query_one("SELECT * FROM lots WHERE uid = ?", (hold["lot_uid"],))
    assert lot is not None  # a hold always names its lot (foreign key by construction)
    plan = _plan(core, lot)
    limits = {c.id: limits_text(c) for c in (plan.characteristics if plan else [])}
    measurements = core.store.query(
        "SELECT m.*, EXISTS (SELECT 1 FROM measurements s WHERE s.supersedes = m.uid) AS superseded "
        "FROM measurements m WHERE lot_uid = ? ORDER BY seq", (lot["uid"],))
    for measurement in measurements:
        measurement["limits"] = limits.get(measurement["characteristic"], "")
    gauge_ids = sorted({m["gauge"] for m in measurements if m["gauge"]})
    return {"hold": hold, "lot": lot, "measurements": measurements, "limits": limits,
            "nonconformities": core.store.query(
                "SELECT nc.*, vc.image_uid, vc.image_sha256 FROM nonconformities nc LEFT JOIN vision_checks vc "
                "ON vc.measurement_uid = nc.measurement_uid WHERE nc.lot_uid = ? ORDER BY nc.opened_at",
                (lot["uid"],)),
            "gauges": [_gauge(core, gauge_id) for gauge_id in gauge_ids],
            "disposition": core.store.query_one(
                "SELECT d.*, s.signer, s.role, s.meaning, s.signed_at FROM dispositions d JOIN signatures s "
                "ON s.uid = d.signature_uid WHERE d.hold_uid = ?", (hold_uid,))}


def _gauge(core: Core, gauge_id: str) -> dict[str, Any]:
    gauge = core.store.query_one("SELECT * FROM gauges WHERE uid = ?", (gauge_id,)) or {"uid": gauge_id}
    gauge["calibrations"] = core.store.query(
        "SELECT calibrated_at, due, result, certificate, actor FROM calibrations WHERE gauge = ? "
        "ORDER BY calibrated_at DESC LIMIT 3", (gauge_id,))
    due = gauge.get("calibration_due")
    gauge["overdue"] = due is not None and core.today().isoformat() > due
    gauge["usable"] = gauge.get("status") == "in_service" and not (
        gauge["overdue"] and core.config.hold_rules.overdue_gauge == "refuse")
    return gauge


# -- the admin's screens: read-only views of gauges, plan revisions and users ----------------------------------


def gauges_due(core: Core) -> list[dict[str, Any]]:
    """Every gauge with its latest calibration, soonest due first; `overdue` when its due date has passed."""
    today = core.today().isoformat()
    gauges = core.store.query(
        "SELECT g.*, c.calibrated_at AS last_calibrated_at, c.result AS last_result, c.certificate AS "
        "last_certificate FROM gauges g LEFT JOIN calibrations c ON c.uid = (SELECT uid FROM calibrations WHERE "
        "gauge = g.uid ORDER BY recorded_at DESC LIMIT 1) ORDER BY g.calibration_due, g.uid")
    for gauge in gauges:
        gauge["overdue"] = gauge["calibration_due"] is not None and today > gauge["calibration_due"]
    return gauges


def plan_revisions(core: Core) -> list[dict[str, Any]]:
    """Each product with its configured plan revisions, the one in force, and the signed approvals."""
    found = []
    for product in core.config.products:
        try:
            in_force: str | None = plans.in_force(core.store, core.config, product.id).plan.revision
        except ConflictError:
            in_force = None
        approvals = core.store.query(
            "SELECT a.revision, a.plan_hash, a.approved_at, s.signer, s.role, s.meaning FROM plan_approvals a "
            "JOIN signatures s ON s.uid = a.signature_uid WHERE a.product = ? ORDER BY a.approved_at DESC",
            (product.id,))
        found.append({"product": product.id, "name": product.name, "in_force": in_force, "approvals": approvals,
                      "revisions": [{"revision": p.revision, "characteristics": len(p.characteristics),
                                     "hash": plans.plan_hash(p)} for p in product.plans]})
    return found


def users(core: Core) -> list[dict[str, Any]]:
    """The users, never their secret hashes."""
    return core.store.query("SELECT name, role, badge, active, created_at FROM users ORDER BY active DESC, role, name")
