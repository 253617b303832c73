"""The approval screens: the record page's panel and lock, decisions from the panel and the
inbox (with and without htmx), delegation, notifications and the shell's badges."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from accesskit import team_user
from conftest import PASSWORD, block, csrf_of, login
from rapport.auth.users import actor_of, create_user
from rapport.records.actor import Actor
from rapport.workspace import Workspace

HX = {"HX-Request": "true"}
LOCKED = "Locked: this record is pending approval in “Quote discount”"


@dataclass
class Team:
    admin: Actor
    maria: Actor   # the manager
    sam: Actor     # a rep reporting to Maria
    lin: Actor     # another rep reporting to Maria
    oscar: Actor   # a rep with no manager


@pytest.fixture
def team(ws: Workspace, admin: dict[str, Any]) -> Team:
    # Maria manages the team Sam and Lin are in: they read each other's quotes
    maria = team_user(ws, "maria@example.com", "manager", PASSWORD, full_name="Maria Manager")
    reps = {}
    for email, name in [("sam@example.com", "Sam Seller"), ("lin@example.com", "Lin Seller"),
                        ("oscar@example.com", "Oscar Owl")]:
        user = create_user(ws, email, "member", PASSWORD, full_name=name)
        if not email.startswith("oscar"):
            user = team_user(ws, email, manager=maria["id"])
        reps[email.split("@")[0]] = actor_of(user)
    return Team(actor_of(admin), actor_of(maria), reps["sam"], reps["lin"], reps["oscar"])


@pytest.fixture
def as_user(app_client: TestClient) -> Callable[[str], TestClient]:
    """A client of the same app logged in as someone (each with its own cookies)."""
    def make(email: str) -> TestClient:
        return login(TestClient(app_client.app), email)
    return make


def quote(ws: Workspace, owner: Actor, discount: float = 25, suites: int = 2,
          name: str = "Big quote") -> dict[str, Any]:
    """A quote of ``owner``'s; each suite costs 12,000 (more than 8 of them at 25% off is
    over 100,000: an admin's step too)."""
    q = ws.records.create("quote", {"name": name, "discount": discount}, owner)
    product = ws.records.create("product", {"name": "Suite", "code": f"S-{q['id']}",
                                            "unit_price": 12000})
    ws.records.create("quote_line", {"quote": q["id"], "product": product["id"],
                                     "quantity": suites, "unit_price": 12000})
    return ws.records.get("quote", q["id"])


def panel(page: str) -> str:
    start = page.index('id="approval-panel"')
    return page[start:page.index("</section>", start)]


def text(fragment: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))).strip()


def flashes(page: str) -> str:
    return text(" ".join(re.findall(r'<p class="flash[^"]*">(.*?)</p>', page, re.S)))


def post(client: TestClient, url: str, page: str, htmx: bool = False,
         **data: Any) -> Any:
    return client.post(url, data={"csrf_token": csrf_of(page), **data},
                       headers=HX if htmx else {}, follow_redirects=False)


def submit(ws: Workspace, q: dict[str, Any], who: Actor, comment: str | None = None) -> int:
    return ws.approvals.submit("quote", q["id"], who, comment=comment)["id"]


# -- the record page ----------------------------------------------------------------------------

def test_the_panel_offers_submission_when_a_flow_applies(ws: Workspace, team: Team,
                                                         as_user: Callable[[str], TestClient]) -> None:
    sam = as_user("sam@example.com")
    big, small = quote(ws, team.sam), quote(ws, team.sam, discount=10, name="Small quote")
    page = sam.get(f"/o/quote/{big['id']}").text
    assert "Submit for approval" in panel(page) and "“Quote discount”" in panel(page)
    assert 'id="lock-banner"' not in page
    small_panel = panel(sam.get(f"/o/quote/{small['id']}").text)
    assert "Submit for approval" not in small_panel and "No approval requests yet." in small_panel
    account = ws.records.create("account", {"name": "Acme"})
    assert 'id="approval-panel"' not in sam.get(f"/o/account/{account['id']}").text


