"""Sensitive values masked and revealed with an audit entry; accounts: the last admin,
login throttling, sessions, API token scopes and revocation; the admin screens."""

from __future__ import annotations

import csv
import io
import re

from securitykit import PASSWORD, Org, csrf_of
from starlette.testclient import TestClient

from rapport.auth import audit
from rapport.auth.access import MASK
from rapport.auth.users import MAX_ACCOUNT_FAILURES, create_token, tokens_of
from rapport.auth.users import login as do_login
from rapport.records.query import Query

SSN = {"name": "ssn", "type": "text", "sensitive": True, "label": {"en": "SSN", "zh-CN": "身份证号"}}


def _sensitive(org: Org) -> int:
    doc = dict(org.ws.state.documents[("object", "contact")])
    org.ws.apply(org.ws.documents_from({**doc, "kind": "object",
                                        "fields": [*doc["fields"], SSN],
                                        "search_fields": [*doc.get("search_fields", []), "ssn"]}))
    return org.ws.records.create("contact", {"last_name": "Ng", "ssn": "123-45-6789",
                                             "owner": org.actors["sam"].id})["id"]


def test_sensitive_values_are_masked_revealed_on_demand_and_never_searched(org: Org) -> None:
    rid = _sensitive(org)
    sam = org.api("sam")
    listed = sam.get("/api/v1/records/contact").json()["data"]
    assert [r["ssn"] for r in listed] == [MASK]
    assert sam.get(f"/api/v1/records/contact/{rid}").json()["ssn"] == MASK
    assert sam.get("/api/v1/records/contact?q=6789").json()["data"] == []
    assert sam.get("/api/v1/records/contact?filter[ssn]=123-45-6789").status_code == 422
    assert "123-45-6789" not in sam.get(f"/api/v1/records/contact/{rid}/history").text
    shown = sam.get(f"/api/v1/records/contact/{rid}/reveal/ssn")
    assert shown.status_code == 200 and shown.json()["value"] == "123-45-6789"
    assert sam.get(f"/api/v1/records/contact/{rid}/reveal/last_name").status_code == 404
    assert org.api("oscar").get(f"/api/v1/records/contact/{rid}/reveal/ssn").status_code == 404
    reveals = audit.entries(org.ws, "reveal")
    assert [(e["user_id"], e["record_id"], e["detail"]["field"]) for e in reveals] == \
        [(org.actors["sam"].id, rid, "ssn")]
    # a masked value sent back changes nothing
    assert sam.patch(f"/api/v1/records/contact/{rid}", json={"ssn": MASK}).status_code == 200
    assert org.ws.records.get("contact", rid)["ssn"] == "123-45-6789"
    # the screens: masked on the page and in the export, revealed by the button
    screen = org.screen("sam")
    page = screen.get(f"/o/contact/{rid}").text
    assert "123-45-6789" not in page and 'id="reveal-ssn"' in page
    assert "123-45-6789" in screen.get(f"/o/contact/{rid}/reveal/ssn").text
    export = screen.get("/o/contact/export").content.decode("utf-8-sig")
    assert "123-45-6789" not in export
    assert "123-45-6789" not in screen.get("/o/contact?q=6789").text
    # the edit form keeps a masked value the user left alone
    form = screen.get(f"/o/contact/{rid}/edit").text
    assert "123-45-6789" not in form
    saved = screen.post(f"/o/contact/{rid}/edit", data={
        "csrf_token": csrf_of(form), "last_name": "Ng-Li", "ssn": MASK,
        "version": re.search(r'name="version" value="(\d+)"', form).group(1)},
        follow_redirects=False)
    assert saved.status_code == 303, (saved.status_code, re.findall(r"notice[^<]*<[^<]*|field-error[^<]*<[^<]*", saved.text))
    after = org.ws.records.get("contact", rid)
    assert (after["last_name"], after["ssn"]) == ("Ng-Li", "123-45-6789")


def test_the_last_admin_cannot_be_demoted_or_deactivated(org: Org) -> None:
    ann = org.api("ann")
    url = f"/api/v1/records/user/{org.actors['ann'].id}"
    r = ann.patch(url, json={"role": "member"})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "last_admin"
    assert ann.patch(url, json={"active": False}).status_code == 422
    ann.patch(f"/api/v1/records/user/{org.actors['maria'].id}", json={"role": "admin"})
    assert ann.patch(url, json={"role": "member"}).status_code == 200
    assert [e for e in audit.entries(org.ws, "role_changed")]
    # members change no users, roles or teams
    sam = org.api("sam")
    assert sam.patch(f"/api/v1/records/user/{org.actors['sam'].id}",
                     json={"role": "admin"}).status_code == 403


def test_login_throttling_per_account_is_kept_in_the_database(org: Org) -> None:
    client = TestClient(org.app)
    for _ in range(MAX_ACCOUNT_FAILURES):
        page = client.get("/login").text
        r = client.post("/login", data={"email": "sam@example.com", "password": "wrong",
                                        "csrf_token": csrf_of(page)})
        assert r.status_code == 401
    page = client.get("/login").text
    r = client.post("/login", data={"email": "sam@example.com", "password": PASSWORD,
                                    "csrf_token": csrf_of(page)}, follow_redirects=False)
    assert r.status_code == 429 and "Too many failed logins" in r.text
    # another process sees the same count (it is in the database)
    from rapport.auth.users import Throttled
    from rapport.workspace import Workspace

    other = Workspace.open(org.ws.root, org.ws.database_url)
    try:
        try:
            do_login(other, "sam@example.com", PASSWORD, "10.0.0.9")
            raise AssertionError("not throttled")
        except Throttled:
            pass
    finally:
        other.close()
    events = [e["event"] for e in audit.entries(org.ws)]
    assert "login_failed" in events and "login_throttled" in events
    assert do_login(org.ws, "lin@example.com", PASSWORD, "10.0.0.2") is not None
    assert audit.entries(org.ws, "login_ok")


