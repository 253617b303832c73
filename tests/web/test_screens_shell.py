"""The shell: login, every screen behind it, the language switch and the CSRF check."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from conftest import csrf_of, login
from rapport.auth.users import create_user
from rapport.workspace import Workspace


@pytest.fixture
def data(ws: Workspace) -> dict[str, Any]:
    acme = ws.records.create("account", {"name": "Acme"})
    deal = ws.records.create("opportunity", {"name": "Big deal", "account": acme["id"],
                                             "amount": 1000})
    contact = ws.records.create("contact", {"last_name": "Smith", "account": acme["id"]})
    act = ws.records.create("activity", {"subject": "Call Acme", "account": acme["id"]})
    return {"account": acme, "opportunity": deal, "contact": contact, "activity": act}


def screens(data: dict[str, Any]) -> list[str]:
    a, o = data["account"]["id"], data["opportunity"]["id"]
    return ["/", "/o/account", "/o/opportunity", "/o/contact", "/o/lead", "/o/activity",
            "/o/product", "/o/quote", "/o/quote_line", "/o/user",
            f"/o/account/{a}", f"/o/opportunity/{o}", f"/o/contact/{data['contact']['id']}",
            f"/o/activity/{data['activity']['id']}",
            "/o/account/new", "/o/opportunity/new", "/o/contact/new", "/o/lead/new",
            "/o/activity/new", "/o/product/new", "/o/quote/new", "/o/quote_line/new",
            f"/o/account/{a}/edit", f"/o/opportunity/{o}/edit",
            "/o/opportunity/kanban", "/o/lead/kanban", "/o/activity/kanban",
            f"/o/opportunity/{o}/field/amount/edit", f"/o/account/{a}/delete",
            "/o/opportunity/count", "/o/account/lookup?q=Ac", "/o/opportunity/filter-row?f=stage"]


def test_every_screen_renders_for_a_logged_in_user(client: TestClient,
                                                   data: dict[str, Any]) -> None:
    for url in screens(data):
        response = client.get(url)
        assert response.status_code == 200, (url, response.text[:500])
        assert response.headers["content-type"].startswith("text/html")


def test_every_screen_sends_a_visitor_to_the_login_page(app_client: TestClient,
                                                        data: dict[str, Any]) -> None:
    for url in screens(data):
        response = app_client.get(url, follow_redirects=False)
        assert response.status_code == 303, url
        assert response.headers["location"].startswith("/login?next="), url
    page = app_client.get("/o/account")  # followed: the login form, which comes back here
    assert 'action="/login"' in page.text and 'value="/o/account"' in page.text


def test_htmx_requests_of_a_visitor_are_told_to_log_in(app_client: TestClient) -> None:
    response = app_client.get("/o/account", headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["hx-redirect"] == "/login"


def test_the_shell_lists_the_objects_and_the_user(client: TestClient) -> None:
    page = client.get("/").text
    for label in ("Accounts", "Opportunities", "Contacts", "Leads"):
        assert label in page
    assert 'href="/o/opportunity"' in page
    assert "Ann Admin" in page
    assert 'href="/o/user"' not in page  # system objects stay out of the navigation
    assert "English" in page and "简体中文" in page


def test_unknown_objects_and_records_are_404_pages(client: TestClient) -> None:
    assert client.get("/o/nothing").status_code == 404
    response = client.get("/o/account/999999")
    assert response.status_code == 404 and "<html" in response.text
    assert client.get("/o/account/kanban").status_code == 404  # accounts have no board


def test_the_chinese_switch_translates_interface_and_metadata(client: TestClient,
                                                              data: dict[str, Any]) -> None:
    token = csrf_of(client.get("/").text)
    response = client.post("/locale", data={"locale": "zh-CN", "csrf_token": token,
                                            "next": "/o/opportunity"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/o/opportunity"
    page = client.get("/o/opportunity").text
    assert '<html lang="zh-CN">' in page
    assert "商机" in page and "客户" in page           # object and field labels
    assert "新建商机" in page and "导出 CSV" in page    # interface strings
    assert "New Opportunity" not in page
    record = client.get(f"/o/opportunity/{data['opportunity']['id']}").text
    assert "进展" in record and "编辑" in record and "修改历史" in record
    board = client.get("/o/opportunity/kanban").text
    assert "初步接洽" in board and "赢单" in board      # option labels
    form = client.get("/o/opportunity/new").text
    assert "新建商机" in form and "创建" in form
    # and back
    client.post("/locale", data={"locale": "en", "csrf_token": token, "next": "/"})
    assert "Opportunities" in client.get("/").text


def test_chinese_validation_messages(client: TestClient) -> None:
    token = csrf_of(client.get("/").text)
    client.post("/locale", data={"locale": "zh-CN", "csrf_token": token, "next": "/"})
    response = client.post("/o/opportunity/new", data={"csrf_token": token, "name": ""})
    assert response.status_code == 422
    assert "商机名称为必填项" in response.text or "为必填项" in response.text


@pytest.mark.parametrize("path", ["/o/account/new", "/o/account/bulk", "/o/account/views",
                                  "/o/account/{id}/edit", "/o/account/{id}/field/name",
                                  "/o/account/{id}/delete", "/o/opportunity/{deal}/move",
                                  "/locale", "/logout"])
def test_forms_without_the_csrf_token_are_refused(client: TestClient, ws: Workspace,
                                                  path: str) -> None:
    acme = ws.records.create("account", {"name": "Acme"})
    deal = ws.records.create("opportunity", {"name": "Deal"})
    url = path.format(id=acme["id"], deal=deal["id"])
    response = client.post(url, data={"name": "Changed", "value": "qualification",
                                      "_action": "delete", "_ids": str(acme["id"]),
                                      "_confirm": "1", "locale": "zh-CN"},
                           follow_redirects=False)
    assert response.status_code == 403, url
    bad = client.post(url, data={"name": "Changed", "csrf_token": "forged"},
                      follow_redirects=False)
    assert bad.status_code == 403, url
    assert ws.records.get("account", acme["id"])["name"] == "Acme"
    assert ws.records.get("opportunity", deal["id"])["stage"] == "prospecting"


def test_system_objects_are_read_only_for_members(app_client: TestClient,
                                                  ws: Workspace) -> None:
    create_user(ws, "max@example.com", "member", "correct horse battery")
    client = login(app_client, "max@example.com")
    assert client.get("/o/user").status_code == 200
    assert client.get("/o/user/new").status_code == 403
    assert client.get("/o/account/new").status_code == 200


def test_static_files_and_vendored_libraries(client: TestClient) -> None:
    page = client.get("/o/opportunity/kanban").text
    for src in ("/static/vendor/htmx.min.js", "/static/js/rapport.js",
                "/static/vendor/Sortable.min.js", "/static/js/kanban.js"):
        assert f'src="{src}"' in page
        assert client.get(src).status_code == 200
    assert "<script>" not in page and "onclick" not in page  # CSP: no inline scripts
    assert '"allowEval":false' in page
    assert client.get("/static/css/rapport.css").status_code == 200


def test_one_record_is_singular_in_english_and_unchanged_in_chinese() -> None:
    from rapport.web.i18n import catalog, translate

    assert translate("en", "bulk.deleted", n=1) == "1 record deleted."
    assert translate("en", "bulk.deleted", n=2) == "2 records deleted."
    assert translate("en", "bulk.changed", n=1, field="Stage") == "Stage changed on 1 record."
    chinese = translate("zh-CN", "bulk.deleted", n=1)
    assert chinese == catalog("zh-CN")["bulk.deleted"].format(n=1)  # never the English form
    english = catalog("en")
    assert all(key[: -len("_one")] in english for key in english if key.endswith("_one"))


def test_every_catalogue_has_the_same_keys_in_both_languages() -> None:
    from rapport.resources import bundled

    root = bundled("ui") / "i18n"
    for area in [None, *sorted(p.stem for p in (root / "en").glob("*.json"))]:
        name = "{}.json" if area is None else "{}/" + area + ".json"
        en = json.loads((root / name.format("en")).read_text("utf-8"))
        zh = json.loads((root / name.format("zh-CN")).read_text("utf-8"))
        en, zh = ({k for k in book if not k.endswith("_one")} for book in (en, zh))  # singulars
        assert en == zh, f"{name}: {sorted(en ^ zh)}"
