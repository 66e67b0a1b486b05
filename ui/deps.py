"""Request dependencies: the core from the app's state, and the acting user from the bearer token.

Never builds anything at import time; `create_app(core)` puts the core on the app.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from edge import auth
from edge.core import Core
from edge.errors import AuthenticationError, AuthorityError, InvalidInputError

_bearer = HTTPBearer(auto_error=False, description="a token from `lineside token create`")


async def get_core(request: Request) -> Core:
    # async: FastAPI runs a plain function dependency in the thread pool, a hop for reading an attribute
    return request.app.state.core  # type: ignore[no-any-return]


CoreDep = Annotated[Core, Depends(get_core)]


async def get_actor(request: Request, core: CoreDep,
                    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
                    station_header: Annotated[str | None, Header(alias="X-Lineside-Station")] = None) -> auth.Actor:
    # async on purpose, as ui.guard.current_session: one indexed read on the event loop costs less than a hop to
    # the thread pool, which under load (tests/reliability/test_load.py) waits behind every other request's hop.
    if credentials is None:
        raise AuthenticationError("a bearer token is required (Authorization: Bearer ...)")
    if station_header is not None and station_header not in {s.id for s in core.config.stations}:
        raise InvalidInputError(f"unknown station {station_header[:64]!r} in X-Lineside-Station")
    actor = auth.actor_for_token(core.store, credentials.credentials, station_header)
    if actor.role == "auditor" and request.method not in ("GET", "HEAD"):
        # the screens never let an auditor write (ui/station.py MEASURERS); the API must not either
        raise AuthorityError(f"{actor.name} (auditor) may not change records: auditors read")
    return actor


ActorDep = Annotated[auth.Actor, Depends(get_actor)]
