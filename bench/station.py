"""Station fragment under concurrent stations: Lineside's GET /station (htmx fragment: session, store reads,
block render) against a bare FastAPI endpoint rendering a comparable template from a fixed context.

    python bench/station.py [--requests 3000] [--concurrency 50] [--cpu 0]

Both servers run in turn, in this run, as uvicorn subprocesses pinned with the client to one CPU (DESIGN.md:
loopback figures only mean something pinned together). Prints raw, Lineside and their ratio, with p50/p99.
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


def measure(kind: str, folder: Path, token: str, args: argparse.Namespace) -> tuple[float, float, float]:
    process, port = start(kind, folder, args.cpu)
    try:
        if kind == "lineside":
            url = f"http://127.0.0.1:{port}/station?lot={LOT}"
            headers = {"HX-Request": "true", "Cookie": f"lineside_session={token}; lineside_station=op-10"}
        else:
            url, headers = f"http://127.0.0.1:{port}/raw", {}
        rate, latencies = asyncio.run(load(url, headers, args.requests, args.concurrency))
    finally:
        process.terminate()
        process.wait()
    return rate, latencies[len(latencies) // 2] * 1000, latencies[int(len(latencies) * 0.99)] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--cpu", type=int, default=0, help="the one CPU the client and the server share")
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
        raw = measure("raw", folder, token, args)
        ours = measure("lineside", folder, token, args)
    print(f"station fragment, {args.concurrency} concurrent stations, {args.requests} requests, CPU {args.cpu}")
    print(f"raw      (bare FastAPI + Jinja2): {raw[0]:8.0f} req/s  p50 {raw[1]:6.1f} ms  p99 {raw[2]:6.1f} ms")
    print(f"lineside (GET /station fragment): {ours[0]:8.0f} req/s  p50 {ours[1]:6.1f} ms  p99 {ours[2]:6.1f} ms")
    print(f"ratio lineside/raw: {ours[0] / raw[0]:.2f} (target >= 0.5, p99 <= 100 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
