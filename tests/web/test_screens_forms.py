"""Create and edit forms: widgets per type, problems next to their fields with the typed
values kept, the version check, and lookups by search or by typed title."""

from __future__ import annotations

import re
from typing import Any

from starlette.testclient import TestClient

from conftest import csrf_of, input_value, text_of
from rapport.workspace import Workspace


def test_widgets_per_field_type(client: TestClient, ws: Workspace) -> None:
    ws.config["currency"] = "EUR"
    page = client.get("/o/opportunity/new").text
    assert re.search(r'<input type="text" id="in-name" name="name"', page)
    assert re.search(r'<select id="in-stage" name="stage"', page)
    assert '<option value="prospecting" selected>Prospecting</option>' in page  # the default
    assert re.search(r'<input type="date" id="in-close_date"', page)
    assert 'class="prefix" aria-hidden="true">EUR</span><input type="text" inputmode="decimal" id="in-amount"' in page
    assert 'id="in-probability"' in page and 'class="suffix" aria-hidden="true">%</span>' in page
    assert re.search(r'<textarea id="in-description" name="description"', page)
    assert 'name="account__label"' in page and 'hx-get="/o/account/lookup' in page
    assert 'name="expected_revenue"' not in page and "Computed when saved" in page  # formula
    assert 'for="in-name"' in page  # labels belong to their inputs
    activity = client.get("/o/activity/new").text
    assert re.search(r'<input type="datetime-local" id="in-start_at"', activity)
    product = client.get("/o/product/new").text
    assert re.search(r'<input type="checkbox" value="1" id="in-active" name="active"[^>]* checked', product)
    quote = client.get("/o/quote/new").text
    assert 'name="number"' not in quote and 'name="subtotal"' not in quote  # autonumber, rollup


def test_a_refused_create_shows_each_problem_at_its_field_and_keeps_the_input(
        client: TestClient, ws: Workspace) -> None:
    acme = ws.records.create("account", {"name": "Acme"})
    token = csrf_of(client.get("/o/opportunity/new").text)
    response = client.post("/o/opportunity/new", data={
        "csrf_token": token, "name": "", "amount": "-5", "stage": "qualification",
        "account": str(acme["id"]), "account__label": "Acme", "next_step": "Call <b>them</b>",
        "description": "line one\nline two"})
    assert response.status_code == 422
    page = response.text
    assert text_of(page, "err-in-name") == "Opportunity name is required"
    assert text_of(page, "err-in-amount") == "Amount must be at least 0"
    assert 'id="in-name" name="name" aria-invalid="true" aria-describedby="err-in-name"' in page
    assert input_value(page, "in-amount") == "-5"
    assert input_value(page, "in-next_step") == "Call <b>them</b>"
    assert "Call &lt;b&gt;them&lt;/b&gt;" in page
    assert "line one\nline two</textarea>" in page
    assert '<option value="qualification" selected>' in page
    assert f'name="account" value="{acme["id"]}"' in page and input_value(page, "in-account") == "Acme"
    assert "Please correct the following" in page and 'href="#in-name"' in page
    assert ws.records.count("opportunity", _all()) == 0


def test_a_stage_requirement_lands_on_its_field(client: TestClient, ws: Workspace) -> None:
    token = csrf_of(client.get("/o/opportunity/new").text)
    response = client.post("/o/opportunity/new", data={
        "csrf_token": token, "name": "", "stage": "proposal", "amount": "",
        "close_date": "2031-01-01"})
    assert response.status_code == 422  # with the field checks' problems
    assert text_of(response.text, "err-in-amount") == "Amount is required to enter Proposal"
    assert text_of(response.text, "err-in-name") == "Opportunity name is required"


def test_a_validation_rule_lands_on_its_field(client: TestClient, ws: Workspace) -> None:
    deal = ws.records.create("opportunity", {"name": "Deal", "stage": "proposal", "amount": 5,
                                             "close_date": "2030-01-01"})
    form = client.get(f"/o/opportunity/{deal['id']}/edit").text
    response = client.post(f"/o/opportunity/{deal['id']}/edit", data={
        "csrf_token": csrf_of(form), "version": "1", "name": "Deal", "stage": "proposal",
        "amount": "5", "close_date": ""})
    assert response.status_code == 422
    assert text_of(response.text, "err-in-close_date") == \
        "Close date is required from the proposal stage on"


def test_a_valid_create_goes_to_the_record_page(client: TestClient, ws: Workspace) -> None:
    acme = ws.records.create("account", {"name": "Acme"})
    token = csrf_of(client.get("/o/opportunity/new").text)
    response = client.post("/o/opportunity/new", data={
        "csrf_token": token, "name": "Big deal", "amount": "12,500.50", "stage": "qualification",
        "account": str(acme["id"]), "close_date": "2030-05-01", "probability": "40"},
        follow_redirects=False)
    assert response.status_code == 303
    rid = int(response.headers["location"].rsplit("/", 1)[1])
    assert response.headers["location"] == f"/o/opportunity/{rid}"
    record = ws.records.get("opportunity", rid)
    assert record["name"] == "Big deal" and str(record["amount"]) == "12500.50"
    assert record["account"] == acme["id"] and str(record["close_date"]) == "2030-05-01"
    page = client.get(response.headers["location"]).text
    assert "Big deal" in page and "created" in page  # the flash message
    assert "$5,000.20" in page                          # the formula, computed


