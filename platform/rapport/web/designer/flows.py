"""The stage workflow and approval flow forms turned into definitions, keeping the keys
the forms do not show (labels of stages and transitions, colours, per-step actions...)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .forms import label_from, label_parts, number, put, text

APPROVER_KINDS = ("role", "manager_of", "field", "users", "team")


def _names(raw: str) -> list[str]:
    return [n for n in (p.strip() for p in raw.split(",")) if n]


def set_text(assignments: Any) -> str:
    """``{"a": "1", "b": "'x'"}`` as ``a = 1; b = 'x'`` for one input."""
    if not isinstance(assignments, Mapping):
        return ""
    return "; ".join(f"{k} = {v}" for k, v in assignments.items())


def set_from(raw: str, errors: dict[str, str], key: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (p.strip() for p in raw.split(";")):
        if not part:
            continue
        name, sep, formula = part.partition("=")
        if not sep or not name.strip() or not formula.strip():
            errors.setdefault(key, f"'{part[:60]}': write field = formula")
            continue
        out[name.strip()] = formula.strip()
    return out


def _rows(form: Any, *keys: str) -> list[dict[str, str]]:
    columns = [form.getlist(k) for k in keys]
    return [{k: str(v).strip()[:10_000] for k, v in zip(keys, values, strict=True)}
            for values in zip(*columns, strict=False)]


def workflow_from_form(form: Any, stored: Mapping[str, Any] | None, name: str
                       ) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    data: dict[str, Any] = copy.deepcopy(dict(stored or {}))
    data["name"] = name
    data["object"] = text(form, "object", 200) or str(data.get("object") or "")
    data["field"] = text(form, "field", 200)
    put(data, "label", label_from(form, "label"))
    if form.get("allow_backward"):
        data["allow_backward"] = True
    else:
        data.pop("allow_backward", None)
    before = {s.get("name"): s for s in (stored or {}).get("stages", [])}
    stages = []
    for i, row in enumerate(_rows(form, "st_name", "st_was", "st_probability", "st_category",
                                  "st_guidance_en", "st_guidance_zh", "st_required")):
        if not row["st_name"]:
            continue
        stage = copy.deepcopy(dict(before.get(row["st_was"]) or {}))
        for key in ("probability", "category", "guidance", "required"):
            stage.pop(key, None)
        stage["name"] = row["st_name"]
        put(stage, "probability", number({"p": row["st_probability"]}, "p", errors, True))
        if "p" in errors:
            errors[f"stages/{i}/probability"] = errors.pop("p")
        if row["st_category"] and row["st_category"] != "open":
            stage["category"] = row["st_category"]
        put(stage, "guidance", label_from({"g_en": row["st_guidance_en"],
                                           "g_zh": row["st_guidance_zh"]}, "g"))
        put(stage, "required", _names(row["st_required"]))
        stages.append(stage)
    data["stages"] = stages
    old_transitions = list((stored or {}).get("transitions", []))
    transitions = []
    for i, row in enumerate(_rows(form, "tr_from", "tr_to", "tr_when", "tr_roles",
                                  "tr_required", "tr_set", "tr_index")):
        if not row["tr_from"] and not row["tr_to"]:
            continue
        index = int(row["tr_index"]) if row["tr_index"].isdigit() else -1
        t = copy.deepcopy(dict(old_transitions[index])) if 0 <= index < len(old_transitions) \
            else {}
        for key in ("when", "roles", "required", "set"):
            t.pop(key, None)
        t["from"], t["to"] = row["tr_from"], row["tr_to"]
        put(t, "when", row["tr_when"])
        put(t, "roles", _names(row["tr_roles"]))
        put(t, "required", _names(row["tr_required"]))
        put(t, "set", set_from(row["tr_set"], errors, f"transitions/{i}/set"))
        transitions.append(t)
    put(data, "transitions", transitions)
    return data, errors


def workflow_rows(data: Mapping[str, Any]) -> dict[str, Any]:
    """What the workflow form shows: its stages and transitions as rows (two blank ones
    to add to)."""
    stages = [{"name": s.get("name", ""), "was": s.get("name", ""),
               "probability": s.get("probability", ""), "category": s.get("category", "open"),
               "guidance": label_parts(s.get("guidance")), "required": ", ".join(s.get("required", []))}
              for s in data.get("stages", [])]
    stages += [{"name": "", "was": "", "probability": "", "category": "open",
                "guidance": ("", ""), "required": ""}] * 2
    transitions = [{"from": t.get("from", ""), "to": t.get("to", ""), "when": t.get("when", ""),
                    "roles": ", ".join(t.get("roles", [])),
                    "required": ", ".join(t.get("required", [])), "set": set_text(t.get("set")),
                    "index": i} for i, t in enumerate(data.get("transitions", []))]
    transitions += [{"from": "", "to": "", "when": "", "roles": "", "required": "", "set": "",
                     "index": ""}] * 2
    return {"stage_rows": stages, "transition_rows": transitions}


def approval_from_form(form: Any, stored: Mapping[str, Any] | None, name: str
                       ) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    data: dict[str, Any] = copy.deepcopy(dict(stored or {}))
    data["name"] = name
    data["object"] = text(form, "object", 200) or str(data.get("object") or "")
    put(data, "label", label_from(form, "label"))
    put(data, "when", text(form, "when", 10_000))
    for flag in ("lock", "allow_recall"):
        data[flag] = bool(form.get(flag))
    old_steps = list((stored or {}).get("steps", []))
    steps = []
    for i, row in enumerate(_rows(form, "sp_name", "sp_kind", "sp_value", "sp_mode",
                                  "sp_quorum", "sp_when", "sp_index")):
        if not row["sp_name"]:
            continue
        index = int(row["sp_index"]) if row["sp_index"].isdigit() else -1
        step = copy.deepcopy(dict(old_steps[index])) if 0 <= index < len(old_steps) else {}
        for key in ("approvers", "mode", "quorum", "when"):
            step.pop(key, None)
        step["name"] = row["sp_name"]
        kind = row["sp_kind"] if row["sp_kind"] in APPROVER_KINDS else "role"
        step["approvers"] = {kind: _names(row["sp_value"]) if kind == "users" else row["sp_value"]}
        if row["sp_mode"] and row["sp_mode"] != "any":
            step["mode"] = row["sp_mode"]
        if row["sp_mode"] == "quorum":
            put(step, "quorum", number({"q": row["sp_quorum"]}, "q", errors, True))
            if "q" in errors:
                errors[f"steps/{i}/quorum"] = errors.pop("q")
        put(step, "when", row["sp_when"])
        steps.append(step)
    data["steps"] = steps
    for outcome in ("on_approve", "on_reject"):
        action = dict(data.get(outcome) or {})
        put(action, "set", set_from(text(form, outcome, 10_000), errors, outcome))
        put(data, outcome, action or None)
    return data, errors


def approval_rows(data: Mapping[str, Any]) -> dict[str, Any]:
    steps = []
    for i, s in enumerate(data.get("steps", [])):
        approvers = s.get("approvers") or {"role": ""}
        kind, value = next(iter(approvers.items()))
        steps.append({"name": s.get("name", ""), "kind": kind,
                      "value": ", ".join(value) if isinstance(value, list) else value,
                      "mode": s.get("mode", "any"), "quorum": s.get("quorum", ""),
                      "when": s.get("when", ""), "index": i})
    steps += [{"name": "", "kind": "role", "value": "", "mode": "any", "quorum": "", "when": "",
               "index": ""}] * 2
    return {"step_rows": steps, "on_approve": set_text((data.get("on_approve") or {}).get("set")),
            "on_reject": set_text((data.get("on_reject") or {}).get("set"))}
