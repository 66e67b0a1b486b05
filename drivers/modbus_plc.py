"""The Modbus transport: the one module that imports pymodbus (pinned 3.16.*; its API moves between minors).

Owns: a PLC client over Modbus TCP, or RTU on a serial URL (device path, `socket://`, `rfc2217://`), that
executes the coalesced read plan of drivers/registers.py and decodes it, and writes a tag; the translation
of every pymodbus exception and every Modbus exception code (01-0B) into the drivers error tree; and the
small server wrapper the PLC simulator runs on.

    pymodbus / OS                 drivers tree
    ConnectionException, OSError  DeviceUnavailableError
    ModbusIOException, timeout    DeviceTimeoutError (the connection is then closed, so stale answers die)
    Parameter/NoSuchId/NotImpl./  DeviceConfigError
      MessageRegisterException
    exception response 01-0B      DeviceReportedError("... 02 ILLEGAL DATA ADDRESS")
    any other ModbusException     DriverError

It must not poll, retry, sleep or log on its own (drivers/poller.py does), and must not import anything of
this repository but drivers.base and drivers.registers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import serial
from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import (
    ConnectionException,
    MessageRegisterException,
    ModbusException,
    ModbusIOException,
    NoSuchIdException,
    NotImplementedException,
    ParameterException,
)
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from drivers.base import (
    DeviceConfigError,
    DeviceReportedError,
    DeviceTimeoutError,
    DeviceUnavailableError,
    DriverError,
    translate_foreign,
)
from drivers.registers import Limits, ReadRequest, ScanDecoder, Tag, encode, plan

# Modbus application protocol v1.1b3, section 7 (07 is from the older Modicon guide; pymodbus knows it).
EXCEPTION_NAMES = {
    0x01: "ILLEGAL FUNCTION",
    0x02: "ILLEGAL DATA ADDRESS",
    0x03: "ILLEGAL DATA VALUE",
    0x04: "SERVER DEVICE FAILURE",
    0x05: "ACKNOWLEDGE",
    0x06: "SERVER DEVICE BUSY",
    0x07: "NEGATIVE ACKNOWLEDGE",
    0x08: "MEMORY PARITY ERROR",
    0x0A: "GATEWAY PATH UNAVAILABLE",
    0x0B: "GATEWAY TARGET DEVICE FAILED TO RESPOND",
}

# Most specific first: the first class the error is an instance of decides.
FOREIGN_ERRORS: tuple[tuple[type[BaseException], type[DriverError]], ...] = (
    (ConnectionException, DeviceUnavailableError),
    (ModbusIOException, DeviceTimeoutError),
    (ParameterException, DeviceConfigError),
    (NoSuchIdException, DeviceConfigError),
    (NotImplementedException, DeviceConfigError),
    (MessageRegisterException, DeviceConfigError),
    (ModbusException, DriverError),
    (TimeoutError, DeviceTimeoutError),
    (serial.SerialException, DeviceUnavailableError),
    (OSError, DeviceUnavailableError),
)


def translate(error: BaseException, where: str) -> DriverError:
    """The drivers error for a pymodbus or OS exception, naming the PLC it came from."""
    return translate_foreign(error, where, FOREIGN_ERRORS)


def reported(code: int, where: str) -> DeviceReportedError:
    name = EXCEPTION_NAMES.get(code, "UNKNOWN EXCEPTION")
    return DeviceReportedError(f"{where}: Modbus exception {code:02X} {name}")


_READERS = {
    "coil": "read_coils",
    "discrete": "read_discrete_inputs",
    "input": "read_input_registers",
    "holding": "read_holding_registers",
}


class PlcClient:
    """A PLC seen as a set of tags: `scan()` reads them all with the fewest requests, `write()` sets one."""

    def __init__(
        self, connect: Callable[[], Any], where: str, tags: Sequence[Tag], device_id: int, limits: Limits
    ) -> None:
        self._make_client = connect  # pymodbus's async clients must be made inside the running loop
        self._client: Any = None
        self.where = where
        self.tags = {tag.name: tag for tag in tags}
        self.device_id = device_id
        self.plan: list[ReadRequest] = plan(tags, limits)
        self._decoder = ScanDecoder(self.plan)

    async def connect(self) -> None:
        if self._client is None:
            self._client = self._make_client()
        if self._client.connected:
            return
        try:
            connected = await self._client.connect()
        except Exception as error:
            raise translate(error, self.where) from error
        if not connected:
            raise DeviceUnavailableError(f"{self.where}: cannot connect")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    async def scan(self) -> dict[str, Decimal | str]:
        """Every tag's value, scale and offset applied; raises a DriverError naming the PLC."""
        await self.connect()
        answers = [await self._read(request) for request in self.plan]
        return self._decoder.values(answers)

    async def _read(self, request: ReadRequest) -> list[int] | list[bool]:
        reader = getattr(self._client, _READERS[request.table])
        response = await self._call(reader(request.address, count=request.count, device_id=self.device_id))
        return response.bits if request.table in ("coil", "discrete") else response.registers

    async def write(self, name: str, value: Decimal | int | float | str | bool) -> None:
        """Write one coil or holding-register tag (a reject coil, a result register)."""
        tag = self._writable(name)
        await self.connect()
        words = encode(tag, value)
        if tag.table == "coil":
            call = self._client.write_coil(tag.address, bool(words[0]), device_id=self.device_id)
        elif len(words) == 1:
            call = self._client.write_register(tag.address, words[0], device_id=self.device_id)
        else:
            call = self._client.write_registers(tag.address, words, device_id=self.device_id)
        await self._call(call)

    def _writable(self, name: str) -> Tag:
        tag = self.tags.get(name)
        if tag is None:
            raise DeviceConfigError(f"{self.where}: no tag named {name!r}")
        if tag.table not in ("coil", "holding"):
            raise DeviceConfigError(f"{self.where}: tag {name!r} is a {tag.table}, which cannot be written")
        return tag

    async def _call(self, pending: Awaitable[Any]) -> Any:
        try:
            response = await pending
        except Exception as error:
            ours = translate(error, self.where)
            if isinstance(ours, DeviceTimeoutError):
                self._client.close()  # a late answer must not be taken for the next request's
            raise ours from error
        if response.isError():
            raise reported(int(getattr(response, "exception_code", 0)), self.where)
        return response


