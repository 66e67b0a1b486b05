"""Pure Modbus codecs: tag specifications, register <-> value conversion, request coalescing, edge triggers.

Owns: what a PLC tag is (`Tag`, validated at construction with a `DeviceConfigError` naming the tag), how
its registers or bits turn into a `Decimal` (or text) with scale and offset applied, the reverse for writes,
the plan of the fewest read requests that cover a set of tags within the protocol limits, and rising-edge
detection on a bit.

It must not do I/O, import pymodbus (drivers/modbus_plc.py is the only module that does), or import anything
of this repository but drivers.base.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from drivers.base import DeviceConfigError, FrameError

Table = Literal["coil", "discrete", "input", "holding"]
TagType = Literal["int16", "uint16", "int32", "uint32", "float32", "float64", "bool", "string"]
Order = Literal["big", "little"]

TABLES: tuple[str, ...] = ("coil", "discrete", "input", "holding")
BIT_TABLES = frozenset({"coil", "discrete"})
MAX_READ_REGISTERS = 125  # Modbus application protocol v1.1b3, 6.3/6.4: 1..125 registers per read
MAX_READ_BITS = 2000  # 6.1/6.2: 1..2000 coils or discrete inputs per read
ADDRESS_SPACE = 65536

_FORMATS = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "float32": "f", "float64": "d"}
_WIDTHS = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2, "float64": 4, "bool": 1}


@dataclass(frozen=True, slots=True)
class Tag:
    """One named value in a PLC: where it lives and how its registers read. Invalid settings raise at once."""

    name: str
    table: Table
    address: int
    type: TagType = "uint16"
    length: int = 0  # characters, for type "string" only
    byte_order: Order = "big"
    word_order: Order = "big"
    scale: Decimal = Decimal(1)
    offset: Decimal = Decimal(0)
    unit: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", Decimal(str(self.scale)))
        object.__setattr__(self, "offset", Decimal(str(self.offset)))
        for problem in _problems(self):
            raise DeviceConfigError(f"tag {self.name!r}: {problem}")

    @property
    def count(self) -> int:
        """Registers (or bits, for coils and discrete inputs) the tag occupies."""
        if self.table in BIT_TABLES:
            return 1
        if self.type == "string":
            return math.ceil(self.length / 2)
        return _WIDTHS[self.type]

    @property
    def end(self) -> int:
        return self.address + self.count


def _problems(tag: Tag) -> Iterable[str]:
    if not tag.name:
        yield "a tag needs a name"
    if tag.table not in TABLES:
        yield f"table {tag.table!r} is not one of {', '.join(TABLES)}"
    if tag.type not in _WIDTHS and tag.type != "string":
        yield f"type {tag.type!r} is not one of {', '.join([*_WIDTHS, 'string'])}"
    if tag.table in BIT_TABLES and tag.type != "bool":
        yield f"a {tag.table} holds one bit, so its type must be bool, not {tag.type!r}"
    if (tag.type == "string") != (tag.length > 0):
        yield "type string needs length > 0 (characters), and only strings take a length"
    if not {tag.byte_order, tag.word_order} <= {"big", "little"}:
        yield "byte_order and word_order must each be 'big' or 'little'"
    yield from _address_problems(tag)
    if not tag.scale.is_finite() or tag.scale == 0 or not tag.offset.is_finite():
        yield "scale must be a finite non-zero number and offset a finite number"


def _address_problems(tag: Tag) -> Iterable[str]:
    if not isinstance(tag.address, int) or tag.address < 0:
        yield f"address {tag.address!r} must be an integer >= 0"
    elif tag.table in TABLES and (tag.type in _WIDTHS or tag.length > 0) and tag.end > ADDRESS_SPACE:
        yield f"address {tag.address} + {tag.count} runs past the Modbus address space (65535)"


# --- registers <-> values -------------------------------------------------------------------------------


def registers_to_bytes(registers: Sequence[int], byte_order: Order, word_order: Order) -> bytes:
    """Registers as the big-endian byte string the value's format expects."""
    words = list(registers) if word_order == "big" else list(reversed(registers))
    return b"".join(word.to_bytes(2, byte_order) for word in words)


def bytes_to_registers(data: bytes, byte_order: Order, word_order: Order) -> list[int]:
    words = [int.from_bytes(data[i : i + 2], byte_order) for i in range(0, len(data), 2)]
    return words if word_order == "big" else list(reversed(words))


def decode(tag: Tag, words: Sequence[int] | Sequence[bool]) -> Decimal | str:
    """The tag's value from its registers (or its one bit), scale and offset applied."""
    if len(words) != tag.count:
        raise FrameError(f"tag {tag.name!r}: got {len(words)} values, expected {tag.count}")
    if tag.type == "bool":
        return _scaled(tag, Decimal(1 if words[0] else 0))
    data = registers_to_bytes([int(word) for word in words], tag.byte_order, tag.word_order)
    if tag.type == "string":
        return data.decode("latin-1")[: tag.length].rstrip("\x00 ")
    (number,) = struct.unpack(">" + _FORMATS[tag.type], data)
    return _scaled(tag, _exact(tag, number, data))


def _exact(tag: Tag, number: int | float, data: bytes) -> Decimal:
    if isinstance(number, int):
        return Decimal(number)
    if not math.isfinite(number):
        raise FrameError(f"tag {tag.name!r}: register value {data.hex()} is {number}, not a finite number")
    return Decimal(_shortest(number, _FORMATS[tag.type]))  # may print as 7.265521E+7: same number


