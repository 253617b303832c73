"""A sales workspace to attack: two teams, an admin, a manager and two reps in one team, a
rep of the other team, deals owned by each, and clients logged in as each (API tokens and
screen sessions)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.testclient import TestClient

from accesskit import team_user
from rapport.auth.users import actor_of, create_token, create_user
from rapport.records.actor import Actor
from rapport.web.app import create_app
from rapport.workspace import Workspace

PASSWORD = "correct horse battery"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_of(page: str) -> str:
    found = CSRF_INPUT.search(page) or CSRF_META.search(page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD) -> TestClient:
    page = client.get("/login")
    r = client.post("/login", data={"email": email, "password": password,
                                    "csrf_token": csrf_of(page.text), "next": "/"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


@dataclass
class Org:
    ws: Workspace
    app: Any
    actors: dict[str, Actor] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    deals: dict[str, int] = field(default_factory=dict)     # owner name -> opportunity id
    accounts: dict[str, int] = field(default_factory=dict)

    def api(self, who: str) -> TestClient:
        c = TestClient(self.app, raise_server_exceptions=False)
        c.headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return c

    def screen(self, who: str) -> TestClient:
        return login(TestClient(self.app, raise_server_exceptions=False),
                     self.actors[who].email)


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


def _by_email(email: str) -> Any:
    from rapport.records.query import Cond, Query

    return Query(filter=Cond("email", "eq", email), limit=1)


#: who reads whose deals, by DESIGN.md's defaults
READS = {"ann": {"ann", "maria", "sam", "lin", "oscar"}, "maria": {"maria", "sam", "lin"},
         "sam": {"maria", "sam", "lin"}, "lin": {"maria", "sam", "lin"}, "oscar": {"oscar"}}
#: who edits whose deals
EDITS = {"ann": READS["ann"], "maria": {"maria", "sam", "lin"}, "sam": {"sam"},
         "lin": {"lin"}, "oscar": {"oscar"}}
