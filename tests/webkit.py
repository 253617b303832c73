"""Test clients: logged in through the login form, the CSRF token of a page, and a client
with a Bearer token. Shared by the API, screen, security and pack tests."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

PASSWORD = "correct horse battery"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_of(page: str) -> str:
    found = CSRF_INPUT.search(page) or CSRF_META.search(page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD) -> TestClient:
    page = client.get("/login")
    response = client.post("/login", data={"email": email, "password": password,
                                           "csrf_token": csrf_of(page.text), "next": "/"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


class Api:
    """A client with a Bearer token."""

    def __init__(self, client: TestClient, token: str):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def __getattr__(self, method: str):  # type: ignore[no-untyped-def]
        def call(url: str, **kwargs):  # type: ignore[no-untyped-def]
            headers = {**self.headers, **kwargs.pop("headers", {})}
            return getattr(self.client, method)(url, headers=headers, **kwargs)
        return call
