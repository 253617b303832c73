"""Upgrade v1 -> v2 keeps the data and the admin's customisations; uninstall refuses
while the pack holds data unless allowed, and never touches core data beyond its fields."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import inspect, select

from conftest import FIXTURES
from rapport.packs import PackError, PackManager
from rapport.records.query import Query
from rapport.workspace import Workspace

V1, V2 = FIXTURES / "v1", FIXTURES / "v2"


def customise(ws: Workspace) -> None:
    """What an admin does to the installed v1: a field of their own, a relabel, a
    reordered list, a picklist value, on the pack's object and on its core extension."""
    order = copy.deepcopy(dict(ws.state.documents[("object", "gd_order")]))
    order["fields"].append({"name": "gift_note", "type": "text", "label": "Gift note"})
    name = next(f for f in order["fields"] if f["name"] == "name")
    name["label"] = {"en": "Order title", "zh-CN": "订单标题"}
    channel = next(f for f in order["fields"] if f["name"] == "channel")
    channel["options"] = [*channel["options"], "marketplace"]
    order["views"]["list"]["columns"] = ["amount", "name", "channel", "gift_note"]
    account = copy.deepcopy(dict(ws.state.documents[("object", "account")]))
    tier = next(f for f in account["fields"] if f["name"] == "gd_tier")
    tier["label"] = {"en": "Tier", "zh-CN": "等级"}
    ws.apply(ws.documents_from([order, account]))


@pytest.fixture
def v1(ws: Workspace) -> Workspace:
    PackManager(ws, root=V1).install("gadgets")
    acme = ws.records.create("account", {"name": "Acme", "gd_tier": "gold"})
    ws.records.create("account", {"name": "Plain Co"})
    for i in range(3):
        ws.records.create("gd_order", {"name": f"order {i}", "account": acme["id"],
                                       "amount": 100 * (i + 1)})
    return ws


def test_upgrade_keeps_data_and_customisations(v1: Workspace) -> None:
    ws = v1
    customise(ws)
    order = ws.records.query("gd_order", Query(limit=10)).data[0]
    ws.records.update("gd_order", order["id"], {"channel": "marketplace", "gift_note": "wrap it"})
    pm = PackManager(ws, root=V2)
    assert [r["status"] for r in pm.list()] == ["upgrade"]
    plan = pm.plan_upgrade("gadgets")
    assert plan.from_version == "1.0.0" and plan.version == "2.0.0"
    assert ("add", "object", "gd_note") in plan.definitions
    assert ("update", "object", "gd_order") in plan.definitions
    assert any("add column gd_order.priority" in s for s in plan.steps)
    assert any("add column account.gd_since" in s for s in plan.steps)
    assert not plan.destructive and not any("drop" in s for s in plan.steps)
    revision = ws.meta.revision
    pm.upgrade("gadgets")
    assert ws.meta.revision == revision + 1
    obj = ws.meta.objects["gd_order"]
    # the new version's additions
    assert obj.has_field("priority") and "gd_note" in ws.meta.objects
    assert ws.meta.objects["account"].has_field("gd_since")
    assert obj.field("amount").label == {"en": "Order value", "zh-CN": "订单金额"}
    assert [o.value for o in obj.field("status").options] == \
        ["new", "shipped", "done", "cancelled"]
    assert [o.value for o in obj.field("channel").options] == \
        ["retail", "wholesale", "online", "marketplace"]
    assert [o.value for o in ws.meta.objects["account"].field("gd_tier").options] == \
        ["bronze", "silver", "gold"]
    # the admin's changes
    assert obj.has_field("gift_note")
    assert obj.field("name").label == {"en": "Order title", "zh-CN": "订单标题"}
    assert obj.views["list"]["columns"] == ["amount", "name", "channel", "gift_note"]
    assert obj.views["kanban"]["card"] == ["name", "amount", "priority"]  # left as shipped
    assert ws.meta.objects["account"].field("gd_tier").label == {"en": "Tier", "zh-CN": "等级"}
    # the data
    rows = ws.records.query("gd_order", Query(limit=10)).data
    assert len(rows) == 3 and sorted(float(r["amount"]) for r in rows) == [100, 200, 300]
    kept = ws.records.get("gd_order", order["id"])
    assert kept["channel"] == "marketplace" and kept["gift_note"] == "wrap it"
    assert kept["priority"] is None or kept["priority"] == "low"
    acme = ws.records.query("account", Query(limit=10)).data
    assert {a["name"]: a["gd_tier"] for a in acme}["Acme"] == "gold"
    assert pm.installed()["gadgets"]["version"] == "2.0.0"
    with pytest.raises(PackError, match="up to date"):
        pm.plan_upgrade("gadgets")


