"""Devices to measurements: a real pty gauge and a real pymodbus PLC feeding the runtime and a real store."""

from __future__ import annotations

import pytest

from drivers.simulators.gauge import run_gauge_simulator
from drivers.simulators.plc import run_plc_simulator
from edge import auth, holds, lots, plans
from edge.config import parse
from edge.core import open_core
from edge.runtime import Runtime
from tests.conftest import wait_for

SECRET = "runtime-secret"


def line(gauge_path: str, plc_port: int) -> dict:
    return {
        "site": {"id": "s"}, "line": {"id": "l"},
        "stations": [{"id": "cell-1"}],
        "devices": [
            {"kind": "serial_gauge", "id": "caliper", "station": "cell-1", "url": gauge_path,
             "protocol": "mitutoyo", "mode": "pushed", "unit": "mm"},
            {"kind": "modbus_plc", "id": "plc", "station": "cell-1", "host": "127.0.0.1", "port": plc_port,
             "scan_interval_ms": 20, "reject_tag": "reject", "tags": [
                 {"name": "part_present", "table": "discrete", "address": 0, "type": "bool", "trigger": "rising"},
                 {"name": "reject", "table": "coil", "address": 0, "type": "bool"},
                 {"name": "diameter", "table": "holding", "address": 100, "type": "float32", "unit": "mm"}]},
        ],
        "gauges": [{"id": "CAL-1", "type": "caliper", "resolution": "0.01", "unit": "mm",
                    "calibration_due": "2099-01-01", "device": "caliper"}],
        "products": [{"id": "P", "plans": [{"revision": "1", "characteristics": [
            {"id": "length", "lower": "79.9", "upper": "80.1", "unit": "mm", "resolution": "0.01",
             "method": "gauge", "gauge": "CAL-1", "device": "caliper", "sampling": {"n": 50}},
            {"id": "diameter", "lower": "11.9", "upper": "12.1", "unit": "mm", "resolution": "0.001",
             "method": "plc", "device": "plc", "tag": "diameter", "criticality": "critical",
             "sampling": {"n": 50}},
        ]}]}],
    }


@pytest.fixture
def cell(tmp_path):
    gauge = run_gauge_simulator("mitutoyo", ["80.01"], unit="mm")
    plc = run_plc_simulator()
    core = open_core(parse(line(gauge.path, int(plc.url.rsplit(":", 1)[1]))), tmp_path / "cell.db", migrate=True)
    auth.add_user(core.store, "sue", "supervisor", SECRET)
    sue = auth.authenticate(core.store, "sue", SECRET, station="cell-1")
    plans.approve(core.store, core.config, sue, SECRET, "P", "1")
    runtime = Runtime(core).start()
    yield core, sue, gauge, plc, runtime
    runtime.stop()
    core.close()
    gauge.stop()
    plc.stop()


def up(runtime: Runtime, device: str) -> bool:
    """The device has been read successfully at least once (health starts optimistic)."""
    return any(h["device"] == device and h["state"] == "up" and h["last_good_at"] for h in runtime.health())


def measurements(core) -> list[dict]:
    return core.store.query("SELECT characteristic, value, verdict, gauge, device, actor FROM measurements "
                            "ORDER BY seq")


def test_no_active_lot_means_nothing_recorded_and_the_reason_shown(cell):
    core, _, gauge, _, runtime = cell
    wait_for(lambda: up(runtime, "caliper"), "gauge read once")
    gauge.push("80.02")
    wait_for(lambda: runtime.states["caliper"].refused == 1, "refusal counted")
    assert "no active lot" in runtime.states["caliper"].last_refusal
    assert measurements(core) == []


def test_gauge_push_and_plc_part_become_measurements_with_holds_and_reject(cell):
    core, sue, gauge, plc, runtime = cell
    lots.open_lot(core, sue, product="P", lot="LOT-1", quantity=100)
    wait_for(lambda: up(runtime, "caliper") and up(runtime, "plc"), "both devices read once")
    gauge.push("80.03")
    wait_for(lambda: len(measurements(core)) == 1, "gauge value recorded")
    assert measurements(core)[0] == {"characteristic": "length", "value": "80.03", "verdict": "pass",
                                     "gauge": "CAL-1", "device": "caliper", "actor": "sue"}
    plc.present_part({"diameter": "12.05"})
    wait_for(lambda: len(measurements(core)) == 2, "PLC part recorded")
    assert measurements(core)[1]["value"] == "12.050"
    plc.remove_part()
    wait_for(lambda: runtime.states["plc"].live["part_present"]["value"] == "0", "the runtime saw the part leave")
    plc.present_part({"diameter": "12.5"})
    wait_for(lambda: len(measurements(core)) == 3, "second PLC part recorded")
    wait_for(lambda: plc.get("reject"), "reject coil written for the failed part")
    plc.remove_part()
    assert plc.rejected == [False, True]
    assert lots.lot_view(core.store, "LOT-1")["status"] == "on_hold"
    assert holds.list_holds(core)[0]["reason"] == "critical characteristic diameter failed"


def test_garbage_from_the_gauge_is_never_a_value(cell):
    core, sue, gauge, _, runtime = cell
    lots.open_lot(core, sue, product="P", lot="LOT-2", quantity=100)
    wait_for(lambda: up(runtime, "caliper"), "gauge read once")
    gauge.send_raw(b"01A+00X0.0\r\x00\xff garbage\r01A+\r")
    gauge.push("79.95")
    wait_for(lambda: len(measurements(core)) == 1, "the good frame after the garbage")
    assert measurements(core)[0]["value"] == "79.95"


def test_plc_that_stops_answering_shows_down_and_recovers(cell):
    _, _, _, plc, runtime = cell
    wait_for(lambda: up(runtime, "plc"), "plc read once")
    plc.silent = True
    wait_for(lambda: any(h["device"] == "plc" and h["state"] == "down" for h in runtime.health()), "plc down",
             limit_s=30)
    plc.silent = False
    wait_for(lambda: any(h["device"] == "plc" and h["state"] == "up" for h in runtime.health()), "plc back",
             limit_s=60)


def test_a_falling_trigger_records_the_part_as_it_leaves(tmp_path):
    gauge = run_gauge_simulator("mitutoyo", ["80.01"], unit="mm")
    plc = run_plc_simulator()
    config = line(gauge.path, int(plc.url.rsplit(":", 1)[1]))
    config["devices"][1]["tags"][0]["trigger"] = "falling"
    core = open_core(parse(config), tmp_path / "falling.db", migrate=True)
    auth.add_user(core.store, "sue", "supervisor", SECRET)
    sue = auth.authenticate(core.store, "sue", SECRET, station="cell-1")
    plans.approve(core.store, core.config, sue, SECRET, "P", "1")
    runtime = Runtime(core).start()
    try:
        lots.open_lot(core, sue, product="P", lot="LOT-F", quantity=100)
        wait_for(lambda: up(runtime, "plc"), "plc read once")
        plc.present_part({"diameter": "12.02"})
        wait_for(lambda: runtime.states["plc"].live["part_present"]["value"] == "1", "the runtime saw the part")
        assert measurements(core) == []  # arriving is not the edge
        plc.remove_part()
        wait_for(lambda: len(measurements(core)) == 1, "the part recorded as it left")
        assert measurements(core)[0]["value"] == "12.020"
    finally:
        runtime.stop()
        core.close()
        gauge.stop()
        plc.stop()
