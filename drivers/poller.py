"""One poller per bus: reads every device on it in turn and hands Readings to a callback or an asyncio queue.

Owns: the bus lock and the inter-frame gap between transactions, a timeout around each read, reconnecting
with exponential backoff and jitter, each device's health (up, last-good time, consecutive failures, last
error), the quality of each value, and logging once when a device fails and once when it recovers (never
per retry). A dead device waits out its backoff, so devices that answer keep their pace.

Quality of a value, per (source, channel):
    GOOD   read in the device's latest successful cycle
    STALE  the device's latest cycle failed, and the value is younger than `stale_after_s`
    BAD    the device's latest cycle failed, and the value is older than that (show it as unavailable)
A Reading is sent for every value of every successful cycle, and once per value on each change of quality.

It knows nothing of lots, stores or configuration files, and imports nothing of this repository outside
drivers/.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, Protocol

from drivers.base import DeviceTimeoutError, DriverError, Quality, Reading
from drivers.gauge_frames import Frame

if TYPE_CHECKING:  # so that importing the poller does not import pymodbus and pyserial
    from drivers.modbus_plc import PlcClient
    from drivers.serial_gauge import SerialGauge

log = logging.getLogger(__name__)

ReadingSink = Callable[[Reading], Awaitable[None]] | asyncio.Queue[Reading]


class Device(Protocol):
    """What a poller drives: one read of every value the device has, and a way to let go of the link."""

    source: str

    async def read(self) -> list[Reading]: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class PollerSettings:
    interval_s: float = 0.5  # between the starts of two cycles of one device
    inter_frame_gap_s: float = 0.0  # quiet time on the bus between two transactions
    timeout_s: float = 2.0  # backstop around one read; transports have their own, shorter one
    stale_after_s: float = 5.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    jitter: float = 0.2  # +-20 % on each backoff, so devices on a rebooted network do not retry in step


@dataclass
class DeviceHealth:
    up: bool = True
    last_good_at: datetime | None = None
    failures: int = 0
    last_error: str = ""


@dataclass
class _Bus:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    free_at: float = 0.0


class Poller:
    """Polls `devices` (all on one bus) forever in `run()`; sends Readings to `sink`."""

    def __init__(
        self,
        bus: str,
        devices: Sequence[Device],
        sink: ReadingSink,
        settings: PollerSettings = PollerSettings(),
        rng: random.Random | None = None,
    ) -> None:
        self.bus, self.devices, self.sink, self.settings = bus, list(devices), sink, settings
        self.health = {device.source: DeviceHealth() for device in devices}
        self.latest: dict[tuple[str, str], Reading] = {}
        self._rng = rng or random.Random()
        self._bus = _Bus()

    async def run(self) -> None:
        """Runs until cancelled; closes every device's link on the way out."""
        try:
            async with asyncio.TaskGroup() as group:
                for device in self.devices:
                    group.create_task(self._loop(device), name=f"{self.bus}/{device.source}")
        finally:
            for device in self.devices:
                device.close()

    async def transaction(self, work: Callable[[], Awaitable[object]]) -> object:
        """Runs `work` alone on the bus, after the inter-frame gap (used for reads and for writes)."""
        async with self._bus.lock:
            await asyncio.sleep(max(0.0, self._bus.free_at - time.monotonic()))
            try:
                # asyncio.timeout, not wait_for: on Python 3.11, wait_for returns the result of a read that ends
                # just as the poller is cancelled, and the cancellation is lost (the poller never stops).
                async with asyncio.timeout(self.settings.timeout_s):
                    return await work()
            except TimeoutError:
                raise DeviceTimeoutError(f"{self.bus}: no answer in {self.settings.timeout_s} s") from None
            finally:
                self._bus.free_at = time.monotonic() + self.settings.inter_frame_gap_s

    async def _loop(self, device: Device) -> None:
        while True:
            wake = time.monotonic() + await self._cycle(device)
            # While a device is down its values turn bad on time, not only when the backoff next retries.
            while (left := wake - time.monotonic()) > 0:
                await asyncio.sleep(min(left, self._until_bad(device.source)))
                await self._judge(device.source)

    async def _cycle(self, device: Device) -> float:
        """One read of `device`; returns how long to wait before the next one."""
        try:
            readings = await self.transaction(device.read)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is None or task.cancelling():
                raise  # the poller is being stopped
            # A library's own future cancelled under the read (a connection dropped mid-request): a failed read,
            # not the end of this device's loop, which would otherwise end quietly and never poll again.
            return await self._failure(device, DriverError(f"{device.source}: the request was cancelled by the "
                                                           "driver (connection lost mid-request)"))
        except Exception as error:  # a bug in one device must not stop the others on the bus
            if not isinstance(error, DriverError):
                log.exception("%s: %s raised an unexpected error", self.bus, device.source)
                error = DriverError(f"{device.source}: unexpected {type(error).__name__}: {error}")
            return await self._failure(device, error)
        await self._succeeded(device.source, readings)  # type: ignore[arg-type]
        return self.settings.interval_s

    async def _failure(self, device: Device, error: DriverError) -> float:
        device.close()
        await self._failed(device.source, error)
        return self._backoff(self.health[device.source].failures)

    async def _succeeded(self, source: str, readings: list[Reading]) -> None:
        health = self.health[source]
        if not health.up:
            log.info("%s: %s recovered after %d failed reads", self.bus, source, health.failures)
        health.up, health.failures, health.last_error = True, 0, ""
        health.last_good_at = datetime.now(UTC)
        for reading in readings:
            self.latest[(source, reading.channel)] = reading
            await self._send(reading)

    async def _failed(self, source: str, error: DriverError) -> None:
        health = self.health[source]
        if health.up:
            log.warning("%s: %s failed: %s", self.bus, source, error)
        health.up, health.failures, health.last_error = False, health.failures + 1, str(error)
        await self._judge(source)

    async def _judge(self, source: str) -> None:
        """Sends, once, each value of a down device whose quality changed (good -> stale -> bad)."""
        if self.health[source].up:
            return
        for key, reading in list(self.latest.items()):
            if key[0] == source and (quality := self._quality(reading)) != reading.quality:
                self.latest[key] = changed = replace(reading, quality=quality)
                await self._send(changed)

    def _quality(self, reading: Reading) -> Quality:
        return Quality.STALE if self._age_s(reading) <= self.settings.stale_after_s else Quality.BAD

    def _age_s(self, reading: Reading) -> float:
        return (datetime.now(UTC) - reading.at).total_seconds()

    def _until_bad(self, source: str) -> float:
        """Seconds until the next stale value of `source` turns bad; a long time when there is none."""
        stale = [r for (s, _), r in self.latest.items() if s == source and r.quality is Quality.STALE]
        if self.health[source].up or not stale:
            return 3600.0
        return max(0.001, self.settings.stale_after_s - max(self._age_s(r) for r in stale) + 0.001)

    def _backoff(self, failures: int) -> float:
        s = self.settings
        base = min(s.backoff_max_s, s.backoff_initial_s * 2 ** min(failures - 1, 30))
        return base * (1 + self._rng.uniform(-s.jitter, s.jitter))

    async def _send(self, reading: Reading) -> None:
        if isinstance(self.sink, asyncio.Queue):
            await self.sink.put(reading)
        else:
            await self.sink(reading)


