"""The bundled plugins in a real browser: a record action (claim from the public pool) on
a record page and as a bulk action, the possible-duplicates panel and its merge, and the
rating plugin's star widget."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rapport.workspace import CONFIG_FILE, Workspace

from . import e2ekit

pytestmark = pytest.mark.e2e
expect = e2ekit.playwright_api().expect


@pytest.fixture
def ws(tmp_path: Path, database_url: str) -> Iterator[Workspace]:
    """A workspace with the bundled plugins enabled (the server serves this one)."""
    import json

    root = tmp_path / "ws"
    Workspace.init(root, database_url).close()
    config = json.loads((root / CONFIG_FILE).read_text())
    config["plugins"] = {"enabled": ["public_pool", "duplicates", "rating"]}
    (root / CONFIG_FILE).write_text(json.dumps(config))
    workspace = Workspace.open(root, database_url)
    yield workspace
    workspace.close()


def test_claim_from_the_pool_on_the_record_page_and_in_bulk(logged_in: Any,
                                                            ws: Workspace) -> None:
    page = logged_in
    first = ws.records.create("account", {"name": "Pooled One"})  # no owner: in the pool
    ws.records.create("account", {"name": "Pooled Two"})
    ws.records.create("account", {"name": "Pooled Three"})

    page.goto(f"/o/account/{first['id']}")
    panel = page.locator("#panel-public-pool")
    expect(panel).to_contain_text("In the public pool")
    page.locator(".page-actions").get_by_role("button", name="Claim").click()
    expect(page.locator(".flash")).to_have_text("1 record(s) claimed from the public pool")
    expect(panel).to_contain_text("Returns to the pool after")
    expect(page.locator(".page-actions").get_by_role("button", name="Claim")).to_have_count(0)
    expect(page.locator(".history")).to_contain_text("Claimed from the public pool")
    assert ws.records.get("account", first["id"])["owner"] is not None

    page.goto("/o/account?f=owner&op=is_blank")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)
    for box in page.locator("input[name=_ids]").all():
        box.check()
    page.locator("[data-bulk-bar]").get_by_role("button", name="Claim").click()
    expect(page.locator(".flash")).to_have_text("2 record(s) claimed from the public pool")
    expect(page.locator("main")).not_to_contain_text("Pooled Two")


def test_possible_duplicates_panel_and_merge(logged_in: Any, ws: Workspace) -> None:
    page = logged_in
    kept = ws.records.create("account", {"name": "Acme Inc"})
    twin = ws.records.create("account", {"name": "ACME", "phone": "555 0100"})
    ws.records.create("contact", {"last_name": "Ng", "account": twin["id"]})

    page.goto(f"/o/account/{kept['id']}")
    panel = page.locator("#duplicates-panel")
    expect(panel).to_contain_text("ACME")
    expect(panel).to_contain_text("same Account name")
    panel.get_by_role("link", name="Merge into this record").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Merge ACME into Acme Inc")
    expect(page.locator("#merge-compare")).to_contain_text("fills the blank")
    page.get_by_role("button", name="Merge", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/o/account/{kept['id']}$"))
    expect(page.locator(".flash")).to_contain_text(f"Merged #{twin['id']} into this record")
    expect(page.locator("#duplicates-panel")).to_have_count(0)
    expect(page.locator(".history")).to_contain_text("Merged 1 duplicate(s) into this record")
    expect(page.get_by_role("region", name="Contacts")).to_contain_text("Ng")
    assert ws.records.get("account", kept["id"])["phone"] == "555 0100"


def test_the_star_rating_widget(logged_in: Any, ws: Workspace) -> None:
    page = logged_in
    ws.apply(ws.documents_from({"name": "supplier", "label": "Supplier", "fields": [
        {"name": "name", "type": "text", "required": True},
        {"name": "quality", "type": "rating"}]}))
    page.goto("/o/supplier/new")
    page.get_by_label("Name").fill("Acme Parts")
    page.locator("label[for='in-quality-4']").click()
    expect(page.locator("#in-quality-4")).to_be_checked()
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Parts")
    expect(page.locator("main")).to_contain_text("★★★★☆")