def build_plc_client(
    url: str,
    tags: Sequence[Tag],
    *,
    device_id: int = 1,
    timeout_s: float = 1.0,
    limits: Limits = Limits(),
) -> PlcClient:
    """A PlcClient from a URL: `tcp://host[:502]`, or `rtu:<serial URL>?baudrate=19200&parity=N&stopbits=1`.

    The serial URL is anything pyserial opens: `rtu:/dev/ttyUSB0`, `rtu:socket://10.0.0.5:4001`.
    """
    # pymodbus logs every failed request at ERROR; the poller logs transitions instead (once down, once up).
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    if url.startswith("tcp://"):
        host, port = _tcp_address(url)
        make: Callable[[], Any] = partial(_tcp_client, host, port, timeout_s)
    elif url.startswith("rtu:"):
        make = partial(_rtu_client, *_serial_options(url.removeprefix("rtu:")), timeout_s)
    else:
        raise DeviceConfigError(f"PLC url {url!r} must start with tcp:// or rtu:")
    return PlcClient(make, url, tags, device_id, limits)


def _tcp_address(url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
    except ValueError:  # "Invalid IPv6 URL": a "[" in the host of the configuration
        raise DeviceConfigError(f"PLC url {url!r} is not a URL") from None
    if not parts.hostname:
        raise DeviceConfigError(f"PLC url {url!r} has no host")
    try:
        return parts.hostname, parts.port or 502
    except ValueError:
        raise DeviceConfigError(f"PLC url {url!r} has a bad port") from None


def _tcp_client(host: str, port: int, timeout_s: float) -> AsyncModbusTcpClient:
    # retries=0 and reconnect_delay=0: the poller owns retrying and reconnecting, with its own backoff.
    return AsyncModbusTcpClient(host, port=port, timeout=timeout_s, retries=0, reconnect_delay=0)


def _serial_options(spec: str) -> tuple[str, int, str, int]:
    port, _, query = spec.partition("?")
    options = {key: values[-1] for key, values in parse_qs(query).items()}
    try:
        baudrate, stopbits = int(options.get("baudrate", 19200)), int(options.get("stopbits", 1))
    except ValueError as error:
        raise DeviceConfigError(f"PLC serial settings {spec!r}: {error}") from None
    parity = options.get("parity", "N")
    if parity not in ("N", "E", "O") or stopbits not in (1, 2):
        raise DeviceConfigError(f"PLC serial settings {spec!r}: parity N|E|O, stopbits 1|2")
    return port, baudrate, parity, stopbits


def _rtu_client(port: str, baudrate: int, parity: str, stopbits: int, timeout_s: float) -> Any:
    return AsyncModbusSerialClient(
        port, framer=FramerType.RTU, baudrate=baudrate, parity=parity, stopbits=stopbits,
        timeout=timeout_s, retries=0, reconnect_delay=0,
    )  # fmt: skip


# --- the server side, for drivers/simulators/plc.py --------------------------------------------------------

TableName = Literal["coil", "discrete", "input", "holding"]
RequestHook = Callable[[TableName, int, "list[bool] | list[int] | None"], Awaitable[int | None]]
_TABLE_OF_FUNCTION: dict[int, TableName] = {1: "coil", 5: "coil", 15: "coil", 2: "discrete", 4: "input"}
_TABLE_OF_FUNCTION.update({code: "holding" for code in (3, 6, 16, 22, 23)})


@dataclass
class ServedMemory:
    """The four tables a simulated PLC serves, each `size` long, owned by the simulator (not by pymodbus)."""

    size: int

    def __post_init__(self) -> None:
        self.coil = [False] * self.size
        self.discrete = [False] * self.size
        self.input = [0] * self.size
        self.holding = [0] * self.size


class ModbusServer:
    """A pymodbus TCP server (Modbus TCP or RTU framing) over a ServedMemory, with hooks for faults.

    `hook(table, address, values)` runs before every request; returning an exception code makes the
    server answer with it. While `silent` is set, requests are swallowed: the PLC stops answering.
    """

    def __init__(self, memory: ServedMemory, hook: RequestHook | None = None, framer: str = "socket") -> None:
        self.memory = memory
        self.hook = hook
        self.silent = False
        self._framer = FramerType.RTU if framer == "rtu" else FramerType.SOCKET
        self._server: ModbusTcpServer | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Starts listening; returns the port (useful with port 0)."""
        self._server = ModbusTcpServer(
            self._device(), framer=self._framer, address=(host, port), trace_packet=self._trace
        )
        await self._server.serve_forever(background=True)
        return int(self._server.transport.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()

    def drop_connections(self) -> None:
        """Closes every client connection, as a PLC that reboots or a cable that is pulled."""
        if self._server is not None:
            for connection in list(self._server.active_connections.values()):
                connection.close()

    def _trace(self, sending: bool, data: bytes) -> bytes:
        return b"" if self.silent and not sending else data

    def _device(self) -> SimDevice:
        words = self.memory.size
        bits = -(-words // 16)  # a BITS entry holds 16 bits

        def block(count: int, kind: DataType) -> list[SimData]:
            return [SimData(0, count=count, datatype=kind)]

        blocks = (
            block(bits, DataType.BITS),
            block(bits, DataType.BITS),
            block(words, DataType.REGISTERS),
            block(words, DataType.REGISTERS),
        )
        return SimDevice(0, simdata=blocks, action=self._action)

    async def _action(
        self, code: int, start: int, address: int, count: int, live: list[int], values: Any
    ) -> ExcCodes | None:
        table = _TABLE_OF_FUNCTION[code]
        if self.hook is not None and (refusal := await self.hook(table, address, values)):
            return ExcCodes(refusal)
        if values:
            self._store(table, address, values)
        self._publish(table, address, count, live, start)
        return None

    def _store(self, table: TableName, address: int, values: list[int] | list[bool]) -> None:
        target: list[Any] = getattr(self.memory, table)
        target[address : address + len(values)] = list(values)

    def _publish(self, table: TableName, address: int, count: int, live: list[int], start: int) -> None:
        """Copies the simulator's values into pymodbus's block just before pymodbus answers from it."""
        source: list[Any] = getattr(self.memory, table)
        if table in ("input", "holding"):
            live[address - start : address - start + count] = source[address : address + count]
            return
        first = address // 16 - start  # bit blocks: `count` is in 16-bit words, addresses in bits
        for word in range(first, first + count):
            chunk = source[word * 16 : word * 16 + 16]
            live[word] = sum(1 << bit for bit, on in enumerate(chunk) if on)
