"""Record queries: filter trees, search, sort and keyset pagination, compiled to SQL."""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    Text,
    and_,
    false,
    literal,
    not_,
    or_,
    select,
    true,
    type_coerce,
)

from ..errors import FieldProblem, ValidationError
from ..fieldtypes import CoercionError, FieldTypes
from ..meta.model import DECIMAL_TYPES, SYSTEM_FIELDS, FieldDef, MetadataSet, ObjectDef

OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains", "startswith",
             "is_blank", "is_not_blank", "between", "in_period")
MAX_LIMIT = 1000
MAX_IN_VALUES = 1000
MAX_DEPTH = 50
WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")
MAX_SORT = 5
#: Value types held as text (compared as text in filters, searched by the quick search).
TEXT_VALUES = frozenset({"text", "textarea", "rich_text", "email", "phone", "url", "autonumber"})
PERIODS = ("today", "yesterday", "tomorrow", "this_week", "last_week", "next_week", "this_month",
           "last_month", "next_month", "this_quarter", "last_quarter", "next_quarter", "this_year",
           "last_year", "next_year")


@dataclass(frozen=True)
class Cond:
    field: str
    op: str = "eq"
    value: Any = None


@dataclass(frozen=True)
class And:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Not:
    item: Any


Filter = Cond | And | Or | Not


def conditions(items: Iterable[Mapping[str, Any]]) -> And:
    """A filter from JSON conditions ``[{"field", "op", "value"}]`` (all must hold)."""
    return And(tuple(Cond(c["field"], c.get("op", "eq"), c.get("value")) for c in items))


@dataclass
class Query:
    filter: Filter | None = None
    search: str | None = None
    sort: Sequence[tuple[str, bool]] = ()      # (field, descending)
    limit: int = 50
    cursor: str | None = None


@dataclass
class Page:
    data: list[dict[str, Any]]
    next_cursor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def parse_sort(text: str | None) -> list[tuple[str, bool]]:
    out = []
    for part in (text or "").split(","):
        part = part.strip()
        if part:
            out.append((part.lstrip("-+"), part.startswith("-")))
    return out


def _bad(where: str, message: str) -> ValidationError:
    return ValidationError([FieldProblem(where, "invalid_query", message)])