def test_submitting_locks_the_record_for_everyone_but_admins(
        ws: Workspace, team: Team, client: TestClient,
        as_user: Callable[[str], TestClient]) -> None:
    sam = as_user("sam@example.com")
    q = quote(ws, team.sam)
    page = sam.get(f"/o/quote/{q['id']}").text
    sent = post(sam, f"/o/quote/{q['id']}/approvals", page, flow="quote_discount",
                comment="Please, they sign today")
    assert sent.status_code == 303 and sent.headers["location"] == f"/o/quote/{q['id']}"
    page = sam.get(f"/o/quote/{q['id']}").text
    assert "Submitted for approval." in flashes(page)
    banner = block(page, "lock-banner", "div")
    assert banner.startswith("Locked: pending approval in Quote discount since ")
    assert "only admins can edit" in banner
    assert f'href="/o/quote/{q["id"]}/edit"' not in page
    assert f'href="/o/quote/{q["id"]}/delete"' not in page and 'class="edit-field"' not in page
    shown = text(panel(page))
    assert "Pending" in shown and "Submitted by Sam Seller" in shown
    assert "Please, they sign today" in shown and "Submit for approval" not in shown
    assert "Maria Manager to decide" in shown and "Approve" not in shown
    assert "Recall" in shown  # the submitter may recall
    admin_page = client.get(f"/o/quote/{q['id']}").text
    assert "As an admin you still can." in block(admin_page, "lock-banner", "div")
    assert f'href="/o/quote/{q["id"]}/edit"' in admin_page and 'class="edit-field"' in admin_page


def test_submitting_with_htmx_reloads_the_page(ws: Workspace, team: Team,
                                               as_user: Callable[[str], TestClient]) -> None:
    sam = as_user("sam@example.com")
    q = quote(ws, team.sam)
    page = sam.get(f"/o/quote/{q['id']}").text
    sent = post(sam, f"/o/quote/{q['id']}/approvals", page, htmx=True, flow="quote_discount")
    assert sent.status_code == 200 and sent.headers["hx-refresh"] == "true"
    assert ws.approvals.pending("quote", q["id"])["submitted_by"] == team.sam.id


def test_submission_errors_are_shown_in_place(ws: Workspace, team: Team,
                                              as_user: Callable[[str], TestClient]) -> None:
    oscar = as_user("oscar@example.com")
    q = quote(ws, team.oscar)
    page = oscar.get(f"/o/quote/{q['id']}").text
    refused = post(oscar, f"/o/quote/{q['id']}/approvals", page, htmx=True, flow="quote_discount",
                   comment="kept")
    assert refused.status_code == 422 and "<html" not in refused.text
    message = text(re.search(r'id="approval-message">(.*?)</p>', refused.text, re.S).group(1))
    assert message.startswith("Not submitted:") and "Oscar Owl" in message
    assert "has no manager" in message
    assert ">kept</textarea>" in refused.text  # what they typed stays
    plain = post(oscar, f"/o/quote/{q['id']}/approvals", page, flow="quote_discount")
    assert plain.status_code == 303
    assert "has no manager" in flashes(oscar.get(f"/o/quote/{q['id']}").text)
    # the condition no longer holds (the discount changed meanwhile)
    ws.records.update("quote", q["id"], {"discount": 5})
    late = post(oscar, f"/o/quote/{q['id']}/approvals", page, htmx=True, flow="quote_discount")
    assert late.status_code == 422 and "does not meet the entry condition" in late.text
    assert ws.approvals.for_record("quote", q["id"]) == []


