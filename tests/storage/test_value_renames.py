"""``renamed_from`` on a picklist option: the plan says how many records move, the apply
migrates them (picklist and multi-picklist), and the stored definition forgets the marker."""

from __future__ import annotations

from rapport.workspace import Workspace


def thing(options: list) -> dict:
    return {"name": "thing", "fields": [
        {"name": "name", "type": "text"},
        {"name": "phase", "type": "picklist", "options": options[0]},
        {"name": "tags", "type": "multi_picklist", "options": options[1]}]}


def test_renamed_values_migrate(ws: Workspace) -> None:
    ws.apply(ws.documents_from(thing([["plan", "build"], ["red", "blue"]])))
    a = ws.records.create("thing", {"name": "a", "phase": "plan", "tags": ["red", "blue"]})
    b = ws.records.create("thing", {"name": "b", "phase": "build", "tags": ["blue"]})
    docs = ws.documents_from(thing([[{"value": "design", "renamed_from": "plan"}, "build"],
                                    [{"value": "crimson", "renamed_from": "red"}, "blue"]]))
    plan = ws.plan(docs)
    lines = plan.lines()
    assert "~ rename value thing.phase ('plan' -> 'design', 1 records migrated)" in lines
    assert "~ rename value thing.tags ('red' -> 'crimson', 1 records migrated)" in lines
    assert not plan.destructive
    ws.apply(docs)
    assert ws.records.get("thing", a["id"])["phase"] == "design"
    assert ws.records.get("thing", a["id"])["tags"] == ["crimson", "blue"]
    assert ws.records.get("thing", b["id"])["phase"] == "build"
    stored = ws.state.documents[("object", "thing")]
    assert stored["fields"][1]["options"] == ["design", "build"]
    assert ws.plan(ws.documents_from({k: v for k, v in stored.items()})).empty


def test_rename_and_drop_together(ws: Workspace) -> None:
    ws.apply(ws.documents_from(thing([["plan", "build", "old"], ["red"]])))
    ws.records.create("thing", {"name": "a", "phase": "plan"})
    ws.records.create("thing", {"name": "c", "phase": "old"})
    docs = ws.documents_from(thing([[{"value": "design", "renamed_from": "plan"}, "build"],
                                    ["red"]]))
    plan = ws.plan(docs)
    retype = next(s for s in plan.steps if s.action == "retype_column")
    assert retype.affected == 1 and plan.destructive  # only 'old' is lost, not 'plan'
    ws.apply(docs, allow_data_loss=True)
    phases = sorted(str(r["phase"]) for r in ws.records.query("thing", __import__(
        "rapport.records.query", fromlist=["Query"]).Query()).data)
    assert phases == ["None", "design"]
