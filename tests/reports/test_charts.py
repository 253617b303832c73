"""Server-side SVG charts: well-formed markup for every chart type, one mark per drawn value,
escaped text, only safe colours and same-site links, odd input drawn without raising."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from rapport.reports.charts import CHART_TYPES, PALETTE, Chart, Series, compact, render

SVG = "{http://www.w3.org/2000/svg}"
STAGES = ["Prospecting", "Qualification", "Proposal", "Negotiation", "Closed Won"]
STAGE_COLORS = ["#98a2b3", "#2f9ed8", "#8a5cd6", "#eaa221", "#4f9e3a"]
HOSTILE = ['<script>alert(1)</script>', '" onload="x', "a & b", "</svg><img src=x onerror=y>"]


def parse(markup: str) -> ET.Element:
    root = ET.fromstring(markup)
    assert root.tag == SVG + "svg"
    return root


def marks(root: ET.Element) -> list[ET.Element]:
    return [el for el in root.iter() if el.get("class") == "mark"]


def texts(root: ET.Element) -> list[str]:
    return ["".join(el.itertext()) for el in root.iter(SVG + "text")]


def pipeline(type_: str, **kw: Any) -> Chart:
    values = kw.pop("values", [42, 31, 17, 9, 14])
    return Chart(type_, STAGES, [Series("count", "Count", values)], title="By stage", **kw)


def assert_inert(markup: str) -> None:
    root = parse(markup)
    for el in root.iter():
        assert el.tag.removeprefix(SVG) not in {"script", "foreignObject", "img", "style"}
        assert not [a for a in el.attrib if a.lower().startswith("on") or a == "style"]
        href = el.get("href")
        assert href is None or (href.startswith("/") and not href.startswith("//"))
    assert "<script" not in markup and "<img" not in markup and "<b " not in markup
    assert "javascript:" not in markup


# -- every type -----------------------------------------------------------------------------

@pytest.mark.parametrize("type_", CHART_TYPES)
@pytest.mark.parametrize("size", [(640, 300), (360, 200)])
def test_every_type_is_one_well_formed_accessible_svg(type_: str, size: tuple[int, int]) -> None:
    root = parse(render(pipeline(type_, category_colors=STAGE_COLORS), *size))
    assert root.get("viewBox") == f"0 0 {size[0]} {size[1]}"
    assert root.get("width") == "100%"
    assert root.get("role") == "img"
    assert root.get("preserveAspectRatio") == "xMidYMid meet"
    assert root.get("class") == f"chart chart-{type_}"
    title = root.find(SVG + "title")
    desc = root.find(SVG + "desc")
    assert title is not None and title.text == "By stage"
    assert title.get("id") == root.get("aria-labelledby")
    assert desc is not None and desc.get("id") == root.get("aria-describedby")
    assert desc.text and ("42" in desc.text)
    assert marks(root)
    for mark in marks(root):
        assert mark.get("data-series", "").isdigit() and mark.get("data-category", "").isdigit()
        tip = mark.find(SVG + "title")
        assert tip is not None and tip.text


def test_ids_differ_between_charts_on_one_page() -> None:
    a, b = parse(render(pipeline("bar"))), parse(render(pipeline("bar")))
    assert a.get("aria-labelledby") != b.get("aria-labelledby")


def test_desc_gives_the_numbers_capped() -> None:
    root = parse(render(Chart("bar", [f"c{i}" for i in range(60)],
                              [Series("n", "N", list(range(60)))])))
    desc = root.find(SVG + "desc")
    assert desc is not None and desc.text is not None
    assert desc.text.startswith("c0: 0; c1: 1; c2: 2")
    assert desc.text.count(";") == 40 and desc.text.endswith("…")


# -- marks per type -------------------------------------------------------------------------

def test_bar_one_mark_per_value_coloured_by_category() -> None:
    root = parse(render(pipeline("bar", category_colors=STAGE_COLORS)))
    found = marks(root)
    assert [m.get("data-category") for m in found] == ["0", "1", "2", "3", "4"]
    fills = [path.get("fill") for m in found for path in m.iter(SVG + "path")]
    assert fills == STAGE_COLORS
    assert len([el for el in root.iter() if el.get("class") == "value"]) == 5


def test_grouped_bars_legend_and_a_negative_bar_below_zero() -> None:
    chart = Chart("bar", ["North", "South", "East"], [
        Series("2025", "2025", [120, None, -30]), Series("2026", "2026", [150, 80, 40])])
    root = parse(render(chart))
    found = marks(root)
    assert len(found) == 5   # the None draws nothing
    assert {m.get("data-series") for m in found} == {"0", "1"}
    assert "2025" in texts(root) and "2026" in texts(root)   # legend
    negative = next(m for m in found if m.get("data-series") == "0"
                    and m.get("data-category") == "2")
    path = negative.find(SVG + "path")
    assert path is not None
    start = re.match(r"M[\d.]+ ([\d.]+)V([\d.]+)", path.get("d", ""))
    assert start is not None
    base, tip = map(float, start.groups())
    assert tip > base   # grows down from the zero line
    assert "-30" in texts(root)


def test_bar_axis_has_nice_ticks_from_zero() -> None:
    root = parse(render(pipeline("bar", values=[412000, 356500, 298000, 221750, 150000])))
    ticks = [t for t in texts(root) if t.endswith("K") or t == "0"]
    assert ticks[:6] == ["0", "100K", "200K", "300K", "400K", "500K"]


def test_stacked_bar_stacks_totals_and_legend() -> None:
    chart = Chart("stacked_bar", ["Q1", "Q2"], [
        Series("won", "Won", [5, 7]), Series("lost", "Lost", [2, None]),
        Series("open", "Open", [10, -3])])
    root = parse(render(chart))
    assert len(marks(root)) == 5
    assert {"Won", "Lost", "Open"} <= set(texts(root))
    values = [t for el in root.iter() if el.get("class") == "value" for t in el.itertext()]
    assert values == ["17", "4"]


def test_line_breaks_at_none_and_marks_every_point() -> None:
    chart = Chart("line", [f"M{i}" for i in range(6)], [
        Series("a", "A", [1, 2, None, 4, 5, 6]), Series("b", "B", [3, 3, 3, 3, 3, 3])])
    root = parse(render(chart))
    assert len(marks(root)) == 11
    lines = root.findall(f".//{SVG}polyline")
    assert len(lines) == 3   # A in two runs, B in one


def test_line_of_many_months_thins_out_its_labels() -> None:
    months = [f"{y}-{m:02d}" for y in range(2021, 2026) for m in range(1, 13)]
    root = parse(render(Chart("line", months, [Series("n", "N", range(60))])))
    shown = [t for t in texts(root) if t in months]
    assert 5 <= len(shown) <= 30
    assert shown[0] == "2021-01"
    assert len(marks(root)) == 60


def test_pie_ignores_negative_zero_and_none_in_its_angles() -> None:
    root = parse(render(pipeline("pie", values=[30, -5, 0, None, 10])))
    found = marks(root)
    assert [m.get("data-category") for m in found] == ["0", "4"]
    assert {"75%", "25%"} <= set(texts(root))


@pytest.mark.parametrize("type_", ["pie", "donut"])
def test_a_single_slice_is_a_full_circle(type_: str) -> None:
    root = parse(render(Chart(type_, ["Only"], [Series("a", "A", [5])])))
    (mark,) = marks(root)
    path = mark.find(SVG + "path")
    assert path is not None
    d = path.get("d", "")
    arcs = re.findall(r"A([\d.]+) [\d.]+ 0 0 1 ([\d.]+) ([\d.]+)", d)
    assert len(arcs) == 2   # two half circles: an arc from a point to itself draws nothing
    (r, x1, y1), (_, x2, y2) = arcs
    assert math.dist((float(x1), float(y1)), (float(x2), float(y2))) == pytest.approx(
        2 * float(r), abs=0.2)
    start = re.match(r"M[\d.]+ [\d.]+L([\d.]+) ([\d.]+)" if type_ == "pie" else
                     r"M([\d.]+) ([\d.]+)", d)
    assert start is not None and (x2, y2) == start.groups()
    assert "100%" in texts(root)


def test_donut_shows_the_total_in_its_hole() -> None:
    chart = Chart("donut", ["Web", "Referral"], [Series("a", "Sum of Amount", [42000, 8000])],
                  fmt=lambda v: f"${v:,.2f}")
    root = parse(render(chart))
    assert {"50K", "Sum of Amount", "$42,000.00", "84%", "16%"} <= set(texts(root))
    assert len(marks(root)) == 2


def test_funnel_shows_the_conversion_from_the_step_before() -> None:
    root = parse(render(pipeline("funnel", values=[120, 84, 52, 33, 21])))
    assert len(marks(root)) == 5
    conversions = [t for el in root.iter() if el.get("class") == "conversion"
                   for t in el.itertext()]
    assert conversions == ["↓ 70%", "↓ 62%", "↓ 63%", "↓ 64%"]
    tip = marks(root)[1].find(SVG + "title")
    assert tip is not None and tip.text == "Qualification · Count: 84 (↓ 70%)"


def test_small_funnel_puts_the_conversion_next_to_the_value() -> None:
    root = parse(render(Chart("funnel", [f"S{i}" for i in range(8)],
                              [Series("r", "", [100, 80, None, 50, 40, 30, 20, 10])]), 360, 200))
    assert len(marks(root)) == 7
    assert any(t.endswith("↓ 80%") for t in texts(root))
    assert not any(t.endswith("↓ 62%") for t in texts(root))   # none across a gap


@pytest.mark.parametrize(("now", "before", "arrow", "color", "change"), [
    (1234567.5, 1010000, "▲", "#067647", "22%"),
    (958, 1020, "▼", "#d92d20", "6.1%"),
])
def test_kpi_figure_and_its_comparison(now: float, before: float, arrow: str, color: str,
                                      change: str) -> None:
    chart = Chart("kpi", ["Won this quarter"], [Series("a", "Amount", [now, before])],
                  fmt=lambda v: f"${v:,.2f}", kpi_caption="Sum of Amount · 1,204 records")
    root = parse(render(chart))
    shown = texts(root)
    assert f"${now:,.2f}" in shown and "Won this quarter" in shown
    assert "Sum of Amount · 1,204 records" in shown
    tspan = next(el for el in root.iter(SVG + "tspan") if el.text and arrow in el.text)
    assert tspan.get("fill") == color and tspan.text == f"{arrow} {change}"
    assert len(marks(root)) == 1


@pytest.mark.parametrize("values", [[42], [42, None], [42, 0], [42, math.nan]])
def test_kpi_without_a_comparison_shows_no_change(values: list[float | None]) -> None:
    root = parse(render(Chart("kpi", [], [Series("n", "N", values)])))
    assert "42" in texts(root)
    assert not list(root.iter(SVG + "tspan"))


# -- escaping, colours, links ---------------------------------------------------------------

@pytest.mark.parametrize("type_", CHART_TYPES)
def test_hostile_text_colours_and_links_come_out_inert(type_: str) -> None:
    links = [["javascript:alert(1)", "//evil.example/x", "/\\evil.example", "https://evil.example",
              "/\t/evil.example"]]
    chart = Chart(type_, [*HOSTILE, "ok"], [Series(HOSTILE[0], HOSTILE[1], [5, 4, 3, 2, 1],
                                                   color="red; x")],
                  title=HOSTILE[0], category_colors=["red; x", "url(#x)", "#12345", "#abcdefg",
                                                     "javascript:x"],
                  links=links, kpi_caption=HOSTILE[3], empty_text=HOSTILE[0],
                  fmt=lambda v: f'<b onmouseover="x">{v}</b>')
    markup = render(chart)
    assert_inert(markup)
    root = parse(markup)
    assert not [el for el in root.iter() if el.get("href")]
    paints = {el.get(a) for el in root.iter() for a in ("fill", "stroke") if el.get(a)}
    assert all(re.fullmatch(r"#[0-9a-f]{6}|none", p) for p in paints)
    assert "red; x" not in markup and "url(" not in markup
    title = root.find(SVG + "title")
    assert title is not None and title.text == HOSTILE[0]   # escaped, then read back as text


def test_same_site_links_wrap_their_marks() -> None:
    links = [["/app/opportunity?stage=a&owner=1", None, "//evil.example", "/app/x", "/app/y"]]
    root = parse(render(pipeline("bar", links=links)))
    linked = [el for el in root.iter(SVG + "a")]
    assert [a.get("href") for a in linked] == ["/app/opportunity?stage=a&owner=1", "/app/x",
                                               "/app/y"]
    assert [a.get("data-category") for a in linked] == ["0", "3", "4"]
    for a in linked:
        assert a.get("class") == "mark" and a.get("data-series") == "0"
        tip = a.find(SVG + "title")
        assert tip is not None and tip.text is not None and tip.text.startswith(
            STAGES[int(a.get("data-category", ""))] + " · Count: ")
    unlinked = [m for m in marks(root) if m.tag == SVG + "g"]
    assert [m.get("data-category") for m in unlinked] == ["1", "2"]


@pytest.mark.parametrize("links", [["/a"], "/abc", [None], [[1, 2]], [["/a"]]])
def test_odd_links_do_not_raise(links: object) -> None:
    parse(render(pipeline("bar", links=links)))


def test_a_valid_series_colour_is_used_and_case_is_kept() -> None:
    chart = Chart("line", ["a", "b"], [Series("a", "A", [1, 2], color="#AbCdEf"),
                                       Series("b", "B", [2, 1], color="blue")])
    root = parse(render(chart))
    strokes = [el.get("stroke") for el in root.iter(SVG + "polyline")]
    assert strokes == ["#AbCdEf", PALETTE[1]]


def test_long_labels_are_cut_with_the_full_text_as_tooltip() -> None:
    long_en = "Closed Lost because the customer chose a competitor's cheaper offer"
    long_zh = "输单（价格原因导致客户流失，转向竞争对手）"
    root = parse(render(Chart("bar", ["a", long_en, long_zh, "b", "c", "d", "e", "f"],
                              [Series("n", "", [1, 2, 3, 4, 5, 6, 7, 8])], locale="zh-CN")))
    for full in (long_en, long_zh):
        label = next(el for el in root.iter(SVG + "text")
                     if (t := el.find(SVG + "title")) is not None and t.text == full)
        assert "".join(label.itertext()).endswith("…")
        assert len("".join(label.itertext())) < len(full) * 2


def test_crowded_category_labels_are_rotated() -> None:
    labels = [f"Territory number {i}" for i in range(12)]
    root = parse(render(Chart("bar", labels, [Series("n", "", range(12))])))
    assert any("rotate(-35" in el.get("transform", "") for el in root.iter(SVG + "text"))


def test_small_tiles_drop_value_labels() -> None:
    root = parse(render(pipeline("bar"), 360, 200))
    assert not [el for el in root.iter() if el.get("class") == "value"]
    assert root.get("font-size") == "10"


# -- odd input ------------------------------------------------------------------------------

@pytest.mark.parametrize("type_", CHART_TYPES)
@pytest.mark.parametrize("chart_kw", [
    {"categories": [], "series": []},
    {"categories": ["a", "b"], "series": []},
    {"categories": ["a", "b"], "series": [Series("a", "A", [])]},
    {"categories": ["a", "b"], "series": [Series("a", "A", [None, None])]},
    {"categories": ["a", "b"], "series": [Series("a", "A", [math.nan, math.inf])]},
])
def test_nothing_to_draw_says_so(type_: str, chart_kw: dict[str, Any]) -> None:
    root = parse(render(Chart(type_, empty_text="Nothing here", **chart_kw)))
    assert texts(root) == ["Nothing here"]
    assert not marks(root)
    hostile = render(Chart(type_, empty_text=HOSTILE[0], title=HOSTILE[1], **chart_kw))
    assert_inert(hostile)
    assert texts(parse(hostile)) == [HOSTILE[0]]


@pytest.mark.parametrize("type_", ["pie", "donut", "funnel"])
def test_only_zero_or_negative_shares_are_empty(type_: str) -> None:
    root = parse(render(pipeline(type_, values=[0, -3, None, 0, 0])))
    assert texts(root) == ["No data"]


@pytest.mark.parametrize("type_", [*CHART_TYPES, "scatter", ""])
@pytest.mark.parametrize("values", [
    [1, 2],                                   # fewer values than categories
    [1, 2, 3, 4, 5, 6, 7, 8, 9],              # more
    [-5, -1, -20, -3, -4],                    # all negative
    [0, 0, 0, 0, 0],
    [1e15, -1e15, 1e-9, math.nan, -math.inf],
    ["12", object(), True, None, 3],
])
def test_odd_values_do_not_raise(type_: str, values: list[Any]) -> None:
    parse(render(pipeline(type_, values=values)))


@pytest.mark.parametrize("type_", CHART_TYPES)
def test_odd_containers_do_not_raise(type_: str) -> None:
    for chart in (
        Chart(type_, None, None, category_colors=None, links=None),
        Chart(type_, "abc", [Series("a", "A", 5), "not a series"]),
        Chart(type_, ["a", "b"], [Series("a", None, "12"), Series("b", "B", iter([1, 2]))]),
    ):
        parse(render(chart))


@pytest.mark.parametrize("size", [(0, 0), (-5, 10**9), ("wide", None), (5000, 5000)])
def test_odd_sizes_do_not_raise(size: tuple[Any, Any]) -> None:
    parse(render(pipeline("bar"), *size))


def test_characters_xml_cannot_carry_are_dropped() -> None:
    root = parse(render(Chart("bar", ["a\x00b\x1b", "c\ud800"], [Series("a", "x\x07", [1, 2])],
                              title="t\x0c")))
    assert "ab" in texts(root) and "c" in texts(root)


def test_an_unknown_type_draws_bars() -> None:
    root = parse(render(pipeline("scatter")))
    assert root.get("class") == "chart chart-bar"


# -- compact --------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "en", "zh"), [
    (0, "0", "0"),
    (7, "7", "7"),
    (2.5, "2.5", "2.5"),
    (0.126, "0.13", "0.13"),
    (12.34, "12.3", "12.3"),
    (950, "950", "950"),
    (1000, "1K", "1000"),
    (1234, "1.2K", "1234"),
    (12000, "12K", "1.2万"),
    (999_960, "1M", "100万"),
    (3_400_000, "3.4M", "340万"),
    (340_000_000, "340M", "3.4亿"),
    (1_100_000_000, "1.1B", "11亿"),
    (2.5e12, "2.5T", "2.5万亿"),
    (-1234, "-1.2K", "-1234"),
    (-56000, "-56K", "-5.6万"),
    (-0.001, "0", "0"),
])
def test_compact(value: float, en: str, zh: str) -> None:
    assert compact(value) == en
    assert compact(value, "zh-CN") == zh


def test_compact_of_no_number() -> None:
    assert compact(math.nan) == compact(math.inf) == "–"
