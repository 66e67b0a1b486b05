"""Pure frame codecs for serial gauges, and a streaming decoder that finds frames in arbitrary chunks.

Owns: turning one line of bytes from a gauge into a value and unit (`Frame`), or a `FrameError` /
`DeviceReportedError` whose message gives the reason; and cutting a byte stream into lines with a bound
on line length. Values are `Decimal` built from the printed text, never through a float.

Protocols (docs/devices.md lists the exact frames and the vendor documents they were checked against):
Mitutoyo Digimatic USB/RS-232 output (`01A+0000.123` CR), Sylvac (`+12.345` or `+012.345 MM` CR,
`ERR<n>` CR), Mettler Toledo MT-SICS (`S S      100.00 g` CR LF and its status and error replies), and a
generic line protocol described by a regular expression.

It must not do I/O, sleep, log, or import anything of this repository but drivers.base.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Protocol

from drivers.base import DeviceConfigError, DeviceReportedError, DriverError, FrameError

MAX_LINE_BYTES = 128  # the longest real frame here is ~25 bytes; anything far longer is noise


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame: the value exactly as printed, its unit, and what the device said about it."""

    value: Decimal
    unit: str
    channel: str = ""
    stable: bool = True  # MT-SICS "S D" (dynamic) is a value, but not a settled one
    raw: bytes = b""


class FrameCodec(Protocol):
    """What a transport needs from a protocol: how to ask, where a reply ends, how to read it."""

    @property
    def name(self) -> str: ...

    @property
    def request(self) -> bytes:
        """Written to poll a value; b"" when the protocol cannot be polled."""
        ...

    @property
    def terminator(self) -> bytes:
        """What read_until waits for."""
        ...

    def decode(self, line: bytes) -> Frame: ...


_NOISE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # control bytes no frame holds: line noise


def _text(line: bytes) -> str:
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        raise FrameError(f"non-ASCII bytes in frame {line[:40]!r}") from None
    if _NOISE.search(text):  # else a NUL could pass as part of a unit (MT-SICS "g\x00") or a pattern's group
        raise FrameError(f"control bytes in frame {line[:40]!r}")
    return text


def _decimal(text: str, line: bytes) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise FrameError(f"value {text!r} is not a number in {line!r}") from None
    if not value.is_finite():
        raise FrameError(f"value {text!r} is not a finite number in {line!r}")
    return value


_NUMBER = r"\d+(?:\.\d*)?|\.\d+"  # digits with at most one decimal point; no exponent, no NaN


@dataclass(frozen=True, slots=True)
class MitutoyoCodec:
    """Mitutoyo Digimatic data as sent by its USB/RS-232 interfaces: `01A+0000.123` CR.

    D1 code number, D2 channel, D3 `A`, D4 sign, D5-D12 eight characters of digits with a floating
    decimal point. The frame carries no unit: it is the gauge's configured `unit`.
    """

    unit: str = "mm"
    request: bytes = b"1\r"
    terminator: bytes = b"\r"
    name: str = "mitutoyo"
    _pattern = re.compile(r"(\d)(\d)A([+-])([0-9.]{8})")

    def decode(self, line: bytes) -> Frame:
        match = self._pattern.fullmatch(_text(line).strip())
        if match is None:
            raise FrameError(f"not a Mitutoyo frame (want 01A+0000.123): {line[:40]!r}")
        code, channel, sign, digits = match.groups()
        if not re.fullmatch(_NUMBER, digits):
            raise FrameError(f"Mitutoyo data field {digits!r} is not a number in {line!r}")
        return Frame(_decimal(sign + digits, line), self.unit, channel=code + channel, raw=line)


