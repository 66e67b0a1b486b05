"""HQ's store on PostgreSQL (psycopg 3): stations and secrets, nonces, batches and their acks, the records.

Owns every SQL statement of the receiver. A batch is stored in one transaction: COPY into a temporary staging
table, then INSERT ... ON CONFLICT DO NOTHING on the record key, so a replayed batch changes nothing; the ack is
kept under the batch's idempotency key and given again, word for word, to a retransmission. Must not know HTTP.

    HqStoreError
    ├── UnknownStationError    the station is not registered (`lineside hq station add`)
    └── ReplayError            this station already used this nonce: a captured request sent again
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from sync import wire
from sync.receiver import migrations, records
from sync.receiver.records import KINDS, MEASUREMENT_FIELDS

SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
NONCE_KEEP_S = 2 * wire.CLOCK_SKEW_S  # a nonce older than this is refused as stale anyway
M_COLUMNS = ("key", "station", "seq", "uid", *MEASUREMENT_FIELDS, "recorded_at", "payload")
R_COLUMNS = ("key", "station", "seq", "kind", "uid", "created_at", "payload")


class HqStoreError(Exception):
    """Base of the HQ store's errors."""


class UnknownStationError(HqStoreError):
    pass


class ReplayError(HqStoreError):
    pass


class HqStore(Protocol):
    """What the receiver needs of a store: `PgStore` in production, `embedded.SqliteHqStore` for the demo."""

    kinds: frozenset[str]

    def add_station(self, station: str, secret: str, plant: str | None = None) -> None: ...
    def secret(self, station: str) -> str: ...
    def station(self, station: str) -> dict[str, Any]: ...
    def use_nonce(self, station: str, nonce: str) -> None: ...
    def receive(self, station: str, batch_key: str, body: bytes, batch: list[Any]
                ) -> tuple[dict[str, Any], bool]: ...
    def open_items(self) -> list[dict[str, Any]]: ...
    def counts(self) -> dict[str, int]: ...
    def keys(self) -> list[str]: ...
    def close(self) -> None: ...


