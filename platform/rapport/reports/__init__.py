"""Reports and dashboards (``ws.reports``): definitions run as one SQL statement each,
checked when they are saved, and kept working when the fields they use are renamed."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Table, and_, true
from sqlalchemy.dialects import postgresql, sqlite

from ..errors import MetaProblem, NotFound, ValidationError
from ..meta.model import SYSTEM_FIELDS, Definition, MetadataSet, ObjectDef, label_text
from ..records.actor import SYSTEM, Actor
from ..records.query import PERIODS, Cond, QueryCompiler, period_range
from ..records.service import now_utc
from ..storage.tables import build_metadata
from .cache import ResultCache
from .engine import (
    Column,
    Joins,
    ReportCompiler,
    ReportResult,
    aggregate_key,
    drill_conditions,
    report_problem,
)
from .pipeline import Pipeline

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["Column", "ReportResult", "Reports", "Tile", "aggregate_key"]

#: Records a drill-down shows at most.
DRILL_LIMIT = 500
#: Words of the report screens' URLs (/reports/new...): not report names.
RESERVED_NAMES = frozenset({"new", "builder"})


@dataclass(frozen=True)
class Tile:
    """One dashboard tile, its report resolved."""

    index: int
    report: Definition
    type: str                   # chart, kpi or table
    title: Any
    aggregate: str | None
    width: int
    height: int


class Reports:
    def __init__(self, ws: Workspace):
        self.ws = ws
        self._checking: tuple[MetadataSet, QueryCompiler] | None = None
        self.cache = ResultCache(ws.table_of("rapport_data_version").metadata)

    # -- definitions -------------------------------------------------------------------------

    def definition(self, report: str | Definition | Mapping[str, Any]) -> Definition:
        """A saved report by name, or an unsaved one given as its definition (the builder's
        preview)."""
        if isinstance(report, Definition):
            return report
        if isinstance(report, Mapping):
            return Definition("report", str(report.get("name") or "preview"), report)
        d = self.ws.meta.reports.get(report)
        if d is None:
            raise NotFound(f"no report named '{str(report)[:60]}'")
        return d

    def dashboard(self, name: str) -> Definition:
        d = self.ws.meta.dashboards.get(name)
        if d is None:
            raise NotFound(f"no dashboard named '{str(name)[:60]}'")
        return d

    def tiles(self, dashboard: Definition) -> list[Tile]:
        out = []
        for i, t in enumerate(dashboard.data.get("tiles", ())):
            report = self.ws.meta.reports.get(t.get("report", ""))
            if report is None:
                continue
            out.append(Tile(i, report, t.get("type", "chart"), t.get("title") or
                            report.data.get("label") or report.name, t.get("aggregate"),
                            int(t.get("width", 6)), int(t.get("height", 2))))
        return out

    # -- running -----------------------------------------------------------------------------

    def compiler(self, actor: Actor, meta: MetadataSet | None = None) -> ReportCompiler:
        """A report compiler for the workspace's metadata, or for ``meta`` (a change not yet
        applied: its tables are built once, then reused for every report checked)."""
        if meta is None or meta is self.ws.meta:
            qc = self.ws.compiler()
        elif self._checking is not None and self._checking[0] is meta:
            qc = self._checking[1]
        else:
            qc = QueryCompiler(meta, build_metadata(meta, self.ws.types).tables, self.ws.types,
                               self.ws.engine.dialect.name)
            self._checking = (meta, qc)
        return ReportCompiler(qc, self.ws.engine.dialect.name, actor.locale)

    def run(self, report: str | Definition | Mapping[str, Any], actor: Actor = SYSTEM, *,
            period: tuple[str, str] | None = None, extra: Sequence[Cond] = (),
            limit: int | None = None) -> ReportResult:
        """Run a report as ``actor``. ``period`` is a dashboard's (date field, period): it
        filters the report when its object has that field. ``extra`` adds conditions."""
        d = self.definition(report)
        rc = self.compiler(actor)
        conds = list(extra) + self.period_conditions(rc, d, period)
        with self.ws.read_engine.connect() as conn:
            if (d.data.get("pipeline") or {}).get("measure") == "time_in_stage":
                return self._run(conn, rc, d, conds, limit, actor)  # a visit still open grows
            return self.cache.get_or_compute(
                conn, self._cache_key(d, conds, limit, actor), [*rc.meta.objects, "rapport_share"],
                lambda: self._run(conn, rc, d, conds, limit, actor), lambda r: len(r.rows))

    def _cache_key(self, d: Definition, conds: Sequence[Cond], limit: int | None,
                   actor: Actor) -> tuple[Any, ...]:
        """Everything a result depends on besides the data: the metadata, the definition,
        the conditions, the reader (their access and language) and the day (relative
        periods)."""
        from ..auth.access import unrestricted

        access = None if unrestricted(actor) else self.ws.access.policy().stamp
        return (self.ws.meta.revision, json.dumps(d.data, sort_keys=True, default=str),
                repr(conds), limit, actor, access, now_utc().date(), date.today())

    def _run(self, conn: Any, rc: ReportCompiler, d: Definition, conds: Sequence[Cond],
             limit: int | None, actor: Actor = SYSTEM) -> ReportResult:
        spec = d.data.get("pipeline")
        self.check_fields(rc, d, actor)

        def readable(obj: ObjectDef, table: Table) -> ColumnElement[bool]:
            return self.readable(obj, table, actor)
        if spec is None:
            return rc.run(conn, d, readable, conds, limit)
        obj = rc.object_of(d.data)
        joins = Joins(rc.compiler, obj, readable)
        where = and_(rc.where(joins, d.data.get("filters") or ()),
                     rc.where(joins, conds, "/extra"), readable(obj, joins.base))
        result = ReportResult(d.name, label_text(d.data.get("label"), rc.locale,
                                                 d.name.replace("_", " ").capitalize()),
                              "summary", obj, [], [], chart=d.data.get("chart"), definition=d.data)
        workflow = self.workflow_of(obj, spec)
        Pipeline(rc, workflow, spec, now_utc(), self.ws.table_of("rapport_stage_history")) \
            .run(conn, joins, where, result, d.data, limit)
        return result

    def workflow_of(self, obj: ObjectDef, spec: Mapping[str, Any]) -> Any:
        workflows = self.ws.workflows.of(obj.name)
        name = spec.get("workflow")
        found = [wf for wf in workflows if name in (None, wf.name)]
        if not found:
            raise report_problem("/pipeline/workflow",
                                 f"{obj.name} has no stage workflow" +
                                 (f" named '{str(name)[:60]}'" if name else ""), "unknown_workflow")
        if len(found) > 1:
            raise report_problem("/pipeline/workflow", f"{obj.name} has several stage workflows: "
                                 f"name one ({', '.join(wf.name for wf in found)})")
        return found[0]

    def period_conditions(self, rc: ReportCompiler, d: Definition,
                          period: tuple[str, str] | None) -> list[Cond]:
        if not period or not period[1] or period[1] == "all":
            return []
        field, name = period
        if name not in PERIODS:
            try:
                period_range(name)
            except ValueError:
                raise report_problem("period", f"unknown period '{str(name)[:30]}'") from None
        obj = rc.meta.objects.get(str(d.data.get("object") or ""))
        if obj is None:
            return []
        try:
            f, _col, _o = Joins(rc.compiler, obj).resolve(field, "period")
        except ValidationError:
            return []  # the tile's object lacks the dashboard's date field: not filtered
        if f.value_type not in {"date", "datetime"}:
            return []
        return [Cond(field, "in_period", name)]

    def readable(self, obj: ObjectDef, table: Table, actor: Actor = SYSTEM
                 ) -> ColumnElement[bool]:
        """The records a report may read: the record service's read rule for the object."""
        return self.ws.records.readable(obj, table, actor)

    def check_fields(self, rc: ReportCompiler, d: Definition, actor: Actor) -> None:
        """A report run by a user names no field hidden from their role nor a sensitive
        one (an aggregate or a group would tell its values)."""
        from ..auth.access import unrestricted

        if unrestricted(actor):
            return
        obj = rc.meta.objects.get(str(d.data.get("object") or ""))
        if obj is None:
            return
        closed = self.ws.access.hidden_fields(actor, obj) | obj.sensitive_names
        if not closed:
            return
        text = json.dumps({k: v for k, v in d.data.items() if k not in {"label", "description"}})
        for name in sorted(closed):
            if re.search(rf'"{re.escape(name)}(\.[a-z0-9_.]+)?"|[(,\s]{re.escape(name)}[),\s]',
                         text):
                raise report_problem("/columns", f"the report uses '{name}', a field your role "
                                     "may not see", "forbidden")

    def drill(self, report: str | Definition | Mapping[str, Any], keys: Sequence[Any],
              actor: Actor = SYSTEM, *, period: tuple[str, str] | None = None,
              limit: int = DRILL_LIMIT) -> tuple[ReportResult, ReportResult]:
        """The records behind a group row (``keys``: its grouping values, the first one or
        both): (the report, a tabular result of those records with the report's columns or
        the object's list columns)."""
        d = self.definition(report)
        rc = self.compiler(actor)
        conds = self.period_conditions(rc, d, period)
        with self.ws.read_engine.connect() as conn:
            summary = self._run(conn, rc, d, conds, None, actor)
            if summary.layout == "tabular":
                raise report_problem("keys", "a tabular report has no groups to drill into")
            obj = summary.object
            columns = list(d.data.get("columns") or _list_columns(obj))
            data = {"object": obj.name, "columns": columns, "filters": d.data.get("filters") or [],
                    "sort": d.data.get("drill_sort") or ["-created_at"]}
            pipeline = d.data.get("pipeline") or {}
            groups = summary.groups
            if pipeline.get("measure") in {"funnel", "time_in_stage"}:
                # a stage row: the records now in that stage
                groups = groups[:1]
            drill = drill_conditions(ReportResult(d.name, summary.label, "summary", obj, groups, []),
                                     keys)
            records = rc.run(conn, Definition("report", d.name, data),
                             lambda o, t: self.readable(o, t, actor), [*conds, *drill], limit)
        return summary, records

    # -- saving --------------------------------------------------------------------------------

    def check(self, d: Definition, meta: MetadataSet, source: str = "", pointer: str = ""
              ) -> list[MetaProblem]:
        """Problems of a report against ``meta``, found by compiling every part of it the
        way a run would (fields, operators, value types, buckets, aggregates, sort), without
        reading a row."""
        rc = self.compiler(SYSTEM, meta)
        where = source or f"report/{d.name}"
        if d.name in RESERVED_NAMES:
            return [MetaProblem(where, pointer + "/name", f"'{d.name}' is a word the report "
                                f"screens use ({', '.join(sorted(RESERVED_NAMES))}); "
                                "choose another name")]
        try:
            result = self._dry_run(rc, d, meta)
        except ValidationError as exc:
            return [MetaProblem(where, pointer + _pointer(p.field), p.message)
                    for p in exc.problems]
        return [MetaProblem(where, pointer + p, m) for p, m in _chart_problems(d, result)]

    def _dry_run(self, rc: ReportCompiler, d: Definition, meta: MetadataSet) -> ReportResult:
        conn = _DryRun(rc.dialect)
        spec = d.data.get("pipeline")
        if spec is None:
            return rc.run(conn, d, lambda obj, table: true(), (), None)
        obj = rc.object_of(d.data)
        joins = Joins(rc.compiler, obj)
        where = rc.where(joins, d.data.get("filters") or ())
        workflows = [w for w in meta.workflows.values() if w.data.get("object") == obj.name]
        name = spec.get("workflow")
        chosen = [w for w in workflows if name in (None, w.name)]
        if len(chosen) != 1:
            raise report_problem("/pipeline/workflow", f"{obj.name} has no stage workflow"
                                 + (f" named '{name}'" if name else "") if not chosen else
                                 f"{obj.name} has several stage workflows: name one")
        from ..workflows import StageWorkflow

        wf = StageWorkflow(chosen[0], obj, self.ws.library)
        result = ReportResult(d.name, d.name, "summary", obj, [], [])
        Pipeline(rc, wf, spec, now_utc(), self.ws.table_of("rapport_stage_history")) \
            .run(conn, joins, where, result, d.data, None)
        return result

    def check_dashboard(self, d: Definition, meta: MetadataSet, source: str = "",
                        pointer: str = "") -> list[MetaProblem]:
        problems = []
        where = source or f"dashboard/{d.name}"
        for i, tile in enumerate(d.data.get("tiles", ())):
            report = meta.reports.get(tile.get("report", ""))
            if report is None or not tile.get("aggregate"):
                continue
            keys = self.aggregate_keys(report)
            if tile["aggregate"] not in keys:
                problems.append(MetaProblem(where, f"{pointer}/tiles/{i}/aggregate",
                                            f"report '{report.name}' has no aggregate "
                                            f"'{tile['aggregate']}' (it has {', '.join(keys)})"))
        return problems

    def aggregate_keys(self, report: Definition) -> list[str]:
        pipeline = report.data.get("pipeline")
        if pipeline:
            return {"funnel": ["reached", "in_stage", "conversion", "from_first"],
                    "time_in_stage": ["visits", "avg_days"],
                    "win_rate": ["won", "lost", "open", "win_rate", "won_amount"],
                    "forecast": ["pipeline_amount", "weighted_amount", "won_amount", "count_open"]
                    }.get(pipeline.get("measure"), [])
        return [aggregate_key(a) for a in report.data.get("aggregates") or [{"fn": "count"}]]

    def broken(self, d: Definition) -> list[str]:
        """What no longer resolves in a saved report (a removed field), as messages."""
        return [f"{p.pointer}: {p.message}" for p in self.check(d, self.ws.meta)]

    # -- renames -------------------------------------------------------------------------------

    def follow_renames(self, documents: Mapping[tuple[str, str], Mapping[str, Any]],
                       old: MetadataSet, new: MetadataSet, skip: Iterable[tuple[str, str]] = ()
                       ) -> tuple[dict[tuple[str, str], dict[str, Any]], list[str]]:
        """Stored reports and dashboards with the field paths they use renamed as their
        fields were (matched by field identity). Returns (the changed documents, notes)."""
        skipped = set(skip)
        changed: dict[tuple[str, str], dict[str, Any]] = {}
        notes: list[str] = []
        renamed_keys: dict[str, dict[str, str]] = {}
        for (kind, name), data in documents.items():
            if kind != "report" or (kind, name) in skipped:
                continue
            mapper = _PathMapper(old, new, str(data.get("object") or ""))
            new_data, keys = _rename_report(data, mapper)
            if new_data != data:
                changed[(kind, name)] = new_data
                notes.append(f"report {name}: follows renamed fields "
                             f"({', '.join(sorted(mapper.changes))})")
            if keys:
                renamed_keys[name] = keys
        for (kind, name), data in documents.items():
            if kind != "dashboard" or (kind, name) in skipped:
                continue
            new_data = copy.deepcopy(dict(data))
            for tile in new_data.get("tiles", ()):
                keys = renamed_keys.get(tile.get("report", ""), {})
                if tile.get("aggregate") in keys:
                    tile["aggregate"] = keys[tile["aggregate"]]
            date_filter = new_data.get("date_filter")
            if date_filter:
                for tile in new_data.get("tiles", ()):
                    report = documents.get(("report", tile.get("report", "")))
                    if report is None:
                        continue
                    mapper = _PathMapper(old, new, str(report.get("object") or ""))
                    mapped = mapper.map(date_filter["field"])
                    if mapped != date_filter["field"]:
                        date_filter["field"] = mapped
                        break
            if new_data != data:
                changed[(kind, name)] = new_data
                notes.append(f"dashboard {name}: follows renamed fields")
        return changed, notes


