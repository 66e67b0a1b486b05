"""Reading to durable, audited record: Lineside's path against plain sqlite3 inserts of the same rows.

Prints the raw baseline (sqlite3 executemany of a measurement, an audit event and an outbox row per reading, WAL,
synchronous=FULL, at the batch size Lineside's group commit reached), Lineside's figure through the services
(validation, unit conversion, verdict, gauge check, hash chain, outbox) with concurrent producers, and their ratio,
all from the same run. Usage: python bench/ingest.py [--readings N] [--producers P]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge import auth, lots, migrations, plans  # noqa: E402
from edge.config import load  # noqa: E402
from edge.core import open_core  # noqa: E402
from edge.measurements import MeasurementInput, record_measurements  # noqa: E402
from edge.store import connect  # noqa: E402


def raw_rows(i: int) -> tuple[tuple, tuple, tuple]:
    """The rows one reading leaves: a measurement, its audit event and its outbox entry, as Lineside writes them."""
    uid = str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC).isoformat()
    record = {"uid": uid, "lot_uid": "lot", "characteristic": "length", "plan_revision": "A", "plan_hash": "h",
              "sample": i + 1, "serial": None, "value": "80.00", "unit": "mm", "raw_value": "80.00", "raw_unit": "mm",
              "verdict": "pass", "gauge": "CAL-0042", "gauge_due": "2027-06-30", "flag": None, "device": None,
              "station": "op-10", "actor": "sue", "recorded_at": now, "supersedes": None, "reason": None}
    text = json.dumps(record, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(text.encode()).hexdigest()
    return (tuple(record.values()),
            (i + 1, str(uuid.uuid4()), now, "sue", "op-10", "measurement.recorded", "measurements", uid, None, text,
             None, digest, digest, digest),
            (i + 1, f"edge:{i + 1}", "measurements", uid, text, now))


def raw_baseline(folder: Path, readings: int, batch: int) -> float:
    """Plain executemany of the same rows into the same schema (tables, indexes), same durability."""
    path = folder / "raw.db"
    migrations.migrate(connect(path))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    insert = f"INSERT INTO measurements ({','.join(MEASUREMENT_COLUMNS)}) VALUES ({','.join('?' * 21)})"
    rows = [raw_rows(i) for i in range(readings)]
    start = time.perf_counter()
    for offset in range(0, readings, batch):
        chunk = rows[offset:offset + batch]
        conn.execute("BEGIN")
        conn.executemany(insert, [r[0] for r in chunk])
        conn.executemany("INSERT INTO audit_events (seq, uid, at, actor, station, action, entity_type, entity_uid, "
                         "before, after, reason, record_hash, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                         [r[1] for r in chunk])
        conn.executemany("INSERT INTO outbox (seq, key, kind, uid, payload, created_at) VALUES (?,?,?,?,?,?)",
                         [r[2] for r in chunk])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return readings / elapsed


MEASUREMENT_COLUMNS = ("uid", "lot_uid", "characteristic", "plan_revision", "plan_hash", "sample", "serial", "value",
                       "unit", "raw_value", "raw_unit", "verdict", "gauge", "gauge_due", "flag", "device", "station",
                       "actor", "recorded_at", "supersedes", "reason")


def lineside(folder: Path, readings: int, producers: int, scan: int) -> tuple[float, float, list[float]]:
    """Producers record `scan` readings per call (1: one reading a call, as a manual entry does)."""
    config = load(ROOT / "examples" / "line.toml")
    core = open_core(config, folder / "edge.db", migrate=True)
    core.today = lambda: dt.date(2026, 12, 1)
    auth.add_user(core.store, "sue", "supervisor", "bench-secret")
    sue = auth.authenticate(core.store, "sue", "bench-secret", station="op-10")
    plans.approve(core.store, config, sue, "bench-secret", "BRK-100", "A")
    lots.open_lot(core, sue, product="BRK-100", lot="BENCH", quantity=readings)
    latencies: list[float] = []
    per_producer = readings // producers

    def produce() -> None:
        mine = []
        batch = [MeasurementInput("length", "80.00")] * scan
        for _ in range(per_producer // scan):
            began = time.perf_counter()
            record_measurements(core, sue, "BENCH", batch)
            mine.append(time.perf_counter() - began)
        latencies.extend(mine)

    threads = [threading.Thread(target=produce) for _ in range(producers)]
    commits_before = next(core.store.commits)
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    commits = next(core.store.commits) - commits_before - 1
    core.close()
    done = per_producer // scan * scan * producers
    return done / elapsed, done / max(commits, 1), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=20_000)
    parser.add_argument("--producers", type=int, default=8)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(dir=ROOT) as tmp:
        for scan, producers in ((1, 16), (50, args.producers)):
            folder = Path(tempfile.mkdtemp(dir=tmp))
            ours, batch, latencies = lineside(folder, args.readings, producers, scan)
            raw = raw_baseline(folder, args.readings, max(1, round(batch)))
            results.append(report(scan, producers, ours, batch, latencies, raw))
    print(json.dumps({"bench": "ingest", "results": results}))


def report(scan: int, producers: int, ours: float, batch: float, latencies: list[float], raw: float) -> dict:
    p99_ms = statistics.quantiles(latencies, n=100)[98] * 1000 if len(latencies) > 1 else latencies[0] * 1000
    path = "one reading per call (manual entry, API)" if scan == 1 else f"scans of {scan} readings (devices)"
    print(f"== {path}, {producers} concurrent producers; mean group commit: {batch:.1f} readings")
    print(f"   raw sqlite3 executemany at batch {round(batch)}: {raw:,.0f} readings/s ({3 * raw:,.0f} rows/s)")
    print(f"   lineside: {ours:,.0f} readings/s; acknowledgement p50 {statistics.median(latencies) * 1000:.2f} ms, "
          f"p99 {p99_ms:.2f} ms per call")
    print(f"   ratio lineside/raw: {ours / raw:.2f}")
    return {"scan": scan, "producers": producers, "raw_readings_per_s": round(raw),
            "lineside_readings_per_s": round(ours), "ratio": round(ours / raw, 3), "batch": round(batch, 1),
            "p99_ack_ms": round(p99_ms, 2)}


if __name__ == "__main__":
    main()
