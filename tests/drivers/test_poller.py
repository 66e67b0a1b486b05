"""The bus poller against real simulators: readings, quality, backoff, transition logging, isolation."""

import asyncio
import logging
import random
from decimal import Decimal

import pytest

from drivers.base import Quality, Reading
from drivers.modbus_plc import build_plc_client
from drivers.poller import GaugeDevice, PlcDevice, Poller, PollerSettings
from drivers.serial_gauge import build_gauge
from drivers.simulators.gauge import run_gauge_simulator
from drivers.simulators.plc import DEFAULT_TAGS, run_plc_simulator

FAST = PollerSettings(
    interval_s=0.02, timeout_s=1.0, stale_after_s=1.0, backoff_initial_s=0.05, backoff_max_s=0.2, jitter=0.2
)


@pytest.fixture
def plc():
    sim = run_plc_simulator()
    yield sim
    sim.stop()


def plc_device(sim, source="press-1"):
    return PlcDevice(source, build_plc_client(sim.url, DEFAULT_TAGS, timeout_s=0.1))


async def until(queue, predicate, seen=None):
    while True:
        reading = await queue.get()
        if seen is not None:
            seen.append(reading)
        if predicate(reading):
            return reading


async def running(poller, scenario):
    task = asyncio.create_task(poller.run())
    try:
        return await scenario()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_every_scan_sends_one_good_reading_per_numeric_tag(plc):
    plc.present_part({"diameter": "12.345", "length": "1", "height": "2"})
    queue: asyncio.Queue[Reading] = asyncio.Queue()

    async def scenario():
        return [await queue.get() for _ in range(len(DEFAULT_TAGS))]

    readings = asyncio.run(running(Poller("bus", [plc_device(plc)], queue, FAST), scenario))
    by_channel = {r.channel: r for r in readings}
    assert set(by_channel) == {tag.name for tag in DEFAULT_TAGS}
    assert by_channel["diameter"].value == Decimal("12.345") and by_channel["diameter"].unit == "mm"
    assert {r.quality for r in readings} == {Quality.GOOD} and {r.source for r in readings} == {"press-1"}


def test_a_silent_plc_turns_its_values_stale_then_bad_and_good_again_logging_only_transitions(plc, caplog):
    queue: asyncio.Queue[Reading] = asyncio.Queue()
    poller = Poller("bus-1", [plc_device(plc)], queue, FAST)
    diameter: list[Reading] = []

    async def scenario():
        await until(queue, lambda r: r.channel == "diameter")
        plc.silent = True
        await until(queue, lambda r: r.channel == "diameter" and r.quality is Quality.BAD, diameter)
        failures = poller.health["press-1"].failures
        plc.silent = False
        await until(queue, lambda r: r.channel == "diameter" and r.quality is Quality.GOOD, diameter)
        return failures

    with caplog.at_level(logging.INFO, logger="drivers.poller"):
        failures = asyncio.run(running(poller, scenario))
    qualities = [r.quality for r in diameter if r.channel == "diameter"]
    assert qualities == [Quality.STALE, Quality.BAD, Quality.GOOD]
    assert failures >= 2  # several failed reads ...
    messages = [r.getMessage() for r in caplog.records if r.name == "drivers.poller"]
    assert len(messages) == 2  # ... but one line when it failed and one when it recovered
    assert "press-1 failed" in messages[0] and "recovered" in messages[1]
    assert poller.health["press-1"].up and poller.health["press-1"].last_good_at is not None


def test_a_dead_device_on_the_bus_does_not_stop_the_others(plc):
    dead_sim = run_plc_simulator()
    dead_sim.silent = True
    queue: asyncio.Queue[Reading] = asyncio.Queue()
    poller = Poller("bus", [plc_device(dead_sim, "dead"), plc_device(plc, "alive")], queue, FAST)

    async def scenario():
        while poller.health["dead"].failures < 3:
            await asyncio.sleep(0.01)
        cycles = 0
        while cycles < 10:  # the live PLC keeps being scanned while the dead one backs off
            cycles += (await queue.get()).channel == "part_present"
        return poller.health

    try:
        health = asyncio.run(running(poller, scenario))
    finally:
        dead_sim.stop()
    assert not health["dead"].up and "no response" in health["dead"].last_error.lower()
    assert health["alive"].up and health["alive"].failures == 0


def test_writes_share_the_bus_lock_with_reads(plc):
    queue: asyncio.Queue[Reading] = asyncio.Queue()
    device = plc_device(plc)
    poller = Poller("bus", [device], queue, FAST)

    async def scenario():
        await queue.get()
        await poller.transaction(lambda: device.client.write("reject", True))
        return await until(queue, lambda r: r.channel == "reject" and r.value == 1)

    assert asyncio.run(running(poller, scenario)).quality is Quality.GOOD


@pytest.mark.parametrize("protocol", ["sylvac", "mt-sics"])
def test_gauges_feed_an_async_callback_polled_or_pushed(protocol):
    sim = run_gauge_simulator(protocol, ["1.000", "2.000"])
    got: list[Reading] = []
    arrived = asyncio.Event()

    async def sink(reading):
        got.append(reading)
        if len(got) >= 4:
            arrived.set()

    polled = GaugeDevice("g-polled", build_gauge(sim.path, protocol, timeout_s=0.2))

    async def scenario():
        await arrived.wait()
        return list(got)

    try:
        readings = asyncio.run(running(Poller("com1", [polled], sink, FAST), scenario))
    finally:
        sim.stop()
    assert [r.value for r in readings[:2]] == [Decimal("1.000"), Decimal("2.000")]
    assert {r.source for r in readings} == {"g-polled"}


