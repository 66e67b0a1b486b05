"""Backward and forward trace of a lot (ISO 9001 8.5.2): every measurement, vision check and its image,
gauge, operator, hold, disposition and signature, and the audit events that record them. Read-only.
"""

from __future__ import annotations

from typing import Any

from edge.lots import lot_row
from edge.store import Store


def trace_lot(store: Store, lot_number: str) -> dict[str, Any]:
    lot = lot_row(store, lot_number)
    uid = lot["uid"]
    query = store.query
    measurements = query("SELECT * FROM measurements WHERE lot_uid = ? ORDER BY seq", (uid,))
    gauge_ids = sorted({m["gauge"] for m in measurements if m["gauge"]})
    marks = ",".join("?" * len(gauge_ids))
    holds = query("SELECT * FROM holds WHERE lot_uid = ? ORDER BY rowid", (uid,))  # recording order: clocks step
    dispositions = query("SELECT d.*, s.signer, s.role, s.meaning, s.signed_at FROM dispositions d "
                         "JOIN signatures s ON s.uid = d.signature_uid WHERE d.lot_uid = ?", (uid,))
    checks = query("SELECT c.*, i.path AS image_path, i.deleted_at AS image_deleted_at FROM vision_checks c "
                   "LEFT JOIN images i ON i.uid = c.image_uid WHERE c.lot_uid = ? ORDER BY c.checked_at, c.rowid",
                   (uid,))
    entity_uids = [uid, *(m["uid"] for m in measurements), *(h["uid"] for h in holds),
                   *(d["uid"] for d in dispositions), *(c["uid"] for c in checks),
                   *(c["image_uid"] for c in checks if c["image_uid"])]
    return {
        "lot": lot,
        "measurements": measurements,
        "nonconformities": query("SELECT * FROM nonconformities WHERE lot_uid = ? ORDER BY rowid", (uid,)),
        "holds": holds,
        "dispositions": dispositions,
        "vision_checks": checks,  # every check with its image (sha256, path), no-results included
        "gauges": query(f"SELECT * FROM gauges WHERE uid IN ({marks})", tuple(gauge_ids)) if gauge_ids else [],
        "operators": sorted({m["actor"] for m in measurements if m["actor"]}),
        "stations": sorted({m["station"] for m in measurements if m["station"]}),
        "audit_events": _events(store, entity_uids),
    }


def _events(store: Store, entity_uids: list[str]) -> list[dict[str, Any]]:
    events = []
    for start in range(0, len(entity_uids), 500):
        chunk = entity_uids[start:start + 500]
        events += store.query(
            f"SELECT seq, at, actor, station, action, entity_type, entity_uid, reason, hash FROM audit_events "
            f"WHERE entity_uid IN ({','.join('?' * len(chunk))})", tuple(chunk))
    return sorted(events, key=lambda e: e["seq"])
