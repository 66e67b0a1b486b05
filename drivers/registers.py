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
    unscaled: bool = field(init=False, repr=False, compare=False, default=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", Decimal(str(self.scale)))
        object.__setattr__(self, "offset", Decimal(str(self.offset)))
        for problem in _problems(self):
            raise DeviceConfigError(f"tag {self.name!r}: {problem}")
        object.__setattr__(self, "unscaled", self.scale == 1 and self.offset == 0)

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


_STRUCTS = {name: struct.Struct(">" + code) for name, code in _FORMATS.items()}
_F32 = _STRUCTS["float32"]


def registers_to_bytes(registers: Sequence[int], byte_order: Order, word_order: Order) -> bytes:
    """Registers as the big-endian byte string the value's format expects."""
    return _reorder(_block_bytes(registers), byte_order, word_order)


def bytes_to_registers(data: bytes, byte_order: Order, word_order: Order) -> list[int]:
    ordered = _reorder(data, byte_order, word_order)
    return list(struct.unpack(f">{len(ordered) // 2}H", ordered))


def _block_bytes(words: Sequence[int] | Sequence[bool]) -> bytes:
    try:
        return struct.pack(f">{len(words)}H", *words)
    except struct.error:
        raise FrameError(f"register values out of 0..65535 in {list(words)[:8]}") from None


def _reorder(data: bytes, byte_order: Order, word_order: Order) -> bytes:
    """Between the PLC's order and big-endian (the swap is its own inverse)."""
    if byte_order == "big" and word_order == "big":
        return data
    words = [data[i : i + 2] for i in range(0, len(data), 2)]
    if word_order == "little":
        words.reverse()
    if byte_order == "little":
        words = [word[::-1] for word in words]
    return b"".join(words)


def decode(tag: Tag, words: Sequence[int] | Sequence[bool]) -> Decimal | str:
    """The tag's value from its registers (or its one bit), scale and offset applied."""
    if len(words) != tag.count:
        raise FrameError(f"tag {tag.name!r}: got {len(words)} values, expected {tag.count}")
    if tag.table in BIT_TABLES:
        return _scaled(tag, Decimal(1 if words[0] else 0))
    return _decode_at(tag, _block_bytes(words), 0)


def _decode_at(tag: Tag, block: bytes, offset: int) -> Decimal | str:
    """The tag's value from `block` (a read's registers as big-endian bytes), `offset` registers in."""
    if tag.type == "float32" and tag.byte_order == tag.word_order == "big":  # the common case, kept short
        (number,) = _F32.unpack_from(block, offset * 2)
        return _scaled(tag, _float32(tag, number, block[offset * 2 : offset * 2 + 4]))
    data = block[offset * 2 : (offset + tag.count) * 2]
    if tag.type == "string":
        return _reorder(data, tag.byte_order, "big").decode("latin-1")[: tag.length].rstrip("\x00 ")
    if tag.type == "bool":
        return _scaled(tag, Decimal(1 if any(data) else 0))
    data = _reorder(data, tag.byte_order, tag.word_order)
    (number,) = _STRUCTS[tag.type].unpack(data)
    if tag.type == "float32":
        return _scaled(tag, _float32(tag, number, data))
    if tag.type == "float64":
        _check_finite(tag, number, data)
        return _scaled(tag, Decimal(repr(number)))  # repr is already the shortest that reads back
    return _scaled(tag, Decimal(number))


def _check_finite(tag: Tag, number: float, data: bytes) -> None:
    if not math.isfinite(number):
        raise FrameError(f"tag {tag.name!r}: register value {data.hex()} is {number}, not a finite number")


def _float32(tag: Tag, number: float, packed: bytes) -> Decimal:
    """The fewest digits that read back as the same float32: 12.345, not 12.3450002 (may print 7.2E+7).

    Below 6 digits, "%.6g" (which drops trailing zeros) already gives them: a float32 is within 6e-8 of
    any shorter decimal it stands for.
    """
    _check_finite(tag, number, packed)
    for digits in (6, 7, 8):
        text = f"{number:.{digits}g}"
        try:
            if _F32.pack(float(text)) == packed:
                return Decimal(text)
        except OverflowError:  # rounding up near the float32 maximum; more digits will fit
            continue
    return Decimal(f"{number:.9g}")  # 9 significant digits always identify a float32


def _scaled(tag: Tag, raw: Decimal) -> Decimal:
    if tag.unscaled:
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
    return bytes_to_registers(data, tag.byte_order, "big")  # characters keep their order: no word order


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
        start = self.address
        if self.table in BIT_TABLES:
            return {tag.name: decode(tag, words[tag.address - start : tag.end - start]) for tag in self.tags}
        block = _block_bytes(words[: self.count])  # once per read, not once per tag
        return {tag.name: _decode_at(tag, block, tag.address - start) for tag in self.tags}


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


_Decoded = tuple[tuple[int | bool, ...], dict[str, Decimal | str]]


class ScanDecoder:
    """Decodes the answers to a plan. A read whose registers are unchanged since the previous scan reuses
    the values decoded then (Decimals are immutable): most registers of a PLC hold still between scans."""

    def __init__(self, requests: Sequence[ReadRequest]) -> None:
        self.requests = list(requests)
        self._last: list[_Decoded | None] = [None] * len(requests)

    def values(self, answers: Sequence[Sequence[int] | Sequence[bool]]) -> dict[str, Decimal | str]:
        values: dict[str, Decimal | str] = {}
        for index, (request, words) in enumerate(zip(self.requests, answers, strict=True)):
            key, last = tuple(words), self._last[index]
            if last is None or last[0] != key:
                last = self._last[index] = (key, request.values(words))
            values.update(last[1])
        return values


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
class Edge:
    """Fires once when a bit goes from off to on (`rising`: a part arrives) or from on to off (`falling`: a part
    leaves), not while it stays where it went.

    The first sample after start or `forget()` (a reconnect) only sets the state, unless `fire_on_first`:
    a part already present when the line comes up is not taken for a new one.
    """

    falling: bool = False
    fire_on_first: bool = False
    _last: bool | None = field(default=None, repr=False)

    def update(self, value: bool | Decimal | int) -> bool:
        now = bool(value) != self.falling  # the level the edge goes to
        previous, self._last = self._last, now
        if previous is None:
            return now and self.fire_on_first
        return now and not previous

    def forget(self) -> None:
        self._last = None
