"""Gauges in the store: registered from the configuration, with their calibration status at a reading.

Owns the interlock of ISO 9001 7.1.5: a reading from a gauge past its calibration due date is refused, or
(by configuration) accepted and flagged with the reason; never silently accepted. Must not record readings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from edge.auth import SYSTEM_ACTOR
from edge.config import Gauge, LineConfig
from edge.errors import CalibrationError, NotFoundError
from edge.store import Store, Tx


@dataclass(frozen=True, slots=True)
class GaugeCheck:
    gauge: str
    due: str
    flag: str | None  # why the reading is flagged, or None when the gauge is in calibration


def _record(gauge: Gauge, at: str) -> dict[str, Any]:
    return {"uid": gauge.id, "type": gauge.type, "resolution": str(gauge.resolution), "unit": gauge.unit,
            "calibration_due": gauge.calibration_due.isoformat(), "status": "in_service",
            "serial_number": gauge.serial_number, "updated_at": at}


def register(store: Store, config: LineConfig) -> int:
    """Add gauges new to the store and note changed ones; returns how many rows changed."""

    def job(tx: Tx) -> int:
        changed = 0
        for gauge in config.gauges:
            changed += _register_one(tx, gauge)
        return changed

    return store.write(job)


def _register_one(tx: Tx, gauge: Gauge) -> int:
    existing = tx.one("SELECT * FROM gauges WHERE uid = ?", (gauge.id,))
    record = _record(gauge, tx.at)
    if existing is None:
        tx.add("gauges", record, action="gauge.registered", actor=SYSTEM_ACTOR.name, station=None)
        return 1
    calibrated = tx.one("SELECT 1 FROM calibrations WHERE gauge = ?", (gauge.id,))
    keys = ("type", "resolution", "unit", "serial_number") + (() if calibrated else ("calibration_due",))
    changes = {k: record[k] for k in keys if existing[k] != record[k]}
    if not changes:
        return 0
    tx.change("gauges", gauge.id, {**changes, "updated_at": tx.at}, action="gauge.updated",
              actor=SYSTEM_ACTOR.name, station=None, reason="line configuration changed")
    return 1


def check(store: Store, config: LineConfig, gauge_id: str, today: dt.date) -> GaugeCheck:
    """The gauge's calibration status for a reading today; raises CalibrationError when it must be refused."""
    row = store.query_one("SELECT uid, calibration_due, status FROM gauges WHERE uid = ?", (gauge_id,))
    if row is None:
        raise NotFoundError(f"unknown gauge {gauge_id!r}")
    if row["status"] != "in_service":
        raise CalibrationError(f"gauge {gauge_id!r} is {row['status'].replace('_', ' ')}: readings refused")
    due = dt.date.fromisoformat(row["calibration_due"])
    if today <= due:
        return GaugeCheck(gauge_id, row["calibration_due"], None)
    reason = f"gauge {gauge_id!r} was due for calibration on {due.isoformat()}"
    if config.hold_rules.overdue_gauge == "refuse":
        raise CalibrationError(f"{reason}: reading refused")
    return GaugeCheck(gauge_id, row["calibration_due"], f"{reason}: accepted and flagged by configuration")
