"""A child process for the power-loss test: records readings as fast as it can, printing each acknowledged uid.

Usage: python power_worker.py DB LOT THREADS [--synchronous-normal]. A uid is printed only after
record_measurement returned, that is after its transaction was durable: every printed uid must survive a power
cut at any moment. `--synchronous-normal` is the control run's: every connection the store makes is lowered to
synchronous=NORMAL right after `edge.store.connect` checked it (the store itself refuses to open so), so that
commits no longer wait for an fsync and a cut must lose some acknowledged readings.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import threading
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from edge import auth, store  # noqa: E402
from edge.config import load  # noqa: E402
from edge.core import open_core  # noqa: E402
from edge.measurements import MeasurementInput, record_measurement  # noqa: E402

_print_lock = threading.Lock()


def _lowered(connect: Callable[[str | Path], sqlite3.Connection]) -> Callable[[str | Path], sqlite3.Connection]:
    def connect_normal(path: str | Path) -> sqlite3.Connection:
        conn = connect(path)
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    return connect_normal


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("lot")
    parser.add_argument("threads", type=int)
    parser.add_argument("--synchronous-normal", action="store_true")
    args = parser.parse_args()
    if args.synchronous_normal:
        store.connect = _lowered(store.connect)
    core = open_core(load(ROOT / "examples" / "line.toml"), args.db)
    synchronous = core.store.write(lambda tx: tx.one("PRAGMA synchronous"))
    assert synchronous == {"synchronous": 1 if args.synchronous_normal else 2}, synchronous
    actor = auth.Actor(uid="power", name="power-loss-test", role="operator", station="op-20")

    def produce() -> None:
        while True:
            result = record_measurement(core, actor, args.lot, MeasurementInput("flatness", "0.01"))
            with _print_lock:
                sys.stdout.write(result["measurement"] + "\n")
                sys.stdout.flush()

    workers = [threading.Thread(target=produce, daemon=True) for _ in range(args.threads)]
    sys.stdout.write("ready\n")  # before any uid, so the parent's first line is always this one
    sys.stdout.flush()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


if __name__ == "__main__":
    main()
