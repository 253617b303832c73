"""The webhook tables, subscriptions and the transactional outbox."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    insert,
    select,
)

from rapport.auth.access import MASK
from rapport.records.actor import Actor
from rapport.records.service import to_json
from rapport.storage.types import UTCDateTime

EVENTS = ("created", "updated", "deleted")
ALL_OBJECTS = "*"

TABLES = MetaData()
SUBSCRIPTIONS = Table(
    "webhooks_subscription", TABLES,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),
    Column("object", Text, nullable=False),        # an object name, or * for every object
    Column("events", Text, nullable=False),        # JSON list of created / updated / deleted
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", BigInteger))
OUTBOX = Table(
    "webhooks_event", TABLES,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
           autoincrement=True),
    Column("subscription_id", Integer, nullable=False),
    Column("event", Text, nullable=False),         # account.created ...
    Column("object", Text, nullable=False),
    Column("record_id", BigInteger, nullable=False),
    Column("payload", Text, nullable=False),       # the JSON body, exactly as sent
    Column("created_at", UTCDateTime, nullable=False),
    Column("status", Text, nullable=False),        # pending, delivered, dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime),
    Column("delivered_at", UTCDateTime),
    Column("last_status", Integer),
    Column("last_error", Text),
    Index("ix_webhooks_event_due", "status", "next_attempt_at"),
    Index("ix_webhooks_event_subscription", "subscription_id", "id"))
ATTEMPTS = Table(
    "webhooks_attempt", TABLES,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
           autoincrement=True),
    Column("event_id", BigInteger, nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("status_code", Integer),
    Column("duration_ms", Integer, nullable=False),
    Column("error", Text),
    Column("response", Text))                      # the first 1000 characters


def now() -> datetime:
    return datetime.now(UTC)


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(24)


def payload(workspace: Any, object_name: str, event: str, record: Mapping[str, Any],
            previous: Mapping[str, Any] | None, user: Actor, at: datetime) -> dict[str, Any]:
    """The body of one webhook call, built here and nowhere else: the record's values as
    the REST API shows them, and for an update the fields that changed (old and new).
    Sensitive values (``"sensitive": true``) leave masked, as in a list: the receiver learns
    that one changed, never what it is."""
    obj = workspace.meta.objects.get(object_name)
    sensitive = obj.sensitive_names if obj is not None else frozenset()

    def shown(name: str, value: Any) -> Any:
        return MASK if name in sensitive and value is not None else to_json(value)

    body: dict[str, Any] = {
        "id": str(uuid.uuid4()), "event": f"{object_name}.{event}", "object": object_name,
        "record_id": record["id"], "occurred_at": at.isoformat(),
        "user": {"id": user.id, "email": user.email},
        "record": {k: shown(k, v) for k, v in record.items()},
    }
    if event == "updated" and previous is not None:
        body["changes"] = {k: {"old": shown(k, previous.get(k)), "new": shown(k, v)}
                           for k, v in record.items()
                           if k not in {"updated_at", "version"} and previous.get(k) != v}
    return body


def subscriptions_for(conn: Connection, object_name: str, event: str) -> list[dict[str, Any]]:
    rows = conn.execute(select(SUBSCRIPTIONS).where(
        SUBSCRIPTIONS.c.active.is_(True),
        SUBSCRIPTIONS.c.object.in_([object_name, ALL_OBJECTS]))).all()
    return [dict(r._mapping) for r in rows if event in json.loads(r.events)]


def enqueue(workspace: Any, conn: Connection, object_name: str, event: str,
            record: Mapping[str, Any], previous: Mapping[str, Any] | None, user: Actor) -> int:
    """Outbox rows for every subscription wanting this event, written through the change's
    own connection: they commit with it, or vanish with it."""
    subs = subscriptions_for(conn, object_name, event)
    if not subs:
        return 0
    at = now()
    body = json.dumps(payload(workspace, object_name, event, record, previous, user, at),
                      ensure_ascii=False, separators=(",", ":"), default=str)
    conn.execute(insert(OUTBOX), [
        {"subscription_id": s["id"], "event": f"{object_name}.{event}", "object": object_name,
         "record_id": record["id"], "payload": body, "created_at": at, "status": "pending",
         "attempts": 0, "next_attempt_at": at} for s in subs])
    return len(subs)
