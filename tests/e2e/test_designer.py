"""The designer in the browser: an admin models a "Project" object (a lookup to account,
a picklist, a formula, a validation rule), arranges its form and defines a kanban board
by drag and drop; a business user at once creates records, meets the rule and drags
cards. A non-admin sees no designer link and gets 403."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from rapport.auth.users import create_user
from rapport.workspace import Workspace

from . import e2ekit
from .test_kanban import drag

pytestmark = pytest.mark.e2e
expect = e2ekit.playwright_api().expect


def shot(page: Any, name: str) -> None:
    """A screenshot into RAPPORT_E2E_SHOTS when set (to look at the screens)."""
    folder = os.environ.get("RAPPORT_E2E_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"designer-{name}.png"), full_page=True)


def apply(page: Any, name: str | None = None) -> None:
    """On the plan page: look at it, then Apply."""
    expect(page.locator("#plan")).to_be_visible()
    if name:
        shot(page, name)
    page.locator("#apply-plan").click()
    expect(page.locator(".flash-ok")).to_contain_text("Applied as revision")


def add_field(page: Any, field_type: str, name: str, fill: dict[str, str] | None = None,
              shot_name: str | None = None) -> None:
    page.goto("/designer/objects/project")
    page.locator("#new-field-type").select_option(field_type)
    page.locator("#add-field").click()
    page.locator("#in-name").fill(name)
    for selector, value in (fill or {}).items():
        element = page.locator(selector)
        if element.evaluate("e => e.tagName") == "SELECT":
            element.select_option(value)
        else:
            element.fill(value)
    if shot_name:
        shot(page, shot_name)
    page.locator("#review-field").click()
    expect(page.locator("#plan-steps")).to_contain_text(f"add column project.{name}")
    apply(page)


def test_admin_models_a_project_and_a_user_works_with_it(
        logged_in: Any, ws: Workspace, new_page: Any, console: e2ekit.Console) -> None:
    console.allow(403, 422)  # the designer refuses the member; the refused save answers 422
    page = logged_in
    acme = ws.records.create("account", {"name": "Acme"})
    page.goto("/")
    page.locator("#nav-designer").click()
    expect(page.locator("h1")).to_have_text("Designer")
    shot(page, "home")

    # the object
    page.locator("#new-object").click()
    page.locator("#in-name").fill("project")
    page.locator("#in-label_en").fill("Project")
    page.locator("#in-label_zh").fill("项目")
    page.locator("#in-plural_en").fill("Projects")
    page.get_by_role("button", name="Review the plan").click()
    expect(page.locator("#plan-steps")).to_contain_text("create table project")
    apply(page, "plan-create")

    # fields: a lookup to account, a picklist, a budget, a formula
    add_field(page, "lookup", "account", {"#in-target": "account", "#in-on_delete": "restrict"})
    page.goto("/designer/objects/project")
    page.locator("#new-field-type").select_option("picklist")
    page.locator("#add-field").click()
    page.locator("#in-name").fill("phase")
    expect(page.locator("#in-max_length")).to_be_hidden()  # inputs of the chosen type only
    page.locator("[data-add-option]").click()
    values = page.locator("input[name=opt_value]")
    for i, value in enumerate(["plan", "build", "ship"]):
        values.nth(i).fill(value)
    page.locator("input[name=opt_label_zh]").nth(0).fill("计划")
    shot(page, "field-picklist")
    page.locator("#review-field").click()
    apply(page)
    add_field(page, "currency", "budget", {"#in-min": "0"})
    page.goto("/designer/objects/project")
    page.locator("#new-field-type").select_option("formula")
    page.locator("#add-field").click()
    page.locator("#in-name").fill("budget_k")
    page.locator("#in-result_type").select_option("decimal")
    page.locator("#in-expression").fill("budgt / 1000")  # a typo: the check names it
    expect(page.locator("#expression-check")).to_contain_text("budgt")
    page.locator("#in-expression").fill("budget / 1000")
    expect(page.locator("#expression-check")).to_contain_text("Valid")
    shot(page, "field-formula")
    page.locator("#review-field").click()
    expect(page.locator("#plan-steps")).to_contain_text("backfill project.budget_k")
    apply(page)

    # a validation rule, checked as it is typed
    page.goto("/designer/objects/project")
    page.locator("#add-rule").click()
    page.locator("#in-name").fill("budget_cap")
    page.locator("#in-when").fill("budget >")
    expect(page.locator("#when-check [data-check=error]")).to_be_visible()
    page.locator("#in-when").fill("budget > 100000")
    expect(page.locator("#when-check")).to_contain_text("Valid")
    page.locator("#in-field").select_option("budget")
    page.locator("#in-message_en").fill("Budget too high for one project")
    page.locator("#test-rule").click()
    expect(page.locator("#when-check [data-test-result]")).to_contain_text("0 of 0")
    shot(page, "rule")
    page.locator("#review-rule").click()
    apply(page)

    # the layout: a second form section, a kanban by phase with the budget on the cards
    page.goto("/designer/objects/project/layout")
    page.locator("[data-add-section]").click()
    sections = page.locator("[data-section]")
    expect(sections).to_have_count(2)
    sections.nth(1).locator("input[name=section_label]").fill("Money")
    first = sections.nth(0).locator("ul[data-list]")
    second = sections.nth(1).locator("ul[data-list]")
    drag(page, first.locator("li[data-name=budget]"), second)
    expect(second.locator("li[data-name=budget]")).to_have_count(1)
    drag(page, first.locator("li[data-name=budget_k]"), second)
    expect(second.locator("li[data-name=budget_k]")).to_have_count(1)
    page.locator("#in-kanban_group_by").select_option("phase")
    page.locator("#in-kanban_sum").select_option("budget")
    pool = page.locator("section[aria-labelledby=kanban-layout-title] ul[data-pool]")
    drag(page, pool.locator("li[data-name=name]"), page.locator("#kanban-card"))
    expect(page.locator("#kanban-card li[data-name=name]")).to_have_count(1)
    drag(page, pool.locator("li[data-name=budget]"), page.locator("#kanban-card"))
    expect(page.locator("#kanban-card li[data-name=budget]")).to_have_count(1)
    shot(page, "layout")
    page.locator("#review-layout").click()
    apply(page, "plan-layout")
    views = ws.refresh().objects["project"].views
    assert views["form"]["sections"][1] == {"label": "Money", "fields": ["budget", "budget_k"]}
    assert views["kanban"]["group_by"] == "phase" and views["kanban"]["sum"] == "budget"
    assert sorted(views["kanban"]["card"]) == ["budget", "name"]

    # a business user, in their own browser, works with it at once
    bob = create_user(ws, "bob@example.com", "member", e2ekit.PASSWORD, full_name="Bob Member")
    user = new_page()
    e2ekit.login(user, "bob@example.com")
    expect(user.locator("#nav-designer")).to_have_count(0)
    assert user.goto("/designer").status == 403
    user.goto("/o/project/new")
    expect(user.get_by_role("group", name="Money")).to_be_visible()
    shot(user, "user-form")
    user.get_by_label("Name").fill("Website")
    user.get_by_label("Phase").select_option("plan")
    user.locator("#in-budget").fill("250000")
    user.get_by_role("button", name="Create").click()
    expect(user.locator("#form-errors")).to_contain_text("Budget too high for one project")
    user.locator("#in-budget").fill("5000")
    user.get_by_role("button", name="Create").click()
    expect(user.locator(".record-head, h1").first).to_contain_text("Website")
    first_id = ws.records.query("project", __import__(
        "rapport.records.query", fromlist=["Query"]).Query()).data[0]["id"]
    ws.records.create("project", {"name": "Mobile app", "phase": "plan", "budget": 7000,
                                  "account": acme["id"], "owner": bob["id"]})  # a member's own
    user.goto("/o/project/kanban")
    plan_col = user.locator('[data-kanban-list][data-value="plan"]')
    build_col = user.locator('[data-kanban-list][data-value="build"]')
    expect(plan_col.locator(".kanban-card")).to_have_count(2)
    card = user.locator(f"#card-{first_id}")
    version = ws.records.get("project", first_id)["version"]
    drag(user, card, build_col)
    expect(build_col.locator(card)).to_have_count(1)
    # the server's answer swaps in the card with its new version
    expect(card).to_have_attribute("data-version", str(version + 1))
    shot(user, "user-kanban")
    assert ws.records.get("project", first_id)["phase"] == "build"
    assert ws.records.get("project", first_id)["budget_k"] == 5


def test_rename_in_the_browser_keeps_the_data(logged_in: Any, ws: Workspace) -> None:
    page = logged_in
    acme = ws.records.create("account", {"name": "Acme"})
    page.goto("/designer/objects/account/fields/name")
    page.locator("#in-name").fill("company")
    page.locator("#review-field").click()
    expect(page.locator("#plan-steps")).to_contain_text("rename column account.company (from name)")
    expect(page.locator("#data-loss")).to_have_count(0)
    apply(page, "plan-rename")
    page.goto(f"/o/account/{acme['id']}")
    expect(page.locator("main")).to_contain_text("Acme")


def test_data_loss_needs_the_second_confirmation(logged_in: Any, ws: Workspace,
                                                 console: e2ekit.Console) -> None:
    console.allow(422)
    page = logged_in
    ws.apply(ws.documents_from({"name": "thing", "fields": [
        {"name": "name", "type": "text"}, {"name": "size", "type": "integer"}]}))
    ws.records.create("thing", {"name": "a", "size": 3})
    page.goto("/designer/objects/thing/fields/size")
    page.locator("#remove-field").click()
    expect(page.locator(".plan-step.destructive")).to_contain_text("DESTROYS DATA")
    shot(page, "plan-destructive")
    # the browser will not submit without the confirmation ticked
    page.locator("#apply-plan").click()
    expect(page.locator("#plan")).to_be_visible()
    assert ws.refresh().objects["thing"].has_field("size")
    page.locator("#confirm-loss").check()
    page.locator("#apply-plan").click()
    expect(page.locator(".flash-ok")).to_contain_text("Applied")
    assert not ws.refresh().objects["thing"].has_field("size")


def test_workflow_diagram_and_revisions(logged_in: Any, ws: Workspace) -> None:
    page = logged_in
    page.goto("/designer/workflow/opportunity_sales")
    expect(page.locator("#diagram svg")).to_be_visible()
    shot(page, "workflow-json")
    page.goto("/designer/flows/workflow/opportunity_sales")
    expect(page.locator("#diagram svg")).to_be_visible()
    expect(page.locator("#stage-rows input[name=st_name]").first).to_have_value("prospecting")
    shot(page, "workflow")
    page.goto("/designer/flows/approval/quote_discount")
    expect(page.locator("#diagram svg")).to_be_visible()
    shot(page, "approval")
    page.goto("/designer/revisions")
    expect(page.locator("#designer-revisions")).to_contain_text("system")
    shot(page, "revisions")
    page.goto(f"/designer/revisions/diff?a=0&b={ws.meta.revision}")
    expect(page.locator(".designer-diff").first).to_be_visible()
    shot(page, "diff")


def test_fields_reordered_by_dragging_their_rows(logged_in: Any, ws: Workspace) -> None:
    page = logged_in
    page.goto("/designer/objects/product")
    rows = page.locator("#designer-fields tbody tr")
    names = [rows.nth(i).get_attribute("data-name") for i in range(rows.count())]
    expect(page.locator("[data-order-actions]")).to_be_hidden()
    handle = rows.nth(0).locator(".drag-handle")
    target = rows.nth(2)
    handle.scroll_into_view_if_needed()
    start, end = handle.bounding_box(), target.bounding_box()
    assert start and end
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(start["x"] + 5, start["y"] + 10, steps=5)
    page.mouse.move(end["x"] + 20, end["y"] + end["height"] - 4, steps=20)
    page.wait_for_timeout(300)
    page.mouse.move(end["x"] + 20, end["y"] + end["height"] - 2, steps=2)
    page.mouse.up()
    expect(page.locator("[data-order-actions]")).to_be_visible()
    order = page.locator("[data-order-input]").input_value().split(",")
    assert order != names and sorted(order) == sorted(names)
    page.locator("#save-order").click()
    expect(page.locator("#plan-empty")).to_be_visible()  # an order is no schema change
    apply(page)
    assert list(ws.refresh().objects["product"].field_names) == order


OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_designer_screens_fit_a_phone(new_page: Any, admin: Any) -> None:
    """Wide tables scroll inside their card; the page itself never scrolls sideways."""
    page = new_page(e2ekit.PHONE)
    e2ekit.login(page)
    for name, path in [("phone-home", "/designer"), ("phone-object", "/designer/objects/opportunity"),
                       ("phone-field", "/designer/objects/opportunity/fields/stage"),
                       ("phone-layout", "/designer/objects/opportunity/layout"),
                       ("phone-workflow", "/designer/flows/workflow/opportunity_sales"),
                       ("phone-revisions", "/designer/revisions")]:
        page.goto(path)
        expect(page.locator("main h1")).to_be_visible()
        shot(page, name)
        assert page.evaluate(OVERFLOW) <= 0, path