def _shortest(number: float, fmt: str) -> str:
    """The fewest significant digits that read back as the same float32/float64: 12.345, not 12.3450002."""
    packed = struct.pack(">" + fmt, number)
    for digits in range(1, 18):
        text = f"{number:.{digits}g}"
        try:
            if struct.pack(">" + fmt, float(text)) == packed:
                return text
        except OverflowError:  # rounding up near the float32 maximum; more digits will fit
            continue
    return repr(number)


def _scaled(tag: Tag, raw: Decimal) -> Decimal:
    if tag.scale == 1 and tag.offset == 0:
        return raw
    return raw * tag.scale + tag.offset


def encode(tag: Tag, value: Decimal | int | float | str | bool) -> list[int]:
    """The registers to write for `value` (inverse scale and offset applied); one 0/1 for a bit tag."""
    if tag.type == "string":
        return _encode_text(tag, str(value))
    raw = (_number(tag, value) - tag.offset) / tag.scale
    if tag.type == "bool":
        return [1 if raw else 0]
    fmt = _FORMATS[tag.type]
    if fmt not in "fd" and raw != raw.to_integral_value():
        raise DeviceConfigError(f"tag {tag.name!r}: {value} does not give a whole number for {tag.type}")
    try:
        data = struct.pack(">" + fmt, float(raw) if fmt in "fd" else int(raw))
    except (struct.error, OverflowError):
        raise DeviceConfigError(f"tag {tag.name!r}: {value} is out of range for {tag.type}") from None
    return bytes_to_registers(data, tag.byte_order, tag.word_order)


def _number(tag: Tag, value: Decimal | int | float | str | bool) -> Decimal:
    try:
        number = Decimal(int(value)) if isinstance(value, bool) else Decimal(str(value))
    except ArithmeticError:
        raise DeviceConfigError(f"tag {tag.name!r}: {value!r} is not a number") from None
    if not number.is_finite():
        raise DeviceConfigError(f"tag {tag.name!r}: {value!r} is not a finite number")
    return number


def _encode_text(tag: Tag, text: str) -> list[int]:
    data = text.encode("latin-1", errors="replace")
    if len(data) > tag.length:
        raise DeviceConfigError(f"tag {tag.name!r}: {len(data)} characters do not fit in {tag.length}")
    data = data.ljust(tag.count * 2, b"\x00")
    return bytes_to_registers(data, tag.byte_order, "big")


# --- coalescing ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One Modbus read: a table, a start address, a count, and the tags it answers."""

    table: Table
    address: int
    count: int
    tags: tuple[Tag, ...]

    def values(self, words: Sequence[int] | Sequence[bool]) -> dict[str, Decimal | str]:
        """Every tag of this request decoded from the request's answer."""
        if len(words) < self.count:
            raise FrameError(f"{self.table} read at {self.address}: got {len(words)} of {self.count}")
        return {tag.name: decode(tag, _slice(tag, self.address, words)) for tag in self.tags}


def _slice(tag: Tag, start: int, words: Sequence[int] | Sequence[bool]) -> Sequence[int] | Sequence[bool]:
    return words[tag.address - start : tag.end - start]


@dataclass(frozen=True, slots=True)
class Limits:
    """How far a request may reach: protocol maxima, lowered for PLCs that accept less."""

    max_registers: int = MAX_READ_REGISTERS
    max_bits: int = MAX_READ_BITS
    max_gap: int = 8  # unused registers (or bits) worth reading to save a request

    def span(self, table: str) -> int:
        return self.max_bits if table in BIT_TABLES else self.max_registers


def plan(tags: Iterable[Tag], limits: Limits = Limits()) -> list[ReadRequest]:
    """The fewest reads, per table, that cover every tag within `limits`, merging across small gaps."""
    ordered = sorted(tags, key=lambda tag: (TABLES.index(tag.table), tag.address, tag.end))
    _check_unique(ordered)
    requests: list[ReadRequest] = []
    group: list[Tag] = []
    for tag in ordered:
        if group and not _fits(group, tag, limits):
            requests.append(_request(group))
            group = []
        group.append(tag)
    if group:
        requests.append(_request(group))
    return requests


def _fits(group: list[Tag], tag: Tag, limits: Limits) -> bool:
    start, end = group[0].address, max(member.end for member in group)
    if tag.table != group[0].table or tag.address - end > limits.max_gap:
        return False
    return max(end, tag.end) - start <= limits.span(tag.table)


def _request(group: list[Tag]) -> ReadRequest:
    start, end = group[0].address, max(tag.end for tag in group)
    return ReadRequest(group[0].table, start, end - start, tuple(group))


def _check_unique(tags: Sequence[Tag]) -> None:
    seen: set[str] = set()
    for tag in tags:
        if tag.name in seen:
            raise DeviceConfigError(f"tag {tag.name!r} is defined twice")
        seen.add(tag.name)


def scan_values(
    requests: Sequence[ReadRequest], answers: Sequence[Sequence[int] | Sequence[bool]]
) -> dict[str, Decimal | str]:
    """Every tag of a plan decoded from the answers to its requests, in the same order."""
    values: dict[str, Decimal | str] = {}
    for request, words in zip(requests, answers, strict=True):
        values.update(request.values(words))
    return values


# --- triggers --------------------------------------------------------------------------------------------


@dataclass
class RisingEdge:
    """Fires once when a bit goes from off to on (a part arrives), not while it stays on.

    The first sample after start or `forget()` (a reconnect) only sets the state, unless `fire_on_first`:
    a part already present when the line comes up is not taken for a new one.
    """

    fire_on_first: bool = False
    _last: bool | None = field(default=None, repr=False)

    def update(self, value: bool | Decimal | int) -> bool:
        now = bool(value)
        previous, self._last = self._last, now
        if previous is None:
            return now and self.fire_on_first
        return now and not previous

    def forget(self) -> None:
        self._last = None
