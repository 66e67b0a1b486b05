"""`lineside demo`: the example line on simulated devices, with a seeded store, demo users and a shift.

The caliper at OP10 is a Mitutoyo gauge on a real pseudo-terminal, the scale at the incoming bench an MT-SICS
balance on another, and OP20's PLC a real pymodbus server; the device runtime reads them exactly as it reads
real ones. The shift presents a part every second: the operator keys the bore and the burr check, the caliper
pushes the length, the PLC signals the part and its flatness. The boring bar wears, so a lot goes on hold within
a minute. Must not be used in production: its users have published passwords.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivers.simulators.gauge import GaugeSimulator, run_gauge_simulator
from drivers.simulators.plc import PlcSimulator, run_plc_simulator
from edge import auth, lots, plans, stations
from edge.config import LineConfig, parse
from edge.core import Core, open_core
from edge.errors import LinesideError
from edge.events import EventHub
from edge.measurements import MeasurementInput, record_measurement
from edge.runtime import Runtime, plc_tags

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "line.toml"
USERS = (  # name, role, badge, secret
    ("sue", "supervisor", None, "demo-supervisor"),
    ("adam", "admin", None, "demo-admin"),
    ("olly", "operator", "B-100", "4711"),
    ("ina", "inspector", "B-200", "5150"),
)


@dataclass
class Simulators:
    caliper: GaugeSimulator
    micrometer: GaugeSimulator
    scale: GaugeSimulator
    plc: PlcSimulator

    def stop(self) -> None:
        for simulator in (self.caliper, self.micrometer, self.scale, self.plc):
            simulator.stop()


def demo_line(raw: dict[str, Any]) -> dict[str, Any]:
    """The example line as the demo runs it: the bore micrometer on a Sylvac interface, the camera at its own
    station OP30 where plates are checked, and the incoming scale due for calibration in a week."""
    raw["stations"].append({"id": "op-30", "name": "OP30 plate check", "kind": "operator"})
    raw["devices"].append({"kind": "serial_gauge", "id": "mic-op10", "station": "op-10", "url": "/dev/null",
                           "protocol": "sylvac", "mode": "pushed", "unit": "mm"})
    for device in raw["devices"]:
        if device["id"] == "cam-op20":
            device["station"] = "op-30"
    for gauge in raw["gauges"]:
        if gauge["id"] == "MIC-0007":
            gauge["device"] = "mic-op10"
        if gauge["id"] == "SCL-0003":  # due in a week: the station and the admin pages say so
            gauge["calibration_due"] = dt.date.today() + dt.timedelta(days=7)
    bracket = next(p for p in raw["products"] if p["id"] == "BRK-100")
    next(c for c in bracket["plans"][-1]["characteristics"] if c["id"] == "bore-dia")["device"] = "mic-op10"
    return raw


def start_simulators(raw: dict[str, Any]) -> tuple[LineConfig, Simulators]:
    """Start a simulator for each of the example's devices and point the configuration at them."""
    raw = demo_line(raw)
    devices = {device["id"]: device for device in raw["devices"]}
    plc_config = next(d for d in parse(raw).devices if d.id == "plc-op20")
    simulators = Simulators(caliper=run_gauge_simulator("mitutoyo", ["80.00"], unit="mm"),
                            micrometer=run_gauge_simulator("sylvac", ["12.000"], unit="mm"),
                            scale=run_gauge_simulator("mt-sics", ["1250.00"], unit="g"),
                            plc=run_plc_simulator(plc_tags(plc_config), port=0))  # type: ignore[arg-type]
    devices["caliper-op10"]["url"] = simulators.caliper.path
    devices["mic-op10"]["url"] = simulators.micrometer.path
    devices["scale-incoming"]["url"] = simulators.scale.path
    devices["plc-op20"]["port"] = simulators.plc.port
    return parse(raw), simulators


