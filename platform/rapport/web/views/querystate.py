"""A list's state in its URL: search, sort, filter rows and the page cursor.

Filter rows travel as repeated ``f`` (field), ``op``, ``v`` and ``v2`` parameters, one of
each per row, so a plain HTML form builds them and the URL stays bookmarkable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from ...errors import FieldProblem, ValidationError
from ...meta.model import ObjectDef
from ...records.query import And, Cond, Query, parse_sort
from .widgets import default_sort, field_of, operators_of

if TYPE_CHECKING:
    from ...workspace import Workspace

PAGE_SIZES = (25, 50, 100, 200)
MAX_FILTERS = 20
NO_VALUE_OPS = frozenset({"is_blank", "is_not_blank"})


@dataclass
class FilterRow:
    field: str = ""
    op: str = ""
    value: str = ""
    value2: str = ""

    @property
    def complete(self) -> bool:
        return bool(self.field and self.op and (self.op in NO_VALUE_OPS or self.value != ""))


@dataclass
class ListState:
    search: str = ""
    sort: str = ""
    cursor: str = ""
    size: int = 50
    filters: list[FilterRow] = field(default_factory=list)

    @classmethod
    def from_params(cls, params: Any, obj: ObjectDef) -> ListState:
        fields, ops = params.getlist("f"), params.getlist("op")
        values, values2 = params.getlist("v"), params.getlist("v2")
        rows = []
        for i, name in enumerate(fields[:MAX_FILTERS]):
            rows.append(FilterRow(str(name), _at(ops, i), _at(values, i), _at(values2, i)))
        remove = params.get("remove")
        if remove is not None and remove.isdigit() and int(remove) < len(rows):
            del rows[int(remove)]
        if params.get("add_filter"):
            rows.append(FilterRow())
        try:
            size = int(params.get("size") or 50)
        except ValueError:
            size = 50
        return cls(search=str(params.get("q") or "")[:200],
                   sort=str(params.get("sort") or default_sort(obj))[:200],
                   cursor=str(params.get("cursor") or "")[:2000],
                   size=size if size in PAGE_SIZES else 50, filters=rows)

    def params(self, obj: ObjectDef, **changes: Any) -> list[tuple[str, str]]:
        """The state as URL parameters (defaults left out); ``changes`` override."""
        state = {"q": self.search, "sort": self.sort, "cursor": self.cursor,
                 "size": str(self.size), **changes}
        out: list[tuple[str, str]] = []
        if state["q"]:
            out.append(("q", state["q"]))
        for row in self.filters:
            if row.field:
                out += [("f", row.field), ("op", row.op), ("v", row.value), ("v2", row.value2)]
        if state["sort"] and state["sort"] != default_sort(obj):
            out.append(("sort", state["sort"]))
        if state["size"] and state["size"] != "50":
            out.append(("size", state["size"]))
        if state.get("cursor"):
            out.append(("cursor", state["cursor"]))
        return out

    def url_query(self, obj: ObjectDef, **changes: Any) -> str:
        return urlencode(self.params(obj, **changes))

    def sort_link(self, obj: ObjectDef, name: str) -> tuple[str, str | None]:
        """(query string to sort by ``name``, current direction of ``name``)."""
        current = parse_sort(self.sort)
        direction = None
        if current and current[0][0] == name:
            direction = "desc" if current[0][1] else "asc"
        new = f"-{name}" if direction == "asc" else name
        return self.url_query(obj, sort=new, cursor=""), direction

    def query(self, ws: Workspace, obj: ObjectDef, cursor: bool = True) -> Query:
        conds = [c for row in self.filters if row.complete for c in [condition(ws, obj, row)]]
        return Query(filter=And(tuple(conds)) if conds else None, search=self.search or None,
                     sort=parse_sort(self.sort), limit=self.size,
                     cursor=(self.cursor or None) if cursor else None)


def _at(items: list[Any], i: int) -> str:
    return str(items[i]) if i < len(items) else ""


def _bad(row: FilterRow, message: str) -> ValidationError:
    return ValidationError([FieldProblem(f"filter[{row.field}]", "invalid_query", message)])


def condition(ws: Workspace, obj: ObjectDef, row: FilterRow) -> Cond:
    """One filter row as a condition. A lookup's value is a record id or the title of
    the record it points at; a picklist's value may be an option's label."""
    f = field_of(obj, row.field)
    if f is None:
        raise _bad(row, f"unknown field '{row.field[:60]}'")
    if row.op not in operators_of(ws, f):
        raise _bad(row, f"operator '{row.op[:30]}' does not apply to {f.name}")
    if row.op in NO_VALUE_OPS:
        return Cond(f.name, row.op, None)
    value: Any = row.value
    if row.op == "between":
        return Cond(f.name, "between", [row.value, row.value2])
    if row.op in {"in", "not_in"}:
        value = [v.strip() for v in row.value.split(",") if v.strip()]
    if f.is_relation and f.target in ws.meta.objects:
        items = value if isinstance(value, list) else [value]
        if all(str(v).lstrip("#").isdigit() for v in items):
            ids = [int(str(v).lstrip("#")) for v in items]
            return Cond(f.name, row.op, ids if isinstance(value, list) else ids[0])
        target = ws.meta.objects[f.target or ""]
        return Cond(f"{f.name}.{target.title}", row.op, value)
    if f.type in {"picklist", "multi_picklist"}:
        by_label: dict[str, str] = {}
        for o in f.options:
            if isinstance(o.label, str):
                by_label[o.label.lower()] = o.value
            elif o.label:
                for text in o.label.values():
                    by_label[text.lower()] = o.value
        if isinstance(value, list):
            value = [v if v in f.option_values else by_label.get(v.lower(), v) for v in value]
        elif value not in f.option_values:
            value = by_label.get(value.lower(), value)
    return Cond(f.name, row.op, value)
