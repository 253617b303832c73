"""Submitting a record for approval: entry conditions, choosing the flow, resolving the
first step's approvers, and what a submission records."""

from __future__ import annotations

import json

import pytest
from approvalkit import People, Recorder, actions, apply, flow, offer, step

from rapport.errors import Conflict, NotFound, ValidationError
from rapport.workspace import Workspace


def test_submit_creates_tasks_events_history_and_notifications(ws: Workspace,
                                                                people: People) -> None:
    apply(ws, flow())
    q = offer(ws, people.rep)
    request = ws.approvals.submit("offer", q["id"], people.rep, comment="please")
    assert request["status"] == "pending" and request["step"] == 0
    assert request["flow"] == "big_discount" and request["flow_label"] == "Big discount"
    assert request["submitted_by"] == people.rep.id and request["comment"] == "please"
    [manager] = request["steps"]
    assert manager["status"] == "pending" and manager["mode"] == "any"
    assert [(t["approver_id"], t["approver_name"], t["status"]) for t in manager["tasks"]] == \
        [(people.boss.id, "Bea Boss", "pending")]
    assert actions(request) == ["submitted"]
    assert request["events"][0]["comment"] == "please"
    assert request["can_recall"] is True
    history = [h for h in ws.records.history("offer", q["id"]) if h["action"] == "approval"]
    assert [(h["field"], h["new_value"]) for h in history] == [
        ("big_discount", {"action": "submitted", "request": request["id"], "step": "manager",
                          "comment": "please"})]
    [note] = ws.notifications.list(people.boss)
    assert note["kind"] == "approval_assigned" and note["request_id"] == request["id"]
    assert note["object"] == "offer" and note["record_id"] == q["id"]
    assert "Rex Rep" in note["message"] and "Big deal" in note["message"]
    assert ws.approvals.inbox_count(people.boss) == 1
    [item] = ws.approvals.inbox(people.boss)
    assert item["id"] == request["id"] and item["record_title"] == "Big deal"
    assert item["task_id"] == manager["tasks"][0]["id"] and item["step_name"] == "manager"
    assert ws.approvals.inbox(people.rep) == [] and ws.approvals.inbox_count(people.rep) == 0
    assert [r["id"] for r in ws.approvals.submitted_by(people.rep)] == [request["id"]]
    assert ws.approvals.pending("offer", q["id"])["id"] == request["id"]


def test_entry_condition_refuses_naming_the_flow_and_condition(ws: Workspace,
                                                                people: People) -> None:
    apply(ws, flow(label="Big discount review"))
    q = offer(ws, people.rep, discount=5)
    with pytest.raises(ValidationError) as exc:
        ws.approvals.submit("offer", q["id"], people.rep, flow="big_discount")
    assert exc.value.status == 422
    assert "Big discount review" in str(exc.value) and "discount > 20" in str(exc.value)
    assert ws.approvals.applicable_flows("offer", q) == []
    assert ws.approvals.for_record("offer", q["id"]) == []
    q = ws.records.update("offer", q["id"], {"discount": 30}, people.rep)
    assert [f.name for f in ws.approvals.applicable_flows("offer", q)] == ["big_discount"]


def test_choosing_the_flow(ws: Workspace, people: People) -> None:
    apply(ws, flow(), flow("huge_discount", when="discount > 50"), flow("any_offer", when=None))
    q = offer(ws, people.rep, discount=60)
    with pytest.raises(ValidationError) as exc:  # three flows apply
        ws.approvals.submit("offer", q["id"], people.rep)
    assert "any_offer" in str(exc.value) and "huge_discount" in str(exc.value)
    assert exc.value.problems[0].code == "ambiguous"
    request = ws.approvals.submit("offer", q["id"], people.rep, flow="huge_discount")
    assert request["flow"] == "huge_discount"


def test_the_only_applicable_flow_is_chosen_and_none_is_refused(ws: Workspace,
                                                                 people: People) -> None:
    apply(ws, flow(), flow("huge_discount", when="discount > 50"))
    q = offer(ws, people.rep, discount=30)
    assert ws.approvals.submit("offer", q["id"], people.rep)["flow"] == "big_discount"
    low = offer(ws, people.rep, discount=1)
    with pytest.raises(ValidationError) as exc:
        ws.approvals.submit("offer", low["id"], people.rep)
    assert "big_discount" in str(exc.value).lower().replace(" ", "_") \
        and "discount > 50" in str(exc.value)


