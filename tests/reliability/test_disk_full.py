"""Disk full: the store on a genuinely small filesystem (a tmpfs mounted for the test) fills up; Lineside stops
acknowledging, says so on every station, loses nothing, and resumes when space returns, with no restart.

The store is a copy of the seeded store on the small filesystem; a filler file takes all but a little of the
room, and four threads ingest real readings through the real store until the disk refuses them. While full:
every refused caller has a StorageFullError naming the store and the free space; health is 503 not_ready with
the reason; /metrics shows it; the API answers 507 with docs/api.md's error shape; two stations signed in over
real HTTP (uvicorn) hear a `storage` event on their live channel, and their pages and fragments carry the
banner. Every acknowledged reading is in the store, `PRAGMA integrity_check` is ok and `audit.verify` finds
nothing, also after a WAL checkpoint tried on the full disk. Then the filler goes, and the store records again
by itself (its probe), the stations hear it, the banner clears, and ingest goes on.

Also: an ENOSPC in one group commit of several concurrent callers (each a multi-value batch) records none of
them, not half of any; a PLC part on a full disk is not acknowledged (refused, reject coil written true), the
device runtime staying alive; and a vision check whose image cannot be written is refused whole. The quick
tests run in `make test`; `make test-long` repeats fill/free 20 times and writes its figures to
var/reliability/disk-full.json. Skipped, saying why, where tmpfs cannot be mounted.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge import audit, auth, lots
from edge.config import LineConfig
from edge.core import Core, open_core
from edge.errors import StorageFullError
from edge.measurements import MeasurementInput, record_measurement, record_measurements
from tests.conftest import OPERATOR_PIN, TODAY, wait_for
from tests.reliability.figures import record
from tests.ui.conftest import LiveServer, csrf_in
from ui.app import create_app

LOT = "DISK-FULL"
HEADROOM = 1 << 20  # the room the filler leaves for readings (the slow run leaves 6 MiB: past a full WAL)
PROBE_S = 0.05  # the store's probe interval here (5 s by default): resumption is measured, not waited for
STATIONS = {"op-10": ("B-100", OPERATOR_PIN), "op-20": ("B-200", "5150")}  # olly (operator), ina (inspector)


# -- the small disk -------------------------------------------------------------------------------------------


class SmallDisk:
    """A tmpfs of `size` mounted at `path`, and a filler file that takes its room."""

    def __init__(self, path: Path, size: str):
        self.path, self.size = path, size
        self.filler = path / "filler"

    def mount(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size}", "tmpfs", str(self.path)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here (needs root and mount permission): {done.stderr.strip()}")

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False, capture_output=True)

    def free(self) -> int:
        stat = os.statvfs(self.path)
        return stat.f_bavail * stat.f_frsize

    def fill(self, leave: int = 0) -> int:
        """Grow the filler until only `leave` bytes are free (or the disk refuses); returns the bytes added."""
        added = 0
        with open(self.filler, "ab") as file:
            while (want := min(1 << 20, self.free() - leave)) > 0:
                try:
                    added += file.write(b"\xa5" * want)
                    file.flush()
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
            with contextlib.suppress(OSError):
                os.fsync(file.fileno())
        return added

    def empty(self) -> None:
        self.filler.unlink(missing_ok=True)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    small = SmallDisk(tmp_path / "disk", "24m")
    small.mount()
    yield small
    small.unmount()


def open_on(disk: SmallDisk, config: LineConfig, seeded_store: Path) -> Core:
    shutil.copyfile(seeded_store, disk.path / "edge.db")
    core = open_core(config, disk.path / "edge.db")
    core.today = lambda: TODAY
    core.store.storage.probe_interval_s = PROBE_S
    lots.open_lot(core, ACTOR, product="BRK-100", lot=LOT, quantity=1_000_000)
    return core


ACTOR = auth.Actor(uid="disk", name="disk-full-test", role="operator", station="op-20")


# -- ingest ---------------------------------------------------------------------------------------------------


class Ingest:
    """Threads recording readings until the disk refuses them; what was acknowledged and what was refused."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.acked: set[str] = set()
        self.errors: list[Exception] = []
        self._lock = threading.Lock()
        self._next = 0

    def one(self) -> bool:
        with self._lock:
            self._next += 1
            key = f"r{self._next}"
        try:
            result = record_measurement(self.core, ACTOR, LOT, MeasurementInput("flatness", "0.01", key=key))
        except Exception as exc:  # every kind is kept: the test checks that each is the specific error
            with self._lock:
                self.errors.append(exc)
            return False
        with self._lock:
            self.acked.add(result["measurement"])
        return True

    def until_refused(self, threads: int = 4) -> None:
        """Four threads until each is refused; then single writes until five in a row are refused, so that a
        failed commit's partly grown WAL (room a smaller write could still use) is used up."""
        def work() -> None:
            while self.one():
                pass

        workers = [threading.Thread(target=work) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        refused_in_a_row = 0
        while refused_in_a_row < 5:
            refused_in_a_row = 0 if self.one() else refused_in_a_row + 1

    def some(self, count: int) -> None:
        for _ in range(count):
            assert self.one(), self.errors[-1]


def check_store(path: Path, acked: set[str]) -> dict[str, Any]:
    """Integrity, every acknowledged reading present, the audit chain intact; on a full disk too."""
    conn = sqlite3.connect(path, timeout=30)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        present = {row[0] for row in conn.execute("SELECT uid FROM measurements")}
        lost = acked - present
        assert not lost, f"{len(lost)} acknowledged readings lost"
        findings = audit.verify(conn)
        assert findings == [], [str(f) for f in findings]
        return {"measurements": len(present), "lost": len(lost)}
    finally:
        conn.close()


def checkpoint_on_full_disk(path: Path) -> str:
    """A TRUNCATE checkpoint tried from another connection while the disk is full: it may fail, never harm."""
    conn = sqlite3.connect(path, timeout=30)
    try:
        return str(conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())
    except sqlite3.Error as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()


# -- the stations ---------------------------------------------------------------------------------------------


class Station:
    """A station screen signed in over real HTTP, listening on its live channel in a thread."""

    def __init__(self, server: LiveServer, station: str):
        badge, pin = STATIONS[station]
        self.name = station
        self.client = httpx.Client(base_url=server.url, timeout=30)
        token = csrf_in(self.client.get("/signin").text)
        signed = self.client.post("/signin/badge", data={"badge": badge, "pin": pin, "station": station,
                                                         "csrf": token})
        assert signed.status_code == 303, signed.text
        self.csrf = csrf_in(self.client.get("/station").text)
        self.events: list[tuple[float, str, str]] = []  # (monotonic time, kind, data)
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()
        assert self._listening.wait(10), f"{station}: the live channel did not open"

    def _listen(self) -> None:
        kind = ""
        with contextlib.suppress(httpx.HTTPError), self.client.stream("GET", "/events") as stream:
            for line in stream.iter_lines():
                self._listening.set()
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: ") and kind == "storage":
                    self.events.append((time.monotonic(), kind, line.removeprefix("data: ")))

    def heard(self, state: str) -> float | None:
        """When this screen heard the store turn to `state`, or None."""
        return next((at for at, _, data in self.events if json.loads(data)["state"] == state), None)

    def record(self, value: str) -> httpx.Response:
        return self.client.post(f"/lots/{LOT}/measurements", data={"characteristic": "flatness", "value": value},
                                headers={"HX-Request": "true", "X-CSRF-Token": self.csrf})

    def close(self) -> None:
        self.client.close()


def banner(html: str) -> str:
    """The storage banner element of a page or fragment (its opening tag and text)."""
    start = html.index('id="storage-banner"')
    return html[html.rindex("<div", 0, start):html.index("</div>", start)]


# -- while full, and after -----------------------------------------------------------------------------------


def check_full(core: Core, server: LiveServer, stations: list[Station], ingest: Ingest) -> dict[str, Any]:
    """Everything that must be true while the disk is full; returns the figures."""
    path = str(core.store.path)
    storage_errors = [e for e in ingest.errors if isinstance(e, StorageFullError)]
    assert ingest.errors and storage_errors == ingest.errors, {type(e).__name__ for e in ingest.errors}
    assert all(path in str(e) and "free" in str(e) and e.free_bytes is not None for e in storage_errors)
    for station in stations:
        wait_for(lambda s=station: s.heard("storage_full") is not None, f"{station.name} heard the disk is full")
    health = httpx.get(f"{server.url}/api/v1/health")
    assert health.status_code == 503 and health.json()["status"] == "not_ready", health.text
    assert health.json()["store"]["state"] == "storage_full" and path in health.json()["store"]["reason"]
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'lineside_store_recording{state="storage_full"} 0.0' in metrics
    api = api_record(core, server)
    assert api.status_code == 507 and api.json()["error"] == "storage_full" and path in api.json()["detail"], api.text
    for station in stations:
        page = station.client.get("/station")
        assert page.status_code == 200 and "hidden" not in banner(page.text).split(">")[0]
        assert "Recording stopped" in banner(page.text) and "Nothing already recorded is lost" in banner(page.text)
        fragment = station.client.get("/station", headers={"HX-Request": "true"}).text
        assert 'hx-swap-oob="true"' in banner(fragment) and "Recording stopped" in banner(fragment)
        refused = station.record("0.02")
        assert refused.status_code == 507 and "is full" in refused.text, refused.text
    return {"checkpoint_on_full_disk": checkpoint_on_full_disk(core.store.path),
            **check_store(core.store.path, ingest.acked)}


def api_record(core: Core, server: LiveServer) -> httpx.Response:
    token = API_TOKEN[core.store.path]
    return httpx.post(f"{server.url}/api/v1/lots/{LOT}/measurements", json={"characteristic": "flatness",
                      "value": "0.01"}, headers={"Authorization": f"Bearer {token}"})


API_TOKEN: dict[Path, str] = {}  # made before the disk fills: making a token is a write


def check_resumed(core: Core, server: LiveServer, stations: list[Station], freed_at: float) -> dict[str, Any]:
    """After the filler went: the store records again by itself, every screen hears it, the banner clears."""
    resumed_s = wait_for(lambda: core.store.storage.recording, "the store records again (its probe)")
    for station in stations:
        wait_for(lambda s=station: s.heard("ok") is not None, f"{station.name} heard recording resumed")
    health = httpx.get(f"{server.url}/api/v1/health")
    assert health.status_code == 200 and health.json()["status"] == "ok", health.text
    for station in stations:
        assert "hidden" in banner(station.client.get("/station").text).split(">")[0]
    return {"resume_s": round(resumed_s, 4),
            "stations_heard_s": [round(s.heard("ok") - freed_at, 4) for s in stations]}  # type: ignore[operator]


def fill_cycle(disk: SmallDisk, core: Core, server: LiveServer, stations: list[Station], ingest: Ingest,
               headroom: int) -> dict[str, Any]:
    """One cycle: fill, check everything while full, free, check resumption, ingest again."""
    for station in stations:
        station.events.clear()
    acked_before = len(ingest.acked)
    disk.fill(leave=headroom)
    free_before = disk.free()
    began = time.monotonic()
    ingest.errors.clear()
    ingest.until_refused()
    filled_s = time.monotonic() - began
    full = {"free_before_bytes": free_before, "free_at_full_bytes": disk.free(),
            "readings_until_full": len(ingest.acked) - acked_before, "fill_s": round(filled_s, 3),
            "errors_returned": len(ingest.errors)}
    full.update(check_full(core, server, stations, ingest))
    disk.empty()
    freed_at = time.monotonic()
    full.update(check_resumed(core, server, stations, freed_at))
    ingest.some(20)
    full["after"] = check_store(core.store.path, ingest.acked)
    return full


def run_cycles(disk: SmallDisk, config: LineConfig, seeded_store: Path, cycles: int,
               headroom: int = HEADROOM) -> list[dict[str, Any]]:
    core = open_on(disk, config, seeded_store)
    API_TOKEN[core.store.path] = auth.create_token(core.store, "olly")
    server = LiveServer(create_app(core))
    server.start()
    stations = [Station(server, name) for name in STATIONS]
    try:
        ingest = Ingest(core)
        figures = [fill_cycle(disk, core, server, stations, ingest, headroom) for _ in range(cycles)]
    finally:
        for station in stations:
            station.close()
        server.stop()
        core.close()
    figures.append({"after_close": check_store(disk.path / "edge.db", ingest.acked),
                    "wal_bytes_after_close": (disk.path / "edge.db-wal").stat().st_size
                    if (disk.path / "edge.db-wal").exists() else 0})
    return figures


def report(name: str, figures: list[dict[str, Any]]) -> None:
    record("disk-full", name, figures)


def test_disk_full_stops_recording_says_so_loses_nothing_and_resumes(disk, config, seeded_store):
    report("quick", run_cycles(disk, config, seeded_store, cycles=1))


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_disk_full_20_fill_free_cycles(tmp_path, config, seeded_store):
    disk = SmallDisk(tmp_path / "disk", "192m")
    disk.mount()
    try:
        figures = run_cycles(disk, config, seeded_store, cycles=20, headroom=6 << 20)
    finally:
        disk.unmount()
    report("cycles", figures)
    assert len(figures) == 21


# -- one group commit, several callers ------------------------------------------------------------------------


def _group(core: Core, callers: int, values: int) -> list[BaseException | None]:
    """`callers` threads, each recording `values` values in one call, all queued behind one held job so the
    writer takes them as one batch: one transaction, one commit."""
    started, release, outcomes = threading.Event(), threading.Event(), [None] * callers  # type: ignore[var-annotated]

    def hold(tx: Any) -> None:
        started.set()  # the writer runs a job only once its batch is made: this batch is this job alone
        release.wait(60)

    held = core.store.submit(hold)
    wait_for(started.is_set, "the writer holds")

    def call(index: int) -> None:
        given = [MeasurementInput("flatness", "0.01", serial=f"G{index}-{n}") for n in range(values)]
        try:
            record_measurements(core, ACTOR, LOT, given)
        except Exception as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(callers)]
    for thread in threads:
        thread.start()
    # SimpleQueue.qsize(): read only, to know that the writer will take them all in its next batch
    queued = wait_for(lambda: core.store._queue.qsize() == callers or any(outcomes), "callers queued")
    assert not any(outcomes), outcomes  # nobody failed before reaching the writer
    print(f"{callers} callers queued behind the held job in {queued:.2f} s")
    release.set()
    held.result()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.parametrize(("callers", "values"), [(8, 10), (4, 1000)], ids=["at-commit", "mid-transaction"])
