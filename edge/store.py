"""The edge store: one SQLite file in WAL mode with synchronous=FULL, one writer thread, group commit.

Owns every SQL statement outside the migrations. Jobs (functions of a `Tx`) are queued to the single writer,
which runs as many as are waiting in one transaction, commits once, and only then acknowledges each: a
reading is never acknowledged before it is durable, and a burst of readings pays one fsync, not one each.
Readers get their own connections. Must not know the domain's rules: services decide, the store records.

    StoreError (edge.errors)
    ├── StoreSetupError     the file cannot be opened with the durability Lineside needs, or needs migrating
    ├── StoreClosedError    a job was submitted after the store closed
    └── StorageError        the disk refused the transaction (full: StorageFullError); see edge.storage
"""

from __future__ import annotations

import functools
import itertools
import logging
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from edge import audit, migrations, storage
from edge.errors import StoreClosedError, StoreError, StoreSetupError

log = logging.getLogger(__name__)
T = TypeVar("T")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_uid() -> str:
    return str(uuid.uuid4())


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection with the pragmas every connection needs; refuses a store without full durability."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    synchronous = conn.execute("PRAGMA synchronous").fetchone()[0]
    if mode.lower() != "wal" or synchronous != 2:
        conn.close()
        raise StoreSetupError(f"{path}: refusing to start: journal_mode={mode}, synchronous={synchronous} "
                              "(Lineside needs WAL and FULL so that an acknowledged record survives power loss)")
    return conn