def period_range(period: str, today: date | None = None) -> tuple[date, date]:
    """[start, end) of a named period (``this_month``, ``last_7_days``, ``next_30_days``...)."""
    today = today or datetime.now(UTC).date()
    if period.startswith(("last_", "next_")) and period.endswith("_days"):
        middle = period[5:-5]
        if middle.isdigit() and 0 < int(middle) <= 9999:
            n = int(middle)
            if period.startswith("last_"):
                return today - timedelta(days=n - 1), today + timedelta(days=1)
            return today, today + timedelta(days=n)
    if period not in PERIODS:
        raise ValueError(f"unknown period '{period}'")
    rel, unit = period.split("_", 1) if "_" in period else ("this", period)
    if period in {"today", "yesterday", "tomorrow"}:
        d = today + timedelta(days={"today": 0, "yesterday": -1, "tomorrow": 1}[period])
        return d, d + timedelta(days=1)
    shift = {"this": 0, "last": -1, "next": 1}[rel]
    if unit == "week":
        start = today - timedelta(days=today.weekday()) + timedelta(weeks=shift)
        return start, start + timedelta(weeks=1)
    if unit == "month":
        m = today.year * 12 + today.month - 1 + shift
        start = date(m // 12, m % 12 + 1, 1)
        m += 1
        return start, date(m // 12, m % 12 + 1, 1)
    if unit == "quarter":
        q = today.year * 4 + (today.month - 1) // 3 + shift
        start = date(q // 4, (q % 4) * 3 + 1, 1)
        q += 1
        return start, date(q // 4, (q % 4) * 3 + 1, 1)
    start = date(today.year + shift, 1, 1)
    return start, date(today.year + shift + 1, 1, 1)


class QueryCompiler:
    """Turns filters, search and sort over one object into SQLAlchemy expressions."""

    def __init__(self, meta: MetadataSet, tables: Mapping[str, Table], types: FieldTypes,
                 dialect_name: str):
        self.meta = meta
        self.tables = tables
        self.types = types
        self.null_low = dialect_name == "sqlite"
        # the rows of a looked-up object a filter through a lookup may see (None: all)
        self.access: Callable[[ObjectDef, Table], ColumnElement[bool]] | None = None

    def reading_as(self, access: Callable[[ObjectDef, Table], ColumnElement[bool]]
                   ) -> QueryCompiler:
        """This compiler for one reader: a filter through a lookup (account.industry)
        looks only at the parent records ``access`` lets them read."""
        other = copy.copy(self)
        other.access = access
        return other

    # -- fields -----------------------------------------------------------------------

    def system_field(self, name: str) -> FieldDef:
        if name == "id":
            return FieldDef("id", "integer")
        if name in {"created_at", "updated_at"}:
            return FieldDef(name, "datetime")
        if name in {"created_by", "owner"}:
            return FieldDef(name, "lookup", target="user")
        return FieldDef(name, "integer")

    def field_of(self, obj: ObjectDef, name: str) -> FieldDef | None:
        if name in SYSTEM_FIELDS:
            return self.system_field(name)
        return obj.field(name) if obj.has_field(name) else None

    def coerce(self, f: FieldDef, value: Any, where: str) -> Any:
        if value is None:
            return None
        vt = f.value_type
        try:
            if vt == "multi_picklist":
                result = value if isinstance(value, str) else str(value)
            elif vt in {"picklist"}:
                if not isinstance(value, str):
                    raise CoercionError("must be text")
                result = value
            elif vt in DECIMAL_TYPES or (f.type in {"formula", "rollup"} and vt != "text"):
                result = self.types.coerce_value(f, value)
            elif vt in {"lookup", "master_detail"}:
                result = self.types["lookup"].coerce(f, value)
            elif vt in TEXT_VALUES:
                if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
                    raise CoercionError("must be text")
                result = str(value)
            else:
                result = self.types[vt].coerce(f, value)
        except CoercionError as exc:
            raise _bad(where, f"{f.name} {exc}") from None
        if isinstance(result, str) and "\x00" in result:
            raise _bad(where, f"{f.name} must not contain NUL characters")
        return result

    # -- filters ------------------------------------------------------------------------

    def where(self, obj: ObjectDef, node: Filter | None, depth: int = 0) -> ColumnElement[bool]:
        """The SQL condition of a filter tree. Every condition is true or false, never NULL
        (a blank compared with a value is simply false), so Not(x) is exactly "x does not
        hold": Not(Cond("qty", "eq", 10)) includes the records whose qty is blank."""
        if depth > MAX_DEPTH:
            raise _bad("filter", f"the filter is nested too deeply (at most {MAX_DEPTH} levels)")
        if node is None:
            return true()
        if isinstance(node, And | Or):
            if not isinstance(node.items, list | tuple):
                raise _bad("filter", "And and Or take a list of filters")
            parts = [self.where(obj, n, depth + 1) for n in node.items]
            return and_(true(), *parts) if isinstance(node, And) else or_(false(), *parts)
        if isinstance(node, Not):
            return not_(self.where(obj, node.item, depth + 1))
        if not isinstance(node, Cond):
            raise _bad("filter", f"not a filter: {str(node)[:60]}")
        return self.condition(obj, node)

    def condition(self, obj: ObjectDef, cond: Cond) -> ColumnElement[bool]:
        where = f"filter[{str(cond.field)[:60]}]"
        if not isinstance(cond.field, str) or not isinstance(cond.op, str) \
                or cond.op not in OPERATORS:
            raise _bad(where, f"unknown operator '{str(cond.op)[:30]}' (one of {', '.join(OPERATORS)})")
        parts = cond.field.split(".")
        if len(parts) > 2:
            raise _bad(where, "a filter follows at most one lookup (like account.industry)")
        table = self.tables[obj.name]
        if len(parts) == 2:
            link = self.field_of(obj, parts[0])
            if link is None or not link.is_relation or link.target not in self.meta.objects:
                raise _bad(where, f"'{parts[0]}' is not a lookup field of {obj.name}")
            target = self.meta.objects[link.target]
            col, test, blank_ok = self._test(target, parts[1], cond.op, cond.value, where)
            inner = _with_blank(col, test, blank_ok)
            if self.access is not None:
                inner = and_(inner, self.access(target, self.tables[target.name]))
            linked = table.c[link.name].in_(select(self.tables[target.name].c.id).where(inner))
            # no linked record: the value through the lookup is blank
            return _with_blank(table.c[link.name], linked, blank_ok)
        return _with_blank(*self._test(obj, cond.field, cond.op, cond.value, where))

    def test_column(self, f: FieldDef, col: Any, op: Any, value: Any,
                    where: str) -> ColumnElement[bool]:
        """One condition on a column already selected (a report's joined lookup column):
        true or false, never NULL, as in ``where``."""
        if not isinstance(op, str) or op not in OPERATORS:
            raise _bad(where, f"unknown operator '{str(op)[:30]}' (one of {', '.join(OPERATORS)})")
        return _with_blank(col, *self._operator(f, col, op, value, where))

    def _test(self, obj: ObjectDef, name: str, op: str, value: Any,
              where: str) -> tuple[Any, ColumnElement[bool], bool]:
        """(the column, the condition on a non-blank value, whether a blank value passes)."""
        f = self.field_of(obj, name)
        if f is None:
            raise _bad(where, f"unknown field '{name[:60]}' of {obj.name}")
        col = self.tables[obj.name].c[f.name]
        test, blank_ok = self._operator(f, col, op, value, where)
        return col, test, blank_ok

    def _operator(self, f: FieldDef, col: Any, op: str, value: Any,
                  where: str) -> tuple[ColumnElement[bool], bool]:
        allowed = self.types.of(f).operators if f.type in self.types else ()
        if f.name in SYSTEM_FIELDS:
            allowed = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "between",
                       "is_blank", "is_not_blank", "in_period")
        if f.type == "formula":
            allowed = self.types[f.value_type].operators if f.value_type in self.types else allowed
        if op not in allowed:
            raise _bad(where, f"operator '{op}' does not apply to {f.type} field '{f.name}'")
        if op == "is_blank":
            return false(), True
        if op == "is_not_blank":
            return true(), False
        if op in {"in", "not_in"}:
            values = value if isinstance(value, list | tuple) else str(value or "").split(",")
            if len(values) > MAX_IN_VALUES:
                raise _bad(where, f"at most {MAX_IN_VALUES} values")
            coerced = [self.coerce(f, v, where) for v in values]
            present = [v for v in coerced if v is not None]
            listed = col.in_(present) if present else false()
            if op == "in":
                return listed, None in coerced
            return not_(listed), None not in coerced
        if op == "between":
            values = value if isinstance(value, list | tuple) else str(value or "").split(",")
            if len(values) != 2:
                raise _bad(where, "between takes two values: low,high")
            low, high = (self.coerce(f, v, where) for v in values)
            if low is None or high is None:
                raise _bad(where, "between takes two values: low,high")
            return and_(col >= low, col <= high), False
        if op == "in_period":
            try:
                start, end = period_range(str(value))
            except ValueError as exc:
                raise _bad(where, str(exc)) from None
            if f.value_type == "datetime" or f.name in {"created_at", "updated_at"}:
                s = datetime(start.year, start.month, start.day, tzinfo=UTC)
                e = datetime(end.year, end.month, end.day, tzinfo=UTC)
                return and_(col >= s, col < e), False
            return and_(col >= start, col < end), False
        if op in {"contains", "startswith"} and value is None:
            raise _bad(where, f"operator '{op}' needs a value")
        if op == "contains" and f.value_type == "multi_picklist":
            # the list is stored as JSON text: look for the option as a whole JSON string
            text = json.dumps(self.coerce(f, value, where), ensure_ascii=False)
            return type_coerce(col, Text).contains(text, autoescape=True), False
        if op == "contains":
            return col.icontains(str(self.coerce(f, value, where)), autoescape=True), False
        if op == "startswith":
            return col.istartswith(str(self.coerce(f, value, where)), autoescape=True), False
        v = self.coerce(f, value, where)
        if op == "eq":
            return (false(), True) if v is None else (col == v, False)
        if op == "ne":
            return (true(), False) if v is None else (col != v, True)
        if v is None:
            raise _bad(where, f"operator '{op}' needs a value")
        return {"lt": col < v, "lte": col <= v, "gt": col > v, "gte": col >= v}[op], False

    def search(self, obj: ObjectDef, text: str) -> ColumnElement[bool]:
        """Records whose search fields contain the text (case-insensitive, ``%`` and ``_``
        taken literally), whose number fields equal it, or whose id it is. The search fields
        are the object's ``search_fields`` plus the fields marked ``searchable`` (without
        ``search_fields``: every field searchable by its type)."""
        if not isinstance(text, str):
            raise _bad("q", "the search must be text")
        text = text.replace("\x00", "").strip()[:200]
        if not text:
            return true()
        table = self.tables[obj.name]
        if obj.search_fields:
            names = [*obj.search_fields, *(f.name for f in obj.fields if f.searchable
                                          and not f.sensitive and f.name not in obj.search_fields)]
        else:
            names = [f.name for f in obj.fields if f.is_searchable]
        names = [n for n in names if n not in obj.sensitive_names]  # never searched
        number = int(text) if WHOLE_NUMBER.fullmatch(text) else None
        clauses = []
        for name in names:
            f = self.field_of(obj, name)
            if f is None or name not in table.c:
                continue
            if f.value_type in TEXT_VALUES | {"picklist", "multi_picklist"}:
                clauses.append(type_coerce(table.c[name], Text).icontains(text, autoescape=True))
            elif f.value_type == "integer" and number is not None:
                clauses.append(table.c[name] == number)
        if number is not None and number > 0:
            clauses.append(table.c.id == number)
        return or_(false(), *clauses)

    # -- sort and keyset pagination -----------------------------------------------------

    def sort_columns(self, obj: ObjectDef, sort: Sequence[tuple[str, bool]]) -> list[tuple[Any, bool, FieldDef]]:
        table = self.tables[obj.name]
        if isinstance(sort, str) or not isinstance(sort, Sequence) or not all(
                isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str)
                for item in sort):
            raise _bad("sort", "a sort is a list of (field, descending) pairs")
        out = []
        sort = [(name, bool(desc)) for name, desc in sort[:MAX_SORT]]
        for name, desc in sort:
            f = self.field_of(obj, name)
            if f is None:
                raise _bad("sort", f"unknown field '{name[:60]}' of {obj.name}")
            if f.value_type in {"multi_picklist", "json", "rich_text"}:
                raise _bad("sort", f"cannot sort by {f.type} field '{name}'")
            if name != "id":
                out.append((table.c[name], desc, f))
        id_desc = sort[0][1] if sort else True
        out.append((table.c.id, id_desc, self.system_field("id")))
        return out

    def order_by(self, columns: list[tuple[Any, bool, FieldDef]]) -> list[Any]:
        return [c.desc() if desc else c.asc() for c, desc, _f in columns]

    def after(self, columns: list[tuple[Any, bool, FieldDef]], values: list[Any]) -> ColumnElement[bool]:
        """Rows strictly after the row whose sort values are ``values`` (keyset pagination).

        NULLs sort where the database puts them without a NULLS clause (lowest on SQLite,
        highest on PostgreSQL), so the indexes serve the ORDER BY."""
        ors = []
        for i, (col, desc, _f) in enumerate(columns):
            eqs = [(c.is_(None) if v is None else c == v) for (c, _d, _f), v in
                   zip(columns[:i], values[:i], strict=True)]
            v = values[i]
            null_first = self.null_low != desc
            if v is None:
                step = col.is_not(None) if null_first else false()
            else:
                # a typed literal: a boolean compares like any value (no "col > true" refusal)
                step = col < literal(v, col.type) if desc else col > literal(v, col.type)
                if not null_first:
                    step = or_(step, col.is_(None))
            ors.append(and_(*eqs, step))
        return or_(*ors)

    def encode_cursor(self, columns: list[tuple[Any, bool, FieldDef]], row: Mapping[str, Any]) -> str:
        # the sort it belongs to, then the last row's sort values
        values = [_sort_key(columns), *(_jsonable(row[c.name]) for c, _d, _f in columns)]
        raw = json.dumps(values, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode_cursor(self, columns: list[tuple[Any, bool, FieldDef]], cursor: str) -> list[Any]:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            values = json.loads(raw)
        except (ValueError, TypeError):
            raise _bad("cursor", "invalid cursor") from None
        if not isinstance(values, list) or len(values) != len(columns) + 1 \
                or values[0] != _sort_key(columns):
            raise _bad("cursor", "invalid cursor (does it belong to another sort?)")
        out = []
        for (_c, _d, f), v in zip(columns, values[1:], strict=True):
            if v is None:
                out.append(None)
                continue
            if f.value_type in {"integer", "lookup", "master_detail"} and not isinstance(v, int):
                raise _bad("cursor", "invalid cursor")
            out.append(self.coerce(f, v, "cursor"))
        return out

    def page_statement(self, obj: ObjectDef, q: Query, columns_to_select: Sequence[Any] | None = None,
                       extra_where: ColumnElement[bool] | None = None
                       ) -> tuple[Select[Any], list[tuple[Any, bool, FieldDef]], int]:
        table = self.tables[obj.name]
        limit = page_limit(q.limit)
        sort_cols = self.sort_columns(obj, q.sort)
        stmt = select(*(columns_to_select or [table]))
        conds = [self.where(obj, q.filter)]
        if q.search:
            conds.append(self.search(obj, q.search))
        if extra_where is not None:
            conds.append(extra_where)
        if q.cursor:
            conds.append(self.after(sort_cols, self.decode_cursor(sort_cols, q.cursor)))
        stmt = stmt.where(and_(*conds)).order_by(*self.order_by(sort_cols)).limit(limit + 1)
        return stmt, sort_cols, limit


def _sort_key(columns: list[tuple[Any, bool, FieldDef]]) -> str:
    return ",".join(("-" if desc else "") + c.name for c, desc, _f in columns)


def page_limit(value: Any) -> int:
    """The page size asked for, within 1..MAX_LIMIT (none or 0: 50)."""
    if isinstance(value, str) and WHOLE_NUMBER.fullmatch(value.strip()):
        value = int(value)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise _bad("limit", "the limit must be a whole number")
    return max(1, min(value or 50, MAX_LIMIT))


def _with_blank(col: Any, test: ColumnElement[bool], blank_ok: bool) -> ColumnElement[bool]:
    """``test`` for a non-blank ``col``; ``blank_ok`` for a blank one (never NULL)."""
    if blank_ok:
        return or_(col.is_(None), test)
    return and_(col.is_not(None), test)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