@dataclass(frozen=True, slots=True)
class SylvacCodec:
    """Sylvac: `?` CR asks; the reply is sign (`+`, `-` or space), digits, `.`, decimals, optional unit, CR.

    `ERR<n>` CR is the instrument's own error reply (1 incorrect command, 3 out of measuring range).
    """

    unit: str = "mm"  # when the reply carries no unit
    request: bytes = b"?\r"
    terminator: bytes = b"\r"
    name: str = "sylvac"
    _pattern = re.compile(rf"([+\- ]?)\s*({_NUMBER})(?:\s*(mm|MM|in|IN|inch|INCH))?")
    _error = re.compile(r"ERR\s*(\d+)")
    _reasons = {"0": "sensor error", "1": "incorrect command", "2": "parity error", "3": "out of range"}

    def decode(self, line: bytes) -> Frame:
        text = _text(line).strip("\r\n")
        if error := self._error.fullmatch(text.strip()):
            reason = self._reasons.get(error.group(1), "unknown error")
            raise DeviceReportedError(f"Sylvac reports ERR{error.group(1)} ({reason})")
        match = self._pattern.fullmatch(text.rstrip())
        if match is None:
            raise FrameError(f"not a Sylvac value (want +12.345 [MM]): {line[:40]!r}")
        sign, digits, unit = match.groups()
        sign = "-" if sign == "-" else ""
        return Frame(_decimal(sign + digits, line), _sylvac_unit(unit, self.unit), raw=line)


def _sylvac_unit(printed: str | None, default: str) -> str:
    if printed is None:
        return default
    return "mm" if printed.lower() == "mm" else "in"


_SICS_STATUS = {
    "I": "command not executable (busy, or no stable value in time)",
    "+": "overload (weight above the weighing range)",
    "-": "underload (weight below the weighing range)",
}
_SICS_ERRORS = {
    "ES": "syntax error (command not recognised)",
    "ET": "transmission error (parity error or line too long)",
    "EL": "logical error (command cannot be executed)",
}


@dataclass(frozen=True, slots=True)
class MtSicsCodec:
    """Mettler Toledo MT-SICS weight replies to `S` (stable) or `SI` (immediate), terminated CR LF.

    `S S <value> <unit>` is stable, `S D <value> <unit>` dynamic (a value, marked not stable);
    `S I`, `S +`, `S -`, `ES`, `ET`, `EL` are the device reporting it has no value.
    """

    request: bytes = b"S\r\n"
    terminator: bytes = b"\n"
    name: str = "mt-sics"
    _pattern = re.compile(rf"(S|SI) ([SD]) +(-?(?:{_NUMBER})) +(\S+)")
    _status = re.compile(r"(S|SI) ([I+\-])")

    def decode(self, line: bytes) -> Frame:
        text = _text(line).strip("\r\n")
        if text.strip() in _SICS_ERRORS:
            raise DeviceReportedError(f"MT-SICS {text.strip()}: {_SICS_ERRORS[text.strip()]}")
        if status := self._status.fullmatch(text.rstrip()):
            raise DeviceReportedError(f"MT-SICS {text.rstrip()}: {_SICS_STATUS[status.group(2)]}")
        match = self._pattern.fullmatch(text.rstrip())
        if match is None:
            raise FrameError(f"not an MT-SICS weight reply (want S S 100.00 g): {line[:40]!r}")
        _, stability, number, unit = match.groups()
        return Frame(_decimal(number, line), unit, stable=stability == "S", raw=line)


@dataclass(frozen=True, slots=True)
class PatternCodec:
    """A generic line protocol: a regular expression with a `value` group and an optional `unit` group.

    When the pattern has no `unit` group (or it did not match), the fixed `unit` is used.
    """

    pattern: str
    unit: str = ""
    request: bytes = b""
    terminator: bytes = b"\r"
    name: str = "pattern"
    _compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", _compile_pattern(self.pattern))
        if "unit" not in self._compiled.groupindex and not self.unit:
            raise DeviceConfigError(f"pattern {self.pattern!r} has no (?P<unit>...) group and no fixed unit")

    def decode(self, line: bytes) -> Frame:
        match = self._compiled.fullmatch(_text(line).strip("\r\n"))
        if match is None:
            raise FrameError(f"line does not match {self.pattern!r}: {line[:40]!r}")
        groups = match.groupdict()
        number = (groups["value"] or "").replace(" ", "")
        if not re.fullmatch(rf"[+-]?(?:{_NUMBER})", number):
            raise FrameError(f"value {number!r} is not a plain decimal number in {line!r}")
        return Frame(_decimal(number, line), groups.get("unit") or self.unit, raw=line)


