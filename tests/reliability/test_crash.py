"""Crash: the edge killed with SIGKILL at random moments while ingesting; no acknowledged reading is lost.

The quick run (in `make test`) kills 10 times; `make test-long` runs 100 kills (marked slow).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edge import audit, lots
from edge.core import open_core

WORKER = Path(__file__).with_name("ingest_worker.py")


def _acknowledged_until_killed(db: Path, lot: str, rng: random.Random) -> set[str]:
    process = subprocess.Popen([sys.executable, str(WORKER), str(db), lot, "4"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    acked: set[str] = set()
    reader = threading.Thread(target=lambda: acked.update(line.strip() for line in process.stdout))  # type: ignore[union-attr]
    reader.start()
    time.sleep(rng.uniform(0.05, 0.6))
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    reader.join()
    return acked


def _check_after_crash(db: Path, acked: set[str]) -> int:
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    present = {row[0] for row in conn.execute("SELECT uid FROM measurements")}
    lost = acked - present
    assert not lost, f"{len(lost)} acknowledged readings lost"
    findings = audit.verify(conn)
    assert findings == [], [str(f) for f in findings]
    conn.close()
    return len(present)


def _crash_runs(config, seeded_store: Path, tmp_path: Path, kills: int) -> None:
    db = tmp_path / "crash.db"
    shutil.copyfile(seeded_store, db)
    core = open_core(config, db)
    actor = __import__("edge.auth", fromlist=["Actor"]).Actor("t", "t", "operator", "op-20")
    lots.open_lot(core, actor, product="BRK-100", lot="CRASH", quantity=1_000_000)
    core.close()
    rng = random.Random(2026)
    total_acked = 0
    for _ in range(kills):
        acked = _acknowledged_until_killed(db, "CRASH", rng)
        total_acked += len(acked)
        _check_after_crash(db, acked)
    assert total_acked > kills  # the test really ingested between kills


def test_sigkill_during_ingest_loses_no_acknowledged_reading(config, seeded_store, tmp_path):
    _crash_runs(config, seeded_store, tmp_path, kills=10)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_sigkill_100_times(config, seeded_store, tmp_path):
    _crash_runs(config, seeded_store, tmp_path, kills=100)
