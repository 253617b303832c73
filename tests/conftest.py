"""Shared fixtures: every test gets its own database.

SQLite by default (a file in the test's tmp dir). With RAPPORT_TEST_DATABASE_URL set to a
PostgreSQL URL, each test gets its own schema in that database, dropped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from databases import PG_URL, own_database
from rapport.workspace import Workspace


def pytest_report_header(config: pytest.Config) -> str:
    return f"rapport database: {PG_URL or 'sqlite (a file per test)'}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_pg = pytest.mark.skip(reason="needs RAPPORT_TEST_DATABASE_URL (PostgreSQL)")
    for item in items:
        if "postgres_only" in item.keywords and not PG_URL.startswith("postgres"):
            item.add_marker(skip_pg)


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A database URL for one test: an SQLite file, or a fresh PostgreSQL schema."""
    with own_database(tmp_path) as url:
        yield url


@pytest.fixture
def ws(tmp_path: Path, database_url: str) -> Iterator[Workspace]:
    """A workspace with the core objects, on its own database."""
    workspace = Workspace.init(tmp_path / "ws", database_url)
    yield workspace
    workspace.close()


@pytest.fixture
def is_postgres() -> bool:
    return PG_URL.startswith("postgres")