def seed(core: Core) -> None:
    """Demo users and approved plans, once; a restarted demo keeps everything it recorded."""
    existing = {row["name"] for row in core.store.query("SELECT name FROM users")}
    for name, role, badge, secret in USERS:
        if name not in existing:
            auth.add_user(core.store, name, role, secret, badge)
    signer = auth.authenticate(core.store, "sue", "demo-supervisor")
    for product in core.config.products:
        try:
            plans.in_force(core.store, core.config, product.id)
        except LinesideError:
            plans.approve(core.store, core.config, signer, "demo-supervisor", product.id, product.plans[-1].revision)


class Shift(threading.Thread):
    """A part every `interval_s`; the boring bar wears, so the bore drifts upwards until a hold."""

    def __init__(self, core: Core, simulators: Simulators | None = None, interval_s: float = 1.0):
        super().__init__(name="demo-shift", daemon=True)
        self.core, self.simulators, self.interval_s = core, simulators, interval_s
        self.stopped = threading.Event()
        self.operator = auth.authenticate_badge(core.store, "B-100", "4711", station="op-10")
        self.wear_mm = 0.0  # the boring bar wears from lot to lot until a hold makes someone change it

    def run(self) -> None:
        lot_index = len(self.core.store.query("SELECT uid FROM lots"))
        while not self.stopped.is_set():
            lot_index += 1
            self._run_lot(f"DEMO-{lot_index:04d}")

    def _run_lot(self, lot_number: str) -> None:
        lots.open_lot(self.core, self.operator, product="BRK-100", lot=lot_number, quantity=40)
        stations.set_active_lot(self.core, self.operator, "op-20", lot_number)
        while not self.stopped.wait(self.interval_s):
            self.wear_mm += 0.0015
            try:
                status = self._part(lot_number)
            except LinesideError:
                return
            if status == "on_hold":
                self.wear_mm = 0.0
            if status != "open":
                self.stopped.wait(5 * self.interval_s)
                return

    def _part(self, lot_number: str) -> str:
        bore = f"{12.0 + self.wear_mm + random.gauss(0, 0.002):.3f}"
        if self.simulators:
            self._devices(bore)
        else:
            record_measurement(self.core, self.operator, lot_number, MeasurementInput("bore-dia", bore))
            self._keyed(lot_number)
        result = record_measurement(self.core, self.operator, lot_number, MeasurementInput("burr-free", "pass"))
        return str(result["lot_status"])

    def _devices(self, bore: str) -> None:
        assert self.simulators is not None
        self.simulators.micrometer.push(bore)
        self.simulators.caliper.push(f"{80.0 + random.gauss(0, 0.02):.2f}")
        self.simulators.plc.present_part({"flatness": f"{abs(random.gauss(0.02, 0.01)):.2f}"})
        self.stopped.wait(self.interval_s / 2)
        self.simulators.plc.remove_part()

    def _keyed(self, lot_number: str) -> None:
        """Without simulators (tests of the shift alone), the device values are keyed in."""
        for characteristic, value in (("length", f"{80.0 + random.gauss(0, 0.02):.2f}"),
                                      ("flatness", f"{abs(random.gauss(0.02, 0.01)):.2f}")):
            record_measurement(self.core, self.operator, lot_number, MeasurementInput(characteristic, value))


class PlateShift(threading.Thread):
    """OP30: a plate under the camera every `interval_s`; now and then one comes out oversize."""

    def __init__(self, core: Core, runtime: Runtime, interval_s: float = 2.0):
        super().__init__(name="demo-plates", daemon=True)
        self.core, self.runtime, self.interval_s = core, runtime, interval_s
        self.stopped = threading.Event()
        self.operator = auth.authenticate_badge(core.store, "B-100", "4711", station="op-30")

    def run(self) -> None:
        lot_index = len(self.core.store.query("SELECT uid FROM lots WHERE product = 'PLT-40'"))
        while not self.stopped.is_set():
            lot_index += 1
            lot_number = f"PLATE-{lot_index:04d}"
            lots.open_lot(self.core, self.operator, product="PLT-40", lot=lot_number, quantity=20)
            self._run_lot()

    def _run_lot(self) -> None:
        while not self.stopped.wait(self.interval_s):
            try:
                results = self.runtime.run_soon(self.runtime.vision.run_station("op-30", self.operator)).result(60)
            except (LinesideError, TimeoutError):
                return
            if any(r.get("lot_status") not in (None, "open") for r in results):
                self.stopped.wait(3 * self.interval_s)
                return


