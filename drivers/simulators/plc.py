"""A PLC simulator: a real pymodbus server on loopback with a scripted part cycle and fault injection.

Owns: a register map that looks like a small inspection cell (a part-present bit, measured values as
float32 holding registers, a result register, a reject coil the PLC watches), the part cycle that drives
it, and the faults a real PLC shows (exception replies, silence, dropped connections).

It reaches pymodbus only through drivers/modbus_plc.py, runs its event loop in its own thread, and must not
import anything of this repository outside drivers/.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from drivers.modbus_plc import ModbusServer, ServedMemory, TableName
from drivers.registers import Tag, encode

T = TypeVar("T")

DEFAULT_TAGS: tuple[Tag, ...] = (
    Tag("part_present", "discrete", 0, "bool"),
    Tag("reject", "coil", 0, "bool"),
    Tag("result", "holding", 10, "uint16"),
    Tag("diameter", "holding", 100, "float32", unit="mm"),
    Tag("length", "holding", 102, "float32", unit="mm"),
    Tag("height", "holding", 104, "float32", unit="mm"),
)


class PlcSimulator:
    """A simulated PLC serving `tags` on 127.0.0.1:`port`. Start with `run_plc_simulator()`."""

    def __init__(self, tags: Sequence[Tag], size: int, framer: str) -> None:
        self.tags = {tag.name: tag for tag in tags}
        self.memory = ServedMemory(size)
        self.server = ModbusServer(self.memory, hook=self._hook, framer=framer)
        self.exception_code: int | None = None  # answer every request with this Modbus exception
        self.rejected: list[bool] = []  # the reject coil as it stood when each part left
        self.requests = 0
        self.host, self.port = "127.0.0.1", 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="plc-simulator", daemon=True)

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def start(self, host: str, port: int) -> PlcSimulator:
        self._thread.start()
        self.host = host
        self.port = self._run(self.server.start(host, port))
        return self

    def stop(self) -> None:
        self._run(self.server.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def set(self, name: str, value: Decimal | int | float | str | bool) -> None:
        """Sets a tag as the PLC program would."""
        tag = self.tags[name]
        words = encode(tag, value)
        table = getattr(self.memory, tag.table)
        if tag.table in ("coil", "discrete"):
            table[tag.address] = bool(words[0])
        else:
            table[tag.address : tag.address + len(words)] = words

    def get(self, name: str) -> int | bool:
        tag = self.tags[name]
        value: int | bool = getattr(self.memory, tag.table)[tag.address]
        return value

    def present_part(self, values: Mapping[str, Decimal | float | str]) -> None:
        """A part arrives: its measured values are written first, then the part-present bit rises."""
        for name, value in values.items():
            self.set(name, value)
        self.set("part_present", True)

    def remove_part(self) -> None:
        """The part leaves: the reject coil's state is recorded for it, then the coil and the bit reset."""
        self.rejected.append(bool(self.get("reject")))
        self.set("reject", False)
        self.set("part_present", False)

    @property
    def silent(self) -> bool:
        return self.server.silent

    @silent.setter
    def silent(self, value: bool) -> None:
        """While set, the PLC receives requests and never answers."""
        self.server.silent = value

    def power_off(self) -> None:
        """The PLC is switched off: its connections end and its port refuses new ones; memory is kept."""
        self._run(self.server.stop())

    def power_on(self) -> None:
        """The PLC serves again on the same port, as after a reboot."""
        self._run(self.server.start(self.host, self.port))

    def disconnect(self) -> None:
        """Drops every client connection (a PLC reboot, a pulled cable); clients may connect again."""
        self._loop.call_soon_threadsafe(self.server.drop_connections)

    async def _hook(self, table: TableName, address: int, values: object) -> int | None:
        self.requests += 1
        return self.exception_code

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)


def run_plc_simulator(
    tags: Sequence[Tag] = DEFAULT_TAGS,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    size: int = 1000,
    framer: str = "socket",
) -> PlcSimulator:
    """Starts a simulated PLC in a thread (port 0 picks a free one); `.url`, `.stop()` when done.

    `framer="rtu"` serves Modbus RTU frames over the TCP socket, for clients on `rtu:socket://...`.
    """
    return PlcSimulator(tags, size, framer).start(host, port)