def test_lookup_typed_without_scripts_is_found_by_title(client: TestClient, ws: Workspace) -> None:
    acme = ws.records.create("account", {"name": "Acme"})
    ws.records.create("account", {"name": "Twin"})
    ws.records.create("account", {"name": "Twin"})
    token = csrf_of(client.get("/o/contact/new").text)
    ok = client.post("/o/contact/new", data={"csrf_token": token, "last_name": "Smith",
                                             "account": "", "account__label": "Acme"},
                     follow_redirects=False)
    assert ok.status_code == 303
    rid = int(ok.headers["location"].rsplit("/", 1)[1])
    assert ws.records.get("contact", rid)["account"] == acme["id"]
    twin = client.post("/o/contact/new", data={"csrf_token": token, "last_name": "Jones",
                                               "account": "", "account__label": "Twin"})
    assert twin.status_code == 422 and "several records are named" in twin.text
    none = client.post("/o/contact/new", data={"csrf_token": token, "last_name": "Jones",
                                               "account": "", "account__label": "Nobody"})
    assert none.status_code == 422 and text_of(none.text, "err-in-account").startswith("Account:")


def test_lookup_search_returns_options_by_title(client: TestClient, ws: Workspace) -> None:
    for name in ("Acme", "Acme Europe", "Globex"):
        ws.records.create("account", {"name": name})
    page = client.get("/o/account/lookup?list=x&account__label=acm",
                      headers={"HX-Request": "true"}).text
    titles = re.findall(r'data-label="([^"]+)"', page)
    assert titles == ["Acme", "Acme Europe"]
    assert "No matches" in client.get("/o/account/lookup?q=zzz").text
    contacts = client.get("/o/contact/lookup?q=smi").text  # title is a formula: searched by parts
    assert "No matches" in contacts
    ws.records.create("contact", {"first_name": "Jo", "last_name": "Smith"})
    assert 'data-label="Jo Smith"' in client.get("/o/contact/lookup?q=smi").text


def test_new_form_takes_values_from_the_link(client: TestClient, ws: Workspace) -> None:
    acme = ws.records.create("account", {"name": "Acme"})
    page = client.get(f"/o/contact/new?account={acme['id']}").text
    assert f'name="account" value="{acme["id"]}"' in page and input_value(page, "in-account") == "Acme"


def test_edit_saves_and_a_stale_version_is_explained(client: TestClient, ws: Workspace) -> None:
    deal = ws.records.create("opportunity", {"name": "Deal", "amount": 10})
    page = client.get(f"/o/opportunity/{deal['id']}/edit").text
    assert 'name="version" value="1"' in page and input_value(page, "in-name") == "Deal"
    token = csrf_of(page)
    form = {"csrf_token": token, "version": "1", "name": "Deal v2", "amount": "20",
            "stage": "prospecting"}
    ok = client.post(f"/o/opportunity/{deal['id']}/edit", data=form, follow_redirects=False)
    assert ok.status_code == 303
    assert ws.records.get("opportunity", deal["id"])["name"] == "Deal v2"
    # someone else saved meanwhile: version 2 is current, this form still says 1
    stale = client.post(f"/o/opportunity/{deal['id']}/edit",
                        data={**form, "name": "Mine"})
    assert stale.status_code == 409
    assert "Someone else changed this record meanwhile" in stale.text
    assert input_value(stale.text, "in-name") == "Mine"      # what was typed is kept
    assert 'name="version" value="2"' in stale.text           # saving again is deliberate
    assert ws.records.get("opportunity", deal["id"])["name"] == "Deal v2"
    again = client.post(f"/o/opportunity/{deal['id']}/edit", data={**form, "name": "Mine",
                                                                  "version": "2"},
                        follow_redirects=False)
    assert again.status_code == 303 and ws.records.get("opportunity", deal["id"])["name"] == "Mine"


def test_edit_with_a_problem_keeps_the_input(client: TestClient, ws: Workspace) -> None:
    deal = ws.records.create("opportunity", {"name": "Deal"})
    token = csrf_of(client.get("/").text)
    response = client.post(f"/o/opportunity/{deal['id']}/edit", data={
        "csrf_token": token, "version": "1", "name": "Deal", "probability": "lots"})
    assert response.status_code == 422
    assert "not a number" in text_of(response.text, "err-in-probability")
    assert input_value(response.text, "in-probability") == "lots"


def test_checkbox_and_rich_text(client: TestClient, ws: Workspace) -> None:
    token = csrf_of(client.get("/").text)
    response = client.post("/o/product/new", data={"csrf_token": token, "name": "Widget",
                                                   "description": "<img src=x onerror=alert(1)>"},
                           follow_redirects=False)
    rid = int(response.headers["location"].rsplit("/", 1)[1])
    product = ws.records.get("product", rid)
    assert product["active"] is False  # an unticked box is false
    assert product["description"] == "<img src=x onerror=alert(1)>"  # stored as text
    page = client.get(f"/o/product/{rid}").text
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def _all() -> Any:
    from rapport.records.query import Query

    return Query()
