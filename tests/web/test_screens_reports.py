"""The report screens: the list, a report's page for every layout (with its chart, table,
period picker, exports and drill-downs), the builder (preview, errors, save, admins only),
dashboards and their tiles; escaping and broken reports."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import unquote

import pytest
from starlette.testclient import TestClient

from conftest import PASSWORD, csrf_of, login
from rapport.auth.users import create_user
from rapport.workspace import Workspace

HX = {"HX-Request": "true"}
TODAY = datetime.now(UTC).date()
THIS_YEAR = date(TODAY.year, 6, 15) if TODAY.month != 6 else date(TODAY.year, 7, 15)
LAST_YEAR = date(TODAY.year - 1, 3, 10)

#: (name, account, amount, stage, close date, source)
DEALS = [
    ("Acme pilot", "Acme", 1000, "prospecting", THIS_YEAR, "web"),
    ("Acme rollout", "Acme", 2500, "prospecting", LAST_YEAR, "web"),
    ("Globex support", "Globex", 4000, "qualification", THIS_YEAR, "referral"),
    ("Globex platform", "Globex", 8000, "proposal", THIS_YEAR, "event"),
    ("Initech renewal", "Initech", 3000, "closed_won", THIS_YEAR, "web"),
    ("Initech upsell", "Initech", 7000, "closed_lost", LAST_YEAR, "partner"),
]


def text(fragment: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))).strip()


def table_rows(page: str, table_id: str = "report-table", part: str = "tbody") -> list[list[str]]:
    """The cells' text of each row of a report table's body (or tfoot)."""
    m = re.search(rf'<table[^>]*id="{table_id}".*?<{part}>(.*?)</{part}>', page, re.S)
    assert m, f"no {part} in #{table_id}"
    return [[text(c) for c in re.findall(r"<t[hd]\b[^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr\b[^>]*>(.*?)</tr>", m.group(1), re.S)]


def after(page: str, element_id: str) -> str:
    """The page's text from the element with this id on."""
    start = page.index(f'id="{element_id}"')
    return text(page[page.index(">", start) + 1:])


def drill_links(fragment: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'href="(/reports/[a-z_]+/records\?[^"]+)"',
                                                 fragment)]


@pytest.fixture
def deals(ws: Workspace, admin: dict[str, Any]) -> dict[str, dict[str, Any]]:
    accounts = {n: ws.records.create("account", {"name": n}) for n in ("Acme", "Globex", "Initech")}
    out = {}
    for name, account, amount, stage, close, source in DEALS:
        out[name] = ws.records.create("opportunity", {
            "name": name, "account": accounts[account]["id"], "amount": amount, "stage": stage,
            "close_date": close.isoformat(), "source": source})
    return out


@pytest.fixture
def member(app_client: TestClient, ws: Workspace) -> TestClient:
    create_user(ws, "mia@example.com", "member", PASSWORD, full_name="Mia Member")
    return login(TestClient(app_client.app), "mia@example.com")


def save_report(ws: Workspace, definition: dict[str, Any]) -> None:
    ws.apply(ws.documents_from({**definition, "kind": "report"}, f"report/{definition['name']}"))


# -- the list ---------------------------------------------------------------------------------

def test_the_list_groups_reports_by_object_with_their_kind(client: TestClient, ws: Workspace
                                                          ) -> None:
    page = client.get("/reports").text
    for name in ws.meta.reports:
        assert f'href="/reports/{name}"' in page and f'href="/reports/{name}/edit"' in page
    item = after(page, "report-item-sales_funnel")
    assert item.startswith("Sales funnel Funnel · Funnel chart")
    assert "Stage by owner Matrix" in text(page)
    assert 'href="/reports/new"' in page and 'href="/dashboards/sales"' in page
    assert 'id="nav-reports"' in page and 'id="nav-dashboards"' in page
    assert "Needs repair" not in page


def test_members_see_reports_but_no_builder(member: TestClient, deals: Any) -> None:
    page = member.get("/reports").text
    assert 'href="/reports/amount_by_stage"' in page
    assert 'href="/reports/new"' not in page and "/edit" not in page
    report = member.get("/reports/amount_by_stage").text
    assert 'id="report-table"' in report and 'id="edit-report"' not in report
    assert member.get("/reports/new").status_code == 403
    assert member.get("/reports/amount_by_stage/edit").status_code == 403
    token = csrf_of(page)
    for url in ("/reports/new", "/reports/builder", "/reports/amount_by_stage/edit"):
        response = member.post(url, data={"csrf_token": token, "object": "opportunity",
                                          "name": "mine"}, follow_redirects=False)
        assert response.status_code == 403, url
    assert "mine" not in member.app.state.ws.meta.reports


