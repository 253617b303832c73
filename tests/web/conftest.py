"""Fixtures for the screens: a logged-in browser-like client on a fresh workspace."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from rapport.auth.users import create_user
from rapport.web.app import create_app
from rapport.workspace import Workspace
from webkit import PASSWORD, csrf_of, login


def text_of(page: str, element_id: str) -> str:
    """The text inside the element with this id (tags stripped, entities decoded)."""
    m = re.search(rf'id="{re.escape(element_id)}"[^>]*>(.*?)</(p|div|span|section|header|td|li)>',
                  page, re.S)
    assert m, f"no element #{element_id}"
    return html.unescape(re.sub(r"<[^>]+>", " ", m.group(1))).strip()


def block(page: str, element_id: str, tag: str) -> str:
    """The text of the ``tag`` element with this id (one that holds no element of its kind)."""
    m = re.search(rf'<{tag}\b[^>]*id="{re.escape(element_id)}"[^>]*>(.*?)</{tag}>', page, re.S)
    assert m, f"no <{tag}> #{element_id}"
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", m.group(1)))).strip()


def input_value(page: str, element_id: str) -> str:
    m = re.search(rf'<(?:input|textarea)[^>]*id="{re.escape(element_id)}"[^>]*?(?:value="([^"]*)"[^>]*)?>'
                  rf'(?:([^<]*)</textarea>)?', page, re.S)
    assert m, f"no input #{element_id}"
    return html.unescape(m.group(1) if m.group(1) is not None else (m.group(2) or ""))


@pytest.fixture
def admin(ws: Workspace) -> dict[str, Any]:
    return create_user(ws, "ann@example.com", "admin", PASSWORD, full_name="Ann Admin")


@pytest.fixture
def app_client(ws: Workspace) -> Iterator[TestClient]:
    """A client that is not logged in."""
    # not entered as a context manager: the lifespan would close the workspace the
    # ws fixture closes
    yield TestClient(create_app(ws))


@pytest.fixture
def client(app_client: TestClient, admin: dict[str, Any]) -> TestClient:
    """A client logged in as an admin."""
    return login(app_client, admin["email"])


@pytest.fixture
def token(client: TestClient) -> str:
    return csrf_of(client.get("/").text)