# --- devices ---------------------------------------------------------------------------------------------


@dataclass
class PlcDevice:
    """A PLC as a poller device: every scan gives one Reading per numeric tag (channel = tag name)."""

    source: str
    client: PlcClient

    async def read(self) -> list[Reading]:
        values = await self.client.scan()
        now = datetime.now(UTC)
        return [
            Reading(self.source, value, self.client.tags[name].unit, at=now, channel=name)
            for name, value in values.items()
            if isinstance(value, Decimal)  # string tags (a serial number) are read with client.scan()
        ]

    def close(self) -> None:
        self.client.close()


@dataclass
class GaugeDevice:
    """A serial gauge as a poller device: `polled` asks each cycle, `pushed` waits for the data button."""

    source: str
    gauge: SerialGauge
    mode: Literal["polled", "pushed"] = "polled"

    async def read(self) -> list[Reading]:
        if self.mode == "polled":
            return [self._reading(await asyncio.to_thread(self.gauge.poll))]
        pushed = await asyncio.to_thread(self.gauge.read_pushed)
        # A garbage or error frame among pushed ones is counted by the decoder, not a failed device.
        return [self._reading(item) for item in pushed if isinstance(item, Frame)]

    def _reading(self, frame: Frame) -> Reading:
        quality = Quality.GOOD if frame.stable else Quality.STALE
        channel, raw = frame.channel, frame.raw
        return Reading(self.source, frame.value, frame.unit, channel=channel, quality=quality, raw=raw)

    def close(self) -> None:
        self.gauge.close()
