"""Deciding: modes any / all / quorum, advancing through steps, the flow's field updates,
recall, reassign, added signers, delegation, and requests running an older flow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from approvalkit import People, actions, apply, flow, offer, step, task_of
from sqlalchemy import update

from rapport.approvals import AlreadyDecided
from rapport.errors import Conflict, NotFound, PermissionDenied, ValidationError
from rapport.workspace import Workspace

TEAM = {"team": "finance_team"}


def _submit(ws: Workspace, people: People, discount: float = 25, **values) -> dict:
    q = offer(ws, people.rep, discount=discount, **values)
    return ws.approvals.submit("offer", q["id"], people.rep)


def _status(ws: Workspace, request: dict) -> str:
    return ws.records.get("offer", request["record_id"])["status"]


def test_any_mode_first_answer_decides(ws: Workspace, people: People) -> None:
    apply(ws, flow(steps=[step("finance", TEAM, mode="any")]))
    request = _submit(ws, people)
    done = ws.approvals.approve(request["id"], people.ben, comment="fine by me")
    assert done["status"] == "approved" and done["decided_by"] == people.ben.id
    assert done["decided_by_name"] == "Ben Approver"
    tasks = {t["approver_id"]: t for t in done["steps"][0]["tasks"]}
    assert tasks[people.ben.id]["status"] == "approved"
    assert tasks[people.ben.id]["comment"] == "fine by me"
    assert tasks[people.ann.id]["status"] == tasks[people.cat.id]["status"] == "cancelled"
    assert done["steps"][0]["status"] == "approved"
    assert actions(done) == ["submitted", "approved", "step_approved", "completed"]
    assert _status(ws, request) == "approved"
    with pytest.raises(AlreadyDecided) as exc:
        ws.approvals.approve(request["id"], people.ann)
    assert exc.value.status == 409 and exc.value.code == "already_decided"
    assert "approved by Ben Approver" in str(exc.value)
    assert ws.approvals.inbox_count(people.ann) == 0


def test_any_mode_one_rejection_rejects(ws: Workspace, people: People) -> None:
    apply(ws, flow(steps=[step("finance", TEAM)]))
    request = _submit(ws, people)
    done = ws.approvals.reject(request["id"], people.cat, comment="too generous")
    assert done["status"] == "rejected" and done["steps"][0]["status"] == "rejected"
    assert _status(ws, request) == "rejected"
    [note] = ws.notifications.list(people.rep)
    assert note["kind"] == "approval_decided" and "rejected by Cat Approver" in note["message"]
    assert note["data"]["status"] == "rejected"


def test_all_mode_needs_everyone(ws: Workspace, people: People) -> None:
    apply(ws, flow(steps=[step("finance", TEAM, mode="all")]))
    request = _submit(ws, people)
    after_one = ws.approvals.approve(request["id"], people.ann)
    assert after_one["status"] == "pending" and after_one["steps"][0]["status"] == "pending"
    with pytest.raises(AlreadyDecided, match="you already approved"):
        ws.approvals.approve(request["id"], people.ann)
    ws.approvals.approve(request["id"], people.ben)
    assert _status(ws, request) == "draft"
    done = ws.approvals.approve(request["id"], people.cat)
    assert done["status"] == "approved" and _status(ws, request) == "approved"
    assert [t["status"] for t in done["steps"][0]["tasks"]] == ["approved"] * 3


def test_all_mode_one_rejection_rejects(ws: Workspace, people: People) -> None:
    apply(ws, flow(steps=[step("finance", TEAM, mode="all")]))
    request = _submit(ws, people)
    ws.approvals.approve(request["id"], people.ann)
    done = ws.approvals.reject(request["id"], people.ben)
    assert done["status"] == "rejected"
    statuses = {t["approver_id"]: t["status"] for t in done["steps"][0]["tasks"]}
    assert statuses == {people.ann.id: "approved", people.ben.id: "rejected",
                        people.cat.id: "cancelled"}


def test_quorum_two_of_three(ws: Workspace, people: People) -> None:
    apply(ws, flow(steps=[step("finance", TEAM, mode="quorum", quorum=2)]))
    request = _submit(ws, people)
    assert ws.approvals.approve(request["id"], people.ann)["status"] == "pending"
    done = ws.approvals.approve(request["id"], people.cat)
    assert done["status"] == "approved"
    assert task_of(done, people.ben)["status"] == "cancelled"
    with pytest.raises(AlreadyDecided, match="already approved"):
        ws.approvals.reject(request["id"], people.ben)
    rejected = _submit(ws, people)
    ws.approvals.approve(rejected["id"], people.ann)
    assert ws.approvals.reject(rejected["id"], people.ben)["status"] == "rejected"


def test_steps_advance_and_skip_on_the_way(ws: Workspace, people: People) -> None:
    apply(ws, flow(steps=[
        step("manager", {"manager_of": "owner"},
             on_approve={"set": {"description": "'manager ok'"}}),
        step("legal", {"users": ["admin@example.com"]}, when="discount > 90"),
        step("finance", TEAM, mode="quorum", quorum=2,
             when="description == 'manager ok'")]))
    request = _submit(ws, people)
    assert [s["status"] for s in request["steps"]] == ["pending", "waiting", "waiting"]
    moved = ws.approvals.approve(request["id"], people.boss)
    assert moved["status"] == "pending" and moved["step"] == 2
    assert [s["status"] for s in moved["steps"]] == ["approved", "skipped", "pending"]
    assert actions(moved) == ["submitted", "approved", "step_approved", "step_skipped"]
    assert ws.approvals.inbox_count(people.ann) == 1
    assigned = [n for n in ws.notifications.list(people.ann) if n["kind"] == "approval_assigned"]
    assert assigned and assigned[0]["data"]["step"] == "finance"
    with pytest.raises(AlreadyDecided, match="step 'Manager'"):
        ws.approvals.approve(request["id"], people.boss)
    ws.approvals.approve(request["id"], people.ann)
    done = ws.approvals.approve(request["id"], people.ben)
    assert done["status"] == "approved"
    record = ws.records.get("offer", request["record_id"])
    assert (record["status"], record["description"]) == ("approved", "manager ok")


def test_a_next_step_without_approvers_refuses_the_decision(ws: Workspace,
                                                            people: People) -> None:
    apply(ws, flow(steps=[step("manager", {"manager_of": "owner"}),
                          step("legal", {"users": ["ghost@example.com"]})]))
    request = _submit(ws, people)
    with pytest.raises(ValidationError, match=r"step 'Legal'.*ghost@example\.com"):
        ws.approvals.approve(request["id"], people.boss)
    again = ws.approvals.get(request["id"])
    assert again["status"] == "pending" and task_of(again, people.boss)["status"] == "pending"


def test_step_and_flow_field_updates_are_applied_in_order(ws: Workspace,
                                                          people: People) -> None:
    apply(ws, flow(steps=[step("manager", {"manager_of": "owner"},
                               on_reject={"set": {"description": "'step said no'"}})],
                   on_reject={"set": {"status": "'rejected'",
                                      "description": "concat(description, ' / flow said no')"}},
                   on_recall={"set": {"status": "'draft'", "description": "'recalled'"}}))
    request = _submit(ws, people)
    ws.approvals.reject(request["id"], people.boss)
    record = ws.records.get("offer", request["record_id"])
    assert record["status"] == "rejected"
    assert record["description"] == "step said no / flow said no"
    updates = [h for h in ws.records.history("offer", record["id"]) if h["action"] == "update"]
    assert {h["user_id"] for h in updates} == {people.boss.id}
    recalled = _submit(ws, people, status="in_review")
    ws.approvals.recall(recalled["id"], people.rep)
    record = ws.records.get("offer", recalled["record_id"])
    assert (record["status"], record["description"]) == ("draft", "recalled")


def test_a_failing_field_update_rolls_the_decision_back(ws: Workspace, people: People) -> None:
    apply(ws, flow(on_approve={"set": {"discount": "discount * 10"}}))  # over the max of 100
    request = _submit(ws, people)
    with pytest.raises(ValidationError) as exc:
        ws.approvals.approve(request["id"], people.boss)
    assert exc.value.problems[0].field == "discount"
    again = ws.approvals.get(request["id"])
    assert again["status"] == "pending" and actions(again) == ["submitted"]
    assert task_of(again, people.boss)["status"] == "pending"
    assert ws.records.get("offer", request["record_id"])["discount"] == 25
    assert ws.notifications.list(people.rep) == []


def test_only_approvers_decide(ws: Workspace, people: People) -> None:
    apply(ws, flow())
    request = _submit(ws, people)
    for outsider in (people.ann, people.rep, people.admin):
        with pytest.raises(PermissionDenied) as exc:
            ws.approvals.approve(request["id"], outsider)
        assert exc.value.status == 403
    with pytest.raises(PermissionDenied):
        ws.approvals.get(request["id"], people.ann)
    assert ws.approvals.get(request["id"], people.rep)["can_decide"] is False
    assert ws.approvals.get(request["id"], people.boss)["can_decide"] is True
    with pytest.raises(NotFound):
        ws.approvals.approve(99999, people.boss)


def test_recall(ws: Workspace, people: People) -> None:
    apply(ws, flow(steps=[step("finance", TEAM, mode="all")]))
    request = _submit(ws, people)
    ws.approvals.approve(request["id"], people.ann)
    with pytest.raises(PermissionDenied, match="only the submitter"):
        ws.approvals.recall(request["id"], people.ben)  # an approver, not the submitter
    recalled = ws.approvals.recall(request["id"], people.rep, comment="wrong price")
    assert recalled["status"] == "recalled" and recalled["can_recall"] is False
    assert recalled["steps"][0]["status"] == "cancelled"
    statuses = {t["approver_id"]: t["status"] for t in recalled["steps"][0]["tasks"]}
    assert statuses == {people.ann.id: "approved", people.ben.id: "cancelled",
                        people.cat.id: "cancelled"}
    assert recalled["events"][-1]["action"] == "recalled"
    assert recalled["events"][-1]["comment"] == "wrong price"
    for user in (people.ben, people.cat):  # whose answer was still awaited
        assert [n["kind"] for n in ws.notifications.list(user)] == [
            "approval_recalled", "approval_assigned"]
    assert [n["kind"] for n in ws.notifications.list(people.ann)] == ["approval_assigned"]
    with pytest.raises(AlreadyDecided, match="already recalled"):
        ws.approvals.recall(request["id"], people.rep)
    with pytest.raises(AlreadyDecided):
        ws.approvals.approve(request["id"], people.ben)
    # once recalled the record can be submitted again
    assert ws.approvals.submit("offer", request["record_id"], people.rep)["status"] == "pending"


def test_recall_refused_by_the_flow_and_allowed_to_admins(ws: Workspace,
                                                          people: People) -> None:
    apply(ws, flow(allow_recall=False), flow("any_offer", when="discount <= 20"))
    request = _submit(ws, people)
    assert request["can_recall"] is False
    with pytest.raises(PermissionDenied, match="does not allow recalling"):
        ws.approvals.recall(request["id"], people.rep)
    other = _submit(ws, people, discount=5)
    assert ws.approvals.recall(other["id"], people.admin)["status"] == "recalled"


def test_reassign(ws: Workspace, people: People) -> None:
    apply(ws, flow())
    request = _submit(ws, people)
    with pytest.raises(PermissionDenied):
        ws.approvals.reassign(request["id"], people.ann, people.ben.id)
    with pytest.raises(ValidationError, match="no active user"):
        ws.approvals.reassign(request["id"], people.boss, "out@example.com")
    moved = ws.approvals.reassign(request["id"], people.boss, "ann@example.com",
                                  comment="Ann knows this client")
    assert [t["approver_id"] for t in moved["steps"][0]["tasks"]] == [people.ann.id]
    event = moved["events"][-1]
    assert event["action"] == "reassigned" and event["comment"] == "Ann knows this client"
    assert event["detail"]["from"] == people.boss.id and event["detail"]["to"] == people.ann.id
    assert ws.approvals.inbox_count(people.boss) == 0
    assert ws.approvals.inbox_count(people.ann) == 1
    assert ws.notifications.list(people.ann)[0]["kind"] == "approval_assigned"
    with pytest.raises(PermissionDenied):
        ws.approvals.approve(request["id"], people.boss)
    # an admin reassigns anyone's task
    again = ws.approvals.reassign(request["id"], people.admin, people.cat.id)
    assert [t["approver_id"] for t in again["steps"][0]["tasks"]] == [people.cat.id]
    assert ws.approvals.approve(request["id"], people.cat)["status"] == "approved"


def test_add_signer_in_all_mode(ws: Workspace, people: People) -> None:
    apply(ws, flow(steps=[step("manager", {"manager_of": "owner"}, mode="all")]))
    request = _submit(ws, people)
    with pytest.raises(PermissionDenied):
        ws.approvals.add_signer(request["id"], people.ann, people.ben.id)
    added = ws.approvals.add_signer(request["id"], people.boss, "ann@example.com",
                                    comment="please check the margin")
    ann = task_of(added, people.ann)
    assert ann["status"] == "pending" and ann["added_by"] == people.boss.id
    assert added["events"][-1]["action"] == "signer_added"
    with pytest.raises(ValidationError, match="already an approver"):
        ws.approvals.add_signer(request["id"], people.boss, people.ann.id)
    assert ws.approvals.approve(request["id"], people.boss)["status"] == "pending"
    done = ws.approvals.approve(request["id"], people.ann)
    assert done["status"] == "approved"
    assert ws.approvals.get(request["id"], people.ann)["id"] == request["id"]  # may read it


def test_delegation_routes_new_tasks_to_the_delegate(ws: Workspace, people: People) -> None:
    apply(ws, flow())
    d = ws.approvals.set_delegation(people.boss, "ann@example.com",
                                    datetime.now(UTC) + timedelta(days=7))
    assert d["delegate_id"] == people.ann.id and d["active"] is True
    assert d["delegate_name"] == "Ann Approver"
    request = _submit(ws, people)
    [task] = request["steps"][0]["tasks"]
    assert (task["approver_id"], task["delegated_from"]) == (people.ann.id, people.boss.id)
    assert task["delegated_from_name"] == "Bea Boss"
    assert ws.approvals.inbox_count(people.boss) == 0
    with pytest.raises(PermissionDenied):
        ws.approvals.approve(request["id"], people.boss)
    assert ws.approvals.approve(request["id"], people.ann)["status"] == "approved"
    assert ws.approvals.clear_delegation(people.boss) is True
    assert ws.approvals.delegation(people.boss) is None
    back = _submit(ws, people)
    assert task_of(back, people.boss)["delegated_from"] is None


def test_a_delegate_decides_tasks_assigned_before_the_delegation(ws: Workspace,
                                                                 people: People) -> None:
    apply(ws, flow())
    request = _submit(ws, people)
    ws.approvals.set_delegation(people.boss, people.ben.id)
    assert ws.approvals.inbox_count(people.ben) == 1
    [item] = ws.approvals.inbox(people.ben)
    assert item["on_behalf_of"] == people.boss.id
    assert ws.approvals.get(request["id"], people.ben)["can_decide"] is True
    done = ws.approvals.approve(request["id"], people.ben)
    [task] = done["steps"][0]["tasks"]
    assert (task["approver_id"], task["delegated_from"]) == (people.ben.id, people.boss.id)
    assert done["events"][1]["detail"] == {"on_behalf_of": people.boss.id}


def test_delegation_rules(ws: Workspace, people: People) -> None:
    apply(ws, flow())
    with pytest.raises(ValidationError, match="yourself"):
        ws.approvals.set_delegation(people.boss, people.boss.id)
    with pytest.raises(ValidationError, match="future"):
        ws.approvals.set_delegation(people.boss, people.ann.id,
                                    datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(ValidationError, match="no active user"):
        ws.approvals.set_delegation(people.boss, people.out.id)
    # an expired delegation routes nothing; chains are followed, circles are not
    ws.approvals.set_delegation(people.boss, people.ann.id, datetime.now(UTC) + timedelta(days=1))
    d = ws.table("rapport_delegation")
    with ws.transaction() as c:
        c.execute(update(d).values(until=datetime.now(UTC) - timedelta(minutes=1)))
    assert ws.approvals.delegation(people.boss)["active"] is False
    assert task_of(_submit(ws, people), people.boss) is not None
    ws.approvals.set_delegation(people.boss, people.ann.id)
    ws.approvals.set_delegation(people.ann, people.ben.id)
    ws.approvals.set_delegation(people.ben, people.boss.id)
    [task] = _submit(ws, people)["steps"][0]["tasks"]
    assert (task["approver_id"], task["delegated_from"]) == (people.ben.id, people.boss.id)


def test_a_running_request_keeps_its_flow_version(ws: Workspace, people: People) -> None:
    apply(ws, flow(steps=[step("manager", {"manager_of": "owner"})]))
    request = _submit(ws, people)
    revision = ws.meta.revision
    apply(ws, flow(steps=[step("manager", {"manager_of": "owner"}),
                          step("finance", TEAM, mode="all")],
                   on_approve={"set": {"status": "'sent'"}}))
    assert ws.meta.revision == revision + 1
    old = ws.approvals.get(request["id"])
    assert [s["name"] for s in old["steps"]] == ["manager"] and old["revision"] == revision
    done = ws.approvals.approve(request["id"], people.boss)
    assert done["status"] == "approved" and _status(ws, request) == "approved"
    new = _submit(ws, people)
    assert [s["name"] for s in new["steps"]] == ["manager", "finance"]


def test_deleting_the_record_cancels_its_request(ws: Workspace, people: People) -> None:
    apply(ws, flow(steps=[step("finance", TEAM)]))
    request = _submit(ws, people)
    ws.records.delete("offer", request["record_id"], people.admin)
    gone = ws.approvals.get(request["id"])
    assert gone["status"] == "cancelled" and gone["record_title"] is None
    assert {t["status"] for t in gone["steps"][0]["tasks"]} == {"cancelled"}
    assert gone["events"][-1]["action"] == "cancelled"
    assert gone["events"][-1]["detail"] == {"reason": "record deleted"}
    assert ws.approvals.inbox_count(people.ann) == 0
    history = ws.records.history("offer", request["record_id"])
    assert history[0]["action"] == "approval" and history[0]["new_value"]["action"] == "cancelled"
    with pytest.raises(Conflict):
        ws.approvals.approve(request["id"], people.ann)


def test_events_and_history_trail(ws: Workspace, people: People) -> None:
    apply(ws, flow(steps=[step("finance", TEAM, mode="all")]))
    request = _submit(ws, people)
    ws.approvals.add_signer(request["id"], people.ann, people.boss.id)
    ws.approvals.reassign(request["id"], people.ben, people.admin.id)
    ws.approvals.approve(request["id"], people.ann, comment="ok")
    ws.approvals.reject(request["id"], people.cat, comment="no")
    done = ws.approvals.get(request["id"])
    assert actions(done) == ["submitted", "signer_added", "reassigned", "approved", "rejected",
                             "completed"]
    assert [e["user_id"] for e in done["events"]] == [
        people.rep.id, people.ann.id, people.ben.id, people.ann.id, people.cat.id, people.cat.id]
    history = [h["new_value"]["action"] for h in
               reversed(ws.records.history("offer", request["record_id"]))
               if h["action"] == "approval"]
    assert history == actions(done)
    assert [r["id"] for r in ws.approvals.for_record("offer", request["record_id"])] == \
        [request["id"]]
