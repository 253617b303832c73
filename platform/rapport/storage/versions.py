"""Data versions: a counter per table, moved on by every transaction that writes the table.

A result computed from some tables (a report) stays valid exactly as long as the versions of
those tables have not moved, so it can be served again without reading a row. The counters
live in the database (``rapport_data_version``), so every worker process sees every other's
writes.

Every INSERT, UPDATE and DELETE built with SQLAlchemy Core is noticed by an engine event;
a write made on the DBAPI cursor directly (the SQLite bulk insert) says so with ``touch``.
The counters move just before the transaction commits (``bump``), in the write's own
transaction: a rolled-back write moves nothing. A reader takes the versions *before* it
reads the data, so a commit in between makes its result look older than it is (it is
recomputed once more), never newer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Delete, Engine, Insert, MetaData, Update, event, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

TABLE = "rapport_data_version"
TOUCHED = "rapport_touched"


def track(engine: Engine) -> None:
    """Notice the tables every Core INSERT, UPDATE and DELETE on ``engine`` writes."""
    event.listen(engine, "before_execute", _noticed)


def _noticed(conn: Connection, clause: Any, multiparams: Any, params: Any,
             options: Any) -> None:
    if isinstance(clause, Insert | Update | Delete):
        name = clause.table.name  # type: ignore[union-attr]
        if name != TABLE:
            conn.info.setdefault(TOUCHED, set()).add(name)


def touch(conn: Connection, *names: str) -> None:
    """Mark tables as written by this transaction (writes made outside SQLAlchemy Core)."""
    conn.info.setdefault(TOUCHED, set()).update(names)


def forget(conn: Connection) -> None:
    """The transaction ended without committing: nothing it wrote counts."""
    conn.info.pop(TOUCHED, None)


def bump(conn: Connection, md: MetaData) -> None:
    """Move on the versions of the tables this transaction wrote; call it just before the
    commit. Sorted, so two transactions bumping the same rows never deadlock."""
    names = sorted(conn.info.pop(TOUCHED, None) or ())
    if not names:
        return
    table = md.tables[TABLE]
    moved = conn.execute(update(table).where(table.c.name.in_(names))
                         .values(version=table.c.version + 1)
                         .returning(table.c.name)).scalars().all()
    missing = set(names) - set(moved)
    if missing:
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        stmt = insert(table).values([{"name": n, "version": 1} for n in sorted(missing)])
        conn.execute(stmt.on_conflict_do_update(index_elements=[table.c.name],
                                                set_={"version": table.c.version + 1}))


def read(conn: Connection, md: MetaData, names: Iterable[str] | None = None) -> dict[str, int]:
    """The current versions (of ``names``, or of every table); a table never written is 0."""
    table = md.tables[TABLE]
    stmt = select(table.c.name, table.c.version)
    wanted = None if names is None else sorted(set(names))
    if wanted is not None:
        stmt = stmt.where(table.c.name.in_(wanted))
    found = {name: int(version) for name, version in conn.execute(stmt)}
    if wanted is not None:
        return {n: found.get(n, 0) for n in wanted}
    return found
