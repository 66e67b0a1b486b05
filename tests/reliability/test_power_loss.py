"""Power loss: the store on a filesystem that keeps unsynced writes in memory, loses them when the power is cut,
and tears some of them (powercut_fs.py, a FUSE filesystem); no acknowledged reading is lost.

Each cut: a child process (power_worker.py) records readings through the real store on the FUSE mount and prints
each uid once `record_measurement` returned; at a random moment (one cut in five while the child is still
starting: recovering the store after the last cut, registering the gauges) the filesystem is cut (from then on every
operation fails with EIO, so an fsync that had not completed cannot be acknowledged; part of the unsynced data
reaches the disk, torn at 512-byte sectors, the rest is lost), then the child is killed, the filesystem unmounted
and mounted again (the reboot). The store must then pass `PRAGMA integrity_check`, hold every printed uid, pass
`audit.verify`, and open again with `open_core` (timed). The control run does the same with the writer at
synchronous=NORMAL, and must lose acknowledged readings: the test can fail.

`make test` cuts 5 times plus 3 control cuts; `make test-long` cuts 200 times plus 10 control cuts. The figures go
to var/reliability/power-loss.json and are printed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import select
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from edge import audit, auth, lots
from edge.config import LineConfig
from edge.core import open_core
from tests.reliability.figures import record

HERE = Path(__file__).parent
FILESYSTEM, WORKER = HERE / "powercut_fs.py", HERE / "power_worker.py"
LOT = "POWER"

pytestmark = pytest.mark.skipif(
    not os.path.exists("/dev/fuse") or shutil.which("fusermount3") is None,
    reason="the power-loss test needs /dev/fuse and fusermount3 (Debian: apt-get install fuse3)")


def _line(stream: IO[str], timeout_s: float, what: str) -> str:
    ready, _, _ = select.select([stream], [], [], timeout_s)
    if not ready:
        raise AssertionError(f"{what}: no answer in {timeout_s} s")
    return stream.readline()


class Mount:
    """One boot of powercut_fs over `backing`, mounted on `mountpoint`; its stderr goes to `log`."""

    def __init__(self, backing: Path, mountpoint: Path, seed: int, log: Path):
        self.mountpoint, self.log = mountpoint, log
        with log.open("a") as stderr:
            self.process = subprocess.Popen([sys.executable, str(FILESYSTEM), str(backing), str(mountpoint),
                                             "--seed", str(seed)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=stderr, text=True)
        assert self.process.stdout is not None
        self.stdout = self.process.stdout
        answer = _line(self.stdout, 30, "powercut_fs start")
        assert json.loads(answer or "{}").get("ready"), f"powercut_fs did not mount: {answer!r}\n{log.read_text()}"

    def cut(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write("cut\n")
        self.process.stdin.flush()
        return dict(json.loads(_line(self.stdout, 30, "powercut_fs cut"))["cut"])

    def unmount(self) -> None:
        done = subprocess.run(["fusermount3", "-u", str(self.mountpoint)], capture_output=True, text=True)
        assert done.returncode == 0, f"fusermount3 -u {self.mountpoint}: {done.stderr}"
        self.process.wait(timeout=30)

    def close(self) -> None:
        """After a failure: detach the mount even while files are open on it, and end the filesystem."""
        if self.process.poll() is None:
            subprocess.run(["fusermount3", "-u", "-z", str(self.mountpoint)], capture_output=True)
            self.process.kill()
            self.process.wait()


@dataclass
class Figures:
    cuts: int = 0
    acknowledged: int = 0
    lost: int = 0
    lost_in_cuts: int = 0
    in_startup: int = 0
    in_checkpoint: int = 0
    reopen_s: list[float] = field(default_factory=list)
    torn: dict[str, int] = field(default_factory=dict)

    def add_cut(self, counts: dict[str, Any], in_startup: bool) -> None:
        self.in_startup += in_startup
        self.in_checkpoint += counts.pop("dirty_by_file").get("edge.db", 0) > 0  # WAL mode writes it only there
        for key, value in counts.items():
            self.torn[key] = self.torn.get(key, 0) + value

    def summary(self) -> dict[str, Any]:
        return {"cuts": self.cuts, "acknowledged": self.acknowledged, "lost": self.lost,
                "cuts_that_lost": self.lost_in_cuts, "cuts_in_worker_startup": self.in_startup,
                "cuts_in_checkpoint": self.in_checkpoint, "torn": self.torn,
                "reopen_s": {"median": round(statistics.median(self.reopen_s), 3),
                             "max": round(max(self.reopen_s), 3)} if self.reopen_s else None}


class Worker:
    """power_worker.py recording on the mount; a thread collects the uids it prints (acknowledged readings)."""

    def __init__(self, db: Path, extra: list[str], log: Path):
        self.log = log
        with log.open("w") as stderr:
            self.process = subprocess.Popen([sys.executable, str(WORKER), str(db), LOT, "4", *extra],
                                            stdout=subprocess.PIPE, stderr=stderr, text=True)
        self.ready = threading.Event()
        self.acked: set[str] = set()
        self._reader = threading.Thread(target=self._read)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip() == "ready":
                self.ready.set()
            elif line.strip():
                self.acked.add(line.strip())

    def kill(self) -> set[str]:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._reader.join()
        return self.acked


def _ingest_until_cut(mount: Mount, db: Path, rng: random.Random, extra: list[str], log: Path,
                      startup_share: float) -> tuple[set[str], dict[str, Any], bool]:
    """Run the worker, cut the power at a random moment, then kill it; return the uids it acknowledged, what the
    cut did to the unsynced data, and whether the worker was still starting (had not opened the store)."""
    worker = Worker(db, extra, log)
    try:
        if rng.random() < startup_share:  # in start-up: the WAL recovery after the last cut, the gauges' registration
            time.sleep(rng.uniform(0.0, 1.5))
        else:
            assert worker.ready.wait(60), f"power_worker did not start:\n{log.read_text()}"
            time.sleep(rng.uniform(0.02, 0.8))
        assert worker.process.poll() is None, f"power_worker stopped before the cut:\n{log.read_text()}"
        in_startup = not worker.ready.is_set()
        counts = mount.cut()  # first: from here every fsync fails, so nothing more can be acknowledged
    finally:
        acked = worker.kill()
    return acked, counts, in_startup


def _check_after_reboot(config: LineConfig, db: Path, acked: set[str], figures: Figures, *, control: bool) -> None:
    began = time.perf_counter()
    core = open_core(config, db)  # the product's own path after a reboot: WAL recovery, then a write
    figures.reopen_s.append(time.perf_counter() - began)
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        present = {row[0] for row in conn.execute("SELECT uid FROM measurements")}
        findings = audit.verify(conn)
        assert findings == [], [str(finding) for finding in findings]
    finally:
        conn.close()
        core.close()
    lost = len(acked - present)
    figures.cuts += 1
    figures.acknowledged += len(acked)
    figures.lost += lost
    figures.lost_in_cuts += lost > 0
    if not control:
        assert lost == 0, f"cut {figures.cuts}: {lost} of {len(acked)} acknowledged readings lost"


def _prepare(config: LineConfig, seeded_store: Path, backing: Path) -> None:
    backing.mkdir(parents=True)
    shutil.copyfile(seeded_store, backing / "edge.db")
    core = open_core(config, backing / "edge.db")
    lots.open_lot(core, auth.Actor("t", "t", "operator", "op-20"), product="BRK-100", lot=LOT, quantity=1_000_000)
    core.close()


def _power_cuts(config: LineConfig, seeded_store: Path, tmp_path: Path, cuts: int, *, control: bool) -> Figures:
    backing, mountpoint = tmp_path / "disk", tmp_path / "mnt"
    _prepare(config, seeded_store, backing)
    mountpoint.mkdir()
    rng = random.Random(2026 + control)
    figures = Figures()
    extra = ["--synchronous-normal"] if control else []
    startup_share = 0.0 if control else 0.2  # the control run must ingest before each cut
    log = tmp_path / "powercut_fs.log"
    mount = Mount(backing, mountpoint, rng.randrange(2**32), log)
    try:
        for _ in range(cuts):
            acked, counts, in_startup = _ingest_until_cut(mount, mountpoint / "edge.db", rng, extra,
                                                          tmp_path / "worker.log", startup_share)
            figures.add_cut(counts, in_startup)
            mount.unmount()
            mount = Mount(backing, mountpoint, rng.randrange(2**32), log)  # the reboot
            _check_after_reboot(config, mountpoint / "edge.db", acked, figures, control=control)
            if figures.cuts % 25 == 0:  # seen with `pytest -s`
                print(f"{tmp_path.name}: {figures.summary()}", flush=True)
        mount.unmount()
    finally:
        mount.close()
    return figures


def _report(name: str, figures: dict[str, Any]) -> None:
    record("power-loss", name, figures)


def _campaign(config: LineConfig, seeded_store: Path, tmp_path: Path, name: str, cuts: int, control_cuts: int) -> None:
    began = time.perf_counter()
    full = _power_cuts(config, seeded_store, tmp_path / "full", cuts, control=False)
    assert full.lost == 0 and full.acknowledged > cuts  # really ingested between cuts, and lost nothing
    normal = _power_cuts(config, seeded_store, tmp_path / "normal", control_cuts, control=True)
    _report(name, {"synchronous_full": full.summary(), "control_synchronous_normal": normal.summary(),
                   "wall_s": round(time.perf_counter() - began, 1)})
    assert normal.lost > 0, "the control run at synchronous=NORMAL lost nothing: this test could not fail"


def _sectors(tag: str, count: int) -> bytes:
    return b"".join(f"{tag} sector {index}".encode().ljust(512, b".") for index in range(count))


def test_the_filesystem_keeps_what_was_synced_and_tears_the_rest(tmp_path):
    """The model itself: fsync'd data survives byte for byte; unsynced data reaches the disk, after a cut, only as
    whole 512-byte sectors of the new content among the old ones; after the cut every operation fails."""
    backing, mountpoint = tmp_path / "disk", tmp_path / "mnt"
    backing.mkdir()
    mountpoint.mkdir()
    old, new, synced = _sectors("old", 512), _sectors("new", 512), _sectors("synced", 9)
    (backing / "torn").write_bytes(old)
    mount = Mount(backing, mountpoint, seed=7, log=tmp_path / "powercut_fs.log")
    try:
        torn = os.open(mountpoint / "torn", os.O_RDWR)
        os.pwrite(torn, new, 0)
        assert os.pread(torn, len(new) + 1, 0) == new  # the page cache answers with what was written
        kept = os.open(mountpoint / "kept", os.O_RDWR | os.O_CREAT)
        os.pwrite(kept, synced, 0)
        os.fsync(kept)
        counts = mount.cut()
        with pytest.raises(OSError) as refused:
            os.fsync(torn)
        assert refused.value.errno == errno.EIO
        for descriptor in (torn, kept):
            with contextlib.suppress(OSError):
                os.close(descriptor)
        mount.unmount()
    finally:
        mount.close()
    assert (backing / "kept").read_bytes() == synced
    assert counts["dirty_pages"] == 64 == counts["whole_pages"] + counts["torn_pages"] + counts["dropped_pages"]
    after = (backing / "torn").read_bytes()
    assert len(after) == len(old)
    fates = [after[i:i + 512] for i in range(0, len(after), 512)]
    assert all(fate in (old[i * 512:(i + 1) * 512], new[i * 512:(i + 1) * 512]) for i, fate in enumerate(fates))
    assert sum(fate.startswith(b"new") for fate in fates) == 8 * counts["whole_pages"] + counts["torn_sectors"]
    assert counts["torn_pages"] > 0 and after not in (old, new)


def test_power_cuts_lose_no_acknowledged_reading(config, seeded_store, tmp_path):
    _campaign(config, seeded_store, tmp_path, "quick", cuts=5, control_cuts=3)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_200_power_cuts(config, seeded_store, tmp_path):
    _campaign(config, seeded_store, tmp_path, "long", cuts=200, control_cuts=10)
