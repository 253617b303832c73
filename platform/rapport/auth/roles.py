"""Roles beyond the built-in three: a ``role`` record, and its code an option of the
``user.role`` picklist (what a user holds)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..workspace import Workspace


def add_role_option(ws: Workspace, code: str, title: str) -> bool:
    """Make ``code`` an option of ``user.role`` (a metadata change, recorded as such);
    False when it already is one."""
    doc = copy.deepcopy(dict(ws.state.documents[("object", "user")]))
    for f in doc["fields"]:
        if f["name"] == "role":
            if any(o.get("value") == code for o in f.get("options") or []):
                return False
            f.setdefault("options", []).append({"value": code,
                                                "label": {"en": title, "zh-CN": title}})
    ws.apply(ws.documents_from({**doc, "kind": "object"}), author="admin",
             comment=f"role {code}")
    return True
