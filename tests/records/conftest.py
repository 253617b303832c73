"""Fixtures for the record service tests.

Building a workspace takes a good part of a second, so most tests share one per module
(``shared``, with the extra objects applied) and ``clean`` empties its tables after each
test; tests that change the metadata or need plugins build their own (``ws``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from recordkit import BASKET, GADGET
from sqlalchemy import delete

from databases import own_database
from rapport.auth.users import actor_of, create_user
from rapport.records.actor import Actor
from rapport.workspace import Workspace

#: Tables emptied between tests sharing a workspace (children first).
DATA_TABLES = ("item", "basket", "gadget", "quote_line", "quote", "activity", "opportunity",
               "contact", "lead", "product", "account", "rapport_history", "rapport_sequence")


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """One workspace per test module: core objects plus gadget, basket and item."""
    tmp = tmp_path_factory.mktemp("shared")
    with own_database(tmp) as url:
        workspace = Workspace.init(tmp / "ws", url)
        workspace.apply(workspace.documents_from([GADGET, *BASKET]))
        yield workspace
        workspace.close()


@pytest.fixture
def clean(shared: Workspace) -> Iterator[Workspace]:
    """The module's workspace, emptied of records (users kept) after the test."""
    yield shared
    with shared.transaction() as conn:
        for name in DATA_TABLES:
            conn.execute(delete(shared.table(name)))


@pytest.fixture
def gadget_ws(ws: Workspace) -> Workspace:
    ws.apply(ws.documents_from(GADGET))
    return ws


@pytest.fixture
def basket_ws(ws: Workspace) -> Workspace:
    ws.apply(ws.documents_from(BASKET))
    return ws


def _user(ws: Workspace, email: str, role: str) -> Actor:
    """A user of the team "Sales" (a manager edits what the team's members own)."""
    from rapport.auth.users import find_user
    from rapport.records.query import Cond, Query

    existing = find_user(ws, email)
    if existing is None:
        teams = ws.records.query("team", Query(filter=Cond("name", "eq", "Sales"))).data
        team = teams[0] if teams else ws.records.create("team", {"name": "Sales"})
        user = create_user(ws, email, role, "correct horse")
        existing = ws.records.update("user", user["id"], {"team": team["id"]})
    return actor_of(existing)


@pytest.fixture
def alice(clean: Workspace) -> Actor:
    return _user(clean, "alice@example.com", "member")


@pytest.fixture
def bob(clean: Workspace) -> Actor:
    return _user(clean, "bob@example.com", "manager")
