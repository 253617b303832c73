"""Stage workflows: the record service enforces the moves, whatever writes the record."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from accesskit import team_user
from rapport import hookimpl
from rapport.auth.users import actor_of
from rapport.errors import MetadataError, NotFound, ValidationError
from rapport.records.actor import Actor
from rapport.workspace import Workspace

TICKET = {
    "name": "ticket", "title_field": "title",
    "fields": [
        {"name": "title", "type": "text", "required": True},
        {"name": "status", "type": "picklist", "default": "new",
         "options": ["new", "triage", "doing", "review", "done", "dropped"]},
        {"name": "estimate", "type": "integer"},
        {"name": "resolution", "type": "text"},
        {"name": "probability", "type": "percent"},
        {"name": "closed_on", "type": "date"},
    ],
}

FLOW = {
    "kind": "workflow", "name": "ticket_flow", "object": "ticket", "field": "status",
    "label": {"en": "Ticket flow", "zh-CN": "工单流程"},
    "allow_backward": False,
    "stages": [
        {"name": "new", "probability": 0},
        {"name": "triage", "probability": 10},
        {"name": "doing", "probability": 40, "required": ["estimate"],
         "guidance": {"en": "Work on it", "zh-CN": "处理中"}},
        {"name": "review", "probability": 80},
        {"name": "done", "probability": 100, "category": "won"},
        {"name": "dropped", "probability": 0, "category": "lost"},
    ],
    "transitions": [
        {"from": "new", "to": "triage"},
        {"from": "triage", "to": "doing", "when": "estimate <= 8"},
        {"from": "doing", "to": "review"},
        {"from": "review", "to": "done", "roles": ["manager"], "required": ["resolution"],
         "set": {"closed_on": "today()"}},
        {"from": "review", "to": "doing"},
        {"from": "*", "to": "dropped", "set": {"resolution": "'dropped'"}},
    ],
}


@pytest.fixture
def tws(ws: Workspace) -> Workspace:
    ws.apply(ws.documents_from([TICKET, FLOW]))
    return ws


@pytest.fixture
def member(tws: Workspace) -> Actor:
    return actor_of(team_user(tws, "mia@example.com", "member"))


@pytest.fixture
def manager(tws: Workspace) -> Actor:
    """The manager of mia's team: moves her tickets."""
    return actor_of(team_user(tws, "max@example.com", "manager"))


def codes(exc: ValidationError) -> dict[str | None, str]:
    return {p.field: p.code for p in exc.problems}


def move(ws: Workspace, rid: int, to: str, actor: Actor, **more: Any) -> dict[str, Any]:
    return ws.records.update("ticket", rid, {"status": to, **more}, actor)


def test_allowed_moves_go_through_and_set_what_the_stage_sets(tws: Workspace, member: Actor,
                                                              manager: Actor) -> None:
    t = tws.records.create("ticket", {"title": "Fix it"}, member)
    assert t["status"] == "new" and t["probability"] == 0
    t = move(tws, t["id"], "triage", member)
    assert t["probability"] == 10
    t = move(tws, t["id"], "doing", member, estimate=3)
    assert t["probability"] == 40
    t = move(tws, t["id"], "review", member)
    t = move(tws, t["id"], "done", manager, resolution="patched")
    assert t["status"] == "done" and t["probability"] == 100
    assert t["closed_on"] is not None  # the transition's set, a formula


def test_a_move_no_transition_allows_is_refused_and_changes_nothing(tws: Workspace,
                                                                    member: Actor) -> None:
    t = tws.records.create("ticket", {"title": "Fix it"}, member)
    with pytest.raises(ValidationError) as info:
        move(tws, t["id"], "review", member)
    assert codes(info.value) == {"status": "transition_not_allowed"}
    assert str(info.value) == "status: Ticket flow: cannot move from New to Review " \
                              "(no transition allows it)"
    stored = tws.records.get("ticket", t["id"])
    assert stored["status"] == "new" and stored["version"] == 1
    assert [h["stage"] for h in tws.workflows.history("ticket", t["id"], stored["updated_at"])] \
        == ["new"]


