"""The demo's seed and simulated shift, in-process on a real store."""

from __future__ import annotations

import time

from edge import demo, holds
from edge.core import open_core


def test_demo_shift_drifts_into_a_hold_and_restart_keeps_everything(config, tmp_path):
    core = open_core(config, tmp_path / "demo.db", migrate=True)
    demo.seed(core)
    demo.seed(core)  # a restart seeds nothing twice
    assert len(core.store.query("SELECT * FROM users")) == len(demo.USERS)
    shift = demo.Shift(core, interval_s=0.005)
    shift.start()
    deadline = time.monotonic() + 60
    while not holds.list_holds(core) and time.monotonic() < deadline:
        time.sleep(0.05)
    shift.stopped.set()
    shift.join(timeout=10)
    assert holds.list_holds(core)[0]["reason"] == "critical characteristic bore-dia failed"
    recorded = core.store.query_one("SELECT COUNT(*) AS n FROM measurements")["n"]
    core.close()
    reopened = open_core(config, tmp_path / "demo.db")
    assert reopened.store.query_one("SELECT COUNT(*) AS n FROM measurements")["n"] == recorded
    reopened.close()


def test_demo_devices_feed_the_runtime(tmp_path):
    import tomllib

    from edge.runtime import Runtime

    config, simulators = demo.start_simulators(tomllib.loads(demo.EXAMPLE.read_text()))
    core = open_core(config, tmp_path / "demo.db", migrate=True)
    demo.seed(core)
    runtime = Runtime(core).start()
    shift = demo.Shift(core, simulators, interval_s=0.05)
    shift.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            devices = {row["device"] for row in core.store.query("SELECT DISTINCT device FROM measurements")}
            if {"caliper-op10", "plc-op20"} <= devices:
                break
            time.sleep(0.05)
        assert {"caliper-op10", "plc-op20"} <= devices
    finally:
        shift.stopped.set()
        shift.join(timeout=10)
        runtime.stop()
        simulators.stop()
        core.close()
