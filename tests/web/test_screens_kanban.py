"""Kanban boards: columns with SQL counts and sums, cards, loading more, and moves."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from starlette.testclient import TestClient

from conftest import block, csrf_of
from rapport.workspace import Workspace

HX = {"HX-Request": "true"}
STAGES = ["prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost"]


@pytest.fixture
def deals(ws: Workspace) -> list[dict[str, Any]]:
    rows = []
    for i in range(45):
        stage = "prospecting" if i < 25 else STAGES[i % 6]
        rows.append({"name": f"Deal {i}", "stage": stage, "amount": Decimal(100 + i),
                     "close_date": "2030-01-01"})
    result = ws.records.create_many("opportunity", rows)
    assert not result.errors
    return [ws.records.get("opportunity", i) for i in result.ids]


def cards(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'id="card-(\d+)"', page)]


def test_columns_count_and_sum_match_the_data(client: TestClient, deals: list[dict[str, Any]]) -> None:
    page = client.get("/o/opportunity/kanban").text
    titles = re.findall(r'<h2 id="kh-\d+-title"><span class="stage-dot" aria-hidden="true"></span>([^<]+)</h2>', page)
    assert titles == ["Prospecting", "Qualification", "Proposal", "Negotiation", "Closed won",
                      "Closed lost"]
    # the board comes first; counts and sums follow in one request it makes on load
    assert page.count('aria-busy="true"') == len(titles)
    summary = re.search(r'hx-get="(/o/opportunity/kanban/summary\?[^"]*)" hx-trigger="load"', page)
    heads = client.get(summary.group(1).replace("&amp;", "&"), headers=HX)
    assert heads.status_code == 200 and "<html" not in heads.text
    assert heads.text.count('hx-swap-oob="true"') == len(titles)
    for i, stage in enumerate(STAGES):
        mine = [d for d in deals if d["stage"] == stage]
        head = block(heads.text, f"kh-{i}", "header")
        count = re.search(r'<span class="pill"[^>]*>([\d,]+)</span>',
                          heads.text[heads.text.index(f'id="kh-{i}"'):]).group(1)
        assert int(count.replace(",", "")) == len(mine), stage
        total = sum(d["amount"] for d in mine)
        assert f"${total:,.2f}" in head, (stage, head)
    assert '--stage: #F59E0B' in page  # stage colours on the columns


def test_a_column_shows_twenty_cards_then_loads_more(client: TestClient,
                                                     deals: list[dict[str, Any]]) -> None:
    page = client.get("/o/opportunity/kanban").text
    first = page[page.index('data-value="prospecting"'):page.index('data-value="qualification"')]
    assert len(cards(first)) == 20
    more = re.search(r'hx-get="(/o/opportunity/kanban/cards\?[^"]+)"', first).group(1).replace("&amp;", "&")
    assert 'hx-trigger="click, intersect once"' in first
    rest = client.get(more, headers=HX)
    assert rest.status_code == 200 and "<html" not in rest.text
    prospecting = {d["id"] for d in deals if d["stage"] == "prospecting"}
    assert set(cards(first)) | set(cards(rest.text)) == prospecting
    assert not set(cards(first)) & set(cards(rest.text))
    assert "kanban/cards" not in rest.text  # the last page has no sentinel


def test_cards_show_the_configured_fields(client: TestClient, ws: Workspace) -> None:
    acme = ws.records.create("account", {"name": "Acme"})
    ws.records.create("opportunity", {"name": "Carded", "account": acme["id"], "amount": 1234})
    page = client.get("/o/opportunity/kanban").text
    card = page[page.index(">Carded</a>"):]
    card = card[:card.index("</article>")]
    assert ">Acme</a>" in card and "$1,234.00" in card


def test_a_move_saves_and_updates_the_columns(client: TestClient, ws: Workspace,
                                              deals: list[dict[str, Any]]) -> None:
    deal = deals[0]  # prospecting: the sales workflow lets it go on to qualification
    token = csrf_of(client.get("/o/opportunity/kanban").text)
    response = client.post(f"/o/opportunity/{deal['id']}/move",
                           data={"value": "qualification", "version": str(deal["version"])},
                           headers={**HX, "X-CSRF-Token": token})
    assert response.status_code == 200
    moved = ws.records.get("opportunity", deal["id"])
    assert moved["stage"] == "qualification" and moved["probability"] == 20
    assert f'id="card-{deal["id"]}"' in response.text and 'data-version="2"' in response.text
    assert response.text.count('class="kanban-head"') == len(STAGES)
    qualification = [d for d in deals if d["stage"] == "qualification"] + [deal]
    head = block(response.text, "kh-1", "header")
    assert f"${sum(d['amount'] for d in qualification):,.2f}" in head


def test_a_refused_move_returns_the_reason(client: TestClient, ws: Workspace) -> None:
    deal = ws.records.create("opportunity", {"name": "No amount", "stage": "qualification"})
    token = csrf_of(client.get("/o/opportunity/kanban").text)
    response = client.post(f"/o/opportunity/{deal['id']}/move",
                           data={"value": "proposal", "version": "1"},
                           headers={**HX, "X-CSRF-Token": token})
    assert response.status_code == 422
    assert response.text == "moving from Qualification to Proposal needs amount > 0"
    assert ws.records.get("opportunity", deal["id"])["stage"] == "qualification"
    skip = client.post(f"/o/opportunity/{deal['id']}/move",
                       data={"value": "closed_won", "version": "1"},
                       headers={**HX, "X-CSRF-Token": token})
    assert skip.status_code == 422 and "no transition allows it" in skip.text
    stale = client.post(f"/o/opportunity/{deal['id']}/move",
                        data={"value": "negotiation", "version": "7"},
                        headers={**HX, "X-CSRF-Token": token})
    assert stale.status_code == 409 and "reload" in stale.text


def test_a_move_without_scripts_redirects_back_with_the_message(client: TestClient,
                                                                ws: Workspace) -> None:
    deal = ws.records.create("opportunity", {"name": "No date", "stage": "qualification",
                                             "amount": 10})
    token = csrf_of(client.get("/o/opportunity/kanban").text)
    response = client.post(f"/o/opportunity/{deal['id']}/move",
                           data={"csrf_token": token, "value": "proposal", "version": "1",
                                 "_back": "/o/opportunity/kanban"})
    assert response.status_code == 200
    assert "Close date is required from the proposal stage on" in response.text
    ok = client.post(f"/o/opportunity/{deal['id']}/move",
                     data={"csrf_token": token, "value": "closed_lost", "version": "1",
                           "_back": f"/o/opportunity/{deal['id']}"}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == f"/o/opportunity/{deal['id']}"
    assert ws.records.get("opportunity", deal["id"])["stage"] == "closed_lost"


def test_boards_exist_where_a_kanban_view_is_defined(client: TestClient, ws: Workspace) -> None:
    ws.records.create("lead", {"last_name": "Lee", "company": "Co", "estimated_value": 50})
    lead = client.get("/o/lead/kanban").text
    assert "New" in lead and "$50.00" in lead
    activity = client.get("/o/activity/kanban")
    assert activity.status_code == 200 and "kanban-sum" not in activity.text  # no sum field
    assert client.get("/o/contact/kanban").status_code == 404
    assert 'href="/o/opportunity/kanban"' in client.get("/o/opportunity").text
    assert 'href="/o/contact/kanban"' not in client.get("/o/contact").text


def test_a_filtered_board(client: TestClient, deals: list[dict[str, Any]]) -> None:
    page = client.get("/o/opportunity/kanban?q=Deal 3").text
    shown = set(cards(page))
    assert shown == {d["id"] for d in deals if d["name"].startswith("Deal 3")}
