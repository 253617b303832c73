"""Per-object runtime: everything the record service needs about an object, worked out
once per metadata revision (compiled formulas in dependency order, checks, rollups)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table

from ..formulas import Formula, FunctionLibrary, compile_formula
from ..formulas.sql import field_names
from ..meta.model import FieldDef, MetadataSet, ObjectDef


@dataclass
class Rollup:
    """A rollup field on ``parent`` that aggregates this object through ``relation``."""

    parent: ObjectDef
    field: FieldDef
    relation: str


@dataclass
class Dependent:
    """Formula fields of ``obj`` that read this object's fields through lookup ``relation``."""

    obj: ObjectDef
    relation: str
    reads: frozenset[str]


@dataclass
class ObjectRuntime:
    obj: ObjectDef
    table: Table
    formulas: list[tuple[FieldDef, Formula]] = field(default_factory=list)
    default_formulas: dict[str, Formula] = field(default_factory=dict)
    rules: list[tuple[Any, Formula]] = field(default_factory=list)
    patterns: dict[str, re.Pattern[str]] = field(default_factory=dict)
    rollups_up: list[Rollup] = field(default_factory=list)
    own_rollups: list[FieldDef] = field(default_factory=list)
    dependents: list[Dependent] = field(default_factory=list)
    #: the record service's :class:`~rapport.records.writer.WritePlan`, built on first write
    write_plan: Any = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.obj.name

    @property
    def input_fields(self) -> list[FieldDef]:
        return [f for f in self.obj.fields if not f.is_computed]

    @property
    def unique_fields(self) -> list[FieldDef]:
        return [f for f in self.obj.fields if f.unique]

    @property
    def autonumbers(self) -> list[FieldDef]:
        return [f for f in self.obj.fields if f.type == "autonumber"]

    @property
    def relations(self) -> list[FieldDef]:
        return [f for f in self.obj.fields if f.is_relation]

    @property
    def rollup_inputs(self) -> set[str]:
        """Fields whose change alters a parent's rollup."""
        out: set[str] = set()
        for r in self.rollups_up:
            out.add(r.relation)
            if r.field.field:
                out.add(r.field.field)
            out.update(c["field"].split(".")[0] for c in r.field.filter)  # account.type: account
            if r.field.filter_formula:
                out.update(field_names(r.field.filter_formula, self.obj))
        return out


def _formula_order(obj: ObjectDef, compiled: dict[str, Formula]) -> list[str]:
    """Formula fields so that each comes after the formulas it reads."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str, depth: int = 0) -> None:
        if name in seen or depth > 100:
            return
        seen.add(name)
        for dep in sorted(compiled[name].names):
            if dep in compiled:
                visit(dep, depth + 1)
        order.append(name)

    for name in compiled:
        visit(name)
    return order


def build_runtime(meta: MetadataSet, obj: ObjectDef, table: Table,
                  library: FunctionLibrary) -> ObjectRuntime:
    rt = ObjectRuntime(obj, table)
    compiled = {f.name: compile_formula(f.expression or "", library)
                for f in obj.fields if f.type == "formula"}
    rt.formulas = [(obj.field(n), compiled[n]) for n in _formula_order(obj, compiled)]
    rt.default_formulas = {f.name: compile_formula(f.default_formula, library)
                           for f in obj.fields if f.default_formula}
    rt.rules = [(r, compile_formula(r.when, library)) for r in obj.validation_rules if r.active]
    rt.patterns = {f.name: re.compile(f.pattern) for f in obj.fields if f.pattern}
    rt.own_rollups = [f for f in obj.fields if f.type == "rollup"]
    for parent in meta.objects.values():
        for f in parent.fields:
            if f.type == "rollup" and f.source == obj.name and f.relation:
                rt.rollups_up.append(Rollup(parent, f, f.relation))
    for other in meta.objects.values():
        for link in other.fields:
            if not (link.is_relation and link.target == obj.name):
                continue
            reads = set()
            for f in other.fields:
                if f.type != "formula" or not f.expression:
                    continue
                for name in compile_formula(f.expression, library).names:
                    head, _, rest = name.partition(".")
                    if head == link.name and rest:
                        reads.add(rest.split(".")[0])
            if reads:
                rt.dependents.append(Dependent(other, link.name, frozenset(reads)))
    return rt
