"""Roles beyond the built-in three: a ``role`` record, and its code an option of the
``user.role`` picklist (what a user holds). The admin screens and the template packs
both make roles through this module."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..meta.loader import Document

if TYPE_CHECKING:
    from ..workspace import Workspace


def role_label(role: Mapping[str, Any]) -> Any:
    """A role's label: its ``label``, else its code made readable."""
    return role.get("label") or role["code"].replace("_", " ").capitalize()


def user_role_documents(ws: Workspace, roles: Sequence[Mapping[str, Any]]) -> list[Document]:
    """The ``user`` object with the roles (``{"code", "label"?}``) missing from its ``role``
    picklist added, to apply with other definitions in one revision; none when none is
    missing."""
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
        options.extend({"value": r["code"], "label": role_label(r)} for r in missing)
        return [Document("object", data, "user.role roles")]
    return []


def add_role_option(ws: Workspace, code: str, title: str) -> bool:
    """Make ``code`` an option of ``user.role`` (a metadata change, recorded as such);
    False when it already is one."""
    docs = user_role_documents(ws, [{"code": code, "label": {"en": title, "zh-CN": title}}])
    if not docs:
        return False
    ws.apply(docs, author="admin", comment=f"role {code}")
    return True
