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

from edge import auth, lots, plans  # noqa: E402
from edge.config import load  # noqa: E402
from edge.core import open_core  # noqa: E402
from edge.measurements import MeasurementInput, record_measurement  # noqa: E402


def raw_rows(i: int) -> tuple[tuple, tuple, tuple]:
    uid = str(uuid.uuid4())
    record = {"uid": uid, "lot_uid": "lot", "characteristic": "length", "value": "80.00", "verdict": "pass", "i": i}
    text = json.dumps(record, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(text.encode()).hexdigest()
    now = dt.datetime.now(dt.UTC).isoformat()
    return ((uid, "lot", "length", i, "80.00", "mm", "pass", now),
            (i, uid, now, "bench", "measurement.recorded", "measurements", uid, text, digest, digest, digest),
            (i, f"edge:{i}", "measurements", uid, text, now))


def raw_baseline(folder: Path, readings: int, batch: int) -> float:
    conn = sqlite3.connect(folder / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE m (uid TEXT UNIQUE, lot TEXT, c TEXT, sample INT, value TEXT, unit TEXT, "
                 "verdict TEXT, at TEXT)")
    conn.execute("CREATE TABLE a (seq INTEGER PRIMARY KEY, uid TEXT UNIQUE, at TEXT, actor TEXT, action TEXT, "
                 "et TEXT, eu TEXT, after TEXT, rh TEXT, ph TEXT, h TEXT)")
    conn.execute("CREATE TABLE o (seq INTEGER PRIMARY KEY, key TEXT UNIQUE, kind TEXT, uid TEXT, payload TEXT, "
                 "at TEXT)")
    rows = [raw_rows(i) for i in range(readings)]
    start = time.perf_counter()
    for offset in range(0, readings, batch):
        chunk = rows[offset:offset + batch]
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO m VALUES (?,?,?,?,?,?,?,?)", [r[0] for r in chunk])
        conn.executemany("INSERT INTO a VALUES (?,?,?,?,?,?,?,?,?,?,?)", [r[1] for r in chunk])
        conn.executemany("INSERT INTO o VALUES (?,?,?,?,?,?)", [r[2] for r in chunk])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return readings / elapsed


def lineside(folder: Path, readings: int, producers: int) -> tuple[float, float, list[float]]:
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
        for _ in range(per_producer):
            began = time.perf_counter()
            record_measurement(core, sue, "BENCH", MeasurementInput("length", "80.00"))
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
    done = per_producer * producers
    return done / elapsed, done / max(commits, 1), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=20_000)
    parser.add_argument("--producers", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=ROOT) as tmp:
        folder = Path(tmp)
        ours, batch, latencies = lineside(folder, args.readings, args.producers)
        raw_same_batch = raw_baseline(folder, args.readings, max(1, round(batch)))
        raw_100 = raw_baseline(Path(tempfile.mkdtemp(dir=folder)), args.readings, 100)
    p99_ms = statistics.quantiles(latencies, n=100)[98] * 1000
    print(f"readings: {args.readings}, producers: {args.producers}, mean group-commit batch: {batch:.1f}")
    print(f"raw sqlite3 executemany, batch {round(batch)}: {raw_same_batch:,.0f} readings/s "
          f"({3 * raw_same_batch:,.0f} rows/s)")
    print(f"raw sqlite3 executemany, batch 100: {raw_100:,.0f} readings/s ({3 * raw_100:,.0f} rows/s)")
    print(f"lineside record_measurement: {ours:,.0f} readings/s, p50 ack "
          f"{statistics.median(latencies) * 1000:.2f} ms, p99 ack {p99_ms:.2f} ms")
    print(f"ratio (lineside / raw at the same batch size): {ours / raw_same_batch:.2f}")
    print(json.dumps({"bench": "ingest", "raw_readings_per_s": round(raw_same_batch), "lineside_readings_per_s":
                      round(ours), "ratio": round(ours / raw_same_batch, 3), "batch": round(batch, 1),
                      "p99_ack_ms": round(p99_ms, 2)}))


if __name__ == "__main__":
    main()
