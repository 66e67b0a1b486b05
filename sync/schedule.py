"""When the edge pushes on its own: the [sync] schedule, cron text evaluated in UTC.

Owns the waiting between runs and nothing about what a run does. `stop` ends the wait at once, so a service
shutting down never waits for the night.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from croniter import croniter

log = logging.getLogger(__name__)


def next_run(schedule: str, after: datetime) -> datetime:
    """The first time after `after` (UTC) that the cron text names."""
    return croniter(schedule, after.astimezone(UTC)).get_next(datetime)


def run_on_schedule(run: Callable[[], Any], schedule: str, stop: threading.Event, *,
                    clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> int:
    """Call `run` at every time the schedule names until `stop` is set; returns how many runs were made."""
    runs = 0
    while not stop.is_set():
        due = next_run(schedule, clock())
        log.info("next sync at %s", due.isoformat())
        if stop.wait(max(0.0, (due - clock()).total_seconds())):
            break
        run()
        runs += 1
    return runs


def start(run: Callable[[], Any], schedule: str) -> tuple[threading.Thread, threading.Event]:
    """Run the schedule on a daemon thread (for `lineside serve`); set the event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=run_on_schedule, args=(run, schedule, stop), name="lineside-sync",
                              daemon=True)
    thread.start()
    return thread, stop
