"""Fixtures of the pack tests: a workspace per test, and one workspace holding all four
packs with their sample data, shared by the tests that only read it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from databases import own_database
from rapport.auth.users import create_token, create_user
from rapport.packs import PackManager
from rapport.web.app import create_app
from rapport.workspace import Workspace
from webkit import Api

PACKS = ("manufacturing", "education", "healthcare", "finance")
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def all_packs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """Every pack with its sample data, installed once per module: tests only read it."""
    tmp = tmp_path_factory.mktemp("all_packs")
    with own_database(tmp) as url:
        ws = Workspace.init(tmp / "ws", url)
        pm = PackManager(ws)
        for name in PACKS:
            pm.install(name, sample_data=True)
        yield ws
        ws.close()


@pytest.fixture
def client(ws: Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(ws), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def admin(ws: Workspace, client: TestClient) -> Api:
    create_user(ws, "admin@example.com", "admin", "long password")
    return Api(client, create_token(ws, "admin@example.com"))


@pytest.fixture
def member(ws: Workspace, client: TestClient) -> Api:
    create_user(ws, "member@example.com", "member", "long password")
    return Api(client, create_token(ws, "member@example.com"))


def user_with_role(ws: Workspace, client: TestClient, email: str, role: str,
                   manager: int | None = None) -> Api:
    """A user holding a pack role (roles beyond admin/manager/member come with packs)."""
    values = {"email": email, "full_name": email.split("@")[0], "role": role}
    if manager:
        values["manager"] = manager
    ws.records.create("user", values)
    return Api(client, create_token(ws, email))
