"""Recording a measurement: validate, convert, judge, and in one transaction record it with its consequences.

Owns ISO 9001 8.7 at the moment of measurement: a failed value raises a nonconformity and, by the hold rules,
puts the lot on hold in the same transaction, so no acknowledged failure is ever without them. A correction
is a new measurement that supersedes the old one, with a reason; nothing is updated. Must not speak SQL
outside the store's Tx.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge import auth, gauges, signals, switching
from edge.config import Characteristic, HoldRules
from edge.core import Core
from edge.errors import ConflictError, InvalidInputError, NotFoundError
from edge.lots import OPEN_STATES, lot_row
from edge.plans import plan_hash
from edge.store import Tx, new_uid
from inspection.tolerance import BadValueError, Tolerance, Verdict, parse_value
from inspection.units import UnitError, convert

ATTRIBUTE_VALUES = {"pass": True, "ok": True, "conforming": True, "1": True, "true": True,
                    "fail": False, "nok": False, "nonconforming": False, "0": False, "false": False}


@dataclass(frozen=True, slots=True)
class MeasurementInput:
    characteristic: str
    value: object
    unit: str | None = None
    gauge: str | None = None
    sample: int | None = None
    serial: str | None = None
    device: str | None = None
    supersedes: str | None = None
    reason: str | None = None
    key: str | None = None  # idempotency: a value sent again with the same key (a resubmitted form) records once


@dataclass(frozen=True, slots=True)
class _Judged:
    value: str
    unit: str | None
    raw_value: str
    raw_unit: str | None
    verdict: Verdict


def _characteristic(core: Core, lot: dict[str, Any], characteristic_id: str) -> Characteristic:
    product = core.config.product(lot["product"])
    plan = product.plan(lot["plan_revision"]) if product else None
    if plan is None or plan_hash(plan) != lot["plan_hash"]:
        raise ConflictError(f"lot {lot['lot_number']!r} was opened under plan revision {lot['plan_revision']} "
                            "which is no longer in the configuration as approved")
    for characteristic in plan.characteristics:
        if characteristic.id == characteristic_id:
            return characteristic
    known = ", ".join(c.id for c in plan.characteristics)
    raise NotFoundError(f"unknown characteristic {characteristic_id!r} for product {lot['product']} "
                        f"revision {lot['plan_revision']} (known: {known})")


def _judge_attribute(value: object) -> _Judged:
    key = str(value).strip().lower() if isinstance(value, str | int | bool) else None
    if key not in ATTRIBUTE_VALUES:
        raise InvalidInputError(f"an attribute value must be pass or fail, not {str(value)[:40]!r}")
    conforming = ATTRIBUTE_VALUES[key]
    return _Judged("1" if conforming else "0", None, str(value), None,
                   Verdict.PASS if conforming else Verdict.FAIL)


def _judge_variable(characteristic: Characteristic, value: object, unit: str | None) -> _Judged:
    target = characteristic.unit or ""
    tolerance = Tolerance(characteristic.resolution, characteristic.lower, characteristic.upper)
    try:
        number = parse_value(value)
        converted = convert(number, unit or target, target)
        shown, verdict = tolerance.quantize(converted), tolerance.evaluate(converted)
    except (BadValueError, UnitError) as exc:
        raise InvalidInputError(f"{characteristic.id}: {exc}") from None
    return _Judged(str(shown), target, str(number), unit or target, verdict)


def _text(field: str, value: str | None, limit: int = 64) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.isprintable() or len(value) > limit:
        raise InvalidInputError(f"{field} must be printable text of at most {limit} characters")
    return value


def _prepare(core: Core, actor: auth.Actor, lot: dict[str, Any], given: MeasurementInput,
             gauge_checks: dict[str, gauges.GaugeCheck]) -> tuple[Characteristic, dict[str, Any]]:
    characteristic = _characteristic(core, lot, given.characteristic)
    if characteristic.is_attribute:
        judged = _judge_attribute(given.value)
    else:
        judged = _judge_variable(characteristic, given.value, given.unit)
    if given.sample is not None and not 1 <= given.sample <= lot["quantity"]:
        raise InvalidInputError(f"sample must be between 1 and the lot quantity {lot['quantity']}")
    if given.supersedes and not (given.reason and given.reason.strip()):
        raise InvalidInputError("a correction (supersedes) needs a reason")
    gauge_id = given.gauge or characteristic.gauge
    check = None
    if gauge_id:
        check = gauge_checks.get(gauge_id) or gauges.check(core.store, core.config, gauge_id, core.today())
        gauge_checks[gauge_id] = check
    return characteristic, {
        "uid": _uid(lot["uid"], given.key), "lot_uid": lot["uid"], "characteristic": characteristic.id,
        "plan_revision": lot["plan_revision"], "plan_hash": lot["plan_hash"], "sample": given.sample,
        "serial": _text("serial", given.serial), "value": judged.value, "unit": judged.unit,
        "raw_value": judged.raw_value, "raw_unit": judged.raw_unit, "verdict": judged.verdict.value,
        "gauge": gauge_id, "gauge_due": check.due if check else None, "flag": check.flag if check else None,
        "device": _text("device", given.device), "station": actor.station, "actor": actor.name,
        "recorded_at": None, "supersedes": given.supersedes, "reason": _text("reason", given.reason, 500),
    }


def record_measurement(core: Core, actor: auth.Actor, lot_number: str, given: MeasurementInput
                       ) -> dict[str, Any]:
    """Record one value; returns the verdict, the lot status and any nonconformity or hold it raised."""
    return record_measurements(core, actor, lot_number, [given])[0]


def record_measurements(core: Core, actor: auth.Actor, lot_number: str, given: list[MeasurementInput],
                        then: Callable[[Tx, list[dict[str, Any]]], None] | None = None) -> list[dict[str, Any]]:
    """Record several values of one lot (a device's scan) in one transaction: all of them, or none.

    A value that cannot be accepted is an InvalidInputError naming its position, and nothing is recorded.
    `then(tx, records)`, when given, runs in the same transaction with the recorded rows: evidence that must
    stand or fall with them (a vision check's image) is written there.
    """
    if not given:
        raise InvalidInputError("no measurements given")
    lot = lot_row(core.store, lot_number)
    checks: dict[str, gauges.GaugeCheck] = {}
    prepared = []
    for index, item in enumerate(given):
        try:
            prepared.append(_prepare(core, actor, lot, item, checks))
        except (InvalidInputError, NotFoundError) as exc:
            if len(given) == 1:
                raise
            raise type(exc)(f"measurements[{index}]: {exc}") from None
    plans = json.loads(lot["sampling"])
    rules = core.config.hold_rules

    keyed = frozenset(record["uid"] for (_, record), item in zip(prepared, given, strict=True) if item.key)

    def job(tx: Tx) -> list[dict[str, Any]]:
        outcomes = _record_all(tx, actor, lot, prepared, plans, rules, keyed)
        if then is not None:
            then(tx, [record for _, record in prepared])
        return outcomes

    outcomes = core.store.write(job)
    signals.after_batch(core, actor, lot, [record for _, record in prepared])  # once durable: run rules
    return [{"measurement": record["uid"], "characteristic": record["characteristic"], "sample": record["sample"],
             "value": record["value"], "unit": record["unit"], "verdict": record["verdict"], "flag": record["flag"],
             "lot": lot["lot_number"], **outcome} for (_, record), outcome in zip(prepared, outcomes, strict=True)]


def _uid(lot_uid: str, key: str | None) -> str:
    """A new uid; with an idempotency key, the same uid for the same key in the same lot."""
    if key is None:
        return new_uid()
    if not key or len(key) > 64 or not key.isprintable():
        raise InvalidInputError("key must be printable text of 1 to 64 characters")
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"lineside:measurement:{lot_uid}:{key}"))


def _already(tx: Tx, record: dict[str, Any]) -> dict[str, Any] | None:
    """The measurement a resubmission with the same key recorded before, if any."""
    return tx.one("SELECT sample, recorded_at, verdict FROM measurements WHERE uid = ?", (record["uid"],))


def _record_all(tx: Tx, actor: auth.Actor, lot: dict[str, Any], prepared: list[tuple[Characteristic, dict[str, Any]]],
                plans: dict[str, dict[str, Any]], rules: HoldRules, keyed: frozenset[str] = frozenset()
                ) -> list[dict[str, Any]]:
    status = _status(tx, lot["uid"])
    if status not in OPEN_STATES:
        raise ConflictError(f"lot {lot['lot_number']!r} is {status}: no more measurements can be recorded")
    next_samples: dict[str, int] = {}
    outcomes: list[dict[str, Any]] = []
    completing = False
    for characteristic, record in prepared:
        if record["uid"] in keyed and (before := _already(tx, record)) is not None:
            record.update(sample=before["sample"], recorded_at=before["recorded_at"])
            outcomes.append({"nonconformity": None, "hold": None, "duplicate": True})
            continue
        record["sample"] = _sample(tx, record, next_samples)
        record["recorded_at"] = tx.at
        tx.add("measurements", record, action="measurement.recorded", actor=actor.name, station=actor.station,
               reason=record["reason"])
        outcome: dict[str, Any] = {"nonconformity": None, "hold": None}
        if record["verdict"] == Verdict.FAIL:
            outcome.update(_nonconforming(tx, actor, lot, characteristic, plans[characteristic.id], record, rules))
        completing = completing or record["sample"] <= plans[characteristic.id]["n"]
        outcomes.append(outcome)
    if completing and _status(tx, lot["uid"]) == "open" and _accepted(tx, lot):
        tx.change("lots", lot["uid"], {"status": "accepted"}, action="lot.accepted", actor=actor.name,
                  station=actor.station, reason="inspection plan complete and passed")
    switching.after_measurements(tx, actor, lot)
    final = _status(tx, lot["uid"])
    for outcome in outcomes:
        outcome["lot_status"] = final
    return outcomes


def _status(tx: Tx, lot_uid: str) -> str:
    return str(tx.conn.execute("SELECT status FROM lots WHERE uid = ?", (lot_uid,)).fetchone()[0])


def _sample(tx: Tx, record: dict[str, Any], next_samples: dict[str, int]) -> int:
    key = (record["lot_uid"], record["characteristic"])
    if record["supersedes"]:
        return _superseded_sample(tx, record)
    if record["sample"] is None:
        sample = next_samples.get(record["characteristic"])
        if sample is None:
            top = tx.conn.execute("SELECT MAX(sample) FROM measurements WHERE lot_uid = ? AND characteristic = ?",
                                  key).fetchone()[0]
            sample = int(top or 0) + 1
        next_samples[record["characteristic"]] = sample + 1
        return sample
    if tx.one("SELECT 1 FROM measurements WHERE lot_uid = ? AND characteristic = ? AND sample = ?",
              (*key, record["sample"])):
        raise ConflictError(f"sample {record['sample']} of {record['characteristic']} is already measured: "
                            "record a correction that supersedes it, with a reason")
    return int(record["sample"])


def _superseded_sample(tx: Tx, record: dict[str, Any]) -> int:
    old = tx.one("SELECT uid, lot_uid, characteristic, sample FROM measurements WHERE uid = ?",
                 (record["supersedes"],))
    if old is None or (old["lot_uid"], old["characteristic"]) != (record["lot_uid"], record["characteristic"]):
        raise NotFoundError(f"measurement {record['supersedes']} to supersede is not a {record['characteristic']} "
                            "value of this lot")
    if tx.one("SELECT 1 FROM measurements WHERE supersedes = ?", (old["uid"],)):
        raise ConflictError(f"measurement {old['uid']} is already superseded: correct the latest value instead")
    return int(old["sample"])


def _counts(tx: Tx, lot_uid: str) -> dict[str, tuple[int, int]]:
    rows = tx.all(
        "SELECT characteristic, COUNT(DISTINCT sample) AS measured, "
        "COUNT(DISTINCT CASE WHEN verdict = 'fail' THEN sample END) AS failed FROM measurements m "
        "WHERE lot_uid = ? AND NOT EXISTS (SELECT 1 FROM measurements s WHERE s.supersedes = m.uid) "
        "GROUP BY characteristic", (lot_uid,))
    return {row["characteristic"]: (row["measured"], row["failed"]) for row in rows}


def _failed(tx: Tx, lot_uid: str, characteristic: str) -> int:
    row = tx.one("SELECT COUNT(DISTINCT sample) AS n FROM measurements m WHERE lot_uid = ? AND characteristic = ? "
                 "AND verdict = 'fail' AND NOT EXISTS (SELECT 1 FROM measurements s WHERE s.supersedes = m.uid)",
                 (lot_uid, characteristic))
    return int(row["n"]) if row else 0


def _accepted(tx: Tx, lot: dict[str, Any]) -> bool:
    counts = _counts(tx, lot["uid"])
    for characteristic, plan in json.loads(lot["sampling"]).items():
        measured, failed = counts.get(characteristic, (0, 0))
        if measured < plan["n"] or failed > plan["ac"]:
            return False
    return True


def _hold_reason(tx: Tx, lot: dict[str, Any], characteristic: Characteristic, plan: dict[str, Any],
                 rules: HoldRules) -> str | None:
    if rules.critical_failure and characteristic.criticality == "critical":
        return f"critical characteristic {characteristic.id} failed"
    failed = _failed(tx, lot["uid"], characteristic.id)
    if rules.reject_number and failed >= plan["re"]:
        return f"{failed} nonconforming on {characteristic.id} reach the reject number Re={plan['re']}"
    if rules.any_failure:
        return f"{characteristic.id} failed"
    return None


def _nonconforming(tx: Tx, actor: auth.Actor, lot: dict[str, Any], characteristic: Characteristic,
                   plan: dict[str, Any], record: dict[str, Any], rules: HoldRules) -> dict[str, Any]:
    limits = f"[{characteristic.lower if characteristic.lower is not None else '-inf'}, " \
             f"{characteristic.upper if characteristic.upper is not None else '+inf'}]"
    nc = {"uid": new_uid(), "lot_uid": lot["uid"], "measurement_uid": record["uid"],
          "characteristic": characteristic.id, "status": "open", "cause": None, "action": None,
          "description": f"{characteristic.id} = {record['value']} {record['unit'] or ''} outside {limits}"
          if record["unit"] else f"{characteristic.id} nonconforming (attribute)",
          "opened_by": actor.name, "opened_at": tx.at, "closed_at": None}
    tx.add("nonconformities", nc, action="nonconformity.raised", actor=actor.name, station=actor.station)
    reason = _hold_reason(tx, lot, characteristic, plan, rules)
    hold = tx.one("SELECT uid FROM holds WHERE lot_uid = ? AND status = 'open'", (lot["uid"],))
    if reason and hold is None:
        hold = {"uid": new_uid(), "lot_uid": lot["uid"], "reason": reason, "status": "open",
                "opened_by": actor.name, "opened_at": tx.at, "closed_at": None}
        tx.add("holds", hold, action="hold.placed", actor=actor.name, station=actor.station, reason=reason)
        tx.change("lots", lot["uid"], {"status": "on_hold"}, action="lot.held", actor=actor.name,
                  station=actor.station, reason=reason)
    return {"nonconformity": nc["uid"], "hold": hold["uid"] if hold else None}
