"""The list view: filters, sort, search, keyset pages, the lazy count, saved views, bulk
actions and export."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from conftest import csrf_of, login
from rapport.auth.users import create_user
from rapport.workspace import Workspace

ROW = re.compile(r'name="_ids" value="(\d+)"')


def ids(page: str) -> list[int]:
    return [int(i) for i in ROW.findall(page)]


@pytest.fixture
def deals(ws: Workspace) -> list[dict[str, Any]]:
    acme = ws.records.create("account", {"name": "Acme"})
    globex = ws.records.create("account", {"name": "Globex"})
    stages = ["prospecting", "qualification", "closed_won"]
    out = []
    for i in range(30):
        out.append(ws.records.create("opportunity", {
            "name": f"Deal {i:02d}" + (" rocket" if i % 10 == 0 else ""),
            "account": (acme if i % 2 else globex)["id"], "amount": 100 * i,
            "stage": stages[i % 3], "close_date": f"2030-01-{i + 1:02d}"}))
    return out


def test_columns_come_from_the_list_view(client: TestClient, deals: list[dict[str, Any]]) -> None:
    page = client.get("/o/opportunity").text
    head = page[page.index("<thead>"):page.index("</thead>")]
    labels = re.findall(r'class="sort[^"]*">([^<]+)<', head)
    assert labels == ["Opportunity name", "Account", "Amount", "Stage"]
    assert '<a href="/o/account/' in page and ">Acme</a>" in page  # lookups by title
    assert "$2,900.00" in page                                       # currency


def test_default_sort_and_click_to_sort(client: TestClient, deals: list[dict[str, Any]]) -> None:
    by_amount = {d["id"]: d["amount"] for d in deals}
    page = client.get("/o/opportunity").text  # the view sorts by -amount
    got = ids(page)
    assert [by_amount[i] for i in got] == sorted(by_amount.values(), reverse=True)
    assert 'aria-sort="descending"' in page
    asc = client.get("/o/opportunity?sort=amount").text
    assert [by_amount[i] for i in ids(asc)] == sorted(by_amount.values())
    by_name = client.get("/o/opportunity?sort=-name").text
    names = {d["id"]: d["name"] for d in deals}
    assert [names[i] for i in ids(by_name)] == sorted(names.values(), reverse=True)
    # the header link flips the direction of the current sort
    assert 'href="/o/opportunity?sort=name"' in asc
    assert 'href="/o/opportunity?sort=name"' in by_name
    assert 'href="/o/opportunity?sort=-name"' not in by_name
    assert 'href="/o/opportunity" hx-get="/o/opportunity" hx-target="#results"' in asc  # back to -amount


def test_filters_by_type(client: TestClient, deals: list[dict[str, Any]]) -> None:
    def rows(query: str) -> set[int]:
        response = client.get(f"/o/opportunity?{query}&size=100")
        assert response.status_code == 200, response.text[:300]
        return set(ids(response.text))

    expect = {d["id"] for d in deals if d["stage"] == "qualification"}
    assert rows("f=stage&op=eq&v=qualification&v2=") == expect
    assert rows("f=stage&op=eq&v=Qualification&v2=") == expect  # an option's label works too
    assert rows("f=amount&op=gte&v=2500&v2=") == {d["id"] for d in deals if d["amount"] >= 2500}
    assert rows("f=amount&op=between&v=1000&v2=1500") == \
        {d["id"] for d in deals if 1000 <= d["amount"] <= 1500}
    assert rows("f=name&op=contains&v=rocket&v2=") == {d["id"] for d in deals if "rocket" in d["name"]}
    assert rows("f=close_date&op=lt&v=2030-01-04&v2=") == {deals[0]["id"], deals[1]["id"], deals[2]["id"]}
    assert rows("f=account&op=eq&v=Acme&v2=") == {d["id"] for i, d in enumerate(deals) if i % 2}
    assert rows(f"f=account&op=eq&v={deals[0]['account']}&v2=") == \
        {d["id"] for i, d in enumerate(deals) if not i % 2}
    both = rows("f=stage&op=eq&v=closed_won&v2=&f=amount&op=lt&v=1000&v2=")
    assert both == {d["id"] for d in deals if d["stage"] == "closed_won" and d["amount"] < 1000}
    assert rows("f=stage&op=in&v=closed_won,prospecting&v2=") == \
        {d["id"] for d in deals if d["stage"] in {"closed_won", "prospecting"}}


def test_a_bad_filter_is_explained_not_a_crash(client: TestClient, deals: list[dict[str, Any]]) -> None:
    response = client.get("/o/opportunity?f=amount&op=contains&v=1&v2=")
    assert response.status_code == 400
    assert "cannot be used" in response.text and ids(response.text) == []
    assert client.get("/o/opportunity?f=nope&op=eq&v=1&v2=").status_code == 400


def test_search(client: TestClient, deals: list[dict[str, Any]]) -> None:
    page = client.get("/o/opportunity?q=rocket").text
    assert set(ids(page)) == {d["id"] for d in deals if "rocket" in d["name"]}
    assert 'value="rocket"' in page


def test_keyset_pages_cover_every_row_once(client: TestClient, deals: list[dict[str, Any]]) -> None:
    seen: list[int] = []
    url = "/o/opportunity?size=25&f=amount&op=gte&v=0&v2="
    pages = 0
    while url:
        page = client.get(url).text
        seen += ids(page)
        pages += 1
        nxt = re.search(r'rel="next" href="([^"]+)"', page)
        url = nxt.group(1).replace("&amp;", "&") if nxt else ""
    assert pages == 2
    assert sorted(seen) == sorted(d["id"] for d in deals) and len(seen) == len(set(seen))


def test_htmx_gets_only_the_results(client: TestClient, deals: list[dict[str, Any]]) -> None:
    response = client.get("/o/opportunity?q=rocket",
                          headers={"HX-Request": "true", "HX-Target": "results"})
    assert response.status_code == 200
    assert "<html" not in response.text and "<table" in response.text
    assert 'hx-swap-oob="true"' in response.text  # the toolbar's sort and size follow
    assert "HX-Request" in response.headers["vary"]


def test_the_count_is_lazy_and_filtered(client: TestClient, deals: list[dict[str, Any]]) -> None:
    page = client.get("/o/opportunity?f=stage&op=eq&v=closed_won&v2=").text
    assert 'hx-trigger="load"' in page
    count_url = re.search(r'hx-get="(/o/opportunity/count[^"]*)"', page).group(1).replace("&amp;", "&")
    response = client.get(count_url, headers={"HX-Request": "true"})
    assert response.text.strip() == "10 records"
    assert client.get("/o/opportunity/count").text.strip() == "30 records"


def test_filter_rows_offer_the_operators_of_the_type(client: TestClient) -> None:
    stage = client.get("/o/opportunity/filter-row?f=stage").text
    ops = re.findall(r'<option value="([a-z_]+)"', stage[stage.index('name="op"'):])
    assert "contains" not in ops and {"eq", "ne", "in", "is_blank"} <= set(ops)
    amount = client.get("/o/opportunity/filter-row?f=amount&op=between").text
    assert 'name="v2"' in amount and "Closed won" not in amount
    date = client.get("/o/opportunity/filter-row?f=close_date&op=in_period").text
    assert "This month" in date
    picklist = client.get("/o/opportunity/filter-row?f=stage&op=eq").text
    assert "Closed won" in picklist


def test_saved_views_belong_to_their_user(client: TestClient, app_client: TestClient,
                                          ws: Workspace, deals: list[dict[str, Any]]) -> None:
    token = csrf_of(client.get("/").text)
    response = client.post("/o/opportunity/views", data={
        "csrf_token": token, "name": "Won deals",
        "query_string": "f=stage&op=eq&v=closed_won&v2=&cursor=abc"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/o/opportunity?f=stage&op=eq&v=closed_won&v2="
    page = client.get("/o/opportunity").text
    assert "Won deals" in page
    assert 'href="/o/opportunity?f=stage&amp;op=eq&amp;v=closed_won&amp;v2="' in page
    view_id = int(re.search(r'/o/opportunity/views/(\d+)/delete', page).group(1))

    create_user(ws, "bob@example.com", "member", "correct horse battery")
    from starlette.testclient import TestClient as TC

    from rapport.web.app import create_app
    other = login(TC(create_app(ws)), "bob@example.com")
    assert "Won deals" not in other.get("/o/opportunity").text
    other_token = csrf_of(other.get("/").text)
    assert other.post(f"/o/opportunity/views/{view_id}/delete",
                      data={"csrf_token": other_token}).status_code == 404

    client.post(f"/o/opportunity/views/{view_id}/delete", data={"csrf_token": token})
    assert "Won deals" not in client.get("/o/opportunity").text


def test_bulk_delete_asks_first_then_deletes(client: TestClient, ws: Workspace,
                                             deals: list[dict[str, Any]]) -> None:
    token = csrf_of(client.get("/o/opportunity").text)
    chosen = [str(deals[0]["id"]), str(deals[1]["id"])]
    confirm = client.post("/o/opportunity/bulk", data={"csrf_token": token, "_action": "delete",
                                                       "_ids": chosen, "_back": "/o/opportunity"})
    assert confirm.status_code == 200 and "Delete 2 records" in confirm.text
    assert ws.records.count("opportunity", _all()) == 30
    done = client.post("/o/opportunity/bulk", data={"csrf_token": token, "_action": "delete",
                                                    "_confirm": "1", "_ids": chosen,
                                                    "_back": "https://evil.example/"},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/o/opportunity"
    assert ws.records.count("opportunity", _all()) == 28
    assert "2 records deleted" in client.get("/o/opportunity").text


def test_bulk_delete_is_all_or_nothing(client: TestClient, ws: Workspace,
                                       deals: list[dict[str, Any]]) -> None:
    # accounts are still referenced by opportunities (on_delete restrict)
    lonely = ws.records.create("account", {"name": "Lonely"})
    token = csrf_of(client.get("/o/account").text)
    page = client.post("/o/account/bulk", data={
        "csrf_token": token, "_action": "delete", "_confirm": "1",
        "_ids": [str(lonely["id"]), str(deals[0]["account"])]}).text  # redirected to the list
    assert ws.records.count("account", _all()) == 3
    assert "Nothing was deleted" in page and "still refer to it" in page


def test_bulk_change_field(client: TestClient, ws: Workspace, deals: list[dict[str, Any]]) -> None:
    token = csrf_of(client.get("/o/opportunity").text)
    chosen = [deals[0], deals[3]]  # both prospecting: the sales workflow lets them qualify
    response = client.post("/o/opportunity/bulk", data={
        "csrf_token": token, "_action": "set", "_field": "stage", "stage": "qualification",
        "_ids": [str(d["id"]) for d in chosen]}, follow_redirects=False)
    assert response.status_code == 303
    assert all(ws.records.get("opportunity", d["id"])["stage"] == "qualification" for d in chosen)
    widget = client.get("/o/opportunity/bulk-value?_field=stage").text
    assert '<select' in widget and 'name="stage"' in widget
    # without scripts the value comes as _value; a refused change changes nothing
    ws.records.update("opportunity", deals[4]["id"], {"close_date": None})  # qualification
    page = client.post("/o/opportunity/bulk", data={
        "csrf_token": token, "_action": "set", "_field": "stage", "_value": "proposal",
        "_ids": [str(deals[0]["id"]), str(deals[4]["id"])]}).text
    assert ws.records.get("opportunity", deals[0]["id"])["stage"] == "qualification"
    assert "Nothing was changed" in page and "Close date is required from the proposal" in page


def test_export_follows_the_current_view(client: TestClient, deals: list[dict[str, Any]]) -> None:
    response = client.get("/o/opportunity/export?format=csv&f=stage&op=eq&v=closed_won&v2=&sort=amount")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["id", "name", "account", "amount", "stage"]
    won = sorted((d for d in deals if d["stage"] == "closed_won"), key=lambda d: d["amount"])
    assert [int(r[0]) for r in rows[1:]] == [d["id"] for d in won]
    xlsx = client.get("/o/opportunity/export?format=xlsx&q=rocket")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = list(sheet.values)
    assert values[0][:2] == ("id", "name") and len(values) == 1 + 3


def test_export_neutralises_formulas(client: TestClient, ws: Workspace) -> None:
    ws.records.create("account", {"name": "=HYPERLINK(\"x\")"})
    text = client.get("/o/account/export?format=csv").content.decode("utf-8-sig")
    assert "'=HYPERLINK" in text


def _all() -> Any:
    from rapport.records.query import Query

    return Query()
