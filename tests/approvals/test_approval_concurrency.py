"""Two processes answering the same request at the same moment: the request row's lock
and its compare-and-set let exactly one decision through; the other is told it came too
late (409)."""

from __future__ import annotations

import pytest
from approvalkit import People, actions, apply, approve_in_another_process, flow, offer, step

from databases import PG_URL, race
from rapport.workspace import Workspace


def _race(ws: Workspace, database_url: str, request_id: int,
          emails: list[str]) -> list[tuple[str, str]]:
    return race(approve_in_another_process,
                [(str(ws.root), database_url, request_id, email) for email in emails])


def _check_one_decision(ws: Workspace, people: People, database_url: str) -> None:
    apply(ws, flow(steps=[step("finance", {"team": "finance_team"}, mode="any")]))
    request = ws.approvals.submit("offer", offer(ws, people.rep)["id"], people.rep)
    outcomes = _race(ws, database_url, request["id"], ["ann@example.com", "ben@example.com"])
    assert sorted(kind for kind, _ in outcomes) == ["conflict", "ok"], outcomes
    winner = next(email for kind, email in outcomes if kind == "ok")
    loser_message = next(message for kind, message in outcomes if kind == "conflict")
    winner_name = {"ann@example.com": "Ann Approver", "ben@example.com": "Ben Approver"}[winner]
    assert f"approved by {winner_name}" in loser_message, loser_message
    done = ws.approvals.get(request["id"])
    assert done["status"] == "approved" and done["decided_by_name"] == winner_name
    assert actions(done).count("approved") == 1 and actions(done).count("completed") == 1
    approved = [t for t in done["steps"][0]["tasks"] if t["status"] == "approved"]
    assert [t["comment"] for t in approved] == [f"yes from {winner}"]
    assert ws.records.get("offer", request["record_id"])["status"] == "approved"
    decided = [n for n in ws.notifications.list(people.rep) if n["kind"] == "approval_decided"]
    assert len(decided) == 1


@pytest.mark.postgres_only
def test_two_approvers_at_once_on_postgresql(ws: Workspace, people: People,
                                             database_url: str) -> None:
    _check_one_decision(ws, people, database_url)


@pytest.mark.skipif(bool(PG_URL), reason="the SQLite run of the same race")
def test_two_approvers_at_once_on_sqlite(ws: Workspace, people: People,
                                         database_url: str) -> None:
    # the writers queue for SQLite's write lock (BEGIN IMMEDIATE) instead of the row's
    _check_one_decision(ws, people, database_url)
