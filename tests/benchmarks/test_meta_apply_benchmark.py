"""Metadata apply benchmark: add a plain text field to opportunity holding 1,000,000 rows.

Prints how long ``ws.plan`` and ``ws.apply`` take (target for apply: under 2 s), then
profiles a second, identical kind of change so a slow apply shows where it spends its time.
Works on a copy of the cached generated database (the cache stays untouched).

Rows: RAPPORT_BENCH_META_ROWS or RAPPORT_BENCH_ROWS (default 1,000,000).
"""

from __future__ import annotations

import copy
import cProfile
import gc
import time
from pathlib import Path
from typing import Any

import benchkit as bk
import pytest
from sqlalchemy import func, inspect, select

from rapport.workspace import Workspace

DEFAULT_ROWS = 1_000_000
TARGET_SECONDS = 2.0


def _with_field(ws: Workspace, name: str) -> list[Any]:
    doc = copy.deepcopy(ws.state.documents[("object", "opportunity")])
    doc["fields"].append({"name": name, "type": "text", "label": name.replace("_", " ").title()})
    return ws.documents_from(doc)


def _check_applied(ws: Workspace, field: str, rows: int, revision: int) -> None:
    ws.refresh()
    assert ws.meta.revision == revision
    assert ws.meta.objects["opportunity"].has_field(field)
    with ws.engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("opportunity")}
        t = ws.table("opportunity")
        assert conn.scalar(select(func.count()).select_from(t)) == rows
    assert field in columns
    record = ws.records.get("opportunity", rows // 2)
    assert record[field] is None and record["name"] == f"Deal {rows // 2}"


def _run(ws: Workspace, rows: int, label: str) -> None:
    name = f"meta apply ({label})"
    base = ws.meta.revision

    docs = _with_field(ws, "bench_note")
    gc.collect()
    start = time.perf_counter()
    plan = ws.plan(docs)
    plan_seconds = time.perf_counter() - start
    bk.say(f"  plan: {plan_seconds:.3f} s")
    for line in plan.lines():
        bk.say(f"    {line}")
    assert [s.action for s in plan.steps] == ["add_column"], plan.lines()

    start = time.perf_counter()
    ws.apply(docs, author="bench", comment="add a text field")
    apply_seconds = time.perf_counter() - start
    _check_applied(ws, "bench_note", rows, base + 1)
    met = apply_seconds < TARGET_SECONDS
    bk.say(f"  apply: {apply_seconds:.3f} s on {rows:,} rows — target < {TARGET_SECONDS:g} s: "
           f"{bk.verdict(met)}")
    bk.record(name, "plan seconds", plan_seconds, "s")
    bk.record(name, "apply seconds (add text field)", apply_seconds, "s",
              f"< {TARGET_SECONDS:g} s", met)

    # where an apply spends its time: the same kind of change once more, under cProfile
    docs = _with_field(ws, "bench_note_2")
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    ws.apply(docs, author="bench", comment="add another text field")
    profile.disable()
    again = time.perf_counter() - start
    _check_applied(ws, "bench_note_2", rows, base + 2)
    bk.say(f"\n  a second apply (another text field) under cProfile: {again:.3f} s")
    bk.print_profile(profile, top=12, areas=8)


@pytest.mark.benchmark
def test_meta_apply_sqlite(tmp_path: Path) -> None:
    rows = bk.rows_for("meta", DEFAULT_ROWS)
    bk.banner(f"METADATA APPLY on SQLite: add a text field to opportunity with {rows:,} rows")
    bk.say(f"  {bk.environment()}")
    source = bk.cached_opportunity_workspace(rows)
    start = time.perf_counter()
    path = bk.copy_workspace(source, tmp_path / "ws")
    bk.say(f"  copied the cached database ({(path / 'rapport.db').stat().st_size / 1e6:.0f} MB) "
           f"in {time.perf_counter() - start:.1f} s")
    ws = bk.open_sqlite_workspace(path)
    try:
        _run(ws, rows, "sqlite")
    finally:
        ws.close()


@pytest.mark.benchmark
@pytest.mark.postgres_only
def test_meta_apply_postgres(tmp_path: Path, database_url: str) -> None:
    rows = bk.rows_for("meta", DEFAULT_ROWS)
    bk.banner(f"METADATA APPLY on PostgreSQL: add a text field to opportunity with {rows:,} rows")
    ws = Workspace.init(tmp_path / "ws", database_url)
    try:
        seconds = bk.fill_opportunities(ws, rows)
        bk.say(f"  built {rows:,} opportunities with INSERT ... SELECT in {seconds:.1f} s")
        _run(ws, rows, "postgresql")
    finally:
        ws.close()
