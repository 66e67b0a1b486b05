"""The disk under the store: telling a full or failing disk from other errors, remembering that the store cannot
record, and finding out by itself when it can again.

The writer (`edge.store`) asks `failure(exc)` whether an exception is the disk's (SQLITE_FULL or SQLITE_IOERR from
SQLite, ENOSPC, EDQUOT or EIO from the OS); if so every caller of the rolled-back transaction gets a
`StorageError` naming the store file and the free space, and `StorageState` turns to "cannot record". It turns
back only when a probe finds room: `probe_bytes` written and fsynced in a file beside the store. The writer probes
while it cannot record, when it has had no work for `probe_interval_s` and after a commit that succeeded (at most
once per interval). Not on a commit alone: a small write that fits in what a failed one left must not clear the
alarm while the next reading will fail again. Transitions are logged and handed to watchers (the UI's live
channel); single failures are not. Must not know the domain, nor retry a caller's write: a refused caller was
answered.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.errors import StorageError, StorageFullError

log = logging.getLogger(__name__)

PROBE_INTERVAL_S = 5.0
PROBE_BYTES = 1 << 20  # the room a probe must find before the store says it records again
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_IO_ERRNOS = {errno.EIO, errno.EROFS}  # ext4 remounts read-only after I/O errors

Watcher = Callable[[dict[str, Any]], None]


def free_bytes(path: Path) -> int | None:
    """Bytes an unprivileged writer may still use on the filesystem holding `path` (a file or a folder)."""
    try:
        stat = os.statvfs(path if path.is_dir() else path.parent)
    except OSError:
        return None
    return stat.f_bavail * stat.f_frsize


def size_text(count: int | None) -> str:
    if count is None:
        return "unknown"
    if count < 1024:
        return f"{count} bytes"
    exponent = min(3, int(math.log(count, 1024)))
    return f"{count / 1024 ** exponent:.1f} {('KiB', 'MiB', 'GiB')[exponent - 1]}"


def _kind(exc: BaseException) -> str | None:
    """"full", "io" or None (not the disk's failure)."""
    if isinstance(exc, sqlite3.Error):
        primary = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        return {sqlite3.SQLITE_FULL: "full", sqlite3.SQLITE_IOERR: "io"}.get(primary)
    if isinstance(exc, OSError):
        return "full" if exc.errno in _FULL_ERRNOS else "io" if exc.errno in _IO_ERRNOS else None
    return None


def failure(exc: BaseException, path: Path, what: str = "the store") -> StorageError | None:
    """The StorageError that `exc` means for `what` at `path` (the store's file, or the image folder beside it),
    or None when it is not the disk's failure."""
    kind = _kind(exc)
    if kind is None:
        return None
    free = free_bytes(path)
    if kind == "full":
        return StorageFullError(
            f"not recorded: the disk holding {what} {path} is full ({size_text(free)} free). Nothing of this "
            "request was recorded and every record acknowledged before is kept. Free disk space: recording "
            "resumes by itself", path=str(path), free_bytes=free)
    return StorageError(
        f"not recorded: the disk holding {what} {path} failed a write ({exc}). Nothing of this request was "
        "recorded and every record acknowledged before is kept. Check the disk: recording resumes by itself when "
        "writes succeed again", path=str(path), free_bytes=free)


class StorageState:
    """Whether the store can record now, as health, /metrics and the station banner show it. Changed only by the
    writer thread; read from any."""

    def __init__(self, path: Path, *, probe_interval_s: float = PROBE_INTERVAL_S, probe_bytes: int = PROBE_BYTES):
        self.path = path
        self.probe_interval_s = probe_interval_s
        self.probe_bytes = probe_bytes
        self.error: StorageError | None = None
        self.since: str | None = None
        self.failures = 0  # times the store went from recording to not recording
        self.refused = 0  # writes answered with a StorageError
        self._watchers: list[Watcher] = []
        self._lock = threading.Lock()
        self._probed_at = 0.0  # time.monotonic() of the last probe

    @property
    def recording(self) -> bool:
        return self.error is None

    def wait_s(self) -> float | None:
        """How long the writer may wait for work before it probes the disk (None: wait for work)."""
        return None if self.error is None else self.probe_interval_s

    def failed(self, error: StorageError, writes: int) -> None:
        self.refused += writes
        if self.error is not None and type(self.error) is type(error):
            self.error = error  # the newest free space; not a transition
            return
        if self.error is None:
            self.failures += 1
        self.error, self.since = error, datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        log.error("store cannot record: %s", error)
        self._tell()

    def committed(self) -> None:
        """A commit succeeded: while the store cannot record, see whether there is room again (at most once per
        probe interval, so that a busy writer is not slowed by probes)."""
        if self.error is not None and time.monotonic() - self._probed_at >= self.probe_interval_s:
            self.probe()

    def recovered(self) -> None:
        if self.error is None:
            return
        self.error, self.since = None, None
        log.warning("store records again: %s has room (%s free)", self.path, size_text(free_bytes(self.path)))
        self._tell()

    def probe(self) -> None:
        """Write and fsync `probe_bytes` beside the store, then remove them: success means the store may record."""
        probe = self.path.with_name(self.path.name + "-probe")
        self._probed_at = time.monotonic()
        try:
            with open(probe, "wb") as file:
                file.write(b"\0" * self.probe_bytes)
                file.flush()
                os.fsync(file.fileno())
        except OSError as exc:
            if (error := failure(exc, self.path)) is not None:
                self.failed(error, 0)
            return
        finally:
            probe.unlink(missing_ok=True)
        self.recovered()

    def snapshot(self) -> dict[str, Any]:
        """What the health endpoint, /metrics and the banner show."""
        error = self.error
        if error is None:
            return {"state": "ok", "recording": True, "path": str(self.path)}
        free = free_bytes(self.path)
        return {"state": error.code, "recording": False, "path": str(self.path), "reason": str(error),
                "since": self.since, "free_bytes": free, "free": size_text(free)}

    def watch(self, watcher: Watcher) -> None:
        """Call `watcher(snapshot)` at each transition (from the writer thread: it must not block)."""
        with self._lock:
            self._watchers.append(watcher)

    def _tell(self) -> None:
        with self._lock:
            watchers = list(self._watchers)
        snapshot = self.snapshot()
        for watcher in watchers:
            try:
                watcher(snapshot)
            except Exception:  # a watcher's fault must not stop the writer
                log.exception("storage watcher failed")
