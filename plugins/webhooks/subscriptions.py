"""Subscriptions and the delivery log as data: read, check, write. The admin screens and
the REST API both go through these functions, each write in one transaction."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from rapport.errors import NotFound

from .store import ALL_OBJECTS, ATTEMPTS, EVENTS, OUTBOX, SUBSCRIPTIONS, new_secret, now

URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
STATUSES = ("pending", "delivered", "dead")


def objects(ws: Any) -> list[Any]:
    """The objects a webhook may follow (business objects, not the system's own)."""
    return sorted((o for o in ws.meta.objects.values() if not o.system), key=lambda o: o.name)


def read(ws: Any, given: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A subscription's values from a form or a JSON body, and its problems as
    (field, code): name_needed, bad_url, bad_object, events_needed."""
    raw_events = given.get("events")
    events = raw_events if isinstance(raw_events, list) else []
    active = given.get("active", True)
    values = {"name": str(given.get("name") or "").strip()[:200],
              "url": str(given.get("url") or "").strip()[:2000],
              "object": str(given.get("object") or ""),
              "events": [e for e in EVENTS if e in events],
              "active": active is True or str(active).lower() in {"1", "on", "true"}}
    problems = []
    if not values["name"]:
        problems.append(("name", "name_needed"))
    if not URL.match(values["url"]):
        problems.append(("url", "bad_url"))
    if values["object"] != ALL_OBJECTS and values["object"] not in {o.name for o in objects(ws)}:
        problems.append(("object", "bad_object"))
    if not values["events"] or any(e not in EVENTS for e in events):
        problems.append(("events", "events_needed"))
    return values, problems


def listing(ws: Any) -> list[dict[str, Any]]:
    with ws.engine.connect() as conn:
        counts = dict(conn.execute(select(OUTBOX.c.subscription_id, func.count())
                                   .where(OUTBOX.c.status == "pending")
                                   .group_by(OUTBOX.c.subscription_id)).all())
        rows = [dict(r._mapping) for r in conn.execute(
            select(SUBSCRIPTIONS).order_by(SUBSCRIPTIONS.c.id))]
    for r in rows:
        r["events"] = json.loads(r["events"])
        r["pending"] = counts.get(r["id"], 0)
    return rows


def get(ws: Any, sid: int) -> dict[str, Any]:
    with ws.engine.connect() as conn:
        row = conn.execute(select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == sid)).first()
    if row is None:
        raise NotFound(f"no webhook with id {sid}")
    out = dict(row._mapping)
    out["events"] = json.loads(out["events"])
    return out


def create(ws: Any, values: Mapping[str, Any], user_id: int | None) -> int:
    with ws.transaction() as conn:
        return int(conn.execute(insert(SUBSCRIPTIONS).values(
            **{**values, "events": json.dumps(values["events"])}, secret=new_secret(),
            created_at=now(), created_by=user_id)).inserted_primary_key[0])


def _change(ws: Any, sid: int, **values: Any) -> None:
    with ws.transaction() as conn:
        if conn.execute(update(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == sid)
                        .values(**values)).rowcount == 0:
            raise NotFound(f"no webhook with id {sid}")


def save(ws: Any, sid: int, values: Mapping[str, Any]) -> None:
    _change(ws, sid, **{**values, "events": json.dumps(values["events"])})


def rotate_secret(ws: Any, sid: int) -> None:
    _change(ws, sid, secret=new_secret())


def remove(ws: Any, sid: int) -> None:
    """The subscription with its outbox rows and their attempts."""
    with ws.transaction() as conn:
        ids = select(OUTBOX.c.id).where(OUTBOX.c.subscription_id == sid)
        conn.execute(delete(ATTEMPTS).where(ATTEMPTS.c.event_id.in_(ids)))
        conn.execute(delete(OUTBOX).where(OUTBOX.c.subscription_id == sid))
        if conn.execute(delete(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == sid)).rowcount == 0:
            raise NotFound(f"no webhook with id {sid}")


def events(ws: Any, status: str | None = None, sid: int | None = None, limit: int = 50,
           before: int | None = None) -> list[dict[str, Any]]:
    """The delivery log, newest first (``before``: ids below it, for the next page)."""
    stmt = select(OUTBOX.c.id, OUTBOX.c.event, OUTBOX.c.record_id, OUTBOX.c.object,
                  OUTBOX.c.created_at, OUTBOX.c.status, OUTBOX.c.attempts,
                  OUTBOX.c.next_attempt_at, OUTBOX.c.delivered_at, OUTBOX.c.last_status,
                  OUTBOX.c.last_error, SUBSCRIPTIONS.c.name.label("subscription"),
                  OUTBOX.c.subscription_id) \
        .join(SUBSCRIPTIONS, SUBSCRIPTIONS.c.id == OUTBOX.c.subscription_id) \
        .order_by(OUTBOX.c.id.desc()).limit(limit)
    if status in STATUSES:
        stmt = stmt.where(OUTBOX.c.status == status)
    if sid is not None:
        stmt = stmt.where(OUTBOX.c.subscription_id == sid)
    if before is not None:
        stmt = stmt.where(OUTBOX.c.id < before)
    with ws.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def event(ws: Any, eid: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One delivery with its payload and every attempt."""
    rows = events(ws, None, None, 1, eid + 1)
    if not rows or rows[0]["id"] != eid:
        raise NotFound(f"no webhook delivery with id {eid}")
    found = dict(rows[0])
    with ws.engine.connect() as conn:
        found["payload"] = conn.scalar(select(OUTBOX.c.payload).where(OUTBOX.c.id == eid))
        attempts = [dict(r._mapping) for r in conn.execute(
            select(ATTEMPTS).where(ATTEMPTS.c.event_id == eid).order_by(ATTEMPTS.c.id))]
    return found, attempts
