"""`lineside demo`: the example line with a seeded store, demo users and a simulated shift feeding it.

Until the device runtime lands, the shift records values through the same services the devices will use,
with a slow drift on the bore so that a lot goes on hold within a minute. Must not be used in production:
its users have published passwords.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge import auth, lots, plans
from edge.config import load
from edge.core import Core, open_core
from edge.errors import LinesideError
from edge.measurements import MeasurementInput, record_measurement

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "line.toml"
USERS = (  # name, role, badge, secret
    ("sue", "supervisor", None, "demo-supervisor"),
    ("adam", "admin", None, "demo-admin"),
    ("olly", "operator", "B-100", "1234"),
    ("ina", "inspector", "B-200", "5678"),
)


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
    """Parts come off the line every `interval_s`; the boring bar wears, so the bore drifts upwards."""

    def __init__(self, core: Core, interval_s: float = 1.0):
        super().__init__(name="demo-shift", daemon=True)
        self.core, self.interval_s = core, interval_s
        self.wear_mm = 0.0  # the boring bar wears from lot to lot until a hold makes someone change it
        self.stopped = threading.Event()
        self.operator = auth.authenticate_badge(core.store, "B-100", "1234", station="op-10")

    def run(self) -> None:
        lot_index = len(self.core.store.query("SELECT uid FROM lots"))
        while not self.stopped.is_set():
            lot_index += 1
            self._run_lot(f"DEMO-{lot_index:04d}")

    def _run_lot(self, lot_number: str) -> None:
        lots.open_lot(self.core, self.operator, product="BRK-100", lot=lot_number, quantity=40)
        while not self.stopped.wait(self.interval_s):
            self.wear_mm += 0.0015
            try:
                status = self._part(lot_number, self.wear_mm)
            except LinesideError:
                return
            if status == "on_hold":
                self.wear_mm = 0.0
            if status != "open":
                self.stopped.wait(5 * self.interval_s)
                return

    def _part(self, lot_number: str, wear_mm: float) -> str:
        values = {"bore-dia": f"{12.0 + wear_mm + random.gauss(0, 0.002):.3f}",
                  "length": f"{80.0 + random.gauss(0, 0.02):.2f}", "flatness": f"{abs(random.gauss(0.02, 0.01)):.2f}",
                  "burr-free": "pass"}
        result: dict[str, str] = {}
        for characteristic, value in values.items():
            result = record_measurement(self.core, self.operator, lot_number, MeasurementInput(characteristic, value))
        return result["lot_status"]


def run_demo(port: int, host: str, workdir: str, create_app: Callable[[Core], Any]) -> int:
    """Run the demo line; `create_app` comes from the composition root, which alone may import `ui`."""
    import uvicorn

    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    core = open_core(load(EXAMPLE), folder / "lineside.db", migrate=True)
    seed(core)
    token = auth.create_token(core.store, "sue", "demo")
    shift = Shift(core)
    _announce(host, port, folder, token)
    shift.start()
    try:
        uvicorn.run(create_app(core), host=host, port=port, log_level="warning")
    finally:
        shift.stopped.set()
        shift.join(timeout=10)
        core.close()
        print("demo stopped; everything recorded is in", folder / "lineside.db")
    return 0


def _announce(host: str, port: int, folder: Path, token: str) -> None:
    print(f"Lineside demo: http://{host}:{port}/  (API: http://{host}:{port}/docs)")
    print(f"store: {folder / 'lineside.db'}")
    print("logins (demo only):")
    for name, role, badge, secret in USERS:
        print(f"  {role:<10} {name:<5} {'badge ' + badge + ' PIN' if badge else 'password'} {secret}")
    print(f"API token for sue (supervisor): {token}")
    print("a simulated shift is recording parts on station op-10; the bore drifts, so a lot goes on hold soon.")
    print("Ctrl-C stops it; nothing recorded is lost.", flush=True)
