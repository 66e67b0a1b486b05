"""The web application factory: `create_app(core)` mounts the JSON API, the station UI and its vendored
assets, and maps the services' errors to HTTP.

Every service error becomes one status with a body naming the thing at fault; nothing else leaks. The API
answers JSON; the UI answers a page or, for htmx, the fragment with the message.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from edge import errors
from edge.core import Core
from edge.events import EventHub
from edge.throttle import Throttle
from ui import admin, api, capability, inspector, live, metrics, quality_api, signin, station, supervisor, tags, vision
from ui.guard import SignInRequired, refused, sign_in_redirect
from ui.web import HERE, UiSettings

STATUS = {
    errors.NotFoundError: (404, "not_found"),
    errors.InvalidInputError: (422, "invalid_input"),
    errors.ConflictError: (409, "conflict"),
    errors.CalibrationError: (409, "calibration"),
    errors.AuthenticationError: (401, "authentication"),
    errors.AuthorityError: (403, "authority"),
    errors.StorageFullError: (507, errors.StorageFullError.code),  # the disk under the store is full
    errors.StorageError: (507, errors.StorageError.code),  # ... or failed a write: nothing recorded, retry later
}


class ApiError(BaseModel):
    """Every error of the API (docs/api.md): a detail naming the thing at fault, or FastAPI's validation list."""

    detail: str | list[dict[str, Any]]
    error: str | None = None


# Declared in the OpenAPI document, which otherwise claims every 422 is FastAPI's list and knows no other error
# (400 is a body that is not JSON at all; 507 is the store's disk, full or failing).
ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": ApiError}
                                           for status in (400, 401, 403, 404, 409, 422, 507)}


def _handler(status: int, code: str) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handle(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith("/api/"):
            return refused(request, exc, status)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"detail": str(exc), "error": code}, status_code=status, headers=headers)

    return handle


async def _invalid_request(_: Request, exc: Exception) -> Response:
    """FastAPI's own 422, with each input it echoes written so that JSON can hold it: Python's JSON reader takes
    NaN, Infinity and lone surrogates ("\\ud800"), and FastAPI's handler, writing them back, failed with a 500."""
    assert isinstance(exc, RequestValidationError)
    detail = jsonable_encoder(exc.errors(), custom_encoder={float: _json_float, str: _json_text})
    return JSONResponse({"detail": detail}, status_code=422)


def _json_float(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


def _json_text(value: str) -> str:
    return value.encode("utf-8", "backslashreplace").decode()  # a lone surrogate ("\ud800") cannot be UTF-8


def create_app(core: Core, devices: Callable[[], list[dict[str, Any]]] | None = None,
               settings: UiSettings | None = None, hub: EventHub | None = None,
               extra_metrics: Callable[[], str] | None = None) -> FastAPI:
    """The edge's web app. `devices` reports the device runtime's health when one runs; `hub` is where the
    runtime publishes live events (one is made when none is given); `extra_metrics` adds Prometheus text that
    other adapters own (the sync's), wired by the composition root."""
    app = FastAPI(title="Lineside edge", version="0.1.0",
                  description="Shop-floor inspection and traceability: the edge's JSON API.")
    settings = settings or UiSettings()
    app.state.core = core
    app.state.devices = devices or list
    app.state.metrics = metrics.registry_for(core, app.state.devices)
    app.state.extra_metrics = extra_metrics
    app.state.ui_settings = settings
    app.state.hub = hub or EventHub()
    # Every screen hears at once when the store stops or starts recording again (the storage banner).
    core.store.storage.watch(lambda state: app.state.hub.publish("storage", state=state["state"]))
    app.state.throttle = Throttle(settings.throttle_limits, lockout_s=settings.throttle_lockout_s)
    app.include_router(metrics.router)
    for router in (api.router, vision.router, quality_api.router):
        app.include_router(router, responses=ERRORS)
    for router in (signin.router, station.router, inspector.router, supervisor.router, tags.router, admin.router,
                   capability.router, live.router):
        app.include_router(router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for kind, (status, code) in STATUS.items():
        app.add_exception_handler(kind, _handler(status, code))
    app.add_exception_handler(SignInRequired, sign_in_redirect)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)
    return app
