"""A child process for the crash tests: records keyed readings as fast as it can, saying what it sends and what
was acknowledged.

Usage: python ingest_worker.py DB LOT THREADS RESEND_FILE FIRST_NEW_INDEX. The worker first resends the keys
listed in RESEND_FILE (one per line: readings an earlier life sent but never saw acknowledged), then new keys
`k<FIRST_NEW_INDEX>`, `k<FIRST_NEW_INDEX + 1>`, ... It prints `ready` once the store is open, `>key` before a
reading is handed to the store and `=key` only after `record_measurement` returned, that is after its
transaction was durable: every `=key` must survive a SIGKILL at any moment, and a resent key must not record
twice. With the environment variable LINESIDE_CRASH_LIMIT=N it stops (exit 0) after N new keys.
"""

from __future__ import annotations

import itertools
import os
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


def _say(line: str) -> None:
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def main() -> None:
    db, lot, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    resend = Path(sys.argv[4]).read_text().split()
    first_new = int(sys.argv[5])
    limit = os.environ.get("LINESIDE_CRASH_LIMIT")
    indices = itertools.count(first_new) if limit is None else range(first_new, first_new + int(limit))
    new = (f"k{i}" for i in indices)
    keys = itertools.chain(resend, new)
    keys_lock = threading.Lock()
    core = open_core(load(ROOT / "examples" / "line.toml"), db)
    actor = auth.Actor(uid="crash", name="crash-test", role="operator", station="op-20")

    def produce() -> None:
        while True:
            with keys_lock:
                key = next(keys, None)
                if key is None:
                    return
                _say(">" + key)
            record_measurement(core, actor, lot, MeasurementInput("flatness", "0.01", key=key))
            _say("=" + key)

    workers = [threading.Thread(target=produce, daemon=True) for _ in range(threads)]
    _say("ready")  # before any key, so the parent's first line is always this one
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    core.close()


if __name__ == "__main__":
    main()