def test_enospc_in_a_group_commit_records_none_of_its_callers(disk, config, seeded_store, callers, values):
    """8 callers of 10 values fail at COMMIT; 4 of 1,000 values overflow SQLite's page cache, so the disk
    refuses in the middle of the transaction (a spill to the WAL), inside a job: neither is retried one by one."""
    core = open_on(disk, config, seeded_store)
    try:
        counts = "SELECT (SELECT COUNT(*) FROM measurements), (SELECT COUNT(*) FROM audit_events), " \
                 "(SELECT COUNT(*) FROM outbox)"
        before = core.store.query_one(counts)
        disk.fill()
        outcomes = _group(core, callers, values)
        assert all(isinstance(o, StorageFullError) for o in outcomes), outcomes
        assert core.store.query_one(counts) == before  # not one row of any caller: none half-recorded
        assert core.store.storage.refused == callers and not core.store.storage.recording
        check_store(core.store.path, set())
        disk.empty()
        wait_for(lambda: core.store.storage.recording, "the store records again")
        assert _group(core, callers, values) == [None] * callers
        recorded = core.store.query_one("SELECT COUNT(*) AS n FROM measurements WHERE serial LIKE 'G%'")
        assert recorded == {"n": callers * values}
    finally:
        core.close()
    print(f"\ngroup of {callers} callers x {values} values: all refused, none recorded; all recorded after")


