"""Load (issue 9): 50 station screens and 300 readings/s against a real `lineside serve` for a bounded time.

The edge runs as `lineside serve` in a subprocess on a loopback port, over a real store file and a generated
configuration with 50 operator stations. The load generator (station_load.py, one asyncio process: httpx) signs
the stations in with badge + PIN, opens a lot at each through the station form, and then for a bounded time
drives each screen as the browser does: one event stream, a fragment fetched when an event concerns it, a full
page load now and then, values recorded through the entry form with the CSRF token, and a device beside each
station posting through the API batch path. Together: 300 readings/s offered; each screen and device waits for
its answer before the next value, as an operator does, so a saturated server shows as fewer readings/s achieved.

Checked: no error (every response has its expected status), every acknowledged value is in the store afterwards,
the store's integrity and audit chain, and that the WAL stays bounded. Measured and written to
var/reliability/load.json, never asserted (a shared machine is noisy): fragment, reading and page latency
percentiles, readings/s achieved, the WAL's largest size, the server's and the generator's CPU.

The quick run (in `make test`) lasts 10 s and starts 45 of its sessions beforehand (argon2id makes 50 sign-ins
cost tens of seconds on a busy machine); `make test-long` runs 120 s with all 50 signed in through the form.
A third test drives the store alone with readers that never pause, where SQLite's own checkpoint starves.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edge import audit, auth, lots, measurements, plans, sessions, worklist
from edge.config import load
from edge.core import open_core
from edge.store import Checkpoints
from tests.reliability.figures import record
from tests.reliability.station_load import Figures, Login, run

STATIONS = 50
FORM_RATE, DEVICE_RATE = 200.0, 100.0  # readings/s through the screens' forms and through the API batch path
SUPERVISOR_SECRET = "load test supervisor"
WAL_BOUND_BYTES = 2 * Checkpoints.LIMIT_BYTES  # the writer truncates the WAL past its limit (edge/store.py)


def line_toml(db: Path) -> str:
    """A line of `STATIONS` operator stations and one product whose lots outlast the run (2,050 values each)."""
    stations = "".join(f'[[stations]]\nid = "st-{i:02d}"\nname = "Station {i:02d}"\nkind = "operator"\n\n'
                       for i in range(1, STATIONS + 1))
    return f"""[site]
id = "plant-load"
name = "Load test plant"

[line]
id = "line-load"
name = "{STATIONS} stations"

{stations}[[gauges]]
id = "MIC-0007"
type = "micrometer"
resolution = "0.001"
unit = "mm"
calibration_due = 2099-12-31

[[gauges]]
id = "CAL-0042"
type = "caliper"
resolution = "0.01"
unit = "mm"
calibration_due = 2099-12-31

[[products]]
id = "BRK-100"
name = "Brake bracket"

  [[products.plans]]
  revision = "A"

    [[products.plans.characteristics]]
    id = "bore-dia"
    name = "Bore diameter"
    nominal = "12.000"
    lower = "11.980"
    upper = "12.020"
    unit = "mm"
    resolution = "0.001"
    method = "gauge"
    gauge = "MIC-0007"
    criticality = "critical"
    sampling = {{ n = 400 }}

    [[products.plans.characteristics]]
    id = "length"
    name = "Overall length"
    nominal = "80.00"
    lower = "79.90"
    upper = "80.10"
    unit = "mm"
    resolution = "0.01"
    method = "gauge"
    gauge = "CAL-0042"
    criticality = "major"
    sampling = {{ n = 400, ac = 5 }}

    [[products.plans.characteristics]]
    id = "burr-free"
    name = "Edges free of burrs"
    method = "attribute"
    criticality = "major"
    sampling = {{ aql = 1.0, level = "II", edition = "z1.4" }}

[hold_rules]
critical_failure = true
reject_number = true
any_failure = false
overdue_gauge = "refuse"