def test_the_panel_shows_steps_approvers_modes_and_decisions(
        ws: Workspace, team: Team, client: TestClient,
        as_user: Callable[[str], TestClient]) -> None:
    q = quote(ws, team.sam, suites=12)  # 108,000 after the discount: the admins decide too
    first = submit(ws, q, team.sam, "first try")
    ws.approvals.recall(first, team.sam)
    second = submit(ws, q, team.sam, "second try")
    ws.approvals.approve(second, team.maria, "Fine by me")
    page = client.get(f"/o/quote/{q['id']}").text
    current = panel(page)[:panel(page).index('class="approval-older"')]
    steps = re.findall(r'<li class="approval-step (step-\w+)( current)?"', current)
    assert steps == [("step-approved", ""), ("step-pending", " current")]
    shown = text(current)
    assert "Owner's manager Approved" in shown and "Any one approver decides" in shown
    assert "Maria Manager approved" in shown and "Fine by me" in shown
    assert "Sales director In progress" in shown and "only if total > 100000" in shown
    assert "Ann Admin to decide" in shown and "Your decision is needed" in shown
    assert "Maria Manager approved" in text(block(current, f"approval-request-{second}", "article"))
    older = panel(page)[panel(page).index('class="approval-older"'):]
    assert "Earlier requests (1)" in text(older) and "Recalled" in text(older)
    assert "first try" in text(older)
    history = page[page.index('id="sec-history"'):]
    assert "Submitted for approval · “second try”" in text(history)
    assert "Approved · “Fine by me”" in text(history)


def test_approve_from_the_panel_with_htmx_and_reject_without(
        ws: Workspace, team: Team, as_user: Callable[[str], TestClient]) -> None:
    maria = as_user("maria@example.com")
    q, other = quote(ws, team.sam), quote(ws, team.lin, name="Other quote")
    rid, other_id = submit(ws, q, team.sam), submit(ws, other, team.lin)
    page = maria.get(f"/o/quote/{q['id']}").text
    assert "Your decision is needed" in block(page, "lock-banner", "div")
    done = post(maria, f"/approvals/{rid}/approve", page, htmx=True, view="panel",
                comment="Go ahead")
    assert done.status_code == 200 and done.headers["hx-refresh"] == "true"
    page = maria.get(f"/o/quote/{q['id']}").text
    assert "Approved." in flashes(page) and 'id="lock-banner"' not in page
    assert ws.records.get("quote", q["id"])["status"] == "approved"
    assert "Go ahead" in text(panel(page))
    rejected = post(maria, f"/approvals/{other_id}/reject", page, view="panel",
                    comment="Too deep")
    assert rejected.status_code == 303 and rejected.headers["location"] == f"/o/quote/{other['id']}"
    assert "Rejected." in flashes(maria.get(f"/o/quote/{other['id']}").text)
    assert ws.records.get("quote", other["id"])["status"] == "rejected"


def test_a_decision_made_meanwhile_shows_409_and_the_fresh_state(
        ws: Workspace, team: Team, as_user: Callable[[str], TestClient]) -> None:
    maria = as_user("maria@example.com")
    q = quote(ws, team.sam)
    rid = submit(ws, q, team.sam)
    page = maria.get(f"/o/quote/{q['id']}").text
    ws.approvals.reject(rid, team.maria, "decided in another tab")
    late = post(maria, f"/approvals/{rid}/approve", page, htmx=True, view="panel")
    assert late.status_code == 409 and "<html" not in late.text
    message = text(re.search(r'id="approval-message">(.*?)</p>', late.text, re.S).group(1))
    assert message == ("Too late: this request was already rejected by Maria Manager; your "
                       "answer is no longer needed.")
    assert 'class="status-pill status-rejected">Rejected<' in late.text
    assert "Your decision is needed" not in late.text
    row = post(maria, f"/approvals/{rid}/approve", page, htmx=True, view="inbox")
    assert row.status_code == 409 and f'id="inbox-row-{rid}"' in row.text
    assert "already rejected" in row.text and "Rejected" in row.text
    plain = post(maria, f"/approvals/{rid}/approve", page, view="panel")
    assert plain.status_code == 303
    assert "already rejected" in flashes(maria.get(f"/o/quote/{q['id']}").text)


