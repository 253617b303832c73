"""Schema plans: readable steps, renames that keep data, refused data loss, one transaction."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from rapport.errors import DataLossRefused, MetadataError
from rapport.records.query import Query
from rapport.storage.plan import PlanRefused
from rapport.workspace import Workspace


def _doc(ws: Workspace, name: str) -> dict[str, Any]:
    return copy.deepcopy(dict(ws.state.documents[("object", name)]))


def _apply(ws: Workspace, doc: Any, **kwargs: Any):
    return ws.apply(ws.documents_from(doc), **kwargs)


@pytest.fixture
def project(ws: Workspace) -> Workspace:
    _apply(ws, {"name": "project", "fields": [
        {"name": "name", "type": "text", "required": True},
        {"name": "code", "type": "text"},
        {"name": "budget", "type": "currency"},
        {"name": "account", "type": "lookup", "target": "account"},
    ]})
    acme = ws.records.create("account", {"name": "Acme"})
    for i, code in enumerate(["12", "x7", "30", None]):
        ws.records.create("project", {"name": f"P{i}", "code": code, "budget": 100 * i,
                                      "account": acme["id"]})
    return ws


def _values(ws: Workspace, field: str) -> list[Any]:
    from rapport.records.query import Query

    return [r.get(field) for r in ws.records.query("project", Query(sort=[("name", False)])).data]


def test_add_field_plan_then_apply(project: Workspace) -> None:
    doc = _doc(project, "project")
    doc["fields"].append({"name": "priority", "type": "picklist", "options": ["low", "high"],
                          "indexed": True})
    plan = project.plan(project.documents_from(doc))
    assert any(line.startswith("+ add column project.priority") for line in plan.lines())
    assert any("add index" in line for line in plan.lines())
    assert "priority" not in project.meta.objects["project"].field_names  # nothing changed yet
    _apply(project, doc)
    assert _values(project, "priority") == [None] * 4
    project.records.update("project", 1, {"priority": "high"})
    assert project.records.get("project", 1)["priority"] == "high"


def test_rename_keeps_data(project: Workspace) -> None:
    doc = _doc(project, "project")
    for f in doc["fields"]:
        if f["name"] == "budget":
            f["name"] = "planned_budget"
            del f["id"]
            f["renamed_from"] = "budget"
    plan = _apply(project, doc)
    assert any("rename column project.planned_budget" in line for line in plan.lines())
    assert [str(v) for v in _values(project, "planned_budget")] == ["0.00", "100.00", "200.00", "300.00"]


def test_rename_by_identity_keeps_data(project: Workspace) -> None:
    doc = _doc(project, "project")  # carries the stable ids
    next(f for f in doc["fields"] if f["name"] == "code")["name"] = "reference"
    _apply(project, doc)
    assert _values(project, "reference") == ["12", "x7", "30", None]


def test_rename_colliding_with_another_field_is_refused(project: Workspace) -> None:
    doc = _doc(project, "project")
    f = next(f for f in doc["fields"] if f["name"] == "budget")
    del f["id"]
    f["name"], f["renamed_from"] = "code", "budget"
    with pytest.raises(MetadataError):
        _apply(project, doc)
    assert [str(v) for v in _values(project, "budget")] == ["0.00", "100.00", "200.00", "300.00"]


def test_retype_text_to_integer_refuses_naming_the_rows(project: Workspace) -> None:
    doc = _doc(project, "project")
    next(f for f in doc["fields"] if f["name"] == "code")["type"] = "integer"
    plan = project.plan(project.documents_from(doc))
    step = next(s for s in plan.steps if s.action == "retype_column")
    assert step.destructive and step.affected == 1
    assert "1 values would not convert" in step.describe() and "x7" in step.describe()
    with pytest.raises(DataLossRefused):
        _apply(project, doc)
    assert _values(project, "code") == ["12", "x7", "30", None]
    _apply(project, doc, allow_data_loss=True)
    assert _values(project, "code") == [12, None, 30, None]


def test_retype_integer_to_text_converts(project: Workspace) -> None:
    doc = _doc(project, "project")
    next(f for f in doc["fields"] if f["name"] == "budget")["type"] = "text"
    _apply(project, doc)
    assert _values(project, "budget") == ["0.00", "100.00", "200.00", "300.00"]


def test_drop_field_with_data_needs_consent(project: Workspace) -> None:
    doc = _doc(project, "project")
    doc["fields"] = [f for f in doc["fields"] if f["name"] != "code"]
    plan = project.plan(project.documents_from(doc))
    assert plan.destructive
    assert any("3 values would be lost" in line for line in plan.lines())
    with pytest.raises(DataLossRefused):
        _apply(project, doc)
    assert "code" in project.refresh().objects["project"].field_names
    _apply(project, doc, allow_data_loss=True)
    assert "code" not in project.meta.objects["project"].field_names
    assert _values(project, "name") == ["P0", "P1", "P2", "P3"]


def test_drop_lookup_field_keeps_other_data(project: Workspace) -> None:
    doc = _doc(project, "project")
    doc["fields"] = [f for f in doc["fields"] if f["name"] != "account"]
    _apply(project, doc, allow_data_loss=True)
    assert _values(project, "code") == ["12", "x7", "30", None]
    # the account can now be deleted: nothing refers to it any more
    project.records.delete("account", 1)


def test_drop_empty_field_is_not_destructive(project: Workspace) -> None:
    doc = _doc(project, "project")
    doc["fields"].append({"name": "notes", "type": "textarea"})
    _apply(project, doc)
    doc = _doc(project, "project")
    doc["fields"] = [f for f in doc["fields"] if f["name"] != "notes"]
    assert not project.plan(project.documents_from(doc)).destructive


def test_composite_index_added_and_dropped(project: Workspace) -> None:
    doc = _doc(project, "project")
    doc["indexes"] = [["account", "budget"]]
    _apply(project, doc)
    names = {i["name"] for i in inspect(project.engine).get_indexes("project")}
    assert "ix_project_account_budget" in names
    doc = _doc(project, "project")
    doc["indexes"] = []
    _apply(project, doc)
    names = {i["name"] for i in inspect(project.engine).get_indexes("project")}
    assert "ix_project_account_budget" not in names


def _indexes(ws: Workspace, table: str) -> dict[str, list[str]]:
    return {i["name"]: i["column_names"] for i in inspect(ws.engine).get_indexes(table)}


def test_the_list_sort_is_indexed_and_covered_columns_are_not_indexed_twice(ws: Workspace) -> None:
    opportunity = _indexes(ws, "opportunity")
    assert opportunity["ix_opportunity_amount_id"] == ["amount", "id"]  # "sort": "-amount"
    assert opportunity["ix_opportunity_stage_amount"] == ["stage", "amount"]
    assert "ix_opportunity_stage" not in opportunity  # the composite starts with stage
    assert "ix_opportunity_account" in opportunity


def test_a_new_list_sort_moves_its_index(project: Workspace) -> None:
    assert _indexes(project, "project")["ix_project_created_at_id"] == ["created_at", "id"]
    doc = _doc(project, "project")
    doc["views"] = {"list": {"columns": ["name", "budget"], "sort": "-budget,name"}}
    plan = project.plan(project.documents_from(doc))
    assert not plan.destructive
    _apply(project, doc)
    indexes = _indexes(project, "project")
    assert indexes["ix_project_budget_id"] == ["budget", "id"]
    assert "ix_project_created_at_id" not in indexes
    top = project.records.query("project", Query(sort=[("budget", True)], limit=1)).data
    assert [r["name"] for r in top] == ["P3"]


def test_new_formula_is_backfilled_and_changed_formula_recomputed(project: Workspace) -> None:
    doc = _doc(project, "project")
    doc["fields"].append({"name": "double", "type": "formula", "result_type": "currency",
                          "expression": "budget * 2"})
    _apply(project, doc)
    assert [str(v) for v in _values(project, "double")] == ["0.00", "200.00", "400.00", "600.00"]
    doc = _doc(project, "project")
    next(f for f in doc["fields"] if f["name"] == "double")["expression"] = "budget * 3"
    _apply(project, doc)
    assert [str(v) for v in _values(project, "double")] == ["0.00", "300.00", "600.00", "900.00"]


def test_new_rollup_is_computed_for_existing_parents(project: Workspace) -> None:
    doc = _doc(project, "account")
    doc["fields"].append({"name": "project_budget", "type": "rollup", "source": "project",
                          "relation": "account", "aggregate": "sum", "field": "budget"})
    doc["fields"].append({"name": "project_count", "type": "rollup", "source": "project",
                          "relation": "account", "aggregate": "count"})
    _apply(project, doc)
    acme = project.records.get("account", 1)
    assert str(acme["project_budget"]) == "600.00" and acme["project_count"] == 4


def test_making_a_field_unique_with_duplicates_is_refused(project: Workspace) -> None:
    project.records.create("project", {"name": "P0"})
    doc = _doc(project, "project")
    next(f for f in doc["fields"] if f["name"] == "name")["unique"] = True
    with pytest.raises(PlanRefused, match="not unique"):
        _apply(project, doc)


def test_new_objects_referring_to_each_other(ws: Workspace) -> None:
    a = {"name": "alpha", "fields": [{"name": "title", "type": "text"},
                                     {"name": "beta", "type": "lookup", "target": "beta"}]}
    b = {"name": "beta", "fields": [{"name": "title", "type": "text"},
                                    {"name": "alpha", "type": "lookup", "target": "alpha"}]}
    _apply(ws, [a, b])
    x = ws.records.create("alpha", {"title": "x"})
    y = ws.records.create("beta", {"title": "y", "alpha": x["id"]})
    ws.records.update("alpha", x["id"], {"beta": y["id"]})


def test_removing_an_object_with_data_needs_consent(project: Workspace) -> None:
    with pytest.raises(DataLossRefused):
        project.apply([], remove=[("object", "project")])
    project.apply([], remove=[("object", "project")], allow_data_loss=True)
    assert "project" not in project.meta.objects
    assert "project" not in inspect(project.engine).get_table_names()


def test_removing_a_referenced_object_is_refused(ws: Workspace) -> None:
    with pytest.raises(MetadataError, match="account"):
        ws.apply([], remove=[("object", "account")], allow_data_loss=True)


def test_export_then_apply_is_a_no_op(project: Workspace, tmp_path: Path) -> None:
    written = project.export(tmp_path / "model")
    assert any(p.name == "project.json" for p in written)
    body = json.loads((tmp_path / "model" / "objects" / "project.json").read_text())
    assert body["$schema"].endswith("object.schema.json") and all("id" in f for f in body["fields"])
    from rapport.meta.loader import read_paths

    plan = project.plan(read_paths([tmp_path / "model"], []))
    assert plan.lines() == ["no schema changes"]


def test_revisions_record_who_and_what(project: Workspace) -> None:
    doc = _doc(project, "project")
    doc["fields"].append({"name": "notes", "type": "textarea"})
    project.apply(project.documents_from(doc), author="ada", comment="notes field")
    latest = project.revisions()[0]
    assert latest["author"] == "ada" and latest["comment"] == "notes field"
    assert any("add column project.notes" in s["text"] for s in latest["changes"]["steps"])


def test_another_process_sees_the_change(project: Workspace, database_url: str) -> None:
    other = Workspace.open(project.root, database_url)
    try:
        assert "notes" not in other.meta.objects["project"].field_names
        doc = _doc(project, "project")
        doc["fields"].append({"name": "notes", "type": "textarea"})
        _apply(project, doc)
        assert "notes" in other.refresh().objects["project"].field_names
        other.records.update("project", 1, {"notes": "seen"})
    finally:
        other.close()


def test_failed_apply_changes_nothing(project: Workspace) -> None:
    """A step that fails half-way (unique index over duplicates) rolls everything back."""
    project.records.create("project", {"name": "dup", "code": "12"})
    doc = _doc(project, "project")
    doc["fields"].append({"name": "extra", "type": "text"})
    doc["indexes"] = [{"fields": ["code"], "unique": True}]
    with pytest.raises(Exception):  # noqa: B017 - the database's own error
        _apply(project, doc)
    assert "extra" not in project.refresh().objects["project"].field_names
    columns = {c["name"] for c in inspect(project.engine).get_columns("project")}
    assert "extra" not in columns
