from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from rapport.auth.users import create_token, create_user
from rapport.web.app import create_app
from rapport.workspace import Workspace


class Api:
    """A client with a Bearer token."""

    def __init__(self, client: TestClient, token: str):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def __getattr__(self, method: str):
        def call(url: str, **kwargs):
            headers = {**self.headers, **kwargs.pop("headers", {})}
            return getattr(self.client, method)(url, headers=headers, **kwargs)
        return call


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
