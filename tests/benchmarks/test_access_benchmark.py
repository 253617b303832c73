"""Record access benchmark: the same list page as an admin (no access condition), a
manager and a member (owner / team / shares condition in the SQL) on a large table.

50 users in 5 teams own the opportunities round-robin, so a member's team owns a fifth of
the rows. Measured: the default list page (newest first) and the filtered, sorted page of
the list benchmark (stage = X, amount between a and b, amount desc), and the count. The
access filter must stay in SQL and cheap: the member's page within a small factor of the
admin's (printed, never asserted).

Rows: RAPPORT_BENCH_ACCESS_ROWS or RAPPORT_BENCH_ROWS (default 200,000); repetitions:
RAPPORT_BENCH_REPEAT (default 200).
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import benchkit as bk
import pytest
from sqlalchemy import update

from rapport.auth.users import actor_of, create_user
from rapport.records.actor import Actor
from rapport.records.query import And, Cond, Query
from rapport.workspace import Workspace

DEFAULT_ROWS = 200_000
USERS, TEAMS = 50, 5
PAGE = 50


def _setup(ws: Workspace, rows: int) -> dict[str, Actor]:
    bk.fill_opportunities(ws, rows)
    teams = [ws.records.create("team", {"name": f"Team {i}"})["id"] for i in range(TEAMS)]
    ids = []
    for i in range(USERS):
        role = "manager" if i < TEAMS else "member"
        u = create_user(ws, f"u{i}@example.com", role)
        ids.append(ws.records.update("user", u["id"], {"team": teams[i % TEAMS]})["id"])
    t = ws.table("opportunity")
    with ws.transaction() as conn:
        for i, uid in enumerate(ids):
            conn.execute(update(t).where(t.c.id % USERS == i).values(owner=uid))
    admin = create_user(ws, "admin@example.com", "admin")
    users = ws.records.query("user", Query(limit=100)).data
    by_email = {u["email"]: u for u in users}
    return {"admin": actor_of(admin), "manager": actor_of(by_email["u0@example.com"]),
            "member": actor_of(by_email[f"u{TEAMS}@example.com"])}


def _queries(count: int) -> list[Query]:
    rnd = random.Random(11)
    out = []
    for _ in range(count):
        low = rnd.randrange(0, 60_000)
        out.append(Query(filter=And((Cond("stage", "eq", bk.STAGES[rnd.randrange(6)]),
                                     Cond("amount", "between", [low, low + 30_000]))),
                         sort=[("amount", True)], limit=PAGE))
    return out


def _time(fn: Any, items: list[Any]) -> list[float]:
    samples = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        samples.append(time.perf_counter() - start)
    return samples


def run_access_benchmark(ws: Workspace, rows: int, label: str) -> None:
    reps = bk.env_int("RAPPORT_BENCH_REPEAT", 200)
    name = f"record access ({label})"
    actors = _setup(ws, rows)
    obj, t = ws.meta.objects["opportunity"], ws.table("opportunity")
    cond = ws.records.readable(obj, t, actors["member"])
    bk.say(f"  rows: {rows:,}; {USERS} owners in {TEAMS} teams; repetitions: {reps}")
    bk.say(f"  member's condition: {' '.join(str(cond.compile(ws.engine)).split())}")
    stmt, _c, _l = ws.compiler().page_statement(obj, Query(sort=[("created_at", True)]),
                                                extra_where=cond)
    from test_list_benchmark import _explain

    bk.say("  query plan (member, newest first):")
    for line in _explain(ws, stmt):
        bk.say(f"    {line}")
    # correctness: the member's page holds only their team's rows, the admin's any
    team_owners = {u["id"] for u in ws.records.query("user", Query(
        filter=Cond("team", "eq", ws.records.get("user", actors["member"].id)["team"]),
        limit=100)).data}
    page = ws.records.query("opportunity", Query(limit=PAGE), actors["member"]).data
    assert len(page) == PAGE and {r["owner"] for r in page} <= team_owners
    assert ws.records.count("opportunity", Query(), actors["member"]) == rows // TEAMS
    assert ws.records.count("opportunity", Query(), actors["admin"]) == rows

    queries = _queries(reps)
    newest = [Query(sort=[("created_at", True)], limit=PAGE)] * reps
    results: dict[str, dict[str, float]] = {}
    for who in ("admin", "manager", "member"):
        actor = actors[who]
        for kind, items in (("newest first", newest), ("filtered + sorted", queries)):
            key = f"{who}, {kind}"
            _time(lambda q, a=actor: ws.records.query("opportunity", q, a), items[:10])
            samples = _time(lambda q, a=actor: ws.records.query("opportunity", q, a), items)
            results[key] = bk.describe_samples(key, samples)
        key = f"{who}, count"
        samples = _time(lambda q, a=actor: ws.records.count("opportunity", q, a),
                        [Query()] * max(5, reps // 20))
        results[key] = bk.describe_samples(key, samples)
    for kind in ("newest first", "filtered + sorted", "count"):
        admin, member = results[f"admin, {kind}"]["median"], results[f"member, {kind}"]["median"]
        bk.say(f"  {kind}: member / admin (median) {member / admin:.2f}x "
               f"({member * 1000:.2f} ms vs {admin * 1000:.2f} ms)")
        bk.record(name, f"{kind}, admin median", admin * 1000, "ms")
        bk.record(name, f"{kind}, member median", member * 1000, "ms")
        bk.record(name, f"{kind}, member / admin", member / admin, "x")


@pytest.mark.benchmark
def test_access_filter_sqlite(tmp_path: Path) -> None:
    rows = bk.rows_for("ACCESS", DEFAULT_ROWS)
    bk.banner(f"record access, sqlite, {rows:,} rows")
    ws = Workspace.init(tmp_path / "ws", f"sqlite:///{tmp_path / 'ws' / 'rapport.db'}")
    try:
        run_access_benchmark(ws, rows, "sqlite")
    finally:
        ws.close()


@pytest.mark.benchmark
@pytest.mark.postgres_only
def test_access_filter_postgres(tmp_path: Path, database_url: str) -> None:
    rows = bk.rows_for("ACCESS", DEFAULT_ROWS)
    bk.banner(f"record access, postgresql, {rows:,} rows")
    ws = Workspace.init(tmp_path / "ws", database_url)
    try:
        run_access_benchmark(ws, rows, "postgresql")
    finally:
        ws.close()
