"""A report definition compiled to one SQL statement (SQLAlchemy Core) and run.

Tabular reports select columns (through up to two lookups, as LEFT OUTER JOINs), filter,
sort and limit in the database; their totals are scalar subqueries of the same statement.
Summary and matrix reports GROUP BY in the database; subtotals and totals are combined
from the group rows (sums of sums, counts and minima; an average from hidden sums and
counts), or, when a distinct count cannot be combined, taken from UNION ALL branches of the
same statement grouped at each level. Records are never aggregated in Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    distinct,
    func,
    literal,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.sql import FromClause

from ..errors import FieldProblem, ValidationError
from ..meta.model import (
    DECIMAL_TYPES,
    NUMBER_TYPES,
    Definition,
    FieldDef,
    MetadataSet,
    ObjectDef,
    label_text,
)
from ..records.query import Cond, QueryCompiler
from .dates import BUCKETS, bucket_expression, bucket_label, bucket_range

LAYOUTS = ("tabular", "summary", "matrix")
FUNCTIONS = ("count", "sum", "avg", "min", "max", "count_distinct")
#: Rows a tabular report returns unless its definition says otherwise.
TABULAR_LIMIT = 1000
#: The most rows any report returns (exports included).
MAX_ROWS = 100_000
#: The most group rows a summary or matrix report reads; more is refused as a mistake.
MAX_GROUPS = 50_000
#: Value types that cannot be grouped by, summed or compared as one value.
UNGROUPABLE = frozenset({"multi_picklist", "json", "rich_text", "textarea"})
MEASURABLE = NUMBER_TYPES | DECIMAL_TYPES
DATE_TYPES = frozenset({"date", "datetime"})

_AGG_LABELS = {
    "en": {"count": "Record count", "count_of": "Count of {f}", "sum": "Sum of {f}",
           "avg": "Average {f}", "min": "Min of {f}", "max": "Max of {f}",
           "count_distinct": "Unique {f}"},
    "zh-CN": {"count": "记录数", "count_of": "{f}计数", "sum": "{f}合计", "avg": "平均{f}",
              "min": "最小{f}", "max": "最大{f}", "count_distinct": "{f}去重计数"},
}
BLANK = {"en": "(blank)", "zh-CN": "（空）"}
YES_NO = {"en": ("Yes", "No"), "zh-CN": ("是", "否")}


def report_problem(pointer: str, message: str, code: str = "invalid_report") -> ValidationError:
    return ValidationError([FieldProblem(pointer, code, message)])


def aggregate_key(agg: Mapping[str, Any]) -> str:
    """An aggregate column's name: ``count``, ``sum_amount``, ``max_account_annual_revenue``."""
    fn, path = agg.get("fn"), agg.get("field")
    if not path:
        return str(fn)
    return f"{fn}_{str(path).replace('.', '_')}"


def _locale_table(table: Mapping[str, Any], locale: str) -> Any:
    return table.get(locale) or table.get(locale.split("-")[0]) or table["en"]


@dataclass(frozen=True)
class Column:
    """One column of a report's result."""

    key: str
    label: str
    role: str                        # "group", "aggregate" or "field"
    value_type: str                  # how its values are shown
    field: FieldDef | None = None    # the field behind it (None for counts)
    path: str | None = None
    bucket: str | None = None
    fn: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "role": self.role, "type": self.value_type,
                "path": self.path, "bucket": self.bucket, "fn": self.fn}


@dataclass
class ReportResult:
    name: str
    label: str
    layout: str
    object: ObjectDef
    columns: list[Column]
    rows: list[dict[str, Any]]
    totals: dict[str, Any] = field(default_factory=dict)
    #: summary with two groupings and matrix: first group value -> its aggregates
    subtotals: dict[Any, dict[str, Any]] = field(default_factory=dict)
    #: matrix: second group value -> its aggregates
    column_totals: dict[Any, dict[str, Any]] = field(default_factory=dict)
    #: group column key -> value -> the text people read
    labels: dict[str, dict[Any, str]] = field(default_factory=dict)
    truncated: bool = False
    count: int | None = None              # tabular: every matching record
    chart: Mapping[str, Any] | None = None
    definition: Mapping[str, Any] = field(default_factory=dict)

    @property
    def groups(self) -> list[Column]:
        return [c for c in self.columns if c.role == "group"]

    @property
    def aggregates(self) -> list[Column]:
        return [c for c in self.columns if c.role == "aggregate"]

    def label_of(self, key: str, value: Any) -> str:
        return self.labels.get(key, {}).get(value, "" if value is None else str(value))

    def group_values(self, level: int) -> list[Any]:
        """The distinct values of a grouping in row order (the matrix's rows or columns)."""
        key = self.groups[level].key
        seen: dict[Any, None] = {}
        for row in self.rows:
            seen.setdefault(row[key], None)
        return list(seen)

    def cell(self, row_value: Any, column_value: Any) -> dict[str, Any] | None:
        """Matrix: the aggregates where a row value and a column value meet."""
        g0, g1 = (g.key for g in self.groups[:2])
        cells = self.__dict__.setdefault("_cells", {(r[g0], r[g1]): r for r in self.rows})
        return cells.get((row_value, column_value))