def test_unknown_flows_records_and_objects_are_404(ws: Workspace, people: People) -> None:
    apply(ws, flow(), {"kind": "approval", "name": "account_check", "object": "account",
                       "steps": [{"name": "boss", "approvers": {"users": ["boss@example.com"]}}]})
    q = offer(ws, people.rep)
    for args, kwargs in [(("offer", q["id"]), {"flow": "nope"}),
                         (("offer", q["id"]), {"flow": "account_check"}),  # another object's
                         (("offer", 999), {}), (("nothing", 1), {})]:
        with pytest.raises(NotFound):
            ws.approvals.submit(*args, people.rep, **kwargs)
    lead = ws.records.create("lead", {"last_name": "Li", "company": "Acme"})
    with pytest.raises(NotFound, match="no approval flow"):
        ws.approvals.submit("lead", lead["id"], people.rep)
    with pytest.raises(NotFound):
        ws.approvals.get(12345)


def test_a_second_submission_while_pending_is_409(ws: Workspace, people: People) -> None:
    apply(ws, flow())
    q = offer(ws, people.rep)
    first = ws.approvals.submit("offer", q["id"], people.rep)
    with pytest.raises(Conflict) as exc:
        ws.approvals.submit("offer", q["id"], people.rep)
    assert exc.value.status == 409 and f"request {first['id']}" in str(exc.value)


def test_step_conditions_skip_steps_and_no_step_approves_at_once(ws: Workspace,
                                                                 people: People) -> None:
    apply(ws, flow(steps=[
        step("huge", {"users": ["admin@example.com"]}, when="discount > 50"),
        step("manager", {"manager_of": "owner"}, when="discount > 20 and discount <= 50")]))
    q = offer(ws, people.rep, discount=30)
    request = ws.approvals.submit("offer", q["id"], people.rep)
    assert request["step"] == 1 and request["step_name"] == "manager"
    assert [s["status"] for s in request["steps"]] == ["skipped", "pending"]
    assert actions(request) == ["submitted", "step_skipped"]
    assert request["events"][1]["step_name"] == "huge"
    assert request["events"][1]["detail"] == {"condition": "discount > 50"}

    apply(ws, flow(steps=[step("huge", {"users": ["admin@example.com"]}, when="discount > 90")]))
    q2 = offer(ws, people.rep, discount=30)
    done = ws.approvals.submit("offer", q2["id"], people.rep)
    assert done["status"] == "approved" and done["decided_at"] is not None
    assert [s["status"] for s in done["steps"]] == ["skipped"]
    assert actions(done) == ["submitted", "step_skipped", "completed"]
    assert ws.records.get("offer", q2["id"])["status"] == "approved"


@pytest.mark.parametrize("approvers, expected", [
    ({"users": ["ann@example.com", "BEN@example.com"]}, ["ann", "ben"]),
    ({"role": "manager"}, ["boss"]),
    ({"field": "owner"}, ["rep"]),
    ({"field": "reviewer"}, ["cat"]),
    ({"manager_of": "owner"}, ["boss"]),
    ({"manager_of": "submitter"}, ["boss"]),
    ({"team": "finance_team"}, ["ann", "ben", "cat"]),
])
def test_approver_kinds(ws: Workspace, people: People, approvers: dict,
                        expected: list[str]) -> None:
    apply(ws, flow(steps=[step("decide", approvers, mode="all")]))
    q = offer(ws, people.rep, reviewer=people.cat.id)
    request = ws.approvals.submit("offer", q["id"], people.rep)
    ids = [t["approver_id"] for t in request["steps"][0]["tasks"]]
    assert ids == [getattr(people, name).id for name in expected]


def test_manager_of_submitter_differs_from_owner(ws: Workspace, people: People) -> None:
    apply(ws, flow(steps=[step("decide", {"manager_of": "submitter"})]))
    q = offer(ws, people.rep, owner=people.boss.id)  # boss owns it, ann submits it
    request = ws.approvals.submit("offer", q["id"], people.ann)
    assert [t["approver_id"] for t in request["steps"][0]["tasks"]] == [people.boss.id]
    apply(ws, flow(steps=[step("decide", {"manager_of": "owner"})]))
    q2 = offer(ws, people.rep, owner=people.boss.id)
    with pytest.raises(ValidationError, match=r"Bea Boss .*has no manager"):
        ws.approvals.submit("offer", q2["id"], people.ann)


