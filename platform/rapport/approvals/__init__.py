"""Approval flows: requests, steps, approvers, decisions, locks and notifications.

A request runs the flow as it was when it was submitted (its definition is stored with
it). Every action is one transaction: the request row is locked (and updated with a
compare-and-set on its version), the tasks, the audit trail, the record's history, the
notifications and the flow's field updates are written together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, FieldProblem, NotFound, PermissionDenied, ValidationError
from ..formulas import Formula
from ..records.actor import Actor
from .approvers import Resolver, delegates, find_user_id, user_names
from .flow import Flow, Step, build_flow, evaluate_set, holds
from .notifications import Notifications
from .views import RequestViews, request_id_of

if TYPE_CHECKING:
    from ..meta.model import ObjectDef
    from ..workspace import Workspace

STATUSES = ("pending", "approved", "rejected", "recalled", "cancelled")
#: conn.info key set while the engine applies its own field updates (no auto-submission)
APPLYING = "rapport_approvals_applying"
MAX_COMMENT = 4000


class Locked(Conflict):
    """The record is locked by a pending approval request."""

    code = "locked"


class AlreadyDecided(Conflict):
    code = "already_decided"


def now_utc() -> datetime:
    return datetime.now(UTC)


def clean_comment(comment: Any) -> str | None:
    if comment is None:
        return None
    if not isinstance(comment, str):
        raise ValidationError("a comment must be text", field="comment")
    if "\x00" in comment:
        raise ValidationError("a comment must not contain NUL characters", field="comment")
    if len(comment) > MAX_COMMENT:
        raise ValidationError(f"a comment has at most {MAX_COMMENT} characters", field="comment")
    return comment.strip() or None


@dataclass(frozen=True)
class _Catalog:
    """The current flows, built once per metadata revision."""

    revision: int
    flows: Mapping[str, Flow]
    by_object: Mapping[str, tuple[Flow, ...]]
    auto: Mapping[str, tuple[Flow, ...]]
    #: object -> its master-detail fields whose master object has a locking flow
    masters: Mapping[str, tuple[str, ...]]


class Approvals(RequestViews):
    """The approval engine of one workspace (``ws.approvals``).

    The record service calls ``check_unlocked`` before every update and delete,
    ``after_save`` / ``after_create`` after writes (automatic submission) and
    ``on_delete`` when a record goes. Reading (``get``, ``inbox``...) is in
    :class:`~rapport.approvals.views.RequestViews`."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self._catalog: _Catalog | None = None
        self._stored: dict[str, Flow] = {}

    # -- definitions --------------------------------------------------------------------

    def _flows(self) -> _Catalog:
        meta = self.ws.meta
        cat = self._catalog
        if cat is None or cat.revision != meta.revision:
            flows: dict[str, Flow] = {}
            for name, d in meta.approvals.items():
                if d.data.get("object") in meta.objects:
                    flows[name] = build_flow(d.data, self.ws.library)
            by_object: dict[str, list[Flow]] = {}
            for f in flows.values():
                by_object.setdefault(f.object, []).append(f)
            locking = {k for k, v in by_object.items() if any(f.lock for f in v)}
            masters = {obj.name: links for obj in meta.objects.values()
                       if (links := tuple(f.name for f in obj.fields
                                          if f.type == "master_detail" and f.target in locking))}
            cat = self._catalog = _Catalog(
                meta.revision, flows, {k: tuple(v) for k, v in by_object.items()},
                {k: tuple(f for f in v if f.auto_submit) for k, v in by_object.items()
                 if any(f.auto_submit for f in v)}, masters)
        return cat

    def flows_of(self, object_name: str) -> tuple[Flow, ...]:
        """The object's approval flows (current definitions)."""
        return self._flows().by_object.get(object_name, ())

    def stored_flow(self, definition: str) -> Flow:
        """The flow a request runs (its definition as submitted), compiled once."""
        flow = self._stored.get(definition)
        if flow is None:
            if len(self._stored) > 512:
                self._stored.clear()
            flow = self._stored[definition] = build_flow(json.loads(definition), self.ws.library)
        return flow

    def applicable_flows(self, object_name: str, record: Mapping[str, Any]) -> list[Flow]:
        """The object's flows whose entry condition holds for ``record`` now (what a
        "Submit for approval" button offers)."""
        flows = self.flows_of(object_name)
        if not flows:
            return []
        with self.ws.read_engine.connect() as c:
            get = self._getter(c, object_name, record)
            return [f for f in flows if f.applies(record, get)]

    # -- plumbing ---------------------------------------------------------------------------

    def _obj(self, object_name: str) -> ObjectDef:
        obj = self.ws.meta.objects.get(object_name)
        if obj is None:
            raise NotFound(f"no object named '{str(object_name)[:60]}'")
        return obj

    def _getter(self, c: Connection, object_name: str,
                record: Mapping[str, Any]) -> Callable[[str], Any]:
        from ..records.service import _Resolver  # the record service imports this package

        obj = self.ws.meta.objects.get(object_name)
        if obj is None:
            return lambda _path: None
        return _Resolver(self.ws.records, c).getter(obj, record)

    def _record(self, c: Connection, req: Mapping[str, Any],
                lock: bool = False) -> tuple[dict[str, Any], Callable[[str], Any]]:
        t = self.ws.table(req["object"])
        stmt = select(t).where(t.c.id == req["record_id"])
        if lock and c.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        row = c.execute(stmt).first()
        if row is None:
            raise NotFound(f"no {req['object']} with id {req['record_id']}")
        record = dict(row._mapping)
        return record, self._getter(c, req["object"], record)

    def _lock(self, c: Connection, request_id: Any) -> dict[str, Any]:
        """The request row, locked until the transaction ends. SQLite: the transaction
        holds the write lock from its BEGIN IMMEDIATE. PostgreSQL: FOR UPDATE, the
        record's row first, as every write to the record (an update, a delete, a
        submission) locks it before it touches its requests: no deadlock."""
        r = self.ws.table("rapport_approval_request")
        stmt = select(r).where(r.c.id == request_id_of(request_id))
        if c.dialect.name == "postgresql":
            head = c.execute(select(r.c.object, r.c.record_id).where(
                r.c.id == request_id_of(request_id))).first()
            if head is not None and head.object in self.ws.meta.objects:
                t = self.ws.table(head.object)
                c.execute(select(t.c.id).where(t.c.id == head.record_id).with_for_update())
            stmt = stmt.with_for_update()
        row = c.execute(stmt).first()
        if row is None:
            raise NotFound(f"no approval request {request_id}")
        return dict(row._mapping)

    def _save(self, c: Connection, req: dict[str, Any], **values: Any) -> None:
        """Update the request with a compare-and-set on its version."""
        r = self.ws.table("rapport_approval_request")
        values["version"] = req["version"] + 1
        done = c.execute(update(r).where(r.c.id == req["id"], r.c.version == req["version"])
                         .values(values))
        if done.rowcount != 1:
            raise AlreadyDecided(f"approval request {req['id']} was changed by someone else "
                                 "meanwhile; reload it")
        req.update(values)

    def _tasks(self, c: Connection, req: Mapping[str, Any]) -> list[dict[str, Any]]:
        t = self.ws.table("rapport_approval_task")
        return [dict(r._mapping) for r in c.execute(
            select(t).where(t.c.request_id == req["id"]).order_by(t.c.id))]

    def _log(self, c: Connection, req: Mapping[str, Any], actor: Actor, action: str,
             step: int | None = None, comment: str | None = None,
             detail: Mapping[str, Any] | None = None, when: datetime | None = None,
             history: bool = True) -> None:
        """An audit event, and (unless ``history`` is false) a row in the record's history."""
        when = when or now_utc()
        c.execute(insert(self.ws.table("rapport_approval_event")).values(
            request_id=req["id"], at=when, user_id=actor.id, action=action, step=step,
            comment=comment, detail=json.dumps(dict(detail), ensure_ascii=False, default=str)
            if detail else None))
        if not history:
            return
        flow = self.stored_flow(req["definition"])
        value: dict[str, Any] = {"action": action, "request": req["id"]}
        if step is not None and 0 <= step < len(flow.steps):
            value["step"] = flow.steps[step].name
        if comment:
            value["comment"] = comment
        if detail:
            value.update(detail)
        c.execute(insert(self.ws.table("rapport_history")).values(
            object=req["object"], record_id=req["record_id"], action="approval",
            field=req["flow"], old_value=None,
            new_value=json.dumps(value, ensure_ascii=False, default=str),
            user_id=actor.id, at=when))

    def _hook(self, name: str, c: Connection, req: Mapping[str, Any], actor: Actor,
              **kwargs: Any) -> None:
        hook = getattr(self.ws.plugins.hook, name)
        if hook.get_hookimpls():
            hook(workspace=self.ws, request=self._full(c, [dict(req)])[0], user=actor,
                 connection=c, **kwargs)

    def _notify(self, c: Connection, req: Mapping[str, Any], users: Sequence[int | None],
                kind: str, message: str, actor: Actor, **data: Any) -> None:
        flow = self.stored_flow(req["definition"])
        self.ws.notifications.notify(
            c, users, kind, message, object=req["object"], record_id=req["record_id"],
            request_id=req["id"], skip=actor.id,
            data={"flow": flow.name, "flow_label": flow.display_label(), "by": actor.id,
                  "by_name": actor.name or actor.email, **data})

    def _about(self, c: Connection, req: Mapping[str, Any],
               record: Mapping[str, Any] | None = None) -> str:
        """"Quote 'Big deal'": the record (read, unless given) as messages name it."""
        obj = self.ws.meta.objects.get(req["object"])
        if obj is None:
            return f"{req['object']} {req['record_id']}"
        title = record.get(obj.title) if record is not None else \
            self._titles(c, req["object"], [req["record_id"]]).get(req["record_id"])
        label = obj.display_label()
        return f"{label} '{title}'" if title else f"{label} {req['record_id']}"

    # -- the record service's calls ------------------------------------------------------

    def _pending_row(self, c: Connection, object_name: str, record_id: int) -> Any:
        r = self.ws.table("rapport_approval_request")
        return c.execute(select(r.c.id, r.c.flow, r.c.definition).where(
            r.c.object == object_name, r.c.record_id == record_id,
            r.c.status == "pending").limit(1)).first()

    def check_unlocked(self, c: Connection, object_name: str, record: dict[str, Any],
                       actor: Actor) -> None:
        """Raise ``Locked`` when ``record`` is locked by a pending request, or is a detail
        of a locked master, and ``actor`` may not edit it (admins and the platform itself
        may)."""
        if actor.id is None or actor.is_admin:
            return
        self._check_lock(c, object_name, record)

    def lock_of(self, object_name: str, record: Mapping[str, Any]) -> Locked | None:
        """The lock a pending request (on the record, or on its master) holds on ``record``
        for everyone but admins, or None."""
        with self.ws.read_engine.connect() as c:
            try:
                self._check_lock(c, object_name, record)
            except Locked as exc:
                return exc
        return None

    def _check_lock(self, c: Connection, object_name: str, record: Mapping[str, Any]) -> None:
        self._check_masters(c, object_name, [record])
        if object_name not in self._flows().by_object:
            return
        row = self._pending_row(c, object_name, record["id"])
        if row is None:
            return
        flow = self.stored_flow(row.definition)
        if flow.lock:
            raise Locked(f"{self._obj(object_name).display_label()} {record['id']} is locked: "
                         f"it is pending approval in the flow '{flow.display_label()}' "
                         f"(request {row.id})")

    def check_masters_unlocked(self, c: Connection, object_name: str,
                               records: Sequence[Mapping[str, Any]], actor: Actor) -> None:
        """Raise ``Locked`` when one of ``records`` is a detail of a master record that a
        pending request locks (a quote line of a quote awaiting approval): changing it
        would change the master's rollups behind the approvers' backs."""
        if actor.id is not None and not actor.is_admin:
            self._check_masters(c, object_name, records)

    def _check_masters(self, c: Connection, object_name: str,
                       records: Sequence[Mapping[str, Any]]) -> None:
        links = self._flows().masters.get(object_name)
        if not links:
            return
        obj = self._obj(object_name)
        r = self.ws.table("rapport_approval_request")
        for name in links:
            target = obj.field(name).target or ""
            ids = sorted({x.get(name) for x in records} - {None})
            for start in range(0, len(ids), 900):
                for row in c.execute(select(r.c.id, r.c.record_id, r.c.definition).where(
                        r.c.object == target, r.c.status == "pending",
                        r.c.record_id.in_(ids[start:start + 900]))):
                    flow = self.stored_flow(row.definition)
                    if flow.lock:
                        raise Locked(
                            f"{obj.display_label()} cannot change: its "
                            f"{self._obj(target).display_label()} {row.record_id} is locked, "
                            f"pending approval in the flow '{flow.display_label()}' "
                            f"(request {row.id})")

    def after_save(self, c: Connection, object_name: str, record: dict[str, Any],
                   previous: dict[str, Any] | None, actor: Actor) -> None:
        """After a create or update inside its transaction: automatic submission, when the
        entry condition has become true or a field it reads changed."""
        flows = self._flows().auto.get(object_name)
        if not flows or c.info.get(APPLYING):
            return
        changed = {k for k, v in record.items() if previous is None or previous.get(k) != v}
        get = self._getter(c, object_name, record)
        for flow in flows:
            if not flow.applies(record, get):
                continue
            if previous is not None and not (flow.reads() & changed) and \
                    flow.applies(previous, self._getter(c, object_name, previous)):
                continue
            if self._pending_row(c, object_name, record["id"]) is None:
                self._submit(c, object_name, record["id"], actor, flow.name)
            return

    def after_create(self, c: Connection, object_name: str, records: Sequence[dict[str, Any]],
                     actor: Actor) -> None:
        """After a batch of creates inside its transaction: automatic submission."""
        flows = self._flows().auto.get(object_name)
        if not flows or c.info.get(APPLYING):
            return
        for record in records:
            get = self._getter(c, object_name, record)
            flow = next((f for f in flows if f.applies(record, get)), None)
            if flow is not None:
                self._submit(c, object_name, record["id"], actor, flow.name)

    def on_delete(self, c: Connection, object_name: str, record: dict[str, Any],
                  actor: Actor) -> None:
        """A record is deleted: its pending request ends, cancelled."""
        if object_name not in self._flows().by_object:
            return
        row = self._pending_row(c, object_name, record["id"])
        if row is None:
            return
        req = self._lock(c, row.id)
        when = now_utc()
        open_tasks = self._close_tasks(c, req, when)
        self._save(c, req, status="cancelled", decided_at=when, decided_by=actor.id)
        self._log(c, req, actor, "cancelled", req["step"], detail={"reason": "record deleted"},
                  when=when)
        self._notify(c, req, open_tasks, "approval_recalled",
                     f"The approval request for {self._about(c, req, record)} was cancelled: "
                     "the record was deleted", actor, status="cancelled")

    # -- submitting ---------------------------------------------------------------------------

    def submit(self, object_name: str, record_id: Any, actor: Actor, flow: str | None = None,
               comment: str | None = None, conn: Connection | None = None) -> dict[str, Any]:
        """Submit a record for approval (with ``flow`` None: the one flow of the object
        whose entry condition holds); returns the request (as ``get`` does)."""
        comment = clean_comment(comment)
        with self.ws.within(conn) as c:
            return self._full(c, [self._submit(c, object_name, record_id, actor, flow,
                                               comment)], actor)[0]

    def _submit(self, c: Connection, object_name: str, record_id: Any, actor: Actor,
                flow: str | None, comment: str | None = None) -> dict[str, Any]:
        from ..records.service import _record_id  # the record service imports this package

        rt = self.ws.records.runtime(object_name)
        rid = _record_id(record_id)
        req: dict[str, Any] = {"object": rt.name, "record_id": rid}
        record, get = self._record(c, req, lock=True)
        chosen = self._choose(rt.obj, record, get, flow)
        pending = self._pending_row(c, rt.name, rid)
        if pending is not None:
            raise Conflict(self._already_pending(rt.obj, rid, pending))
        first, skipped = self._next_step(chosen, 0, record, get)
        resolver = Resolver(self.ws, c, chosen, record, get, actor.id)
        approvers = self._approvers(resolver, chosen.steps[first]) if first is not None else []
        when = now_utc()
        req.update(flow=chosen.name, status="pending", step=first,
                   definition=chosen.definition, revision=self.ws.meta.revision,
                   submitted_by=actor.id, submitted_at=when, decided_by=None, decided_at=None,
                   comment=comment, version=1)
        r = self.ws.table("rapport_approval_request")
        try:
            with c.begin_nested():
                req["id"] = c.execute(insert(r).values(req)).inserted_primary_key[0]
        except IntegrityError:  # another submission won the race
            raise Conflict(self._already_pending(
                rt.obj, rid, self._pending_row(c, rt.name, rid))) from None
        self._log(c, req, actor, "submitted", first, comment, when=when)
        self._apply(c, req, chosen.on_submit, actor, "on submitting")
        for i in skipped:
            self._skip(c, req, chosen.steps[i], actor, when)
        if first is not None:
            self._assign(c, req, chosen.steps[first], approvers, actor, when)
        self._hook("approval_submitted", c, req, actor)
        if first is None:  # no step applies: approved at once
            self._apply(c, req, chosen.on_approve, actor, "on approving")
            self._finish(c, req, chosen, actor, "approved", when)
        return req

    def _choose(self, obj: ObjectDef, record: Mapping[str, Any], get: Callable[[str], Any],
                name: str | None) -> Flow:
        flows = self.flows_of(obj.name)
        if name is not None:
            chosen = self._flows().flows.get(name) if isinstance(name, str) else None
            if chosen is None or chosen.object != obj.name:
                raise NotFound(f"no approval flow named '{str(name)[:60]}' on "
                               f"{obj.display_plural()}")
            if not chosen.applies(record, get):
                raise ValidationError([FieldProblem(None, "entry_condition", (
                    f"{obj.display_label()} {record['id']} does not meet the entry condition "
                    f"of the approval flow '{chosen.display_label()}': {chosen.when_text}"))])
            return chosen
        if not flows:
            raise NotFound(f"{obj.display_plural()} have no approval flow")
        fitting = [f for f in flows if f.applies(record, get)]
        if len(fitting) == 1:
            return fitting[0]
        if not fitting:
            listed = "; ".join(f"'{f.display_label()}' ({f.when_text})" for f in flows)
            raise ValidationError([FieldProblem(None, "entry_condition", (
                f"{obj.display_label()} {record['id']} meets the entry condition of no approval "
                f"flow: {listed}"))])
        raise ValidationError([FieldProblem("flow", "ambiguous", (
            "several approval flows apply; choose one: "
            + ", ".join(f"{f.name} ('{f.display_label()}')" for f in fitting)))])

    def _already_pending(self, obj: ObjectDef, rid: int, pending: Any) -> str:
        which = "" if pending is None else f" (request {pending.id}, flow " \
            f"'{self.stored_flow(pending.definition).display_label()}')"
        return f"{obj.display_label()} {rid} already has a pending approval request{which}"

    def _next_step(self, flow: Flow, start: int, record: Mapping[str, Any],
                   get: Callable[[str], Any]) -> tuple[int | None, list[int]]:
        """The first step from ``start`` whose condition holds, and the ones skipped."""
        skipped = []
        for step in flow.steps[start:]:
            if holds(step.when, record, get):
                return step.index, skipped
            skipped.append(step.index)
        return None, skipped

    def _approvers(self, resolver: Resolver, step: Step) -> list[int]:
        """The step's approvers; refuses a quorum more than them."""
        ids = resolver.approvers(step)
        if step.mode == "quorum" and (step.quorum or 1) > len(set(ids)):
            raise resolver.refuse(step, f"it needs {step.quorum} approvals but has only "
                                        f"{len(set(ids))} approver(s)")
        return ids

    def _assign(self, c: Connection, req: Mapping[str, Any], step: Step, approvers: list[int],
                actor: Actor, when: datetime) -> None:
        """One pending task per approver (the delegate's when they delegated)."""
        standing_in = delegates(self.ws, c, approvers, when)
        rows: dict[int, dict[str, Any]] = {}
        for a in approvers:
            holder = standing_in.get(a, a)
            rows.setdefault(holder, {
                "request_id": req["id"], "step": step.index, "step_name": step.name,
                "approver_id": holder, "delegated_from": a if holder != a else None,
                "added_by": None, "status": "pending", "created_at": when})
        c.execute(insert(self.ws.table("rapport_approval_task")), list(rows.values()))
        flow = self.stored_flow(req["definition"])
        self._notify(c, req, list(rows), "approval_assigned",
                     f"{self._who(c, req['submitted_by'])} asks for your approval of "
                     f"{self._about(c, req)} ({flow.display_label()}, step "
                     f"'{step.display_label()}')", actor, step=step.name)

    def _who(self, c: Connection, user_id: int | None) -> str:
        return user_names(self.ws, c, [user_id]).get(user_id or 0, "Rapport")

    def _skip(self, c: Connection, req: Mapping[str, Any], step: Step, actor: Actor,
              when: datetime) -> None:
        self._log(c, req, actor, "step_skipped", step.index, when=when, history=False,
                  detail={"condition": step.when_text})

    # -- deciding -----------------------------------------------------------------------------

    def approve(self, request_id: Any, actor: Actor, comment: str | None = None,
                conn: Connection | None = None) -> dict[str, Any]:
        """Approve the actor's task in the current step; returns the request."""
        return self._decide(request_id, actor, "approved", comment, conn)

    def reject(self, request_id: Any, actor: Actor, comment: str | None = None,
               conn: Connection | None = None) -> dict[str, Any]:
        """Reject the actor's task: the request is rejected; returns the request."""
        return self._decide(request_id, actor, "rejected", comment, conn)

    def _decide(self, request_id: Any, actor: Actor, verdict: str,
                comment: Any, conn: Connection | None = None) -> dict[str, Any]:
        comment = clean_comment(comment)
        with self.ws.within(conn) as c:
            req = self._lock(c, request_id)
            flow = self.stored_flow(req["definition"])
            when = now_utc()
            task = self._task_of(c, req, actor, when)
            t = self.ws.table("rapport_approval_task")
            values: dict[str, Any] = {"status": verdict, "comment": comment, "decided_at": when}
            if task["approver_id"] != actor.id:  # a delegate deciding for the approver
                values.update(approver_id=actor.id, delegated_from=task["approver_id"])
            c.execute(update(t).where(t.c.id == task["id"]).values(values))
            step = flow.steps[req["step"]]
            self._log(c, req, actor, verdict, step.index, comment, when=when,
                      detail={"on_behalf_of": task["approver_id"]}
                      if "delegated_from" in values else None)
            if verdict == "rejected":
                self._close_tasks(c, req, when, step.index)
                self._apply(c, req, step.on_reject, actor, f"on rejecting step {step.name}")
                self._apply(c, req, flow.on_reject, actor, "on rejecting")
                self._finish(c, req, flow, actor, "rejected", when)
            elif self._step_done(c, req, step):
                self._close_tasks(c, req, when, step.index)
                self._log(c, req, actor, "step_approved", step.index, when=when, history=False)
                self._apply(c, req, step.on_approve, actor, f"on approving step {step.name}")
                self._advance(c, req, flow, actor, step.index + 1, when)
            else:
                self._save(c, req)
            return self._full(c, [req], actor)[0]

    def _task_of(self, c: Connection, req: Mapping[str, Any], actor: Actor,
                 when: datetime) -> dict[str, Any]:
        """The actor's pending task in the current step (or one of a user who delegated
        to them); 409 when their answer is no longer needed, 403 when they have none."""
        tasks = self._tasks(c, req)
        if req["status"] != "pending":
            if self._involved(req, tasks, actor):
                raise AlreadyDecided(self._decided(c, req, tasks))
            raise PermissionDenied(f"you are not an approver of approval request {req['id']}")
        current = [t for t in tasks if t["step"] == req["step"]]
        mine = [t for t in current if t["approver_id"] == actor.id]
        for t in mine:
            if t["status"] == "pending":
                return t
        if not mine and actor.id is not None:
            d = self.ws.table("rapport_delegation")
            delegators = set(c.scalars(select(d.c.user_id).where(
                d.c.delegate_id == actor.id, or_(d.c.until.is_(None), d.c.until > when))))
            for t in current:
                if t["status"] == "pending" and t["approver_id"] in delegators:
                    return t
        if mine or any(t["approver_id"] == actor.id for t in tasks):
            raise AlreadyDecided(self._decided(c, req, tasks, actor))
        raise PermissionDenied(f"you have no task in the current step of approval request "
                               f"{req['id']}")

    def _involved(self, req: Mapping[str, Any], tasks: Sequence[Mapping[str, Any]],
                  actor: Actor) -> bool:
        return actor.id is None or actor.is_admin or actor.id == req["submitted_by"] or any(
            actor.id in (t["approver_id"], t["delegated_from"], t["added_by"]) for t in tasks)

    def _decided(self, c: Connection, req: Mapping[str, Any],
                 tasks: Sequence[Mapping[str, Any]], actor: Actor | None = None) -> str:
        """Who decided what: the message of a 409."""
        flow = self.stored_flow(req["definition"])
        if req["status"] != "pending":
            by = f" by {self._who(c, req['decided_by'])}" if req["decided_by"] else ""
            return f"approval request {req['id']} was already {req['status']}{by}; " \
                   "your answer is no longer needed"
        mine = [t for t in tasks if actor is not None and t["approver_id"] == actor.id]
        step_index = mine[-1]["step"] if mine else req["step"]
        deciders = [t for t in tasks if t["step"] == step_index
                    and t["status"] in {"approved", "rejected"}]
        step = flow.steps[step_index]
        if mine and mine[-1]["status"] in {"approved", "rejected"}:
            return f"you already {mine[-1]['status']} step '{step.display_label()}' of " \
                   f"approval request {req['id']}"
        names = user_names(self.ws, c, [t["approver_id"] for t in deciders])
        by = ", ".join(f"{t['status']} by {names.get(t['approver_id'], t['approver_id'])}"
                       for t in deciders) or "decided"
        return f"step '{step.display_label()}' of approval request {req['id']} was already " \
               f"decided ({by}); your answer is no longer needed"

    def _step_done(self, c: Connection, req: Mapping[str, Any], step: Step) -> bool:
        tasks = [t for t in self._tasks(c, req) if t["step"] == step.index]
        if step.mode == "all":
            return not any(t["status"] == "pending" for t in tasks)
        if step.mode == "quorum":
            return sum(t["status"] == "approved" for t in tasks) >= (step.quorum or 1)
        return True

    def _close_tasks(self, c: Connection, req: Mapping[str, Any], when: datetime,
                     step: int | None = None) -> list[int]:
        """Cancel the request's open tasks (of one step); returns their approvers."""
        t = self.ws.table("rapport_approval_task")
        where = [t.c.request_id == req["id"], t.c.status == "pending"]
        if step is not None:
            where.append(t.c.step == step)
        approvers = list(c.scalars(select(t.c.approver_id).where(*where)))
        if approvers:
            c.execute(update(t).where(*where).values(status="cancelled", decided_at=when))
        return approvers

    def _advance(self, c: Connection, req: dict[str, Any], flow: Flow, actor: Actor,
                 start: int, when: datetime) -> None:
        """After a step is approved: the next step whose condition holds, or the end."""
        record, get = self._record(c, req)
        nxt, skipped = self._next_step(flow, start, record, get)
        for i in skipped:
            self._skip(c, req, flow.steps[i], actor, when)
        if nxt is None:
            self._apply(c, req, flow.on_approve, actor, "on approving")
            self._finish(c, req, flow, actor, "approved", when)
            return
        step = flow.steps[nxt]
        resolver = Resolver(self.ws, c, flow, record, get, req["submitted_by"])
        approvers = self._approvers(resolver, step)
        self._save(c, req, step=nxt)
        self._assign(c, req, step, approvers, actor, when)

    def _apply(self, c: Connection, req: Mapping[str, Any],
               assign: tuple[tuple[str, Formula], ...], actor: Actor, what: str) -> None:
        """A ``set`` action on the record, through the record service, in this
        transaction; a refused value refuses the whole decision."""
        if not assign:
            return
        record, get = self._record(c, req)
        values, problems = evaluate_set(assign, record, get, what)
        if problems:
            raise ValidationError(problems)
        c.info[APPLYING] = c.info.get(APPLYING, 0) + 1
        try:
            self.ws.records.update(req["object"], req["record_id"], values, actor, conn=c,
                                   allow_read_only=True, locked_ok=True)
        finally:
            c.info[APPLYING] -= 1

    def _finish(self, c: Connection, req: dict[str, Any], flow: Flow, actor: Actor, status: str,
                when: datetime) -> None:
        self._save(c, req, status=status, decided_at=when, decided_by=actor.id)
        self._log(c, req, actor, "completed", req["step"], detail={"status": status}, when=when)
        by = f" by {actor.name or actor.email}" if actor.id is not None else ""
        self._notify(c, req, [req["submitted_by"]], "approval_decided",
                     f"Your approval request for {self._about(c, req)} "
                     f"({flow.display_label()}) was {status}{by}", actor, status=status)
        self._hook("approval_decided", c, req, actor, decision=status)

    # -- recall, reassign, add a signer ------------------------------------------------------

    def recall(self, request_id: Any, actor: Actor, comment: str | None = None) -> dict[str, Any]:
        """The submitter (or an admin) withdraws a pending request; returns the request."""
        comment = clean_comment(comment)
        with self.ws.transaction() as c:
            req = self._lock(c, request_id)
            flow = self.stored_flow(req["definition"])
            if not (actor.id is None or actor.is_admin or actor.id == req["submitted_by"]):
                raise PermissionDenied(f"only the submitter or an admin may recall approval "
                                       f"request {req['id']}")
            if req["status"] != "pending":
                raise AlreadyDecided(self._decided(c, req, []))
            if not flow.allow_recall:
                raise PermissionDenied(f"the approval flow '{flow.display_label()}' does not "
                                       "allow recalling a request")
            when = now_utc()
            approvers = self._close_tasks(c, req, when)
            self._apply(c, req, flow.on_recall, actor, "on recalling")
            self._save(c, req, status="recalled", decided_at=when, decided_by=actor.id)
            self._log(c, req, actor, "recalled", req["step"], comment, when=when)
            self._notify(c, req, approvers, "approval_recalled",
                         f"{actor.name or actor.email} recalled the approval request for "
                         f"{self._about(c, req)} ({flow.display_label()})", actor,
                         status="recalled")
            self._hook("approval_decided", c, req, actor, decision="recalled")
            return self._full(c, [req], actor)[0]

    def _open_tasks(self, c: Connection, req: Mapping[str, Any],
                    actor: Actor) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The open tasks of the current step, and the actor's among them; 409 when the
        request is decided, 403 when the actor has none and is no admin."""
        tasks = self._tasks(c, req)
        if req["status"] != "pending":
            if self._involved(req, tasks, actor):
                raise AlreadyDecided(self._decided(c, req, tasks))
            raise PermissionDenied(f"you are not an approver of approval request {req['id']}")
        current = [t for t in tasks if t["step"] == req["step"] and t["status"] == "pending"]
        mine = [t for t in current if t["approver_id"] == actor.id]
        if not mine and not (actor.id is None or actor.is_admin):
            raise PermissionDenied(f"you have no open task in approval request {req['id']}")
        return current, mine

    def _user(self, c: Connection, ref: Any, field: str) -> int:
        uid = find_user_id(self.ws, c, ref)
        if uid is None:
            raise ValidationError(f"no active user '{str(ref)[:80]}'", field=field,
                                  code="unknown_user")
        return uid

    def reassign(self, request_id: Any, actor: Actor, to_user_id: Any, comment: str | None = None,
                 task_id: int | None = None) -> dict[str, Any]:
        """Hand a pending task to another active user (an approver their own task; an
        admin any task, named by ``task_id`` when several are open)."""
        comment = clean_comment(comment)
        with self.ws.transaction() as c:
            req = self._lock(c, request_id)
            current, mine = self._open_tasks(c, req, actor)
            if task_id is not None:  # an admin names the task
                mine = [t for t in current if t["id"] == task_id
                        and (t["approver_id"] == actor.id or actor.id is None or actor.is_admin)]
                if not mine:
                    raise NotFound(f"no open task {task_id} in approval request {req['id']}")
            elif not mine and len(current) == 1:
                mine = current
            elif not mine:
                raise ValidationError("several approvers have an open task: name the task "
                                      "to reassign", field="task")
            task = mine[0]
            to = self._user(c, to_user_id, "to")
            self._not_yet_approver(c, req, to, "to")
            when = now_utc()
            t = self.ws.table("rapport_approval_task")
            c.execute(update(t).where(t.c.id == task["id"]).values(approver_id=to))
            self._save(c, req)
            flow = self.stored_flow(req["definition"])
            step = flow.steps[req["step"]]
            self._log(c, req, actor, "reassigned", step.index, comment, when=when,
                      detail={"task": task["id"], "from": task["approver_id"], "to": to})
            self._notify(c, req, [to], "approval_assigned",
                         f"{actor.name or actor.email} handed you the approval of "
                         f"{self._about(c, req)} ({flow.display_label()}, step "
                         f"'{step.display_label()}')", actor, step=step.name)
            return self._full(c, [req], actor)[0]

    def add_signer(self, request_id: Any, actor: Actor, user_id: Any,
                   comment: str | None = None) -> dict[str, Any]:
        """An approver of the current step (or an admin) adds another approver to it (加签):
        in ``all`` mode they must approve too, in ``quorum`` mode their approval counts."""
        comment = clean_comment(comment)
        with self.ws.transaction() as c:
            req = self._lock(c, request_id)
            self._open_tasks(c, req, actor)
            signer = self._user(c, user_id, "user")
            self._not_yet_approver(c, req, signer, "user")
            when = now_utc()
            flow = self.stored_flow(req["definition"])
            step = flow.steps[req["step"]]
            c.execute(insert(self.ws.table("rapport_approval_task")).values(
                request_id=req["id"], step=step.index, step_name=step.name, approver_id=signer,
                added_by=actor.id, status="pending", created_at=when))
            self._save(c, req)
            self._log(c, req, actor, "signer_added", step.index, comment, when=when,
                      detail={"user": signer})
            self._notify(c, req, [signer], "approval_assigned",
                         f"{actor.name or actor.email} asks for your approval of "
                         f"{self._about(c, req)} too ({flow.display_label()}, step "
                         f"'{step.display_label()}')", actor, step=step.name)
            return self._full(c, [req], actor)[0]

    def _not_yet_approver(self, c: Connection, req: Mapping[str, Any], uid: int,
                          field: str) -> None:
        for t in self._tasks(c, req):
            if t["step"] == req["step"] and t["approver_id"] == uid and \
                    t["status"] in {"pending", "approved"}:
                raise ValidationError(f"{self._who(c, uid)} is already an approver of this step",
                                      field=field, code="already_approver")

    # -- delegation -----------------------------------------------------------------------------

    def set_delegation(self, actor: Actor, delegate_id: Any,
                       until: datetime | None = None) -> dict[str, Any]:
        """While the actor is away, their new approval tasks go to ``delegate_id`` (an id
        or an email), until ``until`` (None: until cleared)."""
        if actor.id is None:
            raise ValidationError("only a user can delegate")
        if until is not None:
            if until.tzinfo is None:
                until = until.replace(tzinfo=UTC)
            if until <= now_utc():
                raise ValidationError("the end of a delegation must be in the future",
                                      field="until")
        d = self.ws.table("rapport_delegation")
        with self.ws.transaction() as c:
            to = self._user(c, delegate_id, "to")
            if to == actor.id:
                raise ValidationError("you cannot delegate to yourself", field="to")
            values = {"delegate_id": to, "until": until, "created_at": now_utc()}
            if c.execute(update(d).where(d.c.user_id == actor.id).values(values)).rowcount == 0:
                c.execute(insert(d).values(user_id=actor.id, **values))
            return self._delegation(c, actor)  # type: ignore[return-value]

    def clear_delegation(self, actor: Actor) -> bool:
        """End the actor's delegation; whether there was one."""
        d = self.ws.table("rapport_delegation")
        with self.ws.transaction() as c:
            return c.execute(d.delete().where(d.c.user_id == actor.id)).rowcount > 0

    def delegation(self, actor: Actor) -> dict[str, Any] | None:
        """{user_id, delegate_id, delegate_name, until, created_at, active} or None."""
        with self.ws.read_engine.connect() as c:
            return self._delegation(c, actor)

    def _delegation(self, c: Connection, actor: Actor) -> dict[str, Any] | None:
        d = self.ws.table("rapport_delegation")
        row = c.execute(select(d).where(d.c.user_id == actor.id)).first()
        if row is None:
            return None
        out = dict(row._mapping)
        out["delegate_name"] = self._who(c, out["delegate_id"])
        out["active"] = out["until"] is None or out["until"] > now_utc()
        return out


__all__ = ["STATUSES", "AlreadyDecided", "Approvals", "Flow", "Locked", "Notifications", "Step"]
