"""reports.visual: a report's result as the chart to draw, and its figures as text."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from reportkit import seed

from rapport.records.actor import Actor
from rapport.reports import charts, visual
from rapport.reports.engine import Column
from rapport.workspace import Workspace


def drill(keys: Any) -> str:
    return "/drill?keys=" + json.dumps(list(keys), separators=(",", ":"))


@pytest.fixture
def seeded(ws: Workspace) -> Workspace:
    seed(ws)
    return ws


def run(ws: Workspace, **definition: Any) -> Any:
    return ws.reports.run({"name": "r", "object": "opportunity", **definition})


def test_a_bar_per_group_in_the_picklist_colours_linking_to_its_records(seeded: Workspace
                                                                        ) -> None:
    result = seeded.reports.run("amount_by_stage")
    chart = visual.chart_of(result, "en", "USD", drill)
    assert chart is not None and chart.type == "bar" and chart.title == "Amount by stage"
    assert list(chart.categories) == ["Prospecting", "Qualification", "Proposal", "Negotiation",
                                      "Closed won", "Closed lost"]
    (series,) = chart.series
    assert series.key == "sum_amount" and list(series.values) == [3500, 4000, 8500, 12000,
                                                                  3600, 7000]
    assert chart.category_colors[0] == "#9CA3AF"
    assert chart.links[0][0] == '/drill?keys=["prospecting"]'
    assert chart.fmt is not None and chart.fmt(3500) == "$3,500" and chart.fmt(1.5) == "$1.50"
    assert chart.axis_fmt is not None and chart.axis_fmt(1_200_000) == "$1.2M"
    assert "<svg" in charts.render(chart)


def test_a_second_grouping_makes_series_in_its_natural_order(seeded: Workspace) -> None:
    result = run(seeded, group_by=[{"field": "account"}, {"field": "stage"}],
                 aggregates=[{"fn": "count"}], chart={"type": "stacked_bar"})
    chart = visual.chart_of(result, "en", "USD", drill)
    assert chart is not None
    assert list(chart.categories) == ["Acme", "Globex", "Initech", "(blank)"]
    assert [s.label for s in chart.series] == ["Prospecting", "Qualification", "Proposal",
                                               "Negotiation", "Closed won", "Closed lost"]
    assert chart.series[0].color == "#9CA3AF"
    assert list(chart.series[0].values) == [2, None, None, 1]
    acme = result.rows[0]["account"]
    assert chart.links[0][0] == f'/drill?keys=[{acme},"prospecting"]'
    # x on the second grouping: the first one makes the series, keys stay in grouping order
    across = visual.chart_of(run(seeded, group_by=[{"field": "account"}, {"field": "stage"}],
                                 aggregates=[{"fn": "count"}],
                                 chart={"type": "bar", "x": "stage"}), "en", "USD", drill)
    assert across is not None and across.categories[0] == "Prospecting"
    assert across.series[0].label == "Acme"
    assert across.links[0][0] == f'/drill?keys=[{acme},"prospecting"]'


def test_one_series_charts_of_two_groupings_draw_the_first_s_subtotals(seeded: Workspace
                                                                       ) -> None:
    result = run(seeded, group_by=[{"field": "stage"}, {"field": "close_date", "bucket": "year"}],
                 aggregates=[{"fn": "count"}], chart={"type": "pie", "series": "close_date"})
    chart = visual.chart_of(result, "en", "USD", drill)
    assert chart is not None and len(chart.series) == 1
    assert chart.categories[0] == "Prospecting" and chart.series[0].values[0] == 3
    assert chart.links[0][0] == '/drill?keys=["prospecting"]'


def test_single_figures_and_reports_without_a_chart(seeded: Workspace) -> None:
    result = seeded.reports.run("open_pipeline")
    kpi = visual.chart_of(result, "en", "USD", drill, aggregate="count", kpi_caption="Open")
    assert kpi is not None and kpi.type == "kpi" and list(kpi.series[0].values) == [7]
    assert kpi.kpi_caption == "Open"
    matrix = seeded.reports.run("stage_by_owner")
    assert visual.chart_of(matrix, "en", "USD", drill) is None
    fallback = visual.chart_of(matrix, "en", "USD", drill, fallback=True)
    assert fallback is not None and fallback.type == "stacked_bar"
    tabular = seeded.reports.run("largest_open_deals")
    assert visual.chart_of(tabular, "en", "USD", drill, fallback=True) is None
    total = visual.chart_of(tabular, "en", "USD", drill, kind="kpi")
    assert total is not None and list(total.series[0].values) == [28000]
    chinese = Actor(None, "system", "admin", locale="zh-CN")
    funnel = visual.chart_of(seeded.reports.run("sales_funnel", chinese), "zh-CN", "CNY", drill)
    assert funnel is not None and funnel.type == "funnel" and funnel.categories[0] == "初步接洽"
    assert funnel.series[0].key == "reached"


def test_figures_as_text() -> None:
    money = Column("sum_amount", "Sum", "aggregate", "currency", fn="sum")
    assert visual.value_text(money, Decimal("1234.5"), "EUR") == "€1,234.50"
    assert visual.value_text(money, Decimal("-3"), "XYZ") == "-XYZ 3.00"
    assert visual.value_text(money, None) == "—"
    assert visual.kpi_text(money, Decimal("2500000"), "en", "USD") == "$2.5M"
    assert visual.kpi_text(money, Decimal("2500000"), "zh-CN", "CNY") == "¥250万"
    assert visual.kpi_text(money, Decimal("980"), "en", "USD") == "$980"
    rate = Column("win_rate", "Win rate", "aggregate", "percent", fn="ratio")
    assert visual.value_text(rate, Decimal("62.50")) == "62.5%"
    assert visual.value_text(rate, Decimal("50.0")) == "50%"
    count = Column("count", "Count", "aggregate", "integer", fn="count")
    assert visual.value_text(count, 12345) == "12,345"
    days = Column("avg_days", "Days", "aggregate", "decimal", fn="avg")
    assert visual.value_text(days, Decimal("3.3")) == "3.3"
    assert visual.value_text(days, Decimal("0.0")) == "0.0"
