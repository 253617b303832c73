"""Installing packs: alone, all four together, the plan first, all or nothing,
dependencies, clashes, roles."""

from __future__ import annotations

import pytest
from sqlalchemy import func, inspect, select

from conftest import FIXTURES, PACKS
from rapport.errors import MetadataError, ValidationError
from rapport.packs import PackError, PackManager
from rapport.packs.roles import ensure_roles
from rapport.packs.store import installed
from rapport.records.query import Query
from rapport.workspace import Workspace


def _count(ws: Workspace, name: str) -> int:
    with ws.engine.connect() as c:
        return int(c.scalar(select(func.count()).select_from(ws.table(name))))


@pytest.mark.parametrize("name", PACKS)
def test_install_one_pack_with_its_sample_data(ws: Workspace, name: str) -> None:
    pm = PackManager(ws)
    before = ws.meta.revision
    result = pm.install(name, sample_data=True)
    assert ws.meta.revision == result.revision == before + 1  # one revision
    pack = pm.pack(name)
    for obj in pack.objects:
        assert obj in ws.meta.objects
        assert _count(ws, obj) > 0, obj
    assert result.samples and sum(result.samples.values()) >= 150
    row = pm.installed()[name]
    assert row["version"] == "1.0.0"
    assert {(d["kind"], d["name"]) for d in row["definitions"]} == set(pack.owned())
    assert all(len(d["checksum"]) == 64 for d in row["definitions"])
    assert [r["status"] for r in pm.list() if r["name"] == name] == ["installed"]
    # the pack's roles exist, as records and as options users can be given
    codes = {r["code"] for r in pack.roles}
    role = ws.records.query("role", Query(limit=100)).data
    assert codes <= {r["code"] for r in role}
    assert codes <= {o.value for o in ws.meta.objects["user"].field("role").options}


def test_all_four_packs_coexist(all_packs: Workspace) -> None:
    ws = all_packs
    pm = PackManager(ws)
    assert sorted(pm.installed()) == sorted(PACKS)
    account = ws.meta.objects["account"]
    for f in ("mfg_account_type", "edu_feeder_school", "hc_facility_type", "fin_client_segment"):
        assert account.has_field(f)  # four packs extend the same core object
    names = [o for p in PACKS for o in pm.pack(p).objects]
    assert len(names) == len(set(names))
    with ws.engine.connect() as c:
        t = ws.table("account")
        rows = c.execute(select(t.c.mfg_account_type, t.c.edu_school_type, t.c.hc_facility_type,
                                t.c.fin_client_segment)).all()
    typed = [r for r in rows if sum(v is not None for v in r) == 1]
    assert len(typed) >= 30  # each pack's accounts carry its own field, the others' blank


def test_sample_data_is_coherent(all_packs: Workspace) -> None:
    ws = all_packs
    with ws.engine.connect() as c:
        sh = ws.table("rapport_stage_history")
        # stage histories exist and are aged: entered before they were left, over weeks
        visits = c.execute(select(sh.c.entered_at, sh.c.left_at)
                           .where(sh.c.object == "mfg_rfq", sh.c.left_at.isnot(None))).all()
        assert len(visits) > 50 and all(v.entered_at <= v.left_at for v in visits)
        spread = max(v.entered_at for v in visits) - min(v.entered_at for v in visits)
        assert spread.days > 60
        req = ws.table_of("rapport_approval_request")
        by_status = dict(c.execute(select(req.c.status, func.count()).group_by(req.c.status)).all())
        assert by_status.get("approved", 0) > 10 and by_status.get("pending", 0) > 0
        app = ws.table("edu_application")
        enrolled = c.execute(select(app.c.id, app.c.decision_status)
                             .where(app.c.stage == "enrolled")).all()
        assert enrolled and {r.decision_status for r in enrolled} == {"approved"}
        ref = ws.table("hc_referral")
        pat = ws.table("hc_patient")
        accepted = c.execute(select(pat.c.active_consents).select_from(
            ref.join(pat, ref.c.patient == pat.c.id)).where(
            ref.c.stage.in_(["accepted", "scheduled", "completed"]))).scalars().all()
        assert accepted and min(accepted) >= 1  # no referral accepted without a consent
        plan = ws.table("mfg_payment_plan")
        paid = c.execute(select(plan.c.amount, plan.c.received).where(plan.c.status == "paid")).all()
        assert paid and all(r.received == r.amount for r in paid)


