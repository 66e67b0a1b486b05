"""Who may do what in the station UI: the session from its cookie, the role a screen needs, and the CSRF
token every state-changing request must carry (htmx sends it as X-CSRF-Token, plain forms as a field).

    SignInRequired    no live session: pages redirect to sign-in, htmx requests get HX-Redirect
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import URL

from edge import sessions
from edge.errors import AuthorityError, StorageError
from edge.sessions import SessionEndedError
from ui.web import core_of, render, settings_of

SESSION_COOKIE = "lineside_session"
STATION_COOKIE = "lineside_station"
CSRF_HEADER = "X-CSRF-Token"
HOME = {"operator": "/station", "inspector": "/inspect", "supervisor": "/holds", "admin": "/holds",
        "auditor": "/holds"}


class SignInRequired(Exception):
    def __init__(self, reason: str, target: str):
        super().__init__(reason)
        self.reason, self.target = reason, target


class CsrfError(AuthorityError):
    """The request changes state but lacks the session's CSRF token."""


def station_of(request: Request) -> str | None:
    station = request.cookies.get(STATION_COOKIE)
    return station if station in {s.id for s in core_of(request).config.stations} else None


async def current_session(request: Request) -> sessions.Session:
    # async on purpose: one indexed read on the event loop is cheaper than a hop to the thread pool on every
    # request; the write that restarts the idle clock (every half minute at most) goes to the pool.
    settings = settings_of(request)
    store, now = core_of(request).store, settings.clock()
    try:
        session = sessions.resolve(store, request.cookies.get(SESSION_COOKIE), now, settings.idle_timeout_s,
                                   station_of(request), touch_now=False)
    except SessionEndedError as exc:
        raise SignInRequired(str(exc), request.url.path) from None
    if session.touch_due:
        # the idle clock is bookkeeping: a full disk must not hide the screen that says the disk is full
        with contextlib.suppress(StorageError):
            await run_in_threadpool(sessions.touch, store, session, now)
    request.state.session = session
    return session


SessionDep = Annotated[sessions.Session, Depends(current_session)]


def role(*allowed: str) -> Callable[[sessions.Session], Awaitable[sessions.Session]]:
    async def check(session: SessionDep) -> sessions.Session:
        if session.actor.role not in allowed:
            raise AuthorityError(f"{session.actor.name} ({session.actor.role}) cannot open this screen: it is "
                                 f"for {', '.join(allowed)}")
        return session

    return check


async def csrf_checked(request: Request, session: SessionDep) -> sessions.Session:
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form()
        value = form.get("csrf")
        given = value if isinstance(value, str) else None
    if not session.csrf_matches(given):
        raise CsrfError("this request did not carry the station's CSRF token (an old page or another site): "
                        "reload the page and try again")
    return session


CsrfDep = Annotated[sessions.Session, Depends(csrf_checked)]


def sign_in_redirect(request: Request, exc: SignInRequired) -> Response:
    target = str(URL("/signin").include_query_params(reason=exc.reason, next=exc.target))
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def refused(request: Request, exc: Exception, status_code: int) -> Response:
    """The page saying what was refused and why; for htmx, that message in the page's alert area."""
    headers = {"HX-Retarget": "#alerts", "HX-Reswap": "innerHTML"} if request.headers.get("HX-Request") else None
    return render(request, "refused.html", {"message": str(exc), "status": status_code}, block="message",
                  status_code=status_code, headers=headers)