def test_the_submitter_recalls(ws: Workspace, team: Team,
                               as_user: Callable[[str], TestClient]) -> None:
    sam, lin = as_user("sam@example.com"), as_user("lin@example.com")
    q = quote(ws, team.sam)
    rid = submit(ws, q, team.sam)
    assert "Recall" not in text(panel(lin.get(f"/o/quote/{q['id']}").text))
    page = sam.get(f"/o/quote/{q['id']}").text
    done = post(sam, f"/approvals/{rid}/recall", page, htmx=True, view="panel")
    assert done.status_code == 200 and done.headers["hx-refresh"] == "true"
    page = sam.get(f"/o/quote/{q['id']}").text
    assert "Request recalled." in flashes(page) and 'id="lock-banner"' not in page
    assert ws.records.get("quote", q["id"])["status"] == "draft"
    assert "Submit for approval" in panel(page)  # may be submitted again


def test_reassign_and_add_a_signer(ws: Workspace, team: Team,
                                   as_user: Callable[[str], TestClient]) -> None:
    maria, lin = as_user("maria@example.com"), as_user("lin@example.com")
    q = quote(ws, team.sam)
    rid = submit(ws, q, team.sam)
    page = maria.get(f"/o/quote/{q['id']}").text
    assert '<option value="lin@example.com">Lin Seller</option>' in panel(page)
    unknown = post(maria, f"/approvals/{rid}/reassign", page, htmx=True, view="panel",
                   user="nobody@example.com")
    assert unknown.status_code == 422 and "no active user" in unknown.text
    missing = post(maria, f"/approvals/{rid}/add-signer", page, htmx=True, view="panel", user="")
    assert missing.status_code == 422 and "Choose a user first." in missing.text
    added = post(maria, f"/approvals/{rid}/add-signer", page, htmx=True, view="panel",
                 user="ann@example.com", comment="Ann should see this")
    assert added.status_code == 200 and added.headers["hx-refresh"] == "true"
    page = maria.get(f"/o/quote/{q['id']}").text
    assert "Ann Admin was asked to sign too." in flashes(page)
    assert "asked Ann Admin to sign too" in text(panel(page))
    moved = post(maria, f"/approvals/{rid}/reassign", page, view="panel", user="lin@example.com")
    assert moved.status_code == 303
    assert "Task handed to Lin Seller." in flashes(maria.get(f"/o/quote/{q['id']}").text)
    assert "Your decision is needed" in panel(lin.get(f"/o/quote/{q['id']}").text)
    assert ws.approvals.inbox_count(team.maria) == 0 and ws.approvals.inbox_count(team.lin) == 1


def test_decisions_need_the_csrf_token_and_a_task(ws: Workspace, team: Team,
                                                  as_user: Callable[[str], TestClient]) -> None:
    maria, lin = as_user("maria@example.com"), as_user("lin@example.com")
    q = quote(ws, team.sam)
    rid = submit(ws, q, team.sam)
    forged = maria.post(f"/approvals/{rid}/approve", data={"view": "panel"},
                        follow_redirects=False)
    assert forged.status_code == 403
    page = lin.get(f"/o/quote/{q['id']}").text
    refused = post(lin, f"/approvals/{rid}/approve", page, view="panel")
    assert refused.status_code == 403 and "no task in the current step" in refused.text
    assert post(lin, f"/approvals/{rid}/approve", page, htmx=True).status_code == 403
    assert ws.approvals.get(rid)["status"] == "pending"


# -- a locked record refuses every way of changing it ---------------------------------------------

BIG_DEAL = {"kind": "approval", "name": "big_deal", "object": "opportunity",
            "label": {"en": "Big deal", "zh-CN": "大单审批"}, "when": "amount > 1000",
            "steps": [{"name": "manager", "approvers": {"manager_of": "owner"}}]}