def test_plan_shows_what_install_would_do_without_doing_it(ws: Workspace) -> None:
    pm = PackManager(ws)
    before = ws.meta.revision
    plan = pm.plan_install("manufacturing", sample_data=True)
    lines = "\n".join(plan.lines())
    assert "add object mfg_rfq" in lines and "create table mfg_rfq" in lines
    assert "extend object account (+2 fields)" in lines and "add column account.mfg_account_type" in lines
    assert plan.sample_records > 300 and set(plan.roles) == {"sales_manager", "finance", "vp"}
    assert ws.meta.revision == before and "mfg_rfq" not in ws.meta.objects
    assert pm.installed() == {}


def test_a_failing_install_leaves_nothing(ws: Workspace) -> None:
    pm = PackManager(ws, root=FIXTURES / "failing")
    before = ws.meta.revision
    with pytest.raises(ValidationError) as err:
        pm.install("failing", sample_data=True)
    assert "fl_thing.json#/2" in str(err.value)
    assert ws.meta.revision == before
    assert "fl_thing" not in ws.meta.objects and not ws.meta.objects["account"].has_field("fl_flag")
    with ws.engine.connect() as c:
        assert "fl_thing" not in inspect(c).get_table_names()
        assert "fl_flag" not in {col["name"] for col in inspect(c).get_columns("account")}
        assert installed(c) == {}
    ws2 = Workspace.open(ws.root, ws.database_url)  # another process sees the same
    assert ws2.refresh().revision == before
    ws2.close()
    pm.install("failing")  # without the sample data it installs
    assert "fl_thing" in ws.meta.objects


def test_requires_is_respected(ws: Workspace) -> None:
    deps = PackManager(ws, root=FIXTURES / "deps")
    with pytest.raises(MetadataError) as err:
        deps.install("needy")
    assert [p.pointer for p in err.value.problems] == ["/requires/manufacturing"]
    assert "install it first" in err.value.problems[0].message
    PackManager(ws).install("manufacturing")
    deps.install("needy")
    assert ws.meta.objects["product"].has_field("nd_note")
    with pytest.raises(PackError, match="needy"):
        PackManager(ws).uninstall("manufacturing", allow_data_loss=True)


def test_names_another_pack_owns_are_refused(ws: Workspace) -> None:
    PackManager(ws).install("manufacturing")
    with pytest.raises(MetadataError) as err:
        PackManager(ws, root=FIXTURES / "clash").install("clasher")
    messages = sorted(p.message for p in err.value.problems)
    assert messages == ["a object named 'mfg_rfq' already exists (pack manufacturing)",
                        "account already has a field 'mfg_account_type'"]


def test_installing_twice_is_refused(ws: Workspace) -> None:
    pm = PackManager(ws)
    pm.install("education")
    with pytest.raises(PackError, match="already installed"):
        pm.install("education")


def test_ensure_roles_creates_records_and_options_once(ws: Workspace) -> None:
    roles = [{"code": "auditor", "label": {"en": "Auditor", "zh-CN": "审计"}}]
    assert ensure_roles(ws, roles) == ["auditor"]
    revision = ws.meta.revision
    assert ensure_roles(ws, roles) == []
    assert ws.meta.revision == revision
    assert "auditor" in {o.value for o in ws.meta.objects["user"].field("role").options}
    user = ws.records.create("user", {"email": "a@example.com", "full_name": "A", "role": "auditor"})
    assert user["role"] == "auditor"