def test_upgrade_of_an_untouched_pack_follows_the_new_version(v1: Workspace) -> None:
    ws = v1
    PackManager(ws, root=V2).upgrade("gadgets")
    obj = ws.meta.objects["gd_order"]
    assert obj.views["list"]["columns"] == ["name", "status", "priority", "amount"]
    assert obj.field("name").label == {"en": "Order", "zh-CN": "订单"}


def test_uninstall_refuses_while_the_pack_holds_data(v1: Workspace) -> None:
    ws = v1
    pm = PackManager(ws, root=V1)
    plan = pm.plan_uninstall("gadgets")
    assert plan.destructive and any("gd_order: 3 records" in n for n in plan.notes)
    with pytest.raises(PackError, match="holds data"):
        pm.uninstall("gadgets")
    assert "gd_order" in ws.meta.objects and pm.installed()


def test_uninstall_when_allowed_removes_only_what_the_pack_added(v1: Workspace) -> None:
    ws = v1
    PackManager(ws).install("manufacturing")  # another pack on the same core object
    ws.records.create("account", {"name": "Machine Co", "mfg_account_type": "oem"})
    revision = ws.meta.revision
    PackManager(ws, root=V1).uninstall("gadgets", allow_data_loss=True)
    assert ws.meta.revision == revision + 1
    assert "gd_order" not in ws.meta.objects and "gd_order_flow" not in ws.meta.workflows
    assert "gd_by_status" not in ws.meta.reports
    account = ws.meta.objects["account"]
    assert not account.has_field("gd_tier") and account.has_field("mfg_account_type")
    with ws.engine.connect() as c:
        assert "gd_order" not in inspect(c).get_table_names()
        t = ws.table("account")
        rows = dict(c.execute(select(t.c.name, t.c.mfg_account_type)).all())
    assert rows == {"Acme": None, "Plain Co": None, "Machine Co": "oem"}  # core data kept
    assert PackManager(ws, root=V1).installed().keys() == {"manufacturing"}
    PackManager(ws, root=V1).install("gadgets")  # and it installs again, clean
    assert ws.records.query("gd_order", Query(limit=5)).data == []


def test_uninstall_of_an_empty_pack_needs_no_permission(ws: Workspace) -> None:
    pm = PackManager(ws, root=V1)
    pm.install("gadgets")
    assert not pm.plan_uninstall("gadgets").destructive
    pm.uninstall("gadgets")
    assert "gd_order" not in ws.meta.objects


def test_uninstall_after_sample_data_and_reinstall(ws: Workspace) -> None:
    pm = PackManager(ws)
    pm.install("healthcare", sample_data=True)
    with pytest.raises(PackError, match="allow data loss"):
        pm.uninstall("healthcare")
    pm.uninstall("healthcare", allow_data_loss=True)
    assert not any(o.startswith("hc_") for o in ws.meta.objects)
    users = {u["email"] for u in ws.records.query("user", Query(limit=50)).data}
    assert "h_coord@health.example.com" in users  # core records stay
    result = pm.install("healthcare", sample_data=True)  # nothing left behind to clash with
    assert result.samples["hc_referral"] == 100
