"""Users with the access a test relies on: a role and a team (a manager reads and edits
what their team's members own; a member reads the team's and edits their own)."""

from __future__ import annotations

from typing import Any

from rapport.auth.users import create_user, find_user
from rapport.records.query import Cond, Query
from rapport.workspace import Workspace


def team_of(ws: Workspace, name: str = "Sales") -> int:
    found = ws.records.query("team", Query(filter=Cond("name", "eq", name), limit=1)).data
    return found[0]["id"] if found else ws.records.create("team", {"name": name})["id"]


def team_user(ws: Workspace, email: str, role: str = "member", password: str | None = None,
              team: str | None = "Sales", **values: Any) -> dict[str, Any]:
    """A user of ``team`` (created when missing), or the existing user moved there."""
    user = find_user(ws, email) or create_user(ws, email, role, password)
    changes = dict(values)
    if team is not None:
        changes["team"] = team_of(ws, team)
    return ws.records.update("user", user["id"], changes) if changes else user
