"""The metadata's revisions: what each held, a readable diff between two, and the change
that rolls the model back to one (applied like any other: a new revision with its plan).
Shared by the CLI (``rapport meta history|diff|rollback``) and the designer."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..errors import NotFound
from .loader import Document

if TYPE_CHECKING:
    from ..workspace import Workspace

Key = tuple[str, str]


def revision_documents(ws: Workspace, revision: int) -> dict[Key, dict[str, Any]]:
    """Every definition as revision ``revision`` stored it (0: none)."""
    if revision == 0:
        return {}
    rev = ws.table_of("rapport_meta_revision")
    with ws.read_engine.connect() as conn:
        raw = conn.scalar(select(rev.c.documents).where(rev.c.id == revision))
    if raw is None:
        raise NotFound(f"no metadata revision {revision}")
    return {(item["kind"], item["data"]["name"]): item["data"] for item in json.loads(raw)}


@dataclass
class DefinitionDiff:
    kind: str
    name: str
    status: str                 # added, removed, changed
    lines: list[str]            # unified diff of the pretty-printed JSON (+/- lines)
    summary: list[str] = field(default_factory=list)  # an object's fields, in words

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.name}"


def _pretty(data: Any) -> list[str]:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False).splitlines()


def diff_documents(a: dict[Key, dict[str, Any]], b: dict[Key, dict[str, Any]]
                   ) -> list[DefinitionDiff]:
    out = []
    for key in sorted(set(a) | set(b)):
        before, after = a.get(key), b.get(key)
        if before == after:
            continue
        status = "added" if before is None else "removed" if after is None else "changed"
        lines = list(difflib.unified_diff(_pretty(before) if before is not None else [],
                                          _pretty(after) if after is not None else [],
                                          lineterm="", n=2))[2:]
        summary = _field_summary(before or {}, after or {}) if key[0] == "object" else []
        out.append(DefinitionDiff(key[0], key[1], status, lines, summary))
    return out


def _field_summary(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Fields added, removed, renamed and changed (matched by their ids, else names)."""
    def keyed(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {str(f.get("id") or f.get("name")): f for f in doc.get("fields", [])
                if isinstance(f, dict)}
    old, new = keyed(before), keyed(after)
    out = [f"+ field {new[k]['name']} ({new[k].get('type')})" for k in new if k not in old]
    out += [f"- field {old[k]['name']} ({old[k].get('type')})" for k in old if k not in new]
    for k in new:
        if k in old and old[k] != new[k]:
            a, b = old[k], new[k]
            if a.get("name") != b.get("name"):
                out.append(f"~ field {a.get('name')} renamed to {b.get('name')}")
            keys = sorted(k2 for k2 in set(a) | set(b) if k2 not in {"name", "id"}
                          and a.get(k2) != b.get(k2))
            if keys:
                out.append(f"~ field {b.get('name')}: {', '.join(keys)}")
    order_old = [k for k in old if k in new]
    order_new = [k for k in new if k in old]
    if order_old != order_new:
        out.append("~ fields reordered")
    for part in ("views", "validation_rules", "title_field", "label", "indexes"):
        if before.get(part) != after.get(part) and before and after:
            out.append(f"~ {part}")
    return out


def diff_revisions(ws: Workspace, a: int, b: int) -> list[DefinitionDiff]:
    """What changed from revision ``a`` to revision ``b``, definition by definition."""
    return diff_documents(revision_documents(ws, a), revision_documents(ws, b))


def rollback_change(ws: Workspace, revision: int) -> tuple[list[Document], list[Key]]:
    """The documents and removals that make revision ``revision`` the model again."""
    target = revision_documents(ws, revision)
    if not target:
        raise NotFound(f"no metadata revision {revision} to roll back to")
    ws.refresh()
    current = ws.state.documents
    docs = [Document(kind, data, f"revision {revision}: {kind}/{name}")
            for (kind, name), data in sorted(target.items()) if current.get((kind, name)) != data]
    removals = sorted(k for k in current if k not in target)
    return docs, removals
