"""What the record service asks the engine: locks while a request is pending, automatic
submission on save, and nothing at all for objects without a flow."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from approvalkit import People, apply, flow, offer, step
from sqlalchemy import event

from rapport.approvals import Locked
from rapport.errors import ValidationError
from rapport.records.query import Query
from rapport.workspace import Workspace


@contextmanager
def statements(ws: Workspace) -> Iterator[list[str]]:
    """The SQL statements run on the workspace's engine meanwhile."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)
    event.listen(ws.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(ws.engine, "before_cursor_execute", record)


def test_a_pending_request_locks_the_record(ws: Workspace, people: People) -> None:
    apply(ws, flow())
    q = offer(ws, people.rep)
    request = ws.approvals.submit("offer", q["id"], people.rep)
    with pytest.raises(Locked) as exc:
        ws.records.update("offer", q["id"], {"name": "Sneaky"}, people.rep)
    assert exc.value.status == 409 and exc.value.code == "locked"
    assert "Big discount" in str(exc.value) and "pending approval" in str(exc.value)
    with pytest.raises(Locked):
        ws.records.delete("offer", q["id"], people.rep)
    assert ws.records.update("offer", q["id"], {"name": "Fixed by admin"},
                             people.admin)["name"] == "Fixed by admin"
    assert ws.records.update("offer", q["id"], {"description": "by the platform"})["version"] == 3
    ws.approvals.approve(request["id"], people.boss)  # its own update passes the lock
    record = ws.records.update("offer", q["id"], {"name": "Free again"}, people.rep)
    assert (record["status"], record["name"]) == ("approved", "Free again")


def test_a_flow_without_lock_leaves_the_record_editable(ws: Workspace, people: People) -> None:
    apply(ws, flow(lock=False))
    q = offer(ws, people.rep)
    ws.approvals.submit("offer", q["id"], people.rep)
    assert ws.records.update("offer", q["id"], {"name": "Still editable"},
                             people.rep)["name"] == "Still editable"


def test_objects_without_flows_cost_no_query(ws: Workspace, people: People) -> None:
    apply(ws, flow())
    account = ws.records.create("account", {"name": "Acme"}, people.rep)
    with statements(ws) as seen:
        ws.records.update("account", account["id"], {"name": "Acme Ltd"}, people.rep)
        ws.records.create_many("account", [{"name": f"A{i}"} for i in range(20)], people.rep)
        ws.records.delete("account", account["id"], people.rep)
    assert seen and not [s for s in seen if "rapport_approval" in s]
    q = offer(ws, people.rep, discount=5)
    with statements(ws) as seen:
        ws.records.update("offer", q["id"], {"name": "Renamed"}, people.rep)
    # the lock check (the access check on the offer reads the requests too: an approver
    # reads the records they decide on; the rep owns the offer)
    assert len([s for s in seen if "rapport_approval_request" in s
                and not s.startswith("SELECT CASE WHEN (offer.owner")]) == 1


def test_auto_submit_on_create_and_on_update(ws: Workspace, people: People) -> None:
    apply(ws, flow(auto_submit=True))
    big = offer(ws, people.rep, discount=30)
    [request] = ws.approvals.for_record("offer", big["id"])
    assert request["status"] == "pending" and request["submitted_by"] == people.rep.id
    small = offer(ws, people.rep, discount=5)
    assert ws.approvals.for_record("offer", small["id"]) == []
    ws.records.update("offer", small["id"], {"discount": 40}, people.rep)
    [request] = ws.approvals.for_record("offer", small["id"])
    assert request["status"] == "pending"
    # the approval's own update does not submit the record again
    ws.approvals.approve(request["id"], people.boss)
    assert [r["status"] for r in ws.approvals.for_record("offer", small["id"])] == ["approved"]
    # nor does a change the entry condition does not read; a change it reads does
    ws.records.update("offer", small["id"], {"description": "typo"}, people.rep)
    assert len(ws.approvals.for_record("offer", small["id"])) == 1
    ws.records.update("offer", small["id"], {"discount": 45}, people.rep)
    assert [r["status"] for r in ws.approvals.for_record("offer", small["id"])] == \
        ["pending", "approved"]


def test_auto_submit_after_a_rejection_needs_a_relevant_change(ws: Workspace,
                                                               people: People) -> None:
    apply(ws, flow(auto_submit=True))
    q = offer(ws, people.rep, discount=30)
    [request] = ws.approvals.for_record("offer", q["id"])
    ws.approvals.reject(request["id"], people.boss)
    ws.records.update("offer", q["id"], {"name": "Renamed"}, people.rep)
    assert len(ws.approvals.for_record("offer", q["id"])) == 1
    ws.records.update("offer", q["id"], {"discount": 22}, people.rep)
    assert [r["status"] for r in ws.approvals.for_record("offer", q["id"])] == \
        ["pending", "rejected"]


def test_auto_submit_on_bulk_create(ws: Workspace, people: People) -> None:
    apply(ws, flow(auto_submit=True))
    result = ws.records.create_many(
        "offer", [{"name": f"Q{i}", "discount": 10 * i} for i in range(6)], people.rep)
    assert result.created == 6 and not result.errors
    pending = {i: ws.approvals.pending("offer", rid) for i, rid in enumerate(result.ids)}
    assert [i for i, r in pending.items() if r is not None] == [3, 4, 5]
    assert ws.approvals.inbox_count(people.boss) == 3


def test_auto_submit_refused_refuses_the_save(ws: Workspace, people: People) -> None:
    apply(ws, flow(auto_submit=True, steps=[step("legal", {"users": ["ghost@example.com"]})]))
    with pytest.raises(ValidationError, match=r"ghost@example\.com"):
        offer(ws, people.rep, discount=30)
    assert ws.records.count("offer", Query()) == 0


def test_a_locked_master_locks_its_details(ws: Workspace, people: People) -> None:
    """A quote line of a quote awaiting approval cannot be added, changed, moved or
    removed: its totals are what the approvers decide on."""
    product = ws.records.create("product", {"name": "Widget", "unit_price": 100})
    quote = ws.records.create("quote", {"name": "Big", "discount": 25}, people.rep)
    other = ws.records.create("quote", {"name": "Small", "discount": 0}, people.rep)
    line = ws.records.create("quote_line", {"quote": quote["id"], "product": product["id"],
                                            "quantity": 1, "unit_price": 100}, people.rep)
    loose = ws.records.create("quote_line", {"quote": other["id"], "product": product["id"],
                                             "quantity": 1, "unit_price": 5}, people.rep)
    ws.approvals.submit("quote", quote["id"], people.rep)
    before = ws.records.get("quote", quote["id"])
    attempts = [
        lambda: ws.records.create("quote_line", {"quote": quote["id"], "product": product["id"],
                                                 "quantity": 9, "unit_price": 100}, people.rep),
        lambda: ws.records.create_many("quote_line", [{"quote": quote["id"], "quantity": 1,
                                                       "unit_price": 1}], people.rep),
        lambda: ws.records.update("quote_line", line["id"], {"quantity": 50}, people.rep),
        lambda: ws.records.update("quote_line", loose["id"], {"quote": quote["id"]}, people.rep),
        lambda: ws.records.delete("quote_line", line["id"], people.rep),
    ]
    for attempt in attempts:
        with pytest.raises(Locked, match=r"its Quote \d+ is locked, pending approval"):
            attempt()
    after = ws.records.get("quote", quote["id"])
    assert (after["version"], after["total"]) == (before["version"], before["total"])
    # lines of other quotes, and admins, are not held up
    ws.records.update("quote_line", loose["id"], {"quantity": 2}, people.rep)
    ws.records.update("quote_line", line["id"], {"quantity": 2}, people.admin)
