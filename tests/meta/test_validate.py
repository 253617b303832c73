"""Validation of definition sets: every problem named by file and JSON pointer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rapport.cli import main
from rapport.errors import MetadataError
from rapport.workspace import Workspace


def _project(**extra_fields: dict) -> dict:
    fields = [
        {"name": "name", "type": "text", "required": True},
        {"name": "account", "type": "lookup", "target": "account"},
        {"name": "budget", "type": "currency"},
        {"name": "spent", "type": "currency"},
        {"name": "phase", "type": "picklist", "options": ["plan", "build", "done"]},
    ]
    fields += list(extra_fields.values())
    return {"name": "project", "fields": fields}


def _problems(ws: Workspace, *docs: dict) -> list[str]:
    with pytest.raises(MetadataError) as err:
        ws.validate(ws.documents_from(docs[0] if len(docs) == 1 else list(docs), "input.json"))
    return [str(p) for p in err.value.problems]


def test_valid_object_passes(ws: Workspace) -> None:
    meta = ws.validate(ws.documents_from(_project(remaining={
        "name": "remaining", "type": "formula", "result_type": "currency",
        "expression": "budget - spent"})))
    assert "project" in meta.objects


@pytest.mark.parametrize(("field", "pointer", "words"), [
    ({"name": "x", "type": "colour"}, "/fields/5/type", "colour"),
    ({"name": "x", "type": "lookup", "target": "nowhere"}, "/fields/5/target", "unknown object 'nowhere'"),
    ({"name": "x", "type": "formula", "result_type": "decimal", "expression": "budget *"},
     "/fields/5/expression", "syntax"),
    ({"name": "x", "type": "formula", "result_type": "decimal", "expression": "nope + 1"},
     "/fields/5/expression", "unknown field 'nope'"),
    ({"name": "x", "type": "formula", "result_type": "decimal", "expression": "frobnicate(1)"},
     "/fields/5/expression", "frobnicate"),
    ({"name": "x", "type": "formula", "result_type": "text", "expression": "account.nope"},
     "/fields/5/expression", "account.nope"),
    ({"name": "select", "type": "text"}, "/fields/5/name", "reserved"),
    ({"name": "x", "type": "rollup", "source": "contact", "relation": "account", "aggregate": "count"},
     "/fields/5/relation", "not a child"),
    ({"name": "x", "type": "picklist", "options": ["a", "a"]}, "/fields/5/options", "non-unique"),
    ({"name": "x", "type": "text", "pattern": "(["}, "/fields/5/pattern", "regular expression"),
    ({"name": "x", "type": "autonumber", "format": "P-"}, "/fields/5/format", "P-"),
])
def test_field_problems_name_their_pointer(ws: Workspace, field: dict, pointer: str, words: str) -> None:
    problems = _problems(ws, _project(x=field))
    assert any(p.startswith(f"input.json:{pointer}") and words in p for p in problems), problems


def test_duplicate_field_names(ws: Workspace) -> None:
    problems = _problems(ws, _project(x={"name": "name", "type": "text"}))
    assert any("/fields/5/name" in p and "duplicate field name" in p for p in problems)


def test_formula_cycle_is_reported(ws: Workspace) -> None:
    doc = _project(a={"name": "a", "type": "formula", "result_type": "decimal", "expression": "b + 1"},
                   b={"name": "b", "type": "formula", "result_type": "decimal", "expression": "a + 1"})
    problems = _problems(ws, doc)
    assert any("formula cycle" in p for p in problems), problems


def test_kanban_and_workflow_need_a_picklist(ws: Workspace) -> None:
    doc = _project()
    doc["views"] = {"kanban": {"group_by": "name"}}
    flow = {"name": "project_flow", "object": "project", "field": "budget",
            "stages": [{"name": "plan"}]}
    problems = _problems(ws, doc, flow)
    assert any("/0/views/kanban/group_by" in p for p in problems), problems
    assert any("/1/field" in p and "picklist" in p for p in problems), problems


def test_every_problem_reported_at_once_and_nothing_applied(ws: Workspace) -> None:
    bad = _project(x={"name": "x", "type": "lookup", "target": "nowhere"},
                   y={"name": "y", "type": "formula", "result_type": "text", "expression": "zz"})
    with pytest.raises(MetadataError) as err:
        ws.apply(ws.documents_from([bad, {"name": "other", "fields": [{"name": "n", "type": "text"}]}]))
    assert len(err.value.problems) >= 2
    assert "project" not in ws.refresh().objects and "other" not in ws.meta.objects
    assert ws.meta.revision == 1


def test_duplicate_definitions_across_files(ws: Workspace) -> None:
    problems = _problems(ws, _project(), _project())
    assert any("duplicate object 'project'" in p for p in problems)


def test_name_with_trailing_newline_is_refused(ws: Workspace) -> None:
    doc = _project()
    doc["name"] = "project\n"
    assert _problems(ws, doc)


def test_cli_validate_prints_file_pointer_messages(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_project()))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_project(x={"name": "x", "type": "lookup", "target": "nowhere"})))
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x",\n "fields": [}')
    runner = CliRunner()
    ok = runner.invoke(main, ["--workspace", str(tmp_path / "none"), "meta", "validate", str(good)])
    assert ok.exit_code == 0, ok.output
    result = runner.invoke(main, ["--workspace", str(tmp_path / "none"), "meta", "validate",
                                  str(bad), str(broken)])
    assert result.exit_code == 1
    assert f"{bad}:/fields/5/target: lookup to unknown object 'nowhere'" in result.output
    assert f"{broken}:/: invalid JSON at line 2 column" in result.output


def test_core_metadata_validates_from_the_cli() -> None:
    core = Path(__file__).resolve().parents[2] / "metadata" / "core"
    result = CliRunner().invoke(main, ["--workspace", "/nonexistent-ws", "meta", "validate", str(core)])
    assert result.exit_code == 0, result.output
