"""Approvals in the browser: a rep submits a quote with a big discount from its record page
and it locks; their manager approves it from the inbox in another browser; the rep finds
the quote unlocked and approved, and the notification."""

from __future__ import annotations

from typing import Any

import pytest

from rapport.auth.users import actor_of, create_user
from rapport.workspace import Workspace

from . import e2ekit

pytestmark = pytest.mark.e2e
expect = e2ekit.playwright_api().expect


def test_submit_lock_approve_from_the_inbox_and_unlock(new_page: Any, ws: Workspace,
                                                       admin: dict[str, Any]) -> None:
    maria = create_user(ws, "maria@example.com", "manager", e2ekit.PASSWORD,
                        full_name="Maria Manager")
    sam = create_user(ws, "sam@example.com", "member", e2ekit.PASSWORD, full_name="Sam Seller")
    sam = ws.records.update("user", sam["id"], {"manager": maria["id"]})
    quote = ws.records.create("quote", {"name": "Harbor deal", "discount": 30}, actor_of(sam))

    rep = new_page()
    e2ekit.login(rep, "sam@example.com")
    rep.goto(f"/o/quote/{quote['id']}")
    panel = rep.locator("#approval-panel")
    panel.get_by_label("Comment (optional)").fill("They sign on Friday")
    panel.get_by_role("button", name="Submit for approval").click()
    banner = rep.locator("#lock-banner")
    expect(banner).to_contain_text("Locked: pending approval in Quote discount since")
    expect(rep.locator(".flash").first).to_contain_text("Submitted for approval.")
    expect(rep.get_by_role("link", name="Edit", exact=True)).to_have_count(0)
    expect(rep.locator(".edit-field")).to_have_count(0)
    expect(panel.locator(".task-pending")).to_contain_text("Maria Manager")

    manager = new_page()
    e2ekit.login(manager, "maria@example.com")
    nav = manager.locator("#nav-approvals")
    expect(nav).to_have_attribute("aria-label", "Approvals: 1 waiting for you")
    nav.click()
    row = manager.locator("#inbox-table tbody tr").filter(has_text="Harbor deal")
    expect(row).to_contain_text("They sign on Friday")
    row.get_by_label("Comment (optional)").fill("Good margin anyway")
    row.get_by_role("button", name="Approve").click()
    expect(row.locator(".status-pill")).to_have_text("Approved")
    expect(row.locator(".row-message")).to_have_text("Approved.")
    expect(nav).to_have_attribute("aria-label", "Approvals")  # the badge followed, out of band

    rep.reload()
    expect(rep.locator("#lock-banner")).to_have_count(0)
    expect(rep.locator("#field-status .field-value")).to_have_text("Approved")
    expect(rep.get_by_role("link", name="Edit", exact=True)).to_be_visible()
    expect(rep.locator("#approval-panel .task-approved")).to_contain_text("Good margin anyway")
    bell = rep.locator("#nav-notifications")
    expect(bell).to_have_attribute("aria-label", "Notifications: 1 unread")
    bell.click()
    note = rep.locator(".note.unread").first
    expect(note).to_contain_text("Your approval request for Quote “Harbor deal” (Quote discount) "
                                 "was approved by Maria Manager.")
    note.get_by_role("link").click()
    expect(rep).to_have_url(f"{rep.url.split('/o/')[0]}/o/quote/{quote['id']}#approval-panel")
    expect(rep.locator("#nav-notifications")).to_have_attribute("aria-label", "Notifications")
