"""The HQ receiver's HTTP face: signed batches in, acknowledgements out, and a page of what is open.

Owns the mapping of the wire format and the store's errors to HTTP answers, each a JSON body
{"error": code, "detail": text} (docs/sync.md lists them). Built by `create_app(store)`; no globals, no store
opened at import. Must not speak SQL (sync.receiver.store does).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import psycopg_pool
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from sync import wire
from sync.receiver.store import HqStore, ReplayError, UnknownStationError

TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                        autoescape=select_autoescape())


class Refused(Exception):
    """An answer other than 200: HTTP status, error code, detail."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def create_app(store: HqStore, *, clock: Callable[[], float] = time.time) -> FastAPI:
    app = FastAPI(title="Lineside HQ receiver", version="1")
    receiver = Receiver(store, clock)

    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused) -> JSONResponse:
        return JSONResponse({"error": exc.code, "detail": exc.detail}, status_code=exc.status)

    @app.post(wire.BATCHES_PATH)
    async def post_batch(request: Request) -> JSONResponse:
        body = await request.body()
        ack, replayed = await run_in_threadpool(receiver.batch, wire.BATCHES_PATH, request.headers, body)
        return JSONResponse(ack, headers={wire.H_REPLAYED: "true"} if replayed else None)

    @app.get(wire.STATION_PATH)
    async def get_station(station: str, request: Request) -> dict[str, Any]:
        path = wire.STATION_PATH.format(station=station)
        return await run_in_threadpool(receiver.station, station, path, request.headers)

    @app.get("/", response_class=HTMLResponse)
    async def open_items() -> str:
        items = await run_in_threadpool(store.open_items)
        return TEMPLATES.get_template("open.html").render(
            items=items, stations={i["station"] for i in items}, plants={i["plant"] for i in items})

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


class Receiver:
    """The checks of one request, in order: signature headers, station, signature and clock, nonce, body.

    The signed path is the route's own (`/v1/batches`), not the URL as received: a proxy may mount the
    receiver under any prefix without breaking signatures."""

    def __init__(self, store: HqStore, clock: Callable[[], float]):
        self.store, self.clock = store, clock

    def batch(self, path: str, headers: Any, body: bytes) -> tuple[dict[str, Any], bool]:
        if len(body) > wire.MAX_BODY_BYTES:
            raise Refused(413, "too_large", f"body over {wire.MAX_BODY_BYTES} bytes")
        signed = self.authenticate("POST", path, headers, body)
        try:
            envelope = wire.decode_batch(body, headers.get("content-encoding"))
        except wire.WireError as exc:
            raise Refused(400, "bad_envelope", str(exc)) from None
        key = _batch_key(signed.station, envelope, headers.get(wire.H_IDEMPOTENCY))
        return _guarded(lambda: self.store.receive(signed.station, key, body, envelope["records"]))

    def station(self, station: str, path: str, headers: Any) -> dict[str, Any]:
        signed = self.authenticate("GET", path, headers, b"")
        if signed.station != station:
            raise Refused(403, "wrong_station", f"station {signed.station!r} may not read {station!r}")
        return _guarded(lambda: self.store.station(station))

    def authenticate(self, method: str, path: str, headers: Any, body: bytes) -> wire.SignedRequest:
        try:
            station = wire.signed_headers(headers).station
            secret = _guarded(lambda: self.store.secret(station))
            signed = wire.verify(secret, method, path, headers, body, now_s=self.clock())
            _guarded(lambda: self.store.use_nonce(signed.station, signed.nonce))
        except wire.SignatureError as exc:
            raise Refused(401, exc.code, str(exc)) from None
        return signed


def _batch_key(station: str, envelope: dict[str, Any], header: str | None) -> str:
    if envelope["station"] != station:
        raise Refused(400, "bad_envelope", f"envelope station {envelope['station']!r} is not the signer {station!r}")
    if header is not None and header != envelope["batch"]:
        raise Refused(400, "bad_envelope", f"{wire.H_IDEMPOTENCY} differs from the envelope's batch")
    first, last = envelope["records"][0], envelope["records"][-1]
    try:
        expected = wire.batch_key(station, first["key"], last["key"], len(envelope["records"]))
    except (TypeError, KeyError):
        raise Refused(400, "bad_envelope", "the first and last records need a key") from None
    if expected != envelope["batch"]:
        raise Refused(400, "bad_envelope", "batch key is not the one its station, first and last keys give")
    return expected


def _guarded(call: Callable[[], Any]) -> Any:
    """Translate the store's errors into answers; the database being down is a 503 the edge retries."""
    try:
        return call()
    except UnknownStationError as exc:
        raise Refused(401, "unknown_station", str(exc)) from None
    except ReplayError as exc:
        raise Refused(401, "replayed_nonce", str(exc)) from None
    except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
        raise Refused(503, "store_unavailable", f"HQ's database is unavailable: {exc}") from None
