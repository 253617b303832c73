"""`rapport demo` and `rapport serve`: the README's run command, over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx2 as httpx
import pytest
from click.testing import CliRunner

from rapport.auth.users import actor_of, find_user
from rapport.cli import DEMO_ADMIN, main
from rapport.records.query import Query
from rapport.workspace import Workspace


def _database_args(database_url: str) -> list[str]:
    """The demo's database: SQLite in its directory, or the test's PostgreSQL schema."""
    return ["--database", database_url] if database_url.startswith("postgres") else []


def _open(root: Path, database_url: str) -> Workspace:
    return Workspace.open(root, database_url if database_url.startswith("postgres") else None)


def _all(ws: Workspace, name: str) -> list[dict]:
    return ws.records.query(name, Query(limit=1000)).data


@pytest.fixture
def demo_dir(tmp_path: Path, database_url: str) -> Path:
    root = tmp_path / "demo"
    result = CliRunner().invoke(main, [*_database_args(database_url), "demo", str(root), "--no-serve"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "sample data:" in result.output and DEMO_ADMIN[0] in result.output
    return root


def test_demo_data_is_coherent(demo_dir: Path, database_url: str) -> None:
    ws = _open(demo_dir, database_url)
    try:
        opportunities = _all(ws, "opportunity")
        stages = {o["stage"] for o in opportunities}
        assert stages == {"prospecting", "qualification", "proposal", "negotiation",
                          "closed_won", "closed_lost"}
        ids = {o["id"] for o in opportunities}
        accounts = {a["id"] for a in _all(ws, "account")}
        assert all(o["account"] in accounts for o in opportunities)
        activities = _all(ws, "activity")
        assert len(activities) >= len(opportunities)
        assert all(a["related_object"] == "opportunity" and a["related_id"] in ids
                   for a in activities)
        lines = _all(ws, "quote_line")
        for quote in _all(ws, "quote"):
            mine = [line for line in lines if line["quote"] == quote["id"]]
            assert mine, f"quote {quote['id']} has no lines"
            assert Decimal(str(quote["subtotal"])) == sum(
                (Decimal(str(line["line_total"])) for line in mine), Decimal(0))
        # the reps report to Maria, whose inbox holds their discount requests
        maria = actor_of(find_user(ws, "maria@example.com"))
        reps = [find_user(ws, f"{name}@example.com") for name in ("sam", "lin")]
        assert all(rep["manager"] == maria.id for rep in reps)
        waiting = ws.approvals.inbox(maria)
        assert len(waiting) == 3 and {r["submitted_by"] for r in waiting} == {r["id"] for r in reps}
        assert all(ws.records.get("quote", r["record_id"])["discount"] == 25 for r in waiting)
        outcomes = [r["status"] for rep in reps for r in ws.approvals.submitted_by(actor_of(rep))]
        assert sorted(outcomes) == ["approved", "pending", "pending", "pending", "pending",
                                    "rejected"]
        # one went past Maria: over 100,000, an admin decides too
        assert ws.approvals.inbox_count(actor_of(find_user(ws, DEMO_ADMIN[0]))) == 1
        # the bundled webhooks and duplicate check are on, and loaded
        assert {"webhooks", "duplicates"} <= {i.name for i in ws.plugins.infos if i.loaded}
        # and every industry pack, with its sample data, beside the core demo data
        from rapport.packs import PackManager

        assert sorted(PackManager(ws).installed()) == ["education", "finance", "healthcare",
                                                      "manufacturing"]
        assert ws.records.count("hc_referral", Query()) == 100
        assert ws.records.count("account", Query()) > 16
    finally:
        ws.close()


def test_demo_reuses_its_workspace(demo_dir: Path, database_url: str) -> None:
    ws = _open(demo_dir, database_url)
    try:
        accounts = ws.records.count("account", Query())
    finally:
        ws.close()
    again = CliRunner().invoke(main, [*_database_args(database_url), "demo", str(demo_dir), "--no-serve"],
                               catch_exceptions=False)
    assert again.exit_code == 0 and "using the demo workspace" in again.output
    ws = _open(demo_dir, database_url)
    try:
        assert ws.records.count("account", Query()) == accounts  # not seeded twice
    finally:
        ws.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_over_http(demo_dir: Path, database_url: str) -> None:
    port = _free_port()
    env = {**os.environ, "RAPPORT_HOME": str(demo_dir)}
    if database_url.startswith("postgres"):
        env["RAPPORT_DATABASE_URL"] = database_url
    server = subprocess.Popen([sys.executable, "-m", "rapport.cli", "serve", "--port", str(port)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(base + "/login", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read().decode()
                time.sleep(0.05)
        assert httpx.get(base + "/login").status_code == 200
        assert httpx.get(base + "/", follow_redirects=False).status_code in (302, 303, 307)
        anonymous = httpx.get(base + "/api/v1/records/account")
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"].startswith("application/problem+json")
        with httpx.Client(base_url=base) as browser:
            page = browser.get("/login").text
            csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            login = browser.post("/login", data={"email": DEMO_ADMIN[0], "password": DEMO_ADMIN[1],
                                                 "csrf_token": csrf, "next": "/"}, follow_redirects=True)
            assert login.status_code == 200 and "Ada Admin" in login.text
            listing = browser.get("/o/opportunity")
            assert listing.status_code == 200 and "Opportunities" in listing.text
        with httpx.Client(base_url=base) as browser:  # the manager has approvals waiting
            page = browser.get("/login").text
            csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            inbox = browser.post("/login", data={"email": "maria@example.com",
                                                 "password": "rapport-demo", "csrf_token": csrf,
                                                 "next": "/approvals"}, follow_redirects=True)
            assert inbox.status_code == 200 and 'aria-label="Approvals: 3 waiting for you"' in inbox.text
            assert inbox.text.count('class="inbox-row') == 3
    finally:
        server.terminate()
        server.wait(timeout=10)