def test_the_condition_the_role_and_the_required_fields_each_name_the_rule(
        tws: Workspace, member: Actor, manager: Actor) -> None:
    t = tws.records.create("ticket", {"title": "Big"}, member)
    move(tws, t["id"], "triage", member)
    with pytest.raises(ValidationError) as info:
        move(tws, t["id"], "doing", member, estimate=20)
    assert codes(info.value) == {"status": "transition_condition"}
    assert "needs estimate <= 8" in str(info.value)
    with pytest.raises(ValidationError) as info:
        move(tws, t["id"], "doing", member)  # no estimate: the condition is false too
    assert codes(info.value) == {"status": "transition_condition"}
    move(tws, t["id"], "doing", member, estimate=5)
    move(tws, t["id"], "review", member)
    with pytest.raises(ValidationError) as info:
        move(tws, t["id"], "done", member, resolution="ok")
    assert codes(info.value) == {"status": "transition_role"}
    assert "only manager may move from Review to Done" in str(info.value)
    with pytest.raises(ValidationError) as info:
        move(tws, t["id"], "done", manager)
    assert codes(info.value) == {"resolution": "stage_required"}
    assert "Resolution is required to enter Done" in str(info.value)
    assert tws.records.get("ticket", t["id"])["status"] == "review"


def test_a_stage_requires_its_fields_on_entering_and_on_create(tws: Workspace,
                                                               member: Actor) -> None:
    with pytest.raises(ValidationError) as info:
        tws.records.create("ticket", {"title": "Straight in", "status": "doing"}, member)
    assert codes(info.value) == {"estimate": "stage_required"}
    t = tws.records.create("ticket", {"title": "Straight in", "status": "doing", "estimate": 2,
                                      "probability": 55}, member)
    assert t["probability"] == 55  # given on create: kept
    # the requirement is for entering: clearing it later is the business of validation rules
    assert tws.records.update("ticket", t["id"], {"estimate": None}, member)["estimate"] is None


def test_backward_moves_need_allow_backward_or_a_transition(tws: Workspace, member: Actor) -> None:
    t = tws.records.create("ticket", {"title": "Back"}, member)
    move(tws, t["id"], "triage", member)
    with pytest.raises(ValidationError) as info:
        move(tws, t["id"], "new", member)
    assert "cannot move back from Triage to New" in str(info.value)
    move(tws, t["id"], "doing", member, estimate=1)
    move(tws, t["id"], "review", member)
    assert move(tws, t["id"], "doing", member)["status"] == "doing"  # an explicit transition
    tws.apply(tws.documents_from([{**FLOW, "allow_backward": True}]))
    assert move(tws, t["id"], "triage", member)["status"] == "triage"


def test_any_stage_transition_and_its_set(tws: Workspace, member: Actor) -> None:
    for start in ("new", "review"):
        t = tws.records.create("ticket", {"title": start, "status": start}, member)
        t = move(tws, t["id"], "dropped", member)
        assert t["resolution"] == "dropped" and t["probability"] == 0


def test_without_transitions_every_forward_move_is_allowed(tws: Workspace, member: Actor) -> None:
    tws.apply(tws.documents_from([{**FLOW, "transitions": []}]))
    t = tws.records.create("ticket", {"title": "Free"}, member)
    assert move(tws, t["id"], "review", member)["status"] == "review"
    with pytest.raises(ValidationError):
        move(tws, t["id"], "new", member)  # allow_backward false


def test_stage_history_and_time_in_stage(tws: Workspace, member: Actor) -> None:
    t = tws.records.create("ticket", {"title": "Timed"}, member)
    h = tws.table_of("rapport_stage_history")
    with tws.transaction() as c:  # pretend it was created three days ago
        c.execute(update(h).values(entered_at=t["created_at"] - timedelta(days=3)))
    move(tws, t["id"], "triage", member)
    now = tws.records.get("ticket", t["id"])["updated_at"]
    history = tws.workflows.history("ticket", t["id"], now + timedelta(hours=2))
    assert [(x["stage"], x["from_stage"]) for x in history] == [("new", None), ("triage", "new")]
    assert history[0]["left_at"] is not None and history[1]["left_at"] is None
    assert 3 * 86400 - 5 <= history[0]["seconds"] <= 3 * 86400 + 5
    assert 7200 - 5 <= history[1]["seconds"] <= 7200 + 5
    assert history[1]["user_id"] == member.id
    path = tws.workflows.path("ticket", tws.records.get("ticket", t["id"]), member)
    assert path["current"] == "triage" and path["seconds_in_stage"] is not None
    # the history is plain SQL for reports: one open row per record
    with tws.engine.connect() as c:
        open_rows = c.execute(select(h.c.stage).where(h.c.record_id == t["id"],
                                                      h.c.left_at.is_(None))).scalars().all()
    assert open_rows == ["triage"]


