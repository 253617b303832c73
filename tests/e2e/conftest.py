"""Browser tests: a real uvicorn serving a fresh workspace on a free port, driven by
headless Chromium through Playwright.

The workspace comes from the ``ws`` fixture of tests/conftest.py, so these tests run on
PostgreSQL too when RAPPORT_TEST_DATABASE_URL is set. Without Playwright or Chromium they
skip, unless RAPPORT_E2E_REQUIRED=1 (CI), where that is a failure.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn

from rapport.auth.users import create_user
from rapport.web.app import create_app
from rapport.workspace import Workspace

from . import e2ekit

SERVER_START_SECONDS = 20.0


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the whole run; each test gets its own context."""
    sync_api = e2ekit.playwright_api()
    executable = e2ekit.chromium_path()
    manager = sync_api.sync_playwright().start()
    try:
        try:
            browser = manager.chromium.launch(executable_path=executable, headless=True,
                                              args=e2ekit.CHROMIUM_ARGS)
        except sync_api.Error as exc:
            e2ekit.unavailable(f"Chromium does not start: {exc}")
        yield browser
        browser.close()
    finally:
        manager.stop()


@pytest.fixture
def server(ws: Workspace) -> Iterator[str]:
    """The app on 127.0.0.1 at a free port, in a background thread; its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # lifespan off: the ws fixture, not the app, closes the workspace
    config = uvicorn.Config(create_app(ws), lifespan="off", log_level="warning",
                            access_log=False, ws="none", timeout_graceful_shutdown=5)
    srv = uvicorn.Server(config)  # off the main thread, uvicorn installs no signal handlers
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]},
                              name="rapport-e2e-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_SECONDS
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            srv.should_exit = True
            sock.close()
            pytest.fail("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=15)
        sock.close()
        assert not thread.is_alive(), "the test server did not stop"


@pytest.fixture
def admin(ws: Workspace) -> dict[str, Any]:
    return create_user(ws, e2ekit.ADMIN_EMAIL, "admin", e2ekit.PASSWORD,
                       full_name=e2ekit.ADMIN_NAME)


@pytest.fixture
def console() -> e2ekit.Console:
    """Console errors and page errors of the test's pages (none allowed, see Console.allow)."""
    return e2ekit.Console()


@pytest.fixture
def new_page(chromium: Any, server: str, console: e2ekit.Console) -> Iterator[Callable[..., Any]]:
    """Opens a page in a fresh browser context (own cookies) on the test server."""
    contexts: list[Any] = []

    def make(viewport: dict[str, int] | None = None) -> Any:
        context = chromium.new_context(base_url=server, viewport=viewport or e2ekit.DESKTOP,
                                       locale="en-US", timezone_id="UTC")
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        console.watch(page)
        return page

    yield make
    for context in contexts:
        context.close()
    errors = console.unexpected()
    if errors:
        pytest.fail("errors in the browser console:\n" + "\n".join(errors), pytrace=False)


@pytest.fixture
def page(new_page: Callable[..., Any], admin: dict[str, Any]) -> Any:
    """A desktop-sized page, not logged in (the admin user exists)."""
    return new_page()


@pytest.fixture
def logged_in(page: Any) -> Any:
    """A desktop-sized page logged in as the admin."""
    e2ekit.login(page)
    return page
