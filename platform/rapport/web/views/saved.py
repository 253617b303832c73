"""Saved list views: a user's named filters, kept in the ``rapport_saved_view`` table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import delete, insert, select

if TYPE_CHECKING:
    from ...workspace import Workspace

KEYS = ("q", "f", "op", "v", "v2", "sort", "size")
MAX_VIEWS = 50


def clean_query_string(text: str) -> str:
    """Only the list parameters a view keeps (never a cursor), re-encoded."""
    pairs = [(k, v) for k, v in parse_qsl(text.lstrip("?"), keep_blank_values=True) if k in KEYS]
    return urlencode(pairs[:200])[:4000]


def ensure_table(ws: Workspace) -> None:
    """Workspaces made before the table existed get it here (once, when the app starts)."""
    ws.table("rapport_saved_view").create(ws.engine, checkfirst=True)


def _table(ws: Workspace) -> Any:
    return ws.table("rapport_saved_view")


def list_views(ws: Workspace, user_id: int, object_name: str) -> list[dict[str, Any]]:
    t = _table(ws)
    with ws.read_engine.connect() as conn:
        rows = conn.execute(select(t).where(t.c.user_id == user_id, t.c.object == object_name)
                            .order_by(t.c.name, t.c.id).limit(MAX_VIEWS)).all()
    return [dict(r._mapping) for r in rows]


def save_view(ws: Workspace, user_id: int, object_name: str, name: str, query_string: str) -> int:
    t = _table(ws)
    with ws.transaction() as conn:
        conn.execute(delete(t).where(t.c.user_id == user_id, t.c.object == object_name,
                                     t.c.name == name))
        result = conn.execute(insert(t).values(
            user_id=user_id, object=object_name, name=name,
            query_string=clean_query_string(query_string), created_at=datetime.now(UTC)))
        return int(result.inserted_primary_key[0])


def delete_view(ws: Workspace, user_id: int, object_name: str, view_id: int) -> bool:
    t = _table(ws)
    with ws.transaction() as conn:
        done = conn.execute(delete(t).where(t.c.id == view_id, t.c.user_id == user_id,
                                            t.c.object == object_name))
        return bool(done.rowcount)
