"""Reading approval requests: one request with its steps, tasks and audit trail, a
record's requests, a user's inbox. Two shapes: the full request (``get``) and the summary
lists show (``inbox``, ``submitted_by``, ``involving``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, func, or_, select

from ..errors import NotFound, PermissionDenied
from ..records.actor import Actor
from .approvers import user_names

if TYPE_CHECKING:
    from ..workspace import Workspace
    from .flow import Flow

LIST_LIMIT = 100


def request_id_of(value: Any) -> int:
    """A request id from a URL or a caller (404 for anything else)."""
    try:
        rid = int(value)
    except (TypeError, ValueError):
        raise NotFound(f"no approval request '{str(value)[:40]}'") from None
    if not 0 < rid < 2**63:
        raise NotFound(f"no approval request {rid}")
    return rid


class RequestViews:
    """The reading half of :class:`~rapport.approvals.Approvals`."""

    ws: Workspace

    def stored_flow(self, definition: str) -> Flow:
        raise NotImplementedError

    # -- public -----------------------------------------------------------------------------

    def get(self, request_id: Any, actor: Actor | None = None) -> dict[str, Any]:
        """The request with its steps, tasks and events. With ``actor``: 403 unless they
        are its submitter, one of its approvers or an admin; ``can_recall`` and
        ``can_decide`` then say what they may do."""
        r = self.ws.table("rapport_approval_request")
        with self.ws.read_engine.connect() as c:
            row = c.execute(select(r).where(r.c.id == request_id_of(request_id))).first()
            if row is None:
                raise NotFound(f"no approval request {request_id}")
            full = self._full(c, [dict(row._mapping)], actor)[0]
        if actor is not None and not self._may_read(full, actor):
            raise PermissionDenied(f"approval request {full['id']} is not yours to see")
        return full

    def for_record(self, object_name: str, record_id: int) -> list[dict[str, Any]]:
        """Every request of the record, newest first (full shape)."""
        r = self.ws.table("rapport_approval_request")
        return self._read_full(select(r).where(r.c.object == object_name,
                                               r.c.record_id == record_id).order_by(r.c.id.desc()))

    def pending(self, object_name: str, record_id: int) -> dict[str, Any] | None:
        """The record's pending request (full shape), or None."""
        r = self.ws.table("rapport_approval_request")
        found = self._read_full(select(r).where(r.c.object == object_name,
                                                r.c.record_id == record_id,
                                                r.c.status == "pending"))
        return found[0] if found else None

    def inbox(self, actor: Actor) -> list[dict[str, Any]]:
        """Pending requests waiting for the actor's decision (theirs, and their
        delegators'), newest first: summaries with ``task_id``."""
        if actor.id is None:
            return []
        r, t = self.ws.table("rapport_approval_request"), self.ws.table("rapport_approval_task")
        stmt = (select(r, t.c.id.label("task_id"), t.c.approver_id.label("task_approver"))
                .join(t, t.c.request_id == r.c.id)
                .where(t.c.status == "pending", r.c.status == "pending",
                       or_(t.c.approver_id == actor.id,
                           t.c.approver_id.in_(self._delegators(actor))))
                .order_by(r.c.id.desc(), (t.c.approver_id == actor.id).desc(), t.c.id))
        with self.ws.read_engine.connect() as c:
            rows: dict[int, dict[str, Any]] = {}
            for row in c.execute(stmt):
                rows.setdefault(row.id, dict(row._mapping))
            out = self._summaries(c, list(rows.values()))
        for item, row in zip(out, rows.values(), strict=True):
            item["task_id"] = row["task_id"]
            item["on_behalf_of"] = row["task_approver"] \
                if row["task_approver"] != actor.id else None
        return out

    def inbox_count(self, actor: Actor) -> int:
        """How many pending tasks wait for the actor (theirs and their delegators'): one
        COUNT over the (approver, status) index."""
        if actor.id is None:
            return 0
        t = self.ws.table("rapport_approval_task")
        with self.ws.read_engine.connect() as c:
            return int(c.scalar(select(func.count()).select_from(t).where(
                t.c.status == "pending", or_(t.c.approver_id == actor.id,
                                             t.c.approver_id.in_(self._delegators(actor))))) or 0)

    def submitted_by(self, actor: Actor, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
        """The actor's own requests, newest first (summaries)."""
        r = self.ws.table("rapport_approval_request")
        return self._read_summaries(select(r).where(r.c.submitted_by == actor.id)
                                    .order_by(r.c.id.desc()).limit(limit))

    def involving(self, actor: Actor, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
        """Requests the actor submitted or is an approver of (an admin: all), newest
        first (summaries)."""
        r, t = self.ws.table("rapport_approval_request"), self.ws.table("rapport_approval_task")
        stmt = select(r).order_by(r.c.id.desc()).limit(limit)
        if not (actor.id is None or actor.is_admin):
            theirs = select(t.c.request_id).where(or_(
                t.c.approver_id == actor.id, t.c.delegated_from == actor.id,
                t.c.added_by == actor.id))
            stmt = stmt.where(or_(r.c.submitted_by == actor.id, r.c.id.in_(theirs)))
        return self._read_summaries(stmt)

    # -- building ---------------------------------------------------------------------------

    def _delegators(self, actor: Actor) -> Select[Any]:
        """The users whose live delegation names the actor."""
        d = self.ws.table("rapport_delegation")
        return select(d.c.user_id).where(d.c.delegate_id == actor.id, or_(
            d.c.until.is_(None), d.c.until > datetime.now(UTC)))

    def _may_read(self, full: Mapping[str, Any], actor: Actor) -> bool:
        if actor.id is None or actor.is_admin or full["submitted_by"] == actor.id \
                or full["can_decide"]:  # a delegate standing in for an approver
            return True
        return any(actor.id in (t["approver_id"], t["delegated_from"], t["added_by"])
                   for s in full["steps"] for t in s["tasks"])

    def _read_full(self, stmt: Select[Any]) -> list[dict[str, Any]]:
        with self.ws.read_engine.connect() as c:
            return self._full(c, [dict(r._mapping) for r in c.execute(stmt)])

    def _read_summaries(self, stmt: Select[Any]) -> list[dict[str, Any]]:
        with self.ws.read_engine.connect() as c:
            return self._summaries(c, [dict(r._mapping) for r in c.execute(stmt)])

    def _titles(self, c: Connection, object_name: str, ids: Sequence[int]) -> dict[int, Any]:
        """{record id: its title} (the object's title field)."""
        obj = self.ws.meta.objects.get(object_name)
        if obj is None or not ids:
            return {}
        if obj.title == "id":
            return {i: str(i) for i in ids}
        t = self.ws.table(object_name)
        wanted = sorted(set(ids))
        out: dict[int, Any] = {}
        for start in range(0, len(wanted), 900):
            out.update(c.execute(select(t.c.id, t.c[obj.title]).where(
                t.c.id.in_(wanted[start:start + 900]))).all())
        return out

    def _summaries(self, c: Connection, reqs: list[dict[str, Any]],
                   names: Mapping[int, str] | None = None) -> list[dict[str, Any]]:
        by_object: dict[str, list[int]] = {}
        for req in reqs:
            by_object.setdefault(req["object"], []).append(req["record_id"])
        titles = {(o, i): v for o, ids in by_object.items()
                  for i, v in self._titles(c, o, ids).items()}
        if names is None:
            names = user_names(self.ws, c, [*(q["submitted_by"] for q in reqs),
                                            *(q["decided_by"] for q in reqs)])
        out = []
        for req in reqs:
            flow = self.stored_flow(req["definition"])
            obj = self.ws.meta.objects.get(req["object"])
            step = flow.steps[req["step"]] if req["step"] is not None \
                and 0 <= req["step"] < len(flow.steps) else None
            out.append({
                "id": req["id"], "flow": req["flow"], "flow_label": flow.display_label(),
                "object": req["object"],
                "object_label": obj.display_label() if obj else req["object"],
                "record_id": req["record_id"],
                "record_title": titles.get((req["object"], req["record_id"])),
                "status": req["status"], "step": req["step"],
                "step_name": step.name if step else None,
                "step_label": step.display_label() if step else None,
                "submitted_by": req["submitted_by"],
                "submitted_by_name": names.get(req["submitted_by"] or 0),
                "submitted_at": req["submitted_at"], "comment": req["comment"],
                "decided_by": req["decided_by"],
                "decided_by_name": names.get(req["decided_by"] or 0),
                "decided_at": req["decided_at"], "revision": req["revision"]})
        return out

    def _full(self, c: Connection, reqs: list[dict[str, Any]],
              actor: Actor | None = None) -> list[dict[str, Any]]:
        if not reqs:
            return []
        t, e = self.ws.table("rapport_approval_task"), self.ws.table("rapport_approval_event")
        ids = [q["id"] for q in reqs]
        tasks = [dict(r._mapping) for r in c.execute(
            select(t).where(t.c.request_id.in_(ids)).order_by(t.c.id))]
        events = [dict(r._mapping) for r in c.execute(
            select(e).where(e.c.request_id.in_(ids)).order_by(e.c.id))]
        names = user_names(self.ws, c, [
            *(q["submitted_by"] for q in reqs), *(q["decided_by"] for q in reqs),
            *(x["approver_id"] for x in tasks), *(x["delegated_from"] for x in tasks),
            *(x["user_id"] for x in events)])
        out = self._summaries(c, reqs, names)
        delegators: set[int] | None = None
        for item, req in zip(out, reqs, strict=True):
            flow = self.stored_flow(req["definition"])
            mine = [x for x in tasks if x["request_id"] == req["id"]]
            happened = [x for x in events if x["request_id"] == req["id"]]
            item["steps"] = [self._step(req, step, mine, happened, names)
                             for step in flow.steps]
            item["events"] = [{
                "id": x["id"], "at": x["at"], "user_id": x["user_id"],
                "user_name": names.get(x["user_id"] or 0), "action": x["action"],
                "step": x["step"],
                "step_name": flow.steps[x["step"]].name if x["step"] is not None
                and 0 <= x["step"] < len(flow.steps) else None,
                "comment": x["comment"],
                "detail": json.loads(x["detail"]) if x["detail"] else {}} for x in happened]
            pending = req["status"] == "pending"
            item["can_recall"] = pending and flow.allow_recall and (
                actor is None or actor.id is None or actor.is_admin
                or actor.id == req["submitted_by"])
            open_tasks = [x["approver_id"] for x in mine
                          if x["status"] == "pending" and x["step"] == req["step"]]
            can_decide = False
            if pending and actor is not None and actor.id is not None and open_tasks:
                if actor.id in open_tasks:
                    can_decide = True
                else:
                    if delegators is None:
                        delegators = set(c.scalars(self._delegators(actor)))
                    can_decide = bool(delegators & set(open_tasks))
            item["can_decide"] = can_decide
        return out

    @staticmethod
    def _step(req: Mapping[str, Any], step: Any, tasks: Sequence[Mapping[str, Any]],
              events: Sequence[Mapping[str, Any]], names: Mapping[int, str]) -> dict[str, Any]:
        own = [x for x in tasks if x["step"] == step.index]
        actions = {x["action"] for x in events if x["step"] == step.index}
        if "step_approved" in actions:
            status = "approved"
        elif "step_skipped" in actions:
            status = "skipped"
        elif any(x["status"] == "rejected" for x in own):
            status = "rejected"
        elif req["step"] == step.index and own:
            status = {"pending": "pending", "approved": "approved"}.get(req["status"], "cancelled")
        else:
            status = "waiting"
        return {
            "index": step.index, "name": step.name, "label": step.display_label(),
            "mode": step.mode, "quorum": step.quorum, "approvers": step.describe_approvers(),
            "status": status,
            "tasks": [{"id": x["id"], "approver_id": x["approver_id"],
                       "approver_name": names.get(x["approver_id"]),
                       "delegated_from": x["delegated_from"],
                       "delegated_from_name": names.get(x["delegated_from"] or 0),
                       "added_by": x["added_by"], "status": x["status"],
                       "comment": x["comment"], "decided_at": x["decided_at"]} for x in own]}
