"""Benchmarks run on demand only: ``pytest tests/benchmarks -m benchmark -s``.

Without ``-m benchmark`` (the normal suite) every test marked ``benchmark`` is skipped.
At the end of a run the headline figures are recapped and written to
``.cache/last-results.json``.
"""

from __future__ import annotations

import benchkit
import pytest


def _selected(config: pytest.Config) -> bool:
    expr = (config.getoption("markexpr", "") or "").replace(" ", "")
    return "benchmark" in expr and "notbenchmark" not in expr


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _selected(config):
        return
    skip = pytest.mark.skip(reason="benchmark: run on demand with "
                                   "'pytest tests/benchmarks -m benchmark -s'")
    for item in items:
        if item.get_closest_marker("benchmark"):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not benchkit.RESULTS:
        return
    tr = terminalreporter
    tr.section("rapport benchmarks: headline figures")
    tr.write_line(benchkit.environment())
    for r in benchkit.RESULTS:
        met = "" if r["met"] is None else ("  ok" if r["met"] else "  MISSED")
        target = f"  (target {r['target']})" if r["target"] else ""
        tr.write_line(f"{r['benchmark']:<26} {r['figure']:<46} {r['value']:>12,.3f} "
                      f"{r['unit']:<10}{target}{met}")
    path = benchkit.write_results()
    if path:
        tr.write_line(f"written to {path}")
