"""The ``rapport_pack`` system table: which packs a workspace holds, at which version, and
the definitions each installed (with their checksums and the documents as shipped, the
base of an upgrade's three-way merge)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Connection, MetaData, Table, Text, delete, insert, select, update

from ..storage.types import UTCDateTime

PACKS = MetaData()
pack_table = Table(
    "rapport_pack", PACKS,
    Column("name", Text, primary_key=True),
    Column("version", Text, nullable=False),
    Column("installed_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("definitions", Text, nullable=False),   # JSON [{kind, name, checksum}]
    Column("extends", Text, nullable=False),       # JSON {object: [fields added]}
    Column("documents", Text, nullable=False),     # JSON [{kind, data}]: as the pack shipped them
    Column("requires", Text, nullable=False),      # JSON {pack: version specification}
)


def ensure_table(conn: Connection) -> None:
    PACKS.create_all(conn, checkfirst=True)


def installed(conn: Connection) -> dict[str, dict[str, Any]]:
    """name -> the installed pack's row (JSON columns parsed)."""
    ensure_table(conn)
    out = {}
    for row in conn.execute(select(pack_table)):
        r = dict(row._mapping)
        for key in ("definitions", "extends", "documents", "requires"):
            r[key] = json.loads(r[key])
        out[r["name"]] = r
    return out


def save(conn: Connection, name: str, version: str, definitions: list[dict[str, Any]],
         extends: dict[str, list[str]], documents: list[dict[str, Any]],
         requires: dict[str, str], new: bool) -> None:
    now = datetime.now(UTC)
    values = {"version": version, "updated_at": now,
              "definitions": json.dumps(definitions, ensure_ascii=False),
              "extends": json.dumps(extends, ensure_ascii=False),
              "documents": json.dumps(documents, ensure_ascii=False),
              "requires": json.dumps(requires)}
    if new:
        conn.execute(insert(pack_table).values(name=name, installed_at=now, **values))
    else:
        conn.execute(update(pack_table).where(pack_table.c.name == name).values(values))


def forget(conn: Connection, name: str) -> None:
    conn.execute(delete(pack_table).where(pack_table.c.name == name))
