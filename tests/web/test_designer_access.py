"""Only admins reach the designer: every /designer route (enumerated from the app's
router, so new ones are covered) answers 403 to a member and a manager, and they see no
designer link. State-changing requests need the CSRF token."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from conftest import PASSWORD, csrf_of, login
from rapport.auth.users import create_user
from rapport.web.app import create_app
from rapport.workspace import Workspace

SAMPLE = {"object": "account", "field": "name", "rule": "r1", "kind": "workflow",
          "name": "opportunity_sales", "revision": "1"}


def designer_routes(app: Any) -> list[tuple[str, str]]:
    out = []
    for route in app.routes:
        if isinstance(route, Route) and route.path.startswith("/designer"):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                path = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: SAMPLE[m.group(1)], route.path)
                out.append((method, path))
    return out


@pytest.mark.parametrize("role", ["member", "manager"])
def test_non_admins_get_403_on_every_designer_route(ws: Workspace, role: str) -> None:
    create_user(ws, f"{role}@example.com", role, PASSWORD, full_name="Not Admin")
    app = create_app(ws)
    client = login(TestClient(app), f"{role}@example.com")
    routes = designer_routes(app)
    assert len(routes) >= 30, routes
    token = csrf_of(client.get("/").text)
    for method, path in routes:
        r = client.request(method, path, data={"csrf_token": token} if method == "POST" else None,
                           follow_redirects=False)
        assert r.status_code == 403, (method, path, r.status_code)
    home = client.get("/").text
    assert "/designer" not in home and 'id="nav-designer"' not in home
    assert ws.meta.objects["account"].field_names == ws.refresh().objects["account"].field_names


def test_signed_out_visitors_are_sent_to_login(ws: Workspace) -> None:
    app = create_app(ws)
    client = TestClient(app)
    for method, path in designer_routes(app):
        r = client.request(method, path, follow_redirects=False)
        assert r.status_code in {303, 401, 403}, (method, path, r.status_code)
        if method == "GET":
            assert r.headers["location"].startswith("/login")


def test_admin_sees_the_link_and_posts_need_csrf(client: TestClient, ws: Workspace) -> None:
    assert 'id="nav-designer"' in client.get("/").text
    r = client.post("/designer/objects/new", data={"name": "project"}, follow_redirects=False)
    assert r.status_code == 403
    r = client.post("/designer/apply", data={"payload": "{}", "revision": "1"},
                    follow_redirects=False)
    assert r.status_code == 403
    assert "project" not in ws.refresh().objects


def test_admin_gets_every_get_screen(client: TestClient, ws: Workspace) -> None:
    """Every GET route renders for an admin (200, or a redirect / 404 for sample names)."""
    app = client.app
    for method, path in designer_routes(app):
        if method != "GET":
            continue
        r = client.get(path, follow_redirects=False)
        assert r.status_code in {200, 303, 404}, (path, r.status_code, r.text[-500:])
        assert r.status_code != 500


GARBAGE = [{}, {"name": "x" * 500, "type": "lookup", "target": "nowhere", "order": ",,,",
                "payload": "[1, 2]", "revision": "abc", "body": "{\"a\": [}",
                "opt_value": ["a", "a"], "opt_was": ["zz"], "section_fields": ["name,name"],
                "st_name": ["a"], "st_probability": ["NaN"], "tr_from": ["*"], "tr_index": ["99"],
                "sp_name": ["s"], "sp_kind": ["evil"], "sp_index": ["-1"], "sp_mode": ["quorum"],
                "when": "__import__('os')", "expression": "().__class__", "max_length": "-1",
                "min": "inf", "default": "\x00", "check_mode": "rule", "test_all": "1",
                "preview_record": "99999"},
           {"payload": json.dumps({"docs": [["object", {"name": "x", "fields": "no"}]]}),
            "revision": "1", "confirm_loss": "1"}]


def test_bad_input_on_every_post_route_is_never_a_500(client: TestClient, ws: Workspace) -> None:
    token = csrf_of(client.get("/designer").text)
    for method, path in designer_routes(client.app):
        if method != "POST":
            continue
        for data in GARBAGE:
            r = client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)
            assert r.status_code < 500, (path, data, r.text[-1500:])
    assert ws.refresh().objects["account"].has_field("name")
