"""The report builder (admins): a plain form that becomes a report definition — object,
layout, columns, filters, groupings, aggregates, sort, limit, chart — with a live preview
(htmx re-renders the form and runs the definition on every change) and save as metadata.

The form's state travels as repeated fields, one of each per row (``col``; ``f_field``,
``f_op``, ``f_value``, ``f_value2``; ``g_field``, ``g_bucket``; ``a_fn``, ``a_field``), so
it works without scripts: the buttons that add or remove a row post to the builder, which
answers with the form again."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ...errors import MetadataError, MetaProblem, PermissionDenied, RapportError, ValidationError
from ...meta.model import Definition, FieldDef, ObjectDef, label_text
from ...records.actor import Actor
from ...reports import aggregate_key
from ...reports.charts import CHART_TYPES
from ...reports.dates import BUCKETS
from ...reports.engine import FUNCTIONS, MEASURABLE, UNGROUPABLE
from ..i18n import translate
from ..screens import is_partial
from .lists import filter_value_widget
from .querystate import NO_VALUE_OPS
from .reports import PIPELINE_KINDS, ReportScreens, kind_of
from .widgets import operators_of

if TYPE_CHECKING:
    from ..screens import Screens

LAYOUTS = ("tabular", "summary", "matrix")
MAX_ROWS_OF = {"col": 30, "f": 20, "g": 2, "a": 10}
#: Rows a preview shows.
PREVIEW_ROWS = 50
#: The preview's chart, for its narrower column (wide screens, narrow screens).
PREVIEW_CHART = ((600, 320), (400, 300))
DATE_TYPES = frozenset({"date", "datetime"})
#: System fields offered besides the object's own.
SYSTEM_CHOICES = ("owner", "created_by", "created_at", "updated_at")
MANAGED = ("layout", "columns", "filters", "group_by", "aggregates", "sort", "limit", "chart",
           "pipeline", "label", "description")


@dataclass
class FilterSpec:
    field: str = ""
    op: str = ""
    value: str = ""
    value2: str = ""


@dataclass
class GroupSpec:
    field: str = ""
    bucket: str = ""


@dataclass
class AggSpec:
    fn: str = "count"
    field: str = ""


@dataclass
class Choice:
    """A field path the builder offers."""

    path: str
    label: str
    field: FieldDef
    group: str              # the optgroup: the object itself, or the lookup it is reached through

    @property
    def value_type(self) -> str:
        return self.field.value_type


@dataclass
class BuilderState:
    object: str = ""
    layout: str = "summary"
    name: str = ""
    label: str = ""
    description: str = ""
    columns: list[str] = field(default_factory=list)
    filters: list[FilterSpec] = field(default_factory=list)
    groups: list[GroupSpec] = field(default_factory=list)
    aggregates: list[AggSpec] = field(default_factory=list)
    sort: str = ""
    sort_desc: bool = False
    limit: str = ""
    chart_type: str = ""
    chart_x: str = ""
    chart_y: str = ""
    chart_series: str = ""
    original: str = ""      # the saved report being edited, "" for a new one

    @property
    def pipeline(self) -> bool:
        return self.layout in PIPELINE_KINDS

    @property
    def uses_columns(self) -> bool:
        return self.layout == "tabular"

    @property
    def uses_groups(self) -> bool:
        return self.layout in {"summary", "matrix", "win_rate", "forecast"}

    @property
    def uses_aggregates(self) -> bool:
        return self.layout in LAYOUTS


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return str(value)


def state_of(data: Mapping[str, Any], locale: str, original: str = "") -> BuilderState:
    """The form state of a saved definition."""
    s = BuilderState(object=str(data.get("object") or ""), layout=kind_of(data),
                     name=str(data.get("name") or ""),
                     label=label_text(data.get("label"), locale, ""),
                     description=str(data.get("description") or ""), original=original)
    s.columns = [str(c) for c in data.get("columns") or ()]
    for f in data.get("filters") or ():
        value = f.get("value")
        if f.get("op") == "between" and isinstance(value, list | tuple) and len(value) == 2:
            s.filters.append(FilterSpec(str(f.get("field") or ""), "between", _text(value[0]),
                                        _text(value[1])))
        else:
            s.filters.append(FilterSpec(str(f.get("field") or ""), str(f.get("op") or "eq"),
                                        _text(value)))
    s.groups = [GroupSpec(str(g.get("field") or ""), str(g.get("bucket") or ""))
                for g in data.get("group_by") or ()]
    s.aggregates = [AggSpec(str(a.get("fn") or "count"), str(a.get("field") or ""))
                    for a in data.get("aggregates") or ()]
    sort = data.get("sort")
    first = (sort[0] if sort else "") if isinstance(sort, list) else str(sort or "").split(",")[0]
    first = str(first).strip()
    s.sort, s.sort_desc = first.lstrip("-+"), first.startswith("-")
    s.limit = str(data.get("limit") or "")
    chart = data.get("chart") or {}
    s.chart_type = str(chart.get("type") or "")
    s.chart_x, s.chart_y = str(chart.get("x") or ""), str(chart.get("y") or "")
    s.chart_series = str(chart.get("series") or "")
    return s


def _at(items: list[str], i: int) -> str:
    return items[i] if i < len(items) else ""


def state_from_form(form: Any) -> tuple[BuilderState, str, str]:
    """(the form's state, the action of the button pressed, the object before the change)."""
    def one(name: str, size: int = 200) -> str:
        return str(form.get(name) or "").strip()[:size]

    def many(name: str, size: int = 300) -> list[str]:
        return [str(v).strip()[:size] for v in form.getlist(name)]

    s = BuilderState(object=one("object", 63), layout=one("layout", 30) or "summary",
                     name=one("name", 63), label=one("label"), description=one("description", 2000),
                     sort=one("sort", 130), sort_desc=one("sort_desc") in {"1", "on", "true"},
                     limit=one("limit", 10), chart_type=one("chart_type", 20),
                     chart_x=one("chart_x", 130), chart_y=one("chart_y", 130),
                     chart_series=one("chart_series", 130), original=one("original", 63))
    s.columns = many("col")[:MAX_ROWS_OF["col"]]
    fields, ops, values, values2 = many("f_field"), many("f_op"), many("f_value", 2000), \
        many("f_value2", 2000)
    s.filters = [FilterSpec(name, _at(ops, i), _at(values, i), _at(values2, i))
                 for i, name in enumerate(fields[:MAX_ROWS_OF["f"]])]
    buckets = many("g_bucket")
    s.groups = [GroupSpec(name, _at(buckets, i)) for i, name in enumerate(many("g_field")[:2])]
    fns, afields = many("a_fn"), many("a_field")
    s.aggregates = [AggSpec(fn or "count", _at(afields, i))
                    for i, fn in enumerate(fns[:MAX_ROWS_OF["a"]])]
    return s, one("op", 40), one("prev_object", 63)


def _number(text: str, value_type: str) -> Any:
    try:
        d = Decimal(text)
    except (InvalidOperation, ValueError):
        return text
    if value_type == "integer" and d == d.to_integral_value():
        return int(d)
    return float(d)


class ReportBuilder:
    def __init__(self, screens: Screens):
        self.screens = screens
        self.ws = screens.ws
        self.reports = ReportScreens(screens)

    async def admin(self, request: Request) -> Actor:
        actor = await self.screens.actor(request)
        if not actor.is_admin:
            raise PermissionDenied(self.screens.t(request, "builder.admins_only"))
        return actor

    # -- what the object offers ----------------------------------------------------------------

    def objects(self, locale: str) -> list[ObjectDef]:
        """The business objects first, then the system ones (users, teams...)."""
        return sorted(self.ws.meta.objects.values(),
                      key=lambda o: (o.system, o.display_label(locale).lower()))

    def choices(self, obj: ObjectDef, locale: str) -> list[Choice]:
        """The object's fields, its system fields, and one hop through each lookup."""
        compiler = self.ws.compiler()
        own = obj.display_label(locale)
        out: list[Choice] = []
        links: list[FieldDef] = []
        for f in obj.fields:
            if f.value_type == "json":
                continue
            out.append(Choice(f.name, f.display_label(locale), f, own))
            if f.is_relation and f.target in self.ws.meta.objects:
                links.append(f)
        for name in SYSTEM_CHOICES:
            f = compiler.field_of(obj, name)
            if f is not None:
                out.append(Choice(name, self._label(obj, name, locale), f, own))
        for link in links:
            target = self.ws.meta.objects[link.target or ""]
            group = f"{link.display_label(locale)} ({target.display_label(locale)})"
            for f in target.fields:
                if f.value_type in {"json", "rich_text"} or f.is_relation:
                    continue
                out.append(Choice(f"{link.name}.{f.name}",
                                  f"{link.display_label(locale)} › {f.display_label(locale)}",
                                  f, group))
        return out

    def _label(self, obj: ObjectDef, path: str, locale: str) -> str:
        return self.ws.reports.compiler(Actor(None, locale=locale)).path_label(obj, path)

    def has_workflow(self, obj: ObjectDef) -> bool:
        return bool(self.ws.workflows.of(obj.name))

    def default_state(self, obj: ObjectDef, locale: str, keep: BuilderState | None = None
                      ) -> BuilderState:
        """A report that shows something at once: count per the first picklist, as bars."""
        s = BuilderState(object=obj.name, layout="summary")
        if keep is not None:
            s.name, s.label, s.description, s.original = keep.name, keep.label, \
                keep.description, keep.original
        choices = [c for c in self.choices(obj, locale) if "." not in c.path]
        first = next((c for c in choices if c.value_type == "picklist"), None) or \
            next((c for c in choices if c.field.is_relation), None)
        if first is None:
            s.layout = "tabular"
            s.columns = [obj.title] if obj.title != "id" else [choices[0].path] if choices else []
            return s
        s.groups = [GroupSpec(first.path)]
        s.aggregates = [AggSpec("count")]
        s.chart_type, s.chart_x, s.chart_y = "bar", first.path, "count"
        return s

    def normalise(self, s: BuilderState, obj: ObjectDef, choices: list[Choice], op: str) -> None:
        """Apply the button pressed; give each layout the rows it needs."""
        by_path = {c.path: c for c in choices}
        if s.layout not in (*LAYOUTS, *PIPELINE_KINDS) or \
                (s.layout in PIPELINE_KINDS and not self.has_workflow(obj)):
            s.layout = "summary"
        kind, _sep, index = op.partition(":")
        i = int(index) if index.isdigit() else -1
        rows = {"column": s.columns, "filter": s.filters, "group": s.groups,
                "aggregate": s.aggregates}
        if kind.startswith("remove_") and kind[7:] in rows and 0 <= i < len(rows[kind[7:]]):
            del rows[kind[7:]][i]
        elif kind == "add_column" and len(s.columns) < MAX_ROWS_OF["col"]:
            used = set(s.columns)
            s.columns.append(next((c.path for c in choices if c.path not in used), obj.title))
        elif kind == "add_filter" and len(s.filters) < MAX_ROWS_OF["f"]:
            s.filters.append(FilterSpec(choices[0].path if choices else ""))
        elif kind == "add_group" and len(s.groups) < 2:
            used = {g.field for g in s.groups}
            s.groups.append(GroupSpec(next((c.path for c in choices if c.path not in used
                                            and c.value_type not in UNGROUPABLE), "")))
        elif kind == "add_aggregate" and len(s.aggregates) < MAX_ROWS_OF["a"]:
            s.aggregates.append(AggSpec("count"))
        # each layout's rows
        if s.layout == "tabular" and not s.columns:
            s.columns = [obj.title if obj.title in by_path else (choices[0].path if choices else "id")]
        if s.layout in {"summary", "matrix"} and not s.groups:
            s.groups.append(GroupSpec(next((c.path for c in choices
                                            if c.value_type == "picklist"), "")))
        if s.layout == "matrix" and len(s.groups) < 2:
            used = {g.field for g in s.groups}
            s.groups.append(GroupSpec(next((c.path for c in choices if c.path not in used
                                            and c.value_type not in UNGROUPABLE), "")))
        if s.layout in {"summary", "matrix"} and not s.aggregates:
            s.aggregates.append(AggSpec("count"))
        for a in s.aggregates:  # a function that needs a field gets the first that fits
            if a.fn != "count" and not a.field:
                fits = next((c for c in choices if self.fits(a.fn, c)), None)
                a.field = fits.path if fits is not None else ""
        for g in s.groups:
            c = by_path.get(g.field)
            if c is not None and c.value_type in DATE_TYPES:
                g.bucket = g.bucket if g.bucket in BUCKETS else "month"
            else:
                g.bucket = ""
        for f in s.filters:
            c = by_path.get(f.field)
            ops = operators_of(self.ws, c.field) if c is not None else ()
            if ops and f.op not in ops:
                f.op = ops[0]
        # a chart names what the report still has, or falls back to the first of each
        grouped = [g.field for g in s.groups if g.field] if s.uses_groups else []
        if s.chart_x not in grouped and s.layout not in {"funnel", "time_in_stage"}:
            s.chart_x = ""
        if s.chart_series not in grouped or s.chart_series == s.chart_x:
            s.chart_series = ""
        if s.chart_y and s.chart_y not in self.aggregate_keys(s):
            s.chart_y = ""

    @staticmethod
    def fits(fn: str, c: Choice) -> bool:
        """Whether an aggregate function applies to a field."""
        if fn in {"sum", "avg"}:
            return c.value_type in MEASURABLE
        if fn in {"min", "max"}:
            return c.value_type not in UNGROUPABLE | {"boolean"}
        return c.value_type not in UNGROUPABLE

    def aggregate_keys(self, s: BuilderState) -> list[str]:
        if s.pipeline:
            data = {"pipeline": {"measure": s.layout}}
            return self.ws.reports.aggregate_keys(Definition("report", "preview", data))
        return [aggregate_key({"fn": a.fn, "field": a.field or None}) for a in s.aggregates]

    # -- state to definition -------------------------------------------------------------------

    def definition(self, s: BuilderState, obj: ObjectDef | None, choices: list[Choice],
                   original: Mapping[str, Any] | None, locale: str
                   ) -> tuple[dict[str, Any], dict[str, int]]:
        """(the report definition, definition pointer prefix -> form row, for errors)."""
        data: dict[str, Any] = {k: v for k, v in (original or {}).items() if k not in MANAGED
                                and k not in {"kind", "$schema"}}
        if original and original.get("object") != s.object:
            data.pop("drill_sort", None)
        data["name"] = s.name or s.original or "preview"
        data["object"] = s.object
        old_label = (original or {}).get("label")
        if isinstance(old_label, Mapping):
            label = dict(old_label)
            if s.label:
                label[locale] = s.label
            else:
                label.pop(locale, None)
            if label:
                data["label"] = label
        elif s.label:
            data["label"] = s.label
        if s.description:
            data["description"] = s.description
        rows: dict[str, int] = {}
        by_path = {c.path: c for c in choices}
        filters = []
        for i, f in enumerate(s.filters):
            if not f.field or not f.op or (f.op not in NO_VALUE_OPS and f.value == ""):
                continue
            rows[f"/filters/{len(filters)}"] = i
            c = by_path.get(f.field)
            vt = c.value_type if c is not None else "text"
            item: dict[str, Any] = {"field": f.field, "op": f.op}
            if f.op in NO_VALUE_OPS:
                pass
            elif f.op == "between":
                item["value"] = [self._value(f.value, vt), self._value(f.value2, vt)]
            elif f.op in {"in", "not_in"}:
                item["value"] = [self._value(v.strip(), vt) for v in f.value.split(",") if v.strip()]
            elif f.op == "in_period":
                item["value"] = f.value
            else:
                item["value"] = self._value(f.value, vt)
            filters.append(item)
        if filters:
            data["filters"] = filters
        groups = []
        if s.uses_groups:
            for i, g in enumerate(s.groups[:2]):
                if not g.field:
                    continue
                rows[f"/group_by/{len(groups)}"] = i
                groups.append({"field": g.field, **({"bucket": g.bucket} if g.bucket else {})})
            if groups:
                data["group_by"] = groups
        if s.pipeline:
            pipeline = dict((original or {}).get("pipeline") or {}) \
                if original and original.get("object") == s.object else {}
            pipeline["measure"] = s.layout
            data["pipeline"] = pipeline
        else:
            data["layout"] = s.layout
            if s.uses_columns:
                columns = []
                for i, c in enumerate(s.columns):
                    if c:
                        rows[f"/columns/{len(columns)}"] = i
                        columns.append(c)
                data["columns"] = columns or [obj.title if obj else "id"]
            aggregates = []
            for i, a in enumerate(s.aggregates):
                if a.fn == "count" and not a.field:
                    item = {"fn": "count"}
                else:
                    item = {"fn": a.fn, "field": a.field} if a.field else {"fn": a.fn}
                rows[f"/aggregates/{len(aggregates)}"] = i
                aggregates.append(item)
            if aggregates:
                data["aggregates"] = aggregates
            elif not s.uses_columns:
                data["aggregates"] = [{"fn": "count"}]
        if s.sort:
            data["sort"] = ("-" if s.sort_desc else "") + s.sort
        if s.limit:
            data["limit"] = int(s.limit) if s.limit.isdigit() else s.limit
        if s.chart_type:
            chart = {"type": s.chart_type}
            for key, value in (("x", s.chart_x), ("y", s.chart_y), ("series", s.chart_series)):
                if value and (key != "series" or s.chart_type not in {"pie", "donut", "funnel",
                                                                      "kpi"}):
                    chart[key] = value
            data["chart"] = chart
        return data, rows

    def _value(self, text: str, value_type: str) -> Any:
        if value_type in {"integer", "decimal", "currency", "percent"}:
            return _number(text, value_type)
        if value_type == "boolean":
            return {"true": True, "false": False}.get(text.lower(), text)
        return text

    # -- the preview ---------------------------------------------------------------------------

    def check(self, data: Mapping[str, Any]) -> tuple[Definition | None, list[MetaProblem]]:
        """The definition as a save would validate it, or its problems."""
        try:
            docs = self.ws.documents_from({**data, "kind": "report"}, f"report/{data['name']}")
            merged = self.ws.validate(docs)
        except MetadataError as exc:
            return None, exc.problems
        return merged.reports[docs[0].name], []

    def preview(self, d: Definition | None, actor: Actor, locale: str) -> dict[str, Any]:
        if d is None:
            return {}
        try:
            result = self.ws.reports.run(d, actor, limit=PREVIEW_ROWS
                                         if d.data.get("columns") and not d.data.get("pipeline")
                                         else None)
        except ValidationError as exc:
            return {"run_error": [p.message for p in exc.problems]}
        return self.reports.body(result, locale, None, PREVIEW_ROWS, PREVIEW_CHART)

    # -- the form's context ----------------------------------------------------------------------

    def context(self, request: Request, actor: Actor, s: BuilderState, op: str = "",
                prev_object: str | None = None, problems: list[MetaProblem] | None = None,
                run: bool = True) -> dict[str, Any]:
        locale = self.screens.locale(request, actor)
        acting = self.screens.acting(request, actor)
        objects = self.objects(locale)
        obj = self.ws.meta.objects.get(s.object)
        if obj is None:
            obj = next((o for o in objects if o.name == "opportunity"), objects[0] if objects else None)
            if obj is None:
                raise PermissionDenied(self.screens.t(request, "builder.no_objects"))
            s = self.default_state(obj, locale, s)
        elif prev_object is not None and prev_object != s.object:
            s = self.default_state(obj, locale, s)
        choices = self.choices(obj, locale)
        self.normalise(s, obj, choices, op)
        original = self.ws.meta.reports.get(s.original) if s.original else None
        data, rows = self.definition(s, obj, choices, original.data if original else None, locale)
        body: dict[str, Any] = {}
        if problems is None and run:
            d, problems = self.check(data)
            body = self.preview(d, acting, locale)
        problems = problems or []
        errors, general = self.place(problems, rows, s, locale)
        result = body.get("result")
        return {"s": s, "obj": obj, "objects": objects, "choices": choices,
                "by_path": {c.path: c for c in choices},
                "groupable": [c for c in choices if c.value_type not in UNGROUPABLE],
                "measurable": [c for c in choices if c.value_type in MEASURABLE],
                "comparable": [c for c in choices if c.value_type not in UNGROUPABLE | {"boolean"}],
                "layouts": [*LAYOUTS, *(PIPELINE_KINDS if self.has_workflow(obj) else ())],
                "functions": FUNCTIONS, "buckets": BUCKETS, "chart_types": CHART_TYPES,
                "y_choices": self.y_choices(s, data, result, locale),
                "sort_choices": self.sort_choices(s, choices, data, result, locale),
                "ops_of": lambda c: operators_of(self.ws, c.field) if c is not None else (),
                "value_widget": lambda c, op: filter_value_widget(c.field if c else None, op),
                "periods": self.periods(), "definition": data,
                "definition_json": json.dumps(data, ensure_ascii=False, indent=2, default=str),
                "errors": errors, "general_errors": general, "problems": problems,
                "save_url": f"/reports/{s.original}/edit" if s.original else "/reports/new",
                "editing": bool(s.original), **body}

    def periods(self) -> list[str]:
        from .reports import PERIODS

        return [p for p in PERIODS if p != "all"]

    def y_choices(self, s: BuilderState, data: Mapping[str, Any], result: Any,
                  locale: str) -> list[tuple[str, str]]:
        if result is not None and result.aggregates:
            return [(c.key, c.label) for c in result.aggregates]
        keys = self.ws.reports.aggregate_keys(Definition("report", "preview", data))
        return [(k, k.replace("_", " ")) for k in keys]

    def sort_choices(self, s: BuilderState, choices: list[Choice], data: Mapping[str, Any],
                     result: Any, locale: str) -> list[tuple[str, str]]:
        if s.layout == "tabular":
            return [(c.path, c.label) for c in choices if c.value_type not in UNGROUPABLE]
        if s.layout in {"funnel", "time_in_stage"}:
            return []
        by_path = {c.path: c for c in choices}
        out = [(g.field, by_path[g.field].label) for g in s.groups if g.field in by_path]
        return out + self.y_choices(s, data, result, locale)

    def place(self, problems: list[MetaProblem], rows: Mapping[str, int], s: BuilderState,
              locale: str) -> tuple[dict[str, list[str]], list[dict[str, str]]]:
        """Each problem on its form control (by id), and all of them with the part of the
        definition they point at."""
        by_control: dict[str, list[str]] = {}
        listed = []
        for p in problems:
            control, part = self.control_of(p.pointer, rows, locale)
            if control:
                by_control.setdefault(control, []).append(p.message)
            listed.append({"part": part, "message": p.message, "pointer": p.pointer or "/",
                           "control": control or ""})
        return by_control, listed

    def control_of(self, pointer: str, rows: Mapping[str, int], locale: str
                   ) -> tuple[str | None, str]:
        """(the id of the form control a JSON pointer names, the part in words)."""
        parts = [p for p in (pointer or "").split("/") if p]

        def t(key: str, **kw: Any) -> str:
            return translate(locale, key, **kw)

        if not parts:
            return None, t("builder.part.report")
        head = parts[0]
        simple = {"object": ("b-object", "builder.object"), "layout": ("b-layout", "builder.layout"),
                  "name": ("b-name", "builder.name"), "label": ("b-label", "builder.label"),
                  "sort": ("b-sort", "builder.sort"), "limit": ("b-limit", "builder.limit"),
                  "pipeline": ("b-layout", "builder.layout"),
                  "description": ("b-description", "builder.description")}
        if head in simple:
            control, key = simple[head]
            return control, t(key)
        if head == "chart":
            sub = parts[1] if len(parts) > 1 else "type"
            control = {"type": "chart-type", "x": "chart-x", "y": "chart-y",
                       "series": "chart-series"}.get(sub, "chart-type")
            return control, t("builder.chart") + " › " + t(f"builder.chart_{sub}")
        plural = {"filters": ("f", "builder.part.filter"), "group_by": ("g", "builder.part.group"),
                  "aggregates": ("a", "builder.part.aggregate"),
                  "columns": ("col", "builder.part.column")}
        if head in plural:
            prefix, key = plural[head]
            if len(parts) < 2 or not parts[1].isdigit():
                return f"{prefix}-add", t(key + "s")
            row = rows.get(f"/{head}/{parts[1]}", int(parts[1]))
            sub = parts[2] if len(parts) > 2 else ""
            leaf = {"f": {"field": "field", "op": "op", "value": "value"},
                    "g": {"field": "field", "bucket": "bucket"},
                    "a": {"fn": "fn", "field": "field"}, "col": {}}[prefix].get(sub)
            if prefix == "col":
                control = f"col-{row}"
            else:
                control = f"{prefix}-{leaf or ('value' if prefix == 'f' else 'field')}-{row}"
            words = t(key, n=row + 1)
            if sub:
                words += f" › {sub}"
            return control, words
        return None, "/" + "/".join(parts)

    # -- routes --------------------------------------------------------------------------------

    async def new(self, request: Request) -> Response:
        actor = await self.admin(request)
        s = BuilderState(object=str(request.query_params.get("object") or ""))
        context = await run_in_threadpool(self.context, request, actor, s, "", "")
        return self.screens.render(request, "report_builder.html", actor=actor, **context)

    async def edit(self, request: Request) -> Response:
        actor = await self.admin(request)
        d = self.reports.definition(request, request.path_params["name"])
        locale = self.screens.locale(request, actor)
        s = state_of(d.data, locale, original=d.name)
        context = await run_in_threadpool(self.context, request, actor, s)
        return self.screens.render(request, "report_builder.html", actor=actor, **context)

    async def update(self, request: Request) -> Response:
        """The form again after a change (htmx: the form's body; without: the page)."""
        actor = await self.admin(request)
        s, op, prev = state_from_form(await request.form())
        if request.headers.get("hx-trigger") == "builder":
            # a change of the form itself: htmx still sends the last button pressed
            # (add a filter...) with it, which must not act twice
            op = ""
        context = await run_in_threadpool(self.context, request, actor, s, op, prev)
        template = "partials/report_builder_body.html" if is_partial(request) \
            else "report_builder.html"
        return self.screens.render(request, template, actor=actor, **context)

    async def save(self, request: Request) -> Response:
        actor = await self.admin(request)
        s, _op, prev = state_from_form(await request.form())
        if "name" in request.path_params:
            s.original = request.path_params["name"]
            self.reports.definition(request, s.original)
            s.name = s.original
        locale = self.screens.locale(request, actor)

        def attempt() -> tuple[str | None, dict[str, Any] | None]:
            problems: list[MetaProblem] = []
            if not s.name:
                problems.append(MetaProblem("report", "/name", translate(locale, "builder.name_needed")))
            elif not s.original and s.name in self.ws.meta.reports:
                problems.append(MetaProblem("report", "/name",
                                            translate(locale, "builder.name_taken", name=s.name)))
            context = self.context(request, actor, s, "", prev, problems or None,
                                   run=not problems)
            if problems or context["problems"]:
                context["save_failed"] = True
                return None, context
            data = context["definition"]
            try:
                docs = self.ws.documents_from({**data, "kind": "report"}, f"report/{s.name}")
                self.ws.apply(docs, author=actor.email)
            except MetadataError as exc:
                return None, {**self.context(request, actor, s, "", None, exc.problems),
                              "save_failed": True}
            except RapportError as exc:
                problem = MetaProblem("report", "", str(exc))
                return None, {**self.context(request, actor, s, "", None, [problem]),
                              "save_failed": True}
            return s.name, None

        saved, context = await run_in_threadpool(attempt)
        if saved is None:
            assert context is not None
            template = "partials/report_builder_body.html" if is_partial(request) \
                else "report_builder.html"
            return self.screens.render(request, template, status=422, actor=actor, **context)
        self.screens.flash(request, self.screens.t(request, "builder.saved"))
        target = f"/reports/{saved}"
        if is_partial(request):
            return Response(status_code=200, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/reports/new", self.new, methods=["GET"]),
            Route("/reports/new", self.save, methods=["POST"]),
            Route("/reports/builder", self.update, methods=["POST"]),
            Route("/reports/{name}/edit", self.edit, methods=["GET"]),
            Route("/reports/{name}/edit", self.save, methods=["POST"]),
        ]