class PgStore:
    """The receiver's store: `open(dsn, schema)` migrates and pools; every method is one transaction."""

    def __init__(self, pool: ConnectionPool, kinds: frozenset[str] = KINDS):
        self.pool = pool
        self.kinds = kinds
        self._partitions: set[tuple[int, int]] = set()

    @classmethod
    def open(cls, dsn: str, schema: str = "lineside", *, kinds: frozenset[str] = KINDS, max_size: int = 8
             ) -> PgStore:
        if not SCHEMA.match(schema):
            raise HqStoreError(f"schema name {schema!r} must be lower-case letters, digits and _")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        pool = ConnectionPool(dsn, min_size=1, max_size=max_size, open=True,
                              kwargs={"autocommit": True, "options": f"-c search_path={schema}",
                                      "application_name": "lineside-hq"})
        with pool.connection() as conn:
            migrations.migrate(conn)
        return cls(pool, kinds)

    def close(self) -> None:
        self.pool.close()

    # -- stations ----------------------------------------------------------------------------------------------

    def add_station(self, station: str, secret: str, plant: str | None = None) -> None:
        """Register a station (or give it a new secret); its plant defaults to the part before the first dot."""
        with self.pool.connection() as conn:
            conn.execute("INSERT INTO stations (station, plant, secret) VALUES (%s, %s, %s) ON CONFLICT (station) "
                         "DO UPDATE SET secret = excluded.secret, plant = excluded.plant",
                         (station, plant or station.split(".")[0], secret))

    def secret(self, station: str) -> str:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT secret FROM stations WHERE station = %s", (station,)).fetchone()
        if row is None:
            raise UnknownStationError(f"unknown station {station!r}")
        return str(row[0])

    def station(self, station: str) -> dict[str, Any]:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT station, plant, high_water, last_seen_at FROM stations WHERE station = %s",
                               (station,)).fetchone()
        if row is None:
            raise UnknownStationError(f"unknown station {station!r}")
        return {"station": row[0], "plant": row[1], "high_water": row[2],
                "last_seen_at": row[3].isoformat() if row[3] else None}

    def use_nonce(self, station: str, nonce: str) -> None:
        """Remember a nonce for as long as its timestamp could pass; raises ReplayError if already seen."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("DELETE FROM nonces WHERE station = %s AND seen_at < now() - make_interval(secs => %s)",
                         (station, NONCE_KEEP_S))
            if not conn.execute("INSERT INTO nonces (station, nonce) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                                (station, nonce)).rowcount:
                raise ReplayError(f"nonce {nonce} was already used by station {station!r}")

    # -- batches -------------------------------------------------------------------------------------------

    def receive(self, station: str, batch_key: str, body: bytes, batch: list[Any]) -> tuple[dict[str, Any], bool]:
        """Store a batch's acceptable records; returns (ack, replayed). The same batch again changes nothing."""
        digest = hashlib.sha256(body).hexdigest()
        try:
            return self._receive(station, batch_key, digest, batch)
        except BaseException:
            self._partitions.clear()  # a partition created in a rolled-back transaction is gone again
            raise

    def _receive(self, station: str, batch_key: str, digest: str, batch: list[Any]) -> tuple[dict[str, Any], bool]:
        with self.pool.connection() as conn, conn.transaction():
            high_water = self._lock_station(conn, station)
            kept = conn.execute("SELECT body_sha256, ack FROM batches WHERE batch_key = %s AND station = %s",
                                (batch_key, station)).fetchone()
            if kept and kept[0] == digest and not kept[1]["rejected"]:
                return kept[1], True
            seqs, rejected = self._store(conn, station, batch)
            ack = {"format": wire.FORMAT, "station": station, "batch": batch_key, "records": len(batch),
                   "stored": len(seqs), "rejected": rejected,
                   "high_water": self._advance(conn, station, high_water, seqs)}
            conn.execute("INSERT INTO batches (batch_key, station, body_sha256, ack) VALUES (%s, %s, %s, %s) "
                         "ON CONFLICT (batch_key) DO UPDATE SET body_sha256 = excluded.body_sha256, "
                         "ack = excluded.ack, received_at = now()", (batch_key, station, digest, Jsonb(ack)))
        return ack, False

    def _lock_station(self, conn: psycopg.Connection, station: str) -> int:
        # One batch of a station at a time: the high-water mark and the spans move together.
        row = conn.execute("SELECT high_water FROM stations WHERE station = %s FOR UPDATE", (station,)).fetchone()
        if row is None:
            raise UnknownStationError(f"unknown station {station!r}")
        return int(row[0])

    def _store(self, conn: psycopg.Connection, station: str, batch: list[Any]) -> tuple[list[int], list[Any]]:
        """Store what can be stored; returns the seqs now held and the rejections, in batch order."""
        rows, rejected = records.check_envelopes(station, batch, self.kinds)
        try:
            with conn.transaction():  # a savepoint: what the fast path cannot take undoes only this
                seqs, refused = self._store_fast(conn, rows)
            return seqs, _in_order(batch, rejected + refused)
        except (psycopg.errors.DataError, psycopg.errors.CheckViolation):
            # A payload that is not JSON, a time PostgreSQL cannot read, a month with no partition yet:
            # judge every record in Python, so each bad one is named and the rest stored.
            self._partitions.clear()  # any made in the savepoint are gone with it
            checked = records.check(station, batch, self.kinds)
            self._copy(conn, checked)
            return checked.seqs, checked.rejected

    def _store_fast(self, conn: psycopg.Connection, rows: list[tuple[Any, ...]]) -> tuple[list[int], list[Any]]:
        """Stage the rows as they came; one INSERT per table parses, checks and splits each payload once."""
        conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS stage_batch ({STAGE_COLUMNS}) ON COMMIT DELETE ROWS")
        with conn.cursor() as cur, cur.copy(f"COPY stage_batch ({', '.join(R_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        self._ensure_partitions(conn, _month_hints(rows))
        inserted = conn.execute(FAST_MEASUREMENTS).rowcount + conn.execute(FAST_RECORDS).rowcount
        if inserted == len(rows):
            return [row[2] for row in rows], []
        # Some rows were not inserted: invalid payloads (named by the database), or keys held already.
        refused = [{"key": key, "reason": reason} for key, reason in conn.execute(FAST_REASONS)]
        invalid = {r["key"] for r in refused}
        refused += _conflicts(conn, "stage_batch", [row[0] for row in rows if row[0] not in invalid])
        refused_keys = {r["key"] for r in refused}
        return [row[2] for row in rows if row[0] not in refused_keys], refused

    def _copy(self, conn: psycopg.Connection, checked: records.Checked) -> None:
        """The slow path's insert: rows already judged in Python; keys held with other content are refused."""
        conflicts: list[dict[str, str]] = []
        if checked.measurements:
            self._ensure_partitions(conn, checked.months)
            conflicts += _stage_and_insert(conn, "measurements", M_COLUMNS, checked.measurements)
        if checked.others:
            conflicts += _stage_and_insert(conn, "records", R_COLUMNS, checked.others)
        if conflicts:
            bad = {c["key"] for c in conflicts}
            checked.seqs = [seq for row, seq in _keyed_seqs(checked) if row not in bad]
            checked.rejected += conflicts

    def _ensure_partitions(self, conn: psycopg.Connection, months: Iterable[tuple[int, int]]) -> None:
        for year, month in sorted(set(months) - self._partitions):
            start = datetime(year, month, 1, tzinfo=UTC)
            end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
            with conn.transaction():  # a savepoint: the lock is held to the end of the outer transaction
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.partitions'))")
                conn.execute(f"CREATE TABLE IF NOT EXISTS measurements_y{year}m{month:02d} PARTITION OF "
                             f"measurements FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')")
            self._partitions.add((year, month))

    def _advance(self, conn: psycopg.Connection, station: str, high_water: int, seqs: list[int]) -> int:
        """Fold this batch's seqs into the station's high-water mark: every seq up to it is held here."""
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO spans (station, first_seq, last_seq) VALUES (%s, %s, %s) "
                            "ON CONFLICT DO NOTHING", [(station, a, b) for a, b in runs(seqs) if b > high_water])
        while True:
            row = conn.execute("SELECT max(last_seq) FROM spans WHERE station = %s AND first_seq <= %s "
                               "AND last_seq > %s", (station, high_water + 1, high_water)).fetchone()
            if row is None or row[0] is None:
                break
            high_water = int(row[0])
        conn.execute("DELETE FROM spans WHERE station = %s AND last_seq <= %s", (station, high_water))
        conn.execute("UPDATE stations SET high_water = %s, last_seen_at = now() WHERE station = %s",
                     (high_water, station))
        return high_water

    # -- reading ------------------------------------------------------------------------------------------

    def open_items(self) -> list[dict[str, Any]]:
        """Open nonconformities and holds across stations and plants, as their latest versions say."""
        with self.pool.connection() as conn:
            cursor = conn.execute(OPEN_ITEMS)
            names = [c.name for c in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def counts(self) -> dict[str, int]:
        with self.pool.connection() as conn:
            m = conn.execute("SELECT count(*) FROM measurements").fetchone()
            r = conn.execute("SELECT count(*) FROM records").fetchone()
        return {"measurements": int(m[0]) if m else 0, "records": int(r[0]) if r else 0}

    def keys(self) -> list[str]:
        """Every record key held, sorted: for checks and tests, not for large stores."""
        with self.pool.connection() as conn:
            return [r[0] for r in conn.execute("SELECT key FROM measurements UNION ALL SELECT key FROM records "
                                               "ORDER BY key")]


def _month_hints(rows: list[tuple[Any, ...]]) -> set[tuple[int, int]]:
    """The months of the measurements, read from canonical payload text without parsing it. Only a hint: a row
    of another month finds no partition, and the batch takes the slow path, which reads every time exactly."""
    months = set()
    for row in rows:
        at = row[6].find('"recorded_at":"') if row[3] == "measurements" else -1
        if at >= 0 and (month := row[6][at + 15:at + 22]).replace("-", "").isdigit():
            year, number = int(month[:4]), int(month[5:7])
            if 1 <= number <= 12 and 1 <= year <= 9999:
                months.add((year, number))
    return months


def _keyed_seqs(checked: records.Checked) -> list[tuple[str, int]]:
    return sorted(((row[0], row[2]) for row in checked.measurements + checked.others), key=lambda pair: pair[1])


def _conflicts(conn: psycopg.Connection, stage: str, keys: list[str]) -> list[dict[str, str]]:
    """Of these already-held keys, those HQ holds with a different record: refused, never overwritten."""
    found = conn.execute(f"SELECT s.key FROM {stage} s WHERE s.key = ANY(%s) AND NOT EXISTS ("
                         "SELECT 1 FROM measurements m WHERE m.key = s.key AND m.payload = s.payload::jsonb "
                         "UNION ALL SELECT 1 FROM records r WHERE r.key = s.key AND r.payload = s.payload::jsonb) "
                         "ORDER BY s.seq", (keys,))
    return [{"key": key, "reason": CONFLICT} for (key,) in found]


CONFLICT = ("HQ already holds this key with a different record; nothing was overwritten (was the edge's store "
            "restored from a backup, or do two edges share one site and line id?)")


def _stage_and_insert(conn: psycopg.Connection, table: str, columns: tuple[str, ...],
                      rows: list[tuple[Any, ...]]) -> list[dict[str, str]]:
    names = ", ".join(columns)
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS stage_{table} (LIKE {table} INCLUDING DEFAULTS) "
                 "ON COMMIT DELETE ROWS")
    with conn.cursor() as cur, cur.copy(f"COPY stage_{table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    new = {r[0] for r in conn.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM stage_{table} "
                                      "ON CONFLICT DO NOTHING RETURNING key")}
    if len(new) == len(rows):
        return []
    return _conflicts(conn, f"stage_{table}", [row[0] for row in rows if row[0] not in new])


