"""A report's result as a chart to draw (``charts.Chart``), and its figures as text.

``chart_of`` reads the report's chart definition: the x grouping gives the categories,
the second grouping the series (a stacked bar, a matrix, or ``chart.series``), the y
aggregate the values; picklist colours carry over; every bar, point and slice links to
the records behind it through ``drill_url``. Pure: no request, no template, no database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from ..meta.model import FieldDef, label_text
from . import charts
from .engine import Column, ReportResult

#: Currency symbols shown before amounts (the same table the record screens use).
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CNY": "¥", "JPY": "¥", "INR": "₹",
                    "KRW": "₩", "HKD": "HK$", "AUD": "A$", "CAD": "CA$"}
MONEY_TYPES = frozenset({"currency"})
NUMBER_TYPES = frozenset({"integer", "decimal", "currency", "percent"})
#: Charts that draw one series only.
SINGLE_SERIES = frozenset({"pie", "donut", "funnel"})

DrillUrl = Callable[[Sequence[Any]], "str | None"]


# -- figures as text ----------------------------------------------------------------------------

def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def scale_of(column: Column | None) -> int:
    """Decimal places a column's values are shown with."""
    if column is None:
        return 0
    vt = column.value_type
    if vt == "integer":
        return 0
    if vt == "percent":
        return 1
    f: FieldDef | None = column.field
    scale = f.scale if f is not None and f.value_type == vt else 2
    if column.fn == "avg":
        scale = max(scale, 1 if vt == "decimal" else 2)
    return scale


def grouped(value: Decimal, places: int) -> str:
    return f"{value:,.{max(0, places)}f}"


def money(value: Decimal, places: int, currency: str) -> str:
    symbol = CURRENCY_SYMBOLS.get(currency)
    text = grouped(abs(value), places)
    out = f"{symbol}{text}" if symbol else f"{currency} {text}"
    return f"-{out}" if value < 0 else out


def value_text(column: Column | None, value: Any, currency: str = "USD",
               places: int | None = None) -> str:
    """An aggregate's (or a number field's) value as the tables show it: money with the
    workspace currency, percentages, grouped numbers; "—" for none."""
    d = _decimal(value)
    vt = column.value_type if column is not None else "decimal"
    if d is None or vt not in NUMBER_TYPES:
        return "—" if value is None or value == "" else str(value)
    scale = scale_of(column) if places is None else places
    if places is None and vt == "decimal" and (column is None or column.field is None):
        exponent = d.as_tuple().exponent  # a computed figure (days in stage): as precise as it is
        scale = max(0, min(4, -exponent)) if isinstance(exponent, int) else scale
    if vt in MONEY_TYPES:
        return money(d, scale, currency)
    if vt == "percent":
        text = grouped(d, scale)
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return f"{text}%"
    return grouped(d, scale)


def formatters(column: Column | None, locale: str, currency: str
               ) -> tuple[Callable[[float], str], Callable[[float], str]]:
    """(the value formatter, the axis formatter) of a chart of ``column``'s values."""
    vt = column.value_type if column is not None else "decimal"
    symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")

    def fmt(v: float) -> str:
        d = _decimal(v)
        if d is None:
            return "—"
        if vt in MONEY_TYPES:  # whole amounts without cents: bars carry short labels
            return money(d, 0 if d == d.to_integral_value() else scale_of(column), currency)
        return value_text(column, d, currency)

    def axis(v: float) -> str:
        text = charts.compact(v, locale)
        if vt in MONEY_TYPES:
            return f"-{symbol}{text[1:]}" if text.startswith("-") else f"{symbol}{text}"
        if vt == "percent":
            return f"{text}%"
        return text

    return fmt, axis


def kpi_text(column: Column | None, value: Any, locale: str = "en", currency: str = "USD") -> str:
    """A single figure as a dashboard shows it big: short past a million ($1.2M, ¥3.4亿)."""
    d = _decimal(value)
    if d is None:
        return "—"
    vt = column.value_type if column is not None else "decimal"
    if vt in NUMBER_TYPES - {"percent"} and abs(d) >= 1_000_000:
        short = charts.compact(float(d), locale)
        if vt in MONEY_TYPES:
            symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
            return f"-{symbol}{short[1:]}" if short.startswith("-") else f"{symbol}{short}"
        return short
    if vt in MONEY_TYPES:
        return money(d, 0 if d == d.to_integral_value() else scale_of(column), currency)
    return value_text(column, d, currency)


# -- the chart --------------------------------------------------------------------------------

def _number(value: Any) -> float | None:
    d = _decimal(value)
    return float(d) if d is not None else None


def _group_index(result: ReportResult, path: Any) -> int | None:
    for i, g in enumerate(result.groups):
        if path and path in (g.key, g.path):
            return i
    return None


def _colors(column: Column, values: Sequence[Any]) -> list[str | None]:
    """Picklist option colours of a grouping's values (None where there is none)."""
    f = column.field
    if f is None or column.bucket or f.value_type != "picklist":
        return [None] * len(values)
    by_value = {o.value: o.color for o in f.options}
    return [by_value.get(v) if isinstance(v, str) else None for v in values]


