"""The serial gauge transport: a thin layer of pyserial around a frame codec of drivers/gauge_frames.py.

Owns: opening a gauge by pyserial URL (`/dev/ttyUSB0`, `socket://host:port`, `rfc2217://host:port`, a pty
path), the two ways a gauge talks (polled: write the request, read until the terminator, decode; pushed:
read what the data button sent, frame by frame), and translating every pyserial and OS exception:

    pyserial / OS                                  drivers tree
    SerialTimeoutException (write timed out)       DeviceTimeoutError
    PortNotOpenError, SerialException, OSError     DeviceUnavailableError (port gone, unplugged, refused)
    ValueError (bad baudrate, parity, URL)         DeviceConfigError
    no complete reply before timeout_s             DeviceTimeoutError
    a reply that is not a valid frame              FrameError / DeviceReportedError (from the codec)

It is blocking (pyserial is); drivers/poller.py runs it in a worker thread. It must not retry, sleep, log,
or know what a reading is for.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import serial

from drivers.base import (
    DeviceConfigError,
    DeviceTimeoutError,
    DeviceUnavailableError,
    DriverError,
    FrameError,
    translate_foreign,
)
from drivers.gauge_frames import MAX_LINE_BYTES, Frame, FrameCodec, StreamDecoder, codec_for

# Most specific first: the first class the error is an instance of decides.
FOREIGN_ERRORS: tuple[tuple[type[BaseException], type[DriverError]], ...] = (
    (serial.SerialTimeoutException, DeviceTimeoutError),
    (serial.PortNotOpenError, DeviceUnavailableError),
    (serial.SerialException, DeviceUnavailableError),
    (OSError, DeviceUnavailableError),
    (ValueError, DeviceConfigError),
)


def translate(error: BaseException, where: str) -> DriverError:
    """The drivers error for a pyserial or OS exception, naming the port it came from."""
    return translate_foreign(error, where, FOREIGN_ERRORS)


@contextmanager
def translated(where: str) -> Iterator[None]:
    try:
        yield
    except DriverError:
        raise
    except Exception as error:
        raise translate(error, where) from error


@dataclass(frozen=True, slots=True)
class SerialSettings:
    """How to reach a gauge. `url` is anything `serial.serial_for_url` opens."""

    url: str
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    timeout_s: float = 1.0


class SerialGauge:
    """One gauge on one port. `poll()` asks for a value; `read_pushed()` takes what the gauge sent."""

    def __init__(self, settings: SerialSettings, codec: FrameCodec, max_line_bytes: int = MAX_LINE_BYTES):
        self.settings = settings
        self.codec = codec
        self.max_line_bytes = max_line_bytes
        self.decoder = StreamDecoder(codec, max_line_bytes)
        self._port: serial.SerialBase | None = None
        self._cut_short = False  # the last reply did not end: its rest may come late

    @property
    def is_open(self) -> bool:
        return self._port is not None and self._port.is_open

    def open(self) -> None:
        if self.is_open:
            return
        s = self.settings
        with translated(s.url):
            self._port = serial.serial_for_url(
                s.url, baudrate=s.baudrate, bytesize=s.bytesize, parity=s.parity,
                stopbits=s.stopbits, timeout=s.timeout_s, write_timeout=s.timeout_s,
            )  # fmt: skip
        self.decoder = StreamDecoder(self.codec, self.max_line_bytes)

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with translated(self.settings.url):
                port.close()

    def poll(self) -> Frame:
        """Writes the protocol's request and decodes the reply. The port stays open across polls."""
        if not self.codec.request:
            raise DeviceConfigError(f"{self.settings.url}: protocol {self.codec.name} cannot be polled")
        port = self._opened()
        with self._guarded():
            if self._cut_short:
                self._wait_quiet(port)
            port.reset_input_buffer()  # a pushed value or a late reply must not answer this request
            port.write(self.codec.request)
            self._cut_short = True
            line = self._read_reply(port)
        self._cut_short = not line.endswith(self.codec.terminator)
        return self.codec.decode(self._complete(line))

    def _wait_quiet(self, port: serial.SerialBase) -> None:
        """Reads until the line is quiet for a tenth of the timeout (a whole timeout at most).

        After a reply cut short (no answer in time, or over-long), its rest may still be on its way; flushed
        but then arriving after the next request, it would be taken for that request's answer: the tail of
        `+10.052` is `52`, a Sylvac value too.
        """
        port.timeout = self.settings.timeout_s / 10
        try:
            deadline = time.monotonic() + self.settings.timeout_s
            while port.read(max(1, port.in_waiting)) and time.monotonic() < deadline:
                pass
        finally:
            port.timeout = self.settings.timeout_s

    def _read_reply(self, port: serial.SerialBase) -> bytes:
        """Like read_until, but takes what is waiting in one read instead of one byte per system call.

        Bytes after the terminator are dropped: a reply answers one request, and the next poll flushes.
        """
        deadline = time.monotonic() + self.settings.timeout_s
        reply = bytearray()
        while self.codec.terminator not in reply and len(reply) < self.max_line_bytes:
            chunk = port.read(max(1, min(port.in_waiting, self.max_line_bytes - len(reply))))
            reply += chunk
            if not chunk or time.monotonic() > deadline:
                break
        end = reply.find(self.codec.terminator)
        return bytes(reply if end < 0 else reply[: end + len(self.codec.terminator)])

    def _complete(self, line: bytes) -> bytes:
        if line.endswith(self.codec.terminator):
            return line
        if len(line) >= self.max_line_bytes:
            raise FrameError(f"{self.settings.url}: reply longer than {self.max_line_bytes} bytes")
        got = f"only {line[:40]!r}" if line else "nothing"
        wait_s = self.settings.timeout_s
        raise DeviceTimeoutError(f"{self.settings.url}: no complete reply in {wait_s} s ({got})")

    def read_pushed(self) -> list[Frame | DriverError]:
        """What the gauge sent since the last call, frame by frame; waits up to timeout_s for a first byte."""
        port = self._opened()
        with self._guarded():
            chunk = port.read(max(1, port.in_waiting))
        return list(self.decoder.feed(chunk))

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        """Translates errors; a port that failed is closed, so the next call reopens it (replugged)."""
        try:
            with translated(self.settings.url):
                yield
        except DeviceUnavailableError:
            self._drop()
            raise

    def _drop(self) -> None:
        port, self._port = self._port, None
        try:
            if port is not None:
                port.close()
        except (serial.SerialException, OSError):
            pass  # it is already gone; the error that brought us here is the one to report

    def _opened(self) -> serial.SerialBase:
        self.open()
        assert self._port is not None
        return self._port


def build_gauge(
    url: str,
    protocol: str,
    *,
    unit: str = "",
    pattern: str = "",
    baudrate: int = 9600,
    timeout_s: float = 1.0,
) -> SerialGauge:
    """A SerialGauge from the settings a line configuration holds (not opened until first used)."""
    if timeout_s <= 0:
        raise DeviceConfigError(f"{url}: timeout_s must be > 0")
    codec = codec_for(protocol, unit=unit, pattern=pattern)
    return SerialGauge(SerialSettings(url, baudrate=baudrate, timeout_s=timeout_s), codec)