class Joins:
    """Field paths resolved to columns, joining each lookup once (LEFT OUTER JOIN).
    ``access(obj, table)``: the rows of a joined object the reader may read; a record they
    may not read joins as blanks, so its title and fields never reach a report."""

    def __init__(self, compiler: QueryCompiler, obj: ObjectDef, access: Any = None):
        self.compiler = compiler
        self.access = access
        self.meta = compiler.meta
        self.obj = obj
        self.base = compiler.tables[obj.name]
        self.source: FromClause = self.base
        self.aliases: dict[str, tuple[Any, ObjectDef]] = {}

    def resolve(self, path: str, pointer: str) -> tuple[FieldDef, Any, ObjectDef]:
        """(the field, its column, the object it belongs to) for a path like account.industry."""
        if not isinstance(path, str) or not path:
            raise report_problem(pointer, "a field path is needed")
        parts = path.split(".")
        if len(parts) > 3:
            raise report_problem(pointer, f"'{path[:80]}' follows more than two lookups")
        obj, table, prefix = self.obj, self.base, ""
        for part in parts[:-1]:
            link = self.compiler.field_of(obj, part)
            if link is None or not link.is_relation or link.target not in self.meta.objects:
                raise report_problem(pointer, f"'{part[:60]}' is not a lookup field of {obj.name}",
                                     "unknown_field")
            prefix = f"{prefix}.{part}" if prefix else part
            if prefix not in self.aliases:
                target = self.meta.objects[link.target or ""]
                alias = self.compiler.tables[target.name].alias(f"j{len(self.aliases)}")
                on = table.c[link.name] == alias.c.id
                if self.access is not None:
                    on = and_(on, self.access(target, alias))
                self.source = self.source.outerjoin(alias, on)
                self.aliases[prefix] = (alias, target)
            table, obj = self.aliases[prefix]
        f = self.compiler.field_of(obj, parts[-1])
        if f is None:
            raise report_problem(pointer, f"unknown field '{parts[-1][:60]}' of {obj.name}",
                                 "unknown_field")
        return f, table.c[f.name], obj

    def title(self, path: str, f: FieldDef, pointer: str) -> Any:
        """The title column of the record a lookup path points at (joined once)."""
        target = self.meta.objects.get(f.target or "")
        if target is None or target.title == "id":
            return None
        _tf, col, _o = self.resolve(f"{path}.{target.title}", pointer)
        return col


