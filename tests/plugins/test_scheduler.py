"""The scheduler: schedules parse (and bad ones are named), a job runs once per tick across
several real worker processes, a running job keeps its tick, failures are recorded."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pluginkit import write_plugin
from sqlalchemy import select

from databases import race
from rapport.plugins.scheduler import Schedule, ScheduleError, Scheduler
from rapport.workspace import Workspace

TICKER = """
import os
import rapport
from rapport.plugins import Job
from sqlalchemy import BigInteger, Column, Integer, MetaData, Table, Text, insert

TABLES = MetaData()
RUNS = Table("ticker_run", TABLES, Column("id", Integer, primary_key=True),
             Column("tick", Text, nullable=False), Column("pid", BigInteger, nullable=False))


def tick(workspace):
    t = workspace.table_of("rapport_job")
    from sqlalchemy import select
    with workspace.transaction() as conn:
        at = conn.scalar(select(t.c.tick_at).where(t.c.name == "ticker.every_second"))
        conn.execute(insert(RUNS).values(tick=at.isoformat(), pid=os.getpid()))


@rapport.hookimpl
def register_tables():
    return TABLES


@rapport.hookimpl
def scheduled_jobs(workspace):
    return [Job("ticker.every_second", "@every 1s", tick), ("@every 1h", lambda: None)]
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("expression", "now", "tick"), [
    ("*/15 * * * *", "2026-03-04 10:44:59", "2026-03-04 10:30:00"),
    ("0 2 * * *", "2026-03-04 01:59:00", "2026-03-03 02:00:00"),
    ("0 2 * * *", "2026-03-04 02:00:30", "2026-03-04 02:00:00"),
    ("@hourly", "2026-03-04 10:44:00", "2026-03-04 10:00:00"),
    ("30 9 * * mon-fri", "2026-03-08 12:00:00", "2026-03-06 09:30:00"),   # Sunday -> Friday
    ("0 0 1 jan *", "2026-03-04 00:00:00", "2026-01-01 00:00:00"),
    ("0 12 13 * 5", "2026-03-10 12:00:00", "2026-03-06 12:00:00"),       # day 13 or a Friday
    ("@every 30s", "2026-03-04 10:44:59", "2026-03-04 10:44:30"),
    ("@every 1h30m", "2026-03-04 10:44:59", "2026-03-04 10:30:00"),  # epoch-aligned
    ("@every 1h30m", "2026-03-04 10:29:59", "2026-03-04 09:00:00"),
])
def test_schedules(expression: str, now: str, tick: str) -> None:
    assert Schedule.parse(expression).tick(at(now)) == at(tick)


@pytest.mark.parametrize(("expression", "message"), [
    ("* * * *", "5 fields"), ("61 * * * *", "minute: 61 is not within 0-59"),
    ("* * * * funday", "'funday' is not a number"), ("*/0 * * * *", "step must be at least 1"),
    ("@every soon", "interval like"), ("5-1 * * * *", "runs backwards"),
])
def test_bad_schedules_say_what_is_wrong(expression: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        Schedule.parse(expression)


def _ticker_ws(tmp_path: Path, database_url: str) -> Path:
    root = tmp_path / "ws"
    Workspace.init(root, database_url).close()
    write_plugin(root / "plugins", "ticker", TICKER)
    return root


def test_a_job_runs_once_per_tick_and_a_running_job_keeps_it(tmp_path: Path,
                                                              database_url: str) -> None:
    root = _ticker_ws(tmp_path, database_url)
    ws = Workspace.open(root, database_url)
    first, second = Scheduler(ws, holder="a"), Scheduler(ws, holder="b")
    try:
        job = next(j for j in first.jobs if j.name == "ticker.every_second")
        assert {j.name for j in first.jobs} >= {"ticker.every_second", "ticker.<lambda>",
                                                 "rapport.retry_failed_hooks"}
        now = datetime.now(UTC).replace(microsecond=0)
        assert first.claim(job, now) is not None
        assert second.claim(job, now) is None               # the same tick: taken
        assert second.claim(job, now + timedelta(seconds=1)) is None  # still running (leased)
        first._execute(job)
        assert second.claim(job, now + timedelta(seconds=1)) is not None  # the next tick
        later = now + timedelta(seconds=job.lease_seconds + 5)
        assert first.claim(job, later) is not None           # b died: its lease ran out
        status = {s["name"]: s for s in first.status()}["ticker.every_second"]
        assert status["holder"] == "a" and status["runs"] == 1
    finally:
        first.stop()
        second.stop()
        ws.close()


def _worker(root: str, url: str, seconds: float, barrier: Any, results: Any) -> None:
    ws = Workspace.open(root, url)
    scheduler = Scheduler(ws, poll=0.05)
    barrier.wait()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        scheduler.run_pending()
        time.sleep(0.05)
    scheduler.stop()
    ws.close()
    results.put("done")


def test_several_worker_processes_run_each_tick_once(tmp_path: Path, database_url: str) -> None:
    root = _ticker_ws(tmp_path, database_url)
    Workspace.open(root, database_url).close()  # creates the plugin's table
    race(_worker, [(str(root), database_url, 4.5)] * 3)
    ws = Workspace.open(root, database_url)
    try:
        table = ws.plugins.get_plugin("ticker").RUNS
        with ws.engine.connect() as conn:
            rows = conn.execute(select(table.c.tick, table.c.pid)).all()
        ticks = [r.tick for r in rows]
        assert len(ticks) >= 3, rows
        assert len(ticks) == len(set(ticks)), f"a tick ran twice: {sorted(ticks)}"
    finally:
        ws.close()


def test_a_failing_job_is_recorded(tmp_path: Path, database_url: str) -> None:
    root = tmp_path / "ws"
    Workspace.init(root, database_url).close()
    write_plugin(root / "plugins", "failing", """
        import rapport

        def boom():
            raise RuntimeError("no network")

        @rapport.hookimpl
        def scheduled_jobs():
            return [("@every 1m", boom), ("every now and then", boom)]
    """)
    ws = Workspace.open(root, database_url)
    scheduler = Scheduler(ws)
    try:
        assert "failing.boom" in scheduler.run_pending(wait=True)
        status = {s["name"]: s for s in scheduler.status()}["failing.boom"]
        assert status["status"] == "failed" and "RuntimeError: no network" in status["last_error"]
        assert any("every now and then" in p for p in ws.plugins.info("failing").problems)
    finally:
        scheduler.stop()
        ws.close()
