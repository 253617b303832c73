"""Read definition files into documents, and documents into typed definitions."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MetaProblem
from .model import (
    KINDS,
    Definition,
    FieldDef,
    IndexDef,
    ObjectDef,
    PicklistOption,
    ValidationRule,
)

MAX_FILE_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Document:
    """One definition as read: its kind, its JSON, and where it came from."""

    kind: str
    data: Mapping[str, Any]
    source: str = "<input>"
    pointer: str = ""

    @property
    def name(self) -> str:
        return str(self.data.get("name", ""))


def detect_kind(data: Mapping[str, Any]) -> str | None:
    """The kind of a definition: its ``kind`` key, else its shape."""
    kind = data.get("kind")
    if isinstance(kind, str):
        return kind if kind in KINDS else None
    if "fields" in data:
        return "extension" if "object" in data else "object"
    if "stages" in data:
        return "workflow"
    if "steps" in data:
        return "approval"
    if "aggregates" in data or "columns" in data:
        return "report"
    if "tiles" in data:
        return "dashboard"
    if "object" in data and "fields" not in data:
        return "report"
    return None


def documents_from_json(value: Any, source: str, problems: list[MetaProblem],
                        base_pointer: str = "") -> list[Document]:
    """Split parsed JSON (one definition or a list of them) into documents."""
    items = value if isinstance(value, list) else [value]
    docs = []
    for i, item in enumerate(items):
        pointer = f"{base_pointer}/{i}" if isinstance(value, list) else base_pointer
        if not isinstance(item, dict):
            problems.append(MetaProblem(source, pointer, "a definition must be a JSON object"))
            continue
        kind = detect_kind(item)
        if kind is None:
            problems.append(MetaProblem(
                source, pointer,
                "cannot tell what this defines: give it a 'kind' (object, workflow, approval, "
                "report, dashboard) or the keys of one"))
            continue
        docs.append(Document(kind, item, source, pointer))
    return docs


def read_file(path: Path, problems: list[MetaProblem]) -> list[Document]:
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problems.append(MetaProblem(source, "", f"cannot read: {exc.strerror or exc}"))
        return []
    if len(raw) > MAX_FILE_BYTES:
        problems.append(MetaProblem(source, "", f"file too large ({len(raw):,} bytes, limit "
                                                f"{MAX_FILE_BYTES:,})"))
        return []
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(MetaProblem(source, "", f"not UTF-8 text (byte {exc.start})"))
        return []
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(MetaProblem(source, "", f"invalid JSON at line {exc.lineno} column "
                                                f"{exc.colno}: {exc.msg}"))
        return []
    return documents_from_json(value, source, problems)


def read_paths(paths: Iterable[str | Path], problems: list[MetaProblem]) -> list[Document]:
    """Read files and directories (every ``*.json`` below, pack manifests excepted)."""
    docs: list[Document] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            for child in sorted(path.rglob("*.json")):
                if child.name == "pack.json" or child.name.endswith(".schema.json"):
                    continue
                docs.extend(read_file(child, problems))
        elif path.exists():
            docs.extend(read_file(path, problems))
        else:
            problems.append(MetaProblem(str(path), "", "no such file or directory"))
    return docs


# -- typed definitions -------------------------------------------------------------

_FIELD_KEYS = {f for f in FieldDef.__dataclass_fields__
               if f not in {"options", "filter", "filter_formula", "extra"}}


def _option(raw: Any) -> PicklistOption:
    if isinstance(raw, str):
        return PicklistOption(raw)
    return PicklistOption(raw["value"], raw.get("label"), raw.get("color"), raw.get("active", True),
                          raw.get("renamed_from"))


def build_field(data: Mapping[str, Any]) -> FieldDef:
    kwargs = {k: v for k, v in data.items() if k in _FIELD_KEYS}
    extra = {k: v for k, v in data.items() if k not in _FIELD_KEYS and k not in {"options", "filter"}}
    raw_filter = data.get("filter") or ()
    formula = raw_filter if isinstance(raw_filter, str) else None
    return FieldDef(
        **kwargs,
        options=tuple(_option(o) for o in data.get("options", ())),
        filter=() if formula is not None else tuple(raw_filter),
        filter_formula=formula,
        extra=extra,
    )


def _index(raw: Any) -> IndexDef:
    if isinstance(raw, list):
        return IndexDef(tuple(raw))
    return IndexDef(tuple(raw["fields"]), raw.get("unique", False), raw.get("name"))


def build_object(data: Mapping[str, Any]) -> ObjectDef:
    return ObjectDef(
        name=data["name"],
        fields=tuple(build_field(f) for f in data["fields"]),
        id=data.get("id"),
        label=data.get("label"),
        plural_label=data.get("plural_label"),
        description=data.get("description"),
        icon=data.get("icon"),
        color=data.get("color"),
        title_field=data.get("title_field"),
        system=data.get("system", False),
        track_history=data.get("track_history", True),
        search_fields=tuple(data.get("search_fields", ())),
        indexes=tuple(_index(i) for i in data.get("indexes", ())),
        validation_rules=tuple(
            ValidationRule(r["name"], r["when"], r["message"], r.get("field"), r.get("active", True))
            for r in data.get("validation_rules", ())),
        views=data.get("views", {}),
    )


def build(doc: Document) -> ObjectDef | Definition:
    if doc.kind == "object":
        return build_object(doc.data)
    return Definition(doc.kind, doc.data["name"], doc.data)


def fold_extensions(docs: list[Document], stored: Mapping[tuple[str, str], Mapping[str, Any]],
                    problems: list[MetaProblem]) -> list[Document]:
    """Turn extension documents ({"object", "fields"}: fields added to an existing object)
    into the extended object's document, so everything downstream sees plain objects."""
    out = [d for d in docs if d.kind != "extension"]
    by_name = {d.name: i for i, d in enumerate(out) if d.kind == "object"}
    for ext in (d for d in docs if d.kind == "extension"):
        target = ext.data.get("object")
        if target in by_name:
            base_doc = out[by_name[target]]
            base, source, pointer = base_doc.data, base_doc.source, base_doc.pointer
        elif ("object", target) in stored:
            base, source, pointer = stored[("object", target)], ext.source, ext.pointer
        else:
            problems.append(MetaProblem(ext.source, ext.pointer + "/object",
                                        f"extends unknown object '{target}'"))
            continue
        added = {f.get("name") for f in ext.data.get("fields", ()) if isinstance(f, dict)}
        merged = dict(base)
        merged["fields"] = [f for f in base.get("fields", ()) if f.get("name") not in added] + \
            list(ext.data.get("fields", ()))
        if ext.data.get("validation_rules"):
            rules = {r.get("name") for r in ext.data["validation_rules"]}
            merged["validation_rules"] = [r for r in base.get("validation_rules", ())
                                          if r.get("name") not in rules] + \
                list(ext.data["validation_rules"])
        doc = Document("object", merged, source, pointer)
        if target in by_name:
            out[by_name[target]] = doc
        else:
            by_name[target] = len(out)
            out.append(doc)
    return out
