"""Delivery of the outbox: signed POSTs, retries with exponential backoff, a log of every
attempt, redelivery."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update

from rapport.plugins import settings

from .store import ATTEMPTS, OUTBOX, SUBSCRIPTIONS, now

MAX_ATTEMPTS = 10
FIRST_DELAY = 10.0        # seconds before the first retry, doubled after each failure
MAX_DELAY = 3600.0
TIMEOUT = 10.0
BATCH = 100


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, tolerance: float = 300.0) -> bool:
    """What a receiver checks (Python): the signature matches and is recent."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = signature(secret, timestamp, body).split("v1=")[1]
    return abs(time.time() - timestamp) <= tolerance and \
        hmac.compare_digest(expected, parts.get("v1", ""))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer like any other: not followed, not a success


_OPENER = urllib.request.build_opener(_NoRedirects)


def backoff(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failure: 10, 20, 40 ... at most an hour."""
    return min(MAX_DELAY, FIRST_DELAY * 2 ** (attempts - 1))


def post(url: str, secret: str, event: str, delivery: int, body: bytes, timeout: float
         ) -> tuple[int | None, str | None, str]:
    """(status code, error, the start of the response)."""
    timestamp = int(time.time())
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": "Rapport-Webhooks/1",
        "X-Rapport-Event": event, "X-Rapport-Delivery": str(delivery),
        "X-Rapport-Signature": signature(secret, timestamp, body)})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, None, response.read(1000).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        text = exc.read(1000).decode("utf-8", "replace") if exc.fp else ""
        return exc.code, f"HTTP {exc.code} {exc.reason}", text
    except TimeoutError:
        return None, f"no answer within {timeout:g} seconds", ""
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            return None, f"no answer within {timeout:g} seconds", ""
        return None, f"cannot connect: {reason}", ""


def deliver(workspace: Any, event_id: int, at: datetime | None = None) -> bool:
    """One attempt at one outbox event; True when the receiver took it (2xx)."""
    at = at or now()
    with workspace.engine.connect() as conn:
        row = conn.execute(select(OUTBOX, SUBSCRIPTIONS.c.url, SUBSCRIPTIONS.c.secret)
                           .join(SUBSCRIPTIONS, SUBSCRIPTIONS.c.id == OUTBOX.c.subscription_id)
                           .where(OUTBOX.c.id == event_id)).first()
    if row is None:
        return False
    timeout = float(settings(workspace, "webhooks").get("timeout", TIMEOUT))
    started = time.monotonic()
    status, error, response = post(row.url, row.secret, row.event, row.id,
                                   row.payload.encode("utf-8"), timeout)
    took = int((time.monotonic() - started) * 1000)
    ok = status is not None and 200 <= status < 300
    if status is not None and not ok and error is None:
        error = f"HTTP {status}"
    attempts = row.attempts + 1
    with workspace.transaction() as conn:
        number = int(conn.scalar(select(func.count()).select_from(ATTEMPTS)
                                 .where(ATTEMPTS.c.event_id == row.id)) or 0) + 1
        conn.execute(insert(ATTEMPTS).values(event_id=row.id, attempt=number, at=at,
                                             status_code=status, duration_ms=took, error=error,
                                             response=response[:1000] or None))
        values: dict[str, Any] = {"attempts": attempts, "last_status": status,
                                  "last_error": error}
        if ok:
            values.update(status="delivered", delivered_at=at, next_attempt_at=None)
        elif attempts >= MAX_ATTEMPTS:
            values.update(status="dead", next_attempt_at=None)
        else:
            values.update(status="pending",
                          next_attempt_at=at + timedelta(seconds=backoff(attempts)))
        conn.execute(update(OUTBOX).where(OUTBOX.c.id == row.id).values(values))
    return ok


def deliver_due(workspace: Any, at: datetime | None = None) -> int:
    """Every pending event whose time has come, oldest first; how many were delivered.
    Run by the worker every few seconds (one worker at a time: the job's lease)."""
    at = at or now()
    with workspace.engine.connect() as conn:
        ids = list(conn.scalars(select(OUTBOX.c.id).where(
            OUTBOX.c.status == "pending", OUTBOX.c.next_attempt_at <= at)
            .order_by(OUTBOX.c.id).limit(BATCH)))
    return sum(deliver(workspace, i, at) for i in ids)


def redeliver(workspace: Any, event_id: int) -> None:
    """Queue an event again (delivered, given up on, or waiting): sent on the next tick,
    with a fresh round of retries (the log keeps numbering its attempts)."""
    with workspace.transaction() as conn:
        conn.execute(update(OUTBOX).where(OUTBOX.c.id == event_id).values(
            status="pending", next_attempt_at=now(), attempts=0))


def body_of(event: Any) -> dict[str, Any]:
    return json.loads(event["payload"])
