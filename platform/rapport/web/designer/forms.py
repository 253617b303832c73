"""The designer's forms turned into definitions (the same JSON documents the files and
the CLI use), and the problems of a definition placed back on the form's inputs."""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from typing import Any

from ...errors import MetaProblem
from ...meta.model import CHOICE_TYPES, DECIMAL_TYPES, NUMBER_TYPES, RELATION_TYPES, TEXT_TYPES

MAX_TEXT = 10_000
REQUIRED = re.compile(r"^'([a-z_]+)' is a required property")

#: every input of the field form, by the field types it applies to ("*" = every type)
FIELD_KEYS: dict[str, frozenset[str] | str] = {
    "required": "*", "unique": "*", "indexed": "*", "read_only": "*", "sensitive": "*",
    "searchable": "*", "track_history": "*", "help": "*", "description": "*",
    "default": "*", "default_formula": "*",
    "max_length": TEXT_TYPES, "min_length": TEXT_TYPES, "pattern": TEXT_TYPES,
    "min": NUMBER_TYPES, "max": NUMBER_TYPES,
    "precision": DECIMAL_TYPES | {"formula", "rollup"},
    "options": CHOICE_TYPES,
    "target": RELATION_TYPES, "on_delete": RELATION_TYPES,
    "format": frozenset({"autonumber"}), "start": frozenset({"autonumber"}),
    "expression": frozenset({"formula"}), "result_type": frozenset({"formula"}),
    "source": frozenset({"rollup"}), "relation": frozenset({"rollup"}),
    "aggregate": frozenset({"rollup"}), "field": frozenset({"rollup"}),
    "filter": frozenset({"rollup"}),
}
FLAGS = ("required", "unique", "indexed", "read_only", "sensitive", "searchable")
NO_DEFAULT = frozenset({"formula", "rollup", "autonumber", "json"})


def applies(key: str, field_type: str) -> bool:
    kinds = FIELD_KEYS[key]
    if key in {"default", "default_formula"} and field_type in NO_DEFAULT:
        return False
    if key in {"unique", "indexed"} and field_type in {"formula", "rollup", "json", "rich_text"}:
        return False
    return kinds == "*" or field_type in kinds


def types_of(key: str, all_types: list[str]) -> str:
    """The ``data-types`` of an input: the types it is shown for."""
    return " ".join(t for t in all_types if applies(key, t))


def text(form: Mapping[str, Any], key: str, size: int = 500) -> str:
    return str(form.get(key) or "").strip()[:size]


def label_from(form: Mapping[str, Any], prefix: str) -> str | dict[str, str] | None:
    """A label from the inputs ``<prefix>_en`` and ``<prefix>_zh``."""
    en, zh = text(form, f"{prefix}_en", 200), text(form, f"{prefix}_zh", 200)
    if en and zh:
        return {"en": en, "zh-CN": zh}
    return en or zh or None


def label_parts(label: Any) -> tuple[str, str]:
    """(English, Chinese) of a stored label, for the form's two inputs."""
    if isinstance(label, str):
        return label, ""
    if not isinstance(label, Mapping):  # none (or undefined in a template)
        return "", ""
    return str(label.get("en", "")), str(label.get("zh-CN", ""))


def put(data: dict[str, Any], key: str, value: Any) -> None:
    if value is None or (not isinstance(value, bool | int | float) and not value):
        data.pop(key, None)
    else:
        data[key] = value


def number(form: Mapping[str, Any], key: str, errors: dict[str, str], integer: bool = False,
           message: str = "not a number") -> int | float | None:
    raw = text(form, key, 40)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > 1e15:
        errors[key] = message
        return None
    if integer or value == int(value):
        if integer and value != int(value):
            errors[key] = message
            return None
        return int(value)
    return value


def options_from(form: Any) -> tuple[list[Any], dict[str, str]]:
    """The picklist values from the option rows (value, labels, colour, active, the value
    it had before: a changed value is a rename that migrates stored data)."""
    values = form.getlist("opt_value")
    rows = zip(values, form.getlist("opt_label_en"), form.getlist("opt_label_zh"),
               form.getlist("opt_color"), form.getlist("opt_active"), form.getlist("opt_was"),
               strict=False)
    options: list[Any] = []
    for value, en, zh, color, active, was in rows:
        value, en, zh = str(value).strip()[:255], str(en).strip()[:200], str(zh).strip()[:200]
        color, was = str(color).strip()[:7], str(was).strip()[:255]
        if not value:
            continue
        option: dict[str, Any] = {"value": value}
        label = {"en": en, "zh-CN": zh} if en and zh else (en or zh)
        if label:
            option["label"] = label
        if color and color != "#000000":
            option["color"] = color
        if str(active) == "0":
            option["active"] = False
        if was and was != value:
            option["renamed_from"] = was
        options.append(option if len(option) > 1 else value)
    return options, {}


