"""A report's result as JSON, and as the table a spreadsheet gets (CSV, XLSX)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from ..records.service import to_json
from ..records.transfer import safe_cell, write_csv, write_xlsx
from .engine import ReportResult

FORMATS = ("json", "csv", "xlsx")
_TOTAL = {"en": "Total", "zh-CN": "合计"}
_SUBTOTAL = {"en": "Subtotal", "zh-CN": "小计"}


def _key(value: Any) -> str:
    """A group value as a JSON object key."""
    return "" if value is None else str(to_json(value))


def as_json(result: ReportResult) -> dict[str, Any]:
    def values(item: dict[str, Any]) -> dict[str, Any]:
        return {k: to_json(v) for k, v in item.items()}

    body: dict[str, Any] = {
        "report": result.name, "label": result.label, "layout": result.layout,
        "object": result.object.name,
        "columns": [c.as_dict() for c in result.columns],
        "rows": [values(r) for r in result.rows],
        "totals": values(result.totals),
        "labels": {k: {_key(v): text for v, text in m.items()} for k, m in result.labels.items()},
        "truncated": result.truncated,
    }
    if result.layout == "tabular":
        body["count"] = result.count
    if result.subtotals:
        first = result.groups[0].key
        body["subtotals"] = [{first: to_json(k), **values(v)} for k, v in result.subtotals.items()]
    if result.column_totals:
        second = result.groups[1].key
        body["column_totals"] = [{second: to_json(k), **values(v)}
                                 for k, v in result.column_totals.items()]
    if result.chart:
        body["chart"] = dict(result.chart)
    return body


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        if value == value.to_integral_value() and abs(value) < 10 ** 15:
            return int(value)
        return float(value) if abs(value) < 10 ** 15 else str(value)
    return value


def table(result: ReportResult, locale: str = "en") -> tuple[list[str], Iterator[list[Any]]]:
    """(header, rows) as people read them: group values as their labels, numbers as
    numbers, a total row; a matrix pivoted (one column per value across and aggregate)."""
    total = _TOTAL.get(locale, _TOTAL["en"])
    groups, aggregates = result.groups, result.aggregates
    if result.layout == "matrix" and len(groups) == 2:
        across = result.group_values(1)
        header = [groups[0].label] + [f"{result.label_of(groups[1].key, v)} · {a.label}"
                                      for v in across for a in aggregates] \
            + [f"{total} · {a.label}" for a in aggregates]

        def pivot() -> Iterator[list[Any]]:
            for down in result.group_values(0):
                line = [result.label_of(groups[0].key, down)]
                for v in across:
                    cell = result.cell(down, v) or {}
                    line += [_number(cell.get(a.key)) for a in aggregates]
                sub = result.subtotals.get(down, {})
                yield [safe_cell(line[0]), *line[1:], *(_number(sub.get(a.key)) for a in aggregates)]
            line = [total]
            for v in across:
                col = result.column_totals.get(v, {})
                line += [_number(col.get(a.key)) for a in aggregates]
            yield line + [_number(result.totals.get(a.key)) for a in aggregates]

        return header, pivot()
    header = [c.label for c in result.columns]

    def rows() -> Iterator[list[Any]]:
        for row in result.rows:
            line = []
            for c in result.columns:
                value = row.get(c.key)
                if c.role == "group" or c.key in result.labels:
                    line.append(safe_cell(result.label_of(c.key, value)) if value is not None
                                or c.role == "group" else None)
                else:
                    v = to_json(value)
                    line.append(safe_cell(";".join(map(str, v)) if isinstance(v, list) else
                                          _number(value) if isinstance(value, Decimal) else v))
            yield line
        if result.totals and (groups or aggregates):
            line = [total if i == 0 else None for i in range(len(groups) or 1)]
            if not groups:
                line = [total] + [None] * (len(result.columns) - len(aggregates) - 1)
            yield line + [_number(result.totals.get(a.key)) for a in aggregates]

    return header, rows()


def render(result: ReportResult, fmt: str, locale: str = "en") -> tuple[bytes, str, str]:
    """(body, media type, file name) of the result in ``fmt`` (csv or xlsx)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", result.name) or "report"
    header, rows = table(result, locale)
    if fmt == "csv":
        out = io.StringIO()
        write_csv(header, rows, out)
        return ("\ufeff" + out.getvalue()).encode("utf-8"), "text/csv; charset=utf-8", f"{name}.csv"
    buf = io.BytesIO()
    write_xlsx(header, rows, buf, title=name)
    return buf.getvalue(), \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", f"{name}.xlsx"
