"""GET /api/v1/reports/{report}?format=json|csv|xlsx, the preview, the drill-down, and
reports and dashboards as metadata."""

from __future__ import annotations

import csv
import io
import json

from openpyxl import load_workbook

from rapport.workspace import Workspace


def _deals(ws: Workspace) -> None:
    """Three deals the member owns (a member's reports count what they may read)."""
    from rapport.auth.users import find_user

    owner = (find_user(ws, "member@example.com") or {}).get("id")
    acme = ws.records.create("account", {"name": "Acme", "owner": owner})["id"]
    for name, stage, amount in (("=cmd|' /C calc'!A0", "prospecting", 100),
                                ("Two", "prospecting", 200), ("Three", "qualification", 400)):
        ws.records.create("opportunity", {"name": name, "stage": stage, "amount": amount,
                                          "account": acme, "owner": owner})


def test_json_result(ws: Workspace, member) -> None:
    _deals(ws)
    r = member.get("/api/v1/reports/amount_by_stage")
    assert r.status_code == 200
    body = r.json()
    assert body["layout"] == "summary"
    assert [c["key"] for c in body["columns"]] == ["stage", "sum_amount", "count", "avg_amount"]
    assert body["rows"][0] == {"stage": "prospecting", "sum_amount": 300.0, "count": 2,
                               "avg_amount": 150.0}
    assert body["totals"]["sum_amount"] == 700.0
    assert body["labels"]["stage"]["qualification"] == "Qualification"
    assert body["chart"]["type"] == "bar"
    listed = member.get("/api/v1/reports").json()["data"]
    assert {"name": "sales_funnel", "label": "Sales funnel", "object": "opportunity",
            "layout": "summary", "chart": {"type": "funnel", "x": "stage", "y": "reached"}} in listed


def test_filters_and_periods_in_the_query(ws: Workspace, member) -> None:
    _deals(ws)
    r = member.get("/api/v1/reports/amount_by_stage?filter[amount][gte]=200")
    assert r.json()["totals"]["count"] == 2
    r = member.get("/api/v1/reports/amount_by_stage?period=this_month")
    assert r.json()["totals"]["count"] == 0  # no close dates
    r = member.get("/api/v1/reports/amount_by_stage?period=someday")
    assert r.status_code == 422
    r = member.get("/api/v1/reports/amount_by_stage?filter[nope]=1")
    assert r.status_code == 422 and "nope" in r.json()["errors"][0]["message"]


def test_csv_export_is_safe_for_spreadsheets(ws: Workspace, member) -> None:
    _deals(ws)
    r = member.get("/api/v1/reports/largest_open_deals?format=csv")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="largest_open_deals.csv"' in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Opportunity name", "Account", "Account › Industry"]
    names = [row[0] for row in rows[1:-1]]
    assert "'=cmd|' /C calc'!A0" in names
    assert rows[1][1] == "Acme"  # a lookup as its title
    assert rows[-1][0] == "Total" and rows[-1][-1] == "700"


def test_xlsx_export_of_a_matrix_is_pivoted(ws: Workspace, member) -> None:
    _deals(ws)
    r = member.get("/api/v1/reports/stage_by_owner?format=xlsx")
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Owner"
    assert "Prospecting · Sum of Amount" in rows[0]
    assert rows[-1][0] == "Total"
    assert rows[-1][-1] == 3  # the grand count


def test_errors(ws: Workspace, member, client) -> None:
    assert member.get("/api/v1/reports/nope").status_code == 404
    assert member.get("/api/v1/reports/amount_by_stage?format=pdf").status_code == 422
    assert client.get("/api/v1/reports/amount_by_stage").status_code == 401


def test_drill_down_records(ws: Workspace, member) -> None:
    _deals(ws)
    r = member.get('/api/v1/reports/amount_by_stage/records?keys=["prospecting"]')
    assert r.status_code == 200
    assert sorted(row["amount"] for row in r.json()["rows"]) == [100.0, 200.0]
    for bad in ("", "prospecting", "[]", '[{"a": 1}]', '["a","b","c"]'):
        r = member.get(f"/api/v1/reports/amount_by_stage/records?keys={bad}")
        assert r.status_code == 422, bad


def test_preview_validates_like_a_save(ws: Workspace, member) -> None:
    _deals(ws)
    good = {"object": "opportunity", "group_by": [{"field": "stage"}],
            "aggregates": [{"fn": "max", "field": "amount"}]}
    r = member.post("/api/v1/reports/preview", json=good)
    assert r.status_code == 200 and r.json()["totals"] == {"max_amount": 400.0}
    bad = {**good, "aggregates": [{"fn": "sum", "field": "name"}]}
    r = member.post("/api/v1/reports/preview", json=bad)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"].endswith("/aggregates/0/field")
    r = member.post("/api/v1/reports/preview", content=b"{nope")
    assert r.status_code == 400


def test_reports_as_metadata(ws: Workspace, admin, member) -> None:
    definition = {"object": "opportunity", "label": "Deals by source",
                  "group_by": [{"field": "source"}]}
    assert member.put("/api/v1/meta/reports/by_source", json=definition).status_code == 403
    r = admin.put("/api/v1/meta/reports/by_source?plan=1", json=definition)
    assert r.status_code == 200 and r.json()["applied"] is False
    assert "by_source" not in ws.refresh().reports
    r = admin.put("/api/v1/meta/reports/by_source", json=definition)
    assert r.status_code == 200 and r.json()["applied"] is True
    assert member.get("/api/v1/meta/reports/by_source").json()["label"] == "Deals by source"
    assert member.get("/api/v1/reports/by_source").status_code == 200
    r = admin.put("/api/v1/meta/reports/by_source",
                  json={**definition, "group_by": [{"field": "nope"}]})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "report/by_source:/group_by/0/field"
    r = admin.put("/api/v1/meta/dashboards/mine", json={"tiles": [{"report": "by_source"}]})
    assert r.status_code == 200
    assert admin.delete("/api/v1/meta/reports/by_source").status_code == 422  # a tile uses it
    assert admin.delete("/api/v1/meta/dashboards/mine").status_code == 200
    assert admin.delete("/api/v1/meta/reports/by_source").status_code == 200
    assert member.get("/api/v1/meta/reports/by_source").status_code == 404
    assert admin.get("/api/v1/meta/widgets/x").status_code == 404


def test_export_json_round_trip_values(ws: Workspace, member) -> None:
    _deals(ws)
    body = member.get("/api/v1/reports/largest_open_deals").json()
    assert body["count"] == 3
    assert json.dumps(body)  # plain JSON all the way
