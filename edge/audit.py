"""The audit trail's hash chain: canonical encoding, the running chain, and verification of a store.

Every change of state writes an event chained by SHA-256 to the one before; each event also carries the hash
of the record row it leaves behind (`record_hash`), so a row edited, inserted or deleted behind the
application's back no longer matches the chain. Must not write to the store: verification only reads.

    AuditError    (raised by nothing here on a broken chain: `verify` returns its findings instead)
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
# Tables whose rows the chain covers, and the columns that are bookkeeping rather than record.
AUDITED_TABLES = ("lots", "measurements", "nonconformities", "holds", "dispositions", "signatures",
                  "gauges", "calibrations", "users", "tokens", "plan_approvals", "station_lots",
                  "vision_checks", "images", "camera_calibrations", "spc_limits", "spc_signals", "sampling_states",
                  "lot_switching", "station_events", "sample_misses")
EXCLUDED_COLUMNS = frozenset({"seq"})
EVENT_FIELDS = ("seq", "uid", "at", "actor", "station", "action", "entity_type", "entity_uid",
                "before", "after", "reason", "record_hash")

# The quality records of migration 004_quality (control limits, signals, switching states, set-ups, missed
# samples) are covered too.
AUDITED_TABLES += ("spc_limits", "spc_signals", "sampling_states", "lot_switching", "station_events",
                   "sample_misses")


class AuditError(Exception):
    """An audit event that cannot be written."""


def canonical(record: dict[str, Any]) -> str:
    """One text per record: sorted keys, no spaces, UTF-8 as is. Values are str, int or None only."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def row_record(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in EXCLUDED_COLUMNS}


def event_hash(prev_hash: str, event: dict[str, Any]) -> str:
    body = json.dumps([event[f] for f in EVENT_FIELDS], separators=(",", ":"), ensure_ascii=False)
    return digest(prev_hash + body)


@dataclass
class Chain:
    """The head of the chain as the single writer sees it; restored from the store after a rollback."""

    seq: int
    hash: str

    @classmethod
    def load(cls, conn: sqlite3.Connection) -> Chain:
        row = conn.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
        return cls(row[0], row[1]) if row else cls(0, GENESIS)

    def link(self, event: dict[str, Any]) -> dict[str, Any]:
        """Number and chain `event` (without seq, prev_hash, hash); returns the full row to insert."""
        event["seq"] = self.seq + 1
        event["prev_hash"] = self.hash
        event["hash"] = event_hash(self.hash, event)
        self.seq, self.hash = event["seq"], event["hash"]
        return event


@dataclass(frozen=True)
class Finding:
    seq: int | None
    problem: str

    def __str__(self) -> str:
        return f"event {self.seq}: {self.problem}" if self.seq is not None else self.problem


def verify(conn: sqlite3.Connection) -> list[Finding]:
    """Every problem in the chain and in the rows it covers, the first bad event first."""
    conn.row_factory = sqlite3.Row
    latest: dict[tuple[str, str], tuple[int, str | None]] = {}
    findings = list(_chain_findings(conn, latest))
    findings += _row_findings(conn, latest)
    return sorted(findings, key=lambda f: (f.seq is None, f.seq or 0))


def _chain_findings(conn: sqlite3.Connection, latest: dict[tuple[str, str], tuple[int, str | None]]
                    ) -> Iterator[Finding]:
    prev_hash, expected_seq = GENESIS, 1
    for row in conn.execute("SELECT * FROM audit_events ORDER BY seq"):
        event = dict(row)
        if event["seq"] != expected_seq:
            yield Finding(event["seq"], f"sequence jumps from {expected_seq - 1} to {event['seq']}: "
                                        "events were deleted before it")
        if event["prev_hash"] != prev_hash:
            yield Finding(event["seq"], "does not link to the event before it (an event was removed or altered)")
        if event_hash(event["prev_hash"], event) != event["hash"]:
            yield Finding(event["seq"], f"content altered ({event['action']} {event['entity_uid']}): "
                                        "its hash no longer matches")
        latest[(event["entity_type"], event["entity_uid"])] = (event["seq"], event["record_hash"])
        prev_hash, expected_seq = event["hash"], event["seq"] + 1
    yield from _tail_findings(conn, expected_seq - 1)


def _tail_findings(conn: sqlite3.Connection, last_seq: int) -> Iterator[Finding]:
    # AUTOINCREMENT remembers the highest seq ever handed out: a deleted tail leaves it above the last event.
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'").fetchone()
    if row and row[0] > last_seq:
        yield Finding(last_seq + 1, f"events {last_seq + 1} to {row[0]} were deleted from the end of the chain")


def _row_findings(conn: sqlite3.Connection, latest: dict[tuple[str, str], tuple[int, str | None]]
                  ) -> Iterator[Finding]:
    for table in AUDITED_TABLES:
        seen: set[str] = set()
        for row in conn.execute(f"SELECT * FROM {table}"):  # noqa: S608 - table names are constants
            record = row_record(dict(row))
            seen.add(record["uid"])
            yield from _check_row(table, record, latest.get((table, record["uid"])))
        for (entity_type, uid), (seq, record_hash) in latest.items():
            if entity_type == table and uid not in seen and record_hash is not None:
                yield Finding(seq, f"{table} row {uid} that this event recorded is missing (deleted)")


def _check_row(table: str, record: dict[str, Any], event: tuple[int, str | None] | None) -> Iterator[Finding]:
    if event is None:
        yield Finding(None, f"{table} row {record['uid']} has no audit event: inserted behind the application")
    elif digest(canonical(record)) != event[1]:
        yield Finding(event[0], f"{table} row {record['uid']} was changed after this event recorded it")
