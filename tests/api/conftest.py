from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from rapport.auth.users import create_token, create_user
from rapport.web.app import create_app
from rapport.workspace import Workspace
from webkit import Api


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
