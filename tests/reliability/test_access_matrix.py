"""Who may call what: every route of the app against every role, from a table written out here.

The table is the documented authority (docs/api.md, docs/ui.md, `[authority]` in the example line): a role
in a row's set must get past the checks (any answer but 401, 403 or a redirect to sign-in: 404, 409 and 422 are
fine, the body may be incomplete on purpose), a role outside it must get 403, and nobody signed in must get 401
from the API and a redirect to /signin from a screen. The API is called with bearer tokens, the screens with a
signed-in session and its CSRF token (CSRF itself is tested in test_hostile_input.py). Bodies are valid enough
that a refusal can only come from the role, and carry the caller's own secret where a signature is asked for.
A route of the app missing from the table fails `test_every_route_is_in_the_table`: a new route must be
classified before it ships.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from edge import auth, sessions
from tests.conftest import TODAY
from tests.reliability.conftest import GAUGE, HELD_LOT, PEOPLE, ROLES, World
from ui.guard import SESSION_COOKIE, STATION_COOKIE

ANYONE = frozenset({"anonymous", *ROLES})  # public: no sign-in needed
SIGNED_IN = frozenset(ROLES)
MEASURERS = frozenset({"operator", "inspector", "supervisor", "admin"})  # auditors read, never write
INSPECTORS = frozenset({"inspector", "supervisor", "admin"})  # [authority] release and calibrate; inspect screen
SIGNERS = frozenset({"supervisor", "admin"})  # [authority] disposition and approve_plan
REVIEWERS = frozenset({"supervisor", "admin", "auditor"})  # the holds, hold tag and admin screens
ANALYSTS = frozenset({"inspector", "supervisor", "admin", "auditor"})  # the SPC screen
STREAM = "stream"  # server-sent events: only the refusals are called, an allowed call would never end

SIGNATURE = {"secret": "{secret}", "meaning": "approved"}
DISPOSITION = {"decision": "use-as-is", "reason": "within deviation D-12", "secret": "{secret}"}

# (method, path) -> (who may, JSON body or form fields)
API: dict[tuple[str, str], tuple[frozenset[str], Any]] = {
    ("GET", "/api/v1/health"): (ANYONE, None),
    ("GET", "/api/v1/plans"): (SIGNED_IN, None),
    ("POST", "/api/v1/lots"): (MEASURERS, {"product": "BRK-100", "lot": "L-NEW", "quantity": 10}),
    ("GET", "/api/v1/lots/{lot}"): (SIGNED_IN, None),
    ("POST", "/api/v1/lots/{lot}/measurements"): (MEASURERS, {"characteristic": "bore-dia", "value": 10}),
    ("POST", "/api/v1/lots/{lot}/measurements/batch"): (
        MEASURERS, {"measurements": [{"characteristic": "bore-dia", "value": 10}]}),
    ("POST", "/api/v1/lots/{lot}/release"): (INSPECTORS, SIGNATURE),
    ("GET", "/api/v1/nonconformities"): (SIGNED_IN, None),
    ("GET", "/api/v1/holds"): (SIGNED_IN, None),
    ("POST", "/api/v1/holds/{hold}/disposition"): (SIGNERS, DISPOSITION),
    ("GET", "/api/v1/stations/{station}"): (SIGNED_IN, None),
    ("PUT", "/api/v1/stations/{station}/lot"): (MEASURERS, {"lot": HELD_LOT}),
    ("GET", "/api/v1/gauges"): (SIGNED_IN, None),
    ("GET", "/api/v1/trace/lots/{lot}"): (SIGNED_IN, None),
    ("POST", "/api/v1/stations/{station}/vision"): (MEASURERS, None),
    ("GET", "/api/v1/stations/{station}/vision"): (SIGNED_IN, None),
    ("GET", "/api/v1/images/{image}"): (SIGNED_IN, None),
    ("GET", "/api/v1/cameras"): (SIGNED_IN, None),
    ("POST", "/api/v1/cameras/{camera}/calibrations"): (
        INSPECTORS, {"target_mm": 10, "roi": [0, 0, 10, 10], "line": [0, 0, 10, 0]}),
    ("POST", "/api/v1/gauges/{gauge}/calibrations"): (
        INSPECTORS, {"result": "pass", "calibrated_at": TODAY.isoformat(), "due": "2027-12-01"}),
    ("GET", "/api/v1/gauges/{gauge}/suspect-lots"): (SIGNED_IN, None),
    ("POST", "/api/v1/gauges/{gauge}/suspect-lots/hold"): (SIGNERS, SIGNATURE),
    ("GET", "/api/v1/trace/gauges/{gauge}"): (SIGNED_IN, None),
    ("GET", "/api/v1/spc/signals"): (SIGNED_IN, None),
    ("POST", "/api/v1/spc/signals/{signal}/cause"): (MEASURERS, {"cause": "TOOL-WEAR"}),
    ("GET", "/api/v1/spc/{product}/{characteristic}"): (SIGNED_IN, None),
    ("GET", "/api/v1/spc/{product}/{characteristic}/limits"): (SIGNED_IN, None),
    ("POST", "/api/v1/spc/{product}/{characteristic}/limits"): (SIGNERS, SIGNATURE),
    ("GET", "/api/v1/sampling/states"): (SIGNED_IN, None),
    ("GET", "/api/v1/stations/{station}/schedule"): (SIGNED_IN, None),
    ("POST", "/api/v1/stations/{station}/setups"): (MEASURERS, {"kind": "setup", "note": "new insert"}),
    ("POST", "/api/v1/stations/{station}/schedule/{characteristic}/missed"): (MEASURERS, {"reason": "MACHINE-DOWN"}),
    ("POST", "/api/v1/sampling/states/{state}/resume"): (SIGNERS, {**SIGNATURE, "reason": "supplier 8D closed"}),
}

UI: dict[tuple[str, str], tuple[frozenset[str], Any]] = {
    ("GET", "/openapi.json"): (ANYONE, None),  # docs/api.md: the OpenAPI document and its explorer are public
    ("GET", "/docs"): (ANYONE, None),
    ("GET", "/docs/oauth2-redirect"): (ANYONE, None),
    ("GET", "/redoc"): (ANYONE, None),
    ("GET", "/metrics"): (ANYONE, None),
    ("GET", "/static"): (ANYONE, None),
    ("GET", "/signin"): (ANYONE, None),
    ("GET", "/"): (ANYONE, None),
    ("POST", "/signin/badge"): (ANYONE, {}),
    ("POST", "/signin/password"): (ANYONE, {}),
    ("POST", "/signout"): (SIGNED_IN, {}),
    ("GET", "/station"): (MEASURERS, None),
    ("POST", "/station/lots"): (MEASURERS, {"product": "BRK-100", "lot": "L-UI", "quantity": "10"}),
    ("POST", "/lots/{lot}/measurements"): (MEASURERS, {"characteristic": "bore-dia", "value": "10"}),
    ("POST", "/lots/{lot}/release"): (INSPECTORS, {"secret": "{secret}", "meaning": "released"}),
    ("GET", "/inspect"): (INSPECTORS, None),
    ("POST", "/inspect/scan"): (INSPECTORS, {"barcode": "(01)09506000134352(10)L-SCAN(37)10"}),
    ("GET", "/holds"): (REVIEWERS, None),
    ("GET", "/holds/{hold_uid}/images/{image_uid}"): (REVIEWERS, None),
    ("GET", "/holds/{hold_uid}"): (REVIEWERS, None),
    ("POST", "/holds/{hold_uid}/disposition"): (SIGNERS, DISPOSITION),
    ("GET", "/events"): (SIGNED_IN, STREAM),
    ("GET", "/storage"): (ANYONE, None),  # the storage banner: says no more than the public health endpoint
    ("GET", "/holds/{hold_uid}/tag"): (REVIEWERS, None),
    ("POST", "/holds/{hold_uid}/tag/print"): (SIGNERS, {}),  # no printer configured: refused after the role check
    ("GET", "/spc/{product}/{characteristic}"): (ANALYSTS, None),
    ("GET", "/admin/devices"): (REVIEWERS, None),  # the admin screens are read-only: admin, supervisor, auditor
    ("GET", "/admin/gauges"): (REVIEWERS, None),
    ("GET", "/admin/plans"): (REVIEWERS, None),
    ("GET", "/admin/users"): (REVIEWERS, None),
}
PARAMETERS = {"lot": HELD_LOT, "station": "op-10", "gauge": GAUGE, "camera": "cam-op20", "image": "no-such-image",
              "image_uid": "no-such-image", "signal": "no-such-signal", "product": "BRK-100",
              "characteristic": "bore-dia", "state": "no-such-state"}
STATIC_FILE = "/static/htmx.min.js"
ANSWER_WITH_SIGNIN = {"/", "/signout"}  # sending someone to /signin is what these two are for
NO_PRINTER = "/holds/{hold_uid}/tag/print"  # no label printer configured here: 503 says so, after the role check


def app_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """Every (method, path) the app serves; routers included lazily (FastAPI >= 0.130) are walked into."""
    for route in app.routes:
        for leaf in getattr(route, "effective_route_contexts", lambda r=route: [r])():
            methods = getattr(leaf, "methods", None) or {"GET"}  # a Mount (static files) answers GET
            for method in sorted(set(methods) - {"HEAD"}):
                yield method, leaf.path


def test_every_route_is_in_the_table(world_app: FastAPI) -> None:
    served = set(app_routes(world_app))
    assert len(served) > 40, "the route walk found too few routes: has FastAPI's routing changed shape?"
    unclassified = served - set(API) - set(UI)
    assert not unclassified, f"routes missing from the access table, classify them: {sorted(unclassified)}"
    assert not (set(API) | set(UI)) - served, f"the table names routes the app no longer serves: " \
                                              f"{sorted((set(API) | set(UI)) - served)}"


def _url(path: str, hold: str) -> str:
    if path == "/static":
        return STATIC_FILE
    return re.sub(r"\{(\w+)\}", lambda m: hold if m.group(1) in ("hold", "hold_uid") else PARAMETERS[m.group(1)],
                  path)


def _body(template: Any, secret: str) -> Any:
    if isinstance(template, dict):
        return {k: _body(v, secret) for k, v in template.items()}
    if isinstance(template, list):
        return [_body(v, secret) for v in template]
    return secret if template == "{secret}" else template


def _refused_signin(response: Any) -> bool:
    return response.status_code in (303, 307) and response.headers["location"].startswith("/signin")


def _check(who: str, allowed: frozenset[str], response: Any, api: bool, signin_ok: bool = False,
           unavailable_ok: bool = False) -> str | None:
    """What is wrong with this answer, or None."""
    status = response.status_code
    if status >= 500 and not (unavailable_ok and status == 503):
        return f"{who}: {status} {response.text[:200]}"
    if who in allowed:
        if status in (401, 403) or (_refused_signin(response) and not signin_ok):
            return f"{who} may, but got {status} {response.text[:200]}"
    elif who == "anonymous":
        if not ((api and status == 401) or (not api and _refused_signin(response))):
            return f"anonymous must be refused, got {status} {response.text[:200]}"
    elif status != 403:
        return f"{who} must get 403, got {status} {response.text[:200]}"
    return None


@pytest.mark.parametrize(("method", "path"), sorted(API))
def test_api_route(world_app: FastAPI, world: World, method: str, path: str) -> None:
    allowed, body = API[(method, path)]
    url = _url(path, world.hold)
    problems = []
    core = world_app.state.core
    with TestClient(world_app) as client:
        # refusals first: an allowed call may change the state a refusal is checked in
        for who in sorted(["anonymous", *ROLES], key=lambda w: w in allowed):
            headers = {} if who == "anonymous" else {
                "Authorization": f"Bearer {auth.create_token(core.store, PEOPLE[who][0])}"}
            secret = PEOPLE[who][1] if who != "anonymous" else "x"
            json = _body(body, secret) if body is not None else None
            response = client.request(method, url, json=json, headers=headers, follow_redirects=False)
            problems.append(_check(who, allowed, response, api=True))
    assert not [p for p in problems if p], "\n".join(p for p in problems if p)


def _session(app: FastAPI, who: str) -> tuple[TestClient, str | None]:
    """A client signed in as `who`: the session is started as sign-in starts it (sign-in itself, its throttle
    and its secrets are tested in tests/ui and test_hostile_input.py; argon2 on every call would be slow)."""
    client = TestClient(app)
    if who == "anonymous":
        return client, None
    store, station = app.state.core.store, "incoming" if who == "inspector" else "op-10"
    actor = auth.actor_for_token(store, auth.create_token(store, PEOPLE[who][0]), station)
    token, session = sessions.start(store, actor, dt.datetime.now(dt.UTC))
    client.cookies.set(SESSION_COOKIE, token)
    client.cookies.set(STATION_COOKIE, station)
    return client, session.csrf


@pytest.mark.parametrize(("method", "path"), sorted(UI))
def test_ui_route(world_app: FastAPI, world: World, method: str, path: str) -> None:
    allowed, body = UI[(method, path)]
    url = _url(path, world.hold)
    problems = []
    for who in sorted(["anonymous", *ROLES], key=lambda w: w in allowed):
        if body == STREAM and who in allowed:
            continue
        client, csrf = _session(world_app, who)
        with client:
            secret = PEOPLE[who][1] if who != "anonymous" else "x"
            if method == "GET":
                response = client.get(url, follow_redirects=False)
            else:
                form = {**_body(body or {}, secret), **({"csrf": csrf} if csrf else {})}
                response = client.post(url, data=form, follow_redirects=False)
            problems.append(_check(who, allowed, response, api=False, signin_ok=path in ANSWER_WITH_SIGNIN,
                                   unavailable_ok=path == NO_PRINTER))
    assert not [p for p in problems if p], "\n".join(p for p in problems if p)
