"""The kanban board: dragging a card (SortableJS, real pointer moves) saves the new stage;
a move the sales workflow refuses springs back with the reason."""

from __future__ import annotations

from typing import Any

import pytest

from rapport.workspace import Workspace

from . import e2ekit

pytestmark = pytest.mark.e2e
expect = e2ekit.playwright_api().expect

BOARD = "/o/opportunity/kanban"


@pytest.fixture
def deals(ws: Workspace) -> dict[str, dict[str, Any]]:
    rows = {
        "globex": {"name": "Globex pilot", "stage": "prospecting", "amount": 1000,
                   "close_date": "2031-01-01"},
        "initech": {"name": "Initech renewal", "stage": "qualification", "amount": 2000,
                    "close_date": "2031-02-01"},
        "hooli": {"name": "Hooli expansion", "stage": "prospecting", "amount": 4000},
    }
    return {key: ws.records.create("opportunity", values) for key, values in rows.items()}


def column(page: Any, stage: str) -> Any:
    return page.locator(f'[data-kanban-list][data-value="{stage}"]')


def head(page: Any, stage: str) -> Any:
    return page.locator(".kanban-column").filter(has=column(page, stage)).locator(".kanban-head")


def drag(page: Any, card: Any, target: Any) -> None:
    """Press on the card, move the pointer in small steps onto the target list, release:
    SortableJS only follows real pointer movement, and ignores it over a list while a card
    is still animating into a column passed on the way: the pointer rests on the target
    and moves again before the release, or the card lands in that column instead."""
    card.scroll_into_view_if_needed()
    start = card.bounding_box()
    end = target.bounding_box()
    assert start and end
    x, y = start["x"] + start["width"] / 2, start["y"] + min(20, start["height"] / 2)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 10, y + 10, steps=5)
    tx, ty = end["x"] + end["width"] / 2, end["y"] + end["height"] - 15
    page.mouse.move(tx, ty, steps=20)
    page.wait_for_timeout(300)  # longer than the board's 150 ms animation
    page.mouse.move(tx, ty + 2, steps=2)
    page.wait_for_timeout(50)
    page.mouse.up()


def test_dragging_a_card_to_another_column_saves_the_move(
        logged_in: Any, ws: Workspace, deals: dict[str, dict[str, Any]]) -> None:
    page = logged_in
    globex = deals["globex"]
    page.goto(BOARD)
    card = page.locator(f"#card-{globex['id']}")
    expect(column(page, "prospecting").locator(card)).to_have_count(1)
    expect(head(page, "qualification").locator(".pill")).to_have_text("1")

    drag(page, card, column(page, "qualification"))
    # the server's answer swaps in the card (new version) and every column's count and sum
    expect(column(page, "qualification").locator(card)).to_have_count(1)
    expect(head(page, "qualification").locator(".pill")).to_have_text("2")
    expect(head(page, "qualification").locator(".kanban-sum")).to_have_text("$3,000.00")
    expect(head(page, "prospecting").locator(".pill")).to_have_text("1")
    expect(card).to_have_attribute("data-version", str(globex["version"] + 1))
    expect(card).not_to_have_class("saving")
    expect(page.locator("#kanban-message")).to_be_hidden()
    assert ws.records.get("opportunity", globex["id"])["stage"] == "qualification"

    # the card carries its new version: a second move is not refused as stale
    drag(page, card, column(page, "proposal"))
    expect(head(page, "proposal").locator(".pill")).to_have_text("1")
    expect(column(page, "proposal").locator(card)).to_have_count(1)

    page.reload()
    expect(column(page, "proposal").locator(f"#card-{globex['id']}")).to_have_count(1)
    expect(column(page, "qualification").locator(".kanban-card")).to_have_count(1)
    expect(head(page, "proposal").locator(".pill")).to_have_text("1")
    saved = ws.records.get("opportunity", globex["id"])
    assert saved["stage"] == "proposal"
    assert saved["version"] == globex["version"] + 2


def test_a_refused_move_springs_back_with_the_reason(
        logged_in: Any, ws: Workspace, deals: dict[str, dict[str, Any]],
        console: e2ekit.Console) -> None:
    console.allow(422)  # the refused move answers 422, which Chromium logs
    page = logged_in
    hooli = deals["hooli"]  # prospecting: the sales workflow goes through qualification first
    page.goto(BOARD)
    card = page.locator(f"#card-{hooli['id']}")
    expect(column(page, "prospecting").locator(".kanban-card")).to_have_count(2)

    drag(page, card, column(page, "proposal"))
    message = page.locator("#kanban-message")
    expect(message).to_be_visible()
    expect(message).to_contain_text(
        "Sales process: cannot move from Prospecting to Proposal (no transition allows it)")
    expect(message).to_have_class("kanban-message notice notice-error")
    expect(column(page, "prospecting").locator(card)).to_have_count(1)
    expect(column(page, "proposal").locator(".kanban-card")).to_have_count(0)
    expect(head(page, "prospecting").locator(".pill")).to_have_text("2")
    expect(head(page, "proposal").locator(".pill")).to_have_text("0")
    saved = ws.records.get("opportunity", hooli["id"])
    assert saved["stage"] == "prospecting"
    assert saved["version"] == hooli["version"]

    page.reload()
    expect(column(page, "prospecting").locator(f"#card-{hooli['id']}")).to_have_count(1)
    expect(page.locator("#kanban-message")).to_be_hidden()
