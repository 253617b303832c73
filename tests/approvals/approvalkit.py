"""Shared pieces of the approval tests: the people of a small sales team, flow
definitions, and the worker functions child processes run (importable by name for
'spawn')."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rapport import hookimpl
from rapport.auth.users import actor_of, create_user, find_user
from rapport.errors import Conflict
from rapport.records.actor import Actor
from rapport.workspace import Workspace

#: The object the tests approve (their own, so flows the core objects ship cannot interfere).
OFFER: dict[str, Any] = {
    "name": "offer", "title_field": "name",
    "fields": [
        {"name": "name", "type": "text", "required": True},
        {"name": "discount", "type": "percent", "min": 0, "max": 100},
        {"name": "amount", "type": "currency"},
        {"name": "status", "type": "picklist", "default": "draft",
         "options": ["draft", "in_review", "approved", "rejected", "sent"]},
        {"name": "reviewer", "type": "lookup", "target": "user"},
        {"name": "description", "type": "textarea"},
    ],
}


@dataclass
class People:
    """admin; boss (a manager); rep (a member reporting to boss); ann, ben and cat (members
    of the team "Finance Team", reporting to boss); out (an inactive member)."""

    admin: Actor
    boss: Actor
    rep: Actor
    ann: Actor
    ben: Actor
    cat: Actor
    out: Actor
    team_id: int


def make_people(ws: Workspace) -> People:
    """The people, and the ``offer`` object they work on."""
    apply(ws, OFFER)
    admin = create_user(ws, "admin@example.com", "admin", full_name="Ada Admin")
    boss = create_user(ws, "boss@example.com", "manager", full_name="Bea Boss")
    team = ws.records.create("team", {"name": "Finance Team"})
    users = {}
    for email, name in [("rep@example.com", "Rex Rep"), ("ann@example.com", "Ann Approver"),
                        ("ben@example.com", "Ben Approver"), ("cat@example.com", "Cat Approver")]:
        user = create_user(ws, email, "member", full_name=name)
        changes: dict[str, Any] = {"manager": boss["id"]}
        if email != "rep@example.com":
            changes["team"] = team["id"]
        users[email.split("@")[0]] = ws.records.update("user", user["id"], changes)
    out = create_user(ws, "out@example.com", "member", full_name="Oscar Out")
    out = ws.records.update("user", out["id"], {"active": False})
    return People(actor_of(admin), actor_of(boss), actor_of(users["rep"]),
                  actor_of(users["ann"]), actor_of(users["ben"]), actor_of(users["cat"]),
                  actor_of(out), team["id"])


def flow(name: str = "big_discount", steps: list[dict[str, Any]] | None = None,
         **extra: Any) -> dict[str, Any]:
    """An approval flow on offers, by default: discount over 20 needs the owner's manager,
    and sets the offer's status on each outcome. A key given as None is left out."""
    data = {"kind": "approval", "name": name, "object": "offer", "when": "discount > 20",
            "steps": steps or [{"name": "manager", "approvers": {"manager_of": "owner"}}],
            "on_approve": {"set": {"status": "'approved'"}},
            "on_reject": {"set": {"status": "'rejected'"}},
            **extra}
    return {k: v for k, v in data.items() if v is not None}  # None: leave the key out


def step(name: str, approvers: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "approvers": approvers, **extra}


def apply(ws: Workspace, *definitions: dict[str, Any]) -> None:
    ws.apply(ws.documents_from(list(definitions)))


def offer(ws: Workspace, actor: Actor, discount: float = 25, **values: Any) -> dict[str, Any]:
    return ws.records.create("offer", {"name": "Big deal", "discount": discount, **values},
                             actor)


def task_of(request: dict[str, Any], user: Actor) -> dict[str, Any] | None:
    return next((t for s in request["steps"] for t in s["tasks"]
                 if t["approver_id"] == user.id), None)


def actions(request: dict[str, Any]) -> list[str]:
    return [e["action"] for e in request["events"]]


class Recorder:
    """A plugin keeping the approval hooks' calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str | None, str | None]] = []

    @hookimpl
    def approval_submitted(self, request: dict[str, Any], user: Any) -> None:
        self.calls.append(("submitted", request["id"], request["status"], None))

    @hookimpl
    def approval_decided(self, request: dict[str, Any], decision: str, user: Any) -> None:
        self.calls.append(("decided", request["id"], request["status"], decision))


# -- work done in other processes (multiprocessing, 'spawn') ------------------------------------


class SlowDecisions:
    """Makes the winning decision hold its transaction a while, so the other process
    surely waits for it."""

    @hookimpl
    def approval_decided(self) -> None:
        time.sleep(0.5)


def approve_in_another_process(root: str, url: str, request_id: int, email: str, barrier: Any,
                               results: Any) -> None:
    """Open the workspace, wait for the other process, approve; put ("ok", email),
    ("conflict", message) or ("error", text) on ``results``."""
    ws = Workspace.open(root, url, plugin_modules=[SlowDecisions()])
    try:
        user = find_user(ws, email)
        assert user is not None
        actor = actor_of(user)
        ws.approvals.get(request_id)  # metadata loaded, connections open
        barrier.wait(timeout=120)
        try:
            ws.approvals.approve(request_id, actor, comment=f"yes from {email}")
            results.put(("ok", email))
        except Conflict as exc:
            results.put(("conflict", str(exc)))
        except Exception as exc:
            results.put(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        ws.close()
