"""Lots: open one against the plan revision in force, and release it when its plan is complete and passed.

Owns the lot's life from opening to release (ISO 9001 8.5.2 identity, 8.6 release). Measurements are
`edge.measurements`; holds and dispositions are `edge.holds`. Must not speak SQL outside the store's Tx.
"""

from __future__ import annotations

import json
from typing import Any

from edge import auth, plans, switching
from edge.core import Core
from edge.errors import ConflictError, InvalidInputError, NotFoundError
from edge.labels import parse_label
from edge.store import Store, Tx, new_uid

OPEN_STATES = ("open", "on_hold", "accepted")  # measurements may still be recorded
MAX_QUANTITY = 10_000_000


def check_lot_number(lot_number: object) -> str:
    if not isinstance(lot_number, str) or not lot_number.strip():
        raise InvalidInputError("lot number is missing")
    text = lot_number.strip()
    if len(text) > 64:
        raise InvalidInputError(f"lot number {text[:20]!r}... is longer than 64 characters")
    if not text.isprintable():
        raise InvalidInputError(f"lot number {text!r} contains control or non-printable characters")
    return text


def _product_for_gtin(core: Core, gtin: str) -> str:
    for product in core.config.products:
        if product.gtin and product.gtin.zfill(14) == gtin.zfill(14):
            return product.id
    raise NotFoundError(f"no product in the configuration has GTIN {gtin}")


def _from_barcode(core: Core, barcode: str, product: str | None, lot: str | None,
                  quantity: int | None) -> tuple[str | None, str | None, int | None]:
    label = parse_label(barcode)
    if product is None and label.gtin:
        product = _product_for_gtin(core, label.gtin)
    return product, lot or label.lot, quantity or label.count


def _check_quantity(quantity: object) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidInputError(f"quantity must be a whole number, not {quantity!r}")
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidInputError(f"quantity must be between 1 and {MAX_QUANTITY}, not {quantity}")
    return quantity


def open_lot(core: Core, actor: auth.Actor, *, product: str | None = None, lot: str | None = None,
             quantity: int | None = None, supplier: str | None = None, barcode: str | None = None
             ) -> dict[str, Any]:
    if barcode:
        product, lot, quantity = _from_barcode(core, barcode, product, lot, quantity)
    if product is None:
        raise InvalidInputError("product is missing (give it, or a barcode whose GTIN names it)")
    lot_number = check_lot_number(lot)
    count = _check_quantity(quantity)
    force = plans.in_force(core.store, core.config, product)
    plan, switched = switching.lot_plans(core, product, supplier, force.plan.characteristics, count)
    record = {"uid": new_uid(), "lot_number": lot_number, "product": product, "plan_revision":
              force.plan.revision, "plan_hash": force.hash, "quantity": count, "supplier": supplier,
              "barcode": barcode, "station": actor.station, "status": "open", "sampling": json.dumps(plan),
              "opened_by": actor.name, "opened_at": None, "closed_at": None}

    def job(tx: Tx) -> None:
        if tx.one("SELECT 1 FROM lots WHERE lot_number = ?", (lot_number,)):
            raise ConflictError(f"lot {lot_number!r} is already open")
        record["opened_at"] = tx.at
        tx.add("lots", record, action="lot.opened", actor=actor.name, station=actor.station)
        switching.note_lot(tx, actor, record["uid"], switched)
        if actor.station:  # a lot opened at a station becomes the lot that station works on
            from edge.stations import assign

            assign(tx, actor, actor.station, record["uid"])

    core.store.write(job)
    return lot_view(core.store, lot_number)


def lot_row(store: Store, lot_number: str) -> dict[str, Any]:
    row = store.query_one("SELECT * FROM lots WHERE lot_number = ?", (check_lot_number(lot_number),))
    if row is None:
        raise NotFoundError(f"unknown lot {lot_number!r}")
    return row


def progress(store: Store, lot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per characteristic: the plan (n, Ac, Re), samples measured and nonconforming; superseded ones left out."""
    counts = {row["characteristic"]: row for row in store.query(
        "SELECT characteristic, COUNT(DISTINCT sample) AS measured, "
        "COUNT(DISTINCT CASE WHEN verdict = 'fail' THEN sample END) AS nonconforming FROM measurements m "
        "WHERE lot_uid = ? AND NOT EXISTS (SELECT 1 FROM measurements s WHERE s.supersedes = m.uid) "
        "GROUP BY characteristic", (lot["uid"],))}
    result = {}
    for characteristic, plan in json.loads(lot["sampling"]).items():
        row = counts.get(characteristic, {"measured": 0, "nonconforming": 0})
        result[characteristic] = {**plan, "measured": row["measured"], "nonconforming": row["nonconforming"]}
    return result


def lot_view(store: Store, lot_number: str) -> dict[str, Any]:
    lot = lot_row(store, lot_number)
    per_characteristic = progress(store, lot)
    view = {k: lot[k] for k in ("uid", "lot_number", "product", "plan_revision", "quantity", "supplier",
                                "status", "station", "opened_by", "opened_at", "closed_at")}
    view["sampling"] = per_characteristic
    view["sample_size"] = max((p["n"] for p in per_characteristic.values()), default=0)
    view["complete"] = all(p["measured"] >= p["n"] for p in per_characteristic.values())
    view["holds"] = store.query("SELECT uid, reason, status, opened_at, closed_at FROM holds "
                                     "WHERE lot_uid = ? ORDER BY opened_at", (lot["uid"],))
    return view


def release_lot(core: Core, actor: auth.Actor, lot_number: str, secret: str, meaning: str = "released"
                ) -> dict[str, Any]:
    """Release an accepted lot with a signature (ISO 9001 8.6); a held lot needs a disposition instead."""
    lot = lot_row(core.store, lot_number)
    auth.countersign(core.store, actor, secret, list(core.config.authority.release), "release a lot")

    def job(tx: Tx) -> None:
        status = tx.row("lots", lot["uid"])["status"]
        if status == "on_hold":
            raise ConflictError(f"lot {lot_number!r} is on hold: it is released only by a signed disposition")
        if status != "accepted":
            raise ConflictError(f"lot {lot_number!r} is {status}: only a lot whose plan is complete and passed "
                                "can be released")
        auth.add_signature(tx, actor, meaning, "lots", lot["uid"])
        tx.change("lots", lot["uid"], {"status": "released", "closed_at": tx.at}, action="lot.released",
                  actor=actor.name, station=actor.station)

    core.store.write(job)
    return lot_view(core.store, lot_number)
