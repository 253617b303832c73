"""The app shell: the language switch, and the screens on a phone."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from rapport.workspace import Workspace

from . import e2ekit

pytestmark = pytest.mark.e2e
expect = e2ekit.playwright_api().expect

OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_switching_to_chinese_and_back(logged_in: Any) -> None:
    page = logged_in
    page.goto("/o/opportunity")
    topbar = page.locator("header.topbar")
    nav = page.get_by_role("navigation", name="Objects")
    expect(topbar.get_by_role("button", name="English")).to_have_attribute("aria-pressed", "true")

    topbar.get_by_role("button", name="简体中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page).to_have_url(re.compile(r"/o/opportunity$"))  # stays on the same page
    expect(topbar.get_by_role("button", name="简体中文")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("heading", level=1)).to_have_text("商机")
    nav = page.get_by_role("navigation", name="对象")
    expect(nav.get_by_role("link", name="首页")).to_be_visible()
    expect(nav.get_by_role("link", name="客户")).to_be_visible()
    expect(page.locator(".page-actions").get_by_role("link", name="新建商机")).to_be_visible()
    expect(page.get_by_role("button", name="筛选", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="应用", exact=True)).to_be_visible()
    expect(topbar.get_by_role("button", name="退出登录")).to_be_visible()
    expect(page.locator("#results thead")).to_contain_text("商机名称")
    expect(page.locator("#results .count")).to_have_text("共 0 条记录")

    # the choice is kept for the session
    nav.get_by_role("link", name="首页").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"欢迎，{e2ekit.ADMIN_NAME}")

    topbar.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {e2ekit.ADMIN_NAME}")
    nav = page.get_by_role("navigation", name="Objects")
    expect(nav.get_by_role("link", name="Home")).to_be_visible()
    expect(nav.get_by_role("link", name="Opportunities")).to_be_visible()
    expect(topbar.get_by_role("button", name="Log out")).to_be_visible()


def test_phone_screens_do_not_overflow_and_the_navigation_is_reachable(
        new_page: Callable[..., Any], admin: dict[str, Any], ws: Workspace) -> None:
    account = ws.records.create("account", {"name": "Northwind Traders International Holdings"})
    deal = ws.records.create("opportunity", {
        "name": "Northwind Traders International Holdings — worldwide rollout of everything",
        "account": account["id"], "amount": 1_234_567, "stage": "negotiation",
        "close_date": "2031-06-30", "next_step": "Legal review of the master agreement",
        "description": "A long description. " * 20})
    page = new_page(e2ekit.PHONE)
    e2ekit.login(page)

    screens = {"list": "/o/opportunity", "record": f"/o/opportunity/{deal['id']}",
               "form": "/o/opportunity/new", "kanban": "/o/opportunity/kanban", "home": "/"}
    for name, url in screens.items():
        page.goto(url)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        overflow = page.evaluate(OVERFLOW)
        assert overflow <= 1, f"the {name} page ({url}) is {overflow}px wider than the phone"

    page.goto("/o/opportunity")
    expect(page.locator("#results .count")).to_have_text("1 record")

    # the top bar and the navigation stay usable: every object is one tap away
    page.goto(f"/o/opportunity/{deal['id']}")
    topbar = page.locator("header.topbar")
    expect(topbar.get_by_role("button", name="Log out")).to_be_in_viewport()
    expect(topbar.get_by_role("button", name="简体中文")).to_be_in_viewport()
    nav = page.get_by_role("navigation", name="Objects")
    expect(nav).to_be_in_viewport()
    last = nav.get_by_role("link", name="Quotes")
    last.scroll_into_view_if_needed()
    expect(last).to_be_in_viewport()
    last.click()
    expect(page).to_have_url(re.compile(r"/o/quote$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Quotes")
    nav.get_by_role("link", name="Accounts").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Accounts")
    assert page.evaluate(OVERFLOW) <= 1
