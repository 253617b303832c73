"""Users, passwords (argon2) and API tokens. Users are records of the ``user`` object;
secrets live in system tables the API never exposes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import insert, select, update

from ..errors import NotFound, ValidationError
from ..records.actor import SYSTEM, Actor
from ..records.query import Cond, Query

if TYPE_CHECKING:
    from ..workspace import Workspace

ROLES = ("admin", "manager", "member")
MIN_PASSWORD = 8
TOKEN_PREFIX = "rpt_"
_hasher = PasswordHasher()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def actor_of(user: dict[str, Any]) -> Actor:
    return Actor(user["id"], user["email"], user.get("role") or "member", user.get("team"),
                 user.get("full_name") or user["email"], user.get("locale") or "en")


def find_user(ws: Workspace, email: str) -> dict[str, Any] | None:
    page = ws.records.query("user", Query(filter=Cond("email", "eq", email.strip()), limit=1))
    return page.data[0] if page.data else None


def create_user(ws: Workspace, email: str, role: str = "member", password: str | None = None,
                full_name: str | None = None, actor: Actor = SYSTEM) -> dict[str, Any]:
    if role not in ROLES:
        raise ValidationError(f"unknown role '{role}' (one of {', '.join(ROLES)})", field="role")
    if password is not None:
        check_password_policy(password)
    with ws.transaction() as conn:
        user = ws.records.create("user", {"email": email, "role": role,
                                          "full_name": full_name or email.split("@")[0]},
                                 actor, conn=conn)
        if user["owner"] is None:  # the first user owns their own record
            user = ws.records.update("user", user["id"], {"owner": user["id"]}, actor, conn=conn)
        if password is not None:
            _store_password(ws, conn, user["id"], password)
    return user


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationError(f"a password needs at least {MIN_PASSWORD} characters",
                              field="password")
    if len(password) > 1024:
        raise ValidationError("a password has at most 1024 characters", field="password")


def _store_password(ws: Workspace, conn: Any, user_id: int, password: str) -> None:
    cred = ws.table("rapport_credential")
    hashed = _hasher.hash(password)
    now = datetime.now(UTC)
    done = conn.execute(update(cred).where(cred.c.user_id == user_id)
                        .values(password_hash=hashed, changed_at=now))
    if done.rowcount == 0:
        conn.execute(insert(cred).values(user_id=user_id, password_hash=hashed, changed_at=now))


def set_password(ws: Workspace, email: str, password: str) -> None:
    check_password_policy(password)
    user = find_user(ws, email)
    if user is None:
        raise NotFound(f"no user {email}")
    with ws.transaction() as conn:
        _store_password(ws, conn, user["id"], password)


def authenticate(ws: Workspace, email: str, password: str) -> Actor | None:
    user = find_user(ws, email)
    cred = ws.table("rapport_credential")
    if user is None or not user.get("active", True):
        _hasher.hash(password)  # same time whether or not the user exists
        return None
    with ws.read_engine.connect() as conn:
        hashed = conn.scalar(select(cred.c.password_hash).where(cred.c.user_id == user["id"]))
    if hashed is None:
        return None
    try:
        _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return None
    return actor_of(user)


def create_token(ws: Workspace, email: str, label: str | None = None,
                 scope: str = "read_write") -> str:
    user = find_user(ws, email)
    if user is None:
        raise NotFound(f"no user {email}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    tokens = ws.table("rapport_token")
    with ws.transaction() as conn:
        conn.execute(insert(tokens).values(user_id=user["id"], token_hash=_token_hash(token),
                                           label=label, scope=scope,
                                           created_at=datetime.now(UTC)))
    return token


def actor_for_token(ws: Workspace, token: str) -> tuple[Actor, str] | None:
    """The user and scope of a live token, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    tokens = ws.table("rapport_token")
    with ws.read_engine.connect() as conn:
        row = conn.execute(select(tokens.c.user_id, tokens.c.scope).where(
            tokens.c.token_hash == _token_hash(token), tokens.c.revoked_at.is_(None))).first()
    if row is None:
        return None
    try:
        user = ws.records.get("user", row.user_id)
    except NotFound:
        return None
    if not user.get("active", True):
        return None
    return actor_of(user), row.scope
