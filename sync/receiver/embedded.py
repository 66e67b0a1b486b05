"""An embedded HQ store on one SQLite file, behind the same interface as `PgStore`: for the demo and laptops.

Owns the SQL of the embedded store. Same behaviour as the PostgreSQL store (idempotent records, kept acks,
nonces, high-water mark, open items), same record judgement (`records.check`); no partitions and one writer at
a time. Not for production: HQ's production store is PostgreSQL (`PgStore`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sync import wire
from sync.receiver import records
from sync.receiver.records import KINDS
from sync.receiver.store import CONFLICT, NONCE_KEEP_S, ReplayError, UnknownStationError, runs

SCHEMA = """
CREATE TABLE IF NOT EXISTS stations (station TEXT PRIMARY KEY, plant TEXT NOT NULL, secret TEXT NOT NULL,
    high_water INTEGER NOT NULL DEFAULT 0, added_at REAL NOT NULL, last_seen_at REAL);
CREATE TABLE IF NOT EXISTS nonces (station TEXT NOT NULL, nonce TEXT NOT NULL, seen_at REAL NOT NULL,
    PRIMARY KEY (station, nonce));
CREATE TABLE IF NOT EXISTS batches (batch_key TEXT PRIMARY KEY, station TEXT NOT NULL, body_sha256 TEXT NOT NULL,
    ack TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS spans (station TEXT NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,
    PRIMARY KEY (station, first_seq, last_seq));
CREATE TABLE IF NOT EXISTS records (key TEXT PRIMARY KEY, station TEXT NOT NULL, seq INTEGER NOT NULL,
    kind TEXT NOT NULL, uid TEXT NOT NULL, at TEXT NOT NULL, payload TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_latest ON records (kind, station, uid, seq);
"""


class SqliteHqStore:
    """`SqliteHqStore.open(path)`: the receiver's store in one file; every method is one transaction."""

    def __init__(self, conn: sqlite3.Connection, kinds: frozenset[str] = KINDS):
        self.conn = conn
        self.kinds = kinds
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str | Path, *, kinds: frozenset[str] = KINDS) -> SqliteHqStore:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(SCHEMA)
        return cls(conn, kinds)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def add_station(self, station: str, secret: str, plant: str | None = None) -> None:
        with self._tx() as conn:
            conn.execute("INSERT INTO stations (station, plant, secret, added_at) VALUES (?, ?, ?, ?) ON CONFLICT "
                         "(station) DO UPDATE SET secret = excluded.secret, plant = excluded.plant",
                         (station, plant or station.split(".")[0], secret, time.time()))

    def secret(self, station: str) -> str:
        return str(self._station_row(station)["secret"])

    def station(self, station: str) -> dict[str, Any]:
        row = self._station_row(station)
        return {"station": row["station"], "plant": row["plant"], "high_water": row["high_water"],
                "last_seen_at": row["last_seen_at"]}

    def _station_row(self, station: str) -> dict[str, Any]:
        with self._lock:
            cursor = self.conn.execute("SELECT * FROM stations WHERE station = ?", (station,))
            row = cursor.fetchone()
        if row is None:
            raise UnknownStationError(f"unknown station {station!r}")
        return dict(zip([c[0] for c in cursor.description], row, strict=True))

    def use_nonce(self, station: str, nonce: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM nonces WHERE station = ? AND seen_at < ?", (station, time.time() - NONCE_KEEP_S))
            if not conn.execute("INSERT INTO nonces VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                                (station, nonce, time.time())).rowcount:
                raise ReplayError(f"nonce {nonce} was already used by station {station!r}")

    def receive(self, station: str, batch_key: str, body: bytes, batch: list[Any]) -> tuple[dict[str, Any], bool]:
        digest = hashlib.sha256(body).hexdigest()
        with self._tx() as conn:
            row = conn.execute("SELECT high_water FROM stations WHERE station = ?", (station,)).fetchone()
            if row is None:
                raise UnknownStationError(f"unknown station {station!r}")
            kept = conn.execute("SELECT body_sha256, ack FROM batches WHERE batch_key = ? AND station = ?",
                                (batch_key, station)).fetchone()
            if kept and kept[0] == digest and not json.loads(kept[1])["rejected"]:
                return json.loads(kept[1]), True
            checked = records.check(station, batch, self.kinds)
            _refuse_conflicts(checked, self._insert(conn, checked))
            ack = {"format": wire.FORMAT, "station": station, "batch": batch_key, "records": len(batch),
                   "stored": len(checked.seqs), "rejected": checked.rejected,
                   "high_water": _advance(conn, station, int(row[0]), checked.seqs)}
            conn.execute("INSERT INTO batches VALUES (?, ?, ?, ?) ON CONFLICT (batch_key) DO UPDATE SET "
                         "body_sha256 = excluded.body_sha256, ack = excluded.ack",
                         (batch_key, station, digest, json.dumps(ack)))
        return ack, False

    @staticmethod
    def _insert(conn: sqlite3.Connection, checked: records.Checked) -> set[str]:
        """Insert what is new; returns the keys held already with a different record (never overwritten)."""
        # Rows as records.check builds them; a measurement's time is its recorded_at, any other's created_at.
        rows = [(r[0], r[1], r[2], "measurements", r[3], r[10].isoformat(), r[11]) for r in checked.measurements]
        rows += [(r[0], r[1], r[2], r[3], r[4], r[5].isoformat(), r[6]) for r in checked.others]
        inserted = conn.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                                    rows).rowcount
        if inserted == len(rows):
            return set()
        held = {key: payload for key, payload in conn.execute(
            f"SELECT key, payload FROM records WHERE key IN ({','.join('?' * len(rows))})", [r[0] for r in rows])}
        return {row[0] for row in rows if held.get(row[0]) != row[6]}

    def open_items(self) -> list[dict[str, Any]]:
        with self._lock:
            found = self.conn.execute(OPEN_ITEMS).fetchall()
        items = []
        for plant, station, kind, uid, payload, lot in found:
            lot_payload = json.loads(lot) if lot else {}
            items.append({"plant": plant, "station": station, "kind": kind, "uid": uid,
                          "payload": json.loads(payload), "lot_number": lot_payload.get("lot_number"),
                          "product": lot_payload.get("product")})
        return items

    def counts(self) -> dict[str, int]:
        with self._lock:
            m = self.conn.execute("SELECT count(*) FROM records WHERE kind = 'measurements'").fetchone()[0]
            r = self.conn.execute("SELECT count(*) FROM records WHERE kind <> 'measurements'").fetchone()[0]
        return {"measurements": m, "records": r}

    def keys(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self.conn.execute("SELECT key FROM records ORDER BY key")]


def _refuse_conflicts(checked: records.Checked, conflicts: set[str]) -> None:
    if conflicts:
        checked.seqs = [row[2] for row in checked.measurements + checked.others if row[0] not in conflicts]
        checked.rejected += [{"key": key, "reason": CONFLICT} for key in sorted(conflicts)]


def _advance(conn: sqlite3.Connection, station: str, high_water: int, seqs: list[int]) -> int:
    conn.executemany("INSERT INTO spans VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                     [(station, a, b) for a, b in runs(seqs) if b > high_water])
    while True:
        row = conn.execute("SELECT max(last_seq) FROM spans WHERE station = ? AND first_seq <= ? AND last_seq > ?",
                           (station, high_water + 1, high_water)).fetchone()
        if row[0] is None:
            break
        high_water = int(row[0])
    conn.execute("DELETE FROM spans WHERE station = ? AND last_seq <= ?", (station, high_water))
    conn.execute("UPDATE stations SET high_water = ?, last_seen_at = ? WHERE station = ?",
                 (high_water, time.time(), station))
    return high_water


OPEN_ITEMS = """
WITH latest AS (
  SELECT r.kind, r.station, r.uid, r.payload FROM records r
  WHERE r.kind IN ('nonconformities', 'holds')
    AND r.seq = (SELECT max(seq) FROM records x WHERE x.kind = r.kind AND x.station = r.station AND x.uid = r.uid))
SELECT s.plant, latest.station, latest.kind, latest.uid, latest.payload,
       (SELECT l.payload FROM records l WHERE l.kind = 'lots' AND l.station = latest.station
        AND l.uid = json_extract(latest.payload, '$.lot_uid') ORDER BY l.seq DESC LIMIT 1)
FROM latest JOIN stations s ON s.station = latest.station
WHERE json_extract(latest.payload, '$.status') = 'open'
ORDER BY s.plant, latest.station, latest.kind, json_extract(latest.payload, '$.opened_at')
"""