# -- the device runtime ---------------------------------------------------------------------------------------


def test_plc_parts_on_a_full_disk_are_not_acknowledged_and_rejected(disk):
    """A PLC part whose values the store cannot record is refused (counted, logged once), its reject coil is
    written true (a part never passes without its record), and the runtime goes on: the next part after space
    returns is recorded and judged as usual."""
    from drivers.simulators.gauge import run_gauge_simulator
    from drivers.simulators.plc import run_plc_simulator
    from edge import plans
    from edge.config import parse
    from edge.runtime import Runtime
    from tests.integration.test_runtime import SECRET, line, up

    gauge, plc = run_gauge_simulator("mitutoyo", ["80.01"], unit="mm"), run_plc_simulator()
    core = open_core(parse(line(gauge.path, int(plc.url.rsplit(":", 1)[1]))), disk.path / "cell.db", migrate=True)
    core.store.storage.probe_interval_s = PROBE_S
    runtime = None
    try:
        auth.add_user(core.store, "sue", "supervisor", SECRET)
        sue = auth.authenticate(core.store, "sue", SECRET, station="cell-1")
        plans.approve(core.store, core.config, sue, SECRET, "P", "1")
        lots.open_lot(core, sue, product="P", lot="LOT-FULL", quantity=100)
        runtime = Runtime(core).start()
        wait_for(lambda: up(runtime, "plc"), "plc read once")
        disk.fill()
        plc.present_part({"diameter": "12.05"})  # a good part: only the full disk can refuse it
        wait_for(lambda: runtime.states["plc"].refused > 0, "the part refused")
        wait_for(lambda: plc.get("reject"), "reject coil written for the part that could not be recorded")
        plc.remove_part()
        assert "is full" in runtime.states["plc"].last_refusal
        assert core.store.query("SELECT uid FROM measurements") == []
        disk.empty()
        wait_for(lambda: core.store.storage.recording, "the store records again")
        wait_for(lambda: runtime.states["plc"].live["part_present"]["value"] == "0", "the runtime saw it leave")
        plc.set("reject", True)  # so that the write-back of false (a good part) can be seen
        plc.present_part({"diameter": "12.05"})
        wait_for(lambda: runtime.states["plc"].recorded == 1, "the next part recorded, no restart")
        wait_for(lambda: not plc.get("reject"), "the good part's reject coil written false")
        plc.remove_part()
        assert plc.rejected == [True, False]
        assert [m["value"] for m in core.store.query("SELECT value FROM measurements")] == ["12.050"]
    finally:
        if runtime is not None:
            runtime.stop()
        core.close()
        gauge.stop()
        plc.stop()


