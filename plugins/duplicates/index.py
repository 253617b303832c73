"""The match keys of every checked record, kept in ``duplicates_key`` by the save and
delete hooks (in the write's transaction), so finding possible duplicates is an indexed
lookup, never a scan."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    MetaData,
    Table,
    Text,
    delete,
    insert,
    select,
)

from .rules import Check

TABLES = MetaData()
KEYS = Table("duplicates_key", TABLES,
             Column("object", Text, nullable=False),
             Column("record_id", BigInteger, nullable=False),
             Column("rule", Text, nullable=False),
             Column("key", Text, nullable=False),
             Index("ix_duplicates_key_lookup", "key", "rule", "object"),
             Index("ix_duplicates_key_record", "object", "record_id"))
STATE = Table("duplicates_state", TABLES,
              Column("object", Text, primary_key=True),
              Column("signature", Text, nullable=False))
BATCH = 2000


def store(conn: Connection, check: Check, record: Mapping[str, Any], new: bool = False) -> None:
    """The record's keys (``new``: it has none yet, nothing to replace)."""
    name, rid = check.obj.name, record["id"]
    if not new:
        conn.execute(delete(KEYS).where(KEYS.c.object == name, KEYS.c.record_id == rid))
    rows = [{"object": name, "record_id": rid, "rule": rule, "key": key}
            for rule, key in check.keys(record).items()]
    if rows:
        conn.execute(insert(KEYS), rows)


def forget(conn: Connection, object_name: str, rid: int) -> None:
    conn.execute(delete(KEYS).where(KEYS.c.object == object_name, KEYS.c.record_id == rid))


def matches(conn: Connection, check: Check, keys: Mapping[str, str],
            exclude: int | None = None) -> dict[int, list[str]]:
    """{record id: the rules it matches on} for records sharing one of ``keys``."""
    if not keys:
        return {}
    # by key alone, the rest checked here: with the object or the rule in the condition,
    # SQLite's planner walks every key row of the object instead of the key index
    wanted = {(check.obj.name, rule, key) for rule, key in keys.items()}
    stmt = select(KEYS.c.record_id, KEYS.c.object, KEYS.c.rule, KEYS.c.key).where(
        KEYS.c.key.in_(sorted({key for _o, _r, key in wanted})))
    found: dict[int, list[str]] = {}
    for rid, obj, rule, key in conn.execute(stmt):
        if rid != exclude and (obj, rule, key) in wanted:
            found.setdefault(rid, []).append(rule)
    return found


def groups(conn: Connection, check: Check, limit: int = 200) -> list[tuple[str, list[int]]]:
    """(rule, record ids) for every key shared by several records, the largest first."""
    from sqlalchemy import func

    dup = select(KEYS.c.rule, KEYS.c.key).where(KEYS.c.object == check.obj.name) \
        .group_by(KEYS.c.rule, KEYS.c.key).having(func.count() > 1) \
        .order_by(func.count().desc()).limit(limit).subquery()
    rows = conn.execute(select(KEYS.c.rule, KEYS.c.key, KEYS.c.record_id).join(
        dup, (dup.c.rule == KEYS.c.rule) & (dup.c.key == KEYS.c.key))
        .where(KEYS.c.object == check.obj.name).order_by(KEYS.c.record_id))
    out: dict[tuple[str, str], list[int]] = {}
    for rule, key, rid in rows:
        out.setdefault((rule, key), []).append(rid)
    return sorted(((rule, ids) for (rule, _k), ids in out.items()), key=lambda g: -len(g[1]))


def ensure(workspace: Any, check: Check) -> bool:
    """Build the object's keys when its rules changed (or on first use); True if built."""
    t = workspace.table(check.obj.name)
    wanted = select(STATE.c.signature).where(STATE.c.object == check.obj.name)
    with workspace.engine.connect() as conn:  # the usual case reads, and takes no lock
        if conn.scalar(wanted) == check.signature:
            return False
    with workspace.transaction() as conn:
        if conn.scalar(wanted) == check.signature:  # another process was quicker
            return False
        conn.execute(delete(KEYS).where(KEYS.c.object == check.obj.name))
        last = 0
        while rows := [dict(r._mapping) for r in conn.execute(
                select(t).where(t.c.id > last).order_by(t.c.id).limit(BATCH))]:
            last = rows[-1]["id"]
            batch = [{"object": check.obj.name, "record_id": r["id"], "rule": rule, "key": key}
                     for r in rows for rule, key in check.keys(r).items()]
            if batch:
                conn.execute(insert(KEYS), batch)
        conn.execute(delete(STATE).where(STATE.c.object == check.obj.name))
        conn.execute(insert(STATE).values(object=check.obj.name, signature=check.signature))
    return True