class _PathMapper:
    """Field paths of one object renamed from one metadata revision to the next."""

    def __init__(self, old: MetadataSet, new: MetadataSet, object_name: str):
        self.old, self.new, self.object_name = old, new, object_name
        self.changes: set[str] = set()

    def map(self, path: Any) -> Any:
        if not isinstance(path, str) or not path:
            return path
        old_obj = self.old.objects.get(self.object_name)
        new_obj = self.new.objects.get(self.object_name)
        out = []
        for part in path.split("."):
            if old_obj is None or new_obj is None:
                return path
            if part in SYSTEM_FIELDS:
                out.append(part)
                old_obj = self.old.objects.get("user") if part in {"owner", "created_by"} else None
                new_obj = self.new.objects.get("user") if part in {"owner", "created_by"} else None
                continue
            if not old_obj.has_field(part):
                return path
            f = old_obj.field(part)
            now = next((g for g in new_obj.fields if f.id and g.id == f.id), None)
            if now is None:
                return path  # removed: left as it was, the report says what is missing
            out.append(now.name)
            old_obj = self.old.objects.get(f.target or "") if f.is_relation else None
            new_obj = self.new.objects.get(now.target or "") if now.is_relation else None
        mapped = ".".join(out)
        if mapped != path:
            self.changes.add(f"{path} → {mapped}")
        return mapped


