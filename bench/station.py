"""Station fragment under concurrent stations: Lineside's GET /station (htmx fragment: session, store reads,
block render) against a bare FastAPI endpoint rendering a comparable template from a fixed context.

    python bench/station.py [--requests 3000] [--concurrency 50] [--cpu 0] [--rounds 3]

Both servers run as uvicorn subprocesses pinned with the client to one CPU (DESIGN.md: loopback figures only
mean something pinned together), in alternating rounds so that drift of a shared host hits both alike; the
best round of each is kept. Prints requests/s, p50/p99, the server's CPU microseconds per request (steady
under load from other processes), and the ratios.
"""


import argparse
import asyncio
import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CONFIG = ROOT / "examples" / "line.toml"
LOT = "BENCH-1"


def prepare(folder: Path) -> str:
    """A store with an operator, the plans approved, a lot part-measured; returns a session token."""
    from edge import auth, lots, measurements, plans, sessions
    from edge.config import load
    from edge.core import open_core

    config = load(CONFIG)
    core = open_core(config, folder / "edge.db", migrate=True)
    auth.add_user(core.store, "sue", "supervisor", "bench supervisor secret")
    auth.add_user(core.store, "olly", "operator", "4711", badge="B-100")
    sue = auth.authenticate(core.store, "sue", "bench supervisor secret")
    for product in config.products:
        plans.approve(core.store, config, sue, "bench supervisor secret", product.id, product.plans[-1].revision)
    olly = auth.authenticate_badge(core.store, "B-100", "4711", station="op-10")
    lots.open_lot(core, olly, product="BRK-100", lot=LOT, quantity=500)
    for value in ("12.001", "11.999", "12.004"):
        measurements.record_measurement(core, olly, LOT, measurements.MeasurementInput("bore-dia", value))
    token, _ = sessions.start(core.store, olly, dt.datetime.now(dt.UTC))
    core.close()
    return token


def lineside_app(folder: Path):  # type: ignore[no-untyped-def]
    from edge.config import load
    from edge.core import open_core
    from ui.app import create_app

    return create_app(open_core(load(CONFIG), folder / "edge.db"))


def raw_app(folder: Path):  # type: ignore[no-untyped-def]
    """The raw limit: FastAPI + Jinja2 rendering the same lot partial from a context computed once."""
    from fastapi import FastAPI, Request
    from fastapi.templating import Jinja2Templates

    from edge import worklist
    from edge.config import load
    from edge.core import open_core

    core = open_core(load(CONFIG), folder / "edge.db")
    context = {"work": worklist.lot_work(core, LOT), "view": "station", "csrf": "x" * 43, "entered": {},
               "products": core.config.products}
    core.close()
    templates = Jinja2Templates(directory=str(ROOT / "ui" / "templates"))
    templates.env.globals["new_entry"] = lambda: uuid.uuid4().hex  # the entry form's one-time key, as ui/web.py
    app = FastAPI()

    @app.get("/raw")
    def raw(request: Request):  # type: ignore[no-untyped-def]
        return templates.TemplateResponse(request, "_lot.html", context)

    return app


def serve(kind: str, folder: Path, port: int) -> None:
    import uvicorn

    app = lineside_app(folder) if kind == "lineside" else raw_app(folder)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(kind: str, folder: Path, cpu: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    command = [sys.executable, __file__, "--serve", kind, "--folder", str(folder), "--port", str(port)]
    process = subprocess.Popen(command, preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))  # noqa: PLW1509
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{kind} server did not start")


async def load(url: str, headers: dict[str, str], requests: int, concurrency: int) -> tuple[float, list[float]]:
    import httpx

    latencies: list[float] = []
    remaining = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as client:
        for _ in range(concurrency):  # warm up every connection
            (await client.get(url)).raise_for_status()

        async def station() -> None:
            for _ in remaining:
                began = time.perf_counter()
                response = await client.get(url)
                latencies.append(time.perf_counter() - began)
                if response.status_code != 200:
                    raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")

        began = time.perf_counter()
        await asyncio.gather(*(station() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return requests / elapsed, sorted(latencies)


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def measure(kind: str, folder: Path, token: str, args: argparse.Namespace) -> tuple[float, float, float, float]:
    process, port = start(kind, folder, args.cpu)
    try:
        if kind == "lineside":
            url = f"http://127.0.0.1:{port}/station?lot={LOT}"
            headers = {"HX-Request": "true", "Cookie": f"lineside_session={token}; lineside_station=op-10"}
        else:
            url, headers = f"http://127.0.0.1:{port}/raw", {}
        asyncio.run(load(url, headers, args.concurrency, args.concurrency))  # warm-up: imports, caches
        before = cpu_s(process.pid)
        rate, latencies = asyncio.run(load(url, headers, args.requests, args.concurrency))
        cpu_us = (cpu_s(process.pid) - before) / args.requests * 1e6
    finally:
        process.terminate()
        process.wait()
    return rate, latencies[len(latencies) // 2] * 1000, latencies[int(len(latencies) * 0.99)] * 1000, cpu_us


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--cpu", type=int, default=0, help="the one CPU the client and the server share")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best of each is kept")
    parser.add_argument("--serve", choices=("raw", "lineside"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, Path(args.folder), args.port)
        return 0
    os.sched_setaffinity(0, {args.cpu})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        token = prepare(folder)
        rounds = [(measure("raw", folder, token, args), measure("lineside", folder, token, args))
                  for _ in range(args.rounds)]
    raw = max((r for r, _ in rounds), key=lambda m: m[0])
    ours = max((o for _, o in rounds), key=lambda m: m[0])
    print(f"station fragment: {args.concurrency} concurrent stations, {args.requests} requests a round, "
          f"best of {args.rounds} alternating rounds, client and server on CPU {args.cpu}")
    for name, m in (("raw      (bare FastAPI + Jinja2)", raw), ("lineside (GET /station fragment)", ours)):
        print(f"{name}: {m[0]:7.0f} req/s  p50 {m[1]:6.1f} ms  p99 {m[2]:6.1f} ms  server CPU {m[3]:6.0f} us/req")
    print(f"ratio lineside/raw: {ours[0] / raw[0]:.2f} by rate, {raw[3] / ours[3]:.2f} by server CPU "
          "(target >= 0.5; p99 <= 100 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
