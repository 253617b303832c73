"""Each role reads, edits, counts, searches, exports and reports only what the rules allow
— through the API, the screens and the report engine."""

from __future__ import annotations

import csv
import io

import pytest
from securitykit import EDITS, READS, Org
from sqlalchemy import select

from rapport.auth import audit
from rapport.errors import NotFound, PermissionDenied
from rapport.records.query import Query

PEOPLE = ("ann", "maria", "sam", "lin", "oscar")


def deal_names(rows: list[dict]) -> set[str]:
    return {r["name"].removesuffix(" deal") for r in rows}


@pytest.mark.parametrize("who", PEOPLE)
def test_api_lists_counts_and_searches_only_readable_records(org: Org, who: str) -> None:
    api = org.api(who)
    listed = api.get("/api/v1/records/opportunity?limit=100").json()["data"]
    assert deal_names(listed) == READS[who]
    assert api.get("/api/v1/records/opportunity/count").json()["count"] == len(READS[who])
    found = api.get("/api/v1/records/opportunity?q=deal").json()["data"]
    assert deal_names(found) == READS[who]
    # a filter cannot widen it either
    wide = api.get(f"/api/v1/records/opportunity?filter[owner][in]="
                   f"{','.join(str(a.id) for a in org.actors.values())}").json()["data"]
    assert deal_names(wide) == READS[who]


@pytest.mark.parametrize("who", PEOPLE)
def test_api_get_edit_delete_and_history_obey_the_scopes(org: Org, who: str) -> None:
    api = org.api(who)
    for owner, rid in org.deals.items():
        url = f"/api/v1/records/opportunity/{rid}"
        got = api.get(url)
        history = api.get(url + "/history")
        edit = api.patch(url, json={"description": f"touched by {who}"})
        if owner not in READS[who]:
            assert got.status_code == history.status_code == edit.status_code == 404
            assert "deal" not in got.text and "deal" not in history.text
            assert api.delete(url).status_code == 404
        elif owner not in EDITS[who]:
            assert got.status_code == 200 and history.status_code == 200
            assert edit.status_code == 403
            assert api.delete(url).status_code == 403
        else:
            assert got.status_code == 200 and edit.status_code == 200, edit.text
    assert org.ws.records.get("opportunity", org.deals["sam"])["name"] == "sam deal"


def test_the_report_engine_counts_only_readable_rows(org: Org) -> None:
    for who in PEOPLE:
        result = org.ws.reports.run("amount_by_stage", org.actors[who])
        assert result.totals["count"] == len(READS[who]), who
        body = org.api(who).get("/api/v1/reports/amount_by_stage").json()
        assert body["totals"]["count"] == len(READS[who])


@pytest.mark.parametrize("who", ("maria", "oscar"))
def test_screens_list_export_search_board_and_record_pages(org: Org, who: str) -> None:
    screen = org.screen(who)
    page = screen.get("/o/opportunity").text
    for owner, rid in org.deals.items():
        assert (f"{owner} deal" in page) == (owner in READS[who])
        record = screen.get(f"/o/opportunity/{rid}")
        assert record.status_code == (200 if owner in READS[who] else 404)
        edit = screen.get(f"/o/opportunity/{rid}/edit")
        assert edit.status_code in ((200, 403) if owner in READS[who] else (404,))
    exported = screen.get("/o/opportunity/export")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert {r["name"].removesuffix(" deal") for r in rows} == READS[who]
    assert deal_names(org.ws.records.query("opportunity", Query(search="deal"),
                                           org.actors[who]).data) == READS[who]
    board = screen.get("/o/opportunity/kanban").text
    for owner in org.deals:
        assert (f"{owner} deal" in board) == (owner in READS[who])
    lookup = screen.get("/o/opportunity/lookup?q=account").text
    assert ("oscar account" in lookup) == ("oscar" in READS[who]) or "account" not in lookup
    assert [e for e in audit.entries(org.ws, "export") if e["user_id"] == org.actors[who].id]


def test_owner_change_and_team_move_count_at_once(org: Org) -> None:
    ws, sam = org.ws, org.api("sam")
    oscar_deal = f"/api/v1/records/opportunity/{org.deals['oscar']}"
    assert sam.get(oscar_deal).status_code == 404
    ws.records.update("opportunity", org.deals["oscar"], {"owner": org.actors["sam"].id})
    assert sam.get(oscar_deal).status_code == 200
    assert sam.patch(oscar_deal, json={"description": "mine now"}).status_code == 200
    # sam moves to West: East's deals go, West's come
    west = ws.records.query("user", Query(limit=1, search="oscar")).data[0]["team"]
    ws.records.update("user", org.actors["sam"].id, {"team": west})
    names = deal_names(sam.get("/api/v1/records/opportunity").json()["data"])
    assert names == {"sam", "oscar"}  # his own two (one was oscar's)


