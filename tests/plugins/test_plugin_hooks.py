"""Hooks at run time: a refusal reaches the user, a crash is named and leaves no trace,
after-commit failures are kept and retried, collection hooks skip a broken plugin."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import rapport
from rapport.errors import ValidationError
from rapport.plugins import PluginError
from rapport.plugins.failures import failures, retry_due
from rapport.workspace import Workspace


class Crashing:
    """Refuses accounts named 'Refused'; crashes on accounts named 'Crash'."""

    name = "crashing"

    @rapport.hookimpl
    def record_before_save(self, record: dict[str, Any]) -> None:
        if record.get("name") == "Refused":
            raise rapport.ValidationError("not this name", field="name")
        if record.get("name") == "Crash":
            raise ZeroDivisionError("division by zero")

    @rapport.hookimpl
    def record_before_delete(self, record: dict[str, Any]) -> None:
        if record.get("name") == "Keep":
            raise KeyError("missing")


class Flaky:
    """An after-commit hook that fails while ``broken`` is set."""

    name = "flaky"

    def __init__(self) -> None:
        self.broken = True
        self.seen: list[tuple[str, Any]] = []

    @rapport.hookimpl
    def record_after_commit(self, object_name: str, record: dict[str, Any],
                            previous: dict[str, Any] | None) -> None:
        if self.broken:
            raise ConnectionError("the ERP is down")
        self.seen.append((object_name, record["annual_revenue"]))


class Steady:
    name = "steady"

    def __init__(self) -> None:
        self.seen: list[int] = []

    @rapport.hookimpl
    def record_after_commit(self, record: dict[str, Any]) -> None:
        self.seen.append(record["id"])


def _open(tmp_path: Path, database_url: str, *plugins: Any) -> Workspace:
    root = tmp_path / "ws"
    if not (root / "rapport.json").exists():
        Workspace.init(root, database_url).close()
    return Workspace.open(root, database_url, plugin_modules=list(plugins))


def _count(ws: Workspace, table: str) -> int:
    with ws.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(ws.table(table))) or 0)


def test_a_refusal_reaches_the_user_and_a_crash_is_named(tmp_path: Path,
                                                          database_url: str) -> None:
    ws = _open(tmp_path, database_url, Crashing())
    try:
        with pytest.raises(ValidationError) as refused:
            ws.records.create("account", {"name": "Refused"})
        assert refused.value.problems[0].field == "name"
        history = _count(ws, "rapport_history")
        with pytest.raises(PluginError) as crashed:
            ws.records.create("account", {"name": "Crash"})
        assert str(crashed.value) == ("plugin 'crashing' failed in record_before_save: "
                                      "ZeroDivisionError: division by zero")
        assert _count(ws, "account") == 0 and _count(ws, "rapport_history") == history
        # in an import, the crash stops the whole batch: nothing of it remains
        with pytest.raises(PluginError):
            ws.records.create_many("account", [{"name": "Fine"}, {"name": "Crash"}])
        assert _count(ws, "account") == 0
        keep = ws.records.create("account", {"name": "Keep"})
        with pytest.raises(PluginError, match="record_before_delete: KeyError"):
            ws.records.delete("account", keep["id"])
        assert ws.records.get("account", keep["id"])["name"] == "Keep"
    finally:
        ws.close()


def test_an_api_write_refused_by_a_crashing_plugin_is_a_clear_problem(
        tmp_path: Path, database_url: str) -> None:
    from pluginkit import client_for

    ws = _open(tmp_path, database_url, Crashing())
    try:
        from rapport.auth.users import create_token

        client = client_for(ws, "ann@example.com")
        token = create_token(ws, "ann@example.com", None, "read_write")
        r = client.post("/api/v1/records/account", json={"name": "Crash"},
                        headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 500
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "plugin 'crashing' failed in record_before_save" in r.json()["detail"]
        assert _count(ws, "account") == 0
    finally:
        ws.close()


def test_after_commit_failures_are_kept_and_retried(tmp_path: Path, database_url: str,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    flaky, steady = Flaky(), Steady()
    ws = _open(tmp_path, database_url, flaky, steady)
    try:
        with caplog.at_level(logging.ERROR, "rapport.plugins"):
            account = ws.records.create("account", {"name": "Acme", "annual_revenue": "12.50"})
        assert steady.seen == [account["id"]]  # the other plugin still got its call
        assert "plugin 'flaky' failed in record_after_commit" in caplog.text
        [kept] = failures(ws)
        assert (kept["plugin"], kept["hook"], kept["status"], kept["attempts"]) == \
            ("flaky", "record_after_commit", "pending", 1)
        assert "ConnectionError: the ERP is down" in kept["error"]
        assert ws.plugins.info("flaky").problems  # shown by rapport plugins list

        later = datetime.now(UTC) + timedelta(minutes=5)
        assert retry_due(ws, later) == 0  # still down: the next attempt waits longer
        [again] = failures(ws)
        assert again["attempts"] == 2 and again["next_attempt_at"] > later

        flaky.broken = False
        assert retry_due(ws, later) == 0  # not due yet
        assert retry_due(ws, later + timedelta(hours=1)) == 1
        from decimal import Decimal
        assert flaky.seen == [("account", Decimal("12.50"))]  # values typed again
        assert failures(ws) == []
    finally:
        ws.close()


def test_after_commit_gives_up_but_keeps_the_call(tmp_path: Path, database_url: str) -> None:
    flaky = Flaky()
    ws = _open(tmp_path, database_url, flaky)
    try:
        ws.records.create("account", {"name": "Acme"})
        at = datetime.now(UTC)
        for _ in range(10):
            at += timedelta(days=1)
            retry_due(ws, at)
        [dead] = failures(ws)
        assert dead["status"] == "dead" and dead["attempts"] == 8
    finally:
        ws.close()


def test_a_rolled_back_write_calls_no_after_commit_hook(tmp_path: Path,
                                                        database_url: str) -> None:
    steady = Steady()
    ws = _open(tmp_path, database_url, steady)
    try:
        with ws.transaction() as conn:
            ws.records.create("account", {"name": "Gone"}, conn=conn)
            conn.info["rapport_rollback"] = True
        assert steady.seen == []
    finally:
        ws.close()


class BadRoutes:
    name = "badroutes"

    @rapport.hookimpl
    def register_routes(self) -> list[Any]:
        raise RuntimeError("oops")

    @rapport.hookimpl
    def register_template_dirs(self) -> list[str]:
        raise RuntimeError("no templates")


def test_a_plugin_failing_to_register_routes_does_not_stop_the_app(
        tmp_path: Path, database_url: str) -> None:
    from pluginkit import client_for

    ws = _open(tmp_path, database_url, BadRoutes())
    try:
        client = client_for(ws, "ann@example.com")
        assert client.get("/").status_code == 200
        problems = ws.plugins.info("badroutes").problems
        assert any("failed in register_routes: RuntimeError: oops" in p for p in problems)
        assert any("register_template_dirs" in p for p in problems)
    finally:
        ws.close()
