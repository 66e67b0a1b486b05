"""Serial gauge transaction: plain pyserial write + read_until against Lineside's SerialGauge.poll().

Both run over the same pty, against the same simulated gauge, in the same run, pinned to one core (client,
simulator thread and all), and the best of several alternating rounds is kept, because only ratios taken
in the same run mean anything on a shared machine (DESIGN.md, Performance).

    .venv/bin/python bench/serial_gauge.py [--protocol sylvac] [--ops 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import serial  # noqa: E402

from drivers.serial_gauge import build_gauge  # noqa: E402
from drivers.simulators.gauge import REQUESTS, run_gauge_simulator  # noqa: E402


def pin_to_one_core() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})  # before any thread starts, so the simulator inherits it
    return f"pinned to core {core}"


def measure(transaction: Callable[[], object], ops: int) -> tuple[float, float]:
    """(transactions per second, CPU microseconds per transaction) over `ops` transactions."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(ops):
        transaction()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return ops / wall, cpu / ops * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", default="sylvac", choices=sorted(REQUESTS))
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pinning = pin_to_one_core()
    sim = run_gauge_simulator(args.protocol, ["12.345", "-0.500"])
    gauge = build_gauge(sim.path, args.protocol, timeout_s=1.0)
    raw = serial.serial_for_url(sim.path, timeout=1.0)
    request, terminator = gauge.codec.request, gauge.codec.terminator

    def plain() -> bytes:
        raw.write(request)
        return raw.read_until(terminator)

    try:
        plain(), gauge.poll()  # warm up both paths
        rounds = [(measure(plain, args.ops), measure(gauge.poll, args.ops)) for _ in range(args.rounds)]
    finally:
        raw.close()
        gauge.close()
        sim.stop()
    (raw_rate, raw_cpu), (ours_rate, ours_cpu) = max(r[0] for r in rounds), max(r[1] for r in rounds)
    runs = f"{args.ops} x {args.rounds} rounds"
    print(f"serial gauge transaction, {args.protocol} over a pty, {runs}, {pinning}")
    print(f"  raw      pyserial write + read_until : {raw_rate:9.0f} /s  {raw_cpu:7.1f} us CPU each")
    print(f"  lineside SerialGauge.poll() + decode : {ours_rate:9.0f} /s  {ours_cpu:7.1f} us CPU each")
    print(f"  ratio    lineside / raw              : {ours_rate / raw_rate:9.2f}  (target >= 0.8)")


if __name__ == "__main__":
    main()
