"""Kept report results: served again while the tables they read are unchanged, computed
afresh after any write to them (from this process or another), never stale."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from reportkit import seed
from sqlalchemy import event, select, text

from rapport.errors import ValidationError
from rapport.records.actor import Actor
from rapport.storage import versions
from rapport.workspace import Workspace

BY_STAGE = {"name": "by_stage", "object": "opportunity", "group_by": [{"field": "stage"}],
            "aggregates": [{"fn": "sum", "field": "amount"}]}


@pytest.fixture
def seeded(ws: Workspace) -> dict:
    return seed(ws)


@pytest.fixture
def statements(ws: Workspace) -> Iterator[list[str]]:
    """The statements of the reports run here (by stage, time in stage): not the look at
    the versions, nor the writes (on PostgreSQL the read engine is the write engine)."""
    seen: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if "GROUP BY opportunity.stage" in statement or "rapport_stage_history.stage" in statement:
            seen.append(statement)

    event.listen(ws.read_engine, "before_cursor_execute", count)
    yield seen
    event.remove(ws.read_engine, "before_cursor_execute", count)


def total(ws: Workspace, actor: Actor | None = None, **kwargs) -> object:
    result = ws.reports.run(BY_STAGE, actor, **kwargs) if actor else ws.reports.run(BY_STAGE, **kwargs)
    return result.totals["sum_amount"]


def test_a_second_run_reads_no_row(ws: Workspace, seeded: dict, statements: list[str]) -> None:
    first = total(ws)
    assert len(statements) == 1
    assert total(ws) == first
    assert len(statements) == 1
    assert ws.reports.cache.hits == 1


def test_a_write_through_the_record_service_is_seen(ws: Workspace, seeded: dict,
                                                     statements: list[str]) -> None:
    before = total(ws)
    ws.records.update("opportunity", seeded["deals"]["A1"], {"amount": 1001})
    assert total(ws) == before + 1
    rid = ws.records.create("opportunity", {"name": "New", "amount": 5})["id"]
    assert total(ws) == before + 6
    ws.records.delete("opportunity", rid)
    assert total(ws) == before + 1
    assert len(statements) == 4


def test_a_rolled_back_write_moves_no_version(ws: Workspace, seeded: dict) -> None:
    total(ws)
    before = dict(ws.reports.cache._entries)
    system = ws.table_of("rapport_data_version").metadata
    with ws.engine.connect() as conn:
        start = versions.read(conn, system, ["opportunity"])
    with pytest.raises(ValidationError), ws.transaction() as conn:
        ws.records.update("opportunity", seeded["deals"]["A1"], {"amount": 7}, conn=conn)
        ws.records.update("opportunity", seeded["deals"]["A2"], {"amount": -1}, conn=conn)  # min 0
    with ws.engine.connect() as conn:
        assert versions.read(conn, system, ["opportunity"]) == start
    total(ws)
    assert ws.reports.cache.hits == 1 and dict(ws.reports.cache._entries).keys() == before.keys()


def test_bulk_creates_and_imports_are_seen(ws: Workspace, seeded: dict) -> None:
    before = total(ws)
    ws.records.create_many("opportunity", [{"name": f"Bulk {i}", "amount": 10} for i in range(3)])
    assert total(ws) == before + 30


def test_another_process_writing_is_seen(ws: Workspace, seeded: dict) -> None:
    """Another worker has its own engine and cache: its write reaches this one's reports."""
    before = total(ws)
    other = Workspace(ws.database_url, ws.root, ws.config)
    try:
        other.records.update("opportunity", seeded["deals"]["A1"], {"amount": 1100})
    finally:
        other.close()
    assert total(ws) == before + 100


def test_a_change_to_a_joined_object_is_seen(ws: Workspace, seeded: dict) -> None:
    report = {"name": "by_industry", "object": "opportunity",
              "group_by": [{"field": "account.industry"}], "aggregates": [{"fn": "count"}]}
    first = {r["account.industry"]: r["count"] for r in ws.reports.run(report).rows}
    acme = ws.records.query("account", _name("Acme")).data[0]
    ws.records.update("account", acme["id"], {"industry": "retail"})
    after = {r["account.industry"]: r["count"] for r in ws.reports.run(report).rows}
    assert after.get("retail") == first["manufacturing"]
    assert "manufacturing" not in after


def test_readers_and_languages_get_their_own_results(ws: Workspace, seeded: dict,
                                                      statements: list[str]) -> None:
    en = ws.reports.run(BY_STAGE, Actor(None, locale="en"))
    zh = ws.reports.run(BY_STAGE, Actor(None, locale="zh-CN"))
    assert en.label_of("stage", "closed_won") != zh.label_of("stage", "closed_won")
    ws.reports.run(BY_STAGE, Actor(1, "rep0@example.com", "member"))
    assert len(statements) == 3


def test_a_metadata_change_computes_afresh(ws: Workspace, seeded: dict,
                                           statements: list[str]) -> None:
    total(ws)
    d = ws.documents_from({"name": "note", "fields": [{"name": "text", "type": "text"}]})
    ws.apply(d)
    total(ws)
    assert len(statements) == 2


def test_time_in_stage_is_never_kept(ws: Workspace, seeded: dict, statements: list[str]) -> None:
    report = {"name": "t", "object": "opportunity", "pipeline": {"measure": "time_in_stage"}}
    ws.reports.run(report)
    ws.reports.run(report)
    assert len(statements) == 2


def test_a_table_without_a_version_is_not_kept(ws: Workspace, seeded: dict) -> None:
    cache = ws.reports.cache
    with ws.read_engine.connect() as conn:
        def compute() -> int:
            return int(conn.execute(select(text("count(*)")).select_from(
                ws.table_of("rapport_history"))).scalar() or 0)
        cache.get_or_compute(conn, "history", ["opportunity"], compute)
        cache.get_or_compute(conn, "history", ["opportunity"], compute)
    assert cache.hits == 0 and "history" not in cache._entries


def test_the_cache_is_bounded(ws: Workspace, seeded: dict) -> None:
    cache = ws.reports.cache
    cache.max_entries = 3
    for amount in range(5):
        ws.reports.run(BY_STAGE, extra=[_cond(amount)])
    assert len(cache._entries) == 3


def test_an_older_workspace_gets_the_version_table(ws: Workspace, seeded: dict) -> None:
    with ws.engine.begin() as conn:
        conn.execute(text("DROP TABLE rapport_data_version"))
    reopened = Workspace.open(ws.root)
    try:
        reopened.records.update("opportunity", seeded["deals"]["A1"], {"amount": 1200})
        assert reopened.reports.run(BY_STAGE).totals["sum_amount"] == total(ws)
    finally:
        reopened.close()


def _name(name: str):
    from rapport.records.query import Cond, Query

    return Query(filter=Cond("name", "eq", name))


def _cond(amount: int):
    from rapport.records.query import Cond

    return Cond("amount", "gte", amount)


def test_keeping_can_be_turned_off(ws: Workspace, seeded: dict,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAPPORT_REPORT_CACHE", "0")
    other = Workspace(ws.database_url, ws.root, ws.config)
    try:
        first = other.reports.run(BY_STAGE)
        assert other.reports.run(BY_STAGE) is not first
        assert other.reports.cache.hits == 0 and not other.reports.cache._entries
    finally:
        other.close()
