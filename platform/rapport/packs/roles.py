"""The roles a pack's approval flows and transitions name.

This is the one place that knows how a role is made: a ``role`` record keyed by its
``code``, and (until roles are records users point at) an option of the ``user.role``
picklist, so a user can be given the role and approval steps find them."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from ..meta.loader import Document
from ..records.actor import SYSTEM

if TYPE_CHECKING:
    from ..workspace import Workspace


def _label(role: Mapping[str, Any]) -> Any:
    return role.get("label") or role["code"].replace("_", " ").capitalize()


def _title(role: Mapping[str, Any]) -> str:
    label = _label(role)
    return str(label.get("en") or next(iter(label.values()))) if isinstance(label, Mapping) \
        else str(label)


def user_role_documents(ws: Workspace, roles: Sequence[Mapping[str, Any]]) -> list[Document]:
    """The ``user`` object with the roles missing from its ``role`` picklist added (no
    document when none is missing), to apply with other definitions in one revision."""
    # until roles are records users point at: a user's role is an option of user.role
    user = ws.state.documents.get(("object", "user"))
    if user is None:
        return []
    data = copy.deepcopy(dict(user))
    for f in data["fields"]:
        if f["name"] != "role":
            continue
        options = f.setdefault("options", [])
        have = {o if isinstance(o, str) else o.get("value") for o in options}
        missing = [r for r in roles if r["code"] not in have]
        if not missing:
            return []
        options.extend({"value": r["code"], "label": _label(r)} for r in missing)
        return [Document("object", data, "user.role roles")]
    return []


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
