"""Users, secrets, API tokens and electronic signatures.

Owns: hashing PINs and passwords with argon2id, issuing and resolving bearer tokens (only their SHA-256 is
stored), and signing: re-authenticating the signer, checking the role's authority, recording the meaning.
Must not decide domain outcomes (what a disposition does to a lot is the services' job).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from edge.config import ROLES
from edge.errors import AuthenticationError, AuthorityError, ConflictError, InvalidInputError, NotFoundError
from edge.store import Store, Tx, new_uid

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
SYSTEM = "system"
# Secrets printed on labels, in manuals and in every default-password list: refused whoever sets them.
WELL_KNOWN_SECRETS = frozenset({
    "0000", "1111", "1234", "12345", "123456", "1234567", "12345678", "4321", "9999", "admin", "administrator",
    "changeme", "default", "lineside", "operator", "passw0rd", "password", "qwerty", "root", "supervisor",
})


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, with what role, from which station: stamped on every record and audit event."""

    uid: str
    name: str
    role: str
    station: str | None = None


SYSTEM_ACTOR = Actor(uid=SYSTEM, name=SYSTEM, role="admin")


def _check_secret(secret: str) -> None:
    if len(secret) < 4:
        raise InvalidInputError("the PIN or password must be at least 4 characters")
    if len(secret) > 256:
        raise InvalidInputError("the PIN or password must be at most 256 characters")
    if secret.strip().lower() in WELL_KNOWN_SECRETS:
        raise InvalidInputError("this PIN or password is a well-known default and is not accepted: choose another")


def add_user(store: Store, name: str, role: str, secret: str, badge: str | None = None,
             actor: Actor = SYSTEM_ACTOR) -> dict[str, Any]:
    if role not in ROLES:
        raise InvalidInputError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    if not name or not name.isprintable() or len(name) > 64:
        raise InvalidInputError(f"user name {name[:64]!r} must be 1 to 64 printable characters")
    _check_secret(secret)
    record = {"uid": new_uid(), "name": name, "role": role, "badge": badge or None,
              "secret_hash": _hasher.hash(secret), "active": 1, "created_at": None}

    def job(tx: Tx) -> dict[str, Any]:
        if tx.one("SELECT 1 FROM users WHERE name = ?", (name,)):
            raise ConflictError(f"user {name!r} exists already")
        if badge and tx.one("SELECT 1 FROM users WHERE badge = ?", (badge,)):
            raise ConflictError(f"badge {badge!r} belongs to another user")
        tx.add("users", {**record, "created_at": tx.at}, action="user.added", actor=actor.name,
               station=actor.station, sync=False)
        return record

    return store.write(job)


def _user_row(store: Store, column: str, value: str) -> dict[str, Any]:
    row = store.query_one(f"SELECT * FROM users WHERE {column} = ? AND active = 1", (value,))
    if row is None:
        raise AuthenticationError(f"no active user with that {column}")
    return row


def _actor(row: dict[str, Any], station: str | None = None) -> Actor:
    return Actor(uid=row["uid"], name=row["name"], role=row["role"], station=station)


def _verify(row: dict[str, Any], secret: str) -> None:
    try:
        _hasher.verify(row["secret_hash"], secret)
    except (VerificationError, InvalidHashError):
        raise AuthenticationError(f"the PIN or password does not match user {row['name']!r}") from None


def authenticate(store: Store, name: str, secret: str, station: str | None = None) -> Actor:
    row = _user_row(store, "name", name)
    _verify(row, secret)
    return _actor(row, station)


def authenticate_badge(store: Store, badge: str, pin: str, station: str | None = None) -> Actor:
    row = _user_row(store, "badge", badge)
    _verify(row, pin)
    return _actor(row, station)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(store: Store, user_name: str, label: str = "api") -> str:
    """A new bearer token acting as `user_name`; only its hash is kept, so it is shown once."""
    user = store.query_one("SELECT * FROM users WHERE name = ? AND active = 1", (user_name,))
    if user is None:
        raise NotFoundError(f"no active user {user_name!r}")
    token = "ls_" + secrets.token_urlsafe(32)
    record = {"uid": new_uid(), "user_uid": user["uid"], "name": label, "token_hash": token_digest(token),
              "created_at": None, "revoked_at": None}
    store.write(lambda tx: tx.add("tokens", {**record, "created_at": tx.at}, action="token.created",
                                  actor=user_name, station=None, sync=False))
    return token


def actor_for_token(store: Store, token: str, station: str | None = None) -> Actor:
    row = store.query_one(
        "SELECT users.* FROM tokens JOIN users ON users.uid = tokens.user_uid "
        "WHERE tokens.token_hash = ? AND tokens.revoked_at IS NULL AND users.active = 1", (token_digest(token),))
    if row is None:
        raise AuthenticationError("the bearer token is unknown or revoked")
    return _actor(row, station)


def countersign(store: Store, actor: Actor, secret: str, allowed_roles: list[str], what: str) -> None:
    """Re-authenticate `actor` for a signature and check that their role holds the authority for `what`."""
    if actor.role not in allowed_roles:
        raise AuthorityError(f"{actor.name} ({actor.role}) may not {what}: only {', '.join(allowed_roles)} may")
    row = _user_row(store, "uid", actor.uid)
    try:
        _verify(row, secret)
    except AuthenticationError:
        raise AuthenticationError(f"signature refused: the secret entered does not match {actor.name!r}") from None


def add_signature(tx: Tx, actor: Actor, meaning: str, entity_type: str, entity_uid: str) -> str:
    """Record a signature inside the caller's transaction; returns its uid."""
    if not meaning or not meaning.strip():
        raise InvalidInputError("a signature needs its meaning (for example 'approved', 'released')")
    uid = new_uid()
    tx.add("signatures", {"uid": uid, "signer_uid": actor.uid, "signer": actor.name, "role": actor.role,
                          "meaning": meaning.strip(), "entity_type": entity_type, "entity_uid": entity_uid,
                          "signed_at": tx.at}, action="signature.signed", actor=actor.name, station=actor.station)
    return uid
