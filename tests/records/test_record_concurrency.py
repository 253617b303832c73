"""Several processes writing at once: the database keeps unique values and autonumbers unique."""

from __future__ import annotations

from typing import Any

from recordkit import create_in_another_process

from databases import race
from rapport.records.query import Cond, Query
from rapport.workspace import Workspace


def _race(ws: Workspace, database_url: str, object_name: str, values: dict[str, Any],
          times: int = 1, slow: float = 0.0) -> list[tuple[str, Any]]:
    return race(create_in_another_process,
                [(str(ws.root), database_url, object_name, values, times, slow)] * 2)


def test_a_duplicate_unique_value_from_two_processes(ws: Workspace, database_url: str) -> None:
    # both processes pass the service's own check (the hook makes each wait), so the
    # database's unique index decides: one wins, the other gets a ValidationError
    outcomes = _race(ws, database_url, "product", {"name": "Widget", "code": "W-1"}, slow=0.5)
    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["invalid", "ok"], outcomes
    problems = next(value for kind, value in outcomes if kind == "invalid")
    assert [(p["field"], p["code"]) for p in problems] == [("code", "unique")], problems
    assert ws.records.count("product", Query(filter=Cond("code", "eq", "W-1"))) == 1


def test_a_duplicate_unique_value_from_two_quick_processes(ws: Workspace,
                                                           database_url: str) -> None:
    outcomes = _race(ws, database_url, "team", {"name": "Sales"})
    assert sorted(kind for kind, _ in outcomes) == ["invalid", "ok"], outcomes
    assert ws.records.count("team", Query()) == 1


def test_autonumbers_from_two_processes_stay_unique(ws: Workspace, database_url: str) -> None:
    outcomes = _race(ws, database_url, "quote", {"name": "Q"}, times=15)
    assert [kind for kind, _ in outcomes] == ["ok", "ok"], outcomes
    numbers = [r["number"] for r in ws.records.query("quote", Query(limit=100)).data]
    assert sorted(numbers) == [f"Q-{n:05d}" for n in range(1, 31)]