# -- evidence images on the same disk ------------------------------------------------------------------------


def test_a_vision_check_on_a_full_disk_is_refused_whole(disk, core, supervisor):
    """The image folder beside the store fills up: the check answers StorageFullError (507), not a bare OSError
    that would end the device runtime's recorder; no partial image file is left; nothing is recorded."""
    pytest.importorskip("cv2")
    from tests.edge.test_vision_station import GOOD, PRODUCT, STATION, calibrate, camera, make_vision

    calibrate(core, supervisor)
    lots.open_lot(core, supervisor, product=PRODUCT, lot="PL-FULL", quantity=50)
    vision = make_vision(core, disk.path, camera(GOOD, GOOD))
    before = core.store.query_one("SELECT COUNT(*) AS n FROM measurements")
    disk.fill()
    with pytest.raises(StorageFullError, match="image folder"):
        asyncio.run(vision.run_station(STATION))
    assert asyncio.run(vision.on_trigger(STATION)) == []  # the runtime's path: logged, not raised
    assert not list((disk.path / "images").rglob("*.part"))
    assert core.store.query_one("SELECT COUNT(*) AS n FROM measurements") == before
    disk.empty()
    assert [r["verdict"] for r in asyncio.run(vision.run_station(STATION))] == ["pass", "pass"]
