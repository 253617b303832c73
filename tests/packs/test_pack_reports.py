"""Every report and dashboard of every pack runs on the sample data and gives figures a
person would believe."""

from __future__ import annotations

from decimal import Decimal

import pytest

from conftest import PACKS
from rapport.packs import PackManager, load_pack
from rapport.resources import bundled
from rapport.workspace import Workspace

REPORTS = [(p, d.name) for p in PACKS
           for d in load_pack(bundled("industry_templates") / p).of_kind("report")]


@pytest.mark.parametrize(("pack", "report"), REPORTS)
def test_every_report_runs_and_is_not_empty(all_packs: Workspace, pack: str, report: str) -> None:
    result = all_packs.reports.run(report)
    assert result.rows, report
    numbers = [v for row in result.rows for k, v in row.items()
               if isinstance(v, int | Decimal) and not isinstance(v, bool)
               and k not in {"account", "referrer", "program", "term", "household",
                             "household.advisor"}]
    assert numbers and all(n >= 0 for n in numbers)
    assert any(n > 0 for n in numbers)
    assert result.chart


def test_manufacturing_figures(all_packs: Workspace) -> None:
    run = all_packs.reports.run
    pva = run("mfg_planned_vs_actual")
    assert pva.layout == "matrix"
    assert 0.6 < pva.totals["sum_actual_quantity"] / pva.totals["sum_planned_quantity"] < 1.2
    accuracy = run("mfg_forecast_accuracy")
    families = {r["product.mfg_family"] for r in accuracy.rows}
    assert families == {"motors", "pumps", "valves", "controls"}
    assert all(Decimal(40) < r["avg_accuracy"] <= 100 for r in accuracy.rows)
    overdue = run("mfg_overdue_payments")
    assert overdue.totals["count"] >= 3 and overdue.totals["sum_outstanding"] > 0
    funnel = run("mfg_rfq_funnel").rows
    reached = [r["reached"] for r in funnel]
    assert reached == sorted(reached, reverse=True) and reached[0] == 48


def test_education_figures(all_packs: Workspace) -> None:
    run = all_packs.reports.run
    yield_ = run("edu_yield_by_term_program").totals
    assert 0 < yield_["sum_is_enrolled"] <= yield_["sum_is_admitted"] < yield_["count"]
    sources = {r["source"] for r in run("edu_applications_by_source").rows}
    assert {"website", "fair", "agent"} <= sources
    days = run("edu_time_to_decision")
    assert all(Decimal(14) < r["avg_days_to_decision"] < 400 for r in days.rows)


def test_healthcare_figures(all_packs: Workspace) -> None:
    run = all_packs.reports.run
    for r in run("hc_referral_conversion").rows:
        assert r["sum_is_converted"] <= r["count"] and r["sum_is_leaked"] <= r["count"]
    waits = run("hc_time_to_appointment").rows
    assert waits and all(Decimal(1) <= r["avg_days_to_appointment"] < 120 for r in waits)
    assert {r["status"] for r in run("hc_open_care_tasks").rows} <= {"open", "in_progress"}


def test_finance_figures(all_packs: Workspace) -> None:
    run = all_packs.reports.run
    aum = run("fin_aum_by_household")
    assert aum.totals["sum_balance"] > 1_000_000
    assert len({r["household.advisor"] for r in aum.rows}) == 2
    stages = {r["stage"] for r in run("fin_loan_pipeline").rows}
    assert {"lead", "underwriting", "funded", "declined"} <= stages
    assert run("fin_kyc_pending").totals["count"] > 0
    assert all(r["status"] in {"pending", "verified"} for r in run("fin_kyc_attention").rows)


@pytest.mark.parametrize("pack", PACKS)
def test_each_dashboard_renders_its_tiles(all_packs: Workspace, pack: str) -> None:
    ws = all_packs
    for d in PackManager(ws).pack(pack).of_kind("dashboard"):
        tiles = ws.reports.tiles(ws.reports.dashboard(d.name))
        assert len(tiles) >= 5
        for tile in tiles:
            assert ws.reports.run(tile.report).rows
