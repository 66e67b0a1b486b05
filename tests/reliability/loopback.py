"""What the device fault tests put around the product: a network cable the test can pull, and a probe of the
process's open files and memory.

`Cable` is a loopback TCP proxy between Lineside and a PLC: `pull()` drops every connection (with a reset, as
a rebooting PLC, or a clean close) and refuses new ones until `plug()`; `mute()` keeps the connections but lets
no byte through (a cable cut behind a switch: the client only sees silence). Every thread and socket it made
for a connection is gone when `pull()` returns, so the test process's descriptors count only Lineside's.

`Probe` reads /proc/self: the number of open descriptors and VmRSS, and the Python memory allocated since
`trace()` and still alive, leaving out what the tests and the simulators allocate (their own bookkeeping grows
with every part they make; the product's must not).
"""

from __future__ import annotations

import contextlib
import gc
import os
import socket
import struct
import threading
import time
import tracemalloc
from dataclasses import dataclass, field


class _Link:
    """One client connection and its connection to the PLC, pumped both ways by two threads."""

    def __init__(self, cable: Cable, client: socket.socket, upstream: socket.socket) -> None:
        self.cable, self.client, self.upstream = cable, client, upstream
        self._pumps = [threading.Thread(target=self._pump, args=pair, daemon=True)
                       for pair in ((client, upstream), (upstream, client))]
        for pump in self._pumps:
            pump.start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if not self.cable.muted:
                    target.sendall(data)
        except OSError:
            pass
        for end in (source, target):  # one side ended: end the other, so its pump ends too
            _shut(end)

    def close(self, reset: bool) -> None:
        if reset:  # RST instead of FIN, as a PLC that reboots sends
            self.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        for end in (self.client, self.upstream):
            _shut(end)
        self.join()

    def join(self) -> None:
        for pump in self._pumps:
            pump.join(timeout=5)
        self.client.close()
        self.upstream.close()


class Cable:
    """A loopback TCP proxy to `upstream` (host, port) that the test controls; Lineside connects to `.port`."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.muted = False
        self.port = 0
        self.connections = 0  # accepted since start, for the report
        self._links: list[_Link] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self.plug()

    def plug(self) -> None:
        """Accepts connections again, on the same port."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 10
        while True:
            try:
                listener.bind(("127.0.0.1", self.port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    listener.close()
                    raise
                time.sleep(0.01)
        listener.listen(16)
        listener.settimeout(0.01)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), name="cable", daemon=True)
        self._acceptor.start()

    def pull(self, reset: bool = True) -> None:
        """Drops every connection and refuses new ones until `plug()`."""
        listener, self._listener = self._listener, None
        if listener is not None and self._acceptor is not None:
            self._acceptor.join(timeout=5)
            listener.close()
        self.drop(reset)

    def drop(self, reset: bool = True) -> None:
        """Drops every connection; new ones are accepted (when plugged)."""
        with self._lock:
            links, self._links = self._links, []
        for link in links:
            link.close(reset)
        self.muted = False

    def mute(self) -> None:
        """Lets no byte through, in either direction, on the open connections."""
        self.muted = True

    def close(self) -> None:
        self.pull()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._connect(client)

    def _connect(self, client: socket.socket) -> None:
        client.settimeout(None)
        try:
            upstream = socket.create_connection(self.upstream, timeout=1)
            upstream.settimeout(None)
        except OSError:  # the PLC itself is down: the client's connection ends at once
            client.close()
            return
        with self._lock:
            self.connections += 1
            self._links = [link for link in self._links if _alive(link)]
            self._links.append(_Link(self, client, upstream))


def _shut(end: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already shut by the other side
        end.shutdown(socket.SHUT_RDWR)


def _alive(link: _Link) -> bool:
    if any(pump.is_alive() for pump in link._pumps):
        return True
    link.join()  # both pumps ended on their own (the client closed): let go of its sockets now
    return False


@dataclass
class Sample:
    fds: int
    fd_kinds: dict[str, int]
    rss_kb: int
    traced_kb: float | None

    def as_dict(self) -> dict[str, object]:
        return {"fds": self.fds, "by_kind": self.fd_kinds, "rss_kb": self.rss_kb, "traced_kb": self.traced_kb}


@dataclass
class Probe:
    """Checkpoints of this process's descriptors and memory."""

    samples: dict[str, Sample] = field(default_factory=dict)

    def trace(self) -> None:
        """Python allocations are traced from now on: what is still alive at a later sample was kept since."""
        gc.collect()
        tracemalloc.start()

    def sample(self, name: str) -> Sample:
        gc.collect()
        traced = _product_kb() if tracemalloc.is_tracing() else None
        self.samples[name] = sample = Sample(open_fds(), fd_kinds(), rss_kb(), traced)
        return sample

    def stop(self) -> None:
        if tracemalloc.is_tracing():
            tracemalloc.stop()


NOT_PRODUCT = (tracemalloc.Filter(False, "*/tests/*"), tracemalloc.Filter(False, "*/drivers/simulators/*"),
               tracemalloc.Filter(False, tracemalloc.__file__))


def _product_kb() -> float:
    snapshot = tracemalloc.take_snapshot().filter_traces(NOT_PRODUCT)
    return round(sum(stat.size for stat in snapshot.statistics("filename")) / 1024, 1)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd")) - 1  # listdir's own descriptor


def fd_kinds() -> dict[str, int]:
    """Open descriptors by what they lead to: socket, pty, database (the SQLite files), pipe, other."""
    kinds: dict[str, int] = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # listdir's own descriptor, closed by now
            continue
        kind = ("socket" if target.startswith("socket:") else "pty" if target.startswith(("/dev/pts", "/dev/ptmx"))
                else "database" if ".db" in target else "pipe" if target.startswith("pipe:") else "other")
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")
