"""The bundled public pool (公海): idle accounts and leads return to the pool on the
schedule, users claim them within a daily limit per role, release them; every move is in
the record's history; the pool on the screens and through the actions API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pluginkit import client_for, csrf_of, user, workspace
from sqlalchemy import update

from rapport.auth.users import create_token
from rapport.errors import PermissionDenied, ValidationError
from rapport.plugins.manager import load_bundled
from rapport.plugins.scheduler import Scheduler
from rapport.workspace import Workspace

pool = load_bundled("public_pool").pool
NOW = datetime.now(UTC)


@pytest.fixture
def pooled(tmp_path: Path, database_url: str) -> Iterator[Workspace]:
    ws = workspace(tmp_path, database_url, "public_pool", settings={"plugin_settings": {
        "public_pool": {"objects": {"account": {"days": 30}, "lead": {"days": 14}},
                        "claim_limits": {"member": 2, "manager": 10}}}})
    yield ws
    ws.close()


def age(ws: Workspace, obj: str, rid: int, days: int) -> None:
    """Make a record (and its history so far) ``days`` old."""
    when = NOW - timedelta(days=days)
    t, h = ws.table(obj), ws.table("rapport_history")
    with ws.transaction() as conn:
        conn.execute(update(t).where(t.c.id == rid).values(created_at=when, updated_at=when))
        conn.execute(update(h).where(h.c.object == obj, h.c.record_id == rid).values(at=when))
        sh = ws.table("rapport_stage_history")
        conn.execute(update(sh).where(sh.c.object == obj, sh.c.record_id == rid)
                     .values(entered_at=when))


def test_idle_records_return_to_the_pool_and_followed_ones_stay(pooled: Workspace) -> None:
    ws = pooled
    sam = user(ws, "sam@example.com")
    idle = ws.records.create("account", {"name": "Idle"}, sam)
    called = ws.records.create("account", {"name": "Called"}, sam)
    fresh = ws.records.create("account", {"name": "Fresh"}, sam)
    moved = ws.records.create("lead", {"last_name": "Moved", "company": "M"}, sam)
    stale_lead = ws.records.create("lead", {"last_name": "Stale", "company": "S"}, sam)
    for obj, r, days in [("account", idle, 40), ("account", called, 40), ("account", fresh, 10),
                         ("lead", moved, 20), ("lead", stale_lead, 20)]:
        age(ws, obj, r["id"], days)
    ws.records.create("activity", {"subject": "Call", "account": called["id"]}, sam)
    ws.records.update("lead", moved["id"], {"status": "working"}, sam)  # a stage change
    assert pool.return_idle(ws) == {"account": 1, "lead": 1}
    owners = {r["name"] if "name" in r else r["last_name"]: r["owner"] for r in
              [ws.records.get("account", i["id"]) for i in (idle, called, fresh)]
              + [ws.records.get("lead", i["id"]) for i in (moved, stale_lead)]}
    assert owners == {"Idle": None, "Called": sam.id, "Fresh": sam.id, "Moved": sam.id,
                      "Stale": None}
    history = ws.records.history("account", idle["id"])
    assert history[0]["action"] == "pool" and history[0]["field"] == "returned"
    assert history[0]["new_value"]["note"]["en"] == \
        "Returned to the public pool: no follow-up for 30 days"
    assert history[0]["new_value"]["previous_owner"] == sam.id
    assert any(h["field"] == "owner" and h["old_value"] == sam.id for h in history)
    assert pool.return_idle(ws) == {"account": 0, "lead": 0}  # nothing twice


def test_the_scheduler_runs_the_sweep(pooled: Workspace) -> None:
    sam = user(pooled, "sam@example.com")
    idle = pooled.records.create("account", {"name": "Idle"}, sam)
    age(pooled, "account", idle["id"], 31)
    scheduler = Scheduler(pooled)
    try:
        assert "public_pool.return_idle" in scheduler.run_pending(wait=True)
    finally:
        scheduler.stop()
    assert pooled.records.get("account", idle["id"])["owner"] is None


def test_claims_respect_the_daily_limit_and_releases_are_checked(pooled: Workspace) -> None:
    ws = pooled
    lin, sam, mia = (user(ws, "lin@example.com"), user(ws, "sam@example.com"),
                     user(ws, "mia@example.com", "manager"))
    ids = [ws.records.create("account", {"name": f"Pooled {i}"})["id"] for i in range(4)]
    # created by the system: nobody owns them, they are in the pool
    assert ws.actions.run("claim", "account", ids[:2], lin).message == \
        "2 record(s) claimed from the public pool"
    assert ws.records.get("account", ids[0])["owner"] == lin.id
    with pytest.raises(ValidationError, match="'Claim' does not apply to account"):
        ws.actions.run("claim", "account", [ids[0]], sam)
    with pytest.raises(ValidationError, match="2 record\\(s\\) a day as member; 0 left today"):
        ws.actions.run("claim", "account", [ids[2]], lin)
    assert ws.records.get("account", ids[2])["owner"] is None
    with pytest.raises(PermissionDenied, match="not yours"):
        ws.actions.run("release", "account", [ids[0]], sam)
    ws.actions.run("release", "account", [ids[0]], lin)
    assert ws.records.get("account", ids[0])["owner"] is None
    ws.actions.run("claim", "account", [ids[0], ids[3]], mia)
    kinds = [h["field"] for h in ws.records.history("account", ids[0]) if h["action"] == "pool"]
    assert kinds == ["claimed", "released", "claimed"]


def test_the_pool_on_the_screens_and_the_api(pooled: Workspace) -> None:
    ws = pooled
    rid = ws.records.create("account", {"name": "Waiting"})["id"]
    client = client_for(ws, "lin@example.com", "member")
    page = client.get("/x/pool").text
    assert 'id="pool-count-account">1<' in page and "2 more record(s) today" in page
    record = client.get(f"/o/account/{rid}").text
    assert "In the public pool" in record and f"/o/account/{rid}/actions/claim" in record
    assert f"/o/account/{rid}/actions/release" not in record
    claimed = client.post(f"/o/account/{rid}/actions/claim",
                          data={"csrf_token": csrf_of(record)}, follow_redirects=False)
    assert claimed.status_code == 303
    shown = client.get(claimed.headers["location"]).text
    assert "1 record(s) claimed from the public pool" in shown
    assert "Claimed from the public pool" in shown and "Returns to the pool after" in shown
    assert ws.records.get("account", rid)["owner"] is not None
    other = ws.records.create("account", {"name": "Other"})["id"]
    listing = client.get("/o/account?f=owner&op=is_blank").text
    assert 'value="action:claim"' in listing and "Other" in listing
    token = create_token(ws, "lin@example.com", None, "read_write")
    api = client.get("/api/v1/records/account/actions", headers={"Authorization": f"Bearer {token}"})
    assert {a["name"] for a in api.json()["data"]} >= {"claim", "release"}
    r = client.post(f"/api/v1/records/account/{other}/actions/claim",
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["count"] == 1
    r = client.post(f"/api/v1/records/account/{other}/actions/claim",
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 422 and "does not apply" in r.json()["errors"][0]["message"]
