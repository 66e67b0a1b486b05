"""The station UI's rendering: settings, the Jinja2 environment (autoescaped), and "one URL, two renderings":
a full page for navigation, the named block alone for an htmx request. Must not decide anything.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from jinja2_fragments.fastapi import Jinja2Blocks

from edge import errors
from edge.config import Ui
from edge.core import Core
from edge.events import EventHub

HERE = Path(__file__).resolve().parent
templates = Jinja2Blocks(directory=str(HERE / "templates"))  # autoescape is on for .html (select_autoescape)
# A one-time key per rendered entry form, so a resubmitted form records its value once (edge.measurements `key`).
templates.env.globals["new_entry"] = lambda: uuid.uuid4().hex

STATUS = {
    errors.NotFoundError: 404,
    errors.InvalidInputError: 422,
    errors.ConflictError: 409,
    errors.CalibrationError: 409,
    errors.AuthenticationError: 401,
    errors.AuthorityError: 403,
    errors.StorageError: 507,
}


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class UiSettings:
    """How the station UI behaves; the composition root builds it (defaults suit a kiosk on a line)."""

    idle_timeout_s: float = 900
    secure_cookies: bool = False  # True behind HTTPS; a kiosk on http://localhost cannot send Secure cookies
    # Keyboard-wedge scanners cannot type the GS1 group separator (ASCII 29); many send a substitute.
    separator_substitute: str | None = None
    throttle_limits: dict[str, int] = field(default_factory=lambda: {"badge": 5, "user": 5, "address": 20})
    throttle_lockout_s: float = 300
    # The label printer for hold tags, "host:port" (ZPL over raw TCP, port 9100 by default); None: no printer.
    label_printer: str | None = None
    clock: Callable[[], dt.datetime] = _utc_now

    @classmethod
    def from_config(cls, ui: Ui) -> UiSettings:
        """The settings a line configuration's [ui] section gives."""
        return cls(idle_timeout_s=ui.idle_timeout_s, secure_cookies=ui.secure_cookies,
                   separator_substitute=ui.separator_substitute, label_printer=ui.label_printer)


def core_of(request: Request) -> Core:
    core: Core = request.app.state.core
    return core


def settings_of(request: Request) -> UiSettings:
    settings: UiSettings = request.app.state.ui_settings
    return settings


def hub_of(request: Request) -> EventHub:
    hub: EventHub = request.app.state.hub
    return hub


def is_fragment(request: Request) -> bool:
    """An htmx request wants the block; a boosted link or a history restore wants the page."""
    return (request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"
            and request.headers.get("HX-History-Restore-Request") != "true")


def render(request: Request, template: str, context: dict[str, Any], block: str | None = None,
           status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """The page, or with HX-Request only its `block`: the same URL serves both."""
    session = getattr(request.state, "session", None)
    storage = core_of(request).store.storage.snapshot()
    full = {"session": session, "csrf": session.csrf if session else None, "error": None, "storage": storage,
            **context}
    chosen = block if block and is_fragment(request) else None
    response = templates.TemplateResponse(request, template, full, block_name=chosen, status_code=status_code,
                                          headers=headers)
    if chosen:  # a fragment carries the storage banner too (out of band): no screen misses that recording stopped
        response.body = bytes(response.body) + storage_banner(storage, oob=True).encode()
        response.headers["content-length"] = str(len(response.body))
    response.headers["Vary"] = "HX-Request"
    response.headers["Cache-Control"] = "no-store"
    return response


def storage_banner(storage: dict[str, Any], oob: bool = False) -> str:
    """The banner saying whether the store records (empty and hidden while it does)."""
    return templates.env.get_template("_storage.html").render(storage=storage, oob=oob)


def status_for(exc: Exception) -> int:
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 500