def test_a_locked_record_refuses_every_screen_path(ws: Workspace, team: Team,
                                                   client: TestClient,
                                                   as_user: Callable[[str], TestClient]) -> None:
    ws.apply(ws.documents_from([BIG_DEAL]))
    sam = as_user("sam@example.com")
    deal = ws.records.create("opportunity", {"name": "Huge", "amount": 5000,
                                             "stage": "prospecting"}, team.sam)
    ws.approvals.submit("opportunity", deal["id"], team.sam)
    base = f"/o/opportunity/{deal['id']}"
    page = sam.get(base).text
    refusal = "Locked: this record is pending approval in “Big deal”; only admins can change it"
    assert "Locked: pending approval in Big deal" in block(page, "lock-banner", "div")
    assert f'action="{base}/move"' not in page  # the stage path shows no moves
    edit_form = sam.get(base + "/edit", follow_redirects=False)
    assert edit_form.status_code == 303 and refusal in flashes(sam.get(base).text)
    saved = post(sam, base + "/edit", page, version=str(deal["version"]), name="Renamed",
                 amount="5000", stage="prospecting")
    assert saved.status_code == 409 and refusal in html.unescape(saved.text)
    editor = sam.get(base + "/field/name/edit", headers=HX)
    assert editor.status_code == 409 and refusal in html.unescape(editor.text)
    inline = post(sam, base + "/field/name", page, htmx=True, version=str(deal["version"]),
                  name="Renamed")
    assert inline.status_code == 409 and refusal in html.unescape(inline.text)
    card = post(sam, base + "/move", page, htmx=True, value="qualification",
                version=str(deal["version"]))
    assert card.status_code == 409 and card.text.startswith(refusal)
    path = post(sam, base + "/move", page, field="stage", value="qualification",
                version=str(deal["version"]), _back=base)
    assert path.status_code == 303 and refusal in flashes(sam.get(base).text)
    confirm = sam.get(base + "/delete", follow_redirects=False)
    assert confirm.status_code == 303 and refusal in flashes(sam.get(base).text)
    gone = post(sam, base + "/delete", page)
    assert gone.status_code == 303 and refusal in flashes(sam.get(base).text)
    kept = ws.records.get("opportunity", deal["id"])
    assert kept["name"] == "Huge" and kept["stage"] == "prospecting"
    by_admin = post(client, base + "/field/name", client.get(base).text, htmx=True,
                    version=str(kept["version"]), name="Renamed by admin")
    assert by_admin.status_code == 200
    assert ws.records.get("opportunity", deal["id"])["name"] == "Renamed by admin"


# -- the inbox ---------------------------------------------------------------------------------

def test_the_inbox_lists_what_waits_and_decides_in_place(
        ws: Workspace, team: Team, as_user: Callable[[str], TestClient]) -> None:
    maria = as_user("maria@example.com")
    first, second = quote(ws, team.sam, name="First quote"), quote(ws, team.lin, name="Second")
    one, two = submit(ws, first, team.sam, "They sign today"), submit(ws, second, team.lin)
    page = maria.get("/approvals").text
    nav = re.search(r'<a href="/approvals" id="nav-approvals"[^>]*>', page).group(0)
    assert 'aria-label="Approvals: 2 waiting for you"' in nav and 'aria-current="page"' in nav
    assert 'aria-label="Notifications: 2 unread"' in page
    rows = re.findall(r'id="inbox-row-(\d+)"', page)
    assert rows == [str(two), str(one)]  # newest first
    row = text(block(page, f"inbox-row-{one}", "tr"))
    assert "First quote" in row and "Quote" in row and "Quote discount" in row
    assert "Owner's manager" in row and "Sam Seller" in row and "They sign today" in row
    assert f'href="/o/quote/{first["id"]}">First quote</a>' in page
    decided = post(maria, f"/approvals/{one}/approve", page, htmx=True, view="inbox",
                   comment="ok")
    assert decided.status_code == 200 and "<html" not in decided.text
    assert f'id="inbox-row-{one}"' in decided.text and "Approved." in decided.text
    assert 'status-pill status-approved' in decided.text and "<form" not in decided.text
    oob = re.search(r'<a href="/approvals" id="nav-approvals"[^>]*>', decided.text).group(0)
    assert 'hx-swap-oob="true"' in oob and 'aria-label="Approvals: 1 waiting for you"' in oob
    plain = post(maria, f"/approvals/{two}/reject", page, view="inbox", back="/approvals")
    assert plain.status_code == 303 and plain.headers["location"] == "/approvals"
    page = maria.get("/approvals").text
    assert "Rejected." in flashes(page) and "Nothing is waiting for your decision." in page
    assert 'aria-label="Approvals"' in page and "count-badge" not in block(page, "nav-approvals", "a")