class ReportCompiler:
    """Compiles and runs one report definition against one metadata revision."""

    def __init__(self, compiler: QueryCompiler, dialect: str, locale: str = "en"):
        self.compiler = compiler
        self.meta: MetadataSet = compiler.meta
        self.dialect = dialect
        self.locale = locale

    # -- the parts of a definition ---------------------------------------------------------

    def layout_of(self, data: Mapping[str, Any]) -> str:
        layout = data.get("layout")
        if layout in LAYOUTS:
            return str(layout)
        return "summary" if data.get("group_by") else "tabular"

    def object_of(self, data: Mapping[str, Any]) -> ObjectDef:
        obj = self.meta.objects.get(str(data.get("object") or ""))
        if obj is None:
            raise report_problem("/object", f"unknown object '{str(data.get('object'))[:60]}'",
                                 "unknown_object")
        return obj

    def where(self, joins: Joins, filters: Sequence[Any], pointer: str = "/filters"
              ) -> ColumnElement[bool]:
        parts = []
        for i, cond in enumerate(filters):
            if isinstance(cond, Mapping):
                cond = Cond(cond.get("field", ""), cond.get("op", "eq"), cond.get("value"))
            where = f"{pointer}/{i}"
            f, col, _o = joins.resolve(cond.field, where + "/field")
            if f.value_type in {"json"}:
                raise report_problem(where + "/field", f"cannot filter on {f.type} field '{f.name}'")
            try:
                parts.append(self.compiler.test_column(f, col, cond.op, cond.value, where))
            except ValidationError as exc:
                raise ValidationError([FieldProblem(where, p.code, p.message)
                                       for p in exc.problems]) from None
        return and_(true(), *parts)

    def group_column(self, joins: Joins, spec: Mapping[str, Any], i: int
                     ) -> tuple[Column, Any, Any]:
        """(the column, its SQL expression, the title expression of a lookup or None)."""
        pointer = f"/group_by/{i}/field"
        path = spec.get("field", "")
        f, col, _o = joins.resolve(path, pointer)
        vt = f.value_type
        if vt in UNGROUPABLE:
            raise report_problem(pointer, f"cannot group by {f.type} field '{path}'")
        bucket = spec.get("bucket")
        if bucket is not None and (bucket not in BUCKETS or vt not in DATE_TYPES):
            raise report_problem(f"/group_by/{i}/bucket",
                                 f"a bucket ({', '.join(BUCKETS)}) applies to date fields only"
                                 if bucket in BUCKETS else f"unknown bucket '{str(bucket)[:20]}'")
        if vt in DATE_TYPES and bucket is None:
            bucket = "day"
        expr = bucket_expression(col, bucket, self.dialect) if bucket else col
        title = joins.title(path, f, pointer) if f.is_relation else None
        column = Column(path, self.path_label(joins.obj, path), "group",
                        "text" if bucket else vt, f, path, bucket)
        return column, expr, title

    def aggregate_column(self, joins: Joins, spec: Mapping[str, Any], i: int
                         ) -> tuple[Column, Any, Any]:
        """(the column, its SQL aggregate, the column aggregated or None for a count)."""
        pointer = f"/aggregates/{i}"
        fn = spec.get("fn")
        if fn not in FUNCTIONS:
            raise report_problem(pointer + "/fn", f"unknown aggregate '{str(fn)[:30]}' "
                                 f"(one of {', '.join(FUNCTIONS)})")
        path = spec.get("field")
        key = aggregate_key(spec)
        words = _locale_table(_AGG_LABELS, self.locale)
        if not path:
            if fn != "count":
                raise report_problem(pointer + "/field", f"{fn} needs a field")
            label = label_text(spec.get("label"), self.locale, words["count"])
            return Column(key, label, "aggregate", "integer", None, None, fn=fn), func.count(), None
        f, col, _o = joins.resolve(path, pointer + "/field")
        vt = f.value_type
        if fn in {"sum", "avg"} and vt not in MEASURABLE:
            raise report_problem(pointer + "/field",
                                 f"cannot {fn} '{path}': it is a {f.type} field, not a number")
        if fn in {"min", "max"} and vt in UNGROUPABLE | {"boolean"}:
            raise report_problem(pointer + "/field", f"cannot take the {fn} of {f.type} field '{path}'")
        field_label = self.path_label(joins.obj, path)
        default = words["count_of" if fn == "count" else fn].format(f=field_label)
        label = label_text(spec.get("label"), self.locale, default)
        if fn == "count":
            return Column(key, label, "aggregate", "integer", f, path, fn=fn), func.count(col), col
        if fn == "count_distinct":
            return Column(key, label, "aggregate", "integer", f, path, fn=fn), \
                func.count(distinct(col)), col
        value_type = vt
        if fn == "avg" and vt == "integer":
            value_type = "decimal"
        expr = {"sum": func.sum, "avg": func.avg, "min": func.min, "max": func.max}[fn](col)
        return Column(key, label, "aggregate", value_type, f, path, fn=fn), expr, col

    def path_label(self, obj: ObjectDef, path: str) -> str:
        """"Account › Industry" for account.industry."""
        words, current = [], obj
        for part in path.split("."):
            f = self.compiler.field_of(current, part)
            if f is None:
                words.append(part)
                break
            words.append(f.display_label(self.locale) if f.name == part and current.has_field(part)
                         else _system_label(part, self.locale))
            if f.is_relation and f.target in self.meta.objects:
                current = self.meta.objects[f.target or ""]
        return " › ".join(words)

    # -- running ----------------------------------------------------------------------------

    def run(self, conn: Any, d: Definition, access: Any, extra: Sequence[Cond] = (),
            limit: int | None = None) -> ReportResult:
        data = d.data
        obj = self.object_of(data)
        layout = self.layout_of(data)
        joins = Joins(self.compiler, obj, access)
        where = and_(self.where(joins, data.get("filters") or ()),
                     self.where(joins, extra, "/extra"), access(obj, joins.base))
        label = label_text(data.get("label"), self.locale, d.name.replace("_", " ").capitalize())
        result = ReportResult(d.name, label, layout, obj, [], [], chart=data.get("chart"),
                              definition=data)
        if layout == "tabular":
            self._tabular(conn, joins, data, where, result, limit)
        else:
            self._grouped(conn, joins, data, where, result, limit)
        return result

    def _tabular(self, conn: Any, joins: Joins, data: Mapping[str, Any], where: Any,
                 result: ReportResult, limit: int | None) -> None:
        paths = list(data.get("columns") or [joins.obj.title])
        selected, titles = [], {}
        for i, path in enumerate(paths):
            f, col, _o = joins.resolve(path, f"/columns/{i}")
            result.columns.append(Column(path, self.path_label(joins.obj, path), "field",
                                         f.value_type, f, path))
            selected.append(col.label(f"c{i}"))
            if f.is_relation:
                title = joins.title(path, f, f"/columns/{i}")
                if title is not None:
                    titles[path] = len(selected)
                    selected.append(title.label(f"t{i}"))
        aggregates = []
        for i, spec in enumerate(data.get("aggregates") or ()):
            column, expr, _arg = self.aggregate_column(joins, spec, i)
            result.columns.append(column)
            aggregates.append((column, expr))
        order = self._tabular_order(joins, data.get("sort"), paths)
        base_id = joins.base.c.id.label("id")
        # the totals: scalar subqueries over the same rows, evaluated once by the database
        totals = [select(func.count()).select_from(joins.source).where(where)
                  .scalar_subquery().label("_count")]
        totals += [select(expr).select_from(joins.source).where(where).scalar_subquery()
                   .label(f"_a{i}") for i, (_c, expr) in enumerate(aggregates)]
        cap = min(limit or data.get("limit") or TABULAR_LIMIT, MAX_ROWS)
        stmt = select(base_id, *selected, *totals).select_from(joins.source).where(where) \
            .order_by(*order).limit(cap + 1)
        rows = conn.execute(stmt).all()
        result.truncated = len(rows) > cap
        result.count = rows[0]._count if rows else 0
        if rows:
            result.totals = {c.key: _tidy(c, rows[0]._mapping[f"_a{i}"])
                             for i, (c, _e) in enumerate(aggregates)}
        else:
            result.totals = {c.key: 0 if c.fn in {"count", "count_distinct"} else None
                             for c, _e in aggregates}
        fields = [c for c in result.columns if c.role == "field"]
        for row in rows[:cap]:
            m = row._mapping
            out = {"id": m["id"]}
            for i, c in enumerate(fields):
                out[c.key] = m[f"c{i}"]
                if c.key in titles and m[f"c{i}"] is not None:
                    result.labels.setdefault(c.key, {})[m[f"c{i}"]] = m[f"t{i}"]
            result.rows.append(out)

    def _tabular_order(self, joins: Joins, sort: Any, paths: list[str]) -> list[Any]:
        order = []
        for i, (path, desc) in enumerate(_sort_keys(sort)):
            f, col, _o = joins.resolve(path, f"/sort/{i}")
            if f.value_type in UNGROUPABLE:
                raise report_problem(f"/sort/{i}", f"cannot sort by {f.type} field '{path}'")
            order.append(col.desc() if desc else col.asc())
        order.append(joins.base.c.id.asc())
        return order

    def _grouped(self, conn: Any, joins: Joins, data: Mapping[str, Any], where: Any,
                 result: ReportResult, limit: int | None) -> None:
        specs = list(data.get("group_by") or ())
        if not specs:
            raise report_problem("/group_by", f"a {result.layout} report needs a grouping")
        if result.layout == "matrix" and len(specs) != 2:
            raise report_problem("/group_by", "a matrix report needs two groupings (down and across)")
        groups = self.groupings(joins, specs)
        aggregates: list[tuple[Column, Any, Any]] = []
        for i, spec in enumerate(data.get("aggregates") or [{"fn": "count"}]):
            column, expr, arg = self.aggregate_column(joins, spec, i)
            if any(a.key == column.key for a, _e, _a in aggregates):
                raise report_problem(f"/aggregates/{i}", f"'{column.key}' is computed twice")
            aggregates.append((column, expr, arg))
        self.run_grouped(conn, joins, result, groups, aggregates, where, data.get("sort"),
                         limit or data.get("limit"))

    def groupings(self, joins: Joins, specs: Sequence[Mapping[str, Any]]
                  ) -> list[tuple[Column, Any, Any]]:
        groups: list[tuple[Column, Any, Any]] = []
        for i, spec in enumerate(specs[:2]):
            column, expr, title = self.group_column(joins, spec, i)
            if any(g.key == column.key for g, _e, _t in groups):
                raise report_problem(f"/group_by/{i}/field", f"'{column.key}' is grouped by twice")
            groups.append((column, expr, title))
        return groups

    def run_grouped(self, conn: Any, joins: Joins, result: ReportResult,
                    grouping: list[tuple[Column, Any, Any]],
                    aggregates: list[tuple[Column, Any, Any]], where: Any, sort: Any,
                    limit: int | None) -> None:
        """GROUP BY ``grouping`` computing ``aggregates`` (column, SQL aggregate, argument);
        fills the result's rows, subtotals, totals and labels."""
        groups = [g for g, _e, _t in grouping]
        exprs = [e for _g, e, _t in grouping]
        titles = [t for _g, _e, t in grouping]
        result.columns = [*groups, *(c for c, _e, _a in aggregates)]
        measures = _measures(aggregates)
        levels = _levels(len(groups), result.layout)
        combinable = all(c.fn != "count_distinct" for c, _e, _a in aggregates)

        def branch(index: int) -> Any:
            level = levels[index]
            cols, group_by = [], []
            for i, (expr, title) in enumerate(zip(exprs, titles, strict=True)):
                if i in level:
                    cols.append(expr.label(f"g{i}"))
                    group_by.append(expr)
                    if title is not None:
                        cols.append(title.label(f"t{i}"))
                        group_by.append(title)
                else:
                    cols.append(null().label(f"g{i}"))
                    if title is not None:
                        cols.append(null().label(f"t{i}"))
            cols += [expr.label(name) for name, expr in measures]
            if not combinable:
                cols.append(literal(index, Integer).label("_level"))
            return select(*cols).select_from(joins.source).where(where).group_by(*group_by)

        if combinable:
            stmt = branch(0).limit(MAX_GROUPS + 1)
        else:
            stmt = union_all(*(branch(i) for i in range(len(levels))))
        fetched = [dict(r._mapping) for r in conn.execute(stmt)]
        detail = [r for r in fetched if combinable or r["_level"] == 0]
        if len(detail) > MAX_GROUPS:
            raise report_problem("/group_by", f"more than {MAX_GROUPS:,} groups: add a filter "
                                 "or group by something coarser (a month instead of a day)",
                                 "too_many_groups")
        keys = [g.key for g in groups]
        agg_columns = [c for c, _e, _a in aggregates]
        for i, g in enumerate(groups):
            result.labels[g.key] = self._labels(g, [r[f"g{i}"] for r in detail],
                                                {r[f"g{i}"]: r.get(f"t{i}") for r in detail})

        def out(row: Mapping[str, Any], level: tuple[int, ...]) -> dict[str, Any]:
            item = {keys[i]: row[f"g{i}"] for i in level}
            for c in agg_columns:
                item[c.key] = _tidy(c, _value_of(c, row))
            return item

        rows = [out(r, levels[0]) for r in detail]
        if combinable:
            by_first: dict[Any, list[Mapping[str, Any]]] = {}
            by_second: dict[Any, list[Mapping[str, Any]]] = {}
            for r in detail:
                by_first.setdefault(r["g0"], []).append(r)
                if len(groups) > 1:
                    by_second.setdefault(r["g1"], []).append(r)
            result.totals = out(_combine(detail, measures, agg_columns), ())
            if len(groups) > 1:
                result.subtotals = {k: out(_combine(v, measures, agg_columns), ())
                                    for k, v in by_first.items()}
            if result.layout == "matrix":
                result.column_totals = {k: out(_combine(v, measures, agg_columns), ())
                                        for k, v in by_second.items()}
        else:
            for r in fetched:
                level = levels[r["_level"]]
                if not level:
                    result.totals = out(r, ())
                elif level == (0,) and len(groups) > 1:
                    result.subtotals[r["g0"]] = out(r, ())
                elif level == (1,):
                    result.column_totals[r["g1"]] = out(r, ())
            if not result.totals:
                result.totals = {c.key: 0 if c.fn in {"count", "count_distinct"} else None
                                 for c in agg_columns}
        if not detail and not result.totals:
            result.totals = {c.key: 0 for c in agg_columns}
        result.rows = rows
        self.sort_rows(result, sort, limit)

    def sort_rows(self, result: ReportResult, sort: Any, limit: int | None) -> None:
        """Group rows in the definition's order, else by each grouping's natural order
        (picklist options as declared, dates ascending, lookups by title); then the limit."""
        result.rows.sort(key=self._sorter(result, sort))
        cap = min(limit or MAX_GROUPS, MAX_GROUPS)
        result.truncated = len(result.rows) > cap
        del result.rows[cap:]

    def _labels(self, g: Column, values: list[Any], titles: Mapping[Any, Any]) -> dict[Any, str]:
        f = g.field
        labels: dict[Any, str] = {}
        yes, no = _locale_table(YES_NO, self.locale)
        for v in values:
            if v in labels:
                continue
            if v is None:
                labels[v] = _locale_table(BLANK, self.locale)
            elif g.bucket:
                labels[v] = bucket_label(g.bucket, v, self.locale)
            elif f is not None and f.value_type == "picklist":
                labels[v] = _option_label(f, v, self.locale)
            elif f is not None and f.is_relation:
                labels[v] = str(titles.get(v) or f"#{v}")
            elif f is not None and f.value_type == "boolean":
                labels[v] = yes if v else no
            elif f is not None and f.value_type in self.compiler.types \
                    and self.compiler.types[f.value_type].display is not None:
                labels[v] = self.compiler.types[f.value_type].display(f, v)  # a plugin's type
            elif isinstance(v, date):
                labels[v] = v.isoformat()
            else:
                labels[v] = str(v)
        return labels

    def _sorter(self, result: ReportResult, sort: Any) -> Any:
        keys = _sort_keys(sort)
        columns = {c.key: c for c in result.columns}
        for i, (key, _d) in enumerate(keys):
            if key not in columns:
                raise report_problem(f"/sort/{i}", f"'{key[:60]}' is neither a grouping nor an "
                                     "aggregate of the report")
        order = keys + [(g.key, False) for g in result.groups if g.key not in dict(keys)]

        def rank(c: Column, value: Any) -> tuple[Any, ...]:
            if value is None:
                return (1,)
            f = c.field
            if c.role == "group" and f is not None and f.value_type == "picklist" \
                    and value in f.option_values:
                return (0, 0, f.option_values.index(value))
            if c.role == "group" and f is not None and f.is_relation:
                return (0, 1, result.label_of(c.key, value).lower())
            if isinstance(value, bool | int | float | Decimal):
                return (0, 2, value)
            return (0, 3, str(value))

        def key(row: Mapping[str, Any]) -> tuple[Any, ...]:
            parts = []
            for name, desc in order:
                r = rank(columns[name], row.get(name))
                # blanks last in either direction
                parts.append((r[0], _Reverse(r) if desc else r))
            return tuple(parts)

        return key


