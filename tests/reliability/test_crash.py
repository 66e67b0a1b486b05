"""Crash: the edge killed with SIGKILL at random moments while ingesting; no acknowledged reading is lost, and a
source that resends what it never saw acknowledged creates no duplicate.

Each life of the worker (ingest_worker.py) resends every key an earlier life sent without an acknowledgement,
then sends new ones, until it is killed. After each kill the store must pass `PRAGMA integrity_check`, hold every
acknowledged reading, hold each key at most once (its samples numbered 1..n with no gap a duplicate would leave),
and verify its audit chain. The quick run (in `make test`) kills 10 times over at least 3,000 readings; `make
test-long` kills 100 times over at least 50,000. The figures go to var/reliability/crash.json.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from edge import audit, auth, lots
from edge.core import open_core
from edge.measurements import _uid
from tests.reliability.figures import record

WORKER = Path(__file__).with_name("ingest_worker.py")


@dataclass
class Ledger:
    """What the sources sent and what the edge acknowledged, over all lives."""
    sent: set[str] = field(default_factory=set)
    acked: set[str] = field(default_factory=set)
    next_new: int = 0
    ready_s: list[float] = field(default_factory=list)

    @property
    def outstanding(self) -> list[str]:
        return sorted(self.sent - self.acked, key=lambda key: int(key[1:]))


def _life(db: Path, lot: str, ledger: Ledger, resend_file: Path, *, kill_after: float | None,
          new_limit: int | None = None) -> None:
    resend_file.write_text("\n".join(ledger.outstanding))
    env = dict(os.environ)
    if new_limit is not None:
        env["LINESIDE_CRASH_LIMIT"] = str(new_limit)
    started = time.monotonic()
    errors = resend_file.with_suffix(".err")
    with errors.open("w") as stderr:
        process = subprocess.Popen([sys.executable, str(WORKER), str(db), lot, "4", str(resend_file),
                                    str(ledger.next_new)], stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
    assert process.stdout is not None
    first = process.stdout.readline().strip()
    assert first == "ready", (first, errors.read_text())
    ledger.ready_s.append(time.monotonic() - started)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout))  # type: ignore[arg-type]
    reader.start()
    if kill_after is not None:
        time.sleep(kill_after)
        os.kill(process.pid, signal.SIGKILL)
    returncode = process.wait(timeout=600)
    assert returncode == (-signal.SIGKILL if kill_after is not None else 0), errors.read_text()[-3000:]
    reader.join()
    for line in lines:
        mark, key = line[0], line[1:].strip()
        (ledger.sent if mark == ">" else ledger.acked).add(key)
        if mark == ">" and int(key[1:]) >= ledger.next_new:
            ledger.next_new = int(key[1:]) + 1


def _check(db: Path, lot: str, ledger: Ledger) -> int:
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    lot_uid = conn.execute("SELECT uid FROM lots WHERE lot_number = ?", (lot,)).fetchone()[0]
    rows = conn.execute("SELECT uid, sample FROM measurements WHERE lot_uid = ?", (lot_uid,)).fetchall()
    present = {uid for uid, _ in rows}
    by_uid = {_uid(lot_uid, key): key for key in ledger.sent}
    lost = [key for key in ledger.acked if _uid(lot_uid, key) not in present]
    assert not lost, f"{len(lost)} acknowledged readings lost, e.g. {lost[:5]}"
    strangers = present - by_uid.keys()
    assert not strangers, f"{len(strangers)} recorded readings no source sent under its key"
    assert sorted(sample for _, sample in rows) == list(range(1, len(rows) + 1)), "a reading was recorded twice"
    findings = audit.verify(conn)
    assert findings == [], [str(f) for f in findings]
    conn.close()
    return len(rows)


def _crash_runs(config, seeded_store: Path, tmp_path: Path, kills: int, readings: int) -> dict[str, object]:
    db = tmp_path / "crash.db"
    shutil.copyfile(seeded_store, db)
    core = open_core(config, db)
    lots.open_lot(core, auth.Actor("t", "t", "operator", "op-20"), product="BRK-100", lot="CRASH",
                  quantity=1_000_000)
    core.close()
    rng = random.Random(2026)
    ledger = Ledger()
    resend_file = tmp_path / "resend.txt"
    started = time.monotonic()
    resent = 0
    for _ in range(kills):
        resent += len(ledger.outstanding)
        _life(db, "CRASH", ledger, resend_file, kill_after=rng.uniform(0.05, 0.6))
        _check(db, "CRASH", ledger)
    unacked_at_last_kill = len(ledger.outstanding)
    resent += unacked_at_last_kill
    _life(db, "CRASH", ledger, resend_file, kill_after=None,
          new_limit=max(0, readings - len(ledger.acked) - unacked_at_last_kill))
    recorded = _check(db, "CRASH", ledger)
    assert not ledger.outstanding and recorded == len(ledger.acked) >= readings
    figures = {"kills": kills, "readings_acknowledged": len(ledger.acked), "readings_recorded": recorded,
               "lost": 0, "duplicates": 0, "resent_unacknowledged": resent,
               "ready_s_median": round(statistics.median(ledger.ready_s), 3),
               "ready_s_max": round(max(ledger.ready_s), 3), "wall_s": round(time.monotonic() - started, 1)}
    record("crash", f"{kills} kills", figures)
    return figures


def test_sigkill_during_ingest_loses_no_acknowledged_reading(config, seeded_store, tmp_path):
    figures = _crash_runs(config, seeded_store, tmp_path, kills=10, readings=3_000)
    assert figures["resent_unacknowledged"] > 0  # the kills did land between a send and its acknowledgement


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_sigkill_100_times_over_50000_readings(config, seeded_store, tmp_path):
    _crash_runs(config, seeded_store, tmp_path, kills=100, readings=50_000)