def test_sharing_with_a_user_or_a_team_to_read_or_edit(org: Org) -> None:
    oscar, sam = org.api("oscar"), org.api("sam")
    url = f"/api/v1/records/opportunity/{org.deals['oscar']}"
    # sam cannot share what he cannot read; oscar shares his own
    assert sam.post(url + "/shares", json={"user": org.actors["sam"].id}).status_code == 404
    r = oscar.post(url + "/shares", json={"user": org.actors["sam"].id, "level": "read"})
    assert r.status_code == 201, r.text
    assert sam.get(url).status_code == 200
    assert sam.patch(url, json={"description": "x"}).status_code == 403
    east = org.ws.records.get("user", org.actors["lin"].id)["team"]
    assert oscar.post(url + "/shares", json={"team": east, "level": "edit"}).status_code == 201
    assert org.api("lin").patch(url, json={"description": "team edit"}).status_code == 200
    bad = oscar.post(url + "/shares", json={"user": "1; drop table", "level": "own"})
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} >= {"level"}
    share_id = r.json()["id"]
    assert oscar.delete(f"{url}/shares/{share_id}").status_code == 204
    listed = oscar.get(url + "/shares").json()["data"]
    assert [s["team"] for s in listed] == [east]


def test_permission_matrix_changes_count_from_the_next_request(org: Org) -> None:
    ws, oscar = org.ws, org.api("oscar")
    ws.access.set_permissions("member", "opportunity", {
        "create": True, "read": True, "edit": True, "delete": False, "export": False,
        "import": False, "read_scope": "all", "edit_scope": "own"}, {"amount": "hidden"},
        org.actors["ann"])
    rows = oscar.get("/api/v1/records/opportunity?limit=100").json()["data"]
    assert deal_names(rows) == set(PEOPLE) and all("amount" not in r for r in rows)
    assert oscar.get("/api/v1/records/opportunity?sort=-amount").status_code == 422
    assert oscar.get("/api/v1/records/opportunity?filter[amount][gt]=5").status_code == 422
    assert oscar.delete(f"/api/v1/records/opportunity/{org.deals['oscar']}").status_code == 403
    r = oscar.patch(f"/api/v1/records/opportunity/{org.deals['oscar']}", json={"amount": 1})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "amount"
    history = oscar.get(f"/api/v1/records/opportunity/{org.deals['oscar']}/history").json()
    assert all(h["field"] != "amount" for h in history["data"])
    with pytest.raises(Exception, match="amount"):
        ws.reports.run("amount_by_stage", org.actors["oscar"])
    # the manager sees what the member sees (the hierarchy): all deals now
    assert deal_names(org.api("maria").get("/api/v1/records/opportunity").json()["data"]) \
        == set(PEOPLE)
    assert [e for e in audit.entries(ws, "permission_changed")]


def test_a_pack_role_behaves_like_a_member_until_set(org: Org) -> None:
    ws = org.ws
    ws.records.create("role", {"code": "sales_rep", "title": "Sales rep"})
    from rapport.auth.roles import add_role_option

    add_role_option(ws, "sales_rep", "Sales rep")
    ws.records.update("user", org.actors["lin"].id, {"role": "sales_rep"})
    lin = org.api("lin")
    assert deal_names(lin.get("/api/v1/records/opportunity").json()["data"]) == READS["lin"]
    assert lin.patch(f"/api/v1/records/opportunity/{org.deals['sam']}",
                     json={"description": "x"}).status_code == 403


def test_the_record_service_refuses_as_the_api_does(org: Org) -> None:
    ws, oscar = org.ws, org.actors["oscar"]
    with pytest.raises(NotFound):
        ws.records.get("opportunity", org.deals["sam"], oscar)
    with pytest.raises(PermissionDenied):
        ws.records.update("opportunity", org.deals["maria"], {"description": "x"},
                          org.actors["sam"])
    t = ws.table("opportunity")
    with ws.engine.connect() as c:
        assert c.scalar(select(t.c.description).where(t.c.id == org.deals["maria"])) is None


def test_imports_need_the_import_permission_and_upserts_only_change_editable_rows(
        org: Org, tmp_path) -> None:
    from rapport.records.transfer import import_csv

    ws = org.ws
    path = tmp_path / "deals.csv"
    path.write_text("name,amount\nsam deal,5\n", "utf-8")
    with pytest.raises(PermissionDenied):
        import_csv(ws, "opportunity", path, org.actors["sam"])  # members do not import
    report = import_csv(ws, "opportunity", path, org.actors["maria"], upsert_key="name")
    assert not report.errors  # sam's deal is in maria's team: she may change it
    path.write_text("name,amount\noscar deal,5\n", "utf-8")
    report = import_csv(ws, "opportunity", path, org.actors["maria"], upsert_key="name")
    assert report.errors and "no record you may change" in report.errors[0][1]
    assert ws.records.get("opportunity", org.deals["oscar"])["amount"] == 1000