class _Reverse:
    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __lt__(self, other: _Reverse) -> bool:
        return bool(other.value < self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reverse) and self.value == other.value


def _sort_keys(sort: Any) -> list[tuple[str, bool]]:
    if sort is None:
        return []
    items = [sort] if isinstance(sort, str) else sort
    if not isinstance(items, list | tuple):
        raise report_problem("/sort", "sort is a list of keys like \"-sum_amount\"")
    out = []
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if part:
                out.append((part.lstrip("-+"), part.startswith("-")))
    return out


def _levels(n: int, layout: str) -> list[tuple[int, ...]]:
    """The grouping levels a report reads: the detail first, then subtotals and totals."""
    if n == 1:
        return [(0,), ()]
    if layout == "matrix":
        return [(0, 1), (0,), (1,), ()]
    return [(0, 1), (0,), ()]


def _measures(aggregates: list[tuple[Column, Any, Any]]) -> list[tuple[str, Any]]:
    """The SQL aggregate columns: each aggregate, plus a hidden sum and count per average
    (an average of averages would be wrong)."""
    out = []
    for c, expr, arg in aggregates:
        out.append((f"m_{c.key}", expr))
        if c.fn == "avg":
            out.append((f"s_{c.key}", func.sum(arg)))
            out.append((f"n_{c.key}", func.count(arg)))
    return out


