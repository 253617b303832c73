"""CSV import benchmark: 100,000 opportunities through ``import_csv`` on SQLite.

Full validation, formulas (expected_revenue) and history, through the record service.
Target: at least 30,000 records/s. Measured side by side with two hand-written
SQLAlchemy Core scripts on the same kind of engine (make_engine: WAL, synchronous=NORMAL):

* plain: parse the CSV with the csv module, convert the types, executemany into a plain
  table of the CSV's columns (no indexes) — the issue's baseline;
* same work: the same checks, formula, timestamps and history rows written by hand into
  the workspace's own opportunity table (its 7 indexes) with SQLAlchemy Core executemany —
  what one object's import costs without the generic machinery;
* database floor (not a script a person would write): the finished rows executemany'd on
  the raw sqlite3 cursor into the same table and history — SQLite's own share, the limit
  any optimisation of the Python side runs into; and the same with the columns that are
  NULL in every row written as NULL literals (the sqlite3 module's binding of a None costs
  about a microsecond, and the record service's bulk insert does not bind them either).

Then where the time goes: a per-phase breakdown (methods of the record service timed with
perf_counter, no profiler) and a cProfile run (top 15 by cumulative and own time, own
time grouped by module; the raw profile is saved to .cache/import-profile.prof for
snakeviz or pstats).

Rows: RAPPORT_BENCH_IMPORT_ROWS or RAPPORT_BENCH_ROWS (default 100,000).
"""

from __future__ import annotations

import cProfile
import csv
import gc
import time
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import benchkit as bk
import pytest
from sqlalchemy import Column, Date, Float, Integer, MetaData, Table, Text, func, insert, select

from rapport.records.transfer import import_csv, read_csv
from rapport.workspace import Workspace

DEFAULT_ROWS = 100_000
TARGET_RATE = 30_000
CENT = Decimal("0.01")
BATCH = 1000


def _new_workspace(tmp_path: Path, name: str) -> Workspace:
    root = tmp_path / name
    return Workspace.init(root, f"sqlite:///{root / 'rapport.db'}")


def _import(ws: Workspace, path: Path, rows: int) -> tuple[float, float]:
    gc.collect()
    clock = bk.Clock()
    report = import_csv(ws, "opportunity", path)
    seconds = clock.stop()
    assert report.errors == [], report.errors[:5]
    assert report.created == rows and report.rows == rows
    return seconds


def _verify_import(ws: Workspace, rows: int) -> None:
    """Every row landed with its values, computed formula and a history entry."""
    t = ws.table("opportunity")
    h = ws.table("rapport_history")
    with ws.read_engine.connect() as conn:
        stored = {r.name: r for r in conn.execute(select(
            t.c.name, t.c.amount, t.c.stage, t.c.probability, t.c.close_date,
            t.c.expected_revenue, t.c.version, t.c.created_at))}
        history = conn.scalar(select(func.count()).select_from(h).where(
            h.c.object == "opportunity", h.c.action == "create"))
    assert len(stored) == rows
    assert history == rows
    for name, amount, stage, probability, close in bk.opportunity_rows(rows):
        r = stored[name]
        a, p = Decimal(amount), Decimal(probability)
        assert (r.amount, r.stage, r.probability) == (a, stage, p), name
        assert r.close_date == (date.fromisoformat(close) if close else None), name
        assert r.expected_revenue == (a * p / 100).quantize(CENT, rounding=ROUND_HALF_UP), name
        assert r.version == 1 and r.created_at is not None


def _plain_script(ws: Workspace, path: Path, rows: int) -> tuple[float, float]:
    """The issue's baseline: csv module, type conversion, executemany into a plain table."""
    md = MetaData()
    t = Table("bench_plain_opportunity", md,
              Column("id", Integer, primary_key=True),
              Column("name", Text, nullable=False),
              Column("amount", Float),
              Column("stage", Text),
              Column("probability", Integer),
              Column("close_date", Date))
    md.create_all(ws.engine)
    gc.collect()
    clock = bk.Clock()
    with path.open(newline="", encoding="utf-8") as fh, ws.engine.begin() as conn:
        reader = csv.reader(fh)
        next(reader)
        batch: list[dict[str, Any]] = []
        for name, amount, stage, probability, close in reader:
            batch.append({"name": name, "amount": float(amount) if amount else None,
                          "stage": stage or None,
                          "probability": int(probability) if probability else None,
                          "close_date": date.fromisoformat(close) if close else None})
            if len(batch) >= 10_000:
                conn.execute(insert(t), batch)
                batch = []
        if batch:
            conn.execute(insert(t), batch)
    seconds = clock.stop()
    with ws.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(t)) == rows
    return seconds


