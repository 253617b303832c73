"""The bundled duplicate check (查重): normalised match rules, warn or block on create and
on CSV import, the record page's panel, the merge (every lookup re-pointed, histories
kept, the merge recorded) on the screens, through the bulk action and the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pluginkit import client_for, csrf_of, user, workspace
from sqlalchemy import select

from rapport.auth.users import create_token
from rapport.errors import NotFound, PermissionDenied, ValidationError
from rapport.plugins.manager import load_bundled
from rapport.records.query import Query
from rapport.records.transfer import import_csv
from rapport.workspace import Workspace

rules = load_bundled("duplicates").rules


@pytest.mark.parametrize(("a", "b"), [
    ("ACME, Inc.", "acme inc"), ("Acme Corporation", "acme"), ("Café Müller GmbH", "cafe muller"),
    ("华为技术有限公司", "华为技术"), ("  Big  Co ", "big"),
])
def test_names_normalise(a: str, b: str) -> None:
    assert rules.name_key(a) == rules.name_key(b)


def test_phones_and_emails_normalise() -> None:
    assert rules.phone_key("+1 (555) 010-9999") == rules.phone_key("555.010.9999")
    assert rules.phone_key("+86 138 0013 8000") == rules.phone_key("13800138000")
    assert rules.phone_key("12") == ""
    assert rules.email_key(" Ann@Example.COM ") == "ann@example.com"


@pytest.fixture
def warned(tmp_path: Path, database_url: str) -> Iterator[Workspace]:
    ws = workspace(tmp_path, database_url, "duplicates")
    yield ws
    ws.close()


@pytest.fixture
def blocked(tmp_path: Path, database_url: str) -> Iterator[Workspace]:
    ws = workspace(tmp_path, database_url, "duplicates", settings={"plugin_settings": {
        "duplicates": {"objects": {"account": {"mode": "block"},
                                   "lead": {"mode": "block", "rules": [["email"]]}}}}})
    yield ws
    ws.close()


def test_warn_mode_saves_and_the_record_page_shows_the_duplicates(warned: Workspace) -> None:
    first = warned.records.create("account", {"name": "ACME, Inc.", "phone": "+1 555 010 9999"})
    second = warned.records.create("account", {"name": "Acme"})
    third = warned.records.create("account", {"name": "Other", "phone": "(555) 010-9999"})
    client = client_for(warned, "ann@example.com")
    page = client.get(f"/o/account/{first['id']}").text
    assert 'id="duplicates-panel"' in page and "Possible duplicates" in page
    assert f'data-duplicate="{second["id"]}"' in page and f'data-duplicate="{third["id"]}"' in page
    assert "same Account name" in page and "same Phone" in page
    lonely = warned.records.create("account", {"name": "Unique Ltd"})
    assert 'id="duplicates-panel"' not in client.get(f"/o/account/{lonely['id']}").text
    overview = client.get("/x/duplicates").text
    assert "ACME, Inc." in overview and "Review and merge" in overview
    form = client.get("/o/account/new")
    made = client.post("/o/account/new", data={"name": "acme inc.",
                                               "csrf_token": csrf_of(form.text)})
    assert made.status_code == 200  # followed to the new record's page
    assert "possible duplicate of ACME, Inc." in made.text and 'id="duplicates-panel"' in made.text
    api = client.get(f"/api/v1/x/duplicates/account/{second['id']}").json()
    assert [d["id"] for d in api["data"]][:1] == [first["id"]] and api["mode"] == "warn"


def test_an_import_reports_duplicates_in_warn_mode(warned: Workspace, tmp_path: Path) -> None:
    warned.records.create("lead", {"last_name": "Ng", "company": "Gamma", "email": "ng@example.com"})
    csv = tmp_path / "leads.csv"
    csv.write_text("first_name,last_name,company,email\n"
                   "Li,Ng,Acme,NG@example.com\n"
                   "Wu,Chen,Beta,chen@example.com\n"
                   "Wu,Chen,Beta,other@example.com\n")
    report = import_csv(warned, "lead", csv)
    assert report.created == 3 and not report.errors
    assert len(report.warnings) == 2
    assert "possible duplicate of Ng" in report.warnings[0]
    assert "a row above in this import" in report.warnings[1]


def test_block_mode_refuses_on_create_on_the_api_and_on_import(blocked: Workspace,
                                                               tmp_path: Path) -> None:
    blocked.records.create("account", {"name": "Acme Ltd", "email": "info@acme.example"})
    with pytest.raises(ValidationError) as exc:
        blocked.records.create("account", {"name": "ACME"})
    problem = exc.value.problems[0]
    assert (problem.field, problem.code) == ("name", "duplicate")
    assert "possible duplicate of Acme Ltd" in problem.message
    client = client_for(blocked, "ann@example.com")
    token = create_token(blocked, "ann@example.com", None, "read_write")
    r = client.post("/api/v1/records/account", json={"name": "Beta", "email": "INFO@acme.example"},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "email"
    form = client.get("/o/account/new")
    refused = client.post("/o/account/new", data={"name": "acme", "csrf_token": csrf_of(form.text)})
    assert refused.status_code == 422 and "possible duplicate of Acme Ltd" in refused.text
    # editing the existing record is never refused
    existing = blocked.records.query("account", Query()).data[0]
    blocked.records.update("account", existing["id"], {"phone": "555 0100"})

    csv = tmp_path / "leads.csv"
    csv.write_text("last_name,company,email\nOne,A,one@example.com\nTwo,B,one@example.com\n")
    report = import_csv(blocked, "lead", csv)
    assert report.created == 0 and [line for line, _m in report.errors] == [3]
    assert "a row above in this import" in report.errors[0][1]
    assert blocked.records.count("lead", Query()) == 0


def _history(ws: Workspace, obj: str, rid: int) -> list[dict]:
    return ws.records.history(obj, rid)


def test_merge_repoints_everything_and_keeps_both_histories(warned: Workspace) -> None:
    ws = warned
    manager = user(ws, "mia@example.com", "manager")
    # the manager owns both: she may change them
    winner = ws.records.create("account", {"name": "Acme", "owner": manager.id})
    loser = ws.records.create("account", {"name": "ACME Inc", "phone": "555 0100",
                                          "industry": None, "owner": manager.id})
    ws.records.update("account", loser["id"], {"billing_city": "Lyon"})
    child = ws.records.create("account", {"name": "Acme Europe", "parent": loser["id"]})
    contact = ws.records.create("contact", {"last_name": "Ng", "account": loser["id"]})
    deal = ws.records.create("opportunity", {"name": "Big deal", "account": loser["id"],
                                             "stage": "prospecting"})
    note = ws.records.create("activity", {"subject": "Call", "related_object": "account",
                                          "related_id": loser["id"]})
    merge = load_bundled("duplicates").merge
    with pytest.raises(PermissionDenied):
        merge(ws, "account", winner["id"], [loser["id"]], user(ws, "sam@example.com"))
    done = merge(ws, "account", winner["id"], [loser["id"]], manager)
    assert done["moved"] == {"account.parent": 1, "contact.account": 1,
                             "opportunity.account": 1, "activity.related_id": 1}
    assert ws.records.get("contact", contact["id"])["account"] == winner["id"]
    assert ws.records.get("opportunity", deal["id"])["account"] == winner["id"]
    assert ws.records.get("account", child["id"])["parent"] == winner["id"]
    assert ws.records.get("activity", note["id"])["related_id"] == winner["id"]
    with pytest.raises(NotFound):
        ws.records.get("account", loser["id"])
    kept = ws.records.get("account", winner["id"])
    assert (kept["phone"], kept["billing_city"]) == ("555 0100", "Lyon")  # blanks filled
    history = _history(ws, "account", winner["id"])
    actions = [h["action"] for h in history]
    assert actions[0] == "merge" and actions.count("create") == 2  # both creations
    assert any(h["field"] == "billing_city" and h["new_value"] == "Lyon" for h in history)
    assert history[0]["new_value"]["merged"][0]["values"]["name"] == "ACME Inc"
    deleted = _history(ws, "account", loser["id"])
    assert [h["action"] for h in deleted] == ["delete"]  # the tombstone stays


def test_merge_on_the_screens_and_as_a_bulk_action(warned: Workspace) -> None:
    ws = warned
    a = ws.records.create("account", {"name": "Acme"})
    b = ws.records.create("account", {"name": "acme"})
    c = ws.records.create("account", {"name": "ACME."})
    ws.records.create("contact", {"last_name": "Ng", "account": b["id"]})
    client = client_for(ws, "ann@example.com")
    page = client.get(f"/x/duplicates/account/{a['id']}/merge/{b['id']}")
    assert page.status_code == 200 and "1 Contacts move over" in page.text
    assert client.post(f"/x/duplicates/account/{a['id']}/merge/{b['id']}",
                       data={}).status_code == 403  # no CSRF token
    done = client.post(f"/x/duplicates/account/{a['id']}/merge/{b['id']}",
                       data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/o/account/{a['id']}"
    shown = client.get(done.headers["location"]).text
    assert "Merged #" in shown and "Merged 1 duplicate(s) into this record" in shown

    member = client_for(ws, "sam@example.com", "member")
    assert "Merge into this record" not in member.get(f"/o/account/{a['id']}").text
    token = create_token(ws, "sam@example.com", None, "read_write")
    r = member.post("/api/v1/records/account/actions/merge_duplicates",
                    json={"ids": [a["id"], c["id"]]}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    token = create_token(ws, "ann@example.com", None, "read_write")
    r = client.post("/api/v1/records/account/actions/merge_duplicates",
                    json={"ids": [c["id"], a["id"]]}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.json()["message"] == f"1 record(s) merged into #{a['id']}"
    t = ws.table("account")
    with ws.engine.connect() as conn:
        assert list(conn.scalars(select(t.c.id))) == [a["id"]]