def default_type(result: ReportResult) -> str:
    """The chart a report without a chart definition gets on a dashboard."""
    groups = result.groups
    if not groups:
        return "kpi"
    if len(groups) > 1:
        return "stacked_bar"
    return "line" if groups[0].bucket else "bar"


def values_of(result: ReportResult, level: int) -> list[Any]:
    """A grouping's distinct values: the first in row order (the report's sort), the second
    in its natural order (picklist options as declared, then the rest as they come, blanks
    last), so that a matrix's columns and a chart's series read left to right."""
    values = result.group_values(level)
    if level == 0:
        return values
    g = result.groups[level]
    f = g.field
    if f is not None and not g.bucket and f.value_type == "picklist":
        order = {v: i for i, v in enumerate(f.option_values)}
        return sorted(values, key=lambda v: (v is None, order.get(v, len(order))))
    if g.bucket or (f is not None and f.value_type in {"date", "datetime", "integer", "decimal",
                                                      "currency", "percent"}):
        return sorted(values, key=lambda v: (v is None, v if v is not None else 0))
    return sorted(values, key=lambda v: (v is None, result.label_of(g.key, v).lower()))


def y_column(result: ReportResult, y: Any) -> Column | None:
    aggregates = result.aggregates
    for c in aggregates:
        if c.key == y:
            return c
    return aggregates[0] if aggregates else None


def chart_of(result: ReportResult, locale: str = "en", currency: str = "USD",
             drill_url: DrillUrl | None = None, *, kind: str | None = None,
             aggregate: str | None = None, fallback: bool = False, title: str | None = None,
             kpi_caption: str | None = None, empty_text: str = "No data") -> charts.Chart | None:
    """The chart of ``result``, or None when it has no chart (a report without a chart
    definition, unless ``fallback``; a tabular report, unless as a single figure).

    ``kind`` overrides the chart type (a dashboard's KPI tile: ``"kpi"``), ``aggregate`` the
    plotted aggregate; ``drill_url(keys)`` gives the link behind each mark (keys: the
    grouping values, first grouping first), or None for no link."""
    spec: Mapping[str, Any] = result.chart or {}
    if not spec and kind is None and (not fallback or result.layout == "tabular"):
        return None
    ctype = kind or str(spec.get("type") or default_type(result))
    if ctype not in charts.CHART_TYPES:
        ctype = "bar"
    y = y_column(result, aggregate or spec.get("y"))
    if y is None:
        return None
    fmt, axis = formatters(y, locale, currency)
    heading = title if title is not None else label_text(spec.get("title"), locale, result.label)
    groups = result.groups
    common: dict[str, Any] = {"title": heading, "fmt": fmt, "axis_fmt": axis,
                              "empty_text": empty_text, "locale": locale}
    if ctype == "kpi" or not groups:
        if result.layout == "tabular" and ctype != "kpi":
            return None
        value = result.totals.get(y.key)
        if value is None and not groups and result.rows:
            value = result.rows[0].get(y.key)
        return charts.Chart("kpi", (), (charts.Series(y.key, y.label, (_number(value),)),),
                            kpi_caption=y.label if kpi_caption is None else kpi_caption,
                            **common)
    xi = _group_index(result, spec.get("x")) or 0
    si: int | None = None
    if len(groups) == 2:
        other = 1 - xi
        if ctype in SINGLE_SERIES:
            xi = 0  # one series: the first grouping, its subtotals
        elif _group_index(result, spec.get("series")) == other or ctype == "stacked_bar" \
                or result.layout == "matrix" or xi == 1:
            si = other

    def link(keys: list[Any]) -> str | None:
        return drill_url(keys) if drill_url is not None else None

    x = groups[xi]
    if si is None:
        if len(groups) == 1:
            values = [r.get(x.key) for r in result.rows]
            points = [r.get(y.key) for r in result.rows]
        else:  # two groupings drawn as one series: the first grouping's subtotals
            values = values_of(result, 0)
            points = [result.subtotals.get(v, {}).get(y.key) for v in values]
        series = charts.Series(y.key, y.label, [_number(p) for p in points])
        return charts.Chart(ctype, [result.label_of(x.key, v) for v in values], (series,),
                            category_colors=_colors(x, values),
                            links=([link([v]) for v in values],), **common)
    s = groups[si]
    xs, ss = values_of(result, xi), values_of(result, si)
    rows = {(r.get(groups[0].key), r.get(groups[1].key)): r for r in result.rows}

    def keys(xv: Any, sv: Any) -> tuple[Any, Any]:
        return (xv, sv) if xi == 0 else (sv, xv)

    colors = _colors(s, ss)
    out, links = [], []
    for i, sv in enumerate(ss):
        points = [rows.get(keys(xv, sv), {}).get(y.key) for xv in xs]
        out.append(charts.Series(str(i), result.label_of(s.key, sv), [_number(p) for p in points],
                                 colors[i]))
        links.append([link(list(keys(xv, sv))) for xv in xs])
    return charts.Chart(ctype, [result.label_of(x.key, v) for v in xs], out, links=links, **common)