[store]
path = "{db}"
"""


@dataclass
class Line:
    config: Path
    db: Path
    logins: list[Login]


def _prepare(folder: Path, operators: int, signed_in_beforehand: int) -> Line:
    """The store: a supervisor, `operators` operators (station i is worked by operator i % operators), the plan
    approved, a device token per operator, and sessions started beforehand for the last stations."""
    db, config_path = folder / "edge.db", folder / "line.toml"
    config_path.write_text(line_toml(db))
    config = load(config_path)
    core = open_core(config, db, migrate=True)
    auth.add_user(core.store, "sue", "supervisor", SUPERVISOR_SECRET)
    sue = auth.authenticate(core.store, "sue", SUPERVISOR_SECRET)
    plans.approve(core.store, config, sue, SUPERVISOR_SECRET, "BRK-100", "A")
    people = []
    for i in range(operators):
        name, badge, pin = f"op{i:02d}", f"B-{i:03d}", f"{7100 + i}"
        auth.add_user(core.store, name, "operator", pin, badge=badge)
        people.append((name, badge, pin, auth.create_token(core.store, name)))
    logins = []
    for i, station in enumerate(s.id for s in config.stations):
        name, badge, pin, token = people[i % operators]
        login = Login(station, badge, pin, token)
        if i >= len(config.stations) - signed_in_beforehand:
            actor = auth.Actor(_uid(core, name), name, "operator", station)
            login.session, _ = sessions.start(core.store, actor, dt.datetime.now(dt.UTC))
        logins.append(login)
    core.close()
    return Line(config_path, db, logins)


def _uid(core: Any, name: str) -> str:
    row = core.store.query_one("SELECT uid FROM users WHERE name = ?", (name,))
    assert row is not None
    return str(row["uid"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(line: Line, port: int) -> subprocess.Popen[str]:
    lineside = Path(sys.executable).with_name("lineside")
    process = subprocess.Popen([str(lineside), "serve", "--config", str(line.config), "--db", str(line.db),
                                "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"lineside serve exited {process.returncode}: {process.stdout.read()}")  # type: ignore[union-attr]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("lineside serve did not start in 60 s")


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)  # what Ctrl-C does: the event streams end, then the server
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    return output


def _percentiles(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    if not ordered:
        return {"count": 0}
    at = lambda q: round(ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000, 1)  # noqa: E731
    return {"count": len(ordered), "p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99),
            "max_ms": round(ordered[-1] * 1000, 1)}


def _check_store(line: Line, figures: Figures) -> dict[str, int]:
    conn = sqlite3.connect(line.db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    present = {row[0] for row in conn.execute("SELECT uid FROM measurements")}
    lot_uids = dict(conn.execute("SELECT lot_number, uid FROM lots").fetchall())
    form = {str(uuid.uuid5(uuid.NAMESPACE_URL, f"lineside:measurement:{lot_uids[lot]}:{key}"))
            for lot, key in figures.form_keys}
    acknowledged = form | set(figures.batch_uids)
    lost = acknowledged - present
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged readings are not in the store"
    findings = audit.verify(conn)
    assert findings == [], [str(f) for f in findings[:5]]
    counts = {"measurements": len(present), "acknowledged": len(acknowledged),
              "holds": conn.execute("SELECT COUNT(*) FROM holds").fetchone()[0],
              "nonconformities": conn.execute("SELECT COUNT(*) FROM nonconformities").fetchone()[0]}
    conn.close()
    return counts


def _summary(name: str, figures: Figures, counts: dict[str, int], load_avg: tuple[Any, Any]) -> dict[str, Any]:
    window = figures.window_s
    wal = [size for _, size in figures.wal_bytes]
    return {
        "run": name, "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "stations": STATIONS,
        "target_readings_per_s": FORM_RATE + DEVICE_RATE, "window_s": round(window, 1),
        "readings_per_s": round(figures.window_readings / window, 1),
        "latency": {kind: _percentiles(values) for kind, values in figures.latencies.items()},
        "errors": len(figures.errors), "first_errors": figures.errors[:10],
        "retries": len(figures.retries), "first_retries": figures.retries[:5],
        "events_heard": figures.events, "events_per_s": round(figures.events / window, 1),
        "overflows": figures.overflows, "stream_restarts": figures.stream_restarts,
        "wal_max_bytes": max(wal, default=0), "wal_last_bytes": wal[-1] if wal else 0,
        "wal_every_5s_bytes": [size for t, size in figures.wal_bytes if int(t * 4) % 20 == 0],
        "server_cpu_s": round(figures.server_cpu_s, 2),
        "server_cpu_share": round(figures.server_cpu_s / window, 2),
        "server_cpu_ms_per_reading": round(figures.server_cpu_s / max(1, figures.window_readings) * 1000, 2),
        "generator_cpu_s": round(figures.generator_cpu_s, 2),
        "generator_cpu_share": round(figures.generator_cpu_s / window, 2),
        "store": counts, "load_average_start_end": load_avg,
    }


def _record(summary: dict[str, Any]) -> None:
    record("load", summary["run"], summary)


def _load(tmp_path: Path, name: str, duration_s: float, operators: int, signed_in_beforehand: int) -> None:
    line = _prepare(tmp_path, operators, signed_in_beforehand)
    port = _free_port()
    start_load = os.getloadavg()
    server = _serve(line, port)
    try:
        figures = asyncio.run(run(f"http://127.0.0.1:{port}", line.logins, duration_s=duration_s,
                                  form_rate=FORM_RATE, device_rate=DEVICE_RATE,
                                  wal=line.db.with_name(line.db.name + "-wal"), server_pid=server.pid))
    finally:
        output = _stop(server)
    counts = _check_store(line, figures)
    summary = _summary(name, figures, counts, (start_load, os.getloadavg()))
    summary["server_output_tail"] = output.splitlines()[-5:]
    _record(summary)
    assert not figures.errors, figures.errors[:10]
    assert figures.window_readings > 0 and figures.latencies["fragment"]
    assert summary["wal_max_bytes"] <= WAL_BOUND_BYTES, f"the WAL grew to {summary['wal_max_bytes']} bytes"


def test_fifty_stations_for_ten_seconds(tmp_path):
    _load(tmp_path, "quick", 10, operators=5, signed_in_beforehand=STATIONS - 5)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_fifty_stations_for_two_minutes(tmp_path):
    _load(tmp_path, "slow", 120, operators=STATIONS, signed_in_beforehand=0)


def test_wal_stays_bounded_while_readers_never_stop(tmp_path):
    """The writer's checkpoint policy, without HTTP: writers record values while reading threads assemble the
    station's work view without a pause, as a busy edge's screens do. Without the policy the WAL grew past 36 MiB
    in 30 s here (SQLite's own checkpoint never found a moment without readers to start the WAL afresh)."""
    line = _prepare(tmp_path, operators=1, signed_in_beforehand=0)
    core = open_core(load(line.config), line.db)
    core.store.checkpoints.limit_bytes = 2**20
    operator = auth.Actor(_uid(core, "op00"), "op00", "operator", "st-01")
    for i in range(4):
        lots.open_lot(core, operator, product="BRK-100", lot=f"W-{i}", quantity=10_000)
    writing, sizes = threading.Event(), []
    wal = line.db.with_name(line.db.name + "-wal")

    def write(i: int) -> None:
        for _ in range(75):
            measurements.record_measurement(core, operator, f"W-{i}", measurements.MeasurementInput("bore-dia", "12"))

    def read(i: int) -> None:
        while writing.is_set():
            worklist.lot_work(core, f"W-{i % 4}")

    writing.set()
    readers = [threading.Thread(target=read, args=(i,)) for i in range(8)]
    writers = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for thread in readers + writers:
        thread.start()
    while any(thread.is_alive() for thread in writers):
        sizes.append(wal.stat().st_size)
        time.sleep(0.02)
    writing.clear()
    for thread in readers + writers:
        thread.join()
    checkpoints = core.store.checkpoints
    core.close()
    print(f"WAL largest {max(sizes)} bytes; truncated {checkpoints.truncated} times, readers in the way "
          f"{checkpoints.busy} times")
    assert checkpoints.truncated >= 1
    assert max(sizes) <= 4 * checkpoints.limit_bytes