def test_builder_posts_need_the_csrf_token(client: TestClient) -> None:
    response = client.post("/reports/builder", data={"object": "opportunity"})
    assert response.status_code == 403


# -- report pages ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["amount_by_stage", "forecast_by_month", "largest_open_deals",
                                  "open_pipeline", "opportunities_by_source", "pipeline_by_stage",
                                  "sales_funnel", "stage_by_owner", "time_in_stage",
                                  "win_rate_by_owner"])
def test_every_core_report_has_a_page(client: TestClient, ws: Workspace, deals: Any,
                                      name: str) -> None:
    response = client.get(f"/reports/{name}")
    assert response.status_code == 200
    page = response.text
    assert 'id="report-table"' in page and 'id="report-error"' not in page
    chart = ws.meta.reports[name].data.get("chart")
    if chart and chart["type"] != "kpi":
        assert f'class="chart chart-{chart["type"]}"' in page
    elif chart:
        assert 'class="kpi-figure"' in page
    else:
        assert 'id="report-chart"' not in page


def test_a_summary_page_draws_the_chart_and_the_groups_with_totals(client: TestClient,
                                                                   deals: Any) -> None:
    page = client.get("/reports/amount_by_stage").text
    assert after(page, "report-title").startswith("Amount by stage Summary")
    rows = table_rows(page)
    assert rows[0] == ["Prospecting", "$3,500.00", "2", "$1,750.00"]
    assert ["Closed lost", "$7,000.00", "1", "$7,000.00"] in rows
    assert table_rows(page, part="tfoot") == [["Total", "$25,500.00", "6", "$4,250.00"]]
    chart = page[page.index('id="report-chart"'):page.index("</figure>")]
    # a bar per stage with deals, drawn for wide and for narrow screens
    assert chart.count('<a href="/reports/amount_by_stage/records?') == 2 * 5
    assert 'fill="#9CA3AF"' in chart  # the prospecting option's colour


def test_summary_with_two_groupings_has_subtotals(client: TestClient, deals: Any) -> None:
    save_report(client.app.state.ws, {
        "name": "stage_by_source", "object": "opportunity",
        "group_by": [{"field": "stage"}, {"field": "source"}],
        "aggregates": [{"fn": "count"}, {"fn": "sum", "field": "amount"}],
        "chart": {"type": "stacked_bar", "x": "stage", "y": "sum_amount", "series": "source"}})
    page = client.get("/reports/stage_by_source").text
    rows = table_rows(page)
    assert rows[0] == ["Prospecting", "Web", "2", "$3,500.00"]
    assert rows[1] == ["Prospecting subtotal", "2", "$3,500.00"]
    assert ["Qualification", "Referral", "1", "$4,000.00"] in rows
    assert table_rows(page, part="tfoot") == [["Total", "6", "$25,500.00"]]
    links = drill_links(page[page.index('id="report-table"'):])
    assert '/reports/stage_by_source/records?keys=["prospecting","web"]' in map(unquote, links)
    assert '/reports/stage_by_source/records?keys=["prospecting"]' in map(unquote, links)
    assert 'class="legend"' in page  # one series per source


def test_a_matrix_pivots_the_second_grouping_across(client: TestClient, deals: Any) -> None:
    page = client.get("/reports/stage_by_owner").text
    head = table_rows(page, part="thead")
    assert head[0][0].startswith("Owner ↓ Stage →")
    assert head[0][1:] == ["Prospecting", "Qualification", "Proposal", "Closed won",
                           "Closed lost", "Total"]
    assert table_rows(page) == [["(blank)", "$3,500.00 2", "$4,000.00 1", "$8,000.00 1",
                                 "$3,000.00 1", "$7,000.00 1", "$25,500.00 6"]]
    assert table_rows(page, part="tfoot")[0][0] == "Total"
    cell = '/reports/stage_by_owner/records?keys=[null,"proposal"]'  # no owner: made by the system
    assert cell in map(unquote, drill_links(page))


