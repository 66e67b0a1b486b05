"""A child process for the crash tests: records readings as fast as it can, printing each acknowledged uid.

Usage: python ingest_worker.py DB LOT THREADS. A uid is printed only after record_measurement returned, that
is after its transaction was durable: every printed uid must survive a SIGKILL at any moment.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from edge import auth  # noqa: E402
from edge.config import load  # noqa: E402
from edge.core import open_core  # noqa: E402
from edge.measurements import MeasurementInput, record_measurement  # noqa: E402

_print_lock = threading.Lock()


def main() -> None:
    db, lot, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    core = open_core(load(ROOT / "examples" / "line.toml"), db)
    actor = auth.Actor(uid="crash", name="crash-test", role="operator", station="op-20")

    def produce() -> None:
        while True:
            result = record_measurement(core, actor, lot, MeasurementInput("flatness", "0.01"))
            with _print_lock:
                sys.stdout.write(result["measurement"] + "\n")
                sys.stdout.flush()

    workers = [threading.Thread(target=produce, daemon=True) for _ in range(threads)]
    sys.stdout.write("ready\n")  # before any uid, so the parent's first line is always this one
    sys.stdout.flush()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


if __name__ == "__main__":
    main()
