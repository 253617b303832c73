"""Fixtures for the record service tests.

Building a workspace takes a good part of a second, so most tests share one per module
(``shared``, with the extra objects applied) and ``clean`` empties its tables after each
test; tests that change the metadata or need plugins build their own (``ws``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from recordkit import BASKET, GADGET
from sqlalchemy import create_engine, delete, text

from rapport.auth.users import actor_of, create_user
from rapport.records.actor import Actor
from rapport.storage.engine import normalize_url
from rapport.workspace import Workspace

PG_URL = os.environ.get("RAPPORT_TEST_DATABASE_URL", "")
#: Tables emptied between tests sharing a workspace (children first).
DATA_TABLES = ("item", "basket", "gadget", "quote_line", "quote", "activity", "opportunity",
               "contact", "lead", "product", "account", "rapport_history", "rapport_sequence")


@contextmanager
def _database(tmp: Path) -> Iterator[str]:
    """Like the ``database_url`` fixture, for a longer-lived workspace."""
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


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """One workspace per test module: core objects plus gadget, basket and item."""
    tmp = tmp_path_factory.mktemp("shared")
    with _database(tmp) as url:
        workspace = Workspace.init(tmp / "ws", url)
        workspace.apply(workspace.documents_from([GADGET, *BASKET]))
        yield workspace
        workspace.close()


@pytest.fixture
def clean(shared: Workspace) -> Iterator[Workspace]:
    """The module's workspace, emptied of records (users kept) after the test."""
    yield shared
    with shared.transaction() as conn:
        for name in DATA_TABLES:
            conn.execute(delete(shared.table(name)))


@pytest.fixture
def gadget_ws(ws: Workspace) -> Workspace:
    ws.apply(ws.documents_from(GADGET))
    return ws


@pytest.fixture
def basket_ws(ws: Workspace) -> Workspace:
    ws.apply(ws.documents_from(BASKET))
    return ws


def _user(ws: Workspace, email: str, role: str) -> Actor:
    from rapport.auth.users import find_user

    existing = find_user(ws, email)
    return actor_of(existing or create_user(ws, email, role, "correct horse"))


@pytest.fixture
def alice(clean: Workspace) -> Actor:
    return _user(clean, "alice@example.com", "member")


@pytest.fixture
def bob(clean: Workspace) -> Actor:
    return _user(clean, "bob@example.com", "manager")