def _rename_report(data: Mapping[str, Any], mapper: _PathMapper
                   ) -> tuple[dict[str, Any], dict[str, str]]:
    """(the report with its paths mapped, old aggregate key -> new aggregate key)."""
    out = copy.deepcopy(dict(data))
    if "columns" in out:
        out["columns"] = [mapper.map(p) for p in out["columns"]]
    for key in ("filters", "group_by", "aggregates"):
        for item in out.get(key) or ():
            if item.get("field"):
                item["field"] = mapper.map(item["field"])
    keys = {aggregate_key(a): aggregate_key(b) for a, b in
            zip(data.get("aggregates") or (), out.get("aggregates") or (), strict=True)
            if aggregate_key(a) != aggregate_key(b)}

    def sort_key(item: Any) -> Any:
        text = str(item)
        sign = "-" if text.startswith("-") else ""
        bare = text.lstrip("-+")
        return sign + (keys.get(bare) or mapper.map(bare))

    if isinstance(out.get("sort"), list):
        out["sort"] = [sort_key(s) for s in out["sort"]]
    elif isinstance(out.get("sort"), str):
        out["sort"] = ",".join(sort_key(s) for s in out["sort"].split(","))
    chart = out.get("chart")
    if chart:
        for key in ("x", "series"):
            if chart.get(key):
                chart[key] = mapper.map(chart[key])
        if chart.get("y") in keys:
            chart["y"] = keys[chart["y"]]
    pipeline = out.get("pipeline")
    if pipeline:
        for key in ("amount", "date"):
            if pipeline.get(key):
                pipeline[key] = mapper.map(pipeline[key])
    return out, keys