def _value_of(c: Column, row: Mapping[str, Any]) -> Any:
    return row.get(f"m_{c.key}")


def _combine(rows: list[Mapping[str, Any]], measures: list[tuple[str, Any]],
             columns: list[Column]) -> dict[str, Any]:
    """Aggregates over several group rows, from the groups' own aggregates."""
    out: dict[str, Any] = {}
    for c in columns:
        values = [r[f"m_{c.key}"] for r in rows if r[f"m_{c.key}"] is not None]
        if c.fn in {"count"}:
            out[f"m_{c.key}"] = sum(values)
        elif c.fn == "sum":
            out[f"m_{c.key}"] = sum(values) if values else 0 if c.value_type == "integer" else None
        elif c.fn == "min":
            out[f"m_{c.key}"] = min(values) if values else None
        elif c.fn == "max":
            out[f"m_{c.key}"] = max(values) if values else None
        elif c.fn == "avg":
            total = sum(r[f"s_{c.key}"] for r in rows if r[f"s_{c.key}"] is not None)
            n = sum(r[f"n_{c.key}"] or 0 for r in rows)
            out[f"m_{c.key}"] = (Decimal(str(total)) / n) if n else None
    return out


def _tidy(c: Column, value: Any) -> Any:
    """An aggregate's value in its column's type: counts as ints, money to its scale."""
    if value is None:
        return None
    if c.fn in {"count", "count_distinct"}:
        return int(value)
    vt = c.value_type
    if vt in DECIMAL_TYPES:
        scale = c.field.scale if c.field is not None else 2
        if c.fn == "avg":
            scale = max(scale, 2)
        return Decimal(str(value)).quantize(Decimal(1).scaleb(-scale))
    if vt == "integer" and c.fn in {"sum", "min", "max"} and isinstance(value, float | Decimal):
        return int(value)
    return value


