"""The designer's other screens: layouts, validation rules and the formula check, the
JSON editor of workflows and approvals with their diagrams, revisions (history, diff,
rollback), export and import; and the CLI's meta history | diff | rollback."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from starlette.testclient import TestClient
from test_designer_objects import apply_plan, create_project, post

from conftest import block
from rapport.cli import main
from rapport.workspace import Workspace


def test_layout_form_list_and_kanban(client: TestClient, ws: Workspace) -> None:
    page = client.get("/designer/objects/opportunity/layout")
    assert page.status_code == 200
    assert 'data-list="form"' in page.text and 'id="kanban-card"' in page.text
    r = post(client, "/designer/objects/opportunity/layout", {
        "section_label": ["Deal", "Dates", ""],
        "section_fields": ["name,account,amount", "close_date,stage", ""],
        "list_columns": "name,stage,amount", "sort_field": "amount", "sort_desc": "1",
        "kanban_group_by": "stage", "kanban_card": "name,amount", "kanban_sum": "amount"})
    assert r.status_code == 200, r.text[-2000:]
    assert apply_plan(client, r.text).status_code == 303
    views = ws.refresh().objects["opportunity"].views
    assert views["form"]["sections"] == [{"label": "Deal", "fields": ["name", "account", "amount"]},
                                         {"label": "Dates", "fields": ["close_date", "stage"]}]
    assert views["list"]["columns"] == ["name", "stage", "amount"]
    assert views["list"]["sort"] == "-amount"
    assert views["kanban"] == {"group_by": "stage", "card": ["name", "amount"], "sum": "amount"}
    # the screens follow at once
    form = client.get("/o/opportunity/new").text
    assert form.index(">Deal<") < form.index(">Dates<")
    assert client.get("/o/opportunity/kanban").status_code == 200


def test_layout_with_unknown_fields_is_an_error(client: TestClient, ws: Workspace) -> None:
    r = post(client, "/designer/objects/opportunity/layout", {
        "section_label": ["Deal"], "section_fields": ["name,nope"],
        "kanban_group_by": "amount"})
    assert r.status_code == 422
    errors = block(r.text, "designer-errors", "div")
    assert "nope" in errors
    before = ws.meta.revision
    assert ws.refresh().revision == before


def test_rule_editor_check_preview_and_test_against_records(client: TestClient,
                                                            ws: Workspace) -> None:
    create_project(client)
    r = post(client, "/designer/objects/project/fields/new", {"name": "budget", "type": "currency"})
    apply_plan(client, r.text)
    ws.refresh()
    ids = [ws.records.create("project", {"name": f"P{i}", "budget": b})["id"]
           for i, b in enumerate([5, 50, 500, None])]
    # as you type: a syntax error, an unknown name, then a valid rule
    bad = post(client, "/designer/objects/project/check",
               {"when": "budget >", "check_mode": "rule", "check_source": "when"})
    assert bad.status_code == 200 and 'data-check="error"' in bad.text
    unknown = post(client, "/designer/objects/project/check",
                   {"when": "budjet > 10", "check_mode": "rule", "check_source": "when"})
    assert "budjet" in unknown.text
    ok = post(client, "/designer/objects/project/check", {
        "when": "budget > 100", "check_mode": "rule", "check_source": "when",
        "preview_record": str(ids[2]), "test_all": "1"})
    assert 'data-check="ok"' in ok.text
    assert "the rule refuses this record" in ok.text
    assert "1 of 4 existing records would be refused" in ok.text
    assert "data-in-sql" in ok.text  # counted by the database
    assert f'href="/o/project/{ids[2]}"' in ok.text
    formula = post(client, "/designer/objects/project/check", {
        "expression": "budget * 2", "check_mode": "formula", "result_type": "currency",
        "preview_record": str(ids[1])})
    assert "<code>100" in formula.text
    # through a lookup: the account's name
    r = post(client, "/designer/objects/project/fields/new", {
        "name": "account", "type": "lookup", "target": "account"})
    apply_plan(client, r.text)
    ws.refresh()
    acme = ws.records.create("account", {"name": "Acme"})
    ws.records.update("project", ids[0], {"account": acme["id"]})
    via = post(client, "/designer/objects/project/check", {
        "expression": "account.name", "check_mode": "formula", "result_type": "text",
        "preview_record": str(ids[0])})
    assert "<code>Acme</code>" in via.text
    rule = post(client, "/designer/objects/project/check", {
        "when": "account.name == 'Acme'", "check_mode": "rule", "check_source": "when",
        "test_all": "1"})
    assert "1 of 4 existing records would be refused" in rule.text
    assert "data-in-sql" not in rule.text  # through a lookup: record by record
    # save the rule: a plan, then the record service enforces it
    r = post(client, "/designer/objects/project/rules/new", {
        "name": "budget_cap", "when": "budget > 100", "message_en": "Too expensive",
        "message_zh": "太贵了", "field": "budget", "active": "1"})
    assert r.status_code == 200, r.text[-2000:]
    assert apply_plan(client, r.text).status_code == 303
    page = client.get("/designer/objects/project/rules/budget_cap")
    assert page.status_code == 200 and "Too expensive" in page.text
    import pytest

    from rapport.errors import ValidationError

    ws.refresh()
    with pytest.raises(ValidationError):
        ws.records.create("project", {"name": "X", "budget": 1000})
    bad_rule = post(client, "/designer/objects/project/rules/new", {
        "name": "broken", "when": "budget >", "message_en": "x"})
    assert bad_rule.status_code == 422 and 'href="#in-when"' in bad_rule.text
    removed = post(client, "/designer/objects/project/rules/budget_cap/remove", {})
    assert apply_plan(client, removed.text).status_code == 303
    assert not ws.refresh().objects["project"].validation_rules


def test_workflow_and_approval_editors_draw_diagrams(client: TestClient, ws: Workspace) -> None:
    page = client.get("/designer/workflow/opportunity_sales")
    assert page.status_code == 200
    assert "<svg" in page.text and "closed_won" in block(page.text, "diagram", "section")
    data = dict(ws.state.documents[("workflow", "opportunity_sales")])
    data["stages"][0]["guidance"] = "Call within a day"
    r = post(client, "/designer/workflow/opportunity_sales", {"body": json.dumps(data)})
    assert r.status_code == 200, r.text[-2000:]
    assert apply_plan(client, r.text).status_code == 303
    assert ws.refresh().workflows["opportunity_sales"].data["stages"][0]["guidance"] == \
        "Call within a day"
    # a new approval flow from its starter
    starter = client.get("/designer/definitions/new?kind=approval&name=big_deal&object=opportunity",
                         follow_redirects=True)
    assert starter.status_code == 200 and "manager_of" in starter.text
    flow = {"object": "opportunity", "when": "amount > 1000",
            "steps": [{"name": "boss", "approvers": {"role": "manager"}, "mode": "all"}]}
    r = post(client, "/designer/approval/big_deal", {"body": json.dumps(flow)})
    assert r.status_code == 200, r.text[-2000:]
    apply_plan(client, r.text)
    assert "big_deal" in ws.refresh().approvals
    assert "boss" in client.get("/designer/approval/big_deal").text
    # malformed definitions: errors with their pointer, never a 500
    for body, needle in [("{", "Not valid JSON"), ("[]", "JSON object"),
                         (json.dumps({"object": "opportunity", "steps": "x"}), "/steps"),
                         (json.dumps({"object": "nowhere", "steps": [
                             {"name": "a", "approvers": {"role": "manager"}}]}), "nowhere")]:
        r = post(client, "/designer/approval/other", {"body": body})
        assert r.status_code == 422, body
        assert needle in block(r.text, "designer-errors", "div"), body


def test_revisions_diff_and_rollback(client: TestClient, ws: Workspace) -> None:
    start = ws.meta.revision
    create_project(client)
    page = client.get("/designer/revisions")
    assert "ann@example.com" in block(page.text, "designer-revisions", "table")
    diff = client.get(f"/designer/revisions/diff?a={start}&b={start + 1}")
    assert "object" in diff.text and 'id="diff-object-project"' in diff.text
    assert "added" in block(diff.text, "diff-object-project", "section")
    r = post(client, "/designer/objects/project/fields/name", {"name": "title", "type": "text",
                                                              "max_length": "80"})
    apply_plan(client, r.text)
    diff = client.get(f"/designer/revisions/diff?a={start + 1}&b={start + 2}")
    summary = block(diff.text, "diff-object-project", "section")
    assert "~ field name renamed to title" in summary and "~ field title: label, max_length" in summary
    # rolling back the rename is a rename, with the data kept
    back = post(client, f"/designer/revisions/{start + 1}/rollback", {})
    assert "rename column project.name (from title)" in block(back.text, "plan-steps", "ol")
    assert "diff-empty" in client.get("/designer/revisions/diff?a=1&b=1").text
    assert client.get("/designer/revisions/diff?a=x&b=y").status_code == 200
    r = post(client, f"/designer/revisions/{start}/rollback", {})
    assert r.status_code == 200
    assert "drop table project" in block(r.text, "plan-steps", "ol")
    assert apply_plan(client, r.text).status_code == 303
    assert "project" not in ws.refresh().objects
    assert ws.meta.revision == start + 3
    assert post(client, "/designer/revisions/999/rollback", {}).status_code == 404


def test_export_and_import(client: TestClient, ws: Workspace, tmp_path: Path) -> None:
    one = client.get("/designer/export?object=account")
    assert one.status_code == 200 and one.json()["name"] == "account"
    assert "attachment" in one.headers["content-disposition"]
    everything = client.get("/designer/export").json()
    assert {d.get("kind", "object") for d in everything} >= {"object", "workflow"}
    # the same file 'rapport meta apply' reads
    body = {**one.json(), "name": "account_copy"}
    body.pop("id")
    for f in body["fields"]:
        f.pop("id", None)
    body.pop("views", None)
    body.pop("validation_rules", None)
    body["fields"] = [f for f in body["fields"] if f["type"] not in {"rollup"}]
    r = post(client, "/designer/import", {"body": json.dumps(body)})
    assert r.status_code == 200, r.text[-2000:]
    assert "create table account_copy" in r.text
    assert apply_plan(client, r.text).status_code == 303
    assert "account_copy" in ws.refresh().objects
    bad = post(client, "/designer/import", {"body": "{nope"})
    assert bad.status_code == 422 and "Not valid JSON" in bad.text
    bad = post(client, "/designer/import", {"body": json.dumps([{"fields": "x", "name": "q"}])})
    assert bad.status_code == 422 and "designer-errors" in bad.text
    assert client.get("/designer/export?object=nope").status_code == 404


def test_cli_history_diff_rollback(tmp_path: Path, database_url: str) -> None:
    root = tmp_path / "crm"
    assert CliRunner().invoke(main, ["init", str(root), "--database", database_url]).exit_code == 0
    spec = tmp_path / "project.json"
    spec.write_text(json.dumps({"name": "project", "fields": [{"name": "name", "type": "text"}]}))
    args = ["--workspace", str(root), "--database", database_url]
    assert CliRunner().invoke(main, [*args, "meta", "apply", str(spec)]).exit_code == 0
    history = CliRunner().invoke(main, [*args, "meta", "history"])
    assert history.exit_code == 0 and "object/project" in history.output
    first = history.output.splitlines()[-1].split()[0]
    diff = CliRunner().invoke(main, [*args, "meta", "diff", first, str(int(first) + 1)])
    assert "== object/project (added)" in diff.output
    plan = CliRunner().invoke(main, [*args, "meta", "rollback", first, "--plan"])
    assert plan.exit_code == 0 and "- drop table project" in plan.output
    done = CliRunner().invoke(main, [*args, "meta", "rollback", first])
    assert done.exit_code == 0 and "applied as revision" in done.output
    missing = CliRunner().invoke(main, [*args, "meta", "rollback", "999"])
    assert missing.exit_code == 1 and "no metadata revision 999" in missing.output


def test_designer_changes_are_live_in_another_process(client: TestClient, ws: Workspace) -> None:
    """A second workspace on the same database (another worker process) serves the new
    object on its next request: its metadata cache is keyed by the stored revision."""
    from conftest import login
    from rapport.web.app import create_app

    other = Workspace.open(ws.root)
    try:
        other_client = login(TestClient(create_app(other)), "ann@example.com")
        assert other_client.get("/o/project").status_code == 404
        create_project(client)
        assert other_client.get("/o/project").status_code == 200
        assert other.meta.revision == ws.meta.revision
        r = post(client, "/designer/objects/project/fields/new", {"name": "budget",
                                                                  "type": "currency"})
        apply_plan(client, r.text)
        assert 'name="budget"' in other_client.get("/o/project/new").text
    finally:
        other.close()


def test_screens_in_chinese(client: TestClient) -> None:
    token = client.get("/designer").text
    from conftest import csrf_of

    client.post("/locale", data={"csrf_token": csrf_of(token), "locale": "zh-CN", "next": "/"})
    page = client.get("/designer")
    assert "设计器" in page.text and "新建对象" in page.text
    assert "查看变更计划" in client.get("/designer/objects/account/fields/new?type=picklist").text


def flow_form(page: str) -> dict[str, Any]:
    """The inputs of the flow form, as a browser would send them (repeated names kept)."""
    form: dict[str, Any] = {}
    for tag in re.finditer(r"<(input|select)\b([^>]*)>(.*?)(?=<(?:input|select|/td|/div)\b)",
                           page.split('id="flow-form"')[1], re.S):
        attrs = tag.group(2)
        name = re.search(r'name="([^"]+)"', attrs)
        if not name or name.group(1) == "csrf_token" or " disabled" in attrs:
            continue
        if tag.group(1) == "select":
            chosen = re.search(r'<option value="([^"]*)" selected', tag.group(3)) or \
                re.search(r'<option value="([^"]*)"', tag.group(3))
            value = chosen.group(1) if chosen else ""
        else:
            if 'type="checkbox"' in attrs and " checked" not in attrs:
                continue
            found = re.search(r'value="([^"]*)"', attrs)
            value = found.group(1) if found else ""
        form.setdefault(name.group(1), []).append(html.unescape(value))
    return form


def test_workflow_form_editor(client: TestClient, ws: Workspace) -> None:
    page = client.get("/designer/flows/workflow/opportunity_sales")
    assert page.status_code == 200 and "<svg" in page.text
    form = flow_form(page.text)
    assert form["st_name"][:2] == ["prospecting", "qualification"]
    # unchanged, the form gives back the stored definition: no change at all
    r = post(client, "/designer/flows/workflow/opportunity_sales", form)
    assert r.status_code == 200, block(r.text, "designer-errors", "div")
    assert "plan-empty" in r.text
    before = dict(ws.state.documents[("workflow", "opportunity_sales")])
    payload = json.loads(html.unescape(re.search(r'name="payload" value="([^"]*)"',
                                                 r.text).group(1)))
    assert payload["docs"][0][1] == before
    # a change: guidance and a transition's field update
    form["st_guidance_en"][0] = "Call them"
    i = form["tr_from"].index("")
    form["tr_from"][i], form["tr_to"][i] = "prospecting", "closed_won"
    form["tr_set"][i] = "probability = 100"
    form["tr_roles"][i] = "manager"
    r = post(client, "/designer/flows/workflow/opportunity_sales", form)
    assert r.status_code == 200, r.text[-2000:]
    assert apply_plan(client, r.text).status_code == 303
    wf = ws.refresh().workflows["opportunity_sales"].data
    assert wf["stages"][0]["guidance"]["en"] == "Call them"
    assert wf["stages"][0]["guidance"]["zh-CN"] == before["stages"][0]["guidance"]["zh-CN"]
    assert {"from": "prospecting", "to": "closed_won", "roles": ["manager"],
            "set": {"probability": "100"}} in wf["transitions"]
    # bad input names where
    form["tr_set"][i] = "probability"
    r = post(client, "/designer/flows/workflow/opportunity_sales", form)
    assert r.status_code == 422 and "field = formula" in r.text
    form["tr_set"][i] = ""
    form["st_name"][0] = "not_a_value"
    r = post(client, "/designer/flows/workflow/opportunity_sales", form)
    assert r.status_code == 422 and "not_a_value" in block(r.text, "designer-errors", "div")


def test_approval_form_editor(client: TestClient, ws: Workspace) -> None:
    new = client.get("/designer/definitions/new?kind=approval&name=big_deal&object=opportunity",
                     follow_redirects=True)
    assert new.status_code == 200 and 'id="flow-form"' in new.text
    form = flow_form(new.text)
    form["when"] = ["amount > 1000"]
    form["sp_name"][1], form["sp_kind"][1], form["sp_value"][1] = "finance", "role", "manager"
    form["sp_mode"][1], form["sp_quorum"][1] = "quorum", "2"
    form["on_approve"] = ["description = 'approved'"]
    r = post(client, "/designer/flows/approval/big_deal", form)
    assert r.status_code == 200, r.text[-3000:]
    assert apply_plan(client, r.text).status_code == 303
    flow = ws.refresh().approvals["big_deal"].data
    assert flow["steps"][1] == {"name": "finance", "approvers": {"role": "manager"},
                                "mode": "quorum", "quorum": 2}
    assert flow["lock"] is True and flow["when"] == "amount > 1000"
    page = client.get("/designer/flows/approval/big_deal")
    assert "finance" in block(page.text, "diagram", "section")
    form = flow_form(page.text)
    form["sp_quorum"][1] = "two"
    r = post(client, "/designer/flows/approval/big_deal", form)
    assert r.status_code == 422 and "designer-errors" in r.text
