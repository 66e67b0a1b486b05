"""Stations and the lot each one is working on: where a device's readings or an operator's entries go.

Owns the assignment of a lot to a station (an append-only log; the latest assignment of an open lot is the
station's active lot). Must not record measurements.
"""

from __future__ import annotations

from typing import Any

from edge import auth
from edge.core import Core
from edge.errors import ConflictError, NotFoundError
from edge.lots import OPEN_STATES, lot_row
from edge.store import Tx, new_uid


def check_station(core: Core, station: str) -> None:
    if station not in {s.id for s in core.config.stations}:
        known = ", ".join(s.id for s in core.config.stations)
        raise NotFoundError(f"unknown station {station[:64]!r} (known: {known})")


def assign(tx: Tx, actor: auth.Actor, station: str, lot_uid: str) -> None:
    """Make `lot_uid` the station's active lot, inside the caller's transaction."""
    tx.add("station_lots", {"uid": new_uid(), "station": station, "lot_uid": lot_uid, "assigned_by": actor.name,
                            "assigned_at": tx.at}, action="station.lot_assigned", actor=actor.name,
           station=actor.station, sync=False)


def set_active_lot(core: Core, actor: auth.Actor, station: str, lot_number: str) -> dict[str, Any]:
    check_station(core, station)
    lot = lot_row(core.store, lot_number)
    if lot["status"] not in OPEN_STATES:
        raise ConflictError(f"lot {lot_number!r} is {lot['status']}: it cannot be a station's active lot")
    core.store.write(lambda tx: assign(tx, actor, station, lot["uid"]))
    return {"station": station, "lot": lot_number}


def active_lot(core: Core, station: str) -> dict[str, Any] | None:
    """The lot the station works on now, or None when its last lot is closed or it never had one."""
    check_station(core, station)
    row = core.store.query_one(
        "SELECT lots.* FROM station_lots JOIN lots ON lots.uid = station_lots.lot_uid WHERE station_lots.station = ? "
        "ORDER BY station_lots.assigned_at DESC, station_lots.rowid DESC LIMIT 1", (station,))
    return row if row is not None and row["status"] in OPEN_STATES else None
