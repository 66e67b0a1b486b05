"""Checking a batch's records at HQ: which can be stored, and why each of the others cannot.

Pure functions over the decoded envelope: no SQL, no HTTP. A record is judged on its own, so one bad record is
rejected with its reason while the rest of its batch is stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# The kinds an edge sends today (its audited tables that sync). HQ may accept more; an unknown kind is rejected
# record by record, and the edge keeps it in quarantine until HQ knows it and the edge releases it.
KINDS = frozenset({"lots", "measurements", "nonconformities", "holds", "dispositions", "signatures", "gauges",
                   "calibrations", "plan_approvals", "vision_checks", "camera_calibrations", "spc_limits",
                   "spc_signals", "station_events", "sample_misses"})
MEASUREMENT_FIELDS = ("lot_uid", "characteristic", "value", "unit", "verdict", "gauge")
FIELDS = {"key": str, "seq": int, "kind": str, "uid": str, "created_at": str, "payload": str}


class RecordError(ValueError):
    """One record cannot be stored; the message is the reason sent back to the edge."""


@dataclass
class Checked:
    """A batch split into rows ready to COPY and rejections, with the seqs HQ holds once it is stored."""

    measurements: list[tuple[Any, ...]] = field(default_factory=list)
    others: list[tuple[Any, ...]] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)
    months: set[tuple[int, int]] = field(default_factory=set)


def check_envelopes(station: str, records: list[Any], kinds: frozenset[str] = KINDS
                    ) -> tuple[list[tuple[Any, ...]], list[dict[str, str]]]:
    """The fast first pass: each record's own fields, key, kind and sha256, leaving its payload to the database.

    Returns rows (key, station, seq, kind, uid, created_at, payload) to stage, and the rejections."""
    rows: list[tuple[Any, ...]] = []

    def envelope(record: Any) -> None:
        _check_fields(station, record)
        _check_kind(record, kinds)
        rows.append((record["key"], station, record["seq"], record["kind"], record["uid"], record["created_at"],
                     record["payload"]))

    rejected = _judge_each(records, envelope)
    return rows, rejected


def check(station: str, records: list[Any], kinds: frozenset[str] = KINDS) -> Checked:
    """The full check in Python, payloads included: the slow path, for a batch the fast one could not take."""
    checked = Checked()
    checked.rejected += _judge_each(records, lambda record: _check_one(station, record, kinds, checked))
    return checked


def _judge_each(records: list[Any], judge: Callable[[Any], None]) -> list[dict[str, str]]:
    """Run `judge` on each record; a record it refuses, or a key seen twice, is rejected alone with the reason."""
    rejected: list[dict[str, str]] = []
    seen: set[Any] = set()
    for index, record in enumerate(records):
        key = record.get("key") if isinstance(record, dict) else None
        key = key if isinstance(key, str) else None  # any other key is refused by the judge; a list is unhashable
        try:
            if key in seen:
                raise RecordError("the same key appears twice in this batch")
            judge(record)
            seen.add(key)
        except RecordError as exc:
            rejected.append({"key": key or f"#{index}", "reason": str(exc)})
    return rejected


def _check_kind(record: Any, kinds: frozenset[str]) -> None:
    if record["kind"] not in kinds:
        raise RecordError(f"unknown kind {record['kind']!r} (this HQ accepts: {', '.join(sorted(kinds))})")


def _check_one(station: str, record: Any, kinds: frozenset[str], checked: Checked) -> None:
    _check_fields(station, record)
    payload = _payload(record)
    _check_kind(record, kinds)
    if record["kind"] == "measurements":
        recorded_at = _utc(payload.get("recorded_at"), "payload recorded_at")
        checked.measurements.append((record["key"], station, record["seq"], record["uid"],
                                     *(_text(payload.get(f)) for f in MEASUREMENT_FIELDS), recorded_at,
                                     record["payload"]))
        checked.months.add((recorded_at.year, recorded_at.month))
    else:
        checked.others.append((record["key"], station, record["seq"], record["kind"], record["uid"],
                               _utc(record["created_at"], "created_at"), record["payload"]))
    checked.seqs.append(record["seq"])


def _check_fields(station: str, record: Any) -> None:
    if not isinstance(record, dict):
        raise RecordError("a record must be a JSON object")
    for name, kind in FIELDS.items():
        value = record.get(name)
        if type(value) is not kind:  # exactly: a bool is not a seq
            raise RecordError(f"field {name!r} must be {'an integer' if kind is int else 'text'}")
    if record["key"] != f"{station}:{record['seq']}" or record["seq"] < 1:
        raise RecordError(f"key {record['key']!r} is not '{station}:<seq>' with this record's seq")
    digest = record.get("sha256")
    if digest is not None and digest != hashlib.sha256(record["payload"].encode()).hexdigest():
        raise RecordError("payload does not match its sha256: altered in transit")


def _payload(record: dict[str, Any]) -> dict[str, Any]:
    if "\\u0000" in record["payload"]:
        raise RecordError("payload contains the character U+0000, which PostgreSQL cannot store in jsonb")
    try:
        payload = json.loads(record["payload"])
    except (ValueError, RecursionError) as exc:  # not JSON, a number of 5000 digits, "[" nested 100,000 deep
        raise RecordError(f"payload is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise RecordError("payload must be a JSON object")
    if payload.get("uid") != record["uid"]:
        raise RecordError(f"payload uid {payload.get('uid')!r} differs from the record's uid {record['uid']!r}")
    return payload


def _utc(value: Any, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise RecordError(f"{name} must be an ISO-8601 time with a UTC offset, not {value!r:.60}")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 once in UTC
        raise RecordError(f"{name} {value!r:.60} is out of range once in UTC") from None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