def _same_work_script(ws: Workspace, path: Path, rows: int) -> tuple[float, float]:
    """The record service's work written by hand for this one object: required, picklist,
    min and the close-date rule checked, the formula computed, timestamps and version set,
    one history row per record, executemany into the workspace's opportunity table."""
    t = ws.table("opportunity")
    h = ws.table("rapport_history")
    columns = [c.name for c in t.columns]
    stages = set(bk.STAGES)
    gc.collect()
    clock = bk.Clock()
    when = datetime.now(UTC)
    with path.open(newline="", encoding="utf-8") as fh, ws.engine.begin() as conn:
        reader = csv.reader(fh)
        next(reader)
        next_id = (conn.scalar(select(func.max(t.c.id))) or 0) + 1
        batch: list[dict[str, Any]] = []
        history: list[dict[str, Any]] = []

        def flush() -> None:
            conn.execute(insert(t), batch)
            conn.execute(insert(h), history)
            batch.clear()
            history.clear()

        for name, amount, stage, probability, close in reader:
            a = Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP) if amount else None
            p = Decimal(probability).quantize(CENT, rounding=ROUND_HALF_UP) if probability else None
            stage = stage or "prospecting"
            close_date = date.fromisoformat(close) if close else None
            if not name or len(name) > 200 or stage not in stages or (a is not None and a < 0):
                raise AssertionError(f"bad row {name}")
            if stage in bk.LATE_STAGES and close_date is None:
                raise AssertionError(f"rule: {name}")
            expected = (a * p / 100).quantize(CENT, rounding=ROUND_HALF_UP) \
                if a is not None and p is not None else None
            row = dict.fromkeys(columns)
            row.update(id=next_id, created_at=when, updated_at=when, version=1, name=name,
                       amount=a, stage=stage, probability=p, close_date=close_date,
                       expected_revenue=expected)
            batch.append(row)
            history.append({"object": "opportunity", "record_id": next_id, "action": "create",
                            "field": None, "old_value": None, "new_value": None, "user_id": None,
                            "at": when})
            next_id += 1
            if len(batch) >= BATCH:
                flush()
        if batch:
            flush()
    seconds = clock.stop()
    with ws.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(t)) == rows
    return seconds


