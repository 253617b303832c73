"""Users, passwords (argon2) and API tokens. Users are records of the ``user`` object;
secrets live in system tables the API never exposes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, insert, select, update

from ..errors import NotFound, RapportError, ValidationError
from ..records.actor import SYSTEM, Actor
from ..records.query import Cond, Query

if TYPE_CHECKING:
    from ..workspace import Workspace

ROLES = ("admin", "manager", "member")
MIN_PASSWORD = 8
TOKEN_PREFIX = "rpt_"
TOKEN_SCOPES = ("read", "read_write")
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
    known = role_codes(ws)
    if role not in known:
        raise ValidationError(f"unknown role '{str(role)[:63]}' (one of {', '.join(known)})",
                              field="role")
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


def role_codes(ws: Workspace) -> list[str]:
    """The codes of the workspace's roles (the built-in ones first)."""
    t = ws.table("role")
    with ws.read_engine.connect() as conn:
        codes = list(conn.scalars(select(t.c.code).order_by(t.c.code)))
    return [*ROLES, *(c for c in codes if c not in ROLES)]


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
                 scope: str = "read_write", actor: Actor = SYSTEM) -> str:
    user = find_user(ws, email)
    if user is None:
        raise NotFound(f"no user {email}")
    if scope not in TOKEN_SCOPES:
        raise ValidationError(f"a token's scope is one of {', '.join(TOKEN_SCOPES)}",
                              field="scope")
    from . import audit

    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    tokens = ws.table("rapport_token")
    with ws.transaction() as conn:
        new_id = conn.execute(insert(tokens).values(
            user_id=user["id"], token_hash=_token_hash(token), label=label, scope=scope,
            created_at=datetime.now(UTC))).inserted_primary_key[0]
        audit.record(ws, "token_created", actor, detail={
            "token": new_id, "user": user["id"], "email": user["email"], "scope": scope,
            "label": label}, conn=conn)
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


#: Failed logins counted over this window; beyond the limits the account (or the address)
#: waits until the window has passed over its failures.
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_ACCOUNT_FAILURES = 5
MAX_ADDRESS_FAILURES = 20


class Throttled(RapportError):
    status = 429
    code = "throttled"


def _failures(conn: Any, kind: str, key: str, since: datetime) -> int:
    from ..workspace import Workspace

    t = Workspace.table_of("rapport_login_attempt")
    return int(conn.scalar(select(func.count()).select_from(t).where(
        t.c.kind == kind, t.c.key == key, t.c.at >= since)) or 0)


def login(ws: Workspace, email: str, password: str, address: str = "") -> Actor | None:
    """``authenticate`` with throttling per account and per address (counted in the
    database, so every worker sees the same count) and the attempt in the audit log.
    Throttled: raises Throttled without looking at the password."""
    from . import audit

    account = email.strip().lower()[:254]
    now = datetime.now(UTC)
    since = now - THROTTLE_WINDOW
    attempts = ws.table("rapport_login_attempt")
    with ws.read_engine.connect() as conn:
        too_many = _failures(conn, "account", account, since) >= MAX_ACCOUNT_FAILURES or (
            bool(address) and _failures(conn, "address", address, since) >= MAX_ADDRESS_FAILURES)
    if too_many:
        audit.record(ws, "login_throttled", email=account, address=address)
        raise Throttled("too many failed logins; wait a few minutes and try again")
    actor = authenticate(ws, email, password)
    with ws.transaction() as conn:
        if actor is None:
            conn.execute(insert(attempts), [{"kind": "account", "key": account, "at": now},
                                            *([{"kind": "address", "key": address, "at": now}]
                                              if address else [])])
            conn.execute(delete(attempts).where(attempts.c.at < now - 4 * THROTTLE_WINDOW))
            audit.record(ws, "login_failed", email=account, address=address, conn=conn)
        else:
            conn.execute(delete(attempts).where(attempts.c.kind == "account",
                                                attempts.c.key == account))
            audit.record(ws, "login_ok", actor, address=address, conn=conn)
    return actor


def revoke_token(ws: Workspace, token_id: int, actor: Actor = SYSTEM) -> None:
    """Revoke an API token (its owner or an admin); at once, in every worker."""
    from . import audit

    tokens = ws.table("rapport_token")
    with ws.transaction() as conn:
        row = conn.execute(select(tokens).where(tokens.c.id == token_id)).first()
        if row is None or not (actor.id is None or actor.is_admin or row.user_id == actor.id):
            raise NotFound(f"no API token {token_id}")
        conn.execute(update(tokens).where(tokens.c.id == token_id)
                     .values(revoked_at=datetime.now(UTC)))
        audit.record(ws, "token_revoked", actor, detail={"token": token_id,
                                                         "user": row.user_id}, conn=conn)


def tokens_of(ws: Workspace, user_id: int | None = None) -> list[dict[str, Any]]:
    """API tokens (never their secret), newest first."""
    tokens = ws.table("rapport_token")
    stmt = select(tokens.c.id, tokens.c.user_id, tokens.c.label, tokens.c.scope,
                  tokens.c.created_at, tokens.c.revoked_at).order_by(tokens.c.id.desc())
    if user_id is not None:
        stmt = stmt.where(tokens.c.user_id == user_id)
    with ws.read_engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]
