"""The list view: the filter builder (field, operator, value) and sorting by a column
header, checked against the same query made through the record service."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from rapport import demo
from rapport.auth.users import actor_of
from rapport.records.query import Cond, Query
from rapport.workspace import Workspace

from . import e2ekit

pytestmark = pytest.mark.e2e
expect = e2ekit.playwright_api().expect

THRESHOLD = Decimal(100_000)


def names(ws: Workspace, sort: list[tuple[str, bool]]) -> list[str]:
    page = ws.records.query("opportunity", Query(filter=Cond("amount", "gte", THRESHOLD),
                                                 sort=sort, limit=50))
    assert page.next_cursor is None
    return [r["name"] for r in page.data]


def replace_row(page: Any, action: Any) -> None:
    """Run ``action`` (which makes htmx re-render the filter row) and wait for the new row."""
    page.locator("[data-filter-row]").evaluate("row => row.setAttribute('data-old', '')")
    action()
    expect(page.locator("[data-filter-row][data-old]")).to_have_count(0)
    expect(page.locator("[data-filter-row]")).to_have_count(1)


def test_filter_and_sort_show_the_right_rows_in_the_right_order(
        logged_in: Any, ws: Workspace, admin: dict[str, Any]) -> None:
    demo.seed(ws, actor_of(admin))
    total = ws.records.count("opportunity", Query())
    page = logged_in
    page.goto("/o/opportunity")
    rows = page.locator("#results tbody th.title-cell")
    count = page.locator("#results .count")
    expect(count).to_have_text(f"{total} records")

    page.get_by_role("button", name="Filter", exact=True).click()
    row = page.locator("[data-filter-row]")
    expect(row).to_have_count(1)
    replace_row(page, lambda: row.get_by_label("Field").select_option("amount"))
    replace_row(page, lambda: row.get_by_label("Condition").select_option("gte"))
    expect(row.get_by_label("Condition")).to_have_value("gte")
    row.get_by_label("Value").fill("100000")
    page.get_by_role("button", name="Apply", exact=True).click()

    expect(page).to_have_url(re.compile(r"[?&]f=amount&op=gte&v=100000"))
    by_amount = names(ws, [("amount", True)])  # the list's default sort: -amount
    assert 0 < len(by_amount) < total
    expect(rows).to_have_text(by_amount)
    expect(count).to_have_text(f"{len(by_amount)} records")

    header = page.locator("#results thead th").filter(has_text="Opportunity name")
    header.get_by_role("link").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect(page).to_have_url(re.compile(r"sort=name"))
    expect(rows).to_have_text(names(ws, [("name", False)]))

    header.get_by_role("link").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(rows).to_have_text(names(ws, [("name", True)]))

    # the state is in the URL: a reload shows the same rows, the filter row filled in
    page.reload()
    expect(rows).to_have_text(names(ws, [("name", True)]))
    expect(row.get_by_label("Field")).to_have_value("amount")
    expect(row.get_by_label("Condition")).to_have_value("gte")
    expect(row.get_by_label("Value")).to_have_value("100000")

    # removing the filter row brings every record back
    row.get_by_role("button", name="Remove this filter").click()
    expect(count).to_have_text(f"{total} records")
    expect(rows).to_have_count(total)
