"""Helpers of the security tests. The workspace they attack (the ``org`` fixture): two
teams, an admin, a manager and two reps in one team, a rep of the other team, deals owned
by each, and clients logged in as each (API tokens and screen sessions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.testclient import TestClient

from rapport.records.actor import Actor
from rapport.workspace import Workspace
from webkit import PASSWORD, csrf_of, login  # noqa: F401 (re-exported)


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


def _by_email(email: str) -> Any:
    from rapport.records.query import Cond, Query

    return Query(filter=Cond("email", "eq", email), limit=1)


#: who reads whose deals, by DESIGN.md's defaults
READS = {"ann": {"ann", "maria", "sam", "lin", "oscar"}, "maria": {"maria", "sam", "lin"},
         "sam": {"maria", "sam", "lin"}, "lin": {"maria", "sam", "lin"}, "oscar": {"oscar"}}
#: who edits whose deals
EDITS = {"ann": READS["ann"], "maria": {"maria", "sam", "lin"}, "sam": {"sam"},
         "lin": {"lin"}, "oscar": {"oscar"}}
