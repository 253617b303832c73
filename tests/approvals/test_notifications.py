"""In-app notifications: written in a transaction, listed, counted and marked read by
their own user only."""

from __future__ import annotations

import pytest
from approvalkit import People

from rapport.workspace import Workspace


def test_notify_list_count_and_mark_read(ws: Workspace, people: People) -> None:
    notes = ws.notifications
    with ws.transaction() as c:
        assert notes.notify(c, [people.ann.id, None, people.ann.id, people.ben.id],
                            "stage_changed", "Big deal moved to Proposal", object="offer",
                            record_id=7, data={"to": "proposal"}) == 2
        assert notes.notify(c, [people.ann.id, people.boss.id], "approval_decided", "Done",
                            skip=people.boss.id) == 1
        assert notes.notify(c, [None], "stage_changed", "nobody") == 0
    first, second = notes.list(people.ann)
    assert (first["kind"], first["message"]) == ("approval_decided", "Done")
    assert second["data"] == {"to": "proposal"} and second["record_id"] == 7
    assert second["object"] == "offer" and second["read_at"] is None
    assert notes.unread_count(people.ann) == 2 and notes.unread_count(people.boss) == 0
    assert notes.mark_read(people.ben, [first["id"]]) == 0  # not Ben's
    assert notes.mark_read(people.ann, [second["id"]]) == 1
    assert [n["id"] for n in notes.list(people.ann, unread_only=True)] == [first["id"]]
    assert notes.mark_read(people.ann) == 1
    assert notes.unread_count(people.ann) == 0 and len(notes.list(people.ann)) == 2
    assert notes.unread_count(people.ben) == 1


def test_notifications_roll_back_with_their_transaction(ws: Workspace, people: People) -> None:
    with pytest.raises(RuntimeError), ws.transaction() as c:
        ws.notifications.notify(c, [people.ann.id], "stage_changed", "never")
        raise RuntimeError("the write failed")
    assert ws.notifications.list(people.ann) == []


def test_unknown_kinds_are_a_programming_error(ws: Workspace, people: People) -> None:
    with pytest.raises(ValueError, match="unknown notification kind"), ws.transaction() as c:
        ws.notifications.notify(c, [people.ann.id], "gossip", "psst")
