"""The record page: sections, lookup links, related lists, the activity timeline, field
history, inline edit of one field, delete."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from conftest import csrf_of, input_value, text_of
from rapport.workspace import Workspace

HX = {"HX-Request": "true"}


@pytest.fixture
def acme(ws: Workspace) -> dict[str, Any]:
    acme = ws.records.create("account", {"name": "Acme", "industry": "technology",
                                         "website": "acme.example.com"})
    ws.records.create("opportunity", {"name": "Deal one", "account": acme["id"], "amount": 10})
    ws.records.create("opportunity", {"name": "Deal two", "account": acme["id"], "amount": 20})
    ws.records.create("contact", {"last_name": "Smith", "account": acme["id"]})
    ws.records.create("activity", {"subject": "Kick-off call", "account": acme["id"]})
    ws.records.create("activity", {"subject": "Linked by name", "related_object": "account",
                                   "related_id": acme["id"]})
    ws.records.create("activity", {"subject": "Someone else's", "related_object": "account",
                                   "related_id": acme["id"] + 100})
    return acme


def test_fields_are_laid_out_by_the_form_sections(client: TestClient, acme: dict[str, Any]) -> None:
    page = client.get(f"/o/account/{acme['id']}").text
    sections = re.findall(r'<h2 id="sec-\d+" class="card-title">([^<]+)</h2>', page)
    assert sections == ["Account", "Details", "Description"]
    assert page.index('id="field-name"') < page.index('id="field-annual_revenue"')
    assert ">Technology</span>" in page
    assert 'href="https://acme.example.com"' in page and 'rel="noopener noreferrer nofollow"' in page


def test_lookups_are_links_with_the_target_title(client: TestClient, ws: Workspace,
                                                 acme: dict[str, Any]) -> None:
    deal = ws.records.create("opportunity", {"name": "Deal", "account": acme["id"]})
    page = client.get(f"/o/opportunity/{deal['id']}").text
    assert f'<a href="/o/account/{acme["id"]}">Acme</a>' in page
    assert "Ann Admin" not in text_of(page, "field-owner")  # created by the system: no owner


def test_related_lists_timeline_and_history(client: TestClient, ws: Workspace,
                                            acme: dict[str, Any]) -> None:
    ws.records.update("account", acme["id"], {"industry": "finance"})
    page = client.get(f"/o/account/{acme['id']}").text
    assert "Opportunities" in page and "Deal one" in page and "Deal two" in page
    assert "Contacts" in page and "Smith" in page
    assert f'href="/o/opportunity/new?account={acme["id"]}"' in page
    timeline = page[page.index('id="sec-timeline"'):page.index('id="sec-history"')]
    assert "Kick-off call" in timeline and "Linked by name" in timeline
    assert "Someone else" not in timeline
    history = page[page.index('id="sec-history"'):]
    assert "Industry" in history and "Technology" in history and "Finance" in history
    assert "Created" in history


def test_inline_edit_saves_one_field(client: TestClient, ws: Workspace,
                                     acme: dict[str, Any]) -> None:
    base = f"/o/account/{acme['id']}/field/name"
    editor = client.get(base + "/edit", headers=HX)
    assert editor.status_code == 200 and "<html" not in editor.text
    assert 'name="version" value="1"' in editor.text and input_value(editor.text, "edit-name") == "Acme"
    token = csrf_of(editor.text)
    saved = client.post(base, data={"csrf_token": token, "version": "1", "name": "Acme Inc"},
                        headers=HX)
    assert saved.status_code == 200
    assert 'id="field-name"' in saved.text and "Acme Inc" in saved.text
    assert saved.headers["hx-trigger"] == "record-changed"
    assert ws.records.get("account", acme["id"])["name"] == "Acme Inc"
    cancel = client.get(base, headers=HX)
    assert "Acme Inc" in cancel.text and "<form" not in cancel.text


def test_inline_edit_shows_the_problem_in_place(client: TestClient, ws: Workspace,
                                                acme: dict[str, Any]) -> None:
    token = csrf_of(client.get("/").text)
    response = client.post(f"/o/account/{acme['id']}/field/name",
                           data={"csrf_token": token, "version": "1", "name": ""}, headers=HX)
    assert response.status_code == 422
    assert text_of(response.text, "err-edit-name") == "Account name is required" or \
        "required" in text_of(response.text, "err-edit-name")
    assert 'id="field-name"' in response.text and "<html" not in response.text
    bad = client.post(f"/o/account/{acme['id']}/field/employees",
                      data={"csrf_token": token, "version": "1", "employees": "many"}, headers=HX)
    assert bad.status_code == 422 and input_value(bad.text, "edit-employees") == "many"
    assert ws.records.get("account", acme["id"])["name"] == "Acme"


def test_inline_edit_refreshes_computed_fields(client: TestClient, ws: Workspace) -> None:
    deal = ws.records.create("opportunity", {"name": "Deal", "amount": 100, "probability": 10})
    token = csrf_of(client.get("/").text)
    response = client.post(f"/o/opportunity/{deal['id']}/field/amount",
                           data={"csrf_token": token, "version": "1", "amount": "200"}, headers=HX)
    assert response.status_code == 200
    assert 'id="field-expected_revenue" hx-swap-oob="true"' in response.text
    assert "$20.00" in response.text
    assert 'id="stage-path" aria-label="Sales process" hx-swap-oob="true"' in response.text


def test_inline_edit_with_a_stale_version(client: TestClient, ws: Workspace,
                                          acme: dict[str, Any]) -> None:
    ws.records.update("account", acme["id"], {"phone": "+1 555 0100"})  # now version 2
    token = csrf_of(client.get("/").text)
    response = client.post(f"/o/account/{acme['id']}/field/name",
                           data={"csrf_token": token, "version": "1", "name": "Mine"}, headers=HX)
    assert response.status_code == 409
    assert "Someone else changed this record" in response.text
    assert input_value(response.text, "edit-name") == "Mine" and 'value="2"' in response.text


def test_inline_edit_without_scripts(client: TestClient, ws: Workspace,
                                     acme: dict[str, Any]) -> None:
    page = client.get(f"/o/account/{acme['id']}/field/industry/edit")
    assert page.status_code == 200 and "<html" in page.text and "<select" in page.text
    done = client.post(f"/o/account/{acme['id']}/field/industry",
                       data={"csrf_token": csrf_of(page.text), "version": "1",
                             "industry": "energy"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/o/account/{acme['id']}"
    assert ws.records.get("account", acme["id"])["industry"] == "energy"


def test_computed_fields_have_no_editor(client: TestClient, ws: Workspace) -> None:
    deal = ws.records.create("opportunity", {"name": "Deal"})
    page = client.get(f"/o/opportunity/{deal['id']}").text
    assert "/field/expected_revenue/edit" not in page and "/field/name/edit" in page
    token = csrf_of(page)
    response = client.post(f"/o/opportunity/{deal['id']}/field/expected_revenue",
                           data={"csrf_token": token, "version": "1", "expected_revenue": "5"},
                           headers=HX)
    assert response.status_code == 422


def test_delete_asks_then_deletes(client: TestClient, ws: Workspace) -> None:
    lonely = ws.records.create("account", {"name": "Lonely"})
    page = client.get(f"/o/account/{lonely['id']}/delete")
    assert "Delete “Lonely”?" in page.text
    done = client.post(f"/o/account/{lonely['id']}/delete",
                       data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/o/account"
    assert client.get(f"/o/account/{lonely['id']}").status_code == 404


def test_a_refused_delete_stays_on_the_record(client: TestClient, acme: dict[str, Any]) -> None:
    token = csrf_of(client.get("/").text)
    response = client.post(f"/o/account/{acme['id']}/delete", data={"csrf_token": token})
    assert response.status_code == 200 and "still refer to it" in response.text
    assert client.get(f"/o/account/{acme['id']}").status_code == 200
