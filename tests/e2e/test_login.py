"""Logging in and out in a real browser, with the mouse and with the keyboard only."""

from __future__ import annotations

import re
from typing import Any

import pytest

from . import e2ekit

pytestmark = pytest.mark.e2e
expect = e2ekit.playwright_api().expect


def test_login_shows_the_app_shell_and_a_wrong_password_an_error(
        page: Any, console: e2ekit.Console) -> None:
    console.allow(401)  # the refused login answers 401, which Chromium logs
    # a page that needs a session sends to the login form, and back after it
    page.goto("/o/opportunity")
    expect(page).to_have_url(re.compile(r"/login\?next=/o/opportunity$"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()

    page.get_by_label("Email").fill(e2ekit.ADMIN_EMAIL)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    expect(page.get_by_label("Email")).to_have_value(e2ekit.ADMIN_EMAIL)  # kept
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.locator("header.topbar .user")).to_have_count(0)

    page.get_by_label("Password").fill(e2ekit.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/o/opportunity$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Opportunities")
    topbar = page.locator("header.topbar")
    expect(topbar.locator(".user")).to_contain_text(e2ekit.ADMIN_NAME)
    expect(topbar.get_by_role("button", name="Log out")).to_be_visible()
    nav = page.get_by_role("navigation", name="Objects")
    expect(nav.get_by_role("link", name="Opportunities")).to_have_attribute("aria-current", "page")
    expect(nav.get_by_role("link", name="Accounts")).to_be_visible()

    nav.get_by_role("link", name="Home").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {e2ekit.ADMIN_NAME}")

    topbar.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))


def test_the_login_form_works_with_the_keyboard_alone(page: Any) -> None:
    page.goto("/login")
    email = page.get_by_label("Email")
    expect(email).to_be_focused()  # autofocus: typing can start at once
    page.keyboard.type(e2ekit.ADMIN_EMAIL)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(e2ekit.PASSWORD)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Log in")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {e2ekit.ADMIN_NAME}")

    # the skip link is the first stop on every page and lands on the content
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