def test_submitted_by_me_shows_status_and_recalls(ws: Workspace, team: Team,
                                                  as_user: Callable[[str], TestClient]) -> None:
    sam = as_user("sam@example.com")
    done, waiting = quote(ws, team.sam, name="Done quote"), quote(ws, team.sam, name="Waiting")
    ws.approvals.approve(submit(ws, done, team.sam), team.maria)
    rid = submit(ws, waiting, team.sam)
    page = sam.get("/approvals?tab=submitted").text
    assert 'aria-current="page">Submitted by me' in page
    assert "Recall" not in text(block(page, f"submitted-row-{rid - 1}", "tr"))
    assert "Approved" in text(block(page, f"submitted-row-{rid - 1}", "tr"))
    row = text(block(page, f"submitted-row-{rid}", "tr"))
    assert "Waiting" in row and "Pending" in row and "Owner's manager" in row and "Recall" in row
    recalled = post(sam, f"/approvals/{rid}/recall", page, htmx=True, view="submitted")
    assert recalled.status_code == 200 and "Recalled" in recalled.text
    assert "Request recalled." in recalled.text and "<form" not in recalled.text
    assert ws.approvals.get(rid)["status"] == "recalled"


def test_delegation(ws: Workspace, team: Team, as_user: Callable[[str], TestClient]) -> None:
    maria, lin = as_user("maria@example.com"), as_user("lin@example.com")
    rid = submit(ws, quote(ws, team.sam), team.sam)
    page = maria.get("/approvals").text
    assert "While I am away, send my approvals to" in page
    day = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    to_self = post(maria, "/approvals/delegation", page, to="maria@example.com", until=day)
    assert to_self.status_code == 422
    assert "you cannot delegate to yourself" in text(block(to_self.text, "delegation-error", "p"))
    past = post(maria, "/approvals/delegation", page, to="lin@example.com", until="2001-01-01")
    assert past.status_code == 422 and "must be in the future" in past.text
    saved = post(maria, "/approvals/delegation", page, to="lin@example.com", until=day)
    assert saved.status_code == 303
    page = maria.get("/approvals").text
    assert f"Your approvals go to Lin Seller until {day}." in flashes(page)
    assert f"until {day}" in text(block(page, "delegation-state", "div"))
    assert f'name="until" aria-describedby="delegate-until-help"\n               value="{day}"' in page
    inbox = lin.get("/approvals").text
    assert "for Maria Manager" in text(block(inbox, f"inbox-row-{rid}", "tr"))
    assert post(lin, f"/approvals/{rid}/approve", inbox, view="inbox").status_code == 303
    assert ws.approvals.get(rid)["status"] == "approved"
    cleared = post(maria, "/approvals/delegation/clear", page)
    assert cleared.status_code == 303 and ws.approvals.delegation(team.maria) is None
    assert "Delegation ended." in flashes(maria.get("/approvals").text)


