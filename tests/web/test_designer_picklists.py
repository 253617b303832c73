"""Picklists in the designer: add, reorder, relabel, deactivate; a renamed value migrates
the stored records (shown in the plan) and follows into the workflow, rules and flows."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient
from test_designer_objects import apply_plan, post

from conftest import block
from rapport.workspace import Workspace


def option_form(ws: Workspace, obj: str, field: str, change: dict[str, str] | None = None,
                drop: set[str] = frozenset(), order: list[str] | None = None,
                inactive: set[str] = frozenset()) -> dict[str, Any]:
    """The field form as the browser sends it, with values renamed / dropped / reordered."""
    f = ws.meta.objects[obj].field(field)
    values = [v for v in (order or list(f.option_values)) if v not in drop]
    change = change or {}
    return {"name": f.name, "type": f.type, "required": "1" if f.required else "",
            "default": (change.get(f.default, f.default) if f.default else ""),
            "opt_value": [change.get(v, v) for v in values], "opt_was": values,
            "opt_label_en": ["" for _ in values], "opt_label_zh": ["" for _ in values],
            "opt_color": ["#000000" for _ in values],
            "opt_active": ["0" if v in inactive else "1" for v in values]}


def test_rename_a_value_migrates_records_and_follows_the_workflow(client: TestClient,
                                                                  ws: Workspace) -> None:
    acc = ws.records.create("account", {"name": "Acme"})
    opp = ws.records.create("opportunity", {"name": "Big", "account": acc["id"],
                                            "stage": "negotiation", "amount": 10,
                                            "close_date": "2030-01-01"})
    form = option_form(ws, "opportunity", "stage", change={"negotiation": "negotiating"})
    r = post(client, "/designer/objects/opportunity/fields/stage", form)
    assert r.status_code == 200, r.text[-3000:]
    steps = block(r.text, "plan-steps", "ol")
    assert "rename value opportunity.stage ('negotiation' -> 'negotiating', 1 records migrated)" \
        in steps
    assert "DESTROYS" not in steps
    assert "workflow/opportunity_sales" in block(r.text, "plan-also", "p")
    assert apply_plan(client, r.text).status_code == 303
    ws.refresh()
    assert ws.records.get("opportunity", opp["id"])["stage"] == "negotiating"
    stages = [s["name"] for s in ws.meta.workflows["opportunity_sales"].data["stages"]]
    assert "negotiating" in stages and "negotiation" not in stages
    rule = ws.meta.objects["opportunity"].validation_rules[0]
    assert "'negotiating'" in rule.when
    # reports filtering on the value follow too
    form = option_form(ws, "opportunity", "stage", change={"closed_lost": "lost"})
    r = post(client, "/designer/objects/opportunity/fields/stage", form)
    assert "report/open_pipeline" in block(r.text, "plan-also", "p")
    assert apply_plan(client, r.text).status_code == 303
    ws.refresh()
    assert ws.meta.reports["open_pipeline"].data["filters"][0]["value"] == ["closed_won", "lost"]
    # the stored definition keeps no rename marker: applying it again changes nothing
    stored = ws.state.documents[("object", "opportunity")]
    stage = next(f for f in stored["fields"] if f["name"] == "stage")
    assert not any(isinstance(o, dict) and "renamed_from" in o for o in stage["options"])


def test_reorder_relabel_and_deactivate_values(client: TestClient, ws: Workspace) -> None:
    f = ws.meta.objects["opportunity"].field("stage")
    order = list(reversed(f.option_values))
    form = option_form(ws, "opportunity", "stage", order=order, inactive={"qualification"})
    form["opt_label_zh"] = ["阶段" + str(i) for i in range(len(order))]
    r = post(client, "/designer/objects/opportunity/fields/stage", form)
    assert r.status_code == 200, r.text[-3000:]
    assert apply_plan(client, r.text).status_code == 303
    f = ws.refresh().objects["opportunity"].field("stage")
    assert list(f.option_values) == order
    assert next(o for o in f.options if o.value == "qualification").active is False
    assert f.options[0].label == "阶段0"


def test_dropping_a_value_in_use_is_data_loss(client: TestClient, ws: Workspace) -> None:
    ws.apply(ws.documents_from({"name": "thing", "fields": [
        {"name": "name", "type": "text"},
        {"name": "phase", "type": "picklist", "options": ["plan", "build"]}]}))
    ws.records.create("thing", {"name": "a", "phase": "build"})
    form = option_form(ws, "thing", "phase", drop={"build"})
    r = post(client, "/designer/objects/thing/fields/phase", form)
    assert r.status_code == 200
    assert "1 values would not convert" in block(r.text, "plan-steps", "ol")
    assert apply_plan(client, r.text).status_code == 422  # not without the second confirmation
    assert ws.refresh().objects["thing"].field("phase").option_values == ("plan", "build")


def test_add_a_value(client: TestClient, ws: Workspace) -> None:
    form = option_form(ws, "lead", "status") if ws.meta.objects["lead"].has_field("status") \
        else None
    if form is None:
        return
    form["opt_value"].append("parked")
    form["opt_was"].append("")
    for key in ("opt_label_en", "opt_label_zh"):
        form[key].append("")
    form["opt_color"].append("#000000")
    form["opt_active"].append("1")
    r = post(client, "/designer/objects/lead/fields/status", form)
    assert r.status_code == 200, r.text[-3000:]
    apply_plan(client, r.text)
    assert "parked" in ws.refresh().objects["lead"].field("status").option_values
