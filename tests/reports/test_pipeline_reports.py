"""Pipeline analytics from the stage history: funnel, time in stage, win rate, forecast."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update

from rapport.auth.users import create_user
from rapport.errors import ValidationError
from rapport.records.actor import SYSTEM
from rapport.workspace import Workspace

PATH = ["prospecting", "qualification", "proposal", "negotiation"]


def deal(ws: Workspace, name: str, route: list[str], owner: int, amount: int = 1000,
         close: str = "2026-03-15") -> int:
    """An opportunity moved along ``route`` (its first stage is where it starts)."""
    rid = ws.records.create("opportunity", {"name": name, "amount": amount, "close_date": close,
                                            "stage": route[0], "owner": owner})["id"]
    for stage in route[1:]:
        ws.workflows.transition("opportunity", rid, stage, SYSTEM)
    return rid


@pytest.fixture
def reps(ws: Workspace) -> list[int]:
    return [create_user(ws, f"rep{i}@example.com", "member", full_name=f"Rep {i}")["id"]
            for i in range(2)]


def test_funnel_counts_the_furthest_stage_reached_and_conversions(ws: Workspace, reps) -> None:
    deal(ws, "a", ["prospecting"], reps[0])
    deal(ws, "b", ["prospecting", "qualification"], reps[0])
    deal(ws, "c", ["prospecting", "qualification", "proposal", "closed_lost"], reps[1])
    deal(ws, "d", [*PATH, "closed_won"], reps[1])
    # a record that starts further on counts for the stages before it too
    deal(ws, "e", ["proposal"], reps[0])
    result = ws.reports.run("sales_funnel")
    rows = {r["stage"]: r for r in result.rows}
    assert [r["stage"] for r in result.rows] == [*PATH, "closed_won"]
    assert {s: rows[s]["reached"] for s in rows} == {
        "prospecting": 5, "qualification": 4, "proposal": 3, "negotiation": 1, "closed_won": 1}
    assert {s: rows[s]["in_stage"] for s in rows} == {
        "prospecting": 1, "qualification": 1, "proposal": 1, "negotiation": 0, "closed_won": 1}
    assert rows["qualification"]["conversion"] == Decimal("80.0")
    assert rows["proposal"]["conversion"] == Decimal("75.0")
    assert rows["negotiation"]["from_first"] == Decimal("20.0")
    assert rows["prospecting"]["conversion"] is None
    # filters select the records analysed
    mine = ws.reports.run({"name": "f", "object": "opportunity", "pipeline": {"measure": "funnel"},
                           "filters": [{"field": "owner", "op": "eq", "value": reps[0]}]})
    assert [r["reached"] for r in mine.rows] == [3, 2, 1, 0, 0]


def test_time_in_stage_averages_finished_and_running_visits(ws: Workspace, reps) -> None:
    one = deal(ws, "one", ["prospecting", "qualification"], reps[0])
    two = deal(ws, "two", ["prospecting"], reps[0])
    h = ws.table_of("rapport_stage_history")
    now = datetime.now(UTC)
    with ws.transaction() as conn:
        # one: 2 days in prospecting, then 4 days (and counting) in qualification
        conn.execute(update(h).where(h.c.record_id == one, h.c.stage == "prospecting")
                     .values(entered_at=now - timedelta(days=6), left_at=now - timedelta(days=4)))
        conn.execute(update(h).where(h.c.record_id == one, h.c.stage == "qualification")
                     .values(entered_at=now - timedelta(days=4)))
        # two: 10 days (and counting) in prospecting
        conn.execute(update(h).where(h.c.record_id == two).values(
            entered_at=now - timedelta(days=10)))
    result = ws.reports.run("time_in_stage")
    rows = {r["stage"]: r for r in result.rows}
    assert rows["prospecting"]["visits"] == 2
    assert rows["prospecting"]["avg_days"] == Decimal("6.0")
    assert rows["qualification"]["avg_days"] == Decimal("4.0")
    assert rows["proposal"] == {"stage": "proposal", "visits": 0, "avg_days": None}
    assert result.totals["visits"] == 3
    assert result.totals["avg_days"] == Decimal("5.3")


def test_win_rate_by_owner(ws: Workspace, reps) -> None:
    for i, end in enumerate(["closed_won", "closed_won", "closed_lost"]):
        deal(ws, f"x{i}", [*PATH, end], reps[0], amount=1000 * (i + 1))
    deal(ws, "y0", [*PATH, "closed_lost"], reps[1])
    deal(ws, "y1", ["prospecting"], reps[1])
    result = ws.reports.run("win_rate_by_owner")
    assert [c.key for c in result.columns] == ["owner", "won", "lost", "open", "win_rate",
                                               "won_amount"]
    rows = {r["owner"]: r for r in result.rows}
    assert rows[reps[0]]["won"] == 2 and rows[reps[0]]["lost"] == 1
    assert rows[reps[0]]["win_rate"] == Decimal("66.7")
    assert rows[reps[0]]["won_amount"] == Decimal("3000.00")
    assert rows[reps[1]]["win_rate"] == Decimal("0.0") and rows[reps[1]]["open"] == 1
    # sorted by win rate, highest first
    assert [r["owner"] for r in result.rows] == reps
    assert result.totals["win_rate"] == Decimal("50.0")
    assert result.labels["owner"][reps[1]] == "Rep 1"


def test_weighted_forecast_uses_the_stage_probability(ws: Workspace, reps) -> None:
    year = datetime.now(UTC).year
    deal(ws, "p", ["prospecting"], reps[0], amount=1000, close=f"{year}-02-10")   # 10 %
    deal(ws, "q", ["prospecting", "qualification", "proposal"], reps[0], amount=2000,
         close=f"{year}-02-20")                                                 # 50 %
    deal(ws, "n", PATH, reps[1], amount=4000, close=f"{year}-05-01")             # 75 %
    deal(ws, "w", [*PATH, "closed_won"], reps[1], amount=500, close=f"{year}-05-02")
    deal(ws, "l", [*PATH, "closed_lost"], reps[1], amount=9000, close=f"{year}-05-03")
    result = ws.reports.run("forecast_by_month")
    rows = {r["close_date"]: r for r in result.rows}
    assert rows[f"{year}-02"]["pipeline_amount"] == Decimal("3000.00")
    assert rows[f"{year}-02"]["weighted_amount"] == Decimal("1100.00")
    assert rows[f"{year}-05"]["weighted_amount"] == Decimal("3000.00")
    assert rows[f"{year}-05"]["won_amount"] == Decimal("500.00")
    assert rows[f"{year}-05"]["count_open"] == 1
    assert result.totals["weighted_amount"] == Decimal("4100.00")
    # grouped by owner instead of month
    by_owner = ws.reports.run({"name": "f", "object": "opportunity",
                               "pipeline": {"measure": "forecast"},
                               "group_by": [{"field": "owner"}]})
    assert {r["owner"]: r["weighted_amount"] for r in by_owner.rows} == {
        reps[0]: Decimal("1100.00"), reps[1]: Decimal("3000.00")}


def test_drilling_into_a_funnel_stage_lists_the_records_in_it(ws: Workspace, reps) -> None:
    deal(ws, "a", ["prospecting"], reps[0])
    deal(ws, "b", ["prospecting", "qualification"], reps[0])
    _summary, records = ws.reports.drill("sales_funnel", ["qualification"])
    assert [r["name"] for r in records.rows] == ["b"]


def test_pipeline_errors_name_what_is_wrong(ws: Workspace) -> None:
    with pytest.raises(ValidationError) as caught:
        ws.reports.run({"name": "x", "object": "account", "pipeline": {"measure": "funnel"}})
    assert caught.value.problems[0].field == "/pipeline/workflow"
    with pytest.raises(ValidationError) as caught:
        ws.reports.run({"name": "x", "object": "opportunity", "pipeline": {"measure": "funnel"},
                        "group_by": [{"field": "owner"}]})
    assert "grouped by stage only" in caught.value.problems[0].message
    with pytest.raises(ValidationError) as caught:
        ws.reports.run({"name": "x", "object": "opportunity",
                        "pipeline": {"measure": "forecast", "amount": "name"}})
    assert caught.value.problems[0].field == "/pipeline/amount"
