"""`lineside simulate gauge` and `lineside simulate plc` as an integrator runs them: real processes."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

import serial

from drivers.modbus_plc import build_plc_client
from drivers.registers import Tag


def start(*args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-m", "edge.cli", "simulate", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, process.stdout.readline()


def test_simulated_gauge_answers_on_its_pty():
    process, banner = start("gauge", "--protocol", "sylvac", "--values", "12.345")
    try:
        path = banner.split(" on ")[1].split(" ")[0]
        with serial.Serial(path, timeout=5) as port:
            port.write(b"?\r")
            assert port.read_until(b"\r").strip().endswith(b"12.345")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_simulated_plc_serves_its_tags():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process, banner = start("plc", "--port", str(port), "--cycle-s", "0.2")
    try:
        assert f"tcp://127.0.0.1:{port}" in banner
        client = build_plc_client(f"tcp://127.0.0.1:{port}", [Tag("height", "holding", 104, "float32")])

        async def scan():
            try:
                for _ in range(50):
                    values = await client.scan()
                    if values["height"] == 5:
                        break
                    await asyncio.sleep(0.1)
                return values
            finally:
                client.close()

        assert asyncio.run(scan())["height"] == 5
    finally:
        process.terminate()
        process.wait(timeout=10)
