"""How long a pack install with its sample data takes: each pack alone, then all four
into one workspace (SQLite, and PostgreSQL with RAPPORT_TEST_DATABASE_URL).

    .venv/bin/python -m pytest tests/benchmarks/test_packs_benchmark.py -m benchmark -s
"""

from __future__ import annotations

import time

import benchkit
import pytest

from rapport.packs import PackManager
from rapport.workspace import Workspace

PACKS = ("manufacturing", "education", "healthcare", "finance")
pytestmark = pytest.mark.benchmark


@pytest.mark.parametrize("name", PACKS)
def test_install_one_pack(ws: Workspace, name: str) -> None:
    start = time.perf_counter()
    result = PackManager(ws).install(name, sample_data=True)
    took = time.perf_counter() - start
    records = sum(result.samples.values())
    assert records > 150
    benchkit.say(f"{name}: {records} records in {took:.2f} s ({ws.engine.dialect.name})")
    benchkit.record("pack install", f"{name} + sample data ({ws.engine.dialect.name})", took, "s")


def test_install_all_four(ws: Workspace) -> None:
    pm = PackManager(ws)
    start = time.perf_counter()
    records = sum(sum(pm.install(n, sample_data=True).samples.values()) for n in PACKS)
    took = time.perf_counter() - start
    assert sorted(pm.installed()) == sorted(PACKS)
    benchkit.say(f"all four: {records} records in {took:.2f} s ({ws.engine.dialect.name})")
    benchkit.record("pack install", f"all four + sample data ({ws.engine.dialect.name})", took,
                    "s")
