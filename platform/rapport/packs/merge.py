"""Three-way merge of a pack's definitions on upgrade.

``base`` is a definition as the installed version shipped it, ``theirs`` as the new
version ships it, ``ours`` as the workspace holds it now (with the admin's changes).
What the admin changed is kept; what they left as shipped follows the new version:

* a key (label, views, a field's label or help...) the admin left as shipped takes the
  new version's value; one they changed keeps theirs (relabels, reordered layouts);
  views merge one by one (a reordered list keeps, a kanban card the admin left follows);
* fields the admin added are kept, in their place; fields the new version adds are
  appended; fields the new version drops stay (with their data) and are reported;
* picklist options: the new version's, then the ones the admin added;
* identities (``id``) always stay the workspace's, so no column is dropped and re-made.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

_MISSING = object()


def _opt_value(o: Any) -> Any:
    return o if isinstance(o, str) else o.get("value")


def _options(base: list[Any], theirs: list[Any], ours: list[Any]) -> list[Any]:
    shipped = {_opt_value(o) for o in base}
    out = list(theirs)
    have = {_opt_value(o) for o in out}
    for o in ours:  # the admin's own options (and relabelled shipped ones) are kept
        v = _opt_value(o)
        if v not in shipped and v not in have:
            out.append(o)
            have.add(v)
        elif v in shipped and v in have:
            before = next((b for b in base if _opt_value(b) == v), None)
            if o != before:  # the admin changed a shipped option (a label, a colour)
                out[[_opt_value(x) for x in out].index(v)] = o
    return out


def merge_keys(base: Mapping[str, Any], theirs: Mapping[str, Any], ours: Mapping[str, Any],
               skip: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    out: dict[str, Any] = {}
    for key in list(ours) + [k for k in theirs if k not in ours]:
        if key in skip:
            continue
        b, t, o = base.get(key, _MISSING), theirs.get(key, _MISSING), ours.get(key, _MISSING)
        if key == "id":
            value = o if o is not _MISSING else t
        elif key == "views" and all(isinstance(x, Mapping) for x in (b, t, o)):
            value = merge_keys(b, t, o)  # each view on its own
        elif key == "options" and isinstance(t, list) and isinstance(o, list):
            value = _options(b if isinstance(b, list) else [], t, o)
        elif o is _MISSING:
            value = t if b is _MISSING else _MISSING  # the admin removed it: stays removed
        elif o == b or (b is _MISSING and t is not _MISSING and o == t):
            value = t
        else:
            value = o
        if value is not _MISSING:
            out[key] = copy.deepcopy(value)
    return out


def merge_fields(base: list[dict[str, Any]], theirs: list[dict[str, Any]],
                 ours: list[dict[str, Any]], notes: list[str], where: str
                 ) -> list[dict[str, Any]]:
    b = {f["name"]: f for f in base}
    t = {f["name"]: f for f in theirs}
    out = []
    for f in ours:
        name = f["name"]
        if name in t:
            out.append(merge_keys(b.get(name, {}), t[name], f))
        else:
            if name in b:
                notes.append(f"{where}: field {name} is no longer shipped; kept with its data")
            out.append(copy.deepcopy(f))
    have = {f["name"] for f in ours}
    for f in theirs:
        if f["name"] not in have and f["name"] not in b:
            out.append(copy.deepcopy(f))
    return out


def merge_definition(kind: str, base: Mapping[str, Any] | None, theirs: Mapping[str, Any],
                     ours: Mapping[str, Any] | None, notes: list[str]) -> dict[str, Any]:
    """The definition to apply. ``ours`` None: new to the workspace, taken as shipped."""
    if ours is None:
        return copy.deepcopy(dict(theirs))
    base = base or {}
    if kind == "object":
        merged = merge_keys(base, theirs, ours, skip={"fields"})
        merged["fields"] = merge_fields(list(base.get("fields", ())), list(theirs["fields"]),
                                        list(ours["fields"]), notes, f"object {ours['name']}")
        return merged
    return merge_keys(base, theirs, ours)


def merge_extension(base: Mapping[str, Any] | None, theirs: Mapping[str, Any],
                    target: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    """An extension's fields merged with the extended object's current fields of the same
    names (the admin may have relabelled them); returns the extension to apply."""
    base_fields = list((base or {}).get("fields", ()))
    shipped = {f["name"] for f in base_fields} | {f["name"] for f in theirs["fields"]}
    ours = [f for f in target.get("fields", ()) if f["name"] in shipped]
    fields = merge_fields(base_fields, list(theirs["fields"]), ours, notes,
                          f"extension of {theirs['object']}")
    out = {k: v for k, v in theirs.items() if k != "$schema"}
    out["fields"] = fields
    return out