def test_bulk_create_and_import_enter_the_first_stage(tws: Workspace, member: Actor,
                                                      tmp_path: Path) -> None:
    result = tws.records.create_many("ticket", [{"title": f"T{i}"} for i in range(5)]
                                     + [{"title": "bad", "status": "doing"}], member,
                                     skip_invalid=True)
    assert result.created == 5 and [line for line, _p in result.errors] == [5]
    h = tws.table_of("rapport_stage_history")
    with tws.engine.connect() as c:
        rows = c.execute(select(h.c.record_id, h.c.stage).where(h.c.object == "ticket")).all()
    assert sorted(rows) == sorted((i, "new") for i in result.ids)


def test_path_shows_every_stage_with_the_verdict(tws: Workspace, member: Actor) -> None:
    t = tws.records.create("ticket", {"title": "Path"}, member)
    t = move(tws, t["id"], "triage", member)
    path = tws.workflows.path("ticket", t, member)
    states = {s["name"]: (s["state"], s["allowed"]) for s in path["stages"]}
    assert states["new"] == ("done", False)
    assert states["triage"] == ("current", False)
    assert states["doing"] == ("ahead", False)      # estimate is blank: the condition fails
    assert states["dropped"] == ("ahead", True)
    doing = next(s for s in path["stages"] if s["name"] == "doing")
    assert "estimate <= 8" in doing["reason"]
    zh = tws.workflows.path("ticket", t, Actor(member.id, member.email, "member", locale="zh-CN"))
    review = next(s for s in zh["stages"] if s["name"] == "review")
    assert review["reason"] == "工单流程：不能从“Triage”转到“Review”（没有允许的转换）"


class Spy:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, str]] = []

    @hookimpl
    def stage_before_transition(self, object_name: str, record: dict[str, Any],
                                from_stage: str | None, to_stage: str, user: Any) -> None:
        if record.get("title") == "frozen":
            raise ValidationError("frozen tickets stay put", field="status")
        self.calls.append(("before", from_stage, to_stage))

    @hookimpl
    def stage_after_transition(self, object_name: str, record: dict[str, Any],
                               from_stage: str | None, to_stage: str, user: Any) -> None:
        self.calls.append(("after", from_stage, to_stage))


@pytest.fixture
def spied(tmp_path: Path, database_url: str) -> Iterator[tuple[Workspace, Spy]]:
    spy = Spy()
    ws = Workspace.init(tmp_path / "spied", database_url, plugin_modules=[spy])
    ws.apply(ws.documents_from([TICKET, FLOW]))
    yield ws, spy
    ws.close()


def test_plugins_see_and_may_refuse_transitions(spied: tuple[Workspace, Spy]) -> None:
    ws, spy = spied
    t = ws.records.create("ticket", {"title": "watched"})
    move(ws, t["id"], "triage", Actor(None))
    assert spy.calls == [("before", "new", "triage"), ("after", "new", "triage")]
    frozen = ws.records.create("ticket", {"title": "frozen"})
    with pytest.raises(ValidationError, match="frozen tickets stay put"):
        move(ws, frozen["id"], "triage", Actor(None))
    stored = ws.records.get("ticket", frozen["id"])
    assert stored["status"] == "new" and stored["version"] == 1


