"""Typed, frozen definitions: raw JSON stops at the loader, everything else reads these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

Label = str | Mapping[str, str]

TEXT_TYPES = frozenset({"text", "textarea", "rich_text", "email", "phone", "url"})
NUMBER_TYPES = frozenset({"integer", "decimal", "currency", "percent"})
DECIMAL_TYPES = frozenset({"decimal", "currency", "percent"})
RELATION_TYPES = frozenset({"lookup", "master_detail"})
CHOICE_TYPES = frozenset({"picklist", "multi_picklist"})
COMPUTED_TYPES = frozenset({"formula", "rollup", "autonumber"})
BUILTIN_TYPES = (TEXT_TYPES | NUMBER_TYPES | RELATION_TYPES | CHOICE_TYPES | COMPUTED_TYPES
                 | {"boolean", "date", "datetime", "json"})

#: Columns every record has; never declared by a definition.
SYSTEM_FIELDS = ("id", "created_at", "updated_at", "created_by", "owner", "version")


def label_text(label: Label | None, locale: str = "en", fallback: str = "") -> str:
    """The label in ``locale`` (then its language, then English, then any)."""
    if label is None:
        return fallback
    if isinstance(label, str):
        return label
    for key in (locale, locale.split("-")[0], "en"):
        if key in label:
            return label[key]
    return next(iter(label.values()), fallback)


def humanize(name: str) -> str:
    return name.replace("_", " ").capitalize()


@dataclass(frozen=True)
class PicklistOption:
    value: str
    label: Label | None = None
    color: str | None = None
    active: bool = True
    #: the stored value this one replaces (records holding it are migrated on apply)
    renamed_from: str | None = None


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    id: str | None = None
    label: Label | None = None
    help: Label | None = None
    description: str | None = None
    renamed_from: str | None = None
    required: bool = False
    unique: bool = False
    indexed: bool = False
    read_only: bool = False
    sensitive: bool = False
    searchable: bool | None = None
    track_history: bool = True
    default: Any = None
    default_formula: str | None = None
    max_length: int | None = None
    min_length: int | None = None
    pattern: str | None = None
    min: float | None = None
    max: float | None = None
    precision: int | None = None
    options: tuple[PicklistOption, ...] = ()
    target: str | None = None
    on_delete: str | None = None
    format: str | None = None
    start: int = 1
    expression: str | None = None
    result_type: str | None = None
    source: str | None = None
    relation: str | None = None
    aggregate: str | None = None
    field: str | None = None
    filter: tuple[Mapping[str, Any], ...] = ()   # rollup: conditions on the child rows
    filter_formula: str | None = None             # rollup: or a condition formula over them
    extra: Mapping[str, Any] = dc_field(default_factory=dict)

    @property
    def value_type(self) -> str:
        """The type whose values this field holds (a formula's result type, a rollup's number)."""
        if self.type == "formula":
            return self.result_type or "text"
        if self.type == "rollup":
            if self.aggregate == "count":
                return "integer"
            return "decimal"
        if self.type == "autonumber":
            return "text"
        return self.type

    @property
    def is_relation(self) -> bool:
        return self.type in RELATION_TYPES

    @property
    def is_computed(self) -> bool:
        return self.type in COMPUTED_TYPES

    @property
    def is_searchable(self) -> bool:
        if self.searchable is not None:
            return self.searchable and not self.sensitive
        return self.type in {"text", "email", "phone", "autonumber"} and not self.sensitive

    @property
    def delete_rule(self) -> str:
        if self.type == "master_detail":
            return "cascade"
        return self.on_delete or "set_null"

    @property
    def option_values(self) -> tuple[str, ...]:
        return tuple(o.value for o in self.options)

    @property
    def value_renames(self) -> dict[str, str]:
        """{previous value: new value} of the options marked ``renamed_from``."""
        return {o.renamed_from: o.value for o in self.options
                if o.renamed_from and o.renamed_from != o.value}

    @property
    def scale(self) -> int:
        if self.precision is not None:
            return self.precision
        return 0 if self.value_type == "integer" else 2

    def display_label(self, locale: str = "en") -> str:
        return label_text(self.label, locale, humanize(self.name))


@dataclass(frozen=True)
class ValidationRule:
    name: str
    when: str
    message: Label
    field: str | None = None
    active: bool = True


@dataclass(frozen=True)
class IndexDef:
    fields: tuple[str, ...]
    unique: bool = False
    name: str | None = None


@dataclass(frozen=True)
class ObjectDef:
    name: str
    fields: tuple[FieldDef, ...]
    id: str | None = None
    label: Label | None = None
    plural_label: Label | None = None
    description: str | None = None
    icon: str | None = None
    color: str | None = None
    title_field: str | None = None
    system: bool = False
    track_history: bool = True
    search_fields: tuple[str, ...] = ()
    indexes: tuple[IndexDef, ...] = ()
    validation_rules: tuple[ValidationRule, ...] = ()
    views: Mapping[str, Any] = dc_field(default_factory=dict)
    #: the fields marked ``sensitive`` (set from ``fields``)
    sensitive_names: frozenset[str] = dc_field(default=frozenset(), init=False, compare=False,
                                               repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {f.name: f for f in self.fields})
        object.__setattr__(self, "sensitive_names",
                           frozenset(f.name for f in self.fields if f.sensitive))

    def field(self, name: str) -> FieldDef:
        return self._by_name[name]  # type: ignore[attr-defined]

    def has_field(self, name: str) -> bool:
        return name in self._by_name  # type: ignore[attr-defined]

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def default_sort(self) -> str:
        """How the object's lists are sorted unless asked otherwise (``-created_at``)."""
        return str((self.views.get("list") or {}).get("sort") or "-created_at")

    @property
    def title(self) -> str:
        """The field that names a record in lists, lookups and titles."""
        if self.title_field:
            return self.title_field
        for f in self.fields:
            if f.value_type == "text":
                return f.name
        return "id"

    def display_label(self, locale: str = "en") -> str:
        return label_text(self.label, locale, humanize(self.name))

    def display_plural(self, locale: str = "en") -> str:
        return label_text(self.plural_label, locale, self.display_label(locale))


@dataclass(frozen=True)
class Definition:
    """A workflow, approval, report or dashboard: kept as its validated document,
    with the few keys every layer needs lifted out. Their engines type the rest."""

    kind: str
    name: str
    data: Mapping[str, Any]

    @property
    def object(self) -> str | None:
        return self.data.get("object")


KINDS = ("object", "workflow", "approval", "report", "dashboard")


@dataclass(frozen=True)
class MetadataSet:
    """A complete, validated set of definitions: what a workspace runs on."""

    objects: Mapping[str, ObjectDef] = dc_field(default_factory=dict)
    workflows: Mapping[str, Definition] = dc_field(default_factory=dict)
    approvals: Mapping[str, Definition] = dc_field(default_factory=dict)
    reports: Mapping[str, Definition] = dc_field(default_factory=dict)
    dashboards: Mapping[str, Definition] = dc_field(default_factory=dict)
    revision: int = 0

    def object(self, name: str) -> ObjectDef:
        return self.objects[name]

    def of_kind(self, kind: str) -> Mapping[str, Any]:
        return {"object": self.objects, "workflow": self.workflows, "approval": self.approvals,
                "report": self.reports, "dashboard": self.dashboards}[kind]

    def children_of(self, object_name: str) -> list[tuple[ObjectDef, FieldDef]]:
        """(child object, relation field) for every lookup/master-detail pointing here."""
        return [(o, f) for o in self.objects.values() for f in o.fields
                if f.is_relation and f.target == object_name]
