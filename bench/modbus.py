"""Modbus scan of 200 tags over 1,000 registers: plain pymodbus reads against Lineside's PlcClient.scan().

The raw figure is the building block alone: the same async pymodbus client reading the same 1,000 holding
registers in 125-register requests, with no decoding. Lineside's figure is a full scan: the coalesced plan
of the 200 float32 tags (every 5 registers), executed and decoded to Decimals. Both run against the same
pymodbus server (the PLC simulator) in the same process, pinned to one core, alternating rounds, best kept.

Two cases, because a read whose registers did not change reuses its decoded values: "still" (the PLC's
registers hold still, as most do between part cycles) and "changing" (every register changes every scan:
the simulator flips between two register images before each scan, in the raw loop as well).

    .venv/bin/python bench/modbus.py [--scans 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import time
from collections.abc import Awaitable, Callable

from pymodbus.client import AsyncModbusTcpClient  # noqa: E402

from drivers.modbus_plc import build_plc_client  # noqa: E402
from drivers.registers import MAX_READ_REGISTERS, Tag  # noqa: E402
from drivers.simulators.plc import PlcSimulator, run_plc_simulator  # noqa: E402

TAGS = [Tag(f"t{i:03d}", "holding", i * 5, "float32", unit="mm") for i in range(200)]
SPAN = 1000


def pin_to_one_core() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})  # before the simulator's thread starts, so it inherits it
    return f"pinned to core {core}"


async def measure(scan: Callable[[], Awaitable[object]], scans: int) -> tuple[float, float]:
    """(scans per second, CPU microseconds per scan), client and server together."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(scans):
        await scan()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return scans / wall, cpu / scans * 1e6


async def bench(sim: PlcSimulator, scans: int, rounds: int) -> tuple[dict[str, list], int]:
    raw = AsyncModbusTcpClient("127.0.0.1", port=sim.port, timeout=2, retries=0, reconnect_delay=0)
    await raw.connect()
    ours = build_plc_client(sim.url, TAGS, timeout_s=2)
    images = [_image(sim, 0.125), _image(sim, 0.250)]
    flips = iter(range(10**9))

    def flip() -> None:
        sim.memory.holding[:SPAN] = images[next(flips) % 2]

    async def plain() -> None:
        for start in range(0, SPAN, MAX_READ_REGISTERS):
            await raw.read_holding_registers(start, count=min(MAX_READ_REGISTERS, SPAN - start))

    async def plain_changing() -> None:
        flip()
        await plain()

    async def ours_changing() -> object:
        flip()
        return await ours.scan()

    await plain(), await ours.scan()  # warm up, and connect both
    cases = {"raw still": plain, "lineside still": ours.scan, "raw changing": plain_changing}
    cases["lineside changing"] = ours_changing
    results: dict[str, list] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, scan in cases.items():
            results[name].append(await measure(scan, scans))
    raw.close()
    ours.close()
    return results, len(ours.plan)


def _image(sim: PlcSimulator, step: float) -> list[int]:
    for tag in TAGS:
        sim.set(tag.name, f"{int(tag.name[1:]) * step:.3f}")
    return sim.memory.holding[:SPAN]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pinning = pin_to_one_core()
    sim = run_plc_simulator(TAGS, size=SPAN + 8)
    try:
        results, requests = asyncio.run(bench(sim, args.scans, args.rounds))
    finally:
        sim.stop()
    fewest = math.ceil(SPAN / MAX_READ_REGISTERS)
    best = {name: max(rounds) for name, rounds in results.items()}
    runs = f"{args.scans} x {args.rounds} rounds"
    print(f"Modbus scan, {len(TAGS)} float32 tags over {SPAN} registers, {runs}, {pinning}")
    print(f"  requests per scan: lineside {requests}; fewest the 125-register limit allows: {fewest}")
    for name, (rate, cpu) in best.items():
        print(f"  {name:18} {rate:8.1f} scans/s {rate * fewest:8.0f} requests/s {cpu:8.0f} us CPU/scan")
    for case in ("still", "changing"):
        ratio = best[f"lineside {case}"][0] / best[f"raw {case}"][0]
        print(f"  ratio lineside / raw, registers {case:8}: {ratio:.2f}  (target >= 0.8)")


if __name__ == "__main__":
    main()
