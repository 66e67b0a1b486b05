"""The device runtime: pollers for the configured devices, and readings turned into measurements.

Owns the wiring from devices to the core: one poller per bus (each serial port, each PLC), on an asyncio loop
in its own thread so the web server never waits on a device. A pushed gauge frame, or a PLC trigger's rising
edge (part present, cycle complete), becomes measurements in the station's active lot through the services,
with the gauge's identity so its calibration is checked; after a PLC part the reject tag is written back.
A reading that cannot be recorded (no active lot, gauge overdue, value not accepted) is counted and logged
with its reason, never recorded wrong. A part the store cannot record (its disk full or failing) is rejected at
the PLC: a part never passes without its record. Must not speak SQL or decide verdicts.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from drivers.base import DriverError, Quality, Reading
from drivers.poller import GaugeDevice, PlcDevice, Poller, PollerSettings
from drivers.registers import Edge, Tag
from edge import auth, stations
from edge.config import Characteristic, LineConfig, ModbusPlcDevice, SerialGaugeDevice
from edge.core import Core
from edge.errors import LinesideError, StorageError, StoreError
from edge.events import EventHub
from edge.measurements import MeasurementInput, record_measurements

log = logging.getLogger(__name__)


@dataclass
class DeviceState:
    """What the health endpoint shows of a device."""

    device: str
    station: str
    kind: str
    recorded: int = 0
    refused: int = 0
    last_refusal: str = ""
    refusal_kind: str = ""  # what "a new reason" is compared by, for logging once per reason
    live: dict[str, dict[str, str]] = field(default_factory=dict)  # channel -> value, unit, quality, at


@dataclass(frozen=True)
class Part:
    """Values to record together: one pushed gauge frame, or one PLC part at its trigger's edge."""

    device: str
    station: str
    readings: tuple[Reading, ...]


def plc_url(device: ModbusPlcDevice) -> str:
    if device.transport == "tcp":
        return f"tcp://{device.host}:{device.port}"
    return f"rtu:{device.serial_url}?baudrate={device.baudrate}"


def plc_tags(device: ModbusPlcDevice) -> list[Tag]:
    return [Tag(t.name, t.table, t.address, t.type, t.length if t.type == "string" else 0, t.byte_order,
                t.word_order, t.scale, t.offset, t.unit) for t in device.tags]


class TriggeredPlc:
    """A PLC device for the poller that also watches its trigger tags and hands over whole parts."""

    def __init__(self, config: ModbusPlcDevice, on_part: Callable[[Part], None]):
        from drivers.modbus_plc import build_plc_client

        self.source = config.id
        self.config = config
        self.client = build_plc_client(plc_url(config), plc_tags(config), device_id=config.unit_id,
                                       timeout_s=config.timeout_s)
        self.inner = PlcDevice(config.id, self.client)
        self.edges = {t.name: Edge(falling=t.trigger == "falling") for t in config.tags if t.trigger}
        self.on_part = on_part

    async def read(self) -> list[Reading]:
        readings = await self.inner.read()
        values = {r.channel: r.value for r in readings}
        if any(edge.update(values.get(name, Decimal(0))) for name, edge in self.edges.items()):
            self.on_part(Part(self.source, self.config.station, tuple(r for r in readings
                                                                      if r.channel not in self.edges)))
        return readings

    def close(self) -> None:
        for edge in self.edges.values():
            edge.forget()  # after a reconnect, a bit already high is not a new part
        self.inner.close()


