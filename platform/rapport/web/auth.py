"""Who is asking: a Bearer token (API) or the signed session cookie (screens), and the
CSRF check every state-changing cookie-authenticated request passes."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ..auth.users import actor_for_token, actor_of
from ..errors import NotFound, PermissionDenied, RapportError
from ..records.actor import Actor

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_CACHE_SECONDS = 5.0
#: A session ends this long after its login, however busy (the cookie's own age is
#: renewed with every response).
SESSION_LIFETIME = 12 * 3600


def _session_alive(session: Any) -> bool:
    at = session.get("login_at")
    return isinstance(at, int) and 0 <= time.time() - at < SESSION_LIFETIME


class Unauthenticated(RapportError):
    status = 401
    code = "unauthenticated"


class CSRFRefused(RapportError):
    status = 403
    code = "csrf"


def csrf_token(request: Request) -> str:
    """The session's CSRF token (created on first use)."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request, form_token: str | None = None) -> None:
    expected = request.session.get("csrf")
    given = request.headers.get("x-csrf-token") or form_token
    if not expected or not given or not hmac.compare_digest(str(expected), str(given)):
        raise CSRFRefused("the form has expired or did not come from this site; reload and try again")


class Authenticator:
    """Resolves the actor of a request; token look-ups are cached for a few seconds."""

    def __init__(self, ws: Any):
        self.ws = ws
        self._tokens: dict[str, tuple[float, Actor, str, tuple[int, ...]]] = {}

    def _cached_token(self, token: str) -> tuple[Actor, str] | None:
        """A token looked up moments ago, while no token, user or role was written since
        (a revocation, a role change or a deactivation counts at once, in every worker)."""
        hit = self._tokens.get(token)
        if hit and hit[0] > time.monotonic() and hit[3] == self._stamp():
            return hit[1], hit[2]
        return None

    def _stamp(self) -> tuple[int, ...]:
        from ..storage import versions

        with self.ws.read_engine.connect() as conn:
            return tuple(versions.read(conn, self.ws.table("rapport_data_version").metadata,
                                       ("rapport_token", "user")).values())

    def _token(self, token: str) -> tuple[Actor, str] | None:
        hit = self._cached_token(token)
        if hit is not None:
            return hit
        now = time.monotonic()
        stamp = self._stamp()
        found = actor_for_token(self.ws, token)
        if found is None:
            self._tokens.pop(token, None)
            return None
        if len(self._tokens) > 10_000:
            self._tokens.clear()
        self._tokens[token] = (now + TOKEN_CACHE_SECONDS, *found, stamp)
        return found

    def _session_user(self, user_id: Any) -> Actor | None:
        try:
            user = self.ws.records.get("user", user_id)
        except NotFound:
            return None
        if not user.get("active", True):
            return None
        return actor_of(user)

    async def actor(self, request: Request, *, api: bool,
                    before: Callable[[], Any] | None = None) -> Actor:
        """The acting user, or Unauthenticated. Cookie-authenticated writes need CSRF.
        ``before`` (the screens' metadata refresh) runs in the worker thread that looks the
        session's user up: one trip to the thread pool instead of two."""
        if "actor" in request.scope:
            if before is not None:
                await run_in_threadpool(before)
            return request.scope["actor"]
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            token = header[7:].strip()
            # a cached token needs no database, so no trip to a worker thread either
            found = await run_in_threadpool(self._token, token)
            if found is None:
                raise Unauthenticated("invalid or revoked API token")
            actor, scope = found
            if scope == "read" and request.method not in SAFE_METHODS:
                raise PermissionDenied("this API token can only read")
            if before is not None:
                await run_in_threadpool(before)
        else:
            user_id = request.session.get("user_id") if "session" in request.scope else None
            if user_id and not _session_alive(request.session):
                request.session.clear()
                user_id = None

            def lookup() -> Actor | None:
                if before is not None:
                    before()
                return self._session_user(user_id) if user_id else None
            actor = await run_in_threadpool(lookup) if user_id else None
            if actor is None:
                raise Unauthenticated("log in, or send Authorization: Bearer <token>")
            if request.method not in SAFE_METHODS and api:
                await check_csrf(request)
        request.scope["actor"] = actor
        return actor
