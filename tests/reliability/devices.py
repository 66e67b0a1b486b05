"""What the device fault tests (test_devices.py, test_devices_gauge.py) share: a line with one station and its
devices, waits for a state, log counting, the checks of descriptors and memory, and the figures file.

Times are measured and reported (var/reliability/device-faults.json), never asserted.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

from drivers.poller import PollerSettings
from edge import auth, lots, plans
from edge.config import parse
from edge.core import Core, open_core
from tests.reliability.figures import record
from tests.reliability.loopback import Probe, Sample

SECRET = "device-faults-secret"
# The runtime as `lineside serve` builds it, with a backoff short enough for a thousand outages in minutes.
SETTINGS = PollerSettings(interval_s=0.1, timeout_s=2.0, stale_after_s=1.0, backoff_initial_s=0.01,
                          backoff_max_s=0.05)
MANY = 1_000_000  # sample size and lot quantity: the plan never completes during a run


def report(name: str, figures: dict[str, Any]) -> None:
    record("device-faults", name, figures)


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 4)


class LogCount(logging.Filter):
    """Counts log records by (logger, level, format string), and drops them: a filter on Lineside's loggers.

    pytest keeps every record it captures (also from loggers that do not propagate), which would be the one
    thing in the process growing with the outages; a count is bounded.
    """

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[tuple[str, str, str]] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        self.counts[(record.name, record.levelname, str(record.msg)[:80])] += 1
        return False

    def count(self, logger: str, level: str, containing: str = "") -> int:
        return sum(n for (name, lvl, text), n in self.counts.items()
                   if name == logger and lvl == level and containing in text)

    def errors(self) -> list[tuple[str, str, str]]:
        return [key for key in self.counts if key[1] in ("ERROR", "CRITICAL")]


def open_cell(tmp_path: Path, devices: list[dict[str, Any]], characteristics: list[dict[str, Any]],
              gauges: list[dict[str, Any]] = ()) -> Core:  # type: ignore[assignment]
    """A store with one station, its devices, an approved plan and an open lot set at the station."""
    raw = {"site": {"id": "s"}, "line": {"id": "l"}, "stations": [{"id": "cell-1"}], "devices": devices,
           "gauges": list(gauges),
           "products": [{"id": "P", "plans": [{"revision": "1", "characteristics": characteristics}]}]}
    core = open_core(parse(raw), tmp_path / "cell.db", migrate=True)
    auth.add_user(core.store, "sue", "supervisor", SECRET)
    sue = auth.authenticate(core.store, "sue", SECRET, station="cell-1")
    plans.approve(core.store, core.config, sue, SECRET, "P", "1")
    lots.open_lot(core, sue, product="P", lot="LOT-1", quantity=MANY)
    return core


def recorded(core: Core) -> list[dict[str, Any]]:
    return core.store.query("SELECT characteristic, value, sample, recorded_at, device FROM measurements "
                            "ORDER BY seq")


def assert_fds_flat(warm: Sample, end: Sample, core: Core) -> None:
    """Descriptors back where they were after warm-up, within two; the store's files aside, for the store opens
    one reader per thread that reads (asyncio.to_thread's workers start as the load asks): those must be no more
    than its connections hold."""
    def others(sample: Sample) -> int:
        return sample.fds - sample.fd_kinds.get("database", 0)

    assert abs(others(end) - others(warm)) <= 2, f"descriptors {warm.fd_kinds} after warm-up, {end.fd_kinds} at end"
    connections = 1 + len(core.store._all_readers)
    assert end.fd_kinds.get("database", 0) <= 3 * connections, f"{end.fd_kinds} for {connections} connections"


def assert_flat(probe: Probe) -> None:
    """Memory over the second half of a run: a leak grows with the run, caches filled once do not."""
    middle, end = probe.samples["middle"], probe.samples["end"]
    assert end.rss_kb - middle.rss_kb < 16 * 1024, f"resident memory grew {end.rss_kb - middle.rss_kb} kB"
    assert end.traced_kb is not None and middle.traced_kb is not None
    assert end.traced_kb - middle.traced_kb < 1024, f"Python memory kept grew {end.traced_kb - middle.traced_kb} kB"
