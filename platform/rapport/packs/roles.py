"""The roles a pack's approval flows and transitions name: a ``role`` record keyed by its
``code``, and an option of the ``user.role`` picklist (``auth.roles``), so a user can be
given the role and approval steps find them. Until an admin sets its permissions, a
pack's role reads and edits as a member does (docs/security.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from ..auth.roles import role_label, user_role_documents
from ..records.actor import SYSTEM

if TYPE_CHECKING:
    from ..workspace import Workspace


def _title(role: Mapping[str, Any]) -> str:
    label = role_label(role)
    return str(label.get("en") or next(iter(label.values()))) if isinstance(label, Mapping) \
        else str(label)


def ensure_roles(ws: Workspace, roles: Sequence[Mapping[str, Any]],
                 conn: Connection | None = None) -> list[str]:
    """Create the role records that are missing and make their codes assignable to users.
    Returns the codes created."""
    if not roles:
        return []
    docs = user_role_documents(ws, roles)
    if docs:
        ws.apply(docs, author="system", comment="roles", conn=conn)
    created = []
    with ws.within(conn) as c:
        table = ws.table("role")
        have = set(c.scalars(select(table.c.code)))
        rows = [{"code": r["code"], "title": _title(r)[:100], "description": r.get("description")}
                for r in roles if r["code"] not in have]
        if rows:
            result = ws.records.create_many("role", rows, SYSTEM, conn=c)
            if result.errors:
                from ..errors import ValidationError
                raise ValidationError(result.errors[0][1])
            created = [r["code"] for r in rows]
    return created
