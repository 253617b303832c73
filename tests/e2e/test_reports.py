"""Reports in the browser: the sales dashboard loads every tile and follows its period; a
bar of a chart drills down to the records behind it and on to a record; the builder previews
a report as it is put together, and saves it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest

from rapport.workspace import Workspace

from . import e2ekit

pytestmark = pytest.mark.e2e
expect = e2ekit.playwright_api().expect

TODAY = datetime.now(UTC).date()
THIS_YEAR = date(TODAY.year, 6, 15)
LAST_YEAR = date(TODAY.year - 1, 3, 10)


@pytest.fixture
def deals(ws: Workspace) -> dict[str, dict[str, Any]]:
    acme = ws.records.create("account", {"name": "Acme"})
    rows = [("Acme pilot", 1000, "prospecting", THIS_YEAR, "web"),
            ("Acme rollout", 2500, "prospecting", LAST_YEAR, "web"),
            ("Acme support", 4000, "qualification", THIS_YEAR, "referral"),
            ("Acme renewal", 3000, "closed_won", THIS_YEAR, "web"),
            ("Acme upsell", 7000, "closed_lost", LAST_YEAR, "partner")]
    return {name: ws.records.create("opportunity", {
        "name": name, "account": acme["id"], "amount": amount, "stage": stage,
        "close_date": close.isoformat(), "source": source})
        for name, amount, stage, close, source in rows}


def test_the_dashboard_loads_its_tiles_and_follows_the_period(logged_in: Any,
                                                              deals: Any) -> None:
    page = logged_in
    page.locator("#nav-dashboards").click()
    page.get_by_role("link", name="Sales").click()
    expect(page).to_have_url(re.compile(r"/dashboards/sales$"))
    tiles = page.locator(".dash-tile")
    expect(tiles).to_have_count(7)
    # each tile swaps its skeleton for its report
    expect(page.locator(".dash-tile-body.loading")).to_have_count(0)
    expect(page.locator(".dash-tile .tile-error")).to_have_count(0)
    pipeline = page.locator("#tile-0 .kpi-figure")
    expect(pipeline).to_have_text("$5,000")  # open deals closing this year
    expect(page.locator("#tile-3 .chart-wide svg.chart-bar")).to_be_visible()
    expect(page.locator("#tile-4 .chart-wide svg.chart-funnel")).to_be_visible()
    expect(page.locator("#tile-6 .chart-wide svg.chart-donut")).to_be_visible()

    page.get_by_label(re.compile("^Period")).select_option("last_year")
    expect(page).to_have_url(re.compile(r"/dashboards/sales\?period=last_year$"))
    expect(pipeline).to_have_text("$2,500")
    expect(page.locator("#tile-0 .kpi-caption")).to_have_text("Sum of Amount · Last year")
    page.get_by_label(re.compile("^Period")).select_option("all")
    expect(pipeline).to_have_text("$7,500")
    # the choice is in the URL: a reload keeps it
    page.reload()
    expect(page.get_by_label(re.compile("^Period"))).to_have_value("all")
    expect(pipeline).to_have_text("$7,500")


def test_a_bar_drills_down_to_the_records_and_a_record(logged_in: Any,
                                                       deals: dict[str, Any]) -> None:
    page = logged_in
    page.goto("/dashboards/sales?period=all")
    bar = page.locator('#tile-3 .chart-wide a.mark[data-category="1"]')  # qualification
    expect(bar).to_be_visible()
    bar.click()
    expect(page).to_have_url(re.compile(r"/reports/amount_by_stage/records\?keys="))
    expect(page.locator("#drill-title")).to_have_text("Qualification")
    rows = page.locator("#drill-table tbody tr")
    expect(rows).to_have_count(1)
    rows.get_by_role("link", name="Acme support").click()
    expect(page).to_have_url(re.compile(rf"/o/opportunity/{deals['Acme support']['id']}$"))
    expect(page.locator("h1")).to_contain_text("Acme support")
    page.go_back()
    page.locator("#drill-back").click()
    expect(page).to_have_url(re.compile(r"/reports/amount_by_stage$"))
    # the report page's bars drill down the same way
    page.locator('#report-chart .chart-wide a.mark[data-category="0"]').click()
    expect(page.locator("#drill-title")).to_have_text("Prospecting")
    expect(page.locator("#drill-table tbody tr")).to_have_count(2)


def test_the_builder_previews_live_and_saves(logged_in: Any, ws: Workspace, deals: Any) -> None:
    page = logged_in
    page.goto("/reports")
    page.get_by_role("link", name="New report").click()
    expect(page.locator("#preview svg.chart-bar").first).to_be_attached()
    definition = page.locator("#definition-json")

    page.locator("#g-field-0").select_option("source")
    expect(definition).to_contain_text('"field": "source"')
    page.locator("#a-fn-0").select_option("sum")
    expect(definition).to_contain_text('"fn": "sum"')  # with the first number field
    page.locator("#a-field-0").select_option("amount")
    expect(definition).to_contain_text('"field": "amount"')
    expect(page.locator("#preview-errors")).to_have_count(0)
    page.locator("#f-add").click()
    expect(page.locator("#f-field-0")).to_be_visible()
    page.locator("#f-field-0").select_option("close_date")
    expect(page.locator('#f-op-0 option[value="in_period"]')).to_have_count(1)  # a date's
    page.locator("#f-op-0").select_option("is_not_blank")
    expect(definition).to_contain_text('"op": "is_not_blank"')
    expect(page.locator("select[name=f_field]")).to_have_count(1)  # added once, however changed
    page.locator("#chart-type").select_option("donut")
    expect(page.locator("#preview .chart-wide svg.chart-donut")).to_be_visible()
    expect(page.locator("#preview-table tbody tr").first).to_contain_text("Web")
    expect(page.locator("#preview-table tbody tr").first).to_contain_text("$6,500.00")

    page.locator("#b-label").fill("Amount by source")
    page.locator("#b-name").fill("amount_by_source")
    page.locator("#b-name").press("Tab")
    expect(definition).to_contain_text('"name": "amount_by_source"')
    page.locator("#save-report").click()
    expect(page).to_have_url(re.compile(r"/reports/amount_by_source$"))
    expect(page.locator(".flash")).to_have_text("Report saved.")
    expect(page.locator("#report-title")).to_have_text("Amount by source")
    expect(page.locator("#report-chart .chart-wide svg.chart-donut")).to_be_visible()
    assert ws.refresh().reports["amount_by_source"].data["chart"]["type"] == "donut"
    page.locator("#nav-reports").click()
    expect(page.locator("#report-item-amount_by_source")).to_contain_text("Donut chart")