def _chart_problems(d: Definition, result: ReportResult) -> list[tuple[str, str]]:
    """A chart's x and series must be groupings of the report, its y one of its figures."""
    chart = d.data.get("chart") or {}
    groups = [g.key for g in result.groups]
    figures = [c.key for c in result.columns if c.role == "aggregate"]
    problems = []
    for key in ("x", "series"):
        if chart.get(key) and chart[key] not in groups:
            problems.append((f"/chart/{key}", f"'{chart[key]}' is not a grouping of the report"
                             + (f" ({', '.join(groups)})" if groups else "")))
    if chart.get("y") and chart["y"] not in figures:
        problems.append(("/chart/y", f"'{chart['y']}' is not a figure of the report"
                         + (f" ({', '.join(figures)})" if figures else "")))
    return problems


def _list_columns(obj: ObjectDef) -> list[str]:
    columns = (obj.views.get("list") or {}).get("columns")
    if columns:
        return [c if isinstance(c, str) else c.get("field") for c in columns][:8]
    names = [obj.title, *[f.name for f in obj.fields if f.name != obj.title and f.value_type not in {"rich_text", "textarea", "json"}][:5]]
    return [n for n in names if n != "id"] or ["id"]


def _pointer(field: str | None) -> str:
    if not field:
        return ""
    return field if field.startswith("/") else f"/{field}"


class _DryRun:
    """A connection that compiles what it is given and returns no rows: a report is checked
    the way it runs, without touching the database."""

    def __init__(self, dialect: str):
        self.dialect = postgresql.dialect() if dialect == "postgresql" else sqlite.dialect()

    def execute(self, stmt: Any, *args: Any) -> _NoRows:
        stmt.compile(dialect=self.dialect)
        return _NoRows()


class _NoRows:
    def all(self) -> list[Any]:
        return []

    def first(self) -> None:
        return None

    def __iter__(self) -> Any:
        return iter(())

