"""Device faults (issue 9): a PLC that drops off the network a thousand times.

A real pymodbus server on loopback (drivers/simulators/plc.py) runs a part cycle of its own, as a PLC program
does: part number n, its diameter and length (both functions of n) written, then the part-present bit raised for
a while, then lowered. Lineside reaches it through `Cable`, a loopback proxy the test pulls, mutes and drops, and
the server is also switched off and on; the device runtime (poller, Modbus driver, trigger edges, recording,
reject write-back) is built exactly as `lineside serve` builds it. Every recorded part must be one the PLC
served (diameter and length of the same n, recorded after n was presented), each at most once and in order; the
device must show down and up again, and log once per transition; the process's descriptors and memory must be
flat after warm-up. Times are reported (tests/reliability/devices.py), never asserted.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from drivers.simulators.plc import PlcSimulator, run_plc_simulator
from edge.config import ModbusPlcDevice
from edge.core import Core
from edge.runtime import Runtime, plc_tags
from tests.conftest import wait_for
from tests.reliability.devices import (
    MANY,
    SETTINGS,
    LogCount,
    assert_fds_flat,
    assert_flat,
    open_cell,
    percentile,
    recorded,
    report,
)
from tests.reliability.loopback import Cable, Probe, Sample, fd_kinds

PLC_TAGS = [
    {"name": "part_present", "table": "discrete", "address": 0, "type": "bool", "trigger": "rising"},
    {"name": "reject", "table": "coil", "address": 0, "type": "bool"},
    {"name": "part_no", "table": "holding", "address": 100, "type": "uint32"},
    {"name": "diameter", "table": "holding", "address": 102, "type": "float32", "unit": "mm"},
    {"name": "length", "table": "holding", "address": 104, "type": "float32", "unit": "mm"},
]
PLC_CHARACTERISTICS = [
    {"id": "diameter", "lower": "11", "upper": "13", "unit": "mm", "resolution": "0.0001", "method": "plc",
     "device": "plc", "tag": "diameter", "sampling": {"n": MANY}},
    {"id": "length", "lower": "80", "upper": "100", "unit": "mm", "resolution": "0.001", "method": "plc",
     "device": "plc", "tag": "length", "sampling": {"n": MANY}},
]
MAX_PARTS = 19_999  # diameter and length below keep every part's values distinct up to here


def diameter(n: int) -> Decimal:
    return Decimal(11) + Decimal(n) / 10_000


def length(n: int) -> Decimal:
    return Decimal(80) + Decimal(n) / 1_000


def part_of(characteristic: str, value: str) -> int:
    """The part number a recorded value belongs to; -1 when it is no value the PLC ever served."""
    exact = (Decimal(value) - 11) * 10_000 if characteristic == "diameter" else (Decimal(value) - 80) * 1_000
    return int(exact) if exact == exact.to_integral_value() and 1 <= exact <= MAX_PARTS else -1


class PartCycle(threading.Thread):
    """The PLC program: part n's values written, the part-present bit raised for a while, then lowered.

    `freeze_with_part()` stops the cycle while a part is present (it stays across an outage); `thaw()` lets
    it go on. `presented[n]` is the wall time part n's bit rose.
    """

    def __init__(self, plc: PlcSimulator, rng: random.Random) -> None:
        super().__init__(name="part-cycle", daemon=True)
        self.plc, self.rng = plc, rng
        self.presented: dict[int, float] = {}
        self.removed: dict[int, float] = {}
        self.present = False
        self.stopped = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        n = 0
        while not self.stopped.is_set() and n < MAX_PARTS:
            n += 1
            with self._lock:
                self.plc.present_part({"part_no": n, "diameter": diameter(n), "length": length(n)})
                self.presented[n], self.present = time.time(), True
            self.stopped.wait(self.rng.uniform(0.02, 0.12))
            with self._lock:
                self.plc.remove_part()
                self.removed[n], self.present = time.time(), False
            self.stopped.wait(self.rng.uniform(0.03, 0.06))

    def freeze_with_part(self) -> None:
        while True:
            self._lock.acquire()
            if self.present:
                return
            self._lock.release()
            time.sleep(0.002)

    def thaw(self) -> None:
        self._lock.release()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


@dataclass
class PlcCell:
    core: Core
    plc: PlcSimulator
    cable: Cable
    runtime: Runtime
    cycle: PartCycle

    def health(self) -> dict[str, Any]:
        return next(h for h in self.runtime.health() if h["device"] == "plc")

    def is_down(self) -> bool:
        return self.health()["state"] == "down"

    def good_since(self, at: float) -> float | None:
        """The time of the first good scan after `at`, once there is one."""
        health = self.health()
        last = health["last_good_at"]
        if health["state"] != "up" or last is None:
            return None
        seen = datetime.fromisoformat(last).timestamp()
        return seen if seen > at else None


@pytest.fixture
def plc_cell(tmp_path: Path) -> Iterator[PlcCell]:
    device = {"kind": "modbus_plc", "id": "plc", "station": "cell-1", "host": "127.0.0.1", "port": 1,
              "scan_interval_ms": 10, "timeout_s": 0.2, "reject_tag": "reject", "tags": PLC_TAGS}
    plc = run_plc_simulator(plc_tags(ModbusPlcDevice.model_validate(device)))
    cable = Cable(("127.0.0.1", plc.port))
    device["port"] = cable.port
    core = open_cell(tmp_path, [device], PLC_CHARACTERISTICS)
    cycle = PartCycle(plc, random.Random(9))
    runtime = Runtime(core, settings=SETTINGS).start()
    cycle.start()
    yield PlcCell(core, plc, cable, runtime, cycle)
    cycle.stop()
    runtime.stop()
    core.close()
    cable.close()
    plc.stop()


FAULTS = ("pull", "pull", "reset", "blip", "pull", "mute", "reset", "blip", "pull", "reset")


@dataclass
class Outages:
    """What the test did to the PLC and what it saw: per kind, how many, and how long until a good scan."""

    reconnect_s: dict[str, list[float]] = field(default_factory=dict)
    seen_down: int = 0
    straddled: int = 0
    failed_reads: int = 0
    windows: list[tuple[float, float]] = field(default_factory=list)  # from each cut to the next good scan

    def add(self, kind: str, seconds: float) -> None:
        self.reconnect_s.setdefault(kind, []).append(seconds)

    def figures(self) -> dict[str, Any]:
        every = [s for values in self.reconnect_s.values() for s in values]
        kinds = {kind: {"cycles": len(v), "median_s": percentile(v, 0.5), "p99_s": percentile(v, 0.99)}
                 for kind, v in self.reconnect_s.items()}
        return {"cycles": len(every), "seen_down": self.seen_down, "parts_kept_across_outage": self.straddled,
                "failed_reads": self.failed_reads, "reconnect_median_s": percentile(every, 0.5),
                "reconnect_p99_s": percentile(every, 0.99), "by_kind": kinds}


def outage(cell: PlcCell, index: int, outages: Outages, rng: random.Random) -> None:
    """One disconnection and reconnection of the PLC; every 25th is the PLC switched off and on."""
    kind = "power" if index % 25 == 12 else FAULTS[index % len(FAULTS)]
    keep_part = index % 3 == 0
    if keep_part:
        cell.cycle.freeze_with_part()
        outages.straddled += 1
    try:
        cut_at = time.time()
        back_at = cut(cell, kind, outages)
        wait_for(lambda: cell.good_since(back_at), f"the PLC read again after outage {index} ({kind})")
        good_at: float = cell.good_since(back_at)  # type: ignore[assignment]
        outages.add(kind, good_at - back_at)
        outages.windows.append((cut_at, good_at))
    finally:
        if keep_part:
            cell.cycle.thaw()
    time.sleep(rng.uniform(0.0, 0.06))  # parts flow between outages


def cut(cell: PlcCell, kind: str, outages: Outages) -> float:
    """Cuts the PLC off in the way `kind` says, waits until it shows down (except a blip), restores it."""
    if kind == "blip":  # connections closed cleanly, new ones accepted at once: may or may not show down
        cell.cable.drop(reset=False)
        return time.time()
    if kind == "power":
        cell.plc.power_off()
    elif kind == "mute":
        cell.cable.mute()
    else:
        cell.cable.pull(reset=kind == "reset")
    wait_for(cell.is_down, f"the PLC shown down ({kind})")
    outages.seen_down += 1
    time.sleep(0.02)  # a few more attempts while it is down: they must not be logged
    outages.failed_reads += cell.health()["failures"]
    if kind == "power":
        cell.plc.power_on()
    elif kind == "mute":
        cell.cable.drop()
    else:
        cell.cable.plug()
    return time.time()


def settle(warm: Sample) -> None:
    """Waits until connections being closed have closed (bounded; a leak never settles)."""
    deadline = time.monotonic() + 5
    while fd_kinds().get("socket", 0) > warm.fd_kinds.get("socket", 0) + 2 and time.monotonic() < deadline:
        time.sleep(0.01)


def clear_of_outages(cycle: PartCycle, windows: list[tuple[float, float]], recorded: set[int]) -> dict[str, int]:
    """Parts present only while the PLC was connected, and how many of them were recorded (reported: a part
    whose bit rose during an outage is not recorded after it, by design, and timing on a loaded machine
    decides the rest)."""
    clear = [n for n, on in cycle.presented.items() if n in cycle.removed
             and not any(start <= cycle.removed[n] and on <= end for start, end in windows)]
    return {"parts_clear_of_outages": len(clear), "of_them_recorded": len(set(clear) & recorded)}


def check_parts(cell: PlcCell, windows: list[tuple[float, float]]) -> dict[str, Any]:
    """Every recorded part is one the PLC served: both values of the same n, after n was presented, once."""
    rows = recorded(cell.core)
    by_sample: dict[str, dict[int, int]] = {"diameter": {}, "length": {}}
    wrong = []
    for row in rows:
        n = part_of(row["characteristic"], row["value"])
        presented = cell.cycle.presented.get(n)
        if n < 0 or presented is None or datetime.fromisoformat(row["recorded_at"]).timestamp() < presented:
            wrong.append(row)
        by_sample[row["characteristic"]][row["sample"]] = n
    diameters = [by_sample["diameter"][s] for s in sorted(by_sample["diameter"])]
    assert wrong == [], f"values the PLC never served at that moment: {wrong[:5]}"
    assert by_sample["diameter"] == by_sample["length"], "a part's diameter and length come from different parts"
    assert diameters == sorted(set(diameters)), "a part recorded twice, or out of order"
    assert {row["device"] for row in rows} <= {"plc"}
    return {"parts_served": len(cell.cycle.presented), "parts_recorded": len(diameters),
            **clear_of_outages(cell.cycle, windows, set(diameters)),
            "measurements_recorded": len(rows), "wrong_values": len(wrong), "duplicates": 0,
            "reject_coil_writes_seen": len(cell.plc.rejected)}


def run_plc_outages(cell: PlcCell, log_count: LogCount, cycles: int, warm_up: int) -> dict[str, Any]:
    probe, outages, rng = Probe(), Outages(), random.Random(1000)
    probe.sample("start")
    started = time.monotonic()
    wait_for(lambda: cell.good_since(0), "the PLC read once")
    for index in range(cycles):
        if index == warm_up:
            warm = probe.sample("after_warm_up")
            probe.trace()
        if index == (warm_up + cycles) // 2:
            probe.sample("middle")
        outage(cell, index, outages, rng)
    wait_for(lambda: cell.runtime.states["plc"].recorded > 0, "parts recorded")
    settle(warm)
    end = probe.sample("end")
    probe.stop()
    wall_s = time.monotonic() - started
    cell.cycle.stop()
    parts = check_parts(cell, outages.windows)
    went_down = log_count.count("drivers.poller", "WARNING", "failed: %s")
    came_back = log_count.count("drivers.poller", "INFO", "recovered after")
    figures = {**outages.figures(), **parts, "wall_s": round(wall_s, 1), "log_down": went_down,
               "log_recovered": came_back, "connections_accepted": cell.cable.connections,
               "refused": cell.runtime.states["plc"].refused,
               "plc_requests_per_s": round(cell.plc.requests / wall_s, 1),
               "checkpoints": {name: s.as_dict() for name, s in probe.samples.items()}}
    report(f"plc_{cycles}_outages", figures)
    assert log_count.errors() == [], f"errors logged: {log_count.errors()}"
    assert outages.seen_down <= went_down == came_back <= cycles, "log once when down, once when back"
    assert_fds_flat(warm, end, cell.core)
    assert_flat(probe)
    assert cell.runtime.states["plc"].refused == 0
    return figures


def test_plc_outages_quick(plc_cell: PlcCell, log_count: LogCount) -> None:
    run_plc_outages(plc_cell, log_count, cycles=40, warm_up=8)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_plc_outages_thousand(plc_cell: PlcCell, log_count: LogCount) -> None:
    run_plc_outages(plc_cell, log_count, cycles=1000, warm_up=100)
