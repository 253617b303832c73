"""A report's result as the table a page shows: rows of cells already formatted, each
group row linking to the records behind it. Tabular (records with their lookups' titles and
a total row), summary (group rows, subtotals under a first grouping, a grand total) and
matrix (the first grouping down, the second across, row and column totals)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

from ...reports.engine import Column, ReportResult
from ...reports.visual import DrillUrl, value_text, values_of
from .widgets import cell, cell_html

Translate = Callable[..., str]


@dataclass
class Cell:
    text: str = ""
    href: str | None = None
    html: Markup | None = None     # a record value, rendered as the record screens do
    num: bool = False
    head: bool = False             # a row header (<th scope="row">)
    span: int = 1
    rows: int = 1
    muted: bool = False

    @property
    def markup(self) -> Markup:
        if self.html is not None:
            return self.html
        text = escape(self.text)
        if self.href:
            return Markup(f'<a href="{escape(self.href)}">{text}</a>')
        return Markup(text)


@dataclass
class Row:
    cells: list[Cell]
    kind: str = "row"              # row, subtotal or total


@dataclass
class Table:
    head: list[list[Cell]]
    body: list[Row]
    foot: list[Row] = field(default_factory=list)
    caption: str = ""
    shown: int = 0                 # tabular: rows shown, of ``count`` matching
    count: int | None = None
    truncated: bool = False
    kind: str = "summary"          # tabular, summary or matrix


def _agg(c: Column, item: dict[str, Any] | None, currency: str, href: str | None = None) -> Cell:
    if item is None or c.key not in item:
        return Cell("", num=True)
    value = item.get(c.key)
    return Cell(value_text(c, value, currency), href=href if value is not None else None,
                num=True, muted=value is None)


def _heads(columns: Sequence[Column]) -> list[Cell]:
    return [Cell(c.label, num=c.role == "aggregate" or c.value_type in
                 {"integer", "decimal", "currency", "percent"}) for c in columns]


def table_of(result: ReportResult, t: Translate, locale: str, currency: str,
             drill_url: DrillUrl | None = None, row_limit: int | None = None) -> Table:
    """The table of ``result``; ``row_limit`` cuts the rows (a dashboard tile)."""
    if result.layout == "tabular":
        table = tabular(result, t, locale, currency)
    elif result.layout == "matrix" and len(result.groups) == 2:
        table = matrix(result, t, currency, drill_url)
    else:
        table = summary(result, t, currency, drill_url)
    table.caption = result.label
    table.kind = result.layout if result.layout in {"tabular", "matrix"} else "summary"
    if row_limit is not None and len(table.body) > row_limit:
        table.body = table.body[:row_limit]
        table.truncated = True
    return table


def tabular(result: ReportResult, t: Translate, locale: str, currency: str) -> Table:
    fields = [c for c in result.columns if c.role == "field"]
    aggregates = result.aggregates
    obj = result.object
    titles = {}
    for c in fields:
        f = c.field
        if f is not None and f.is_relation:
            for rid, title in result.labels.get(c.key, {}).items():
                titles[(f.target or "", rid)] = title
    linked = next((c.key for c in fields if c.path == obj.title),
                  next((c.key for c in fields if c.field is not None
                        and not c.field.is_relation), None))
    body = []
    for row in result.rows:
        cells = []
        for c in fields:
            value = row.get(c.key)
            if c.field is None:
                cells.append(Cell(str(value)))
                continue
            shown = cell(c.field, value, locale, titles, currency)
            if c.key == linked and row.get("id") is not None:
                text = shown.text if shown.kind != "empty" else f"#{row['id']}"
                cells.append(Cell(text, href=f"/o/{obj.name}/{row['id']}", head=True))
            else:
                cells.append(Cell(html=cell_html(shown, locale),
                                  num=shown.kind == "number"))
        body.append(Row(cells))
    foot = []
    if aggregates and fields:
        # each total under the column it sums; the others beside the word "Total"
        under: dict[int, Column] = {}
        loose = []
        for a in aggregates:
            at = next((i for i, c in enumerate(fields) if i > 0 and a.path and c.path == a.path
                       and i not in under), None)
            if at is None:
                loose.append(a)
            else:
                under[at] = a
        cells = [Cell(num=True) for _ in fields]
        words = [t("report.total"), *(f"{a.label}: {value_text(a, result.totals.get(a.key), currency)}"
                                      for a in loose)]
        cells[0] = Cell(" · ".join(words), head=True)
        for i, a in under.items():
            cells[i] = Cell(value_text(a, result.totals.get(a.key), currency), num=True)
        foot.append(Row(cells, "total"))
    head = [_heads(fields)]
    return Table(head, body, foot, shown=len(result.rows), count=result.count,
                 truncated=result.truncated)


def summary(result: ReportResult, t: Translate, currency: str,
            drill_url: DrillUrl | None) -> Table:
    groups, aggregates = result.groups, result.aggregates
    head = [_heads([*groups, *aggregates])]

    def link(keys: list[Any]) -> str | None:
        return drill_url(keys) if drill_url is not None else None

    body: list[Row] = []
    if not groups:  # one row over every record (a win rate without grouping)
        for row in result.rows:
            body.append(Row([_agg(a, row, currency) for a in aggregates]))
        return Table(head, body)
    g0 = groups[0]
    if len(groups) == 1:
        for row in result.rows:
            v = row.get(g0.key)
            body.append(Row([Cell(result.label_of(g0.key, v), href=link([v]), head=True),
                             *(_agg(a, row, currency) for a in aggregates)]))
    else:
        g1 = groups[1]
        blocks: dict[Any, list[dict[str, Any]]] = {}
        for row in result.rows:
            blocks.setdefault(row.get(g0.key), []).append(row)
        for v0, rows in blocks.items():
            label0 = result.label_of(g0.key, v0)
            for i, row in enumerate(rows):
                v1 = row.get(g1.key)
                first = Cell(label0, href=link([v0]), head=True) if i == 0 else Cell("")
                body.append(Row([first, Cell(result.label_of(g1.key, v1), href=link([v0, v1])),
                                 *(_agg(a, row, currency) for a in aggregates)]))
            sub = result.subtotals.get(v0)
            if sub is not None:
                body.append(Row([Cell(t("report.subtotal_of", group=label0), href=link([v0]),
                                      head=True, span=2),
                                 *(_agg(a, sub, currency) for a in aggregates)], "subtotal"))
    foot = [Row([Cell(t("report.total"), head=True, span=len(groups)),
                 *(_agg(a, result.totals, currency) for a in aggregates)], "total")]
    return Table(head, body, foot)


def _stack(cells: list[Cell]) -> Cell:
    """Several aggregates of one matrix cell, one above the other."""
    if len(cells) == 1:
        return cells[0]
    first = cells[0]
    lines = [Markup('<span class="mx-main">{}</span>').format(cells[0].markup)]
    lines += [Markup('<span class="mx-sub">{}</span>').format(c.text) for c in cells[1:]]
    return Cell(first.text, html=Markup("").join(lines), num=True, muted=first.muted)


def matrix(result: ReportResult, t: Translate, currency: str,
           drill_url: DrillUrl | None) -> Table:
    """The first grouping down, the second across; several aggregates share a cell, the
    first on top (the corner says which is which)."""
    g0, g1 = result.groups[:2]
    aggregates = result.aggregates
    down, across = values_of(result, 0), values_of(result, 1)

    def link(keys: list[Any]) -> str | None:
        return drill_url(keys) if drill_url is not None else None

    total = t("report.total")
    corner = Markup('<span class="mx-axes">{} ↓ {} →</span>').format(g0.label, g1.label)
    if len(aggregates) > 1:
        corner += Markup('<span class="mx-legend">{}</span>').format(
            " · ".join(a.label for a in aggregates))
    head = [[Cell(f"{g0.label} ↓ {g1.label} →", html=corner),
             *(Cell(result.label_of(g1.key, v), num=True) for v in across),
             Cell(total, num=True)]]
    body = []
    for v0 in down:
        cells = [Cell(result.label_of(g0.key, v0), href=link([v0]), head=True)]
        for v1 in across:
            found = result.cell(v0, v1)
            href = link([v0, v1]) if found is not None else None
            cells.append(_stack([_agg(a, found, currency, href) for a in aggregates])
                         if found is not None else Cell("", num=True))
        cells.append(_stack([_agg(a, result.subtotals.get(v0), currency) for a in aggregates]))
        body.append(Row(cells))
    foot_cells = [Cell(total, head=True)]
    for v1 in across:
        foot_cells.append(_stack([_agg(a, result.column_totals.get(v1), currency)
                                  for a in aggregates]))
    foot_cells.append(_stack([_agg(a, result.totals, currency) for a in aggregates]))
    return Table(head, body, [Row(foot_cells, "total")])
