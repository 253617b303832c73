"""CSRF on every state-changing route (enumerated from the router, so a new route is
covered) and IDOR: another user's ids on every record, approval and report route."""

from __future__ import annotations

import re

import pytest
from securitykit import Org
from starlette.routing import Mount, Route

SAFE = {"GET", "HEAD", "OPTIONS"}


def routes(app, prefix: str = "") -> list[tuple[str, set[str]]]:
    out = []
    for r in app.routes if hasattr(app, "routes") else app.router.routes:
        if isinstance(r, Mount):
            if r.app is not None and hasattr(r.app, "routes"):
                out += routes(r.app, prefix + r.path)
        elif isinstance(r, Route):
            out.append((prefix + r.path, set(r.methods or ())))
    return out


def concrete(path: str, org: Org) -> str:
    """The route's path with ids of records that exist (sam's deal)."""
    values = {"object": "opportunity", "id": str(org.deals["sam"]), "name": "amount_by_stage",
              "field": "description", "action": "mark", "view_id": "1", "share_id": "1",
              "code": "member", "plugin": "x", "path": "x"}

    def fill(m: re.Match) -> str:
        key = m.group(1).split(":")[0]
        return values.get(key, "1")
    return re.sub(r"\{([^}]+)\}", fill, path)


def writes(org: Org) -> list[tuple[str, str]]:
    found = [(m, p) for p, methods in routes(org.app) for m in methods - SAFE]
    assert len(found) > 20  # the router really was read
    return sorted(found)


def test_every_state_changing_route_refuses_a_missing_or_forged_csrf_token(org: Org) -> None:
    client = org.screen("ann")  # an admin session: every route would otherwise go through
    before = org.ws.records.count("opportunity", __import__("rapport.records.query",
                                                           fromlist=["Query"]).Query())
    refused = []
    for method, path in writes(org):
        url = concrete(path, org)
        for headers, data in (({}, {}), ({"x-csrf-token": "forged"}, {"csrf_token": "forged"}),
                              ({"HX-Request": "true"}, {"csrf_token": ""})):
            r = client.request(method, url, headers=headers, data=data or None,
                               follow_redirects=False)
            assert r.status_code in (403, 404, 405), (method, url, r.status_code, r.text[:200])
        refused.append((method, url))
    assert org.ws.records.get("opportunity", org.deals["sam"])["name"] == "sam deal"
    assert org.ws.records.count("opportunity", __import__(
        "rapport.records.query", fromlist=["Query"]).Query()) == before
    assert ("POST", "/login") in refused and any(u.startswith("/admin") for _m, u in refused)


def test_csrf_refusal_is_403_on_a_real_record_write(org: Org) -> None:
    client = org.screen("sam")
    rid = org.deals["sam"]
    r = client.post(f"/o/opportunity/{rid}/edit", data={"name": "csrf", "csrf_token": "nope"})
    assert r.status_code == 403
    r = client.patch(f"/api/v1/records/opportunity/{rid}", json={"name": "csrf"})
    assert r.status_code == 403
    assert org.ws.records.get("opportunity", rid)["name"] == "sam deal"


GET_ROUTES = [
    "/api/v1/records/opportunity/{id}", "/api/v1/records/opportunity/{id}/history",
    "/api/v1/records/opportunity/{id}/stages", "/api/v1/records/opportunity/{id}/shares",
    "/api/v1/records/opportunity/{id}/reveal/description",
    "/o/opportunity/{id}", "/o/opportunity/{id}/edit", "/o/opportunity/{id}/delete",
    "/o/opportunity/{id}/field/name", "/o/opportunity/{id}/field/name/edit",
]


@pytest.mark.parametrize("path", GET_ROUTES)
def test_another_users_record_ids_are_not_found(org: Org, path: str) -> None:
    """oscar (West) asks for sam's (East) deal by id on every record route."""
    url = path.replace("{id}", str(org.deals["sam"]))
    client = org.api("oscar") if url.startswith("/api") else org.screen("oscar")
    r = client.get(url)
    assert r.status_code == 404, (url, r.status_code)
    assert "sam deal" not in r.text


def test_another_users_ids_on_write_routes(org: Org) -> None:
    api = org.api("oscar")
    rid = org.deals["sam"]
    for method, url, body in [
            ("PATCH", f"/api/v1/records/opportunity/{rid}", {"name": "x"}),
            ("DELETE", f"/api/v1/records/opportunity/{rid}", None),
            ("POST", f"/api/v1/records/opportunity/{rid}/transition", {"to": "qualification"}),
            ("POST", f"/api/v1/records/opportunity/{rid}/shares", {"user": 1}),
            ("POST", f"/api/v1/records/opportunity/{rid}/approvals", {}),
            ("GET", f"/api/v1/records/opportunity/{rid}/approvals", None),
            ("POST", "/api/v1/records/opportunity", {"name": "x", "account": org.accounts["sam"]})]:
        r = api.request(method, url, json=body)
        assert r.status_code in (404, 422), (method, url, r.status_code, r.text[:200])
        assert "sam deal" not in r.text and "sam account" not in r.text
    # a deal oscar owns cannot be pointed at sam's account either
    r = api.patch(f"/api/v1/records/opportunity/{org.deals['oscar']}",
                  json={"account": org.accounts["sam"]})
    assert r.status_code in (404, 422)
    assert org.ws.records.get("opportunity", rid)["name"] == "sam deal"


def test_approvals_and_reports_with_another_users_ids(org: Org) -> None:
    ws = org.ws
    quote = ws.records.create("quote", {"name": "Q", "discount": 40,
                                        "owner": org.actors["sam"].id})
    sam = org.api("sam")
    sub = sam.post(f"/api/v1/records/quote/{quote['id']}/approvals", json={})
    assert sub.status_code in (200, 201), sub.text
    rid = sub.json()["id"]
    oscar = org.api("oscar")
    assert oscar.get(f"/api/v1/records/quote/{quote['id']}/approvals").status_code == 404
    if rid is not None:
        for method, url in [("GET", f"/api/v1/approvals/{rid}"),
                            ("POST", f"/api/v1/approvals/{rid}/approve"),
                            ("POST", f"/api/v1/approvals/{rid}/reject"),
                            ("POST", f"/api/v1/approvals/{rid}/recall")]:
            r = oscar.request(method, url, json={"comment": "x"})
            assert r.status_code in (403, 404), (url, r.status_code)
    drill = oscar.get('/api/v1/reports/amount_by_stage/records?keys=["prospecting"]')
    assert drill.status_code == 200 and "sam deal" not in drill.text
    page = org.screen("oscar").get('/reports/amount_by_stage/records?keys=["prospecting"]')
    assert "sam deal" not in page.text
