"""Validate a set of definition documents: schemas first, then every cross-reference."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import FormulaError, MetadataError, MetaProblem
from ..formulas import FunctionLibrary, compile_formula
from ..formulas.sql import rollup_condition
from .loader import Document, build
from .model import (
    CHOICE_TYPES,
    DECIMAL_TYPES,
    NUMBER_TYPES,
    SYSTEM_FIELDS,
    Definition,
    FieldDef,
    MetadataSet,
    ObjectDef,
)
from .reserved import reserved_reason
from .schemas import schema_problems

AUTONUMBER_COUNTER = re.compile(r"\{(0+)\}")
FILTER_OPS = frozenset({"eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains",
                        "startswith", "is_blank", "is_not_blank", "between", "in_period"})


class _Checker:
    def __init__(self, merged: MetadataSet, where: Mapping[tuple[str, str], Document],
                 library: FunctionLibrary, field_types: Iterable[str]):
        self.meta = merged
        self.where = where
        self.library = library
        self.field_types = set(field_types)
        self.problems: list[MetaProblem] = []

    def problem(self, kind: str, name: str, pointer: str, message: str) -> None:
        doc = self.where.get((kind, name))
        if doc is None:  # only the incoming documents are reported on
            return
        self.problems.append(MetaProblem(doc.source, doc.pointer + pointer, message))

    # -- paths and formulas --------------------------------------------------------

    def resolve(self, obj: ObjectDef, path: str) -> FieldDef | str | None:
        """The field a (dotted) path names, "system" for a system column, None if unknown."""
        parts = path.split(".")
        current = obj
        for i, part in enumerate(parts):
            if part in SYSTEM_FIELDS:
                if part in {"owner", "created_by"} and i < len(parts) - 1 and "user" in self.meta.objects:
                    current = self.meta.objects["user"]
                    continue
                return "system" if i == len(parts) - 1 else None
            if not current.has_field(part):
                return None
            f = current.field(part)
            if i == len(parts) - 1:
                return f
            if not f.is_relation or f.target not in self.meta.objects:
                return None
            current = self.meta.objects[f.target]
        return None

    def formula(self, kind: str, name: str, pointer: str, expression: str,
                obj: ObjectDef | None, extra_names: Iterable[str] = ()) -> Any:
        try:
            compiled = compile_formula(expression, self.library)
        except FormulaError as exc:
            self.problem(kind, name, pointer, f"formula error: {exc}")
            return None
        if obj is not None:
            allowed = set(extra_names)
            for ref in sorted(compiled.names):
                if ref in allowed:
                    continue
                if self.resolve(obj, ref) is None:
                    self.problem(kind, name, pointer,
                                 f"formula names unknown field '{ref}' of {obj.name}")
        return compiled

    # -- objects -------------------------------------------------------------------

    def check_object(self, obj: ObjectDef) -> None:
        k, n = "object", obj.name
        if reason := reserved_reason(obj.name):
            self.problem(k, n, "/name", reason)
        seen: dict[str, int] = {}
        ids: dict[str, int] = {}
        for i, f in enumerate(obj.fields):
            p = f"/fields/{i}"
            if f.name in seen:
                self.problem(k, n, p + "/name",
                             f"duplicate field name '{f.name}' (also at /fields/{seen[f.name]})")
            seen.setdefault(f.name, i)
            if f.id:
                if f.id in ids:
                    self.problem(k, n, p + "/id", f"duplicate field id '{f.id}'")
                ids.setdefault(f.id, i)
            if reason := reserved_reason(f.name, is_field=True):
                self.problem(k, n, p + "/name", reason)
            self.check_field(obj, f, p)
        if obj.title_field and self.resolve(obj, obj.title_field) is None:
            self.problem(k, n, "/title_field", f"unknown field '{obj.title_field}'")
        for i, name in enumerate(obj.search_fields):
            if self.resolve(obj, name) is None:
                self.problem(k, n, f"/search_fields/{i}", f"unknown field '{name}'")
        for i, index in enumerate(obj.indexes):
            for j, name in enumerate(index.fields):
                if name not in SYSTEM_FIELDS and not obj.has_field(name):
                    self.problem(k, n, f"/indexes/{i}" + ("/fields" if index.name or index.unique else "")
                                 + f"/{j}", f"unknown field '{name}'")
        for i, rule in enumerate(obj.validation_rules):
            self.formula(k, n, f"/validation_rules/{i}/when", rule.when, obj)
            if rule.field and not obj.has_field(rule.field):
                self.problem(k, n, f"/validation_rules/{i}/field", f"unknown field '{rule.field}'")
        self.check_formula_cycles(obj)
        self.check_views(obj)

    def check_field(self, obj: ObjectDef, f: FieldDef, p: str) -> None:
        k, n = "object", obj.name
        if f.type not in self.field_types:
            self.problem(k, n, p + "/type", f"unknown field type '{f.type}'")
            return
        if f.renamed_from and obj.has_field(f.renamed_from):
            self.problem(k, n, p + "/renamed_from",
                         f"cannot rename '{f.renamed_from}' to '{f.name}': a field named "
                         f"'{f.renamed_from}' still exists")
        if f.is_relation and f.target not in self.meta.objects:
            self.problem(k, n, p + "/target", f"lookup to unknown object '{f.target}'")
        if f.type in CHOICE_TYPES:
            values = [o.value for o in f.options]
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                self.problem(k, n, p + "/options", f"duplicate option(s): {', '.join(dupes)}")
            defaults = f.default if isinstance(f.default, list) else [f.default]
            for d in defaults:
                if d is not None and d not in values:
                    self.problem(k, n, p + "/default", f"default '{d}' is not one of the options")
        if f.pattern:
            try:
                re.compile(f.pattern)
            except re.error as exc:
                self.problem(k, n, p + "/pattern", f"invalid regular expression: {exc}")
        if f.min is not None and f.max is not None and f.min > f.max:
            self.problem(k, n, p + "/min", f"min {f.min} is greater than max {f.max}")
        if f.type == "autonumber" and not AUTONUMBER_COUNTER.search(f.format or ""):
            self.problem(k, n, p + "/format", "an autonumber format needs a counter such as {0000}")
        if f.type == "formula" and f.expression:
            self.formula(k, n, p + "/expression", f.expression, obj)
        if f.default_formula:
            self.formula(k, n, p + "/default_formula", f.default_formula, obj)
        if f.type == "rollup":
            self.check_rollup(obj, f, p)

    def check_rollup(self, obj: ObjectDef, f: FieldDef, p: str) -> None:
        k, n = "object", obj.name
        child = self.meta.objects.get(f.source or "")
        if child is None:
            self.problem(k, n, p + "/source", f"rollup from unknown object '{f.source}'")
            return
        if not child.has_field(f.relation or "") or not child.field(f.relation or "").is_relation \
                or child.field(f.relation or "").target != obj.name:
            self.problem(k, n, p + "/relation",
                         f"'{f.source}' is not a child of '{obj.name}': its field '{f.relation}' "
                         f"must be a lookup or master-detail to '{obj.name}'")
        if f.aggregate != "count":
            if not f.field or not child.has_field(f.field):
                self.problem(k, n, p + "/field", f"unknown field '{f.field}' of {f.source}")
            elif f.aggregate in {"sum", "avg"} and child.field(f.field).value_type not in NUMBER_TYPES:
                self.problem(k, n, p + "/field",
                             f"cannot {f.aggregate} '{f.field}': it is not a number field")
        for i, cond in enumerate(f.filter):
            self.check_condition(k, n, f"{p}/filter/{i}", child, cond)
        if f.filter_formula is not None and rollup_condition(f.filter_formula, child) is None:
            self.problem(k, n, p + "/filter",
                         f"a rollup filter runs in the database, so it must be a simple "
                         f"condition on {f.source}'s own fields: comparisons with values "
                         f"(== != < <= > >=, text only == and !=), in / not in a list, "
                         f"is_blank(field), joined by and / or")

    def check_condition(self, kind: str, name: str, p: str, obj: ObjectDef,
                        cond: Mapping[str, Any]) -> None:
        path = cond.get("field", "")
        if self.resolve(obj, path) is None:
            self.problem(kind, name, p + "/field", f"unknown field '{path}' of {obj.name}")
        if cond.get("op", "eq") not in FILTER_OPS:
            self.problem(kind, name, p + "/op", f"unknown operator '{cond.get('op')}'")

    def check_formula_cycles(self, obj: ObjectDef) -> None:
        graph: dict[str, set[str]] = {}
        for f in obj.fields:
            if f.type == "formula" and f.expression:
                try:
                    names = compile_formula(f.expression, self.library).names
                except FormulaError:
                    continue
                graph[f.name] = {x for x in names if x in {g.name for g in obj.fields}}
        state: dict[str, int] = {}

        def visit(node: str, trail: list[str]) -> None:
            state[node] = 1
            for nxt in sorted(graph.get(node, ())):
                if state.get(nxt) == 1:
                    cycle = [*trail[trail.index(nxt):], nxt] if nxt in trail else [node, nxt]
                    i = obj.field_names.index(node)
                    self.problem("object", obj.name, f"/fields/{i}/expression",
                                 "formula cycle: " + " -> ".join(cycle))
                elif state.get(nxt) is None and nxt in graph:
                    visit(nxt, [*trail, nxt])
            state[node] = 2

        for node in graph:
            if state.get(node) is None:
                visit(node, [node])

    def check_views(self, obj: ObjectDef) -> None:
        k, n = "object", obj.name
        views = obj.views or {}
        lst = views.get("list") or {}
        for i, col in enumerate(lst.get("columns", ())):
            if self.resolve(obj, col) is None:
                self.problem(k, n, f"/views/list/columns/{i}", f"unknown field '{col}'")
        for key in (lst.get("sort") or "").split(","):
            key = key.strip().lstrip("-")
            if key and self.resolve(obj, key) is None:
                self.problem(k, n, "/views/list/sort", f"unknown field '{key}'")
        kanban = views.get("kanban")
        if kanban:
            group = kanban.get("group_by")
            if not obj.has_field(group) or obj.field(group).type != "picklist":
                self.problem(k, n, "/views/kanban/group_by",
                             f"a kanban groups by a picklist field; '{group}' is not one")
            for i, col in enumerate(kanban.get("card", ())):
                if self.resolve(obj, col) is None:
                    self.problem(k, n, f"/views/kanban/card/{i}", f"unknown field '{col}'")
            total = kanban.get("sum")
            if total and (not obj.has_field(total)
                          or obj.field(total).value_type not in NUMBER_TYPES):
                self.problem(k, n, "/views/kanban/sum", f"'{total}' is not a number field")
        form = views.get("form") or {}
        for i, section in enumerate(form.get("sections", ())):
            for j, name in enumerate(section.get("fields", ())):
                if not obj.has_field(name):
                    self.problem(k, n, f"/views/form/sections/{i}/fields/{j}",
                                 f"unknown field '{name}'")

    # -- other kinds ------------------------------------------------------------------

    def target_object(self, d: Definition) -> ObjectDef | None:
        obj = self.meta.objects.get(d.data.get("object", ""))
        if obj is None:
            self.problem(d.kind, d.name, "/object", f"unknown object '{d.data.get('object')}'")
        return obj

    def check_workflow(self, d: Definition) -> None:
        obj = self.target_object(d)
        if obj is None:
            return
        field_name = d.data.get("field", "")
        if not obj.has_field(field_name) or obj.field(field_name).type != "picklist":
            self.problem(d.kind, d.name, "/field",
                         f"a stage workflow runs on a picklist field; '{field_name}' is not one")
            return
        options = set(obj.field(field_name).option_values)
        stages = [s["name"] for s in d.data.get("stages", ())]
        for i, s in enumerate(d.data.get("stages", ())):
            if s["name"] not in options:
                self.problem(d.kind, d.name, f"/stages/{i}/name",
                             f"stage '{s['name']}' is not an option of {obj.name}.{field_name}")
            for j, req in enumerate(s.get("required", ())):
                if not obj.has_field(req):
                    self.problem(d.kind, d.name, f"/stages/{i}/required/{j}", f"unknown field '{req}'")
        for i, t in enumerate(d.data.get("transitions", ())):
            p = f"/transitions/{i}"
            for key in ("from", "to"):
                value = t.get(key)
                if value is not None and value != "*" and value not in stages:
                    self.problem(d.kind, d.name, f"{p}/{key}", f"unknown stage '{value}'")
            if t.get("when"):
                self.formula(d.kind, d.name, p + "/when", t["when"], obj)
            for j, req in enumerate(t.get("required", ())):
                if not obj.has_field(req):
                    self.problem(d.kind, d.name, f"{p}/required/{j}", f"unknown field '{req}'")
            self.check_set(d, obj, p + "/set", t.get("set") or {})

    def check_set(self, d: Definition, obj: ObjectDef, p: str, assignments: Mapping[str, str]) -> None:
        for name, expression in assignments.items():
            if not obj.has_field(name):
                self.problem(d.kind, d.name, f"{p}/{name}", f"unknown field '{name}'")
            elif obj.field(name).is_computed:
                self.problem(d.kind, d.name, f"{p}/{name}", f"'{name}' is computed; it cannot be set")
            self.formula(d.kind, d.name, f"{p}/{name}", str(expression), obj)

    def check_approval(self, d: Definition) -> None:
        obj = self.target_object(d)
        if obj is None:
            return
        if d.data.get("when"):
            self.formula(d.kind, d.name, "/when", d.data["when"], obj)
        for i, step in enumerate(d.data.get("steps", ())):
            p = f"/steps/{i}"
            if step.get("when"):
                self.formula(d.kind, d.name, p + "/when", step["when"], obj)
            approvers = step.get("approvers") or {}
            for key in ("field", "manager_of"):
                value = approvers.get(key)
                if value and value != "submitter" and self.resolve(obj, value) is None:
                    self.problem(d.kind, d.name, f"{p}/approvers/{key}", f"unknown field '{value}'")
            for outcome in ("on_approve", "on_reject"):
                self.check_set(d, obj, f"{p}/{outcome}/set", (step.get(outcome) or {}).get("set") or {})
        for outcome in ("on_submit", "on_approve", "on_reject", "on_recall"):
            self.check_set(d, obj, f"/{outcome}/set", (d.data.get(outcome) or {}).get("set") or {})

    def check_report(self, d: Definition) -> None:
        obj = self.target_object(d)
        if obj is None:
            return
        for i, col in enumerate(d.data.get("columns", ())):
            if self.resolve(obj, col) is None:
                self.problem(d.kind, d.name, f"/columns/{i}", f"unknown field '{col}' of {obj.name}")
        for i, cond in enumerate(d.data.get("filters", ())):
            self.check_condition(d.kind, d.name, f"/filters/{i}", obj, cond)
        for i, g in enumerate(d.data.get("group_by", ())):
            if self.resolve(obj, g["field"]) is None:
                self.problem(d.kind, d.name, f"/group_by/{i}/field",
                             f"unknown field '{g['field']}' of {obj.name}")
        for i, agg in enumerate(d.data.get("aggregates", ())):
            fn, path = agg.get("fn"), agg.get("field")
            if fn == "count" and not path:
                continue
            target = self.resolve(obj, path or "")
            if target is None:
                self.problem(d.kind, d.name, f"/aggregates/{i}/field",
                             f"unknown field '{path}' of {obj.name}")
            elif fn in {"sum", "avg"} and (
                    target == "system" or target.value_type not in NUMBER_TYPES | DECIMAL_TYPES):
                self.problem(d.kind, d.name, f"/aggregates/{i}/field",
                             f"cannot {fn} '{path}': it is not a number field")

    def check_dashboard(self, d: Definition) -> None:
        for i, tile in enumerate(d.data.get("tiles", ())):
            if tile.get("report") not in self.meta.reports:
                self.problem(d.kind, d.name, f"/tiles/{i}/report",
                             f"unknown report '{tile.get('report')}'")


def merge(base: MetadataSet, definitions: Iterable[ObjectDef | Definition]) -> MetadataSet:
    """``base`` with ``definitions`` added or replacing those of the same kind and name."""
    tables: dict[str, dict[str, Any]] = {k: dict(base.of_kind(k)) for k in
                                         ("object", "workflow", "approval", "report", "dashboard")}
    for d in definitions:
        kind = d.kind if isinstance(d, Definition) else "object"
        tables[kind][d.name] = d
    return MetadataSet(tables["object"], tables["workflow"], tables["approval"], tables["report"],
                       tables["dashboard"], base.revision)


def validate_documents(docs: list[Document], base: MetadataSet, library: FunctionLibrary,
                       field_types: Iterable[str],
                       problems: list[MetaProblem] | None = None) -> MetadataSet:
    """Validate ``docs`` against the schemas and against ``base`` plus themselves.

    Returns the merged set; raises MetadataError with every problem found.
    """
    problems = list(problems or ())
    valid: list[Document] = []
    for doc in docs:
        found = schema_problems(doc.kind, doc.data, doc.source, doc.pointer)
        problems.extend(found)
        if not found:
            valid.append(doc)
    where: dict[tuple[str, str], Document] = {}
    for doc in valid:
        key = (doc.kind, doc.name)
        if key in where:
            first = where[key]
            problems.append(MetaProblem(doc.source, doc.pointer + "/name",
                                        f"duplicate {doc.kind} '{doc.name}' (also in "
                                        f"{first.source}:{first.pointer or '/'})"))
            continue
        where[key] = doc
    merged = merge(base, (build(doc) for doc in where.values()))
    checker = _Checker(merged, where, library, field_types)
    for (kind, name) in where:
        item = merged.of_kind(kind)[name]
        getattr(checker, f"check_{kind}")(item)
    problems.extend(checker.problems)
    if problems:
        raise MetadataError(problems)
    return merged
