"""The create form's validation round trips, and inline edit of one field on a record page."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from rapport.records.query import Cond, Query
from rapport.workspace import Workspace

from . import e2ekit

pytestmark = pytest.mark.e2e
expect = e2ekit.playwright_api().expect


def test_create_shows_errors_next_to_the_fields_and_keeps_what_was_typed(
        logged_in: Any, ws: Workspace, console: e2ekit.Console) -> None:
    console.allow(422)  # a refused save answers 422 with the form again
    page = logged_in
    acme = ws.records.create("account", {"name": "Acme Corp"})
    ws.records.create("account", {"name": "Globex"})

    page.goto("/o/opportunity")
    page.locator(".page-actions").get_by_role("link", name="New Opportunity").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New Opportunity")

    # no name (required), and a stage that needs a close date
    account = page.get_by_role("combobox", name="Account")
    account.fill("Acm")
    option = page.get_by_role("option", name=re.compile("^Acme Corp"))
    expect(page.locator("[data-lookup-option]")).to_have_count(1)
    option.click()
    expect(account).to_have_value("Acme Corp")
    page.locator("#in-amount").fill("25000")
    page.get_by_label("Stage").select_option("proposal")
    page.get_by_label("Probability").fill("40")
    page.get_by_label("Next step").fill("Send the proposal")
    page.get_by_role("button", name="Create").click()

    name_error = page.locator("#err-in-name")
    expect(name_error).to_have_text("Opportunity name is required")
    expect(page.get_by_label("Opportunity name")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#form-errors")).to_be_focused()  # the summary is announced
    expect(account).to_have_value("Acme Corp")
    expect(page.locator("input[name=account][data-lookup-value]")).to_have_value(str(acme["id"]))
    expect(page.locator("#in-amount")).to_have_value("25000")
    expect(page.get_by_label("Stage")).to_have_value("proposal")
    expect(page.get_by_label("Probability")).to_have_value("40")
    expect(page.get_by_label("Next step")).to_have_value("Send the proposal")

    # the name given, the validation rule on the close date speaks next to that field
    page.get_by_label("Opportunity name").fill("Acme expansion")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#err-in-close_date")).to_have_text(
        "Close date is required from the proposal stage on")
    expect(page.locator("#err-in-name")).to_have_count(0)
    expect(page.get_by_label("Opportunity name")).to_have_value("Acme expansion")
    expect(account).to_have_value("Acme Corp")
    expect(page.locator("#in-amount")).to_have_value("25000")

    page.get_by_label("Close date").fill("2031-03-15")
    page.get_by_role("button", name="Create").click()
    expect(page).to_have_url(re.compile(r"/o/opportunity/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme expansion")
    expect(page.get_by_role("status")).to_contain_text("Opportunity “Acme expansion” created.")
    expect(page.locator("#field-expected_revenue .field-value")).to_have_text("$10,000.00")

    rid = int(page.url.rsplit("/", 1)[1])
    saved = ws.records.get("opportunity", rid)
    assert saved["name"] == "Acme expansion"
    assert saved["account"] == acme["id"]
    assert Decimal(saved["amount"]) == Decimal("25000")
    assert saved["stage"] == "proposal"
    assert saved["close_date"] == date(2031, 3, 15)
    assert saved["next_step"] == "Send the proposal"
    found = ws.records.query("opportunity", Query(filter=Cond("name", "eq", "Acme expansion")))
    assert [r["id"] for r in found.data] == [rid]  # saved once, not per attempt


def test_inline_edit_of_one_field_saves_and_survives_a_reload(
        logged_in: Any, ws: Workspace, console: e2ekit.Console) -> None:
    console.allow(422)  # the refused amount
    page = logged_in
    deal = ws.records.create("opportunity", {"name": "Initech renewal", "amount": 1000,
                                             "probability": 50, "next_step": "Send proposal"})
    page.goto(f"/o/opportunity/{deal['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Initech renewal")

    field = page.locator("#field-next_step")
    field.hover()  # the pencil shows on hover
    field.get_by_role("link", name="Edit Next step").click()
    editor = page.locator("#field-next_step.editing")
    box = editor.get_by_label("Next step")
    expect(box).to_be_focused()
    expect(box).to_have_value("Send proposal")
    box.fill("Call the CFO")
    editor.get_by_role("button", name="Save").click()
    expect(page.locator("#field-next_step.editing")).to_have_count(0)
    expect(page.locator("#field-next_step .field-value")).to_have_text("Call the CFO")

    # a refused value stays in the editor with the reason; a good one updates the
    # formula that depends on it as well
    page.locator("#field-amount").hover()
    page.locator("#field-amount").get_by_role("link", name="Edit Amount").click()
    amount = page.locator("#field-amount.editing input[name=amount]")
    amount.fill("-5")
    page.locator("#field-amount.editing").get_by_role("button", name="Save").click()
    expect(page.locator("#err-edit-amount")).to_have_text("Amount must be at least 0")
    expect(amount).to_have_value("-5")
    amount.fill("2500")
    page.locator("#field-amount.editing").get_by_role("button", name="Save").click()
    expect(page.locator("#field-amount .field-value")).to_have_text("$2,500.00")
    expect(page.locator("#field-expected_revenue .field-value")).to_have_text("$1,250.00")

    page.reload()
    expect(page.locator("#field-next_step .field-value")).to_have_text("Call the CFO")
    expect(page.locator("#field-amount .field-value")).to_have_text("$2,500.00")
    expect(page.locator(".history")).to_contain_text("Call the CFO")
    saved = ws.records.get("opportunity", deal["id"])
    assert saved["next_step"] == "Call the CFO"
    assert Decimal(saved["amount"]) == Decimal("2500")
    assert saved["version"] == deal["version"] + 2
