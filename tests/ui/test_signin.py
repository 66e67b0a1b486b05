"""Sign-in, sessions and throttling through the web UI: TestClient against the real app and store."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from edge import auth, sessions
from edge.core import Core
from edge.errors import InvalidInputError
from tests.conftest import OPERATOR_PIN, SUPERVISOR_SECRET
from tests.ui.conftest import Clock, Signed, csrf_in, sign_in


def test_signin_page_offers_badge_and_password_forms(client: TestClient) -> None:
    page = client.get("/signin")
    assert page.status_code == 200
    for field in ('name="badge"', 'name="pin"', 'name="name"', 'name="password"', 'name="station"'):
        assert field in page.text
    assert "/static/htmx.min.js" in page.text and "//unpkg" not in page.text and "cdn" not in page.text.lower()
    assert client.get("/static/htmx.min.js").status_code == 200


def test_operator_signs_in_with_badge_and_pin(client: TestClient) -> None:
    response = sign_in(client, badge="B-100", pin=OPERATOR_PIN, station="op-10")
    assert response.status_code == 303 and response.headers["location"] == "/station"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("lineside_session="))
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    page = client.get("/station")
    assert "olly · operator · op-10" in page.text


def test_supervisor_signs_in_with_user_and_password(client: TestClient) -> None:
    response = sign_in(client, name="sue", password=SUPERVISOR_SECRET, station="op-20")
    assert response.status_code == 303 and response.headers["location"] == "/holds"


def test_each_role_uses_its_own_form(client: TestClient, core: Core) -> None:
    auth.add_user(core.store, "sam", "supervisor", "long enough secret", badge="B-300")
    by_password = sign_in(client, name="olly", password=OPERATOR_PIN)
    assert by_password.status_code == 401 and "operator signs in with badge and PIN" in by_password.text
    by_badge = sign_in(client, badge="B-300", pin="long enough secret")
    assert by_badge.status_code == 401 and "supervisor signs in with user name and password" in by_badge.text


def test_root_sends_each_screen_home(client: TestClient) -> None:
    assert client.get("/", follow_redirects=False).headers["location"] == "/signin"
    sign_in(client, name="sue", password=SUPERVISOR_SECRET)
    assert client.get("/", follow_redirects=False).headers["location"] == "/holds"


def test_wrong_pin_is_refused_and_no_session_starts(client: TestClient) -> None:
    response = sign_in(client, badge="B-100", pin="0001")
    assert response.status_code == 401 and "does not match" in response.text
    assert client.get("/station", follow_redirects=False).status_code == 303


def test_missing_fields_are_named(client: TestClient) -> None:
    assert "Badge: scan your badge" in sign_in(client, badge="", pin="1").text
    assert "PIN: required" in sign_in(client, badge="B-100", pin="").text
    assert "Password: required" in sign_in(client, name="sue", password="").text


def test_a_well_known_default_secret_is_not_accepted(client: TestClient, core: Core) -> None:
    with pytest.raises(InvalidInputError, match="well-known default"):
        auth.add_user(core.store, "dora", "operator", "1234", badge="B-999")
    response = sign_in(client, badge="B-999", pin="1234")  # nor at sign-in, for a store older than that rule
    assert response.status_code == 401


def test_signin_form_needs_its_csrf_cookie(client: TestClient) -> None:
    response = client.post("/signin/badge", data={"badge": "B-100", "pin": OPERATOR_PIN, "station": "op-10",
                                                  "csrf": "forged"}, follow_redirects=False)
    assert response.status_code == 422 and "expired" in response.text


def test_unknown_station_is_refused(client: TestClient) -> None:
    response = sign_in(client, badge="B-100", pin=OPERATOR_PIN, station="op-99")
    assert response.status_code == 422 and "Station:" in response.text


def test_next_is_only_a_local_path(client: TestClient) -> None:
    client.get("/signin")
    token = client.cookies.get("lineside_signin")
    for target, expected in (("/station?lot=X", "/station?lot=X"), ("//evil.example/", "/station"),
                             ("https://evil.example/", "/station")):
        response = client.post("/signin/badge", data={"badge": "B-100", "pin": OPERATOR_PIN, "station": "op-10",
                                                      "csrf": token, "next": target}, follow_redirects=False)
        assert response.headers["location"] == expected
        token = csrf_in(client.get("/signin").text)


def test_pages_need_a_session(client: TestClient) -> None:
    page = client.get("/station", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/signin?reason=not+signed+in")
    fragment = client.get("/station", headers={"HX-Request": "true"}, follow_redirects=False)
    assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith("/signin")


def test_sign_out_ends_the_session(olly: Signed) -> None:
    response = olly.post("/signout", {}, htmx=False)
    assert response.status_code == 303
    assert olly.get("/station").status_code == 303


def test_an_old_session_cookie_is_useless_after_sign_out(olly: Signed) -> None:
    token = olly.client.cookies.get("lineside_session")
    olly.post("/signout", {})
    olly.client.cookies.set("lineside_session", token)
    assert olly.get("/station").status_code == 303


def test_idle_session_ends(olly: Signed, clock: Clock) -> None:
    clock.advance(14 * 60)
    assert olly.get("/station").status_code == 200  # activity restarts the idle clock
    clock.advance(14 * 60)
    assert olly.get("/station").status_code == 200
    clock.advance(16 * 60)
    response = olly.get("/station")
    assert response.status_code == 303 and "15+minutes+without+activity" in response.headers["location"]


def test_revoked_sessions_end_at_once(olly: Signed, core: Core, clock: Clock) -> None:
    assert sessions.revoke_user(core.store, "olly", auth.SYSTEM_ACTOR, clock()) == 1
    assert olly.get("/station").status_code == 303


def test_sessions_are_audited_without_their_secrets(olly: Signed, core: Core) -> None:
    events = core.store.query("SELECT action, after FROM audit_events WHERE entity_type = 'sessions'")
    assert [e["action"] for e in events] == ["session.started"]
    token = olly.client.cookies.get("lineside_session")
    assert olly.csrf not in events[0]["after"] and token not in events[0]["after"]
    assert core.store.query_one("SELECT 1 FROM sessions WHERE token_hash = ?", (token,)) is None


def test_badge_is_locked_after_five_failures(client: TestClient) -> None:
    for _ in range(5):
        assert sign_in(client, badge="B-100", pin="9876").status_code == 401
    locked = sign_in(client, badge="B-100", pin=OPERATOR_PIN)
    assert locked.status_code == 429 and "too many failed sign-ins for this badge" in locked.text


def test_address_is_locked_after_twenty_failures(client: TestClient) -> None:
    for number in range(20):
        sign_in(client, badge=f"X-{number}", pin="9876")
    locked = sign_in(client, name="sue", password=SUPERVISOR_SECRET)
    assert locked.status_code == 429 and "for this address" in locked.text
