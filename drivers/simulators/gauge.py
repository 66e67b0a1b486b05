"""A gauge simulator on a real pseudo-terminal, speaking Mitutoyo, Sylvac or MT-SICS frames.

Owns: a pty pair (os.openpty) whose far end behaves like the gauge: it answers the protocol's request with
the next value, pushes a value when the "data button" is pressed, and injects faults (garbage, silence,
error replies, unplugging). `path` is a stable symlink to the current pty, so an unplugged and replugged
gauge reappears at the same path, like a USB gauge does at /dev/ttyUSB0.

It runs in its own thread; it must not import pymodbus or anything of this repository outside drivers/.
"""

from __future__ import annotations

import os
import select
import tempfile
import threading
import tty
from collections.abc import Iterable
from decimal import Decimal
from itertools import cycle
from typing import Literal

Fault = Literal["garbage", "silence", "error"] | None
REQUESTS = {"mitutoyo": (b"1",), "sylvac": (b"?", b"PRI"), "mt-sics": (b"S", b"SI")}
ERRORS = {"mitutoyo": b"91\r", "sylvac": b"ERR3\r", "mt-sics": b"S +\r\n"}  # mitutoyo: no documented one
LINE_ENDS = {"mitutoyo": b"\r", "sylvac": b"\r", "mt-sics": b"\r\n"}


def frame(protocol: str, value: Decimal, unit: str = "g") -> bytes:
    """The bytes a real gauge of `protocol` sends for `value`."""
    sign = "-" if value < 0 else "+"
    digits = f"{abs(value):f}"
    if protocol == "mitutoyo":
        return f"01A{sign}{digits.rjust(8, '0')}\r".encode()
    if protocol == "sylvac":
        return f"{sign}{digits}\r".encode()
    if protocol == "mt-sics":
        return f"S S {value:>10f} {unit}\r\n".encode()
    raise ValueError(f"unknown gauge protocol {protocol!r}")


class GaugeSimulator:
    """The far end of a pty behaving like a gauge. Start with `run_gauge_simulator()`."""

    def __init__(self, protocol: str, values: Iterable[Decimal | str], unit: str = "g") -> None:
        if protocol not in REQUESTS:
            raise ValueError(f"unknown gauge protocol {protocol!r} (mitutoyo, sylvac, mt-sics)")
        self.protocol, self.unit = protocol, unit
        self.fault: Fault = None
        self.requests = 0
        self._values = cycle([Decimal(str(value)) for value in values] or [Decimal("0")])
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._folder = tempfile.mkdtemp(prefix="lineside-gauge-")
        self.path = os.path.join(self._folder, "tty")
        self._master, self._slave = -1, -1
        self._plug()
        self._thread = threading.Thread(target=self._serve, name=f"gauge-{protocol}", daemon=True)
        self._thread.start()

    def _plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no CR/LF translation: bytes pass as a serial line passes them
        with self._lock:
            self._master, self._slave = master, slave
        link = self.path + ".new"
        os.symlink(os.ttyname(slave), link)
        os.replace(link, self.path)

    def unplug(self) -> None:
        """The cable is pulled: the pty closes, readers get an error, the path leads nowhere."""
        with self._lock:
            master, slave, self._master, self._slave = self._master, self._slave, -1, -1
        for fd in (master, slave):
            if fd >= 0:
                os.close(fd)
        os.unlink(self.path)

    def replug(self) -> None:
        self._plug()

    def push(self, value: Decimal | str | None = None) -> None:
        """The data button: sends `value` (or the next value) without being asked."""
        self._send(frame(self.protocol, self._next(value), self.unit))

    def send_raw(self, data: bytes) -> None:
        self._send(data)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self._master >= 0:
            self.unplug()
        os.rmdir(self._folder)

    def _next(self, value: Decimal | str | None) -> Decimal:
        return Decimal(str(value)) if value is not None else next(self._values)

    def _send(self, data: bytes) -> None:
        with self._lock:
            if self._master >= 0:
                os.write(self._master, data)

    def _serve(self) -> None:
        pending = b""
        while not self._stop.is_set():
            chunk = self._read()
            pending += chunk
            *lines, pending = pending.replace(b"\n", b"\r").split(b"\r")
            for line in lines:
                self._answer(line.strip())
            pending = pending[-256:]  # a simulator is not a memory leak either

    def _read(self) -> bytes:
        master = self._master
        if master < 0:
            self._stop.wait(0.01)
            return b""
        try:
            ready, _, _ = select.select([master], [], [], 0.05)
            return os.read(master, 1024) if ready else b""
        except OSError:  # unplugged under our feet
            return b""

    def _answer(self, request: bytes) -> None:
        if request not in REQUESTS[self.protocol]:
            return
        self.requests += 1
        if self.fault == "silence":
            return
        if self.fault == "garbage":
            self._send(b"\x00\xff#garbage!" + LINE_ENDS[self.protocol])
        elif self.fault == "error":
            self._send(ERRORS[self.protocol])
        else:
            self.push()


def run_gauge_simulator(
    protocol: str, values: Iterable[Decimal | str] = ("12.345",), *, unit: str = "g"
) -> GaugeSimulator:
    """Starts a simulated gauge in a thread; open `.path` with pyserial, `.stop()` when done."""
    return GaugeSimulator(protocol, values, unit)