def test_transition_by_name_and_unknown_workflows(tws: Workspace, member: Actor) -> None:
    t = tws.records.create("ticket", {"title": "API"}, member)
    assert tws.workflows.transition("ticket", t["id"], "triage", member)["status"] == "triage"
    with pytest.raises(NotFound):
        tws.workflows.transition("account", 1, "x", member)
    with pytest.raises(NotFound):
        tws.workflows.transition("ticket", t["id"], "triage", member, field="title")


def test_a_workflow_must_fit_its_object(ws: Workspace) -> None:
    ws.apply(ws.documents_from([TICKET]))
    bad = {**FLOW, "stages": [*FLOW["stages"], {"name": "archived"}],
           "transitions": [{"from": "limbo", "to": "new", "set": {"nope": "1"}}]}
    with pytest.raises(MetadataError) as info:
        ws.apply(ws.documents_from([bad]))
    text = str(info.value)
    assert "stage 'archived' is not an option of ticket.status" in text
    assert "/transitions/0/from: unknown stage 'limbo'" in text
    assert "/transitions/0/set/nope: unknown field 'nope'" in text


def test_the_standard_sales_workflow(ws: Workspace) -> None:
    rep = actor_of(team_user(ws, "rep@example.com", "member"))
    boss = actor_of(team_user(ws, "boss@example.com", "manager"))  # the rep's team
    opp = ws.records.create("opportunity", {"name": "Deal"}, rep)
    assert opp["probability"] == 10
    steps = [("qualification", {}, 20), ("proposal", {"amount": 900, "close_date": "2031-01-01"}, 50)]
    for stage, more, probability in steps:
        opp = ws.records.update("opportunity", opp["id"], {"stage": stage, **more}, rep)
        assert opp["probability"] == probability
    with pytest.raises(ValidationError) as info:
        ws.records.update("opportunity", opp["id"], {"stage": "closed_won"}, rep)
    assert codes(info.value) == {"stage": "transition_role"}
    won = ws.records.update("opportunity", opp["id"], {"stage": "closed_won"}, boss)
    assert won["probability"] == 100 and won["expected_revenue"] == 900


def test_stage_refusals_speak_the_users_language(tws: Workspace, member: Actor) -> None:
    t = tws.records.create("ticket", {"title": "语言"}, member)
    zh = Actor(member.id, member.email, "member", locale="zh-CN")
    with pytest.raises(ValidationError) as info:
        tws.records.create("ticket", {"title": "x", "status": "doing"}, zh)
    assert info.value.problems[0].message == "进入“Doing”前必须填写Estimate"
    with pytest.raises(ValidationError) as info:
        move(tws, t["id"], "done", zh)
    assert "工单流程" in info.value.problems[0].message




def test_the_owner_hears_of_a_move_someone_else_made(tws: Workspace, member: Actor,
                                                     manager: Actor) -> None:
    t = tws.records.create("ticket", {"title": "Mine"}, member)
    move(tws, t["id"], "triage", member)  # my own move: no news for me
    assert tws.notifications.list(member) == []
    move(tws, t["id"], "dropped", manager)
    [note] = tws.notifications.list(member)
    assert note["kind"] == "stage_changed" and note["record_id"] == t["id"]
    assert note["message"] == "max moved “Mine” from Triage to Dropped"
    assert note["data"]["to"] == "dropped"
    assert tws.notifications.list(manager) == []


def test_records_older_than_the_workflow_enter_it_as_of_their_last_change(ws: Workspace) -> None:
    ws.apply(ws.documents_from([TICKET]))
    old = [ws.records.create("ticket", {"title": f"Old {i}", "status": s})
           for i, s in enumerate(["new", "review", "done"])]
    ws.records.create("ticket", {"title": "No status", "status": None})
    ws.apply(ws.documents_from([FLOW]))
    now = max(r["updated_at"] for r in old) + timedelta(hours=1)
    entered = {r["id"]: row for r in old for row in ws.workflows.history("ticket", r["id"], now)}
    assert {i: (row["stage"], row["entered_at"]) for i, row in entered.items()} == {
        r["id"]: (r["status"], r["updated_at"]) for r in old}
    ws.apply(ws.documents_from([{**FLOW, "label": "Renamed"}]))  # applied again: no duplicates
    assert sum(len(ws.workflows.history("ticket", r["id"], now)) for r in old) == 3
