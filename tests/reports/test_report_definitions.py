"""Report definitions: mistakes refused when saved (naming the file and the part), renamed
fields followed, removed fields named when the report runs."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from rapport.errors import MetadataError, ValidationError
from rapport.workspace import Workspace


def report(**data: Any) -> dict[str, Any]:
    return {"kind": "report", "name": "r", "object": "opportunity", **data}


def refused(ws: Workspace, *definitions: dict[str, Any]) -> list[tuple[str, str]]:
    revision = ws.meta.revision
    with pytest.raises(MetadataError) as caught:
        ws.apply(ws.documents_from(list(definitions)))
    assert ws.refresh().revision == revision  # nothing saved
    return [(p.pointer, p.message) for p in caught.value.problems]


@pytest.mark.parametrize(("definition", "pointer", "words"), [
    (report(group_by=[{"field": "stage"}], aggregates=[{"fn": "sum", "field": "name"}]),
     "/0/aggregates/0/field", "not a number"),
    (report(group_by=[{"field": "stage"}], aggregates=[{"fn": "avg", "field": "expected_revenue"},
                                                       {"fn": "sum", "field": "account.name"}]),
     "/0/aggregates/1/field", "not a number"),
    (report(columns=["name"], filters=[{"field": "amount", "op": "gte", "value": "a lot"}]),
     "/0/filters/0", "amount"),
    (report(columns=["name"], filters=[{"field": "close_date", "op": "eq", "value": "31/12/2025"}]),
     "/0/filters/0", "date"),
    (report(columns=["name"], filters=[{"field": "stage", "op": "contains", "value": "x"}]),
     "/0/filters/0", "does not apply"),
    (report(columns=["name", "account.nope"]), "/0/columns/1", "unknown field"),
    (report(group_by=[{"field": "stage", "bucket": "month"}]), "/0/group_by/0/bucket",
     "date fields only"),
    (report(group_by=[{"field": "description"}]), "/0/group_by/0/field", "cannot group by"),
    (report(layout="matrix", group_by=[{"field": "stage"}, {"field": "stage"}]),
     "/0/group_by/1/field", "twice"),
    (report(group_by=[{"field": "stage"}], sort="-sum_amount"), "/0/sort/0",
     "neither a grouping nor an aggregate"),
    (report(object="account", pipeline={"measure": "funnel"}), "/0/pipeline/workflow",
     "no stage workflow"),
    (report(group_by=[{"field": "stage"}], chart={"type": "bar", "x": "owner"}), "/0/chart/x",
     "not a grouping"),
    (report(group_by=[{"field": "stage"}], chart={"type": "bar", "y": "sum_amount"}),
     "/0/chart/y", "not a figure of the report (count)"),
    (report(name="new", group_by=[{"field": "stage"}]), "/0/name", "choose another name"),
])
def test_mistakes_are_refused_at_save_time(ws: Workspace, definition: dict, pointer: str,
                                           words: str) -> None:
    problems = refused(ws, definition)
    assert any(p == pointer and words in m for p, m in problems), problems


def test_a_group_by_on_a_formula_is_checked_with_the_formula(ws: Workspace) -> None:
    deal = copy.deepcopy(dict(ws.state.documents[("object", "opportunity")]))
    deal["fields"].append({"name": "size", "type": "formula", "result_type": "text",
                           "expression": "'big' if amount > 10000 else 'small'"})
    deal["fields"].append({"name": "broken", "type": "formula", "result_type": "decimal",
                           "expression": "amount +"})
    problems = refused(ws, deal, report(group_by=[{"field": "broken"}]))
    assert any(p.startswith("/0/fields/") and "formula" in m for p, m in problems), problems
    # with the formula fixed, a sum of its text result is still refused
    deal["fields"].pop()
    problems = refused(ws, deal, report(group_by=[{"field": "size"}],
                                        aggregates=[{"fn": "sum", "field": "size"}]))
    assert problems == [("/1/aggregates/0/field",
                         "cannot sum 'size': it is not a number field")]
    ws.apply(ws.documents_from([deal, report(group_by=[{"field": "size"}])]))
    ws.records.create("opportunity", {"name": "x", "amount": 50000})
    assert ws.reports.run("r").rows == [{"size": "big", "count": 1}]


def test_problems_name_the_file(ws: Workspace, tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(report(group_by=[{"field": "stage"}],
                                      aggregates=[{"fn": "sum", "field": "name"}])))
    from rapport.meta.loader import read_paths

    with pytest.raises(MetadataError) as caught:
        ws.apply(read_paths([path], []))
    assert str(caught.value).startswith(f"{path}:/aggregates/0/field")


def test_dashboard_tiles_are_checked(ws: Workspace) -> None:
    problems = refused(ws, {"kind": "dashboard", "name": "d", "tiles": [{"report": "nope"}]})
    assert problems == [("/0/tiles/0/report", "unknown report 'nope'")]
    problems = refused(ws, {"kind": "dashboard", "name": "d", "tiles": [
        {"report": "amount_by_stage", "type": "kpi", "aggregate": "sum_amont"}]})
    assert problems == [("/0/tiles/0/aggregate", "report 'amount_by_stage' has no aggregate "
                         "'sum_amont' (it has sum_amount, count, avg_amount)")]


def _renamed(ws: Workspace, old: str, new: str, obj: str = "opportunity") -> dict[str, Any]:
    doc = copy.deepcopy(dict(ws.state.documents[("object", obj)]))
    next(f for f in doc["fields"] if f["name"] == old)["name"] = new
    return doc


def test_reports_follow_a_renamed_field(ws: Workspace) -> None:
    deal = copy.deepcopy(dict(ws.state.documents[("object", "opportunity")]))
    deal["fields"].append({"name": "budget", "type": "currency"})
    account = copy.deepcopy(dict(ws.state.documents[("object", "account")]))
    account["fields"].append({"name": "tier", "type": "picklist", "options": ["a", "b"]})
    ws.apply(ws.documents_from([deal, account]))
    ws.apply(ws.documents_from([
        report(name="deals", group_by=[{"field": "stage"}, {"field": "close_date", "bucket": "month"}],
               aggregates=[{"fn": "sum", "field": "budget"}], sort="-sum_budget",
               filters=[{"field": "budget", "op": "gt", "value": 0}],
               chart={"type": "bar", "x": "stage", "y": "sum_budget"}),
        report(name="by_tier", columns=["name", "account.tier"],
               filters=[{"field": "account.tier", "op": "is_not_blank"}]),
        {"kind": "dashboard", "name": "d", "tiles": [
            {"report": "deals", "type": "kpi", "aggregate": "sum_budget"}]}]))
    ws.records.create("opportunity", {"name": "x", "budget": 5, "close_date": "2025-01-01"})
    plan = ws.plan(ws.documents_from(_renamed(ws, "budget", "deal_value")))
    assert "report deals: follows renamed fields (budget → deal_value)" in plan.notes
    ws.apply(ws.documents_from(_renamed(ws, "budget", "deal_value")))
    stored = ws.state.documents[("report", "deals")]
    assert stored["aggregates"] == [{"fn": "sum", "field": "deal_value"}]
    assert stored["sort"] == "-sum_deal_value" and stored["chart"]["y"] == "sum_deal_value"
    assert stored["filters"][0]["field"] == "deal_value"
    assert ws.state.documents[("dashboard", "d")]["tiles"][0]["aggregate"] == "sum_deal_value"
    result = ws.reports.run("deals")
    assert result.totals["sum_deal_value"] == 5
    # a rename on the object a lookup reaches
    ws.apply(ws.documents_from(_renamed(ws, "tier", "level", "account")))
    assert ws.state.documents[("report", "by_tier")]["columns"] == ["name", "account.level"]
    assert ws.state.documents[("report", "by_tier")]["filters"][0]["field"] == "account.level"
    ws.reports.run("by_tier")
    # the revision says which definitions changed with it
    assert ["report", "by_tier"] in ws.revisions(1)[0]["changes"]["definitions"]


def test_a_removed_field_is_named_when_the_report_runs(ws: Workspace) -> None:
    doc = copy.deepcopy(dict(ws.state.documents[("object", "opportunity")]))
    ws.apply(ws.documents_from([{**doc, "fields": [*doc["fields"], {"name": "channel",
                                                                     "type": "text"}]},
                                report(name="by_channel", group_by=[{"field": "channel"}])]))
    ws.records.create("opportunity", {"name": "x", "channel": "web"})
    plan = ws.plan(ws.documents_from(doc))
    assert "report by_channel will not run: /group_by/0/field: unknown field 'channel' of " \
           "opportunity" in plan.notes
    ws.apply(ws.documents_from(doc), allow_data_loss=True)
    with pytest.raises(ValidationError) as caught:
        ws.reports.run("by_channel")
    problem = caught.value.problems[0]
    assert (problem.field, problem.message) == ("/group_by/0/field",
                                                "unknown field 'channel' of opportunity")
    assert ws.reports.broken(ws.reports.definition("by_channel")) == [
        "/group_by/0/field: unknown field 'channel' of opportunity"]
    # the other reports still run
    ws.reports.run("amount_by_stage")
