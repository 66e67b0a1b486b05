"""In-process sampling schedules: when a characteristic's next sample is due at a station, and the reason
recorded when one is missed.

Owns the due and overdue states of each scheduled characteristic of the station's active lot. Three triggers:
`every_minutes` (since the last sample, or missed sample, of the characteristic at the station; for the first,
since the lot opened), `every_parts` (parts are counted by the highest sample number recorded at the station in
its active lot, so a characteristic inspected on every part, such as a PLC-triggered one, is the part counter),
and `first_off` (after each set-up or tool change recorded at the station: due at once, overdue once the station
records any other value before the first-off sample). A time or parts trigger is overdue once its interval is
exceeded by `grace` of itself. A missed sample is recorded with its reason code and restarts the triggers that
were due. Must not speak SQL outside the store's Tx and queries.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from edge import auth, stations
from edge.config import Characteristic, SampleSchedule
from edge.core import Core
from edge.errors import ConflictError, InvalidInputError, NotFoundError
from edge.fields import checked_code
from edge.store import Store, Tx, new_uid

STATES = ("ok", "due", "overdue")  # worst last
SETUP_KINDS = ("setup", "tool_change")


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _worst(states: list[str]) -> str:
    return max(states, key=STATES.index, default="ok")


def _value(store: Store, sql: str, params: tuple[Any, ...]) -> Any:
    row = store.query_one(sql, params)
    return next(iter(row.values())) if row else None


def station_schedule(core: Core, station: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """The schedule of the station's active lot: each scheduled characteristic's triggers and state."""
    stations.check_station(core, station)
    moment = now or dt.datetime.now(dt.UTC)
    lot = stations.active_lot(core, station)
    if lot is None:
        return {"station": station, "lot": None, "parts": 0, "state": "ok", "characteristics": []}
    parts = int(_value(core.store, "SELECT MAX(sample) FROM measurements WHERE lot_uid = ? AND station = ?",
                       (lot["uid"], station)) or 0)
    items = [_item(core.store, station, lot, c, c.schedule, parts, moment) for c in _scheduled(core, lot)]
    return {"station": station, "lot": lot["lot_number"], "parts": parts, "at": _text(moment),
            "state": _worst([i["state"] for i in items]), "characteristics": items}


def _scheduled(core: Core, lot: dict[str, Any]) -> list[Characteristic]:
    product = core.config.product(lot["product"])
    plan = product.plan(lot["plan_revision"]) if product else None
    return [c for c in plan.characteristics if c.schedule is not None] if plan else []


def _item(store: Store, station: str, lot: dict[str, Any], characteristic: Characteristic,
          schedule: SampleSchedule | None, parts: int, now: dt.datetime) -> dict[str, Any]:
    assert schedule is not None
    triggers = []
    if schedule.every_minutes is not None:
        triggers.append(_by_time(store, station, lot, characteristic.id, schedule, now))
    if schedule.every_parts is not None:
        triggers.append(_by_parts(store, station, lot, characteristic.id, schedule, parts))
    if schedule.first_off:
        triggers.append(_first_off(store, station, characteristic.id))
    return {"characteristic": characteristic.id, "name": characteristic.name,
            "state": _worst([t["state"] for t in triggers]), "triggers": triggers}


def _by_time(store: Store, station: str, lot: dict[str, Any], characteristic: str, schedule: SampleSchedule,
             now: dt.datetime) -> dict[str, Any]:
    last = _value(store, "SELECT MAX(at) FROM (SELECT MAX(recorded_at) AS at FROM measurements WHERE station = ? AND "
                  "characteristic = ? UNION ALL SELECT MAX(recorded_at) FROM sample_misses WHERE station = ? AND "
                  "characteristic = ?)", (station, characteristic, station, characteristic))
    interval = dt.timedelta(minutes=schedule.every_minutes or 0)
    due_at = _time(last or lot["opened_at"]) + interval
    overdue_at = due_at + interval * schedule.grace
    state = "overdue" if now >= overdue_at else "due" if now >= due_at else "ok"
    return {"trigger": "time", "state": state, "every_minutes": schedule.every_minutes, "last_at": last,
            "due_at": _text(due_at), "overdue_at": _text(overdue_at)}


def _by_parts(store: Store, station: str, lot: dict[str, Any], characteristic: str, schedule: SampleSchedule,
              parts: int) -> dict[str, Any]:
    last_seq = _value(store, "SELECT MAX(seq) FROM measurements WHERE lot_uid = ? AND station = ? AND "
                      "characteristic = ?", (lot["uid"], station, characteristic))
    sampled_at = _value(store, "SELECT MAX(sample) FROM measurements WHERE lot_uid = ? AND station = ? AND seq <= ?",
                        (lot["uid"], station, last_seq)) if last_seq is not None else None
    missed_at = _value(store, "SELECT MAX(at_part) FROM sample_misses WHERE lot_uid = ? AND station = ? AND "
                       "characteristic = ?", (lot["uid"], station, characteristic))
    since = parts - max(int(sampled_at or 0), int(missed_at or 0))
    every = schedule.every_parts or 0
    state = "overdue" if since >= every * (1 + schedule.grace) else "due" if since >= every else "ok"
    return {"trigger": "parts", "state": state, "every_parts": every, "parts_since": since}


def _first_off(store: Store, station: str, characteristic: str) -> dict[str, Any]:
    setup = store.query_one("SELECT * FROM station_events WHERE station = ? ORDER BY at DESC, rowid DESC LIMIT 1",
                            (station,))
    if setup is None:
        return {"trigger": "first_off", "state": "ok", "since": None, "kind": None}
    done = _value(store, "SELECT COUNT(*) FROM (SELECT 1 FROM measurements WHERE station = ? AND characteristic = ? "
                  "AND recorded_at >= ? UNION ALL SELECT 1 FROM sample_misses WHERE station = ? AND characteristic = ? "
                  "AND recorded_at >= ?)", (station, characteristic, setup["at"], station, characteristic, setup["at"]))
    others = _value(store, "SELECT COUNT(*) FROM measurements WHERE station = ? AND recorded_at >= ?",
                    (station, setup["at"]))
    state = "ok" if done else ("overdue" if others else "due")
    return {"trigger": "first_off", "state": state, "since": setup["at"], "kind": setup["kind"]}


def record_setup(core: Core, actor: auth.Actor, station: str, kind: str, note: str | None = None) -> dict[str, Any]:
    """A set-up or tool change at the station: first-off samples become due."""
    stations.check_station(core, station)
    if kind not in SETUP_KINDS:
        raise InvalidInputError(f"kind must be one of {', '.join(SETUP_KINDS)}, not {str(kind)[:20]!r}")
    record = {"uid": new_uid(), "station": station, "kind": kind, "note": checked_code("note", note, False, 500),
              "actor": actor.name, "at": None}

    def job(tx: Tx) -> dict[str, Any]:
        record["at"] = tx.at
        tx.add("station_events", record, action=f"station.{kind}", actor=actor.name, station=actor.station,
               reason=record["note"])
        return record

    return core.store.write(job)


def record_miss(core: Core, actor: auth.Actor, station: str, characteristic: str, reason: str,
                now: dt.datetime | None = None) -> dict[str, Any]:
    """Record why a due sample was not taken; the triggers that were due start again from now."""
    code = checked_code("reason", reason, True)
    schedule = station_schedule(core, station, now)
    item = next((i for i in schedule["characteristics"] if i["characteristic"] == characteristic), None)
    if item is None:
        raise NotFoundError(f"characteristic {characteristic[:64]!r} has no sampling schedule at station {station} "
                            "(or the station has no active lot)")
    due = [t["trigger"] for t in item["triggers"] if t["state"] != "ok"]
    if not due:
        raise ConflictError(f"no sample of {characteristic} is due at {station}: nothing was missed")
    lot_uid = stations.active_lot(core, station)["uid"]  # type: ignore[index]
    record = {"uid": new_uid(), "station": station, "lot_uid": lot_uid, "characteristic": characteristic,
              "triggers": json.dumps(due), "reason": code, "at_part": schedule["parts"], "actor": actor.name,
              "recorded_at": None}

    def job(tx: Tx) -> dict[str, Any]:
        record["recorded_at"] = tx.at
        tx.add("sample_misses", record, action="sample.missed", actor=actor.name, station=actor.station,
               reason=code)
        return record

    return core.store.write(job)