def test_a_team_deciding_by_quorum(ws: Workspace, people: People) -> None:
    apply(ws, flow(steps=[step("decide", {"team": "finance_team"}, mode="quorum", quorum=2)]))
    request = ws.approvals.submit("offer", offer(ws, people.rep)["id"], people.rep)
    [decide] = request["steps"]
    assert decide["mode"] == "quorum" and decide["quorum"] == 2 and len(decide["tasks"]) == 3


@pytest.mark.parametrize("approvers, message", [
    ({"users": ["ann@example.com", "ghost@example.com"]}, "no active user ghost@example.com"),
    ({"users": ["out@example.com"]}, "no active user out@example.com"),
    ({"role": "admin_of_nothing"}, "no active user has the role 'admin_of_nothing'"),
    ({"team": "nobody"}, "there is no team 'nobody'"),
    ({"manager_of": "owner"}, "Bea Boss (the record's owner) has no manager"),
    ({"field": "created_by"}, "the record's created_by is empty"),
])
def test_a_step_nobody_can_decide_is_refused(ws: Workspace, people: People, approvers: dict,
                                              message: str) -> None:
    apply(ws, flow(steps=[step("first_look", approvers, label="First look")]))
    q = ws.records.create("offer", {"name": "Q", "discount": 25, "owner": people.boss.id})
    with pytest.raises(ValidationError) as exc:
        ws.approvals.submit("offer", q["id"], people.rep)
    assert exc.value.status == 422
    text = str(exc.value)
    assert "step 'First look'" in text and "'Big discount'" in text and message in text, text
    assert ws.approvals.for_record("offer", q["id"]) == []  # nothing of it remains


def test_a_quorum_larger_than_the_approvers_is_refused(ws: Workspace, people: People) -> None:
    apply(ws, flow(steps=[step("board", {"team": "finance_team"}, mode="quorum", quorum=4)]))
    with pytest.raises(ValidationError, match="needs 4 approvals but has only 3"):
        ws.approvals.submit("offer", offer(ws, people.rep)["id"], people.rep)


def test_hooks_see_submissions_and_decisions(ws: Workspace, people: People,
                                             database_url: str) -> None:
    apply(ws, flow())
    recorder = Recorder()
    other = Workspace.open(ws.root, database_url, plugin_modules=[recorder])
    try:
        q = offer(other, people.rep)
        request = other.approvals.submit("offer", q["id"], people.rep)
        other.approvals.approve(request["id"], people.boss)
        assert recorder.calls == [("submitted", request["id"], "pending", None),
                                  ("decided", request["id"], "approved", "approved")]
    finally:
        other.close()


def test_the_stored_definition_is_the_flow_as_submitted(ws: Workspace, people: People) -> None:
    apply(ws, flow())
    request = ws.approvals.submit("offer", offer(ws, people.rep)["id"], people.rep)
    r = ws.table("rapport_approval_request")
    with ws.engine.connect() as c:
        row = c.execute(r.select().where(r.c.id == request["id"])).one()
    assert json.loads(row.definition)["steps"][0]["approvers"] == {"manager_of": "owner"}
    assert row.revision == ws.meta.revision and row.version == 1


def test_the_core_quote_flow_marks_the_quote_in_review(ws: Workspace, people: People) -> None:
    quote = ws.records.create("quote", {"name": "Discounted", "discount": 30}, people.rep)
    request = ws.approvals.submit("quote", quote["id"], people.rep)
    assert request["flow"] == "quote_discount"
    assert ws.records.get("quote", quote["id"])["status"] == "in_review"  # on_submit
    ws.approvals.recall(request["id"], people.rep)
    assert ws.records.get("quote", quote["id"])["status"] == "draft"      # on_recall
    request = ws.approvals.submit("quote", quote["id"], people.rep)
    ws.approvals.approve(request["id"], people.boss)                      # the rep's manager
    assert ws.records.get("quote", quote["id"])["status"] == "approved"
