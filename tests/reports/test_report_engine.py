"""Reports run in the database: groupings, buckets, aggregates, subtotals, joins, filters,
drill-down — checked against figures computed independently from the seeded deals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from reportkit import DEALS, expected_by, monday, seed
from sqlalchemy import event

from rapport.errors import ValidationError
from rapport.records.actor import Actor
from rapport.records.query import Cond, Query, conditions
from rapport.reports.dates import bucket_label, bucket_range
from rapport.workspace import Workspace

CENT = Decimal("0.01")


@pytest.fixture
def seeded(ws: Workspace) -> dict:
    return seed(ws)


def test_summary_by_stage_and_month_with_subtotals_and_totals(ws: Workspace, seeded: dict) -> None:
    result = ws.reports.run({
        "name": "r", "object": "opportunity",
        "group_by": [{"field": "stage"}, {"field": "close_date", "bucket": "month"}],
        "aggregates": [{"fn": "count"}, {"fn": "sum", "field": "amount"}]})
    assert result.layout == "summary"
    assert [c.key for c in result.columns] == ["stage", "close_date", "count", "sum_amount"]
    want = expected_by(lambda d: (d[3], d[4].strftime("%Y-%m") if d[4] else None))
    got = {(r["stage"], r["close_date"]): (r["count"], r["sum_amount"]) for r in result.rows}
    assert got == want
    # picklist groups in the order the options are declared, months ascending, blank last
    stages = [r["stage"] for r in result.rows]
    order = ["prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost"]
    assert stages == sorted(stages, key=order.index)
    assert [r["close_date"] for r in result.rows[:3]] == ["2025-01", None, "2025-02"]
    by_stage = expected_by(lambda d: d[3])
    assert {k: (v["count"], v["sum_amount"]) for k, v in result.subtotals.items()} == by_stage
    assert result.totals == {"count": len(DEALS), "sum_amount": Decimal("38600.00")}
    assert result.labels["stage"]["closed_won"] == "Closed won"
    assert result.labels["close_date"]["2025-01"] == "Jan 2025"
    assert result.labels["close_date"][None] == "(blank)"


def test_one_statement_per_report(ws: Workspace, seeded: dict) -> None:
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if "rapport_data_version" not in statement:  # the result cache's look at the versions
            statements.append(statement)

    event.listen(ws.read_engine, "before_cursor_execute", count)
    try:
        for definition in (
            {"group_by": [{"field": "stage"}, {"field": "close_date", "bucket": "quarter"}],
             "aggregates": [{"fn": "avg", "field": "amount"}]},
            {"layout": "matrix", "group_by": [{"field": "owner"}, {"field": "stage"}],
             "aggregates": [{"fn": "count_distinct", "field": "account"}]},
            {"columns": ["name", "account.industry"], "aggregates": [{"fn": "sum", "field": "amount"}]},
            {"pipeline": {"measure": "funnel"}},
            {"pipeline": {"measure": "win_rate"}, "group_by": [{"field": "owner"}]},
        ):
            statements.clear()
            ws.reports.cache.clear()
            ws.reports.run({"name": "r", "object": "opportunity", **definition})
            assert len(statements) == 1, definition
    finally:
        event.remove(ws.read_engine, "before_cursor_execute", count)


def test_average_subtotals_are_not_averages_of_averages(ws: Workspace, seeded: dict) -> None:
    result = ws.reports.run({"name": "r", "object": "opportunity",
                             "group_by": [{"field": "stage"}, {"field": "source"}],
                             "aggregates": [{"fn": "avg", "field": "amount"},
                                            {"fn": "min", "field": "amount"},
                                            {"fn": "max", "field": "close_date"}]})
    amounts = [d[2] for d in DEALS if d[2] is not None]
    assert result.totals["avg_amount"] == (Decimal(sum(amounts)) / len(amounts)).quantize(CENT)
    assert result.totals["min_amount"] == Decimal("500.00")
    assert result.totals["max_close_date"] == date(2025, 12, 31)
    prospecting = [d[2] for d in DEALS if d[3] == "prospecting" and d[2] is not None]
    assert result.subtotals["prospecting"]["avg_amount"] == \
        (Decimal(sum(prospecting)) / len(prospecting)).quantize(CENT)


def test_matrix_with_distinct_counts_reads_every_level_from_the_database(
        ws: Workspace, seeded: dict) -> None:
    result = ws.reports.run({"name": "m", "object": "opportunity", "layout": "matrix",
                             "group_by": [{"field": "owner"}, {"field": "stage"}],
                             "aggregates": [{"fn": "count_distinct", "field": "account"},
                                            {"fn": "count"}]})
    users = seeded["users"]
    accounts_of = {u: {d[1] for i, d in enumerate(DEALS) if users[i % 2] == u and d[1] is not None}
                   for u in users}
    assert {k: v["count_distinct_account"] for k, v in result.subtotals.items()} == \
        {u: len(a) for u, a in accounts_of.items()}
    assert result.totals == {"count_distinct_account": 3, "count": len(DEALS)}
    assert result.column_totals["proposal"] == {"count_distinct_account": 1, "count": 2}
    assert result.group_values(0) == sorted(users, key=lambda u: result.label_of("owner", u))
    assert result.labels["owner"][users[0]] == "Rep 0"
    cell = result.cell(users[1], "prospecting")
    assert cell is not None and cell["count"] == sum(
        1 for i, d in enumerate(DEALS) if i % 2 == 1 and d[3] == "prospecting")


def test_date_buckets_are_the_same_keys_on_every_database(ws: Workspace, seeded: dict) -> None:
    for bucket, key in (("day", lambda d: d.isoformat()), ("week", lambda d: monday(d).isoformat()),
                        ("month", lambda d: d.strftime("%Y-%m")),
                        ("quarter", lambda d: f"{d.year}-Q{(d.month - 1) // 3 + 1}"),
                        ("year", lambda d: str(d.year))):
        result = ws.reports.run({"name": "b", "object": "opportunity",
                                 "group_by": [{"field": "close_date", "bucket": bucket}]})
        got = {r["close_date"]: r["count"] for r in result.rows}
        want = {k: v[0] for k, v in expected_by(lambda d, f=key: f(d[4]) if d[4] else None).items()}
        assert got == want, bucket
        for k in got:
            if k is not None:
                start, end = bucket_range(bucket, k)
                assert start < end


def test_datetime_fields_bucket_in_utc(ws: Workspace, seeded: dict) -> None:
    result = ws.reports.run({"name": "c", "object": "opportunity",
                             "group_by": [{"field": "created_at", "bucket": "year"}]})
    assert result.rows == [{"created_at": str(datetime.now(UTC).year), "count": len(DEALS)}]


def test_bucket_labels_in_both_languages() -> None:
    assert bucket_label("quarter", "2026-Q1") == "Q1 2026"
    assert bucket_label("quarter", "2026-Q1", "zh-CN") == "2026年第1季度"
    assert bucket_label("month", "2026-03", "zh-CN") == "2026年3月"
    assert bucket_label("week", "2026-03-09") == "Week of 2026-03-09"
    with pytest.raises(ValueError):
        bucket_range("month", "2026-13-01")


def test_tabular_joins_two_lookups_filters_sorts_limits_and_totals(
        ws: Workspace, seeded: dict) -> None:
    result = ws.reports.run({
        "name": "t", "object": "opportunity",
        "columns": ["name", "account", "account.industry", "account.owner.email", "amount"],
        "filters": [{"field": "account.industry", "op": "in", "value": ["manufacturing", "finance"]},
                    {"field": "amount", "op": "gte", "value": 1000}],
        "aggregates": [{"fn": "sum", "field": "amount"}, {"fn": "count"}],
        "sort": "-amount", "limit": 3})
    matching = [d for d in DEALS if d[1] in (0, 1) and (d[2] or 0) >= 1000]
    assert result.count == len(matching) == 5
    assert result.truncated
    assert [r["name"] for r in result.rows] == ["B3", "B1", "A3"]
    assert result.rows[0]["account.owner.email"] == "rep0@example.com"
    assert result.rows[0]["account.industry"] == "finance"
    assert result.labels["account"][result.rows[0]["account"]] == "Globex"
    assert result.totals == {"sum_amount": Decimal(sum(d[2] for d in matching)).quantize(CENT),
                             "count": 5}


def test_every_operator_matches_the_record_query(ws: Workspace, seeded: dict) -> None:
    cases = [("amount", "eq", 500), ("amount", "ne", 500), ("amount", "lt", 3000),
             ("amount", "lte", 3000), ("amount", "gt", 3000), ("amount", "gte", 3000),
             ("stage", "in", ["proposal", "closed_won"]), ("stage", "not_in", ["proposal"]),
             ("name", "contains", "a"), ("name", "startswith", "b"), ("source", "is_blank", None),
             ("close_date", "is_not_blank", None), ("amount", "between", [1000, 4000]),
             ("close_date", "in_period", "this_year"), ("account.name", "contains", "glob")]
    for field, op, value in cases:
        result = ws.reports.run({"name": "o", "object": "opportunity", "columns": ["name"],
                                 "filters": [{"field": field, "op": op, "value": value}]})
        want = ws.records.count("opportunity", Query(filter=conditions(
            [{"field": field, "op": op, "value": value}])))
        assert result.count == want, (field, op)


def test_relative_periods_follow_today(ws: Workspace) -> None:
    today = datetime.now(UTC).date()
    for days, name in ((0, "today"), (-3, "old"), (5, "soon"), (40, "later")):
        ws.records.create("opportunity", {"name": name,
                                          "close_date": (today + timedelta(days=days)).isoformat()})

    def names(period: str) -> set[str]:
        result = ws.reports.run({"name": "p", "object": "opportunity", "columns": ["name"],
                                 "filters": [{"field": "close_date", "op": "in_period",
                                              "value": period}]})
        return {r["name"] for r in result.rows}

    assert names("today") == {"today"}
    assert names("last_7_days") == {"today", "old"}
    assert names("next_7_days") == {"today", "soon"}
    assert names("next_60_days") == {"today", "soon", "later"}
    assert "today" in names("this_month") and "today" in names("this_quarter") \
        and "today" in names("this_year")
    assert names("last_year") == set()


def test_dashboard_period_filters_reports_whose_object_has_the_field(
        ws: Workspace, seeded: dict) -> None:
    ws.records.create("opportunity", {"name": "now", "amount": 10,
                                      "close_date": datetime.now(UTC).date().isoformat()})
    result = ws.reports.run("amount_by_stage", period=("close_date", "this_month"))
    assert result.totals["count"] == 1
    everything = ws.reports.run("amount_by_stage", period=("close_date", "all"))
    assert everything.totals["count"] == len(DEALS) + 1
    # an account report: accounts have no close_date, the period does not apply
    accounts = ws.reports.run({"name": "a", "object": "account", "columns": ["name"]},
                              period=("close_date", "this_month"))
    assert accounts.count == 3
    with pytest.raises(ValidationError):
        ws.reports.run("amount_by_stage", period=("close_date", "fortnight"))


def test_drill_down_returns_the_records_behind_a_group(ws: Workspace, seeded: dict) -> None:
    definition = {"name": "d", "object": "opportunity",
                  "filters": [{"field": "amount", "op": "gte", "value": 500}],
                  "group_by": [{"field": "stage"}, {"field": "close_date", "bucket": "month"}]}
    summary = ws.reports.run(definition)
    for row in summary.rows:
        _s, records = ws.reports.drill(definition, [row["stage"], row["close_date"]])
        assert records.count == row["count"]
        assert all(r["stage"] == row["stage"] for r in records.rows)
    _s, records = ws.reports.drill(definition, ["prospecting"])
    assert {r["name"] for r in records.rows} == {"A1", "A2"}
    # a blank group and a lookup group
    by_account = {"name": "a", "object": "opportunity", "group_by": [{"field": "account"}]}
    _s, records = ws.reports.drill(by_account, [None])
    assert {r["name"] for r in records.rows} == {"D1", "D2"}
    _s, records = ws.reports.drill(by_account, [seeded["accounts"][1]])
    assert {r["name"] for r in records.rows} == {"B1", "B2", "B3"}
    with pytest.raises(ValidationError):
        ws.reports.drill(definition, ["prospecting", "not-a-month"])


def test_labels_follow_the_actor_language(ws: Workspace, seeded: dict) -> None:
    chinese = Actor(None, "x", "admin", locale="zh-CN")
    result = ws.reports.run("amount_by_stage", chinese)
    assert result.labels["stage"]["closed_won"] == "赢单"
    assert [c.label for c in result.columns] == ["阶段", "金额合计", "记录数", "平均金额"]
    assert result.label == "各阶段金额"


def test_run_time_errors_name_the_part_of_the_definition(ws: Workspace) -> None:
    bad = [({"columns": ["nope"]}, "/columns/0"),
           ({"columns": ["name"], "filters": [{"field": "amount", "op": "gte", "value": "lots"}]},
            "/filters/0"),
           ({"group_by": [{"field": "description"}]}, "/group_by/0/field"),
           ({"group_by": [{"field": "stage"}], "sort": "-nope"}, "/sort/0"),
           ({"layout": "matrix", "group_by": [{"field": "stage"}]}, "/group_by")]
    for definition, pointer in bad:
        with pytest.raises(ValidationError) as caught:
            ws.reports.run({"name": "x", "object": "opportunity", **definition})
        assert caught.value.problems[0].field == pointer, definition


def test_extra_conditions_and_readable_rule_apply(ws: Workspace, seeded: dict) -> None:
    result = ws.reports.run("amount_by_stage", extra=[Cond("account.industry", "eq", "finance")])
    assert result.totals["count"] == 3


def test_blank_groups_sort_last_in_either_direction(ws: Workspace, seeded: dict) -> None:
    for sort in ("source", "-source", "-count"):
        result = ws.reports.run({"name": "s", "object": "opportunity",
                                 "group_by": [{"field": "source"}], "sort": sort})
        assert result.rows[-1]["source"] is None, sort