def _in_order(batch: list[Any], rejected: list[dict[str, str]]) -> list[dict[str, str]]:
    position = {r.get("key"): i for i, r in enumerate(batch) if isinstance(r, dict)}
    return sorted(rejected, key=lambda r: position.get(r["key"], -1))


def runs(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Contiguous runs of seqs, as (first, last) pairs."""
    found: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if found and seq == found[-1][1] + 1:
            found[-1] = (found[-1][0], seq)
        else:
            found.append((seq, seq))
    return found


STAGE_COLUMNS = "key text, station text, seq bigint, kind text, uid text, created_at timestamptz, payload text"
ISO_TIME = r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d(:?\d\d)?)$"
# Each payload is parsed once (OFFSET 0 keeps the parsed value from being inlined, and parsed, per use).
PARSED = ("(SELECT key, station, seq, kind, uid, created_at, payload::jsonb AS j FROM stage_batch WHERE {where} "
          "OFFSET 0) AS p")
VALID = "jsonb_typeof(j) = 'object' AND j->>'uid' = uid"
FAST_MEASUREMENTS = f"""
INSERT INTO measurements ({", ".join(M_COLUMNS)})
SELECT key, station, seq, uid, {", ".join(f"j->>'{f}'" for f in MEASUREMENT_FIELDS)},
       (j->>'recorded_at')::timestamptz, j
FROM {PARSED.format(where="kind = 'measurements'")} WHERE {VALID} AND j->>'recorded_at' ~ '{ISO_TIME}'
ON CONFLICT DO NOTHING"""
FAST_RECORDS = f"""
INSERT INTO records ({", ".join(R_COLUMNS)}) SELECT key, station, seq, kind, uid, created_at, j
FROM {PARSED.format(where="kind <> 'measurements'")} WHERE {VALID} ON CONFLICT DO NOTHING"""
FAST_REASONS = f"""
SELECT key, reason FROM (
  SELECT key, seq, CASE
    WHEN jsonb_typeof(j) <> 'object' THEN 'payload must be a JSON object'
    WHEN j->>'uid' IS DISTINCT FROM uid
      THEN format('payload uid %L differs from the record''s uid %L', j->>'uid', uid)
    WHEN kind = 'measurements' AND NOT coalesce(j->>'recorded_at' ~ '{ISO_TIME}', false)
      THEN format('payload recorded_at must be an ISO-8601 time with a UTC offset, not %L', j->>'recorded_at')
  END AS reason FROM {PARSED.format(where="true")}) AS judged
WHERE reason IS NOT NULL ORDER BY seq"""

OPEN_ITEMS = """
SELECT s.plant, latest.station, latest.kind, latest.uid, latest.payload, lot.payload->>'lot_number' AS lot_number,
       lot.payload->>'product' AS product
FROM (SELECT DISTINCT ON (kind, station, uid) kind, station, uid, seq, payload FROM records
      WHERE kind IN ('nonconformities', 'holds') ORDER BY kind, station, uid, seq DESC) AS latest
JOIN stations s ON s.station = latest.station
LEFT JOIN LATERAL (SELECT payload FROM records l WHERE l.kind = 'lots' AND l.station = latest.station
                   AND l.uid = latest.payload->>'lot_uid' ORDER BY seq DESC LIMIT 1) AS lot ON true
WHERE latest.payload->>'status' = 'open'
ORDER BY s.plant, latest.station, latest.kind, latest.payload->>'opened_at'
"""
