"""The security tests' workspace: see securitykit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from securitykit import PASSWORD, Org, _by_email
from starlette.testclient import TestClient

from accesskit import team_user
from rapport.auth.users import actor_of, create_token, create_user
from rapport.web.app import create_app
from rapport.workspace import Workspace


@pytest.fixture
def org(ws: Workspace) -> Iterator[Org]:
    """ann (admin); maria (manager of East) with sam and lin (members of East); oscar
    (member of West). Each owns one account and one deal."""
    app = create_app(ws)
    o = Org(ws, app)
    create_user(ws, "ann@example.com", "admin", PASSWORD, full_name="Ann Admin")
    people = {"maria": ("manager", "East"), "sam": ("member", "East"),
              "lin": ("member", "East"), "oscar": ("member", "West")}
    o.actors["ann"] = actor_of(ws.records.query("user", _by_email("ann@example.com")).data[0])
    for name, (role, team) in people.items():
        boss = {"manager": o.actors["maria"].id} if name in {"sam", "lin"} else {}
        o.actors[name] = actor_of(team_user(ws, f"{name}@example.com", role, PASSWORD, team,
                                            full_name=name.capitalize(), **boss))
    for name, actor in o.actors.items():
        o.tokens[name] = create_token(ws, actor.email)
        acc = ws.records.create("account", {"name": f"{name} account", "owner": actor.id})
        o.accounts[name] = acc["id"]
        o.deals[name] = ws.records.create("opportunity", {
            "name": f"{name} deal", "amount": 1000, "account": acc["id"],
            "owner": actor.id})["id"]
    with TestClient(app, raise_server_exceptions=False):
        yield o