class Tx:
    """What a job may do inside the writer's transaction: read, insert, update, audit and queue for HQ."""

    def __init__(self, conn: sqlite3.Connection, chain: audit.Chain, outbox_seq: int, origin: str):
        self.conn = conn
        self.chain = chain
        self.outbox_seq = outbox_seq
        self.origin = origin
        self.at = now()

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> dict[str, Any] | None:
        cursor = self.conn.execute(sql, params)
        row = cursor.fetchone()
        return dict(zip([c[0] for c in cursor.description], row, strict=True)) if row else None

    def all(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        cursor = self.conn.execute(sql, params)
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        return self.conn.execute(sql, params).rowcount

    def insert(self, table: str, record: dict[str, Any]) -> None:
        self.conn.execute(_insert_sql(table, tuple(record)), tuple(record.values()))

    def row(self, table: str, uid: str) -> dict[str, Any]:
        found = self.one(f"SELECT * FROM {table} WHERE uid = ?", (uid,))
        if found is None:
            raise StoreError(f"{table} has no row {uid}")
        return audit.row_record(found)

    def add(self, table: str, record: dict[str, Any], *, action: str, actor: str, station: str | None,
            reason: str | None = None, sync: bool = True) -> None:
        """Insert `record` with its audit event (and, with `sync`, its outbox entry for HQ)."""
        self.insert(table, record)
        self._note(table, record, None, action=action, actor=actor, station=station, reason=reason, sync=sync)

    def change(self, table: str, uid: str, changes: dict[str, Any], *, action: str, actor: str,
               station: str | None, reason: str | None = None, sync: bool = True) -> dict[str, Any]:
        """Update one row, auditing its state before and after; returns the row as it now is."""
        before = self.row(table, uid)
        assignments = ", ".join(f"{column} = ?" for column in changes)
        self.conn.execute(f"UPDATE {table} SET {assignments} WHERE uid = ?", (*changes.values(), uid))
        after = self.row(table, uid)
        self._note(table, after, before, action=action, actor=actor, station=station, reason=reason, sync=sync)
        return after

    def _note(self, table: str, record: dict[str, Any], before: dict[str, Any] | None, *, action: str,
              actor: str, station: str | None, reason: str | None, sync: bool) -> None:
        text = audit.canonical(record)
        self.audit(action=action, actor=actor, station=station, entity_type=table, entity_uid=record["uid"],
                   before=audit.canonical(before) if before is not None else None, after=text,
                   reason=reason, record_hash=audit.digest(text))
        if sync:
            self.outbox(table, record["uid"], text)

    def audit(self, **event: Any) -> None:
        event["uid"] = new_uid()
        event["at"] = self.at
        row = self.chain.link(event)
        self.conn.execute(
            "INSERT INTO audit_events (seq, uid, at, actor, station, action, entity_type, entity_uid, before, "
            "after, reason, record_hash, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            tuple(row[f] for f in (*audit.EVENT_FIELDS, "prev_hash", "hash")))

    def outbox(self, kind: str, uid: str, payload: str) -> None:
        self.outbox_seq += 1
        self.conn.execute("INSERT INTO outbox (seq, key, kind, uid, payload, created_at) VALUES (?,?,?,?,?,?)",
                          (self.outbox_seq, f"{self.origin}:{self.outbox_seq}", kind, uid, payload, self.at))


@functools.cache
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({','.join(columns)}) VALUES ({','.join('?' * len(columns))})"


Job = Callable[[Tx], Any]


class Store:
    """The store: `write(job)` through the one writer, `read()` for queries on this thread's connection."""

    def __init__(self, path: str | Path, *, origin: str = "edge", batch_max: int = 256, migrate: bool = False):
        self.path = Path(path)
        self.storage = storage.StorageState(self.path)  # whether the disk lets it record, and its probe
        self.origin = origin
        self.batch_max = batch_max
        self._conn = connect(self.path)
        self._prepare(migrate)
        self._readers = threading.local()
        self._readers_lock = threading.Lock()
        self._all_readers: list[sqlite3.Connection] = []
        self._queue: queue.SimpleQueue[tuple[Job, Future[Any]] | None] = queue.SimpleQueue()
        self._closed = False
        self.commits = itertools.count()
        self.commit_seconds = CommitStats()
        self.checkpoints = Checkpoints(self._conn, self.path.with_name(self.path.name + "-wal"))
        self._thread = threading.Thread(target=self._run, name="lineside-writer", daemon=True)
        self._thread.start()

    def _prepare(self, migrate: bool) -> None:
        if migrate:
            migrations.migrate(self._conn)
        elif todo := migrations.pending(self._conn):
            raise StoreSetupError(f"{self.path}: the store needs migrating ({', '.join(todo)}): "
                                  "run `lineside init`")
        self._chain = audit.Chain.load(self._conn)
        self._outbox_seq = self._conn.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM (SELECT seq FROM outbox UNION ALL "
            "SELECT seq FROM sqlite_sequence WHERE name = 'outbox')").fetchone()[0]

    # -- writing ---------------------------------------------------------------------------------------

    def submit(self, job: Callable[[Tx], T]) -> Future[T]:
        if self._closed:
            raise StoreClosedError(f"{self.path}: the store is closed")
        future: Future[T] = Future()
        self._queue.put((job, future))
        return future

    def write(self, job: Callable[[Tx], T]) -> T:
        """Run `job` in the writer's transaction; return its result once the commit is durable."""
        return self.submit(job).result()

    def _run(self) -> None:
        while (item := self._next()) is not None:
            batch = [item]
            while len(batch) < self.batch_max:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                batch.append(more)
            self._commit(batch)
            self.checkpoints.after_commit()

    def _next(self) -> tuple[Job, Future[Any]] | None:
        """The next job; while the disk refuses writes, probe it whenever no job comes for a while."""
        while True:
            try:
                return self._queue.get(timeout=self.storage.wait_s())
            except queue.Empty:
                self.storage.probe()

    def _commit(self, batch: list[tuple[Job, Future[Any]]]) -> None:
        try:
            results = self._transaction([job for job, _ in batch])
        except _JobFailed as failed:
            if storage.failure(failed.cause, self.path) is None:
                # One job failed: the batch was rolled back. Run each alone so only that one fails.
                for job, future in batch:
                    self._commit_one(job, future)
                return
            self._refuse(batch, failed.cause)
            return
        except Exception as exc:  # the commit itself failed (disk full, I/O error): nothing is acknowledged
            self._refuse(batch, exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)
        self.storage.committed()  # after the answers: a probe must not delay them

    def _commit_one(self, job: Job, future: Future[Any]) -> None:
        try:
            result = self._transaction([job])[0]
        except _JobFailed as failed:
            if storage.failure(failed.cause, self.path) is None:
                future.set_exception(failed.cause)
            else:
                self._refuse([(job, future)], failed.cause)
            return
        except Exception as exc:
            self._refuse([(job, future)], exc)
            return
        future.set_result(result)
        self.storage.committed()

    def _refuse(self, batch: list[tuple[Job, Future[Any]]], exc: Exception) -> None:
        """Answer every caller of a rolled-back transaction: the disk's failure (logged once, at the transition,
        by the storage state), or any other failure of the commit itself."""
        failure = storage.failure(exc, self.path)
        if failure is None:
            log.error("store commit failed: %s", exc)
        else:
            self.storage.failed(failure, len(batch))
        for _, future in batch:  # an exception each: each is raised in its own caller's thread
            future.set_exception(storage.failure(exc, self.path) or StoreError(f"{self.path}: not recorded: {exc}"))

    def _transaction(self, jobs: list[Job]) -> list[Any]:
        tx = Tx(self._conn, audit.Chain(self._chain.seq, self._chain.hash), self._outbox_seq, self.origin)
        began = time.perf_counter()
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            results = [self._run_job(job, tx) for job in jobs]
            self._conn.execute("COMMIT")
        except BaseException:
            # SQLite may already have rolled back (SQLITE_FULL, SQLITE_IOERR do): a ROLLBACK then would fail and
            # hide the error that matters.
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        self._chain, self._outbox_seq = tx.chain, tx.outbox_seq
        next(self.commits)
        self.commit_seconds.observe(time.perf_counter() - began, len(jobs))
        return results

    @staticmethod
    def _run_job(job: Job, tx: Tx) -> Any:
        try:
            return job(tx)
        except Exception as exc:
            raise _JobFailed(exc) from exc

    # -- reading ---------------------------------------------------------------------------------------

    def reader(self) -> sqlite3.Connection:
        conn = getattr(self._readers, "conn", None)
        if conn is None:
            conn = connect(self.path)
            conn.execute("PRAGMA query_only=ON")
            conn.row_factory = sqlite3.Row
            self._readers.conn = conn
            with self._readers_lock:
                self._all_readers.append(conn)
        return conn

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        return [dict(row) for row in self.reader().execute(sql, params)]

    def query_one(self, sql: str, params: tuple[Any, ...] = ()) -> dict[str, Any] | None:
        row = self.reader().execute(sql, params).fetchone()
        return dict(row) if row else None

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A consistent view across several queries."""
        conn = self.reader()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    # -- closing ---------------------------------------------------------------------------------------

    def close(self) -> None:
        """Finish every job already queued (so every acknowledged write is durable), then close."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        with self._readers_lock:
            for reader in self._all_readers:
                reader.close()
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:  # a full disk: the WAL keeps every commit, and the next open checkpoints it
            log.warning("%s: WAL not checkpointed at close (kept, checkpointed at the next start): %s", self.path, exc)
        self._conn.close()


class CommitStats:
    """Commit latency for /metrics: count, sum and the buckets of a Prometheus histogram (seconds)."""

    BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

    def __init__(self) -> None:
        self.count = 0
        self.jobs = 0
        self.sum_s = 0.0
        self.buckets = [0] * len(self.BUCKETS)

    def observe(self, seconds: float, jobs: int) -> None:
        self.count += 1
        self.jobs += jobs
        self.sum_s += seconds
        for index, bound in enumerate(self.BUCKETS):
            if seconds <= bound:
                self.buckets[index] += 1


class Checkpoints:
    """Keeps the WAL bounded while readers never stop. SQLite's automatic checkpoint (PASSIVE, every ~4 MiB)
    copies pages back but starts the WAL afresh only when no reader still uses it; with screens and the API
    reading all the time that moment may never come, and the WAL grew by 36 MiB in 30 s under 16 reading
    threads (tests/reliability/test_load.py). Past `limit_bytes` the writer runs a TRUNCATE checkpoint: once
    every page is copied back new readers read the database file, so it waits only for the readers already
    inside the WAL, at most `wait_ms`; when they take longer it tries again `retry_s` later. Runs on the
    writer's thread, between transactions."""

    LIMIT_BYTES = 16 * 2**20

    def __init__(self, conn: sqlite3.Connection, wal: Path, limit_bytes: int = LIMIT_BYTES, wait_ms: int = 200,
                 retry_s: float = 1.0):
        self.conn, self.wal, self.limit_bytes, self.wait_ms, self.retry_s = conn, wal, limit_bytes, wait_ms, retry_s
        self.truncated = self.busy = 0
        self._next_try = 0.0

    def after_commit(self) -> None:
        try:
            size = self.wal.stat().st_size
        except FileNotFoundError:
            return
        if size <= self.limit_bytes or time.monotonic() < self._next_try:
            return
        patience = self.conn.execute("PRAGMA busy_timeout").fetchone()[0]
        self.conn.execute(f"PRAGMA busy_timeout={self.wait_ms}")
        try:
            busy = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.Error as exc:  # never the writer's end: the next commit's check tries again
            log.warning("WAL checkpoint at %d bytes failed: %s", size, exc)
            busy = 1
        finally:
            self.conn.execute(f"PRAGMA busy_timeout={patience}")
        if busy:
            self.busy += 1
            self._next_try = time.monotonic() + self.retry_s
        else:
            self.truncated += 1


class _JobFailed(Exception):
    def __init__(self, cause: Exception):
        super().__init__(str(cause))
        self.cause = cause