def demo_vision(core: Core) -> Any:
    """The camera's Vision with a plate plan in which every twelfth plate is 5 % oversize."""
    from drivers.camera import SyntheticCamera
    from drivers.simulators.camera import Defects, Part, Scene, renderer
    from edge.vision import Vision

    plan = [(Part(), Defects())] * 11 + [(Part(), Defects(scale=1.05))]
    return Vision(core, {"cam-op20": SyntheticCamera("cam-op20", renderer(Scene(), plan))})


def calibrate_camera(core: Core) -> None:
    """Once: the camera's px per mm from a 40 mm target (the good plate), signed by the supervisor."""
    from datetime import UTC, datetime

    from drivers.simulators.camera import Part, Scene, draw
    from edge.camera_calibration import calibrate_image, latest_calibration

    if latest_calibration(core, "cam-op20") is None:
        sue = auth.authenticate(core.store, "sue", "demo-supervisor", station="op-30")
        calibrate_image(core, sue, "cam-op20", draw(Scene(), Part()), [40, 40, 400, 280], [10, 140, 390, 140],
                        40.0, datetime.now(UTC))


def run_demo(port: int, host: str, workdir: str, create_app: Callable[..., Any], serve: Callable[..., None],
             start_hq: Callable[..., Any], start_sync: Callable[[Core], Any]) -> int:
    """Run the demo line. The adapters (`create_app`, `serve`, a local HQ and the sync pusher) come from the
    composition root, which alone may import `ui` and `sync`."""
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    config, simulators = start_simulators(tomllib.loads(EXAMPLE.read_text()))
    (folder / "hq").mkdir(exist_ok=True)
    hq = start_hq(folder / "hq", f"{config.site.id}.{config.line.id}")
    config = config.model_copy(update={"sync": hq.settings(schedule="* * * * *")})  # the demo pushes every minute
    core = open_core(config, folder / "lineside.db", migrate=True)
    seed(core)
    calibrate_camera(core)
    hub = EventHub()
    runtime = Runtime(core, hub=hub, vision=demo_vision(core)).start()
    pusher = start_sync(core)
    shift, plates = Shift(core, simulators), PlateShift(core, runtime)
    _announce(host, port, folder, auth.create_token(core.store, "sue", "demo"), hq.url)
    shift.start()
    plates.start()
    try:
        app = create_app(core, runtime.health, hub)
        if runtime.vision is not None:
            app.state.vision = runtime.vision
        serve(app, host=host, port=port)
    finally:
        shift.stopped.set()
        plates.stopped.set()
        shift.join(timeout=10)
        plates.join(timeout=10)
        if pusher:
            pusher.set()
        runtime.stop()
        simulators.stop()
        core.close()
        hq.stop()
        print("demo stopped; everything recorded is in", folder / "lineside.db")
    return 0


def _announce(host: str, port: int, folder: Path, token: str, hq_url: str) -> None:
    print(f"Lineside demo: http://{host}:{port}/  (API: http://{host}:{port}/docs)")
    print(f"store: {folder / 'lineside.db'}")
    print("logins (demo only):")
    for name, role, badge, secret in USERS:
        print(f"  {role:<10} {name:<5} {'badge ' + badge + ' PIN' if badge else 'password'} {secret}")
    print(f"API token for sue (supervisor): {token}")
    print("simulated devices: a Mitutoyo caliper, a Sylvac micrometer and an MT-SICS scale on pseudo-terminals,")
    print("a Modbus PLC on loopback and a camera; a bracket every second at OP10/OP20 (the bore drifts, so a lot")
    print("goes on hold within a minute) and a plate under the camera every 2 s at OP30 (one in twelve oversize).")
    print(f"headquarters (a local HQ receiver, pushed to every minute): {hq_url}/")
    print("Ctrl-C stops it; nothing recorded is lost.", flush=True)
