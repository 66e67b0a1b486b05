"""Sync of N measurements from an edge outbox to PostgreSQL, against plain COPY of the same rows.

Raw: the measurement rows, already built as tuples in memory, COPYed with psycopg into a table of the same
shape (partitioned by month, same key) in one transaction: the floor for getting those rows into PostgreSQL.
Lineside: `SyncClient.run()` over the same rows sitting in a real edge outbox (SQLite, WAL, synchronous=FULL):
read in seq order, signed gzip batches over HTTP on loopback to the real receiver (uvicorn, a subprocess),
checked, COPYed to staging, INSERT ... ON CONFLICT DO NOTHING, acknowledged, and marked sent through the edge
store's single writer. Both are timed in the same run, in alternating rounds (N/rounds rows each) so that the
host's drift falls on both alike; only the ratio means anything on a shared machine. Client, receiver and
PostgreSQL are not pinned: the client reads and encodes the next batch while HQ stores the one before.

Besides wall time, the CPU time of every process on each path is summed (the Python client, the receiver
process, the PostgreSQL backends serving each): on a machine other work loads, wall time penalises the path
that spreads over more processes, while CPU time per row stays what the path costs.

    .venv/bin/python bench/sync.py [-n 1000000] [--rounds 5] [--batch 5000] [--dsn DSN]
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
from sync.client import RunResult, SyncClient  # noqa: E402
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


def fill_outbox(store: Store, first: int, count: int) -> None:
    chunk = 20_000
    for start in range(first, first + count, chunk):
        def job(tx, start=start):
            for i in range(start, min(first + count, start + chunk)):
                uid, text = payload(i)
                tx.outbox("measurements", uid, text)
        store.write(job)


def raw_rows(store: Store, after_seq: int) -> list[tuple]:
    """The same rows as the receiver stores them, built before the clock starts."""
    checked = records.check(STATION, [
        {"key": k, "seq": s, "kind": kind, "uid": u, "created_at": c, "payload": p}
        for k, s, kind, u, c, p in store.reader().execute(
            "SELECT key, seq, kind, uid, created_at, payload FROM outbox WHERE seq > ? ORDER BY seq", (after_seq,))])
    return checked.measurements


def create_raw_table(conn: psycopg.Connection, n: int) -> None:
    # The same table as HQ's: columns, key, partitions and the lot index (sync.receiver.migrations).
    conn.execute("CREATE TABLE raw_measurements (LIKE measurements INCLUDING DEFAULTS, "
                 "PRIMARY KEY (key, recorded_at)) PARTITION BY RANGE (recorded_at)")
    conn.execute("CREATE INDEX raw_measurements_lot ON raw_measurements (lot_uid, characteristic)")
    last = START + timedelta(seconds=n * 2)
    months = {(START.year, START.month)} | {(y, m) for y in range(START.year, last.year + 1) for m in range(1, 13)
                                             if (START.year, START.month) <= (y, m) <= (last.year, last.month)}
    for year, month in sorted(months):
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        conn.execute(f"CREATE TABLE raw_y{year}m{month:02d} PARTITION OF raw_measurements FOR VALUES FROM "
                     f"('{datetime(year, month, 1, tzinfo=UTC).isoformat()}') TO ('{end.isoformat()}')")
    conn.commit()


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process on this machine (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Meter:
    """Wall and CPU seconds of a path: this process plus the other processes that serve it, by part."""

    def __init__(self, parts: dict[str, list[int]]):
        self.parts = parts
        self.wall_s = 0.0
        self.part_cpu_s = dict.fromkeys(["client", *parts], 0.0)

    @property
    def cpu_s(self) -> float:
        return sum(self.part_cpu_s.values())

    def __enter__(self) -> Meter:
        self._wall, self._cpu = time.perf_counter(), self._now_cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s += time.perf_counter() - self._wall
        for part, seconds in self._now_cpu().items():
            self.part_cpu_s[part] += seconds - self._cpu[part]

    def _now_cpu(self) -> dict[str, float]:
        return {"client": time.process_time(),
                **{part: sum(process_cpu_s(pid) for pid in pids) for part, pids in self.parts.items()}}

    def breakdown(self, n: int) -> str:
        return ", ".join(f"{part} {seconds / n * 1e6:.1f}" for part, seconds in self.part_cpu_s.items())


def backend_pids(conn: psycopg.Connection, application: str) -> list[int]:
    return [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                                       (application,))]


def raw_copy(conn: psycopg.Connection, rows: list[tuple]) -> None:
    names = ", ".join(M_COLUMNS)
    with conn.cursor() as cur, cur.copy(f"COPY raw_measurements ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    conn.commit()


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


def lineside_sync(client: SyncClient) -> RunResult:
    result = client.run()
    if result.outcome != "ok":
        raise SystemExit(f"sync failed: {result.error}")
    return result


def rounds(store: Store, client: SyncClient, conn: psycopg.Connection, server_pid: int, n: int, count: int
           ) -> tuple[Meter, Meter]:
    """Alternate raw COPY and Lineside sync over `count` rounds of n/count new rows."""
    client.high_water()  # opens the receiver's pool connections, so that their backends can be metered
    raw = Meter({"postgres": [conn.info.backend_pid]})
    lineside = Meter({"receiver": [server_pid], "postgres": backend_pids(conn, "lineside-hq")})
    done = 0
    for index in range(count):
        size = n // count + (1 if index < n % count else 0)
        fill_outbox(store, done, size)
        rows = raw_rows(store, done)
        with raw:
            raw_copy(conn, rows)
        with lineside:
            result = lineside_sync(client)
        done += size
        print(f"  round {index + 1}/{count}: {size:,} rows, {result.batches} batches", flush=True)
    return raw, lineside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1_000_000, help="measurements (default 1,000,000)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--batch", type=int, default=5000, help="records per batch (default 5000)")
    parser.add_argument("--dsn", default=os.environ.get("LINESIDE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    schema = f"bench_sync_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "edge.db", origin=STATION, migrate=True)
        hq = PgStore.open(args.dsn, schema)
        hq.add_station(STATION, SECRET)
        server = start_receiver(args.dsn, schema, free_port())
        try:
            settings = SyncSettings(hq_url=f"http://127.0.0.1:{server.args[-1]}", secret=SECRET,
                                    batch_records=args.batch, batch_bytes=64 * 1024 * 1024, timeout_s=120)
            with psycopg.connect(args.dsn, options=f"-c search_path={schema}",
                                 application_name="lineside-bench-raw") as conn:
                create_raw_table(conn, args.n)
                raw, lineside = rounds(store, SyncClient(store, settings, STATION), conn, server.pid, args.n,
                                       args.rounds)
            held = hq.counts()["measurements"]
        finally:
            if server:
                server.terminate()
                server.wait()
            hq.close()
            store.close()
            with psycopg.connect(args.dsn, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
    report(args.n, args.batch, raw, lineside, held)


def report(n: int, batch: int, raw: Meter, lineside: Meter, held: int) -> None:
    print(f"sync of {n:,} measurements to PostgreSQL (batches of {batch:,}, signed, gzip, idempotent)")
    print(f"  raw COPY        wall {raw.wall_s:7.2f} s {n / raw.wall_s:9,.0f} rows/s   "
          f"CPU {raw.cpu_s:7.2f} s {raw.cpu_s / n * 1e6:6.1f} us/row ({raw.breakdown(n)})")
    print(f"  Lineside sync   wall {lineside.wall_s:7.2f} s {n / lineside.wall_s:9,.0f} rows/s   "
          f"CPU {lineside.cpu_s:7.2f} s {lineside.cpu_s / n * 1e6:6.1f} us/row ({lineside.breakdown(n)})")
    print(f"  ratio (Lineside / raw rows per second): wall {raw.wall_s / lineside.wall_s:.2f}, "
          f"CPU {raw.cpu_s / lineside.cpu_s:.2f}  (target >= 0.3)")
    if held != n:
        raise SystemExit(f"HQ holds {held:,} measurements, not {n:,}")


if __name__ == "__main__":
    main()