# -- notifications -------------------------------------------------------------------------------

def test_notifications_page_links_and_marks_read(ws: Workspace, team: Team, client: TestClient,
                                                 as_user: Callable[[str], TestClient]) -> None:
    sam = as_user("sam@example.com")
    q = quote(ws, team.sam)
    ws.approvals.approve(submit(ws, q, team.sam), team.maria, "ok")
    deal = ws.records.create("opportunity", {"name": "Moved deal", "stage": "prospecting",
                                             "amount": 10, "owner": team.sam.id})
    ws.records.update("opportunity", deal["id"], {"stage": "qualification"}, team.admin)
    page = sam.get("/notifications").text
    assert 'aria-label="Notifications: 2 unread"' in page
    notes = re.findall(r'<li class="note( unread)?" id="note-(\d+)">', page)
    assert [n[0] for n in notes] == [" unread", " unread"]
    moved, decided = (text(block(page, f"note-{n[1]}", "li")) for n in notes)
    assert "Ann Admin moved “Moved deal” from Prospecting to Qualification." in moved
    assert ("Your approval request for Quote “Big quote” (Quote discount) was approved by "
            "Maria Manager.") in decided and "Approval decided" in decided
    opened = sam.get(f"/notifications/{notes[1][1]}", follow_redirects=False)
    assert opened.status_code == 303
    assert opened.headers["location"] == f"/o/quote/{q['id']}#approval-panel"
    assert ws.notifications.unread_count(team.sam) == 1
    page = sam.get("/notifications").text
    assert 'aria-label="Notifications: 1 unread"' in page
    marked = post(sam, "/notifications/read", page)
    assert marked.status_code == 303 and ws.notifications.unread_count(team.sam) == 0
    page = sam.get("/notifications").text
    assert "1 notification marked read." in flashes(page) and "Mark all read" not in page
    assert 'class="note unread"' not in page and 'aria-label="Notifications"' in page
    assert client.get("/notifications").text.count('class="note') == 0  # only one's own


# -- in Chinese -----------------------------------------------------------------------------------

def test_approval_screens_in_chinese(ws: Workspace, team: Team,
                                     as_user: Callable[[str], TestClient]) -> None:
    maria, sam = as_user("maria@example.com"), as_user("sam@example.com")
    for client in (maria, sam):
        post(client, "/locale", client.get("/").text, locale="zh-CN", next="/")
    q = quote(ws, team.sam)
    rid = submit(ws, q, team.sam)
    page = maria.get(f"/o/quote/{q['id']}").text
    assert "已锁定：自 " in block(page, "lock-banner", "div")
    assert "“报价折扣审批”中等待审批" in block(page, "lock-banner", "div")
    shown = text(panel(page))
    assert "审批中" in shown and "负责人的上级" in shown and "或签（一人同意即可）" in shown
    assert "同意" in shown and "驳回" in shown and "转交或加签" in shown
    assert 'aria-label="审批：1 项等待你处理"' in page and 'aria-label="通知：1 条未读"' in page
    inbox = maria.get("/approvals").text
    assert "待我审批" in inbox and "我提交的" in inbox and "我外出期间，将我的审批转给" in inbox
    refused = post(sam, f"/o/quote/{q['id']}/field/name", sam.get("/").text, htmx=True,
                   version=str(q["version"]), name="改名")
    assert refused.status_code == 409
    assert "已锁定：此记录正在“报价折扣审批”中等待审批" in html.unescape(refused.text)
    ws.approvals.reject(rid, team.maria, "折扣太大")
    notes = text(block(sam.get("/notifications").text, "notifications", "ul"))
    assert "你提交的报价单“Big quote”审批（报价折扣审批）已被 Maria Manager 驳回。" in notes
    page = sam.get(f"/o/quote/{q['id']}").text
    assert "已驳回" in text(panel(page)) and "折扣太大" in text(panel(page))
