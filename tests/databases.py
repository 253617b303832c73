"""A database for tests: an SQLite file, or a fresh schema in RAPPORT_TEST_DATABASE_URL's
PostgreSQL database, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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
