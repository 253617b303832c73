"""'Test against existing records' counts in SQL when the rule translates; the count is
the one the formula engine gives record by record (blank values included)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from rapport.formulas import compile_formula
from rapport.formulas.sql import rule_condition
from rapport.workspace import Workspace

RULES = ["budget > 100", "100 < budget", "budget >= 50 and phase == 'plan'",
         "phase != 'ship'", "phase in ('plan', 'build')", "phase not in ('plan',)",
         "is_blank(phase) or budget < 10", "not is_blank(code)", "is_blank(code)",
         "done == True", "done != True", "seats <= 2 or code == 'A'"]
UNSUPPORTED = ["budget * 2 > 100", "code > 'a'", "len(code) > 2", "account.name == 'x'",
               "nope > 1", "budget > seats"]


@pytest.fixture
def things(ws: Workspace) -> Workspace:
    ws.apply(ws.documents_from({"name": "thing", "fields": [
        {"name": "name", "type": "text"}, {"name": "code", "type": "text"},
        {"name": "budget", "type": "currency"}, {"name": "seats", "type": "integer"},
        {"name": "done", "type": "boolean"},
        {"name": "phase", "type": "picklist", "options": ["plan", "build", "ship"]}]}))
    rows = [{"budget": 5, "phase": "plan", "code": "A", "seats": 1, "done": True},
            {"budget": 150, "phase": "build", "seats": 3, "done": False},
            {"budget": 60, "phase": "plan", "code": "B"}, {"phase": "ship"}, {},
            {"budget": 101.5, "code": "C", "done": True}]
    for i, r in enumerate(rows):
        ws.records.create("thing", {"name": f"t{i}", **r})
    return ws


@pytest.mark.parametrize("when", RULES)
def test_sql_count_is_the_engine_count(things: Workspace, when: str) -> None:
    ws = things
    obj = ws.meta.objects["thing"]
    table = ws.table("thing")
    condition = rule_condition(when, obj, table)
    assert condition is not None, when
    formula = compile_formula(when, ws.library)
    with ws.engine.connect() as conn:
        in_sql = conn.scalar(select(func.count()).select_from(table).where(condition))
        rows = [dict(r._mapping) for r in conn.execute(select(table))]
    assert in_sql == sum(1 for r in rows if formula.evaluate(r)), when


@pytest.mark.parametrize("when", UNSUPPORTED)
def test_other_rules_are_left_to_the_engine(things: Workspace, when: str) -> None:
    assert rule_condition(when, things.meta.objects["thing"], things.table("thing")) is None