def _compile_pattern(pattern: str) -> re.Pattern[str]:
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise DeviceConfigError(f"pattern {pattern!r} is not a regular expression: {error}") from None
    if "value" not in compiled.groupindex:
        raise DeviceConfigError(f"pattern {pattern!r} has no (?P<value>...) group")
    return compiled


def codec_for(protocol: str, *, unit: str = "", pattern: str = "") -> FrameCodec:
    """The codec a gauge setting names: mitutoyo | sylvac | mt-sics | pattern."""
    if protocol == "mitutoyo":
        return MitutoyoCodec(unit=unit or "mm")
    if protocol == "sylvac":
        return SylvacCodec(unit=unit or "mm")
    if protocol == "mt-sics":
        return MtSicsCodec()
    if protocol == "pattern":
        return PatternCodec(pattern=pattern, unit=unit)
    raise DeviceConfigError(f"unknown gauge protocol {protocol!r} (mitutoyo, sylvac, mt-sics, pattern)")


@dataclass
class StreamDecoder:
    """Cuts a byte stream into lines (CR, LF or CR LF end a line) and decodes each with `codec`.

    `feed()` takes any chunk and yields a `Frame` or a `DriverError` per complete line, in order.
    A line longer than `max_line_bytes` is dropped and reported once; the decoder then resynchronises
    on the next line end, so memory stays bounded whatever arrives. `rejects` counts reasons.
    """

    codec: FrameCodec
    max_line_bytes: int = MAX_LINE_BYTES
    rejects: Counter[str] = field(default_factory=Counter)
    _buffer: bytearray = field(default_factory=bytearray)
    _overlong: bool = False

    def feed(self, chunk: bytes) -> Iterator[Frame | DriverError]:
        start = 0
        for end in _line_ends(chunk):
            yield from self._line(chunk[start:end])
            start = end + 1
        self._keep(chunk[start:])

    def _keep(self, tail: bytes) -> None:
        if self._overlong:
            return
        self._buffer += tail
        if len(self._buffer) > self.max_line_bytes:
            self._buffer.clear()
            self._overlong = True

    def _line(self, piece: bytes) -> Iterator[Frame | DriverError]:
        line = bytes(self._buffer) + piece
        self._buffer.clear()
        if self._overlong or len(line) > self.max_line_bytes:
            self._overlong = False
            yield self._reject(FrameError(f"line longer than {self.max_line_bytes} bytes dropped"))
        elif line.strip():
            yield self._decode(line)

    def _decode(self, line: bytes) -> Frame | DriverError:
        try:
            return self.codec.decode(line)
        except DriverError as error:
            return self._reject(error)

    def _reject(self, error: DriverError) -> DriverError:
        self.rejects[_reason(error)] += 1
        return error


def _line_ends(chunk: bytes) -> Iterator[int]:
    for index, byte in enumerate(chunk):
        if byte in (0x0D, 0x0A):
            yield index


_QUOTED = re.compile(r"b?'(?:[^'\\]|\\.)*'|b?\"(?:[^\"\\]|\\.)*\"")  # a repr()'d str or bytes


def _reason(error: DriverError) -> str:
    """A short, bounded key for counting rejects: the message up to its first colon, what it quotes left out.

    Garbage varies without end; a key that quoted it would make one counter entry per garbage line.
    """
    return _QUOTED.sub("...", str(error)).split(":", 1)[0][:60]