def test_a_tabular_report_links_records_and_says_when_it_is_cut(
        client: TestClient, ws: Workspace, deals: dict[str, dict[str, Any]]) -> None:
    page = client.get("/reports/largest_open_deals").text
    rows = table_rows(page)
    assert [r[0] for r in rows] == ["Globex platform", "Globex support", "Acme rollout",
                                    "Acme pilot"]
    deal = deals["Globex platform"]
    assert f'href="/o/opportunity/{deal["id"]}"' in page
    assert f'href="/o/account/{deal["account"]}"' in page
    assert table_rows(page, part="tfoot") == [["Total", "", "", "", "$15,500.00", "", ""]]
    assert "4 records" in after(page, "report-table-count")
    save_report(ws, {"name": "two_deals", "object": "opportunity",
                     "columns": ["name", "amount"], "aggregates": [{"fn": "count"}],
                     "sort": "-amount", "limit": 2})
    page = client.get("/reports/two_deals").text
    assert after(page, "report-table-count").startswith(
        "Showing 2 of 6 records")
    assert table_rows(page, part="tfoot") == [["Total · Record count: 6", ""]]


def test_pipeline_reports_show_funnel_rates_and_forecast(client: TestClient, deals: Any) -> None:
    funnel = client.get("/reports/sales_funnel").text
    assert 'class="chart chart-funnel"' in funnel
    rows = table_rows(funnel)
    # the lost deal never reached an open stage beyond the first: not in the funnel
    assert rows[0][:3] == ["Prospecting", "5", "2"] and rows[1][:4] == ["Qualification", "3", "1",
                                                                          "60%"]
    win = client.get("/reports/win_rate_by_owner").text
    assert table_rows(win)[0][1:5] == ["1", "1", "4", "50%"]
    forecast = client.get("/reports/forecast_by_month").text
    assert 'class="chart chart-line"' in forecast


def test_drill_down_lists_the_records_of_each_group(client: TestClient, deals: Any) -> None:
    page = client.get("/reports/amount_by_stage").text
    rows = table_rows(page)
    links = drill_links(page[page.index('id="report-table"'):])
    assert len(links) == len(rows)
    for row, link in zip(rows, links, strict=True):
        drill = client.get(link)
        assert drill.status_code == 200
        records = table_rows(drill.text, "drill-table")
        assert len(records) == int(row[2]), row
        assert after(drill.text, "drill-title").startswith(row[0])
        assert 'href="/reports/amount_by_stage"' in drill.text  # the way back
    won = client.get(links[[r[0] for r in rows].index("Closed won")]).text
    deal = next(d for d in deals.values() if d["stage"] == "closed_won")
    assert f'href="/o/opportunity/{deal["id"]}">Initech renewal</a>' in won
    record = client.get(f"/o/opportunity/{deal['id']}")
    assert record.status_code == 200 and "Initech renewal" in record.text


def test_drill_down_keeps_the_period_and_refuses_bad_keys(client: TestClient, deals: Any) -> None:
    page = client.get("/reports/amount_by_stage?period=this_year").text
    prospecting = drill_links(page[page.index('id="report-table"'):])[0]
    assert "period=this_year" in prospecting
    assert len(table_rows(client.get(prospecting).text, "drill-table")) == 1
    bad = client.get("/reports/amount_by_stage/records?keys=nonsense")
    assert bad.status_code == 422 and "keys is a JSON list" in bad.text
    assert client.get("/reports/nope/records?keys=[1]").status_code == 404


def test_the_period_picker_filters_and_stays_in_the_links(client: TestClient, deals: Any) -> None:
    page = client.get("/reports/amount_by_stage").text
    assert '<option value="all" selected>All time</option>' in page
    assert 'Period <span class="muted">(Close date)</span>' in page
    this_year = client.get("/reports/amount_by_stage?period=this_year").text
    last_year = client.get("/reports/amount_by_stage?period=last_year").text
    assert table_rows(this_year, part="tfoot") == [["Total", "$16,000.00", "4", "$4,000.00"]]
    assert table_rows(last_year, part="tfoot") == [["Total", "$9,500.00", "2", "$4,750.00"]]
    assert '<option value="last_year" selected>Last year</option>' in last_year
    assert "/reports/amount_by_stage/export?format=csv&amp;period=last_year" in last_year
    # the picker's htmx request gets the report's view only
    fragment = client.get("/reports/amount_by_stage?period=this_year", headers=HX).text
    assert fragment.startswith('<div id="report-view"') and "<html" not in fragment
    # an unknown period is ignored
    odd = client.get("/reports/amount_by_stage?period=someday").text
    assert table_rows(odd, part="tfoot")[0][2] == "6"


