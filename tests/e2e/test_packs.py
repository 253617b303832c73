"""The pack gallery: install a pack from its card (the plan first, then apply), then open
the pack's kanban board and its dashboard."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

from rapport.workspace import Workspace

from . import e2ekit

pytestmark = pytest.mark.e2e
expect = e2ekit.playwright_api().expect


def test_install_a_pack_from_the_gallery_then_open_its_board_and_dashboard(
        logged_in: Any, ws: Workspace) -> None:
    page = logged_in
    page.locator("#nav-packs").click()
    expect(page.locator("h1")).to_have_text("Template packs")
    card = page.locator("#pack-healthcare")
    expect(card.locator(".pack-status")).to_have_text("Available")
    expect(card.locator(".pack-objects li")).to_have_count(8)
    card.get_by_role("link", name="Install…").click()

    expect(page.locator("h1")).to_have_text("Install Healthcare")
    plan = page.locator("#plan-lines")
    expect(plan).to_contain_text("create table hc_referral")
    expect(plan).to_contain_text("sample data:")
    page.get_by_label("Load the sample data too").uncheck()  # the plan follows the choice
    expect(plan).not_to_contain_text("sample data:")
    page.get_by_label("Load the sample data too").check()
    expect(plan).to_contain_text("sample data:")
    if os.environ.get("RAPPORT_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["RAPPORT_SCREENSHOTS"], "pack-plan.png"),
                        full_page=True)
    page.locator("#pack-apply").click()

    expect(page.locator(".flash")).to_contain_text("Installed Healthcare", timeout=60_000)
    card = page.locator("#pack-healthcare")
    expect(card.locator(".pack-status")).to_have_text("Installed")
    assert "hc_referral" in ws.refresh().objects
    if os.environ.get("RAPPORT_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["RAPPORT_SCREENSHOTS"], "pack-gallery.png"),
                        full_page=True)

    card.get_by_role("link", name="Referrals board").click()
    expect(page).to_have_url(re.compile(r"/o/hc_referral/kanban$"))
    completed = page.locator('[data-kanban-list][data-value="completed"] .kanban-card')
    expect(completed.first).to_be_visible()
    assert completed.count() > 5

    page.go_back()
    page.locator("#pack-healthcare").get_by_role("link", name="Referrals overview dashboard").click()
    expect(page.locator("#dashboard-title")).to_have_text("Referrals overview")
    expect(page.locator(".kpi-figure").first).to_be_visible()
    expect(page.locator(".dash-tile-body svg").first).to_be_visible()
    expect(page.locator(".tile-error")).to_have_count(0)
    if os.environ.get("RAPPORT_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["RAPPORT_SCREENSHOTS"], "pack-dashboard.png"),
                        full_page=True)
