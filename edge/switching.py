"""Switching rules of AQL sampling (ISO 2859-1 clause 9, ANSI/ASQ Z1.4 8.3), kept in the store per product,
supplier and characteristic.

Owns the two moments the state matters. When a lot opens, each AQL characteristic's state chooses normal,
tightened or reduced inspection (and refuses the lot while inspection is discontinued); the lot records which
state and severity it was opened under (`lot_switching`). When the lot's verdict for that characteristic is
known, the state moves on, once per lot: not accepted when its nonconforming units reach Re; accepted when its
sample is complete within Ac and the lot is accepted (or held for another characteristic). A lot opened under a
severity the state has since left is recorded but does not move the state. Reduced inspection needs the
responsible authority's approval, which Lineside does not yet record: the state never switches to reduced.
Discontinued inspection resumes, on tightened, only by a supervisor's signature once the supplier has corrected
the process. The rules themselves are `inspection.sampling`. Must not speak SQL outside the store's Tx and
queries.
"""

from __future__ import annotations

import json
from typing import Any

from edge import auth
from edge import sampling as plans
from edge.config import AqlSampling, Characteristic
from edge.core import Core
from edge.errors import ConflictError, InvalidInputError, NotFoundError
from edge.store import Store, Tx, new_uid


def _state(row: dict[str, Any] | None, sampling: AqlSampling) -> Any:
    from inspection import sampling as tables

    if row is None:
        return tables.start(sampling.edition)
    state = tables.SwitchingState.from_dict(json.loads(row["state"]))
    return state if state.edition == sampling.edition else tables.start(sampling.edition)


def lot_plans(core: Core, product: str, supplier: str | None, characteristics: list[Characteristic],
              lot_size: int) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Each characteristic's plan for a new lot (AQL ones at their state's severity) and the states applied."""
    chosen: dict[str, dict[str, Any]] = {}
    applied: list[dict[str, Any]] = []
    for characteristic in characteristics:
        if not isinstance(characteristic.sampling, AqlSampling):
            chosen[characteristic.id] = plans.plan_for(characteristic, lot_size).as_dict()
            continue
        key = (product, supplier or "", characteristic.id)
        row = core.store.query_one("SELECT * FROM sampling_states WHERE product = ? AND supplier = ? AND "
                                   "characteristic = ?", key)
        state = _state(row, characteristic.sampling)
        if state.discontinued:
            raise ConflictError(f"inspection of {characteristic.id} for {product} from supplier "
                                f"{supplier or '(none)'} is discontinued: 5 lots were not accepted on tightened "
                                "inspection; the supplier must correct the process first")
        plan = plans.plan_for(characteristic, lot_size, state.severity)
        chosen[characteristic.id] = {**plan.as_dict(), "severity": state.severity,
                                     "reduced_approved": characteristic.sampling.reduced_approved}
        applied.append({"key": key, "state": state, "severity": state.severity})
    return chosen, applied


def note_lot(tx: Tx, actor: auth.Actor, lot_uid: str, applied: list[dict[str, Any]]) -> None:
    """Inside the lot's opening transaction: the state each AQL characteristic was opened under."""
    for item in applied:
        product, supplier, characteristic = item["key"]
        row = tx.one("SELECT uid FROM sampling_states WHERE product = ? AND supplier = ? AND characteristic = ?",
                     item["key"])
        if row is None:
            row = {"uid": new_uid()}
            tx.add("sampling_states", {"uid": row["uid"], "product": product, "supplier": supplier,
                                       "characteristic": characteristic, "state": _text(item["state"]),
                                       "updated_at": tx.at},
                   action="sampling.state_started", actor=actor.name, station=actor.station, sync=False)
        tx.add("lot_switching", {"uid": new_uid(), "lot_uid": lot_uid, "characteristic": characteristic,
                                 "state_uid": row["uid"], "severity": item["severity"], "decision": None,
                                 "decided_at": None},
               action="sampling.lot_opened", actor=actor.name, station=actor.station, sync=False)


def _text(state: Any) -> str:
    return json.dumps(state.to_dict(), sort_keys=True, separators=(",", ":"))


