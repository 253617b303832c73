"""The audit log: who did what that matters to security (logins, role and permission
changes, metadata changes, exports, reveals of sensitive values, API tokens)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from ..records.actor import Actor

if TYPE_CHECKING:
    from ..workspace import Workspace

EVENTS = ("login_ok", "login_failed", "login_throttled", "logout", "role_changed",
          "permission_changed", "user_changed", "metadata_changed", "export", "reveal",
          "token_created", "token_revoked", "share_changed")
COLUMNS = ("id", "at", "event", "user_id", "email", "address", "object", "record_id", "detail")


def record(ws: Workspace, event: str, actor: Actor | None = None, *, email: str | None = None,
           address: str | None = None, object_name: str | None = None,
           record_id: int | None = None, detail: Mapping[str, Any] | None = None,
           conn: Any = None) -> None:
    """Add an entry (in ``conn``'s transaction when given, else in its own)."""
    values = {"at": datetime.now(UTC), "event": event,
              "user_id": actor.id if actor is not None else None,
              "email": email or (actor.email if actor is not None else None),
              "address": (address or "")[:100] or None, "object": object_name,
              "record_id": record_id,
              "detail": json.dumps(dict(detail), ensure_ascii=False, default=str)
              if detail else None}
    stmt = insert(ws.table("rapport_audit")).values(values)
    if conn is not None:
        conn.execute(stmt)
        return
    with ws.transaction() as c:
        c.execute(stmt)


def entries(ws: Workspace, event: str | None = None, limit: int = 200,
            before: int | None = None) -> list[dict[str, Any]]:
    """The newest entries (of one event), before the entry id ``before``."""
    t = ws.table("rapport_audit")
    stmt = select(t).order_by(t.c.id.desc()).limit(limit)
    if event:
        stmt = stmt.where(t.c.event == event)
    if before:
        stmt = stmt.where(t.c.id < before)
    with ws.read_engine.connect() as conn:
        out = []
        for r in conn.execute(stmt):
            item = dict(r._mapping)
            item["detail"] = json.loads(item["detail"]) if item["detail"] else None
            out.append(item)
        return out


def csv_lines(ws: Workspace, event: str | None = None) -> Iterator[str]:
    """The whole log as CSV, newest first (cells a spreadsheet would run are quoted)."""
    from ..records.transfer import safe_cell

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    yield buf.getvalue()
    before = None
    while batch := entries(ws, event, 1000, before):
        buf.seek(0)
        buf.truncate()
        for item in batch:
            writer.writerow([safe_cell(_cell(item[c])) for c in COLUMNS])
        yield buf.getvalue()
        before = batch[-1]["id"]


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return value
