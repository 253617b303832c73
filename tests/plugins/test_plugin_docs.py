"""The plugin guide is tested: every hook spec is documented (docstring, and in
docs/plugins.md with its signature), the guide's complete example is the file in
examples/plugins/ and that plugin works."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from pluginkit import client_for

import rapport
from rapport.plugins import hookspecs
from rapport.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "plugins.md").read_text("utf-8")
EXAMPLE = ROOT / "examples" / "plugins" / "credit_limit.py"
SPECS = {name: fn for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
         if hasattr(fn, "rapport_spec")}


def signature(fn: object) -> str:
    return f"{fn.__name__}({', '.join(inspect.signature(fn).parameters)})"  # type: ignore[attr-defined]


def test_there_are_the_hooks_of_the_contract() -> None:
    assert {"startup", "register_field_types", "register_formula_functions",
            "record_before_save", "record_after_save", "record_after_commit",
            "record_before_delete", "record_after_delete", "stage_before_transition",
            "stage_after_transition", "approval_submitted", "approval_decided",
            "register_routes", "register_actions", "register_template_dirs",
            "register_static_dirs", "scheduled_jobs"} <= set(SPECS)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_hook_is_documented(name: str) -> None:
    fn = SPECS[name]
    doc = inspect.getdoc(fn) or ""
    assert len(doc) > 80, f"{name} has no real docstring"
    assert "transaction" in doc.lower(), f"{name}: say in which transaction it runs"
    for arg in inspect.signature(fn).parameters:
        if arg != "workspace":
            assert f"``{arg}``" in doc, f"{name}: argument {arg} is not described"
    assert f"### {signature(fn)}\n" in GUIDE, f"docs/plugins.md lacks '### {signature(fn)}'"


def test_the_guide_documents_no_hook_that_does_not_exist() -> None:
    documented = re.findall(r"^### ([a-z_]+)\(", GUIDE, re.M)
    hooks = [d for d in documented if d not in {"webhooks", "duplicates", "rating"}]
    assert set(hooks) == set(SPECS)


def test_the_readme_links_the_guide() -> None:
    assert "docs/plugins.md" in (ROOT / "README.md").read_text("utf-8")


def test_the_example_of_the_guide_is_the_example_file() -> None:
    source = EXAMPLE.read_text("utf-8")
    assert f"```python\n{source}```" in GUIDE


def test_the_example_plugin_works(tmp_path: Path, database_url: str) -> None:
    root = tmp_path / "ws"
    Workspace.init(root, database_url).close()
    ws = Workspace.open(root, database_url, plugin_dirs=[EXAMPLE.parent])
    try:
        assert ws.plugins.info("credit_limit").hooks == [
            "record_before_save", "register_actions", "register_formula_functions",
            "register_routes", "scheduled_jobs"]
        with pytest.raises(rapport.ValidationError) as refused:
            ws.records.create("opportunity", {"name": "Huge", "amount": 250000})
        assert refused.value.problems[0].field == "amount"
        from pluginkit import user

        sam = user(ws, "sam@example.com")
        deal = ws.records.create("opportunity", {"name": "Fine", "amount": 5000,
                                                 "owner": sam.id})  # sam's deal
        assert ws.actions.run("credit_review", "opportunity", [deal["id"]], sam).message == \
            "1 sent to credit review"
        client = client_for(ws, "sam@example.com", "member")
        assert client.get("/x/credit/status").json() == {"limit": 100000.0, "waiting": 1}
        from rapport.plugins.scheduler import jobs_of

        [job] = [j for j in jobs_of(ws) if j.plugin == "credit_limit"]
        assert (job.name, job.schedule.text) == ("credit_limit.morning_count", "0 6 * * mon-fri")
        ws.apply(ws.documents_from({"name": "deal_check", "fields": [
            {"name": "amount", "type": "currency"},
            {"name": "too_big", "type": "formula", "result_type": "boolean",
             "expression": "amount > credit_limit()"}]}))
        assert ws.records.create("deal_check", {"amount": 200000})["too_big"] is True
    finally:
        ws.close()
