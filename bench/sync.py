"""Sync of N measurements from an edge outbox to PostgreSQL, against plain COPY of the same rows.

Raw: the measurement rows, already built as tuples in memory, COPYed with psycopg into a table of the same
shape (partitioned by month, same key) in one transaction: the floor for getting those rows into PostgreSQL.
Lineside: `SyncClient.run()` over the same rows sitting in a real edge outbox (SQLite, WAL, synchronous=FULL):
read in seq order, signed gzip batches over HTTP on loopback to the real receiver (uvicorn, a subprocess),
checked, COPYed to staging, INSERT ... ON CONFLICT DO NOTHING, acknowledged, and marked sent through the edge
store's single writer. Both are timed in the same run; only the ratio means anything on a shared machine.

    .venv/bin/python bench/sync.py [-n 1000000] [--batch 5000] [--dsn DSN]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.config import SyncSettings  # noqa: E402
from edge.store import Store  # noqa: E402
from sync.client import SyncClient  # noqa: E402
from sync.receiver import records  # noqa: E402
from sync.receiver.store import M_COLUMNS, PgStore  # noqa: E402

STATION = "bench-plant.line-1"
SECRET = "bench-secret-0123456789"
START = datetime(2026, 11, 1, tzinfo=UTC)


def payload(i: int) -> tuple[str, str]:
    """A measurement record shaped like the ones edge.measurements writes (canonical JSON), and its time."""
    at = (START + timedelta(seconds=i * 2)).isoformat(timespec="microseconds").replace("+00:00", "Z")
    uid, value = str(uuid.UUID(int=i + 1)), f"{12 + (i % 40 - 20) / 1000:.3f}"
    record = {"actor": "olly", "characteristic": "bore-dia", "device": "caliper-op10", "flag": None,
              "gauge": "MIC-0007", "gauge_due": "2027-03-31", "lot_uid": str(uuid.UUID(int=10**12 + i // 500)),
              "plan_hash": "9f" * 32, "plan_revision": "A", "raw_unit": "mm", "raw_value": value,
              "reason": None, "recorded_at": at, "sample": i % 500 + 1, "serial": None, "station": "op-10",
              "supersedes": None, "uid": uid, "unit": "mm", "value": value, "verdict": "pass"}
    return uid, json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fill_outbox(store: Store, n: int) -> None:
    chunk = 20_000
    for first in range(0, n, chunk):
        def job(tx, first=first):
            for i in range(first, min(n, first + chunk)):
                uid, text = payload(i)
                tx.outbox("measurements", uid, text)
        store.write(job)


def raw_rows(store: Store) -> list[tuple]:
    """The same rows as the receiver stores them, built before the clock starts."""
    checked = records.check(STATION, [
        {"key": k, "seq": s, "kind": kind, "uid": u, "created_at": c, "payload": p}
        for k, s, kind, u, c, p in store.reader().execute(
            "SELECT key, seq, kind, uid, created_at, payload FROM outbox ORDER BY seq")])
    return checked.measurements


def raw_copy(dsn: str, schema: str, rows: list[tuple]) -> float:
    names = ", ".join(M_COLUMNS)
    with psycopg.connect(dsn, options=f"-c search_path={schema}") as conn:
        conn.execute("CREATE TABLE raw_measurements (LIKE measurements INCLUDING DEFAULTS, "
                     "PRIMARY KEY (key, recorded_at)) PARTITION BY RANGE (recorded_at)")
        for year, month in sorted({(r[10].year, r[10].month) for r in rows}):
            end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
            conn.execute(f"CREATE TABLE raw_y{year}m{month:02d} PARTITION OF raw_measurements FOR VALUES FROM "
                         f"('{datetime(year, month, 1, tzinfo=UTC).isoformat()}') TO ('{end.isoformat()}')")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY raw_measurements ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_receiver(dsn: str, schema: str, port: int) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "edge.cli", "hq", "serve", "--dsn", dsn, "--schema", schema,
                               "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL)
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).raise_for_status()
            return server
        except httpx.HTTPError:
            time.sleep(0.05)
    server.kill()
    raise SystemExit("the receiver did not start")


def lineside_sync(store: Store, port: int, batch: int) -> tuple[float, object]:
    settings = SyncSettings(hq_url=f"http://127.0.0.1:{port}", secret=SECRET, batch_records=batch,
                            batch_bytes=64 * 1024 * 1024, timeout_s=120)
    client = SyncClient(store, settings, STATION)
    started = time.perf_counter()
    result = client.run()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1_000_000, help="measurements (default 1,000,000)")
    parser.add_argument("--batch", type=int, default=5000, help="records per batch (default 5000)")
    parser.add_argument("--dsn", default=os.environ.get("LINESIDE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    schema = f"bench_sync_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "edge.db", origin=STATION, migrate=True)
        hq = PgStore.open(args.dsn, schema)
        hq.add_station(STATION, SECRET)
        server = None
        try:
            fill_outbox(store, args.n)
            raw_s = raw_copy(args.dsn, schema, raw_rows(store))
            server = start_receiver(args.dsn, schema, free_port())
            port = int(server.args[-1])
            lineside_s, result = lineside_sync(store, port, args.batch)
            held = hq.counts()["measurements"]
        finally:
            if server:
                server.terminate()
                server.wait()
            hq.close()
            store.close()
            with psycopg.connect(args.dsn, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
    report(args.n, args.batch, raw_s, lineside_s, result, held)


def report(n: int, batch: int, raw_s: float, lineside_s: float, result: object, held: int) -> None:
    raw_rate, lineside_rate = n / raw_s, n / lineside_s
    print(f"sync of {n:,} measurements to PostgreSQL (batches of {batch:,}, signed, gzip, idempotent)")
    print(f"  raw COPY        {raw_s:8.2f} s  {raw_rate:10,.0f} rows/s")
    print(f"  Lineside sync   {lineside_s:8.2f} s  {lineside_rate:10,.0f} rows/s  ({result})")
    print(f"  ratio           {lineside_rate / raw_rate:8.2f}  (target >= 0.3)")
    if held != n:
        raise SystemExit(f"HQ holds {held:,} measurements, not {n:,}")


if __name__ == "__main__":
    main()
