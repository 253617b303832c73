"""What the browser tests share besides fixtures: finding Playwright and Chromium (skip, or
fail when RAPPORT_E2E_REQUIRED=1), the console watcher and the login steps."""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking"]
REQUIRED = os.environ.get("RAPPORT_E2E_REQUIRED", "") == "1"

PASSWORD = "correct horse battery"
ADMIN_EMAIL = "ann@example.com"
ADMIN_NAME = "Ann Admin"

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

# How Chromium reports a response with an error status in the console.
HTTP_STATUS = re.compile(r"the server responded with a status of (\d{3})")


def unavailable(reason: str) -> NoReturn:
    """Skip the browser tests, or fail them when CI says they must run."""
    if REQUIRED:
        pytest.fail(f"RAPPORT_E2E_REQUIRED=1 but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def playwright_api() -> ModuleType:
    """``playwright.sync_api``, or skip (fail when required) if the package is missing."""
    try:
        from playwright import sync_api
    except ImportError:
        unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    return sync_api


def chromium_path() -> str:
    if not CHROMIUM.exists():
        unavailable(f"no Chromium at {CHROMIUM}")
    return str(CHROMIUM)


class Console:
    """Every console error and uncaught page error of one test's pages.

    Chromium logs each response with an error status as a console error; a test that
    provokes one on purpose (a refused save, a wrong password) says so with ``allow``."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.allowed: set[int] = set()

    def allow(self, *statuses: int) -> None:
        self.allowed.update(statuses)

    def watch(self, page: Any) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def _on_console(self, message: Any) -> None:
        if message.type != "error":
            return
        m = HTTP_STATUS.search(message.text)
        if m and int(m.group(1)) in self.allowed:
            return
        where = message.location.get("url", "") if message.location else ""
        self.errors.append(f"console.error: {message.text} ({where})")

    def unexpected(self) -> list[str]:
        return list(self.errors)


def login(page: Any, email: str = ADMIN_EMAIL, password: str = PASSWORD) -> None:
    """Log in through the login form and wait for the app shell."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    playwright_api().expect(page.locator("header.topbar .user")).to_be_visible()
