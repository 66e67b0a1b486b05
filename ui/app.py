"""The web application factory: `create_app(core)` mounts the API and maps the services' errors to HTTP.

Every service error becomes one status with a body naming the thing at fault; nothing else leaks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from edge import errors
from edge.core import Core
from ui import api, metrics, quality_api, vision

STATUS = {
    errors.NotFoundError: (404, "not_found"),
    errors.InvalidInputError: (422, "invalid_input"),
    errors.ConflictError: (409, "conflict"),
    errors.CalibrationError: (409, "calibration"),
    errors.AuthenticationError: (401, "authentication"),
    errors.AuthorityError: (403, "authority"),
}


def _handler(status: int, code: str):  # type: ignore[no-untyped-def]
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"detail": str(exc), "error": code}, status_code=status, headers=headers)

    return handle


def create_app(core: Core, devices: Callable[[], list[dict[str, Any]]] | None = None) -> FastAPI:
    """The web app over `core`; `devices` reports the device runtime's health, when one runs."""
    app = FastAPI(title="Lineside edge", version="0.1.0",
                  description="Shop-floor inspection and traceability: the edge's JSON API.")
    app.state.core = core
    app.state.devices = devices or list
    app.state.metrics = metrics.registry_for(core, app.state.devices)
    app.include_router(metrics.router)
    app.include_router(api.router)
    app.include_router(vision.router)
    app.include_router(quality_api.router)
    for kind, (status, code) in STATUS.items():
        app.add_exception_handler(kind, _handler(status, code))
    return app
