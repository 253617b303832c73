"""Approval flow definitions, typed and compiled: built once per metadata revision for the
current flows, and once per stored definition for running requests (a request keeps the
flow as it was when it was submitted)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import FieldProblem, FormulaError
from ..formulas import Formula, FunctionLibrary, compile_formula
from ..meta.model import Label, humanize, label_text

MODES = ("any", "all", "quorum")
APPROVER_KINDS = ("users", "role", "field", "manager_of", "team")


def _assignments(action: Mapping[str, Any] | None,
                 library: FunctionLibrary) -> tuple[tuple[str, Formula], ...]:
    return tuple((name, compile_formula(str(expr), library))
                 for name, expr in ((action or {}).get("set") or {}).items())


def _formula(text: str | None, library: FunctionLibrary) -> Formula | None:
    return compile_formula(text, library) if text else None


def holds(formula: Formula | None, record: Mapping[str, Any], get: Callable[[str], Any]) -> bool:
    """Whether a condition is true of the record (no condition: true). A condition that
    cannot be evaluated is false."""
    if formula is None:
        return True
    try:
        return bool(formula.evaluate(record, get=get))
    except FormulaError:
        return False


def evaluate_set(assign: tuple[tuple[str, Formula], ...], record: Mapping[str, Any],
                 get: Callable[[str], Any], what: str) -> tuple[dict[str, Any], list[FieldProblem]]:
    """The values a ``set`` action assigns, each formula seeing the ones before it."""
    values: dict[str, Any] = {}
    problems: list[FieldProblem] = []
    for name, formula in assign:
        try:
            values[name] = formula.evaluate({**record, **values}, get=get)
        except FormulaError as exc:
            problems.append(FieldProblem(name, "approval_action_error",
                                         f"setting {name} {what} failed: {exc}"))
    return values, problems


@dataclass(frozen=True)
class Step:
    index: int
    name: str
    label: Label | None
    approver_kind: str
    approver_value: Any
    mode: str
    quorum: int | None
    when: Formula | None
    when_text: str | None
    on_approve: tuple[tuple[str, Formula], ...]
    on_reject: tuple[tuple[str, Formula], ...]

    def display_label(self, locale: str = "en") -> str:
        return label_text(self.label, locale, humanize(self.name))

    def describe_approvers(self) -> str:
        value = self.approver_value
        if self.approver_kind == "users":
            return "users " + ", ".join(value)
        return f"{self.approver_kind.replace('_', ' ')} {value}"


@dataclass(frozen=True)
class Flow:
    name: str
    label: Label | None
    object: str
    when: Formula | None
    when_text: str | None
    auto_submit: bool
    lock: bool
    allow_recall: bool
    steps: tuple[Step, ...]
    on_approve: tuple[tuple[str, Formula], ...]
    on_reject: tuple[tuple[str, Formula], ...]
    on_recall: tuple[tuple[str, Formula], ...]
    on_submit: tuple[tuple[str, Formula], ...]
    definition: str  # the JSON text stored with each request

    def display_label(self, locale: str = "en") -> str:
        return label_text(self.label, locale, humanize(self.name))

    def applies(self, record: Mapping[str, Any], get: Callable[[str], Any]) -> bool:
        """The entry condition holds for ``record``."""
        return holds(self.when, record, get)

    def reads(self) -> frozenset[str]:
        """The record's fields the entry condition reads (a lookup path by its first part)."""
        return frozenset(n.split(".")[0] for n in self.when.names) if self.when else frozenset()


def build_flow(data: Mapping[str, Any], library: FunctionLibrary) -> Flow:
    steps = []
    for i, s in enumerate(data["steps"]):
        kind, value = next(iter(s["approvers"].items()))
        steps.append(Step(i, s["name"], s.get("label"), kind, value, s.get("mode", "any"),
                          s.get("quorum"), _formula(s.get("when"), library), s.get("when"),
                          _assignments(s.get("on_approve"), library),
                          _assignments(s.get("on_reject"), library)))
    return Flow(data["name"], data.get("label"), data["object"],
                _formula(data.get("when"), library), data.get("when"),
                bool(data.get("auto_submit", False)), bool(data.get("lock", True)),
                bool(data.get("allow_recall", True)), tuple(steps),
                _assignments(data.get("on_approve"), library),
                _assignments(data.get("on_reject"), library),
                _assignments(data.get("on_recall"), library),
                _assignments(data.get("on_submit"), library),
                json.dumps(dict(data), ensure_ascii=False, sort_keys=True))