def test_session_expires_and_cookies_are_flagged(org: Org, monkeypatch) -> None:
    client = org.screen("sam")
    assert client.get("/o/opportunity").status_code == 200
    cookie = client.cookies.get("rapport_session")
    assert cookie
    import rapport.web.auth as web_auth

    monkeypatch.setattr(web_auth, "SESSION_LIFETIME", 0)
    assert client.get("/o/opportunity", follow_redirects=False).status_code == 303
    fresh = TestClient(org.app)
    r = fresh.get("/login")
    assert r.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    page = fresh.post("/login", data={"email": "sam@example.com", "password": PASSWORD,
                                      "csrf_token": csrf_of(r.text)}, follow_redirects=False)
    set_cookie = page.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie


def test_read_only_tokens_cannot_write_and_revoked_tokens_stop_at_once(org: Org) -> None:
    ws = org.ws
    token = create_token(ws, "sam@example.com", "reader", "read")
    client = TestClient(org.app, raise_server_exceptions=False)
    auth = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/records/opportunity/{org.deals['sam']}"
    assert client.get(url, headers=auth).status_code == 200
    assert client.patch(url, json={"description": "x"}, headers=auth).status_code == 403
    assert client.post("/api/v1/records/opportunity", json={"name": "x"},
                       headers=auth).status_code == 403
    token_id = max(t["id"] for t in tokens_of(ws, org.actors["sam"].id))
    admin = org.screen("ann")
    page = admin.get("/admin/tokens").text
    assert f'id="admin-token-{token_id}"' in page and token not in page
    r = admin.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": csrf_of(page)})
    assert r.status_code in (200, 303)
    assert client.get(url, headers=auth).status_code == 401
    assert {e["event"] for e in audit.entries(ws)} >= {"token_created", "token_revoked"}


def test_admin_screens_are_for_admins_and_change_access(org: Org) -> None:
    member = org.screen("sam")
    for path in ("/admin/users", "/admin/teams", "/admin/roles", "/admin/roles/member",
                 "/admin/tokens", "/admin/audit", "/admin/audit.csv"):
        assert member.get(path).status_code == 403, path
    assert 'id="nav-admin"' not in member.get("/").text
    admin = org.screen("ann")
    home = admin.get("/").text
    assert 'id="nav-admin"' in home
    page = admin.get("/admin/roles/member").text
    assert 'id="perm-opportunity"' in page
    r = admin.post("/admin/roles/member", data={
        "csrf_token": csrf_of(page), "object": "opportunity", "can_read": "1",
        "can_edit": "1", "read_scope": "own", "edit_scope": "own", "field.amount": "hidden"})
    assert r.status_code in (200, 303)
    sam = org.api("sam")
    rows = sam.get("/api/v1/records/opportunity").json()["data"]
    assert {r["name"] for r in rows} == {"sam deal"} and "amount" not in rows[0]
    assert sam.post("/api/v1/records/opportunity", json={"name": "new"}).status_code == 403
    # demoting the last admin from the users screen is refused with a message
    users = admin.get("/admin/users").text
    r = admin.post(f"/admin/users/{org.actors['ann'].id}", data={
        "csrf_token": csrf_of(users), "role": "member", "active": "1"},
        follow_redirects=True)
    assert "last admin" in r.text
    assert org.ws.records.get("user", org.actors["ann"].id)["role"] == "admin"
    log = admin.get("/admin/audit.csv").content.decode("utf-8")
    rows = list(csv.reader(io.StringIO(log)))
    assert rows[0][:3] == ["id", "at", "event"] and any(r[2] == "permission_changed" for r in rows)
    assert "permission_changed" in admin.get("/admin/audit?event=permission_changed").text
    # a role added on the screen is a role record and a user.role option
    roles = admin.get("/admin/roles").text
    r = admin.post("/admin/roles", data={"csrf_token": csrf_of(roles), "code": "auditor",
                                         "title": "Auditor"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/roles/auditor"
    assert org.ws.records.query("role", Query(search="auditor")).data
    assert "auditor" in org.ws.meta.objects["user"].field("role").option_values


def test_hidden_and_read_only_fields_on_the_screens(org: Org) -> None:
    ws = org.ws
    ws.access.set_permissions("member", "opportunity", {
        "create": True, "read": True, "edit": True, "delete": True, "export": True,
        "import": False, "read_scope": "team", "edit_scope": "own"},
        {"amount": "hidden", "probability": "read_only"}, org.actors["ann"])
    screen = org.screen("sam")
    rid = org.deals["sam"]
    page = screen.get(f"/o/opportunity/{rid}").text
    assert 'id="field-amount"' not in page and 'id="field-name"' in page
    form = screen.get(f"/o/opportunity/{rid}/edit").text
    assert 'name="amount"' not in form and 'name="probability"' not in form
    r = screen.post(f"/o/opportunity/{rid}/edit", data={
        "csrf_token": csrf_of(form), "name": "renamed", "stage": "prospecting",
        "version": "1"}, follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    saved = ws.records.get("opportunity", rid)
    assert saved["name"] == "renamed" and saved["amount"] == 1000  # untouched
    export = screen.get("/o/opportunity/export").content.decode("utf-8-sig")
    assert "1000" not in export  # the hidden amounts are not exported
