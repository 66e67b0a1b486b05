"""Signing in and out: badge + PIN for operators and inspectors, user + password for supervisors, admins and
auditors. Every attempt is throttled per badge or user and per address before any secret is checked; a
well-known default secret is refused; the sign-in form carries its own CSRF token (a cookie it must match).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from edge import auth, sessions
from edge.errors import AuthenticationError, InvalidInputError, LinesideError
from edge.throttle import Key, ThrottledError
from ui.guard import HOME, SESSION_COOKIE, STATION_COOKIE, CsrfDep, station_of
from ui.web import core_of, render, settings_of, status_for

router = APIRouter()
SIGNIN_COOKIE = "lineside_signin"
BADGE_ROLES = ("operator", "inspector")
PASSWORD_ROLES = ("supervisor", "admin", "auditor")
Field = Annotated[str, Form()]


def _form(request: Request, error: str | None = None, status_code: int = 200, mode: str = "badge") -> Response:
    token = request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(24)
    core = core_of(request)
    context = {"signin_csrf": token, "stations": core.config.stations, "station": station_of(request),
               "reason": request.query_params.get("reason"), "next": _safe_next(request.query_params.get("next")),
               "error": error, "mode": mode, "line": core.config.line}
    response = render(request, "signin.html", context, block="forms", status_code=status_code)
    response.set_cookie(SIGNIN_COOKIE, token, httponly=True, samesite="strict",
                        secure=settings_of(request).secure_cookies)
    return response


def _safe_next(target: str | None) -> str | None:
    # Only a local path: never an open redirect to another site.
    return target if target and target.startswith("/") and not target.startswith("//") else None


@router.get("/signin")
def signin_page(request: Request) -> Response:
    return _form(request)


@router.get("/")
def home(request: Request) -> Response:
    """A signed-in screen goes to its role's home; anyone else to sign-in."""
    settings = settings_of(request)
    try:
        session = sessions.resolve(core_of(request).store, request.cookies.get(SESSION_COOKIE), settings.clock(),
                                   settings.idle_timeout_s)
    except sessions.SessionEndedError:
        return RedirectResponse("/signin", status_code=303)
    return RedirectResponse(HOME.get(session.actor.role, "/signin"), status_code=303)


def _check(request: Request, csrf: str, station: str) -> str:
    expected = request.cookies.get(SIGNIN_COOKIE)
    if not expected or not secrets.compare_digest(expected, csrf):
        raise InvalidInputError("the sign-in form has expired: reload the page and sign in again")
    if station not in {s.id for s in core_of(request).config.stations}:
        raise InvalidInputError("Station: choose the station this screen stands at")
    return station


def _attempt(request: Request, keys: list[Key], verify: Callable[[], auth.Actor]) -> auth.Actor:
    throttle = request.app.state.throttle
    throttle.check(keys)
    try:
        actor = verify()
    except AuthenticationError:
        throttle.failed(keys)
        raise
    throttle.succeeded(keys)
    return actor


def _start(request: Request, actor: auth.Actor, station: str, next_path: str | None) -> Response:
    settings = settings_of(request)
    token, _ = sessions.start(core_of(request).store, actor, settings.clock())
    target = _safe_next(next_path) or HOME.get(actor.role, "/signin")
    response: Response = RedirectResponse(target, status_code=303)
    if request.headers.get("HX-Request") == "true":
        response = Response(status_code=204, headers={"HX-Redirect": target})
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=settings.secure_cookies)
    response.set_cookie(STATION_COOKIE, station, max_age=365 * 86400, httponly=True, samesite="strict",
                        secure=settings.secure_cookies)
    response.delete_cookie(SIGNIN_COOKIE)
    return response


def _sign_in(request: Request, mode: str, keys: list[Key], verify: Callable[[], auth.Actor],
             roles: tuple[str, ...], csrf: str, station: str, next_path: str) -> Response:
    try:
        chosen = _check(request, csrf, station)
        actor = _attempt(request, keys, verify)
        if actor.role not in roles:
            other = "user name and password" if mode == "badge" else "badge and PIN"
            raise AuthenticationError(f"a {actor.role} signs in with {other}")
    except LinesideError as exc:
        status = 429 if isinstance(exc, ThrottledError) else status_for(exc)
        return _form(request, str(exc), status, mode)
    return _start(request, auth.Actor(actor.uid, actor.name, actor.role, chosen), chosen, next_path)


def _address(request: Request) -> Key:
    return ("address", request.client.host if request.client else "unknown")


def _need(value: str, label: str) -> str:
    if not value.strip():
        raise InvalidInputError(f"{label}: required")
    return value.strip()


@router.post("/signin/badge")
def signin_badge(request: Request, badge: Field = "", pin: Field = "", station: Field = "", csrf: Field = "",
                 next: Field = "") -> Response:
    store = core_of(request).store

    def verify() -> auth.Actor:
        actor = auth.authenticate_badge(store, _need(badge, "Badge"), _need(pin, "PIN"))
        sessions.refuse_well_known(pin)
        return actor

    if not badge.strip() or not pin.strip():
        return _form(request, "Badge: scan your badge" if not badge.strip() else "PIN: required", 422, "badge")
    keys = [("badge", badge.strip()[:64]), _address(request)]
    return _sign_in(request, "badge", keys, verify, BADGE_ROLES, csrf, station, next)


@router.post("/signin/password")
def signin_password(request: Request, name: Field = "", password: Field = "", station: Field = "",
                    csrf: Field = "", next: Field = "") -> Response:
    store = core_of(request).store

    def verify() -> auth.Actor:
        actor = auth.authenticate(store, name.strip(), password)
        sessions.refuse_well_known(password)
        return actor

    if not name.strip() or not password:
        return _form(request, "User: required" if not name.strip() else "Password: required", 422, "password")
    keys = [("user", name.strip()[:64]), _address(request)]
    return _sign_in(request, "password", keys, verify, PASSWORD_ROLES, csrf, station, next)


@router.post("/signout")
def signout(request: Request, session: CsrfDep) -> Response:
    settings = settings_of(request)
    sessions.end(core_of(request).store, session.uid, session.actor.name, settings.clock(), "signed out")
    response: Response = RedirectResponse("/signin?reason=signed+out", status_code=303)
    if request.headers.get("HX-Request") == "true":
        response = Response(status_code=204, headers={"HX-Redirect": "/signin?reason=signed+out"})
    response.delete_cookie(SESSION_COOKIE)
    return response
