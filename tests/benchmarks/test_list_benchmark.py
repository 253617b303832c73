"""List page benchmark: a filtered, sorted 50-row page out of 1,000,000 opportunities.

``ws.records.query`` (filter stage = X and amount between a and b, sort amount desc)
against a hand-written SQLAlchemy Core ``select ... where ... order by ... limit 50`` on
the same engine, turned into dicts. Target: the record service within 1.5x of the
hand-written query (median). Page 2 (keyset cursor) is measured the same way.

Rows: RAPPORT_BENCH_LIST_ROWS or RAPPORT_BENCH_ROWS (default 1,000,000); repetitions:
RAPPORT_BENCH_REPEAT (default 200).
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import benchkit as bk
import pytest
from sqlalchemy import Engine, MetaData, Table, and_, func, or_, select

from rapport.records.query import And, Cond, Page, Query
from rapport.workspace import Workspace

DEFAULT_ROWS = 1_000_000
TARGET_RATIO = 1.5
PAGE = 50


def _params(count: int) -> list[tuple[str, int, int]]:
    rnd = random.Random(7)
    out = []
    for _ in range(count):
        low = rnd.randrange(0, 60_000)
        out.append((bk.STAGES[rnd.randrange(6)], low, low + rnd.randrange(5_000, 40_000)))
    return out


def _query(stage: str, low: int, high: int, cursor: str | None = None) -> Query:
    return Query(filter=And((Cond("stage", "eq", stage), Cond("amount", "between", [low, high]))),
                 sort=[("amount", True)], limit=PAGE, cursor=cursor)


def _hand_written(engine: Engine, t: Table) -> Callable[..., list[dict[str, Any]]]:
    """The hand-written page: what a developer would write against the table directly."""

    def page(stage: str, low: int, high: int, after: tuple[Any, int] | None = None
             ) -> list[dict[str, Any]]:
        where = [t.c.stage == stage, t.c.amount.between(low, high)]
        if after is not None:
            amount, rid = after
            where.append(or_(t.c.amount < amount, and_(t.c.amount == amount, t.c.id < rid)))
        stmt = (select(t).where(*where).order_by(t.c.amount.desc(), t.c.id.desc()).limit(PAGE))
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]
    return page


def _explain(ws: Workspace, stmt: Any) -> list[str]:
    engine = ws.read_engine
    try:
        sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                return [str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
            return [str(r[0]) for r in conn.exec_driver_sql("EXPLAIN " + sql)]
    except Exception as exc:  # auxiliary output only
        return [f"(no plan: {type(exc).__name__}: {exc})"]


def run_list_benchmark(ws: Workspace, rows: int, label: str) -> None:
    reps = bk.env_int("RAPPORT_BENCH_REPEAT", 200)
    name = f"list page ({label})"
    engine = ws.read_engine  # the engine ws.records.query reads through
    obj = ws.meta.objects["opportunity"]
    t_ws = ws.table("opportunity")
    t_plain = Table("opportunity", MetaData(), autoload_with=engine)  # a script's own table
    plain = _hand_written(engine, t_plain)
    same_types = _hand_written(engine, t_ws)
    params = _params(reps)

    with engine.connect() as conn:
        total = conn.scalar(select(func.count()).select_from(t_ws))
    assert total == rows, f"expected {rows} opportunities, found {total}"

    stmt, _cols, _limit = ws.compiler().page_statement(obj, _query(*params[0]))
    bk.say(f"  rows: {rows:,}; repetitions: {reps} with varied stage and amount range; "
           f"engine: {engine.url.get_backend_name()}")
    bk.say(f"  record service SQL: {' '.join(str(stmt.compile(engine)).split())}")
    bk.say("  query plan (record service):")
    for line in _explain(ws, stmt):
        bk.say(f"    {line}")
    hand = (select(t_plain).where(t_plain.c.stage == params[0][0],
                                  t_plain.c.amount.between(params[0][1], params[0][2]))
            .order_by(t_plain.c.amount.desc(), t_plain.c.id.desc()).limit(PAGE))
    bk.say("  query plan (hand-written):")
    for line in _explain(ws, hand):
        bk.say(f"    {line}")

    # -- correctness first: the same rows, in the same order ----------------------------------
    for stage, low, high in params[:20]:
        ours = ws.records.query("opportunity", _query(stage, low, high))
        ids = [r["id"] for r in ours.data]
        assert len(ids) == PAGE, "every parameter set must fill a page (the ranges are wide)"
        assert ids == [r["id"] for r in plain(stage, low, high)]
        assert ids == [r["id"] for r in same_types(stage, low, high)]
        assert all(r["stage"] == stage and low <= r["amount"] <= high for r in ours.data)
        amounts = [r["amount"] for r in ours.data]
        assert amounts == sorted(amounts, reverse=True)
        assert ours.next_cursor

    # -- page 1 -------------------------------------------------------------------------------
    candidates: dict[str, Callable[[tuple[str, int, int]], Any]] = {
        "ws.records.query": lambda p: ws.records.query("opportunity", _query(*p)),
        "hand-written, reflected table": lambda p: plain(*p),
        "hand-written, workspace Table (same types)": lambda p: same_types(*p),
    }
    with engine.connect() as held:
        candidates["ws.records.query(conn=held connection)"] = \
            lambda p: ws.records.query("opportunity", _query(*p), conn=held)
        candidates["  of which: build the statement"] = \
            lambda p: ws.compiler().page_statement(obj, _query(*p))
        page1 = _race(candidates, params)
    bk.say(f"\n  page 1 (first {PAGE} rows), {reps} queries each, interleaved:")
    stats1 = {k: bk.describe_samples(k, v) for k, v in page1.items()}
    ratio = stats1["ws.records.query"]["median"] / stats1["hand-written, reflected table"]["median"]
    ratio_same = stats1["ws.records.query"]["median"] / \
        stats1["hand-written, workspace Table (same types)"]["median"]
    ratio_p95 = stats1["ws.records.query"]["p95"] / stats1["hand-written, reflected table"]["p95"]
    bk.say(f"  ratio record service / hand-written (median): {ratio:.2f}x "
           f"(p95 {ratio_p95:.2f}x) — target <= {TARGET_RATIO}x: {bk.verdict(ratio <= TARGET_RATIO)}")
    bk.say(f"  ratio record service / hand-written with the workspace's column types: "
           f"{ratio_same:.2f}x")
    _paired(page1, "ws.records.query", "hand-written, reflected table")
    bk.record(name, "page 1 median, record service", stats1["ws.records.query"]["median"] * 1000,
              "ms")
    bk.record(name, "page 1 median, hand-written",
              stats1["hand-written, reflected table"]["median"] * 1000, "ms")
    bk.record(name, "page 1 ratio (median)", ratio, "x", f"<= {TARGET_RATIO}x",
              ratio <= TARGET_RATIO)

    # -- page 2 (keyset cursor) ---------------------------------------------------------------------
    firsts = [ws.records.query("opportunity", _query(*p)) for p in params]
    second_params = [(p, first) for p, first in zip(params, firsts, strict=True)]

    def ours2(item: tuple[tuple[str, int, int], Page]) -> Page:
        (stage, low, high), first = item
        return ws.records.query("opportunity", _query(stage, low, high, first.next_cursor))

    def hand2(fn: Callable[..., list[dict[str, Any]]], plain_amount: bool) -> Callable[..., Any]:
        def run(item: tuple[tuple[str, int, int], Page]) -> list[dict[str, Any]]:
            (stage, low, high), first = item
            last = first.data[-1]
            amount = float(last["amount"]) if plain_amount and engine.dialect.name == "sqlite" \
                else last["amount"]
            return fn(stage, low, high, (amount, last["id"]))
        return run

    (stage0, low0, high0), first0 = second_params[0]
    stmt2, _cols, _limit = ws.compiler().page_statement(
        obj, _query(stage0, low0, high0, first0.next_cursor))
    where2 = " ".join(str(stmt2.compile(engine)).split()).split(" WHERE ", 1)[1]
    bk.say(f"\n  page 2 record service WHERE: {where2}")
    bk.say("  query plan (record service, page 2):")
    for line in _explain(ws, stmt2):
        bk.say(f"    {line}")

    for item in second_params[:20]:
        got = [r["id"] for r in ours2(item).data]
        assert got == [r["id"] for r in hand2(plain, True)(item)]
        assert got == [r["id"] for r in hand2(same_types, False)(item)]
        assert not set(got) & {r["id"] for r in item[1].data}
    page2 = _race({"ws.records.query(cursor=...)": ours2,
                   "hand-written keyset, reflected table": hand2(plain, True),
                   "hand-written keyset, workspace Table": hand2(same_types, False)},
                  second_params)
    bk.say(f"\n  page 2 (keyset cursor), {reps} queries each, interleaved:")
    stats2 = {k: bk.describe_samples(k, v) for k, v in page2.items()}
    ratio2 = stats2["ws.records.query(cursor=...)"]["median"] / \
        stats2["hand-written keyset, reflected table"]["median"]
    ratio2_same = stats2["ws.records.query(cursor=...)"]["median"] / \
        stats2["hand-written keyset, workspace Table"]["median"]
    bk.say(f"  ratio record service / hand-written (median): {ratio2:.2f}x — target <= "
           f"{TARGET_RATIO}x: {bk.verdict(ratio2 <= TARGET_RATIO)}; with the workspace's "
           f"column types: {ratio2_same:.2f}x")
    _paired(page2, "ws.records.query(cursor=...)", "hand-written keyset, reflected table")
    bk.record(name, "page 2 median, record service",
              stats2["ws.records.query(cursor=...)"]["median"] * 1000, "ms")
    bk.record(name, "page 2 median, hand-written",
              stats2["hand-written keyset, reflected table"]["median"] * 1000, "ms")
    bk.record(name, "page 2 ratio (median)", ratio2, "x", f"<= {TARGET_RATIO}x",
              ratio2 <= TARGET_RATIO)


def _paired(samples: dict[str, list[float]], ours: str, hand: str) -> None:
    """Ratios less sensitive to other processes: per parameter set (the two ran back to
    back), and of the fastest runs."""
    pairs = sorted(a / b for a, b in zip(samples[ours], samples[hand], strict=True))
    fastest = min(samples[ours]) / min(samples[hand])
    bk.say(f"  paired ratio per parameter set: median {pairs[len(pairs) // 2]:.2f}x, "
           f"quartiles {pairs[len(pairs) // 4]:.2f}x..{pairs[3 * len(pairs) // 4]:.2f}x; "
           f"ratio of the fastest runs {fastest:.2f}x")


def _race(candidates: dict[str, Callable[[Any], Any]], params: list[Any]) -> dict[str, list[float]]:
    """Each candidate once per parameter set, in rotating order; a warm-up round first."""
    names = list(candidates)
    for p in params[:20]:
        for n in names:
            candidates[n](p)
    samples: dict[str, list[float]] = {n: [] for n in names}
    gc.collect()
    for i, p in enumerate(params):
        shift = i % len(names)
        for n in names[shift:] + names[:shift]:
            run = candidates[n]
            start = time.perf_counter()
            run(p)
            samples[n].append(time.perf_counter() - start)
    return samples


@pytest.mark.benchmark
def test_list_page_sqlite() -> None:
    rows = bk.rows_for("list", DEFAULT_ROWS)
    bk.banner(f"LIST PAGE on SQLite: 50 of {rows:,} opportunities "
              f"(stage = X and amount between a and b, sort amount desc)")
    bk.say(f"  {bk.environment()}")
    path = bk.cached_opportunity_workspace(rows)
    ws = bk.open_sqlite_workspace(path)
    try:
        run_list_benchmark(ws, rows, "sqlite")
    finally:
        ws.close()


@pytest.mark.benchmark
@pytest.mark.postgres_only
def test_list_page_postgres(tmp_path: Path, database_url: str) -> None:
    rows = bk.rows_for("list", DEFAULT_ROWS)
    bk.banner(f"LIST PAGE on PostgreSQL: 50 of {rows:,} opportunities")
    ws = Workspace.init(tmp_path / "ws", database_url)
    try:
        seconds = bk.fill_opportunities(ws, rows)
        bk.say(f"  built {rows:,} opportunities with INSERT ... SELECT in {seconds:.1f} s "
               "(then ANALYZE)")
        run_list_benchmark(ws, rows, "postgresql")
    finally:
        ws.close()
