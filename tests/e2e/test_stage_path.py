"""The stage path on a record page: a refused move says why on hover, an allowed one moves
the record and the path follows."""

from __future__ import annotations

from typing import Any

import pytest

from rapport.workspace import Workspace

from . import e2ekit

pytestmark = pytest.mark.e2e
expect = e2ekit.playwright_api().expect


def test_the_path_moves_the_record_and_explains_refusals(logged_in: Any, ws: Workspace) -> None:
    page = logged_in
    deal = ws.records.create("opportunity", {"name": "Path deal", "stage": "qualification"})
    page.goto(f"/o/opportunity/{deal['id']}")
    path = page.locator("#stage-path")
    expect(path.locator(".stage.current")).to_have_text("Qualification")
    expect(path.locator(".stage-advice")).to_contain_text("Agree on budget")
    send = path.locator(".disabled-action").filter(has_text="Send proposal")
    expect(send).to_have_attribute("title", "moving from Qualification to Proposal needs amount > 0")
    expect(send.locator("button")).to_be_disabled()
    blocked = path.locator(".stage-label.blocked").filter(has_text="Negotiation")
    expect(blocked).to_have_attribute(
        "title", "Sales process: cannot move from Qualification to Negotiation "
                 "(no transition allows it)")

    path.get_by_role("button", name="Close as lost").click()
    expect(page.locator("#stage-path .stage.current")).to_have_text("Closed lost")
    expect(page.locator(".flash").first).to_contain_text("moved to Closed lost")
    saved = ws.records.get("opportunity", deal["id"])
    assert saved["stage"] == "closed_lost" and saved["probability"] == 0