def default_value(raw: str, field_type: str, errors: dict[str, str]) -> Any:
    if not raw:
        return None
    if field_type == "boolean":
        if raw not in {"true", "false"}:
            errors["default"] = "true or false"
            return None
        return raw == "true"
    if field_type in NUMBER_TYPES:
        return number({"default": raw}, "default", errors, integer=field_type == "integer")
    if field_type == "multi_picklist":
        return [v.strip() for v in raw.split(",") if v.strip()]
    return raw


def default_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def field_from_form(form: Any, raw: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, str]]:
    """The field's definition from the form, keeping what the form does not show (its id,
    keys a plugin's type reads). Returns (definition, errors by input)."""
    errors: dict[str, str] = {}
    data: dict[str, Any] = copy.deepcopy(dict(raw or {}))
    for key in [*FIELD_KEYS, "label", "renamed_from"]:
        data.pop(key, None)
    name = text(form, "name", 200)
    field_type = text(form, "type", 63) or str(data.get("type") or "text")
    data["name"] = name
    data["type"] = field_type
    put(data, "label", label_from(form, "label"))
    put(data, "help", label_from(form, "help"))
    put(data, "description", text(form, "description", 2000))
    for flag in FLAGS:
        if applies(flag, field_type) and form.get(flag):
            data[flag] = True
    if not form.get("track_history") and form.get("track_history_shown"):
        data["track_history"] = False
    if applies("default", field_type):
        put(data, "default", default_value(text(form, "default", 500), field_type, errors))
        put(data, "default_formula", text(form, "default_formula", MAX_TEXT))
    if field_type in TEXT_TYPES:
        put(data, "max_length", number(form, "max_length", errors, integer=True))
        put(data, "min_length", number(form, "min_length", errors, integer=True))
        put(data, "pattern", text(form, "pattern", 500))
    if field_type in NUMBER_TYPES:
        put(data, "min", number(form, "min", errors))
        put(data, "max", number(form, "max", errors))
    if applies("precision", field_type):
        put(data, "precision", number(form, "precision", errors, integer=True))
    if field_type in CHOICE_TYPES:
        options, _ = options_from(form)
        put(data, "options", options)
    if field_type in RELATION_TYPES:
        put(data, "target", text(form, "target", 63))
        put(data, "on_delete", text(form, "on_delete", 20))
    if field_type == "autonumber":
        put(data, "format", text(form, "format", 64))
        put(data, "start", number(form, "start", errors, integer=True))
    if field_type == "formula":
        put(data, "expression", text(form, "expression", MAX_TEXT))
        put(data, "result_type", text(form, "result_type", 20))
    if field_type == "rollup":
        for key in ("source", "relation", "aggregate", "field"):
            put(data, key, text(form, key, 63))
        put(data, "filter", text(form, "filter", MAX_TEXT))
    return data, errors