def _database_floor(ws: Workspace, rows: int, null_literals: bool = False) -> tuple[float, float]:
    """Only the database's part of the same work: the finished rows (values already in
    SQLite's storage form) executemany'd on the raw DBAPI cursor into the workspace's
    opportunity table and the history table, in one transaction. No Python per-row work is
    timed, so this is what SQLite itself (table, 7 indexes, history) needs.

    ``null_literals``: the columns that are NULL in every row are written as NULL in the
    statement instead of bound as None: the sqlite3 module binds a None through its adapter
    lookup (about a microsecond each, a dozen per record here), which is no work of SQLite's
    and which the record service's bulk insert avoids the same way."""
    t = ws.table("opportunity")
    columns = [c.name for c in t.columns]
    stamp = "2025-06-01 12:00:00.000000"
    records: list[tuple[Any, ...]] = []
    history: list[tuple[Any, ...]] = []
    for i, (name, amount, stage, probability, close) in enumerate(bk.opportunity_rows(rows), 1):
        a, p = Decimal(amount), Decimal(probability)
        values = dict.fromkeys(columns)
        values.update(id=i, created_at=stamp, updated_at=stamp, version=1, name=name,
                      amount=float(a), stage=stage, probability=float(p),
                      close_date=close or None,
                      expected_revenue=float((a * p / 100).quantize(CENT, ROUND_HALF_UP)))
        records.append(tuple(values[c] for c in columns))
        history.append(("opportunity", i, "create", None, None, None, None, stamp))
    insert_rows = (f"INSERT INTO opportunity ({', '.join(columns)}) "
                   f"VALUES ({', '.join('?' * len(columns))})")
    insert_history = ("INSERT INTO rapport_history (object, record_id, action, field, old_value, "
                      "new_value, user_id, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
    if null_literals:
        nulls = [i for i in range(len(columns)) if all(r[i] is None for r in records)]
        records = [tuple(v for i, v in enumerate(r) if i not in nulls) for r in records]
        marks = ", ".join("NULL" if i in nulls else "?" for i in range(len(columns)))
        insert_rows = f"INSERT INTO opportunity ({', '.join(columns)}) VALUES ({marks})"
        history = [(o, i, a, at) for o, i, a, _f, _o, _n, _u, at in history]
        insert_history = ("INSERT INTO rapport_history (object, record_id, action, field, "
                          "old_value, new_value, user_id, at) VALUES (?, ?, ?, NULL, NULL, NULL, "
                          "NULL, ?)")
    raw = ws.engine.raw_connection()
    try:
        db = raw.driver_connection
        cursor = db.cursor()
        gc.collect()
        clock = bk.Clock()
        cursor.execute("BEGIN IMMEDIATE")
        for at in range(0, rows, BATCH):
            cursor.executemany(insert_rows, records[at:at + BATCH])
            cursor.executemany(insert_history, history[at:at + BATCH])
        cursor.execute("COMMIT")
        seconds = clock.stop()
        assert cursor.execute("SELECT count(*) FROM opportunity").fetchone()[0] == rows
        cursor.close()
    finally:
        raw.close()
    return seconds


PHASES = {
    "_coerce_rows": "coerce CSV strings to field values, defaults, bookkeeping (per batch)",
    "_defaults_rows": "default formulas; other checks of rows already refused (per batch)",
    "_before_save_rows": "plugin hook record_before_save (per batch, when implemented)",
    "_compute_rows": "formulas: expected_revenue (per batch)",
    "_check_rows": "checks: required, min, patterns, validation rules (per batch)",
    "_db_checks": "database checks: lookups exist, unique (per batch)",
    "_number": "autonumbers (per batch)",
    "_insert": "INSERT executemany (per batch, incl. index upkeep)",
    "_history_created": "history INSERT executemany (per batch)",
    "_rollups_for": "rollups of parents (per batch)",
}


def _phases(ws: Workspace, path: Path, rows: int) -> None:
    timer = bk.PhaseTimer(clock=time.process_time)
    wrapped = [m for m in PHASES if timer.wrap(ws.records, m)]
    wall, total = _import(ws, path, rows)
    clock = bk.Clock()
    _header, parsed = read_csv(path)
    parsed_rows = sum(1 for _ in parsed)
    _wall, read_seconds = clock.stop()
    assert parsed_rows == rows
    bk.say(f"\n  where the time goes: a second import with the record service's steps timed "
           f"in CPU time\n  (robust to other processes; {total:.2f} s CPU, {wall:.2f} s wall = "
           f"{rows / wall:,.0f} records/s with the timers in place):")
    accounted = 0.0
    for method in sorted(wrapped, key=lambda m: timer.seconds[m], reverse=True):
        seconds = timer.seconds[method]
        accounted += seconds
        per = seconds / rows * 1e6
        bk.say(f"  {seconds:7.2f} s {100 * seconds / total:5.1f}%  {per:6.1f} µs/record  "
               f"{method:<14} {PHASES[method]}  [{timer.calls[method]:,} calls]")
    rest = total - accounted
    bk.say(f"  {rest:7.2f} s {100 * rest / total:5.1f}%  {rest / rows * 1e6:6.1f} µs/record  "
           f"{'(rest)':<14} read + parse CSV, row dicts, batching, lookup prefetch, commit")
    bk.say(f"          of which reading + parsing the CSV alone (read_csv, measured apart): "
           f"{read_seconds:.2f} s")


@pytest.mark.benchmark
def test_import_csv_benchmark(tmp_path: Path) -> None:
    rows = bk.rows_for("import", DEFAULT_ROWS)
    bk.banner(f"CSV IMPORT on SQLite: {rows:,} opportunities through import_csv "
              f"(validation, formula, history)")
    bk.say(f"  {bk.environment()}")
    path = bk.write_opportunity_csv(tmp_path / "opportunities.csv", rows)
    bk.say(f"  CSV: {path.stat().st_size / 1e6:.1f} MB, columns {', '.join(bk.CSV_HEADER)}")

    ws = _new_workspace(tmp_path, "ws_import")
    try:
        ours = _import(ws, path, rows)
        _verify_import(ws, rows)
    finally:
        ws.close()

    base_ws = _new_workspace(tmp_path, "ws_baseline")
    try:
        plain = _plain_script(base_ws, path, rows)
        same = _same_work_script(base_ws, path, rows)
    finally:
        base_ws.close()
    floor_ws = _new_workspace(tmp_path, "ws_floor")
    try:
        floor = _database_floor(floor_ws, rows)
    finally:
        floor_ws.close()
    floor_ws = _new_workspace(tmp_path, "ws_floor_nulls")
    try:
        floor_nulls = _database_floor(floor_ws, rows, null_literals=True)
    finally:
        floor_ws.close()

    rate = rows / ours[0]
    name = "csv import (sqlite)"
    bk.say(f"\n  {'':<37} {'wall':>7}  {'records/s':>10}   {'CPU':>7}  {'records/s':>10}"
           f"   (CPU: this process only, robust to other load)")

    def line(label: str, t: tuple[float, float], note: str) -> None:
        bk.say(f"  {label:<37} {t[0]:6.2f}s  {rows / t[0]:10,.0f}   {t[1]:6.2f}s  "
               f"{rows / t[1]:10,.0f}   {note}")

    line("import_csv (record service)", ours,
         f"target >= {TARGET_RATE:,}/s: {bk.verdict(rate >= TARGET_RATE)}")
    line("hand-written, plain table", plain,
         f"import_csv takes {ours[0] / plain[0]:.1f}x its time (CPU {ours[1] / plain[1]:.1f}x)")
    line("hand-written, same work, same table", same,
         f"import_csv takes {ours[0] / same[0]:.1f}x its time (CPU {ours[1] / same[1]:.1f}x)")
    line("database floor (raw executemany)", floor,
         f"SQLite's own share: {100 * floor[1] / ours[1]:.0f}% of import_csv's CPU time")
    line("  the same, all-NULL columns as NULL", floor_nulls,
         f"without binding Nones: {100 * floor_nulls[1] / ours[1]:.0f}% of import_csv's CPU time")
    bk.record(name, "import_csv records/s (wall)", rate, "rec/s", f">= {TARGET_RATE:,}",
              rate >= TARGET_RATE)
    bk.record(name, "import_csv records/s (CPU)", rows / ours[1], "rec/s")
    bk.record(name, "hand-written plain table records/s", rows / plain[0], "rec/s")
    bk.record(name, "hand-written same work records/s", rows / same[0], "rec/s")
    bk.record(name, "database floor records/s", rows / floor[0], "rec/s")
    bk.record(name, "database floor (NULL literals) records/s", rows / floor_nulls[0], "rec/s")
    bk.record(name, "time ratio import_csv / plain script", ours[0] / plain[0], "x")
    bk.record(name, "time ratio import_csv / same-work", ours[0] / same[0], "x")
    bk.record(name, "CPU ratio import_csv / plain script", ours[1] / plain[1], "x")

    ws = _new_workspace(tmp_path, "ws_phases")
    try:
        _phases(ws, path, rows)
    finally:
        ws.close()

    ws = _new_workspace(tmp_path, "ws_profile")
    try:
        profile = cProfile.Profile()
        profile.enable()
        report = import_csv(ws, "opportunity", path)
        profile.disable()
        assert report.created == rows
        bk.print_profile(profile, top=15)
        bk.CACHE.mkdir(parents=True, exist_ok=True)
        out = bk.CACHE / "import-profile.prof"
        profile.dump_stats(out)
        bk.say(f"\n  raw profile: {out} (python -m pstats, or snakeviz)")
    finally:
        ws.close()
