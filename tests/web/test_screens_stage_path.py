"""The stage path on the record page: the workflow's verdict on every move, in place."""

from __future__ import annotations

import html
import re

from starlette.testclient import TestClient

from conftest import PASSWORD, csrf_of, login
from rapport.auth.users import create_user
from rapport.workspace import Workspace


def stage_items(page: str) -> dict[str, str]:
    """Each stage's <li> markup, by its label."""
    nav = page[page.index('id="stage-path"'):page.index("</section>", page.index('id="stage-path"'))]
    items = re.findall(r"<li class=\"stage ([^\"]*)\"[^>]*>(.*?)</li>", nav, re.S)
    out = {}
    for classes, body in items:
        label = re.sub(r"<[^>]+>", "", body.split("<span class=\"sr-only\">")[0]).strip()
        out[label] = f"{classes}|{body}"
    return out


def test_the_path_shows_moves_reasons_and_guidance(client: TestClient, ws: Workspace) -> None:
    deal = ws.records.create("opportunity", {"name": "Deal", "stage": "qualification"})
    page = client.get(f"/o/opportunity/{deal['id']}").text
    stages = stage_items(page)
    assert stages["Qualification"].startswith("current")
    assert stages["Prospecting"].startswith("done")
    assert 'type="submit"' in stages["Closed lost"]             # allowed: a button
    blocked = stages["Proposal"]                                # amount > 0 fails
    assert "blocked" in blocked and 'type="submit"' not in blocked
    assert "moving from Qualification to Proposal needs amount &gt; 0" in blocked
    assert "Agree on budget, authority, need and timing" in page  # the stage's guidance
    assert "In Qualification for 1 minute · 20%" in html.unescape(page)
    # the next steps: the workflow's named transitions, a refused one disabled with its reason
    actions = page[page.index('class="stage-actions"'):]
    assert ">Close as lost</button>" in actions
    assert re.search(r'title="moving from Qualification to Proposal needs amount &gt; 0"[^>]*>'
                     r'<button type="button" class="button small" disabled>Send proposal', actions)


def test_a_move_from_the_path_goes_through_the_workflow(client: TestClient, ws: Workspace) -> None:
    deal = ws.records.create("opportunity", {"name": "Deal", "stage": "qualification",
                                             "amount": 10})
    token = csrf_of(client.get(f"/o/opportunity/{deal['id']}").text)
    back = f"/o/opportunity/{deal['id']}"
    refused = client.post(f"/o/opportunity/{deal['id']}/move", data={
        "csrf_token": token, "version": "1", "field": "stage", "value": "proposal",
        "_back": back})
    assert "Close date is required from the proposal stage on" in refused.text
    assert ws.records.get("opportunity", deal["id"])["stage"] == "qualification"
    ws.records.update("opportunity", deal["id"], {"close_date": "2031-03-01"})
    moved = client.post(f"/o/opportunity/{deal['id']}/move", data={
        "csrf_token": token, "version": "2", "field": "stage", "value": "proposal",
        "_back": back}, follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == back
    record = ws.records.get("opportunity", deal["id"])
    assert record["stage"] == "proposal" and record["probability"] == 50
    page = client.get(back).text
    assert stage_items(page)["Qualification"].startswith("done")


def test_a_member_sees_why_only_a_manager_may_skip_negotiation(ws: Workspace,
                                                                app_client: TestClient) -> None:
    create_user(ws, "rep@example.com", "member", PASSWORD)
    member = login(app_client, "rep@example.com")
    deal = member.post("/o/opportunity/new", data={
        "csrf_token": csrf_of(member.get("/o/opportunity/new").text), "name": "Deal",
        "stage": "proposal", "amount": "5", "close_date": "2031-01-01"}, follow_redirects=True)
    assert deal.status_code == 200
    rid = int(re.search(r"/o/opportunity/(\d+)/edit", deal.text).group(1))
    won = stage_items(deal.text)["Closed won"]
    assert "blocked" in won and "only manager, admin may move from Proposal to Closed won" in won
    forced = member.post(f"/o/opportunity/{rid}/move", data={
        "csrf_token": csrf_of(deal.text), "version": "1", "field": "stage",
        "value": "closed_won", "_back": f"/o/opportunity/{rid}"})
    assert "only manager, admin may move" in forced.text
    assert ws.records.get("opportunity", rid)["stage"] == "proposal"


def test_the_path_speaks_chinese(client: TestClient, ws: Workspace) -> None:
    deal = ws.records.create("opportunity", {"name": "Deal"})
    client.post("/locale", data={"csrf_token": csrf_of(client.get("/").text), "locale": "zh-CN",
                                 "next": "/"})
    page = html.unescape(client.get(f"/o/opportunity/{deal['id']}").text)
    assert "找到决策人，确认客户需求。" in page
    assert "销售流程：不能从“初步接洽”转到“谈判审核”（没有允许的转换）" in page
    assert "确认需求</button>" in page
