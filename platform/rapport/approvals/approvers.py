"""Who decides a step: the approvers a step names (users, a role, a user field of the
record, a manager, a team), and the delegates standing in for them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, or_, select

from ..errors import FieldProblem, ValidationError
from .flow import Flow, Step

if TYPE_CHECKING:
    from ..workspace import Workspace

#: How many delegations in a row a task follows (A to B, B to C...).
MAX_HOPS = 5


def team_key(name: str) -> str:
    """A team's name as flows refer to it: lower case, other characters as ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _active(t: Any) -> Any:
    return or_(t.c.active.is_(True), t.c.active.is_(None))


def active_users(ws: Workspace, c: Connection, ids: Iterable[int]) -> set[int]:
    """Which of these user ids are active users."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return set()
    u = ws.table("user")
    return set(c.scalars(select(u.c.id).where(u.c.id.in_(wanted), _active(u))))


def user_names(ws: Workspace, c: Connection, ids: Iterable[int | None]) -> dict[int, str]:
    """{id: full name (or email)} of these users."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    u = ws.table("user")
    return {r.id: r.full_name or r.email for r in c.execute(
        select(u.c.id, u.c.full_name, u.c.email).where(u.c.id.in_(wanted)))}


def find_user_id(ws: Workspace, c: Connection, ref: Any) -> int | None:
    """An active user's id from an id or an email; None when there is none."""
    u = ws.table("user")
    if isinstance(ref, bool) or (isinstance(ref, str) and "\x00" in ref):
        return None
    if isinstance(ref, int):
        if not 0 < ref < 2**63:
            return None
        stmt = select(u.c.id).where(u.c.id == ref, _active(u))
    elif isinstance(ref, str) and "@" in ref:
        stmt = select(u.c.id).where(func.lower(u.c.email) == ref.strip().lower(), _active(u))
    elif isinstance(ref, str) and ref.strip().isdigit() and len(ref.strip()) < 19:
        stmt = select(u.c.id).where(u.c.id == int(ref), _active(u))
    else:
        return None
    return c.scalar(stmt)


class Resolver:
    """Resolves the approvers of one flow's steps for one record."""

    def __init__(self, ws: Workspace, c: Connection, flow: Flow, record: Mapping[str, Any],
                 get: Callable[[str], Any], submitter: int | None):
        self.ws = ws
        self.c = c
        self.flow = flow
        self.record = record
        self.get = get
        self.submitter = submitter

    def refuse(self, step: Step, why: str) -> ValidationError:
        return ValidationError([FieldProblem(None, "no_approver", (
            f"step '{step.display_label()}' of the approval flow '{self.flow.display_label()}' "
            f"has no approver: {why}"))])

    def approvers(self, step: Step) -> list[int]:
        """The step's approvers (user ids, in a stable order); refuses a step nobody
        can decide, naming why."""
        u = self.ws.table("user")
        kind, value = step.approver_kind, step.approver_value
        c = self.c
        if kind == "users":
            wanted = [e.strip().lower() for e in value]
            rows = {r.email.lower(): r.id for r in c.execute(
                select(u.c.id, u.c.email).where(func.lower(u.c.email).in_(wanted), _active(u)))}
            missing = [e for e in wanted if e not in rows]
            if missing:
                raise self.refuse(step, f"no active user {', '.join(missing)}")
            return [rows[e] for e in wanted]
        if kind == "role":
            ids = list(c.scalars(select(u.c.id).where(u.c.role == value, _active(u))
                                 .order_by(u.c.id)))
            if not ids:
                raise self.refuse(step, f"no active user has the role '{value}'")
            return ids
        if kind == "team":
            return self._team(step, value)
        if kind == "manager_of":
            person = self.submitter if value == "submitter" else self.get(value)
            whose = "the submitter" if value == "submitter" else f"the record's {value}"
            if person is None:
                raise self.refuse(step, f"{whose} is empty")
            row = c.execute(select(u.c.manager, u.c.full_name, u.c.email)
                            .where(u.c.id == person)).first()
            if row is None or row.manager is None:
                name = (row.full_name or row.email) if row else f"user {person}"
                raise self.refuse(step, f"{name} ({whose}) has no manager")
            return self._one(step, row.manager, f"the manager of {whose}")
        # "field": the user in a user field of the record
        uid = self.get(value)
        if uid is None:
            raise self.refuse(step, f"the record's {value} is empty")
        return self._one(step, uid, f"the record's {value}")

    def _one(self, step: Step, uid: Any, what: str) -> list[int]:
        if not isinstance(uid, int) or uid not in active_users(self.ws, self.c, [uid]):
            raise self.refuse(step, f"{what} (user {uid}) is not an active user")
        return [uid]

    def _team(self, step: Step, value: Any) -> list[int]:
        t, u = self.ws.table("team"), self.ws.table("user")
        key = str(value)
        team_id = next((r.id for r in self.c.execute(select(t.c.id, t.c.name))
                        if team_key(r.name or "") == key or str(r.id) == key), None)
        if team_id is None:
            raise self.refuse(step, f"there is no team '{key}'")
        ids = list(self.c.scalars(select(u.c.id).where(u.c.team == team_id, _active(u))
                                  .order_by(u.c.id)))
        if not ids:
            raise self.refuse(step, f"the team '{key}' has no active members")
        return ids


def delegates(ws: Workspace, c: Connection, ids: Iterable[int],
              now: datetime) -> dict[int, int]:
    """{approver: the active user standing in for them} for the approvers with a live
    delegation, followed from delegate to delegate (never round in a circle)."""
    d, u = ws.table("rapport_delegation"), ws.table("user")
    holder = {i: i for i in ids}
    seen = {i: {i} for i in holder}
    moving = set(holder)
    for _ in range(MAX_HOPS):
        if not moving:
            break
        found = dict(c.execute(
            select(d.c.user_id, d.c.delegate_id).join(u, u.c.id == d.c.delegate_id)
            .where(d.c.user_id.in_(sorted({holder[a] for a in moving})),
                   or_(d.c.until.is_(None), d.c.until > now), _active(u))).all())
        moved = set()
        for a in moving:
            nxt = found.get(holder[a])
            if nxt is not None and nxt not in seen[a]:
                seen[a].add(nxt)
                holder[a] = nxt
                moved.add(a)
        moving = moved
    return {a: h for a, h in holder.items() if h != a}
