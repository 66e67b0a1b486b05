"""Sign-in sessions of the station UI: started at sign-in, resolved on each request, ended by sign-out,
by revocation or after an idle time. Only the SHA-256 of a session token is stored; the CSRF token lives
beside it. Must not know about HTTP or cookies: the UI turns those into tokens.

    AuthenticationError (edge.errors)
    └── SessionEndedError    the session is unknown, signed out, revoked or idle too long
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass

from edge import audit, auth
from edge.errors import AuthenticationError
from edge.store import Store, Tx, new_uid

TOUCH_EVERY_S = 30  # seen_at is refreshed at most this often: one write per half-minute per station, not per click


class SessionEndedError(AuthenticationError):
    """There is no live session for this token; the message says why."""


@dataclass(frozen=True, slots=True)
class Session:
    uid: str
    actor: auth.Actor
    csrf: str
    touch_due: bool = False  # its idle clock is to be restarted (see `touch`)

    def csrf_matches(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf.encode(), str(given).encode())


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def refuse_well_known(secret: str) -> None:
    if secret.strip().lower() in auth.WELL_KNOWN_SECRETS:
        raise AuthenticationError("this PIN or password is a well-known default and is not accepted: "
                                  "ask an administrator to set a new one")


def start(store: Store, actor: auth.Actor, now: dt.datetime) -> tuple[str, Session]:
    """A new session for `actor`; returns the token (shown once, kept in a cookie) and the session."""
    token, csrf, uid = "ss_" + secrets.token_urlsafe(32), secrets.token_urlsafe(32), new_uid()
    at = _iso(now)
    record = {"uid": uid, "user_uid": actor.uid, "token_hash": auth.token_digest(token), "csrf": csrf,
              "created_at": at, "seen_at": at, "revoked_at": None}

    def job(tx: Tx) -> None:
        tx.insert("sessions", record)
        _audit(tx, "session.started", actor.name, actor.station, uid, None)

    store.write(job)
    return token, Session(uid, actor, csrf)


def _audit(tx: Tx, action: str, actor: str, station: str | None, uid: str, reason: str | None) -> None:
    # The row holds secrets (token hash, CSRF token): the event records only who and when.
    tx.audit(action=action, actor=actor, station=station, entity_type="sessions", entity_uid=uid, before=None,
             after=audit.canonical({"uid": uid}), reason=reason, record_hash=None)


def resolve(store: Store, token: str | None, now: dt.datetime, idle_timeout_s: float,
            station: str | None = None, *, touch_now: bool = True) -> Session:
    """The live session for `token`; ends it when it has been idle too long. Restarts its idle clock, or with
    `touch_now=False` leaves that to the caller (`touch`) so that a read-only request can skip the write."""
    if not token:
        raise SessionEndedError("not signed in")
    row = store.query_one(
        "SELECT sessions.uid, sessions.csrf, sessions.seen_at, sessions.revoked_at, users.uid AS user_uid, "
        "users.name, users.role FROM sessions JOIN users ON users.uid = sessions.user_uid "
        "WHERE sessions.token_hash = ? AND users.active = 1", (auth.token_digest(token),))
    if row is None:
        raise SessionEndedError("not signed in")
    if row["revoked_at"]:
        raise SessionEndedError("signed out")
    idle_s = (now - dt.datetime.fromisoformat(row["seen_at"])).total_seconds()
    if idle_s > idle_timeout_s:
        end(store, row["uid"], row["name"], now, f"idle for more than {idle_timeout_s / 60:g} minutes")
        raise SessionEndedError(f"signed out after {idle_timeout_s / 60:g} minutes without activity")
    actor = auth.Actor(uid=row["user_uid"], name=row["name"], role=row["role"], station=station)
    # idle_s < 0: the clock stepped back since the last request; restart the idle clock at the new time, or the
    # timeout would wait out the step as well
    session = Session(row["uid"], actor, row["csrf"], touch_due=idle_s > TOUCH_EVERY_S or idle_s < 0)
    if touch_now and session.touch_due:
        touch(store, session, now)
    return session


def touch(store: Store, session: Session, now: dt.datetime) -> None:
    """Restart the session's idle clock (at most every TOUCH_EVERY_S: bookkeeping, not an audited record)."""
    store.write(lambda tx: tx.execute("UPDATE sessions SET seen_at = ? WHERE uid = ?", (_iso(now), session.uid)))


def end(store: Store, session_uid: str, actor_name: str, now: dt.datetime, reason: str) -> None:
    """Sign out or revoke one session; ending an ended session changes nothing."""

    def job(tx: Tx) -> None:
        if tx.execute("UPDATE sessions SET revoked_at = ? WHERE uid = ? AND revoked_at IS NULL",
                      (_iso(now), session_uid)):
            _audit(tx, "session.ended", actor_name, None, session_uid, reason)

    store.write(job)


def revoke_user(store: Store, user_name: str, by: auth.Actor, now: dt.datetime) -> int:
    """End every live session of a user (a lost badge, a leaver); returns how many were ended."""

    def job(tx: Tx) -> int:
        rows = tx.all("SELECT sessions.uid FROM sessions JOIN users ON users.uid = sessions.user_uid "
                      "WHERE users.name = ? AND sessions.revoked_at IS NULL", (user_name,))
        for row in rows:
            tx.execute("UPDATE sessions SET revoked_at = ? WHERE uid = ?", (_iso(now), row["uid"]))
            _audit(tx, "session.revoked", by.name, by.station, row["uid"], f"sessions of {user_name} revoked")
        return len(rows)

    return store.write(job)