def after_measurements(tx: Tx, actor: auth.Actor, lot: dict[str, Any]) -> None:
    """Inside a measurement batch's transaction: move the states whose lot verdict is now known."""
    pending = tx.all("SELECT * FROM lot_switching WHERE lot_uid = ? AND decision IS NULL", (lot["uid"],))
    if not pending:
        return
    status = tx.one("SELECT status FROM lots WHERE uid = ?", (lot["uid"],))["status"]  # type: ignore[index]
    sampling = json.loads(lot["sampling"])
    for row in pending:
        measured, failed = _counts(tx, lot["uid"], row["characteristic"])
        plan = sampling[row["characteristic"]]
        rejected = failed >= plan["re"]
        if rejected or (measured >= plan["n"] and status in ("accepted", "on_hold")):
            _decide(tx, actor, lot, row, plan, failed)


def _counts(tx: Tx, lot_uid: str, characteristic: str) -> tuple[int, int]:
    row = tx.one("SELECT COUNT(DISTINCT sample) AS measured, COUNT(DISTINCT CASE WHEN verdict = 'fail' THEN sample "
                 "END) AS failed FROM measurements m WHERE lot_uid = ? AND characteristic = ? AND NOT EXISTS "
                 "(SELECT 1 FROM measurements s WHERE s.supersedes = m.uid)", (lot_uid, characteristic))
    return (int(row["measured"]), int(row["failed"])) if row else (0, 0)


def _decide(tx: Tx, actor: auth.Actor, lot: dict[str, Any], row: dict[str, Any], plan: dict[str, Any],
            failed: int) -> None:
    from inspection import sampling as tables

    stored = tx.row("sampling_states", row["state_uid"])
    state = tables.SwitchingState.from_dict(json.loads(stored["state"]))
    table_plan = tables.SamplingPlan(plan["code_letter"], plan["n"], plan["ac"], plan["re"], plan["hundred_percent"],
                                     row["severity"], state.edition, plan["aql"], plan["n"])
    decision = tables.judge(table_plan, failed)
    verdict = "accepted" if decision.accepted else "not_accepted"
    who = {"actor": actor.name, "station": actor.station, "sync": False}
    about = f"lot {lot['lot_number']} {verdict.replace('_', ' ')} on {row['characteristic']} ({failed} nonconforming)"
    tx.change("lot_switching", row["uid"], {"decision": verdict, "decided_at": tx.at}, action="sampling.lot_decided",
              reason=about, **who)
    if state.discontinued or state.severity != row["severity"]:
        return  # opened under a severity the state has left since: it counts for nothing now
    moved = tables.record_lot(state, table_plan, decision, production_steady=True,
                              reduced_approved=bool(plan.get("reduced_approved", False)))
    switched = moved.severity != state.severity or moved.discontinued
    tx.change("sampling_states", row["state_uid"], {"state": _text(moved), "updated_at": tx.at},
              action="sampling.switched" if switched else "sampling.state_updated",
              reason=f"{about}: {state.severity} -> {'discontinued' if moved.discontinued else moved.severity}"
              if switched else about, **who)


def list_states(store: Store) -> list[dict[str, Any]]:
    found = store.query("SELECT * FROM sampling_states ORDER BY product, supplier, characteristic")
    for row in found:
        row["state"] = json.loads(row["state"])
    return found


def resume(core: Core, signer: auth.Actor, secret: str, state_uid: str, reason: str,
           meaning: str = "inspection resumed on tightened") -> dict[str, Any]:
    """Signed: a discontinued inspection resumes on tightened inspection (after the supplier's correction)."""
    if not reason or not reason.strip() or len(reason) > 1000:
        raise InvalidInputError("resuming inspection needs its reason (the supplier's correction), of at most "
                                "1000 characters")
    auth.countersign(core.store, signer, secret, list(core.config.authority.approve_plan),
                     "resume discontinued inspection")

    def job(tx: Tx) -> dict[str, Any]:
        from inspection import sampling as tables

        row = tx.one("SELECT * FROM sampling_states WHERE uid = ?", (state_uid,))
        if row is None:
            raise NotFoundError(f"unknown sampling state {state_uid[:64]!r}")
        state = tables.SwitchingState.from_dict(json.loads(row["state"]))
        if not state.discontinued:
            raise ConflictError(f"inspection of {row['characteristic']} for {row['product']} from "
                                f"{row['supplier'] or '(none)'} is {state.severity}, not discontinued")
        auth.add_signature(tx, signer, meaning, "sampling_states", state_uid)
        after = tx.change("sampling_states", state_uid, {"state": _text(tables.resume_tightened(state)),
                                                        "updated_at": tx.at}, action="sampling.resumed",
                          actor=signer.name, station=signer.station, reason=reason.strip(), sync=False)
        return {**after, "state": json.loads(after["state"])}

    return core.store.write(job)