def rule_from_form(form: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {"name": text(form, "name", 200), "when": text(form, "when", MAX_TEXT),
                            "message": label_from(form, "message") or ""}
    put(rule, "field", text(form, "field", 63))
    if not form.get("active"):
        rule["active"] = False
    return rule


def place_problems(problems: list[MetaProblem], prefix: str) -> tuple[dict[str, str], list[str]]:
    """Problems whose pointer starts with ``prefix`` (``/fields/3``) on the input named by the
    rest of the pointer; the others as general messages, pointer first."""
    on_inputs: dict[str, str] = {}
    general: list[str] = []
    for p in problems:
        pointer = p.pointer or ""
        if prefix and (pointer == prefix or pointer.startswith(prefix + "/")):
            rest = pointer[len(prefix):].strip("/").split("/")[0]
            if not rest:  # the definition as a whole: "'x' is a required property" names x
                found = REQUIRED.search(p.message)
                rest = found.group(1) if found else "name"
            on_inputs.setdefault(rest, p.message)
        else:
            general.append(f"{pointer or '/'}: {p.message}")
    return on_inputs, general


def rename_references(doc: dict[str, Any], old: str, new: str) -> None:
    """A renamed field renamed where the object's own definition names it."""
    if old == new:
        return
    if doc.get("title_field") == old:
        doc["title_field"] = new
    doc["search_fields"] = [new if f == old else f for f in doc.get("search_fields", [])] \
        if doc.get("search_fields") else doc.get("search_fields")
    if doc.get("search_fields") is None:
        doc.pop("search_fields", None)
    for i, index in enumerate(doc.get("indexes", [])):
        if isinstance(index, list):
            doc["indexes"][i] = [new if f == old else f for f in index]
        elif isinstance(index, dict):
            index["fields"] = [new if f == old else f for f in index.get("fields", [])]
    for rule in doc.get("validation_rules", []):
        if rule.get("field") == old:
            rule["field"] = new
    views = doc.get("views") or {}
    lst = views.get("list") or {}
    if lst.get("columns"):
        lst["columns"] = [new if c == old else c for c in lst["columns"]]
    if lst.get("sort"):
        lst["sort"] = ",".join(("-" + new if k == "-" + old else new if k == old else k)
                               for k in lst["sort"].split(","))
    kanban = views.get("kanban") or {}
    for key in ("group_by", "sum"):
        if kanban.get(key) == old:
            kanban[key] = new
    if kanban.get("card"):
        kanban["card"] = [new if c == old else c for c in kanban["card"]]
    for section in (views.get("form") or {}).get("sections", []):
        section["fields"] = [new if c == old else c for c in section.get("fields", [])]


def drop_references(doc: dict[str, Any], name: str) -> None:
    """A removed field taken out of the lists of the object's definition that name it
    (a view, the title); rules and formulas that use it are left for validation to report."""
    if doc.get("title_field") == name:
        doc.pop("title_field")
    if doc.get("search_fields"):
        doc["search_fields"] = [f for f in doc["search_fields"] if f != name]
    doc["indexes"] = [i for i in doc.get("indexes", [])
                      if name not in (i if isinstance(i, list) else i.get("fields", []))]
    if not doc["indexes"]:
        doc.pop("indexes")
    views = doc.get("views") or {}
    lst = views.get("list") or {}
    if lst.get("columns"):
        lst["columns"] = [c for c in lst["columns"] if c != name] or None
        if lst["columns"] is None:
            lst.pop("columns")
    if lst.get("sort"):
        keys = [k for k in lst["sort"].split(",") if k.lstrip("-") != name]
        if keys:
            lst["sort"] = ",".join(keys)
        else:
            lst.pop("sort")
    kanban = views.get("kanban") or {}
    if kanban.get("group_by") == name:
        views.pop("kanban")
    else:
        if kanban.get("sum") == name:
            kanban.pop("sum")
        if kanban.get("card"):
            kanban["card"] = [c for c in kanban["card"] if c != name]
    form = views.get("form") or {}
    if form.get("sections"):
        for s in form["sections"]:
            s["fields"] = [c for c in s.get("fields", []) if c != name]
        form["sections"] = [s for s in form["sections"] if s["fields"]]
        if not form["sections"]:
            views.pop("form")
    for rule in doc.get("validation_rules", []):
        if rule.get("field") == name:
            rule.pop("field")


def _literal(expression: Any, renames: Mapping[str, str]) -> Any:
    """A formula with its quoted literals of renamed values replaced (``'old'`` -> ``'new'``)."""
    if not isinstance(expression, str):
        return expression
    for old, new in renames.items():
        for q in ("'", '"'):
            expression = expression.replace(f"{q}{old}{q}", f"{q}{new}{q}")
    return expression


def _set_values(assignments: Any, renames: Mapping[str, str]) -> Any:
    if not isinstance(assignments, dict):
        return assignments
    return {k: _literal(v, renames) for k, v in assignments.items()}


def follow_value_renames(doc: dict[str, Any], field_name: str, renames: Mapping[str, str],
                         stored: Mapping[tuple[str, str], Mapping[str, Any]]
                         ) -> list[tuple[str, dict[str, Any]]]:
    """A picklist value renamed where definitions name it: the field's default, the
    object's rules and formulas (quoted literals), the stages and transitions of the
    workflows over the field, the conditions and field updates of the object's approval
    flows, the filters of the object's reports on the field. Changes ``doc`` in place;
    returns the other definitions changed."""
    if not renames:
        return []
    for f in doc.get("fields", []):
        if f.get("name") == field_name and isinstance(f.get("default"), str):
            f["default"] = renames.get(f["default"], f["default"])
        for key in ("expression", "default_formula"):
            if key in f:
                f[key] = _literal(f[key], renames)
    for rule in doc.get("validation_rules", []):
        rule["when"] = _literal(rule.get("when"), renames)
    changed: list[tuple[str, dict[str, Any]]] = []
    for (kind, _name), data in stored.items():
        if data.get("object") != doc["name"] or kind not in {"workflow", "approval", "report"}:
            continue
        new = copy.deepcopy(dict(data))
        if kind == "report":
            for flt in new.get("filters", []):
                if isinstance(flt, dict) and flt.get("field") == field_name:
                    value = flt.get("value")
                    if isinstance(value, str):
                        flt["value"] = renames.get(value, value)
                    elif isinstance(value, list):
                        flt["value"] = [renames.get(v, v) if isinstance(v, str) else v
                                        for v in value]
        elif kind == "workflow":
            own = new.get("field") == field_name
            for stage in new.get("stages", []):
                if own:
                    stage["name"] = renames.get(stage.get("name"), stage.get("name"))
            for t in new.get("transitions", []):
                if own:
                    for end in ("from", "to"):
                        t[end] = renames.get(t.get(end), t.get(end))
                if "when" in t:
                    t["when"] = _literal(t["when"], renames)
                if "set" in t:
                    t["set"] = _set_values(t["set"], renames)
        else:
            if "when" in new:
                new["when"] = _literal(new["when"], renames)
            for step in new.get("steps", []):
                if "when" in step:
                    step["when"] = _literal(step["when"], renames)
            for outcome in ("on_approve", "on_reject", "on_submit", "on_recall"):
                if isinstance(new.get(outcome), dict) and "set" in new[outcome]:
                    new[outcome]["set"] = _set_values(new[outcome]["set"], renames)
        if new != data:
            changed.append((kind, new))
    return changed
