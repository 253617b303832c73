"""The designer's object and field screens: every save is a plan first, applied with the
revision it was computed on; bad input is an error on the form, never a 500."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from conftest import block, csrf_of
from rapport.workspace import StaleRevision, Workspace

PAYLOAD = re.compile(r'name="payload" value="([^"]*)"')
REVISION = re.compile(r'name="revision" value="(\d+)"')


def apply_plan(client: TestClient, page: str, confirm: bool = False) -> Any:
    """Press Apply on a plan page."""
    import html

    data = {"csrf_token": csrf_of(page), "payload": html.unescape(PAYLOAD.search(page).group(1)),
            "revision": REVISION.search(page).group(1), "back": "/designer"}
    if confirm:
        data["confirm_loss"] = "1"
    return client.post("/designer/apply", data=data, follow_redirects=False)


def post(client: TestClient, url: str, data: dict[str, Any]) -> Any:
    page = client.get("/designer")
    return client.post(url, data={"csrf_token": csrf_of(page.text), **data},
                       follow_redirects=False)


def create_project(client: TestClient) -> None:
    r = post(client, "/designer/objects/new", {"name": "project", "label_en": "Project",
                                               "label_zh": "项目"})
    assert r.status_code == 200, r.text
    assert "create table project" in r.text
    done = apply_plan(client, r.text)
    assert done.status_code == 303


def test_designer_home_lists_objects(client: TestClient) -> None:
    page = client.get("/designer")
    assert page.status_code == 200
    assert 'href="/designer/objects/account"' in page.text
    assert 'id="nav-designer"' in page.text


def test_create_object_shows_plan_then_applies(client: TestClient, ws: Workspace) -> None:
    before = ws.meta.revision
    r = post(client, "/designer/objects/new", {"name": "project", "label_en": "Project"})
    assert r.status_code == 200
    assert "create table project" in block(r.text, "plan-steps", "ol")
    ws.refresh()
    assert "project" not in ws.meta.objects and ws.meta.revision == before  # nothing yet
    done = apply_plan(client, r.text)
    assert done.status_code == 303
    assert ws.refresh().revision == before + 1
    assert ws.meta.objects["project"].display_label() == "Project"
    assert ws.revisions(1)[0]["author"] == "ann@example.com"


def test_bad_object_name_is_an_error_on_the_form(client: TestClient) -> None:
    for name in ["Project", "select", "", "x" * 80]:
        r = post(client, "/designer/objects/new", {"name": name})
        assert r.status_code == 422, name
        assert "designer-errors" in r.text


def test_add_every_field_type(client: TestClient, ws: Workspace) -> None:
    create_project(client)
    specs: list[dict[str, Any]] = [
        {"name": "code", "type": "text", "max_length": "20", "min_length": "2",
         "pattern": "^[A-Z]+$", "unique": "1", "help_en": "Short code", "help_zh": "代码"},
        {"name": "notes", "type": "textarea"}, {"name": "body", "type": "rich_text"},
        {"name": "mail", "type": "email"}, {"name": "tel", "type": "phone"},
        {"name": "site", "type": "url"},
        {"name": "seats", "type": "integer", "min": "0", "max": "100", "default": "3"},
        {"name": "ratio", "type": "decimal", "precision": "3"},
        {"name": "budget", "type": "currency", "min": "0", "indexed": "1"},
        {"name": "done_pct", "type": "percent"},
        {"name": "active", "type": "boolean", "default": "true"},
        {"name": "starts", "type": "date", "default_formula": "today()"},
        {"name": "kickoff", "type": "datetime"},
        {"name": "phase", "type": "picklist", "opt_value": ["plan", "build", "ship"],
         "opt_label_en": ["Plan", "Build", "Ship"], "opt_label_zh": ["计划", "构建", "发布"],
         "opt_color": ["#000000", "#3056d3", "#000000"], "opt_active": ["1", "1", "1"],
         "opt_was": ["", "", ""], "default": "plan"},
        {"name": "tags", "type": "multi_picklist", "opt_value": ["a", "b"],
         "opt_label_en": ["", ""], "opt_label_zh": ["", ""], "opt_color": ["", ""],
         "opt_active": ["1", "0"], "opt_was": ["", ""]},
        {"name": "account", "type": "lookup", "target": "account", "on_delete": "restrict"},
        {"name": "ref", "type": "autonumber", "format": "PRJ-{0000}", "start": "10"},
        {"name": "per_seat", "type": "formula", "expression": "budget / seats",
         "result_type": "currency"},
        {"name": "extra", "type": "json"},
    ]
    for spec in specs:
        r = post(client, "/designer/objects/project/fields/new", spec)
        assert r.status_code == 200, (spec["name"], r.text[-3000:])
        assert "add column project." + spec["name"] in r.text, spec["name"]
        assert apply_plan(client, r.text).status_code == 303
    obj = ws.refresh().objects["project"]
    assert obj.field("code").max_length == 20 and obj.field("code").unique
    assert obj.field("phase").option_values == ("plan", "build", "ship")
    assert obj.field("phase").options[1].color == "#3056d3"
    assert obj.field("tags").options[1].active is False
    assert obj.field("account").target == "account"
    assert obj.field("account").on_delete == "restrict"
    assert obj.field("seats").default == 3 and obj.field("active").default is True
    assert obj.field("per_seat").expression == "budget / seats"
    # a rollup on account over the projects
    r = post(client, "/designer/objects/account/fields/new", {
        "name": "project_budget", "type": "rollup", "source": "project", "relation": "account",
        "aggregate": "sum", "field": "budget", "filter": "budget > 1000"})
    assert r.status_code == 200, r.text[-3000:]
    assert apply_plan(client, r.text).status_code == 303
    rollup = ws.refresh().objects["account"].field("project_budget")
    assert rollup.aggregate == "sum" and rollup.filter_formula == "budget > 1000"
    acme = ws.records.create("account", {"name": "Acme"})["id"]
    for budget in (500, 2000, 3000):
        ws.records.create("project", {"name": f"P{budget}", "code": "P" * (budget // 500 + 1),
                                      "seats": 1, "budget": budget, "account": acme})
    assert ws.records.get("account", acme)["project_budget"] == 5000  # only those over 1000
    r = post(client, "/designer/objects/account/fields/project_budget", {
        "name": "project_budget", "type": "rollup", "source": "project", "relation": "account",
        "aggregate": "sum", "field": "budget", "filter": "len(code) > 1"})
    assert r.status_code == 422 and "runs in the database" in r.text


@pytest.mark.parametrize("spec, key", [
    ({"name": "n1", "type": "text", "max_length": "abc"}, "max_length"),
    ({"name": "n2", "type": "integer", "min": "1e400"}, "min"),
    ({"name": "n3", "type": "lookup", "target": "nowhere"}, "target"),
    ({"name": "n4", "type": "formula", "expression": "amount +", "result_type": "decimal"}, "expression"),
    ({"name": "n5", "type": "formula", "expression": "no_such_field * 2", "result_type": "decimal"}, "expression"),
    ({"name": "n6", "type": "autonumber", "format": "no counter"}, "format"),
    ({"name": "n7", "type": "text", "pattern": "(["}, "pattern"),
    ({"name": "Bad Name", "type": "text"}, "name"),
    ({"name": "id", "type": "text"}, "name"),
    ({"name": "n8", "type": "no_such_type"}, "type"),
    ({"name": "n9", "type": "rollup", "source": "account", "aggregate": "sum"}, "relation"),
])
def test_bad_field_input_names_the_input(client: TestClient, spec: dict[str, Any], key: str) -> None:
    create_project(client)
    r = post(client, "/designer/objects/project/fields/new", spec)
    assert r.status_code == 422, r.text[-2000:]
    assert "designer-errors" in r.text
    assert f'href="#in-{key}"' in r.text, block(r.text, "designer-errors", "div")


def test_rename_a_field_keeps_its_data(client: TestClient, ws: Workspace) -> None:
    acc = ws.records.create("account", {"name": "Acme", "industry": "retail"}) \
        if ws.meta.objects["account"].has_field("industry") else \
        ws.records.create("account", {"name": "Acme"})
    r = client.get("/designer/objects/account/fields/name")
    assert r.status_code == 200
    r = post(client, "/designer/objects/account/fields/name",
             {"name": "company_name", "type": "text", "label_en": "Company", "required": "1"})
    assert r.status_code == 200, r.text[-3000:]
    assert "rename column account.company_name (from name)" in r.text
    assert "DESTROYS" not in r.text
    assert apply_plan(client, r.text).status_code == 303
    ws.refresh()
    assert ws.records.get("account", acc["id"])["company_name"] == "Acme"
    assert ws.meta.objects["account"].title == "company_name" or \
        ws.meta.objects["account"].has_field("company_name")


def test_removing_a_field_with_data_needs_the_second_confirmation(client: TestClient,
                                                                  ws: Workspace) -> None:
    create_project(client)
    r = post(client, "/designer/objects/project/fields/new", {"name": "budget", "type": "currency"})
    apply_plan(client, r.text)
    ws.refresh()
    ws.records.create("project", {"name": "P1", "budget": 10})
    r = post(client, "/designer/objects/project/fields/budget/remove", {})
    assert r.status_code == 200
    assert "DESTROYS DATA" in block(r.text, "plan-steps", "ol")
    assert 'id="confirm-loss"' in r.text
    refused = apply_plan(client, r.text)
    assert refused.status_code == 422
    assert ws.refresh().objects["project"].has_field("budget")
    done = apply_plan(client, r.text, confirm=True)
    assert done.status_code == 303
    assert not ws.refresh().objects["project"].has_field("budget")


def test_apply_on_a_stale_revision_asks_to_review_again(client: TestClient, ws: Workspace) -> None:
    r = post(client, "/designer/objects/new", {"name": "project"})
    # someone else changes the model meanwhile
    other = post(client, "/designer/objects/new", {"name": "other"})
    assert apply_plan(client, other.text).status_code == 303
    stale = apply_plan(client, r.text)
    assert stale.status_code == 409
    assert "changed meanwhile" in stale.text
    assert "project" not in ws.refresh().objects
    # the plan is shown again on the latest revision: applying it now works
    assert apply_plan(client, stale.text).status_code == 303
    assert "project" in ws.refresh().objects


def test_workspace_apply_checks_the_expected_revision(ws: Workspace) -> None:
    docs = ws.documents_from({"name": "thing", "fields": [{"name": "name", "type": "text"}]})
    with pytest.raises(StaleRevision):
        ws.apply(docs, expected_revision=ws.meta.revision - 1)
    ws.apply(docs, expected_revision=ws.meta.revision)
    assert "thing" in ws.refresh().objects


def test_reorder_fields_and_settings(client: TestClient, ws: Workspace) -> None:
    create_project(client)
    post(client, "/designer/objects/project/fields/new", {"name": "budget", "type": "currency"})
    r = post(client, "/designer/objects/project/fields/new", {"name": "budget", "type": "currency"})
    apply_plan(client, r.text)
    r = post(client, "/designer/objects/project/fields/order", {"order": "budget,name"})
    assert r.status_code == 200
    apply_plan(client, r.text)
    assert ws.refresh().objects["project"].field_names == ("budget", "name")
    bad = post(client, "/designer/objects/project/fields/order", {"order": "budget"})
    assert bad.status_code == 303
    r = post(client, "/designer/objects/project", {
        "label_en": "Project", "label_zh": "项目", "plural_en": "Projects", "icon": "P",
        "use_color": "1", "color": "#aa3300", "title_field": "name"})
    assert r.status_code == 200, r.text[-2000:]
    apply_plan(client, r.text)
    obj = ws.refresh().objects["project"]
    assert obj.color == "#aa3300" and obj.icon == "P"
    assert obj.display_label("zh-CN") == "项目" and obj.display_plural() == "Projects"


def test_delete_object_shows_the_records_lost(client: TestClient, ws: Workspace) -> None:
    create_project(client)
    ws.refresh()
    ws.records.create("project", {"name": "P1"})
    r = post(client, "/designer/objects/project/delete", {})
    assert "1 records would be lost" in r.text or "1 record" in r.text
    assert apply_plan(client, r.text, confirm=True).status_code == 303
    assert "project" not in ws.refresh().objects
    assert post(client, "/designer/objects/user/delete", {}).status_code == 403


def test_rest_put_takes_if_match_revision(client: TestClient, ws: Workspace) -> None:
    from rapport.auth.users import create_user  # noqa: F401

    token = csrf_of(client.get("/designer").text)
    body = {"fields": [{"name": "name", "type": "text"}]}
    r = client.put("/api/v1/meta/objects/thing", json=body,
                   headers={"x-csrf-token": token, "if-match": str(ws.meta.revision - 1)})
    assert r.status_code == 412, r.text
    assert r.json()["errors"] or r.json()
    r = client.put("/api/v1/meta/objects/thing", json=body,
                   headers={"x-csrf-token": token, "if-match": str(ws.meta.revision)})
    assert r.status_code == 200, r.text
    bad = client.put("/api/v1/meta/objects/thing", json=body,
                     headers={"x-csrf-token": token, "if-match": "abc"})
    assert bad.status_code == 422
    assert json.loads(bad.text)["errors"][0]["field"] == "If-Match"