def test_exports_download_csv_and_xlsx(client: TestClient, deals: Any) -> None:
    response = client.get("/reports/amount_by_stage/export?format=csv&period=this_year")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="amount_by_stage.csv"' in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["Stage", "Sum of Amount", "Record count", "Average Amount"]
    assert rows[-1][0] == "Total" and float(rows[-1][1]) == 16000 and rows[-1][2] == "4"
    xlsx = client.get("/reports/stage_by_owner/export?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert "spreadsheetml" in xlsx.headers["content-type"]
    assert client.get("/reports/amount_by_stage/export?format=pdf").status_code == 422


def test_reports_render_in_chinese(client: TestClient, deals: Any) -> None:
    token = csrf_of(client.get("/").text)
    client.post("/locale", data={"locale": "zh-CN", "csrf_token": token, "next": "/"})
    listing = client.get("/reports").text
    assert "新建报表" in listing and "销售漏斗" in listing and "漏斗图" in listing
    page = client.get("/reports/amount_by_stage").text
    assert "各阶段金额" in page and "初步接洽" in page and "合计" in page
    assert "导出 CSV" in page and "全部时间" in page
    board = client.get("/dashboards/sales").text
    assert "销售看板" in board and "今年" in board
    builder = client.get("/reports/new").text
    assert "新建报表" in builder and "预览" in builder and "分组" in builder


def test_labels_and_record_names_are_escaped(client: TestClient, ws: Workspace) -> None:
    evil = '<script>alert("x")</script>'
    account = ws.records.create("account", {"name": evil})
    ws.records.create("opportunity", {"name": f"{evil} deal", "account": account["id"],
                                      "amount": 10})
    save_report(ws, {"name": "evil", "label": '<img src=x onerror="alert(1)">',
                     "object": "opportunity", "group_by": [{"field": "account"}],
                     "aggregates": [{"fn": "sum", "field": "amount"}],
                     "chart": {"type": "bar", "title": evil}})
    for url in ("/reports", "/reports/evil", "/reports/new"):
        page = client.get(url).text
        assert "<script>alert" not in page and "<img src=x" not in page, url
    page = client.get("/reports/evil").text
    assert "&lt;img src=x onerror=" in page and "&lt;script&gt;alert(" in page
    drill = client.get(drill_links(page)[0]).text
    assert "<script>alert" not in drill and "&lt;script&gt;alert(" in drill
    save_report(ws, {"name": "evil_tabular", "object": "opportunity",
                     "columns": ["name", "account"]})
    page = client.get("/reports/evil_tabular").text
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_unknown_reports_are_404(client: TestClient) -> None:
    assert client.get("/reports/nothing_here").status_code == 404
    assert client.get("/reports/nothing_here/edit").status_code == 404
    assert client.get("/dashboards/nothing_here").status_code == 404


# -- broken reports ------------------------------------------------------------------------------

@pytest.fixture
def project(ws: Workspace) -> dict[str, Any]:
    doc = {"name": "project", "fields": [
        {"name": "name", "type": "text", "required": True},
        {"name": "phase", "type": "picklist", "options": ["plan", "build"]},
        {"name": "budget", "type": "currency"}]}
    ws.apply(ws.documents_from(doc))
    ws.records.create("project", {"name": "P1", "phase": "plan", "budget": 100})
    save_report(ws, {"name": "budget_by_phase", "object": "project",
                     "group_by": [{"field": "phase"}],
                     "aggregates": [{"fn": "sum", "field": "budget"}], "chart": {"type": "bar"}})
    ws.apply(ws.documents_from({"kind": "dashboard", "name": "projects", "tiles": [
        {"report": "budget_by_phase", "width": 6},
        {"report": "amount_by_stage", "type": "table", "width": 6}]}))
    return doc


def drop_phase(ws: Workspace, doc: dict[str, Any]) -> None:
    doc = {**doc, "fields": [f for f in doc["fields"] if f["name"] != "phase"]}
    ws.apply(ws.documents_from(doc), allow_data_loss=True)


def test_a_report_whose_field_was_removed_says_what_is_missing(
        client: TestClient, ws: Workspace, project: dict[str, Any]) -> None:
    assert 'id="report-table"' in client.get("/reports/budget_by_phase").text
    drop_phase(ws, project)
    response = client.get("/reports/budget_by_phase")
    assert response.status_code == 200
    error = after(response.text, "report-error")
    assert error.startswith("This report no longer runs:")
    assert "/group_by/0/field: unknown field 'phase' of project" in error
    assert 'href="/reports/budget_by_phase/edit"' in response.text
    listing = client.get("/reports").text
    item = after(listing, "report-item-budget_by_phase")
    assert "Needs repair" in item and "unknown field 'phase'" in item
    # the builder opens it, and says what to repair
    builder = client.get("/reports/budget_by_phase/edit").text
    assert "unknown field &#39;phase&#39; of project" in builder
    assert 'id="g-field-0" aria-label="Grouping 1" aria-invalid="true"' in builder


def test_a_tile_whose_report_fails_shows_the_error_in_the_tile(
        client: TestClient, ws: Workspace, project: dict[str, Any]) -> None:
    drop_phase(ws, project)
    page = client.get("/dashboards/projects")
    assert page.status_code == 200 and 'id="tile-0"' in page.text
    tile = client.get("/dashboards/projects/tiles/0", headers=HX)
    assert tile.status_code == 200
    assert "unknown field 'phase' of project" in text(tile.text)
    assert 'class="notice notice-error tile-error"' in tile.text
    other = client.get("/dashboards/projects/tiles/1", headers=HX)
    assert other.status_code == 200 and 'id="tile-table-1"' in other.text
    assert client.get("/dashboards/projects/tiles/7", headers=HX).status_code == 404


def test_a_tile_that_crashes_says_so_and_the_others_load(client: TestClient, ws: Workspace,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    run = ws.reports.run

    def flaky(report: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(report, "name", report) == "sales_funnel":
            raise RuntimeError("the database went away")
        return run(report, *args, **kwargs)

    monkeypatch.setattr(ws.reports, "run", flaky)
    broken = client.get("/dashboards/sales/tiles/4", headers=HX)
    assert broken.status_code == 200
    assert "This tile could not be loaded" in broken.text and "went away" not in broken.text
    assert 'class="chart chart-bar"' in client.get("/dashboards/sales/tiles/3", headers=HX).text


# -- dashboards --------------------------------------------------------------------------------

def test_the_dashboard_loads_each_tile_after_the_page(client: TestClient, ws: Workspace,
                                                      deals: Any) -> None:
    page = client.get("/dashboards/sales").text
    assert after(page, "dashboard-title").startswith("Sales")
    assert '<option value="this_year" selected>This year</option>' in page
    tiles = re.findall(r'hx-get="(/dashboards/sales/tiles/\d+\?period=this_year)"', page)
    assert len(tiles) == len(ws.meta.dashboards["sales"].data["tiles"]) == 7
    assert 'class="dash-tile w-4 h-1 tile-kpi"' in page
    assert '<a href="/reports/amount_by_stage?period=this_year">Amount by stage</a>' in page
    bodies = [client.get(url, headers=HX).text for url in tiles]
    assert all(b.startswith('<div class="dash-tile-body') for b in bodies)
    assert text(bodies[0]).startswith("$13,000") and "Sum of Amount · This year" in bodies[0]
    assert text(bodies[1]).startswith("100%")  # this year's one closed deal was won
    assert text(bodies[2]).startswith("3")
    assert 'class="chart chart-bar"' in bodies[3] and 'class="chart chart-funnel"' in bodies[4]
    assert 'class="chart chart-line"' in bodies[5] and 'class="chart chart-donut"' in bodies[6]
    assert "/reports/amount_by_stage/records?" in bodies[3]


def test_the_dashboard_period_reloads_the_tiles(client: TestClient, deals: Any) -> None:
    page = client.get("/dashboards/sales?period=last_year").text
    assert '<option value="last_year" selected>Last year</option>' in page
    assert "/dashboards/sales/tiles/0?period=last_year" in page
    kpi = client.get("/dashboards/sales/tiles/0?period=last_year", headers=HX).text
    assert text(kpi).startswith("$2,500") and "Last year" in kpi
    everything = client.get("/dashboards/sales/tiles/0?period=all", headers=HX).text
    assert text(everything).startswith("$15,500")
    grid = client.get("/dashboards/sales?period=all", headers=HX).text
    assert grid.startswith('<div class="dash-grid" id="dash-grid"') and "<html" not in grid


def test_home_and_dashboard_list_link_the_dashboard(client: TestClient) -> None:
    assert 'href="/dashboards/sales"' in client.get("/").text
    assert 'href="/dashboards/sales"' in client.get("/dashboards").text


# -- the builder ----------------------------------------------------------------------------------

def builder_form(**changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {"object": "opportunity", "prev_object": "opportunity",
                            "layout": "summary", "name": "", "label": "",
                            "g_field": ["stage"], "g_bucket": [""], "a_fn": ["count"],
                            "a_field": [""], "chart_type": "bar", "chart_x": "stage",
                            "chart_y": "count"}
    form.update(changes)
    return form


def post_builder(client: TestClient, url: str = "/reports/builder", htmx: bool = True,
                 **changes: Any) -> Any:
    token = csrf_of(client.get("/reports").text)
    return client.post(url, data={"csrf_token": token, **builder_form(**changes)},
                       headers=HX if htmx else {}, follow_redirects=False)


def test_the_builder_opens_with_a_preview(client: TestClient, deals: Any) -> None:
    page = client.get("/reports/new").text
    assert 'id="builder"' in page and 'hx-post="/reports/builder"' in page
    assert 'id="preview"' in page and 'class="chart chart-bar"' in page
    assert '<option value="opportunity" selected>' in page
    # choices reach through lookups
    assert '<option value="account.industry"' in page
    accounts = client.get("/reports/new?object=account").text
    assert '<option value="account" selected>' in accounts
    users = client.get("/reports/new?object=user").text  # system objects too
    assert '<option value="user" selected>' in users and 'id="preview-errors"' not in users


def test_the_preview_shows_a_bad_definition_s_problem_where_it_is(client: TestClient,
                                                                  deals: Any) -> None:
    response = post_builder(client, a_fn=["sum"], a_field=["name"], chart_y="sum_name")
    assert response.status_code == 200 and "<html" not in response.text
    errors = after(response.text, "preview-errors")
    assert "Aggregate 1 › field" in errors and "/aggregates/0/field" in errors
    assert "cannot sum 'name': it is not a number field" in errors
    assert 'id="a-field-0" aria-label="Aggregate 1 · Field" aria-invalid="true"' in response.text
    assert 'class="chart' not in response.text


def test_the_preview_runs_a_good_definition(client: TestClient, deals: Any) -> None:
    response = post_builder(client, a_fn=["sum"], a_field=["amount"], chart_y="sum_amount")
    assert response.status_code == 200
    assert 'class="chart chart-bar"' in response.text and 'id="preview-errors"' not in response.text
    assert table_rows(response.text, "preview-table")[0] == ["Prospecting", "$3,500.00"]
    definition = json.loads(html.unescape(re.search(
        r'id="definition-json">(.*?)</pre>', response.text, re.S).group(1)))
    assert definition["aggregates"] == [{"fn": "sum", "field": "amount"}]
    assert definition["chart"] == {"type": "bar", "x": "stage", "y": "sum_amount"}


def test_builder_buttons_add_and_remove_rows(client: TestClient, deals: Any) -> None:
    added = post_builder(client, op="add_filter").text
    assert 'id="f-field-0"' in added and 'id="f-op-0"' in added
    grouped = post_builder(client, op="add_group").text
    assert 'id="g-field-1"' in grouped
    removed = post_builder(client, op="remove_aggregate:0", a_fn=["count", "sum"],
                           a_field=["", "amount"]).text
    assert 'id="a-fn-1"' not in removed and '<option value="sum" selected>' in removed
    # a date grouping gets a bucket, a month unless chosen
    dated = post_builder(client, g_field=["close_date"], g_bucket=[""]).text
    assert '<option value="month" selected>Month</option>' in dated
    # a new object starts over with its own fields
    account = post_builder(client, object="account").text
    assert '<option value="industry" selected>' in account
    # a change of the form itself carries the last button pressed: it does not act again
    token = csrf_of(client.get("/reports").text)
    again = client.post("/reports/builder", data={"csrf_token": token, **builder_form(
        op="add_filter", f_field=["stage"], f_op=["eq"], f_value=["proposal"], f_value2=[""])},
        headers={**HX, "HX-Trigger": "builder"}).text
    assert 'id="f-field-0"' in again and 'id="f-field-1"' not in again
    # without htmx the whole page comes back
    page = post_builder(client, htmx=False, op="add_filter").text
    assert "<html" in page and 'id="f-field-0"' in page


def test_saving_a_report_applies_it_as_metadata(client: TestClient, ws: Workspace,
                                                deals: Any) -> None:
    response = post_builder(client, "/reports/new", htmx=False, name="won_by_source",
                            label="Deals by source", g_field=["source"],
                            a_fn=["count", "sum"], a_field=["", "amount"],
                            f_field=["stage"], f_op=["eq"], f_value=["closed_won"], f_value2=[""],
                            chart_type="pie", chart_x="source", chart_y="sum_amount")
    assert response.status_code == 303 and response.headers["location"] == "/reports/won_by_source"
    saved = ws.refresh().reports["won_by_source"].data
    assert saved["filters"] == [{"field": "stage", "op": "eq", "value": "closed_won"}]
    assert saved["label"] == "Deals by source" and saved["chart"]["type"] == "pie"
    page = client.get("/reports/won_by_source").text
    assert "Report saved." in page and table_rows(page) == [["Web", "1", "$3,000.00"]]
    assert 'href="/reports/won_by_source"' in client.get("/reports").text
    # with htmx the browser is sent there
    again = post_builder(client, "/reports/new", name="by_source_htmx", g_field=["source"])
    assert again.status_code == 200 and again.headers["hx-redirect"] == "/reports/by_source_htmx"


def test_saving_refuses_a_missing_or_taken_name_and_a_bad_definition(client: TestClient,
                                                                     ws: Workspace) -> None:
    unnamed = post_builder(client, "/reports/new", htmx=False)
    assert unnamed.status_code == 422 and "Give the report a name" in unnamed.text
    taken = post_builder(client, "/reports/new", htmx=False, name="amount_by_stage")
    assert taken.status_code == 422 and "exists already" in taken.text
    bad = post_builder(client, "/reports/new", name="sum_of_names", a_fn=["sum"],
                       a_field=["name"])
    assert bad.status_code == 422 and "cannot sum &#39;name&#39;" in bad.text
    assert 'id="builder-errors"' in bad.text
    assert not {"sum_of_names", ""} & set(ws.refresh().reports)


def test_editing_keeps_the_other_language_s_label(client: TestClient, ws: Workspace) -> None:
    page = client.get("/reports/amount_by_stage/edit").text
    assert 'id="b-name" name="name" value="amount_by_stage" readonly' in page
    assert 'value="Amount by stage"' in page and '<option value="avg" selected>' in page
    response = post_builder(client, "/reports/amount_by_stage/edit", htmx=False,
                            label="Amount per stage", original="amount_by_stage",
                            g_field=["stage"], a_fn=["sum"], a_field=["amount"],
                            chart_y="sum_amount")
    assert response.status_code == 303
    data = ws.refresh().reports["amount_by_stage"].data
    assert data["label"] == {"en": "Amount per stage", "zh-CN": "各阶段金额"}
    assert data["aggregates"] == [{"fn": "sum", "field": "amount"}]


def test_the_builder_edits_pipeline_reports(client: TestClient, ws: Workspace) -> None:
    page = client.get("/reports/win_rate_by_owner/edit").text
    assert '<option value="win_rate" selected>Win rate</option>' in page
    assert 'id="a-fn-0"' not in page and 'id="g-field-0"' in page
    response = post_builder(client, "/reports/win_rate_by_owner/edit", htmx=False,
                            layout="win_rate", original="win_rate_by_owner", g_field=["owner"],
                            chart_type="bar", chart_x="owner", chart_y="win_rate", sort="win_rate",
                            sort_desc="1")
    assert response.status_code == 303
    data = ws.refresh().reports["win_rate_by_owner"].data
    assert data["pipeline"] == {"measure": "win_rate"} and "aggregates" not in data
    assert data["sort"] == "-win_rate" and data["group_by"] == [{"field": "owner"}]


def test_every_label_is_translated() -> None:
    from rapport.web.i18n import catalog

    english, chinese = catalog("en"), catalog("zh-CN")
    ours = [k for k in english if k.split(".")[0] in {"reports", "report", "dashboards",
                                                      "dashboard", "builder", "chart"}]
    assert len(ours) > 100
    assert [k for k in ours if k not in chinese and not k.endswith("_one")] == []