def test_board_counts_and_sums_count_only_readable_records(org: Org) -> None:
    import re

    for who in ("oscar", "maria"):
        summary = org.screen(who).get("/o/opportunity/kanban/summary").text
        counts = [int(n.replace(",", "")) for n in
                  re.findall(r'<span class="pill" title="[^"]*">([\d,]+)</span>', summary)]
        assert sum(counts) == len(READS[who]), (who, counts)
        assert f"{1000 * len(READS[who]):,}" in summary  # the sum of amounts they may read


def test_a_lookup_to_an_unreadable_record_shows_its_number_not_its_title(org: Org) -> None:
    # oscar (West) may read his deal, not the East account it points at
    deal = org.deals["oscar"]
    org.ws.records.update("opportunity", deal, {"account": org.accounts["sam"]})
    oscar = org.screen("oscar")
    for url in (f"/o/opportunity/{deal}", "/o/opportunity", "/o/opportunity/kanban",
                f"/o/opportunity/{deal}/edit"):
        page = oscar.get(url)
        assert page.status_code == 200, url
        assert "oscar deal" in page.text and "sam account" not in page.text, url
    assert f"#{org.accounts['sam']}" in oscar.get(f"/o/opportunity/{deal}").text
    assert "sam account" in org.screen("ann").get(f"/o/opportunity/{deal}").text


def test_a_report_shows_nothing_of_a_parent_record_the_reader_may_not_read(org: Org) -> None:
    deal = org.deals["oscar"]
    org.ws.records.update("opportunity", deal, {"account": org.accounts["sam"]})
    by_account = {"name": "by_account", "object": "opportunity",
                  "group_by": [{"field": "account"}], "aggregates": [{"fn": "count"}]}
    listing = {"name": "deals", "object": "opportunity",
               "columns": ["name", "account", "account.name"]}
    for who, sees in (("oscar", False), ("ann", True)):
        summary = org.ws.reports.run(by_account, org.actors[who])
        label = summary.labels.get("account", {}).get(org.accounts["sam"])
        assert (label == "sam account") is sees, (who, summary.labels)
        rows = org.ws.reports.run(listing, org.actors[who]).rows
        mine = next(r for r in rows if r["id"] == deal)
        assert (mine["account.name"] == "sam account") is sees, (who, mine)


def test_a_filter_through_a_lookup_sees_only_readable_parents(org: Org) -> None:
    deal = org.deals["oscar"]
    org.ws.records.update("opportunity", deal, {"account": org.accounts["sam"]})
    url = "/api/v1/records/opportunity?filter[account.name]=sam%20account"
    assert {r["id"] for r in org.api("ann").get(url).json()["data"]} == {org.deals["sam"], deal}
    # oscar reads his deal, not the account: the filter cannot tell him what it is called
    assert org.api("oscar").get(url).json()["data"] == []
    assert org.api("oscar").get(url.replace("?", "/count?")).json()["count"] == 0
    own = "/api/v1/records/opportunity?filter[account.name]=oscar%20account"
    assert org.api("oscar").get(own).json()["data"] == []  # (his deal moved away from it)


def test_a_parents_sensitive_field_cannot_be_filtered_on(org: Org) -> None:
    doc = dict(org.ws.state.documents[("object", "account")])
    org.ws.apply(org.ws.documents_from({**doc, "kind": "object", "fields": [
        *doc["fields"], {"name": "tax_id", "type": "text", "sensitive": True}]}))
    org.ws.records.update("account", org.accounts["oscar"], {"tax_id": "DE-1"})
    r = org.api("oscar").get("/api/v1/records/opportunity?filter[account.tax_id]=DE-1")
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "filter[account.tax_id]"
    assert org.api("oscar").get("/api/v1/records/opportunity?sort=account.tax_id") \
        .status_code == 422


def test_a_lookup_typed_as_a_title_finds_only_readable_records(org: Org) -> None:
    from securitykit import csrf_of

    oscar = org.screen("oscar")
    token = csrf_of(oscar.get("/o/opportunity/new").text)

    def typed(title: str) -> str:
        r = oscar.post("/o/opportunity/new", data={"csrf_token": token, "name": "typed deal",
                                                   "account__label": title},
                       follow_redirects=False)
        assert r.status_code == 422, title
        return r.text.replace(title, "TITLE")

    # someone else's account answers exactly as an account that does not exist
    assert typed("sam account") == typed("no such account")