def _option_label(f: FieldDef, value: Any, locale: str) -> str:
    for o in f.options:
        if o.value == value:
            return label_text(o.label, locale, str(value))
    return str(value)


_SYSTEM_LABELS = {
    "en": {"id": "ID", "created_at": "Created", "updated_at": "Updated",
           "created_by": "Created by", "owner": "Owner", "version": "Version"},
    "zh-CN": {"id": "编号", "created_at": "创建时间", "updated_at": "更新时间",
              "created_by": "创建人", "owner": "负责人", "version": "版本"},
}


def _system_label(name: str, locale: str) -> str:
    return _locale_table(_SYSTEM_LABELS, locale).get(name, name)


def drill_conditions(result: ReportResult, keys: Sequence[Any]) -> list[Cond]:
    """Conditions selecting the records behind a group row (its first ``len(keys)``
    grouping values)."""
    conds = []
    groups = result.groups
    if len(keys) > len(groups):
        raise report_problem("keys", f"the report has {len(groups)} groupings")
    for g, value in zip(groups, keys, strict=False):
        path = g.path or g.key
        if value is None:
            conds.append(Cond(path, "is_blank"))
        elif g.bucket:
            try:
                start, end = bucket_range(g.bucket, str(value))
            except ValueError as exc:
                raise report_problem("keys", str(exc)) from None
            if g.field is not None and g.field.value_type == "datetime":
                conds += [Cond(path, "gte", f"{start.isoformat()}T00:00:00+00:00"),
                          Cond(path, "lt", f"{end.isoformat()}T00:00:00+00:00")]
            else:
                conds += [Cond(path, "gte", start.isoformat()), Cond(path, "lt", end.isoformat())]
        else:
            conds.append(Cond(path, "eq", value))
    return conds
