"""Device faults (issue 9): a gauge stream with garbage in it, pushed and polled, on a real pty.

One item in twenty is garbage (random bytes, truncated frames glued to the next, wrong format, device error
replies, wrong unit, over-long lines, NUL bytes); genuine frames are sometimes split across writes. Pushed: the
device runtime as `lineside serve` builds it records every value; they must be exactly the genuine frames, in
order, and every garbage item rejected once (by the decoder, or refused when recorded). Polled: the poller and
the serial driver as the runtime wires them, against a simulator answering each request with the next item;
every good reading must be a genuine reply, in order. Descriptors and memory flat after warm-up.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from drivers.base import Quality, Reading
from drivers.poller import GaugeDevice, Poller, PollerSettings
from drivers.serial_gauge import build_gauge
from drivers.simulators.gauge import REQUESTS, GaugeSimulator, frame, run_gauge_simulator
from edge.core import Core
from edge.runtime import Runtime
from tests.conftest import wait_for
from tests.reliability.devices import (
    MANY,
    SETTINGS,
    LogCount,
    assert_fds_flat,
    assert_flat,
    open_cell,
    recorded,
    report,
)
from tests.reliability.loopback import Probe

TERMINATORS = {"mitutoyo": b"\r", "sylvac": b"\r", "mt-sics": b"\r\n"}
UNITS = {"mitutoyo": "mm", "sylvac": "mm", "mt-sics": "g"}
BAD_FORMAT = {  # frames of the right shape with something wrong in them: each must be rejected
    "mitutoyo": [b"01A+00X0.000\r", b"01B+0012.345\r", b"01A+0012.34\r", b"01A*0012.345\r", b"01A+1.2.3.45\r",
                 b"91\r"],
    "sylvac": [b"+12.3.45\r", b"++12.345\r", b"12,345\r", b"+NaN\r", b"+1E5\r", b"ERR3\r", b"+12.345 KG\r"],
    "mt-sics": [b"S X     12.000 g\r\n", b"S S\r\n", b"S I\r\n", b"S +\r\n", b"ES\r\n", b"S S 1E5 g\r\n",
                b"S S Infinity g\r\n"],
}
WRONG_UNIT = {"mt-sics": [b"S S     12.000 mm\r\n", b"S S     12.000 xyz\r\n"]}  # decoded, then refused


@dataclass
class Item:
    """What the gauge sends: one genuine frame (`value`) or one garbage item, in one or more writes."""

    kind: str
    chunks: list[bytes]
    value: Decimal | None = None
    lost: bool = False  # a genuine frame glued to a truncated one before it: the glued line is rejected
    refused: bool = False  # decoded, but refused when recorded (a unit the characteristic cannot take)


def genuine(protocol: str, n: int, rng: random.Random) -> Item:
    value = Decimal(10) + Decimal(n) / 1000
    data = frame(protocol, value, UNITS[protocol])
    if protocol == "sylvac" and n % 3 == 0:
        data = f"+{value} MM\r".encode()
    if rng.random() < 0.1:  # split across writes, as a slow interface sends it
        cuts = sorted(rng.sample(range(1, len(data)), min(2, len(data) - 1)))
        return Item("split", [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)], value)
    return Item("frame", [data], value)


def garbage(protocol: str, rng: random.Random, following: Item, polled: bool = False) -> Item:
    end = TERMINATORS[protocol]
    kind = rng.choice(["random", "nul", "format", "overlong", "truncated", "unit"])
    if kind == "unit" and (protocol not in WRONG_UNIT or polled):  # polled values are not recorded, so not refused
        kind = "format"
    if kind == "random":  # noise on the line: at least one byte no ASCII frame holds, no line end inside
        noise = bytes(rng.choice([*range(0, 10), *range(14, 256)]) for _ in range(rng.randint(0, 40)))
        return Item(kind, [noise + bytes([rng.randint(0x80, 0xFF)]) + end])
    if kind == "nul":
        data = following.chunks[0] if len(following.chunks) == 1 else b"01A+0012.345" + end
        at = rng.randint(0, len(data) - len(end))
        return Item(kind, [data[:at] + b"\x00" * rng.randint(1, 3) + data[at:]])
    if kind == "format":
        return Item(kind, [rng.choice(BAD_FORMAT[protocol])])
    if kind == "unit":
        return Item(kind, [rng.choice(WRONG_UNIT[protocol])], refused=True)
    if kind == "overlong":
        return Item(kind, [b"1" * rng.randint(129, 3000) + end])
    # truncated: the line end never came, so the next genuine frame is glued to it and lost with it (pushed), or
    # the request times out (polled: the next request starts afresh)
    data = b"".join(following.chunks)
    following.lost = not polled
    return Item(kind, [data[: rng.randint(1, len(data.rstrip(b"\r\n")) - 1)]])


def stream(protocol: str, count: int, seed: int, polled: bool = False) -> list[Item]:
    """`count` items, one in twenty of them garbage, never two garbage items in a row."""
    rng = random.Random(seed)
    items = [genuine(protocol, n, rng) for n in range(1, count + 1)]
    for at in rng.sample(range(0, count - 1, 2), count // 20):
        items[at] = garbage(protocol, rng, items[at + 1], polled)
    return items


def send(gauge: GaugeSimulator, item: Item) -> None:
    for index, chunk in enumerate(item.chunks):
        if index:
            time.sleep(0.002)  # the next write comes later: the reader sees half a frame first
        gauge.send_raw(chunk)


@dataclass
class GaugeCell:
    core: Core
    gauge: GaugeSimulator
    runtime: Runtime

    @property
    def decoder(self) -> Any:
        return self.runtime.pollers[0].devices[0].gauge.decoder  # type: ignore[attr-defined]

    def handled(self) -> tuple[int, int, int]:
        """(values recorded, values refused, lines rejected by the decoder) so far."""
        state = self.runtime.states["gauge"]
        return state.recorded, state.refused, sum(self.decoder.rejects.values())


@pytest.fixture(params=["mitutoyo", "sylvac", "mt-sics"])
def gauge_cell(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GaugeCell]:
    protocol, unit = request.param, UNITS[request.param]
    gauge = run_gauge_simulator(protocol, unit=unit)
    device = {"kind": "serial_gauge", "id": "gauge", "station": "cell-1", "url": gauge.path,
              "protocol": protocol, "mode": "pushed", "unit": unit}
    characteristic = {"id": "size", "lower": "0", "upper": "100", "unit": unit, "resolution": "0.001",
                      "method": "gauge", "gauge": "G-1", "device": "gauge", "sampling": {"n": MANY}}
    instrument = {"id": "G-1", "type": "gauge", "resolution": "0.001", "unit": unit,
                  "calibration_due": "2099-01-01", "device": "gauge"}
    core = open_cell(tmp_path, [device], [characteristic], [instrument])
    runtime = Runtime(core, settings=SETTINGS).start()
    yield GaugeCell(core, gauge, runtime)
    runtime.stop()
    core.close()
    gauge.stop()


def run_gauge_stream(cell: GaugeCell, log_count: LogCount, count: int, batch: int = 50) -> dict[str, Any]:
    protocol = cell.gauge.protocol
    items = stream(protocol, count, seed=count)
    probe, started = Probe(), time.monotonic()
    probe.sample("start")
    wait_for(lambda: cell.runtime.health()[0]["last_good_at"], "the gauge port opened")
    expected = (0, 0, 0)
    for first in range(0, count, batch):
        if first == max(batch, count // 10 // batch * batch):  # after every kind of item went through once
            warm = probe.sample("after_warm_up")
            probe.trace()
        if first == count // 2 // batch * batch:
            probe.sample("middle")
        for item in items[first : first + batch]:
            send(cell.gauge, item)
            expected = outcome(expected, item)
        wait_for(lambda: cell.handled() == expected, f"items up to {first + batch} handled "  # noqa: B023
                 f"(expected {expected}, got {cell.handled()})", limit_s=60)
    end = probe.sample("end")
    probe.stop()
    wall_s = time.monotonic() - started
    values = [Decimal(row["value"]) for row in recorded(cell.core)]
    sent = [item.value for item in items if item.value is not None and not item.lost]
    junk = [item for item in items if item.value is None]
    figures = {"protocol": protocol, "mode": "pushed", "items_sent": count, "genuine_sent": len(sent),
               "garbage_sent": len(junk), "garbage_kinds": dict(Counter(item.kind for item in junk)),
               "genuine_lost_glued_to_truncated": sum(item.lost for item in items),
               "split_frames": sum(item.kind == "split" for item in items),
               "recorded": len(values), "rejected_by_decoder": cell.handled()[2], "refused": cell.handled()[1],
               "wrong_values": sum(1 for a, b in zip(values, sent, strict=False) if a != b),
               "reject_reasons": len(cell.decoder.rejects), "wall_s": round(wall_s, 1),
               "checkpoints": {name: s.as_dict() for name, s in probe.samples.items()}}
    report(f"gauge_{protocol}_{count}", figures)
    assert values == sent, "recorded values are not exactly the genuine frames, in order"
    assert figures["rejected_by_decoder"] + figures["refused"] == len(junk), "every garbage item rejected once"
    assert log_count.errors() == [], f"errors logged: {log_count.errors()}"
    assert len(cell.decoder.rejects) <= 20, "the reject counter must stay bounded (one key per reason)"
    assert_fds_flat(warm, end, cell.core)
    assert_flat(probe)
    return figures


def outcome(before: tuple[int, int, int], item: Item) -> tuple[int, int, int]:
    """(recorded, refused, rejected) after `item`; a lost genuine frame was counted with its garbage."""
    recorded_, refused, rejected = before
    if item.value is not None:
        return (recorded_ + (not item.lost), refused, rejected)
    return (recorded_, refused + item.refused, rejected + (not item.refused))


def test_gauge_garbage_quick(gauge_cell: GaugeCell, log_count: LogCount) -> None:
    run_gauge_stream(gauge_cell, log_count, count=300)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("gauge_cell", ["mitutoyo"], indirect=True)
def test_gauge_garbage_twenty_thousand(gauge_cell: GaugeCell, log_count: LogCount) -> None:
    run_gauge_stream(gauge_cell, log_count, count=20_000)


def test_an_idle_pushed_gauge_with_a_long_port_timeout_stays_up(tmp_path: Path, log_count: LogCount) -> None:
    """Found by the stream above: a port timeout as long as the poller's backstop cut every idle read short; the
    gauge showed down, its port was reopened, and a frame arriving then went with the abandoned read."""
    gauge = run_gauge_simulator("mitutoyo", unit="mm")
    device = {"kind": "serial_gauge", "id": "gauge", "station": "cell-1", "url": gauge.path, "protocol": "mitutoyo",
              "mode": "pushed", "unit": "mm", "timeout_s": 0.5}
    characteristic = {"id": "size", "lower": "0", "upper": "100", "unit": "mm", "resolution": "0.001",
                      "method": "gauge", "device": "gauge", "gauge": "G-1"}
    instrument = {"id": "G-1", "type": "caliper", "resolution": "0.001", "unit": "mm",
                  "calibration_due": "2099-01-01", "device": "gauge"}
    core = open_cell(tmp_path, [device], [characteristic], [instrument])
    runtime = Runtime(core, settings=replace(SETTINGS, timeout_s=0.3)).start()
    try:
        wait_for(lambda: runtime.health()[0]["last_good_at"], "the gauge port opened")
        time.sleep(1.5)  # idle: three of the old backstops
        health = runtime.health()[0]
        gauge.push("12.345")
        wait_for(lambda: runtime.states["gauge"].recorded == 1, "the value pushed after the idle time recorded")
    finally:
        runtime.stop()
        core.close()
        gauge.stop()
    assert (health["state"], health["failures"]) == ("up", 0), health["last_error"]
    assert log_count.count("drivers.poller", "WARNING", "failed: %s") == 0


class ScriptedGauge(GaugeSimulator):
    """The pty gauge simulator answering each request with the next item of a script, genuine or garbage."""

    def __init__(self, protocol: str, script: list[Item]) -> None:
        self.script = iter(script)
        super().__init__(protocol, [], UNITS[protocol])

    def _answer(self, request: bytes) -> None:
        if request not in REQUESTS[self.protocol]:
            return
        item = next(self.script, None)
        if item is not None:
            send(self, item)
        self.requests += 1  # after the answer: a count past the script means every item was answered


POLLED = PollerSettings(interval_s=0.0, timeout_s=2.0, backoff_initial_s=0.01, backoff_max_s=0.05)


def run_polled(protocol: str, count: int) -> dict[str, Any]:
    """The poller and the serial driver as the runtime wires a polled gauge, reading a scripted gauge."""
    items = stream(protocol, count, seed=count, polled=True)
    gauge = ScriptedGauge(protocol, items)
    device = GaugeDevice("gauge", build_gauge(gauge.path, protocol, unit=UNITS[protocol], timeout_s=0.2), "polled")
    good_text: list[str] = []  # text, not the Readings: what the test keeps must not count as the product's memory
    probe, started = Probe(), time.monotonic()

    async def sink(reading: Reading) -> None:
        if reading.quality is Quality.GOOD:
            good_text.append(str(reading.value))

    async def scenario() -> None:
        task = asyncio.create_task(Poller(gauge.path, [device], sink, POLLED).run())
        marks = {max(50, count // 10): "after_warm_up", count // 2: "middle"}
        deadline = time.monotonic() + 60 + count * 0.05
        while gauge.requests <= count and time.monotonic() < deadline and not task.done():
            # Checkpoints while the port is open: the poller closes it after each garbage reply.
            for at in [at for at in marks if gauge.requests >= at and device.gauge.is_open]:
                probe.sample(mark := marks.pop(at))
                if mark == "after_warm_up":
                    probe.trace()
            await asyncio.sleep(0.001)
        while not device.gauge.is_open:  # the poller retries the unanswered request: its port opens again
            await asyncio.sleep(0.001)
        probe.sample("end")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    probe.sample("start")
    try:
        asyncio.run(scenario())
    finally:
        probe.stop()
        gauge.stop()
    good = [Decimal(text) for text in good_text]
    sent = [item.value for item in items if item.value is not None]
    junk = [item for item in items if item.value is None]
    figures = {"protocol": protocol, "mode": "polled", "requests_answered": min(gauge.requests, count),
               "genuine_sent": len(sent), "garbage_sent": len(junk),
               "garbage_kinds": dict(Counter(item.kind for item in junk)), "good_readings": len(good),
               "genuine_missing": len(sent) - len(good),
               "wrong_values": sum(1 for value in good if value not in set(sent)),
               "wall_s": round(time.monotonic() - started, 1),
               "checkpoints": {name: s.as_dict() for name, s in probe.samples.items()}}
    report(f"gauge_{protocol}_polled_{count}", figures)
    assert gauge.requests > count, f"only {gauge.requests} of {count} requests answered"
    # Each genuine reply at most once, in order. One may go missing (reported, not asserted): on a loaded machine
    # the rest of a reply split across writes can come later than the port timeout, and the reply is dropped.
    assert good == [value for value in sent if value in set(good)], "good readings not genuine replies in order"
    warm, end = probe.samples["after_warm_up"], probe.samples["end"]
    assert abs(end.fds - warm.fds) <= 2, f"descriptors {warm.fd_kinds} after warm-up, {end.fd_kinds} at the end"
    assert_flat(probe)
    return figures


@pytest.mark.parametrize("protocol", ["mitutoyo", "sylvac", "mt-sics"])
def test_polled_gauge_garbage_quick(protocol: str, log_count: LogCount) -> None:
    run_polled(protocol, 200)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("protocol", ["sylvac"])
def test_polled_gauge_garbage_three_thousand(protocol: str, log_count: LogCount) -> None:
    run_polled(protocol, 3000)