class Runtime:
    """Builds the pollers from the configuration and records what they read; `start()` runs it in a thread."""

    def __init__(self, core: Core, settings: PollerSettings | None = None, hub: EventHub | None = None,
                 vision: Any = None):
        self.core = core
        self.hub = hub or EventHub()  # the UI's live screens subscribe to it
        self.settings = settings or PollerSettings(interval_s=0.1)
        self.states = {d.id: DeviceState(d.id, d.station, d.kind) for d in core.config.devices
                       if d.kind in ("serial_gauge", "modbus_plc")}
        self.pollers: list[Poller] = []
        self.plcs: dict[str, TriggeredPlc] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._parts: asyncio.Queue[Part] | None = None
        self.vision: Any = vision  # edge.vision.Vision when the line has cameras (imports OpenCV, so only then)
        if self.vision is None and any(d.kind == "camera" for d in core.config.devices):
            from edge.vision import Vision

            self.vision = Vision(core)

    # -- life ----------------------------------------------------------------------------------------------

    def run_soon(self, coroutine: Any) -> Any:
        """Run a coroutine on the runtime's loop from another thread (a button, the demo); returns its future."""
        assert self._loop is not None, "the runtime is not started"
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def start(self) -> Runtime:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run_thread, args=(ready,), name="lineside-runtime",
                                        daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._main_task.cancel)
            self._thread.join(timeout=15)

    def _run_thread(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        self._main_task = self._loop.create_task(self.run(ready))
        try:
            self._loop.run_until_complete(self._main_task)
        except asyncio.CancelledError:
            pass
        finally:
            self._loop.close()

    async def run(self, ready: threading.Event | None = None) -> None:
        self._parts = asyncio.Queue()
        self.pollers = self._build_pollers()
        if ready:
            ready.set()
        async with asyncio.TaskGroup() as group:
            for poller in self.pollers:
                group.create_task(poller.run(), name=f"poller {poller.bus}")
            group.create_task(self._record_parts(), name="recorder")
            if self.vision is not None:
                self.vision.start_watchers()  # folder cameras: a file's arrival is a trigger

    def _build_pollers(self) -> list[Poller]:
        pollers = []
        for device in self.core.config.devices:
            if isinstance(device, SerialGaugeDevice):
                # The poller's backstop must outlast the port's own timeout (a poll may wait it twice: the reply
                # and its end): cut short, a read goes on in its thread and the frame it brings is lost.
                settings = replace(self.settings, timeout_s=max(self.settings.timeout_s, 3 * device.timeout_s))
                pollers.append(Poller(device.url, [self._gauge(device)], self._observe, settings))
            elif isinstance(device, ModbusPlcDevice):
                plc = TriggeredPlc(device, self._queue_part)
                self.plcs[device.id] = plc
                settings = replace(self.settings, interval_s=device.scan_interval_ms / 1000)
                pollers.append(Poller(plc_url(device), [plc], self._observe, settings))
        return pollers

    def _gauge(self, device: SerialGaugeDevice) -> GaugeDevice:
        from drivers.serial_gauge import build_gauge

        protocol = device.protocol
        gauge = build_gauge(device.url, protocol, unit=device.unit or "", pattern=device.pattern or "",
                            baudrate=device.baudrate, timeout_s=device.timeout_s)
        return GaugeDevice(device.id, gauge, device.mode)

    # -- readings ------------------------------------------------------------------------------------------

    async def _observe(self, reading: Reading) -> None:
        state = self.states[reading.source]
        channel = reading.channel or "value"
        before = state.live.get(channel, {})
        state.live[channel] = {"value": str(reading.value), "unit": reading.unit, "quality": reading.quality.value,
                               "at": reading.at.isoformat()}
        if (before.get("value"), before.get("quality")) != (str(reading.value), reading.quality.value):
            self.hub.publish("reading", device=reading.source, station=state.station, channel=channel,
                             value=str(reading.value), unit=reading.unit, quality=reading.quality.value)
        device = next(d for d in self.core.config.devices if d.id == reading.source)
        pushed = isinstance(device, SerialGaugeDevice) and device.mode == "pushed"
        if pushed and reading.quality is Quality.GOOD:
            self._queue_part(Part(device.id, device.station, (reading,)))

    def _queue_part(self, part: Part) -> None:
        assert self._parts is not None
        self._parts.put_nowait(part)

    async def _record_parts(self) -> None:
        assert self._parts is not None
        while True:
            part = await self._parts.get()
            failed = await asyncio.to_thread(self.record_part, part)
            if self.vision is not None and part.device in self.plcs:
                results = await self.vision.on_trigger(part.station)  # the same part, under the camera
                if any(r.get("verdict") == "fail" for r in results):
                    failed = True  # not `failed or ...`: None (nothing recorded) must not become False (passed)
            await self._write_back(part, failed)

    def record_part(self, part: Part) -> bool | None:
        """Record a part's values in its station's active lot; returns whether the PLC is to reject it: any value
        failed, or the store's disk could not record them (never passed without its record). None: its values
        were refused (no active lot, gauge overdue, value not accepted) and nothing is written back."""
        state = self.states[part.device]
        try:
            results = self._record(part)
        except (LinesideError, StoreError) as exc:
            self._refused(state, part, exc)
            return True if isinstance(exc, StorageError) else None
        state.recorded += len(results)
        state.refusal_kind = ""  # recording again: the next refusal is news
        self.hub.recorded(results, station=part.station, device=part.device)
        return any(r["verdict"] == "fail" for r in results)

    @staticmethod
    def _refused(state: DeviceState, part: Part, exc: Exception) -> None:
        """Count the refusal; log it once per new reason (a full disk is one reason, whatever its free bytes)."""
        state.refused += len(part.readings)
        reason = type(exc).__name__ if isinstance(exc, StorageError) else str(exc)
        if reason != state.refusal_kind:
            log.warning("%s: readings not recorded: %s", part.device, exc)
        state.last_refusal, state.refusal_kind = str(exc), reason

    def _record(self, part: Part) -> list[dict[str, Any]]:
        lot = stations.active_lot(self.core, part.station)
        if lot is None:
            raise LinesideError(f"station {part.station} has no active lot: open or set one first")
        inputs = self._inputs(lot, part)
        if not inputs:
            return []
        actor = self._actor(part.station)
        return record_measurements(self.core, actor, lot["lot_number"], inputs)

    def _inputs(self, lot: dict[str, Any], part: Part) -> list[MeasurementInput]:
        characteristics = bound_characteristics(self.core.config, lot["product"], lot["plan_revision"], part.device)
        inputs = []
        for reading in part.readings:
            for characteristic in characteristics:
                if characteristic.tag in (None, reading.channel) or characteristic.tag == "":
                    inputs.append(MeasurementInput(characteristic.id, reading.value, unit=reading.unit or None,
                                                   gauge=characteristic.gauge or self._gauge_on(part.device),
                                                   device=part.device))
        return inputs

    def _gauge_on(self, device_id: str) -> str | None:
        return next((g.id for g in self.core.config.gauges if g.device == device_id), None)

    def _actor(self, station: str) -> auth.Actor:
        """Readings are attributed to whoever set the station's active lot; the device is recorded beside."""
        row = self.core.store.query_one("SELECT assigned_by FROM station_lots WHERE station = ? "
                                        "ORDER BY assigned_at DESC, rowid DESC LIMIT 1", (station,))
        name = row["assigned_by"] if row else auth.SYSTEM
        return auth.Actor(uid=name, name=name, role="operator", station=station)

    async def _write_back(self, part: Part, failed: bool | None) -> None:
        plc = self.plcs.get(part.device)
        if plc is None or failed is None or not plc.config.reject_tag:
            return
        poller = next(p for p in self.pollers if plc in p.devices)
        try:
            await poller.transaction(lambda: plc.client.write(plc.config.reject_tag, failed))  # type: ignore[arg-type]
        except DriverError as exc:
            log.warning("%s: reject tag not written: %s", part.device, exc)

    # -- health --------------------------------------------------------------------------------------------

    def health(self) -> list[dict[str, Any]]:
        result = []
        for poller in self.pollers:
            for source, health in poller.health.items():
                state = self.states[source]
                result.append({"device": source, "station": state.station, "kind": state.kind,
                               "state": "up" if health.up else "down", "last_good_at":
                               health.last_good_at.isoformat() if health.last_good_at else None,
                               "failures": health.failures, "last_error": health.last_error,
                               "recorded": state.recorded, "refused": state.refused,
                               "last_refusal": state.last_refusal, "live": state.live})
        return result


def bound_characteristics(config: LineConfig, product: str, revision: str, device: str) -> list[Characteristic]:
    """The characteristics of a plan revision whose values come from `device`."""
    found = config.product(product)
    plan = found.plan(revision) if found else None
    return [c for c in plan.characteristics if c.device == device] if plan else []
