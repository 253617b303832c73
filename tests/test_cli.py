"""The rapport command line, end to end on a real workspace directory."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import inspect, text

from rapport.auth.users import actor_for_token, authenticate
from rapport.cli import main
from rapport.workspace import Workspace

PROJECT = {"name": "project", "label": {"en": "Project", "zh-CN": "项目"},
           "fields": [{"name": "name", "type": "text", "required": True},
                      {"name": "account", "type": "lookup", "target": "account"}]}


def _run(root: Path, *args: str, database_url: str | None = None):
    prefix = ["--workspace", str(root)]
    if database_url:
        prefix += ["--database", database_url]
    return CliRunner().invoke(main, [*prefix, *args], catch_exceptions=False)


def test_init_apply_export_users(tmp_path: Path, database_url: str) -> None:
    root = tmp_path / "crm"
    result = CliRunner().invoke(main, ["init", str(root), "--database", database_url,
                                       "--admin-email", "admin@example.com",
                                       "--admin-password", "correct horse"])
    assert result.exit_code == 0, result.output
    assert "admin user admin@example.com created" in result.output
    again = CliRunner().invoke(main, ["init", str(root), "--database", database_url])
    assert again.exit_code == 1 and "already a workspace" in again.output

    spec = tmp_path / "project.json"
    spec.write_text(json.dumps(PROJECT))
    plan = _run(root, "meta", "apply", str(spec), "--plan", database_url=database_url)
    assert plan.exit_code == 0 and "+ create table project" in plan.output
    ws = Workspace.open(root, database_url)
    assert "project" not in ws.meta.objects
    applied = _run(root, "meta", "apply", str(spec), "-m", "projects", database_url=database_url)
    assert applied.exit_code == 0 and "applied as revision 2" in applied.output
    assert "project" in ws.refresh().objects

    out = tmp_path / "export"
    exported = _run(root, "meta", "export", str(out), database_url=database_url)
    assert exported.exit_code == 0 and (out / "objects" / "project.json").exists()

    created = _run(root, "user", "create", "sam@example.com", "--role", "manager",
                   "--password", "long enough", database_url=database_url)
    assert created.exit_code == 0, created.output
    token = _run(root, "user", "token", "sam@example.com", database_url=database_url).output.strip()
    actor, scope = actor_for_token(ws, token)
    assert actor.email == "sam@example.com" and actor.role == "manager" and scope == "read_write"
    assert actor_for_token(ws, token + "x") is None
    assert authenticate(ws, "sam@example.com", "long enough").role == "manager"
    assert authenticate(ws, "sam@example.com", "wrong password") is None
    short = _run(root, "user", "create", "kim@example.com", "--password", "short",
                 database_url=database_url)
    assert short.exit_code == 1 and "at least 8 characters" in short.output
    ws.close()


def test_apply_reports_invalid_files_and_changes_nothing(tmp_path: Path, ws: Workspace,
                                                         database_url: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**PROJECT, "fields": [{"name": "x", "type": "lookup", "target": "zz"}]}))
    result = _run(ws.root, "meta", "apply", str(bad), database_url=database_url)
    assert result.exit_code == 1
    assert f"{bad}:/fields/0/target: lookup to unknown object 'zz'" in result.output
    assert ws.refresh().revision == 1


def test_apply_refuses_data_loss_without_flag(tmp_path: Path, ws: Workspace, database_url: str) -> None:
    spec = tmp_path / "project.json"
    spec.write_text(json.dumps(PROJECT))
    assert _run(ws.root, "meta", "apply", str(spec), database_url=database_url).exit_code == 0
    ws.refresh()
    ws.records.create("project", {"name": "keep me"})
    spec.write_text(json.dumps({**PROJECT, "fields": [{"name": "account", "type": "lookup",
                                                       "target": "account"}]}))
    refused = _run(ws.root, "meta", "apply", str(spec), database_url=database_url)
    assert refused.exit_code == 1 and "DESTROYS DATA" in refused.output
    assert ws.records.get("project", 1)["name"] == "keep me"
    allowed = _run(ws.root, "meta", "apply", str(spec), "--allow-data-loss", database_url=database_url)
    assert allowed.exit_code == 0, allowed.output


def test_migrate_repairs_a_missing_column_and_index(ws: Workspace, database_url: str) -> None:
    assert _run(ws.root, "migrate", "--plan", database_url=database_url).output.strip() == \
        "the schema is up to date"
    with ws.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_opportunity_stage_amount"))
    plan = _run(ws.root, "migrate", "--plan", database_url=database_url)
    assert "+ add index ix_opportunity_stage_amount" in plan.output
    done = _run(ws.root, "migrate", database_url=database_url)
    assert done.exit_code == 0
    assert _run(ws.root, "migrate", "--plan", database_url=database_url).output.strip() == \
        "the schema is up to date"


def test_migrate_adds_what_a_newer_release_adds_to_the_system_tables(
        ws: Workspace, database_url: str) -> None:
    with ws.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_rapport_stage_history_visits"))
        conn.execute(text("DROP TABLE rapport_data_version"))
    plan = _run(ws.root, "migrate", "--plan", database_url=database_url)
    assert "+ add index ix_rapport_stage_history_visits" in plan.output
    assert _run(ws.root, "migrate", database_url=database_url).exit_code == 0
    assert _run(ws.root, "migrate", "--plan", database_url=database_url).output.strip() == \
        "the schema is up to date"
    assert "rapport_data_version" in inspect(ws.engine).get_table_names()


def test_commands_outside_a_workspace_say_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--workspace", str(tmp_path), "migrate"])
    assert result.exit_code == 1 and "not a Rapport workspace" in result.output