def test_a_pushed_gauge_sends_what_the_data_button_sends_and_skips_garbage():
    sim = run_gauge_simulator("mitutoyo")
    queue: asyncio.Queue[Reading] = asyncio.Queue()
    gauge = build_gauge(sim.path, "mitutoyo", timeout_s=0.05)
    settings = PollerSettings(interval_s=0.0, timeout_s=1.0)
    poller = Poller("com2", [GaugeDevice("caliper", gauge, mode="pushed")], queue, settings)

    async def scenario():
        while not gauge.is_open:
            await asyncio.sleep(0.01)
        sim.push("0.125")
        sim.send_raw(b"01A+garbage!\r")
        sim.push("-1.500")
        return [await queue.get(), await queue.get()]

    try:
        readings = asyncio.run(running(poller, scenario))
    finally:
        sim.stop()
    assert [(r.value, r.channel, r.quality) for r in readings] == [
        (Decimal("0.125"), "01", Quality.GOOD),
        (Decimal("-1.500"), "01", Quality.GOOD),
    ]
    assert sum(gauge.decoder.rejects.values()) == 1


def test_backoff_doubles_up_to_the_cap_with_bounded_jitter():
    settings = PollerSettings(backoff_initial_s=1, backoff_max_s=8, jitter=0.25)
    poller = Poller("bus", [], asyncio.Queue(), settings, rng=random.Random(7))
    delays = [poller._backoff(failures) for failures in range(1, 8)]
    for delay, base in zip(delays, [1, 2, 4, 8, 8, 8, 8], strict=True):
        assert base * 0.75 <= delay <= base * 1.25
    assert len(set(delays)) == len(delays)  # jittered, so a rebooted network does not retry in step


class CountingDevice:
    """A device of our own making (not a mock of our internals): it records when the bus is in use."""

    def __init__(self, source, log, fail_with=None):
        self.source, self.log, self.fail_with, self.closed = source, log, fail_with, 0

    async def read(self):
        loop = asyncio.get_running_loop()
        self.log.append(("start", self.source, loop.time()))
        await asyncio.sleep(0.001)
        self.log.append(("end", self.source, loop.time()))
        if self.fail_with is not None:
            raise self.fail_with
        return [Reading(self.source, Decimal(1), "mm")]

    def close(self):
        self.closed += 1


def test_transactions_on_one_bus_never_overlap_and_keep_the_inter_frame_gap():
    log: list[tuple[str, str, float]] = []
    settings = PollerSettings(interval_s=0.0, inter_frame_gap_s=0.005)
    queue: asyncio.Queue[Reading] = asyncio.Queue()
    poller = Poller("rs485", [CountingDevice("a", log), CountingDevice("b", log)], queue, settings)

    async def scenario():
        while len(log) < 40:
            await asyncio.sleep(0.005)
        return asyncio.get_running_loop()._clock_resolution

    resolution = asyncio.run(running(poller, scenario))
    events = [kind for kind, _, _ in log[:40]]
    assert events == ["start", "end"] * 20  # strictly one transaction at a time
    gaps = [log[i + 1][2] - log[i][2] for i in range(1, 39, 2)]  # end of one -> start of the next
    # A lower bound (load only lengthens gaps); 1 ms of slack for the loop waking a timer a hair early.
    assert min(gaps) >= settings.inter_frame_gap_s - resolution - 0.001
    assert {source for _, source, _ in log} == {"a", "b"}


def test_a_device_that_raises_a_foreign_exception_is_a_failed_device_not_a_dead_poller(caplog):
    log: list[tuple[str, str, float]] = []
    broken = CountingDevice("broken", log, fail_with=KeyError("bug"))
    queue: asyncio.Queue[Reading] = asyncio.Queue()
    poller = Poller("bus", [broken, CountingDevice("fine", log)], queue, FAST)

    async def scenario():
        for _ in range(5):
            assert (await queue.get()).source == "fine"
        return poller.health["broken"]

    health = asyncio.run(running(poller, scenario))
    assert not health.up and "unexpected KeyError" in health.last_error and broken.closed >= 1


def test_a_request_cancelled_under_the_read_is_a_failed_read_and_the_device_is_polled_again():
    """A library that cancels its own future when the connection drops leaks CancelledError into the read; the
    device's loop must not end quietly on it (it did: the poller then never read that device again)."""

    class DroppedOnce(CountingDevice):
        async def read(self):
            if not self.closed:
                raise asyncio.CancelledError()
            return await super().read()

    log: list[tuple[str, str, float]] = []
    device = DroppedOnce("plc", log)
    queue: asyncio.Queue[Reading] = asyncio.Queue()
    poller = Poller("bus", [device], queue, FAST)

    async def scenario():
        return await queue.get()

    reading = asyncio.run(running(poller, scenario))
    assert reading.source == "plc" and reading.quality is Quality.GOOD and device.closed >= 1
    assert poller.health["plc"].up


@pytest.mark.timeout(60)
def test_values_of_a_down_device_turn_bad_on_time_not_at_the_next_retry(plc):
    settings = PollerSettings(interval_s=0.02, stale_after_s=1.0, backoff_initial_s=1000, backoff_max_s=1000)
    queue: asyncio.Queue[Reading] = asyncio.Queue()
    poller = Poller("bus", [plc_device(plc)], queue, settings)

    async def scenario():
        await until(queue, lambda r: r.channel == "height")
        plc.silent = True  # one failed read, then a 1000 s backoff: only the stale clock can make it bad
        stale = await until(queue, lambda r: r.channel == "height" and r.quality is not Quality.GOOD)
        bad = await until(queue, lambda r: r.channel == "height")
        return stale.quality, bad.quality, poller.health["press-1"].failures

    assert asyncio.run(running(poller, scenario)) == (Quality.STALE, Quality.BAD, 1)
