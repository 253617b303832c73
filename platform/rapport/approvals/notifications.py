"""In-app notifications (``ws.notifications``): a row per user and event, written in the
transaction of what they announce, read and marked read by their user."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, select, update

from ..records.actor import Actor

if TYPE_CHECKING:
    from ..workspace import Workspace

KINDS = ("approval_assigned", "approval_decided", "approval_recalled", "stage_changed")
MAX_LIST = 200


class Notifications:
    def __init__(self, ws: Workspace):
        self.ws = ws

    def notify(self, c: Connection, user_ids: Iterable[int | None], kind: str, message: str,
               object: str | None = None, record_id: int | None = None,
               request_id: int | None = None, data: Mapping[str, Any] | None = None,
               skip: int | None = None) -> int:
        """One notification per user (each once; None ids and ``skip``, usually the user
        acting, left out), inside the transaction ``c``. Returns how many were written."""
        if kind not in KINDS:
            raise ValueError(f"unknown notification kind '{kind}' (one of {', '.join(KINDS)})")
        users = [u for u in dict.fromkeys(user_ids) if u is not None and u != skip]
        if not users:
            return 0
        now = datetime.now(UTC)
        payload = json.dumps(dict(data), ensure_ascii=False, default=str) if data else None
        c.execute(insert(self.ws.table("rapport_notification")), [
            {"user_id": u, "kind": kind, "object": object, "record_id": record_id,
             "request_id": request_id, "message": message, "data": payload, "created_at": now}
            for u in users])
        return len(users)

    def list(self, actor: Actor, unread_only: bool = False,
             limit: int = 50) -> Sequence[dict[str, Any]]:
        """The actor's notifications, newest first: {id, kind, object, record_id,
        request_id, message, data, created_at, read_at}."""
        if actor.id is None:
            return []
        n = self.ws.table("rapport_notification")
        stmt = select(n).where(n.c.user_id == actor.id)
        if unread_only:
            stmt = stmt.where(n.c.read_at.is_(None))
        stmt = stmt.order_by(n.c.id.desc()).limit(max(1, min(limit, MAX_LIST)))
        with self.ws.read_engine.connect() as c:
            rows = c.execute(stmt).all()
        out = []
        for r in rows:
            item = dict(r._mapping)
            item.pop("user_id")
            item["data"] = json.loads(item["data"]) if item["data"] else {}
            out.append(item)
        return out

    def unread_count(self, actor: Actor) -> int:
        if actor.id is None:
            return 0
        n = self.ws.table("rapport_notification")
        with self.ws.read_engine.connect() as c:
            return int(c.scalar(select(func.count()).select_from(n).where(
                n.c.user_id == actor.id, n.c.read_at.is_(None))) or 0)

    def mark_read(self, actor: Actor, ids: Iterable[int] | None = None) -> int:
        """Mark the actor's notifications read (``ids``, or all); returns how many were
        unread. Other users' ids are ignored."""
        if actor.id is None:
            return 0
        n = self.ws.table("rapport_notification")
        stmt = update(n).where(n.c.user_id == actor.id, n.c.read_at.is_(None))
        if ids is not None:
            wanted = sorted({i for i in ids if isinstance(i, int) and 0 < i < 2**63})
            if not wanted:
                return 0
            stmt = stmt.where(n.c.id.in_(wanted))
        with self.ws.transaction() as c:
            return c.execute(stmt.values(read_at=datetime.now(UTC))).rowcount
