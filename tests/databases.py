"""A database for tests: an SQLite file, or a fresh schema in RAPPORT_TEST_DATABASE_URL's
PostgreSQL database, dropped afterwards."""

from __future__ import annotations

import multiprocessing
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import create_engine, text

from rapport.storage.engine import normalize_url

PG_URL = os.environ.get("RAPPORT_TEST_DATABASE_URL", "")


@contextmanager
def own_database(tmp: Path) -> Iterator[str]:
    """The URL of a database of one's own, in ``tmp`` (SQLite) or in a new schema."""
    if not PG_URL:
        yield f"sqlite:///{tmp / 'rapport.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{normalize_url(PG_URL)}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def race(target: Callable[..., None], args: Sequence[tuple[Any, ...]]) -> list[Any]:
    """Run ``target(*a, barrier, results)`` for each ``a`` in its own spawned process, all
    released at once by the barrier; each puts one outcome on ``results``. Returns them."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(args))
    results = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*a, barrier, results)) for a in args]
    for p in procs:
        p.start()
    try:
        outcomes = [results.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.terminate()
    assert all(p.exitcode == 0 for p in procs)
    return outcomes
