"""Approval screens: the approval panel of a record page (submit, approve, reject, recall,
reassign, add a signer), the inbox at /approvals with delegation, and the notifications
page. Plain forms first (POST, then redirect with a flash message); with htmx the panel, an
inbox row or a list swaps in place."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ...approvals import Locked
from ...approvals.flow import Flow, Step
from ...errors import Conflict, NotFound, PermissionDenied, ValidationError
from ...meta.model import ObjectDef
from ...records.actor import Actor
from ...records.query import Cond, Or, Query
from ..i18n import translate
from ..screens import is_partial
from .widgets import format_datetime, option_label, titles_of

if TYPE_CHECKING:
    from ..screens import Screens

USERS_OFFERED = 200
NOTIFICATIONS_SHOWN = 100
VIEWS = ("panel", "inbox", "submitted")


# -- what every screen needs --------------------------------------------------------------------

def locked_for(screens: Screens, object_name: str, record: Mapping[str, Any],
               actor: Actor) -> Locked | None:
    """The engine's refusal when ``actor`` may not change ``record`` now, else None."""
    if actor.is_admin:
        return None
    return screens.ws.approvals.lock_of(object_name, record)


def refusal(screens: Screens, request: Request, exc: Exception, object_name: str,
            rid: Any) -> str:
    """What a screen says when a write is refused with a conflict: for a record that a
    pending approval locks, the lock in the user's language."""
    if not isinstance(exc, Locked):
        return str(exc)
    pending = screens.ws.approvals.pending(object_name, int(rid))
    locale = screens.locale(request, request.scope.get("actor"))
    flow = Labels(screens.ws, locale).flow_label(pending) if pending else ""
    return translate(locale, "approval.locked_refused", flow=flow)


def active_users(screens: Screens, but: Actor) -> list[dict[str, Any]]:
    """Active users to hand a task to, by name (the actor left out)."""
    page = screens.ws.records.query("user", Query(
        filter=Or((Cond("active", "eq", True), Cond("active", "is_blank"))),
        sort=[("full_name", False), ("id", False)], limit=USERS_OFFERED))
    return [{"id": u["id"], "name": u["full_name"] or u["email"], "email": u["email"]}
            for u in page.data if u["id"] != but.id]


class Labels:
    """Flows, steps, approvers and events in the screen's language. The engine's labels are
    English; the current definitions give the others (a request keeps the flow as it was
    submitted, so a step renamed since falls back to the stored label)."""

    def __init__(self, ws: Any, locale: str):
        self.ws = ws
        self.locale = locale
        self._flows: dict[tuple[str, str], Flow | None] = {}

    def t(self, key: str, **values: Any) -> str:
        return translate(self.locale, key, **values)

    def flow(self, object_name: str, name: str) -> Flow | None:
        key = (object_name, name)
        if key not in self._flows:
            self._flows[key] = next((f for f in self.ws.approvals.flows_of(object_name)
                                     if f.name == name), None)
        return self._flows[key]

    def flow_label(self, req: Mapping[str, Any]) -> str:
        flow = self.flow(req["object"], req["flow"])
        return flow.display_label(self.locale) if flow else str(req.get("flow_label") or req["flow"])

    def object_label(self, object_name: str, fallback: str | None = None) -> str:
        obj = self.ws.meta.objects.get(object_name)
        return obj.display_label(self.locale) if obj else (fallback or object_name)

    def step(self, req: Mapping[str, Any], index: int | None, name: str | None) -> Step | None:
        flow = self.flow(req["object"], req["flow"])
        if flow is None or index is None or not 0 <= index < len(flow.steps):
            return None
        step = flow.steps[index]
        return step if step.name == name else None

    def step_label(self, req: Mapping[str, Any], index: int | None, name: str | None,
                   fallback: str | None) -> str:
        step = self.step(req, index, name)
        return step.display_label(self.locale) if step else str(fallback or name or "")

    def mode(self, step: Mapping[str, Any]) -> str:
        if step["mode"] == "quorum":
            m = len([t for t in step["tasks"] if t["status"] != "cancelled"])
            return self.t("approval.mode.quorum", n=step["quorum"] or 1, m=m) if m else \
                self.t("approval.mode.quorum_open", n=step["quorum"] or 1)
        return self.t(f"approval.mode.{step['mode']}")

    def approvers(self, req: Mapping[str, Any], step: Mapping[str, Any]) -> str:
        """Who decides a step that has no tasks yet, from the flow's rule."""
        defined = self.step(req, step["index"], step["name"])
        if defined is None:
            return str(step["approvers"])
        kind, value = defined.approver_kind, defined.approver_value
        if kind == "users":
            return ", ".join(str(v) for v in value)
        if kind in ("manager_of", "field"):
            obj = self.ws.meta.objects.get(req["object"])
            field = self.t("approval.submitter") if value == "submitter" else \
                obj.field(value).display_label(self.locale) if obj and obj.has_field(value) \
                else str(value)
            return self.t(f"approval.approvers.{kind}", field=field)
        return self.t(f"approval.approvers.{kind}", value=value)

    def _step_condition(self, req: Mapping[str, Any], step: Mapping[str, Any]) -> str | None:
        defined = self.step(req, step["index"], step["name"])
        return self.t("approval.step_when", condition=defined.when_text) \
            if defined and defined.when_text else None

    def event(self, req: Mapping[str, Any], event: Mapping[str, Any],
              names: Mapping[int, str]) -> str:
        detail = event.get("detail") or {}
        action = event["action"]
        if action == "reassigned":
            return self.t("approval.event.reassigned", to=names.get(detail.get("to"), "?"))
        if action == "signer_added":
            return self.t("approval.event.signer_added", user=names.get(detail.get("user"), "?"))
        if action == "completed":
            return self.t("approval.event.completed",
                          status=self.t(f"approval.verb.{detail.get('status', 'approved')}"))
        if action in ("step_approved", "step_skipped"):
            return self.t(f"approval.event.{action}", step=self.step_label(
                req, event.get("step"), event.get("step_name"), event.get("step_name")))
        return self.t(f"approval.event.{action}")

    def request(self, req: Mapping[str, Any]) -> dict[str, Any]:
        """A request (summary or full) with its texts in the screen's language."""
        out = dict(req)
        out["flow_text"] = self.flow_label(req)
        out["object_text"] = self.object_label(req["object"], req.get("object_label"))
        out["step_text"] = self.step_label(req, req.get("step"), req.get("step_name"),
                                           req.get("step_label"))
        out["status_text"] = self.t(f"approval.status.{req['status']}")
        if "steps" not in req:
            return out
        names = {t["approver_id"]: t["approver_name"] for s in req["steps"] for t in s["tasks"]}
        names.update({e["user_id"]: e["user_name"] for e in req["events"] if e["user_id"]})
        out["steps"] = [{
            **s, "text": self.step_label(req, s["index"], s["name"], s["label"]),
            "mode_text": self.mode(s),
            "approvers_text": None if s["tasks"] else self.approvers(req, s),
            "when_text": self._step_condition(req, s),
            "status_text": self.t(f"approval.step_status.{s['status']}"),
            "tasks": [{**task, "status_text": self.t(f"approval.task_status.{task['status']}")}
                      for task in s["tasks"]]} for s in req["steps"]]
        out["events"] = [{**e, "text": self.event(req, e, names)} for e in req["events"]]
        return out


def panel_context(screens: Screens, request: Request, actor: Actor, obj: ObjectDef,
                  record: Mapping[str, Any], can_write: bool) -> dict[str, Any] | None:
    """The record page's approval panel and lock; None for an object without flows."""
    approvals = screens.ws.approvals
    flows = approvals.flows_of(obj.name)
    if not flows:
        return None
    locale = screens.locale(request, actor)
    labels = Labels(screens.ws, locale)
    requests = approvals.for_record(obj.name, record["id"])
    pending = next((r for r in requests if r["status"] == "pending"), None)
    can_decide = can_recall = locked = False
    if pending is not None:
        try:  # the actor's view: what they may do
            pending = approvals.get(pending["id"], actor)
            can_decide, can_recall = pending["can_decide"], pending["can_recall"]
        except PermissionDenied:  # neither submitter nor approver: they only look
            pass
        requests = [pending if r["id"] == pending["id"] else r for r in requests]
        locked = screens.ws.approvals.lock_of(obj.name, record) is not None
    offered = approvals.applicable_flows(obj.name, record) if pending is None and can_write \
        else []
    shown = [labels.request(r) for r in requests]
    return {
        "requests": shown, "pending": shown[requests.index(pending)] if pending else None,
        "locked": locked, "can_decide": can_decide, "can_recall": can_recall,
        "flows": [(f.name, f.display_label(locale)) for f in offered],
        "flow_labels": {f.name: f.display_label(locale) for f in flows},
        "users": active_users(screens, actor) if can_decide else [],
        # children whose new rows change this record's rollups: locked with it on screen
        "rolled_up": {f.source for f in obj.fields if f.type == "rollup" and f.source},
        "message": None, "sent": {},
    }


# -- notifications as sentences -------------------------------------------------------------------

def notification_views(ws: Any, notes: list[dict[str, Any]], locale: str) -> list[dict[str, Any]]:
    """Each notification with a sentence in the user's language (from its kind and data;
    the stored English message when the data do not say enough) and where it leads."""
    labels = Labels(ws, locale)
    wanted: dict[str, set[int]] = {}
    for n in notes:
        if n["object"] in ws.meta.objects and n["record_id"]:
            wanted.setdefault(n["object"], set()).add(n["record_id"])
    titles = titles_of(ws, wanted)
    out = []
    for n in notes:
        obj = ws.meta.objects.get(n["object"] or "")
        data = n["data"] or {}
        title = titles.get((n["object"], n["record_id"]))
        target = f"/o/{obj.name}/{n['record_id']}" if obj and title is not None else None
        if target and n["request_id"]:
            target += "#approval-panel"
        out.append({**n, "text": _sentence(labels, n, obj, title, data) or n["message"],
                    "target": target, "when": format_datetime(n["created_at"])})
    return out


def _sentence(labels: Labels, n: Mapping[str, Any], obj: ObjectDef | None, title: str | None,
              data: Mapping[str, Any]) -> str | None:
    kind, by = n["kind"], data.get("by_name") or data.get("by")
    if obj is None or not by:
        return None
    if kind == "stage_changed":
        field = obj.field(data["field"]) if obj.has_field(str(data.get("field"))) else None
        if field is None or "from" not in data or "to" not in data:
            return None

        def stage(value: Any) -> str:
            return labels.t("kanban.blank") if value is None else \
                option_label(field, value, labels.locale)
        return labels.t("note.stage_changed", by=by, title=data.get("title") or title,
                        frm=stage(data["from"]), to=stage(data["to"]))
    if title is None or "flow" not in data:
        return None
    req = {"object": obj.name, "flow": data["flow"], "flow_label": data.get("flow_label")}
    about = {"by": by, "object": obj.display_label(labels.locale), "title": title,
             "flow": labels.flow_label(req)}
    if kind == "approval_assigned":
        flow = labels.flow(obj.name, data["flow"])
        step = next((s for s in flow.steps if s.name == data.get("step")), None) if flow else None
        return labels.t("note.approval_assigned", **about,
                        step=step.display_label(labels.locale) if step else data.get("step", ""))
    status = data.get("status")
    if kind == "approval_decided" and status in ("approved", "rejected"):
        return labels.t(f"note.approval_{status}", **about)
    if kind == "approval_recalled" and status in ("recalled", "cancelled"):
        return labels.t(f"note.approval_{status}", **about)
    return None


def _until(text: str) -> datetime | None:
    """A delegation's last day (a date) as the moment it ends: that day's end, UTC."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValidationError("until must be a date like 2026-12-31", field="until") from None
    return datetime.combine(day + timedelta(days=1), time.min, UTC)


def last_day(until: datetime | None) -> date | None:
    """The day a delegation ending at ``until`` last covers."""
    return None if until is None else (until.astimezone(UTC) - timedelta(microseconds=1)).date()


def _safe_back(value: Any, default: str) -> str:
    back = str(value or "")
    ok = back.startswith("/") and not back.startswith("//") and "\\" not in back \
        and not back.startswith("/api/")
    return back if ok else default


class ApprovalScreens:
    def __init__(self, screens: Screens):
        self.screens = screens
        self.ws = screens.ws

    def t(self, request: Request, key: str, **values: Any) -> str:
        return self.screens.t(request, key, **values)

    # -- the record page's panel -----------------------------------------------------------

    def _record_of(self, request: Request, actor: Actor) -> tuple[ObjectDef, dict[str, Any]]:
        name = request.path_params["object"]
        obj = self.ws.meta.objects.get(name)
        if obj is None:
            raise NotFound(self.t(request, "error.no_object", name=str(name)[:60]))
        return obj, self.ws.records.get(obj.name, request.path_params["id"], actor)

    def _panel(self, request: Request, actor: Actor, obj: ObjectDef, record: dict[str, Any],
               status: int, message: str, sent: Mapping[str, Any]) -> Response:
        """The panel alone, with what went wrong and what the user typed."""
        can_write = not obj.system or actor.is_admin
        approval = panel_context(self.screens, request, actor, obj, record, can_write)
        if approval is None:
            raise NotFound(self.t(request, "approval.no_flows", object=obj.display_label()))
        approval.update(message=message, sent=dict(sent))
        return self.screens.render(request, "partials/approval_panel.html", status, actor,
                                   obj=obj, record=record, approval=approval)

    async def submit(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        form = await request.form()
        obj, record = await run_in_threadpool(self._record_of, request, actor)
        if obj.system and not actor.is_admin:
            raise PermissionDenied(self.t(request, "error.admins_only"))
        flow = str(form.get("flow") or "") or None
        comment = str(form.get("comment") or "")
        back = f"/o/{obj.name}/{record['id']}"
        try:
            await run_in_threadpool(self.ws.approvals.submit, obj.name, record["id"],
                                    self.screens.acting(request, actor), flow, comment)
        except (ValidationError, Conflict, NotFound) as exc:
            message = self._problem_text(request, exc, "approval.not_submitted")
            if not is_partial(request):
                self.screens.flash(request, message, "error")
                return RedirectResponse(back, 303)
            status = exc.status if isinstance(exc, Conflict | NotFound) else 422
            return await run_in_threadpool(self._panel, request, actor, obj, record, status,
                                           message, {"flow": flow, "submit_comment": comment})
        self.screens.flash(request, self.t(request, "approval.submitted"))
        if is_partial(request):  # the record is locked now: the whole page changes
            return Response(status_code=200, headers={"HX-Refresh": "true"})
        return RedirectResponse(back, 303)

    def _problem_text(self, request: Request, exc: Exception, lead: str) -> str:
        text = "; ".join(p.message for p in exc.problems) if isinstance(exc, ValidationError) \
            else str(exc)
        return self.t(request, lead, reason=text)

    # -- deciding (from the panel, the inbox or the submitted list) -----------------------------

    def _act(self, action: str) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            return await self._decide(request, action)
        return endpoint

    async def _decide(self, request: Request, action: str) -> Response:
        actor = await self.screens.actor(request)
        form = await request.form()
        rid = request.path_params["id"]
        view = str(form.get("view") or "")
        view = view if view in VIEWS else "panel"
        comment = str(form.get("comment") or "")
        acting = self.screens.acting(request, actor)
        approvals = self.ws.approvals
        user = str(form.get("user") or "").strip()
        calls: dict[str, Callable[[], dict[str, Any]]] = {
            "approve": lambda: approvals.approve(rid, acting, comment),
            "reject": lambda: approvals.reject(rid, acting, comment),
            "recall": lambda: approvals.recall(rid, acting, comment),
            "reassign": lambda: approvals.reassign(rid, acting, user, comment),
            "add-signer": lambda: approvals.add_signer(rid, acting, user, comment)}
        message, status, result = None, 200, None
        try:
            if action in ("reassign", "add-signer") and not user:
                raise ValidationError(self.t(request, "approval.user_needed"), field="user")
            result = await run_in_threadpool(calls[action])
        except ValidationError as exc:
            message, status = self._problem_text(request, exc, "approval.not_done"), 422
        except Conflict as exc:
            message, status = str(exc), exc.status
        req = result or await run_in_threadpool(approvals.get, rid)
        if status == 409 and req["status"] != "pending":  # someone decided first
            message = self.t(request, "approval.already_decided",
                             status=self.t(request, f"approval.verb.{req['status']}"),
                             name=req["decided_by_name"] or self.t(request, "history.system"))
        done = self._done_text(request, action, req, user, actor.id) if result else None
        if not is_partial(request):
            self.screens.flash(request, message or done or "", "error" if message else "ok")
            default = "/approvals" if view != "panel" else f"/o/{req['object']}/{req['record_id']}"
            return RedirectResponse(_safe_back(form.get("back"), default), 303)
        if view == "panel":
            if message is None:  # the record may have changed (the flow's updates): reload
                self.screens.flash(request, done or "")
                return Response(status_code=200, headers={"HX-Refresh": "true"})
            obj = self.ws.meta.objects.get(req["object"])
            if obj is None:
                raise NotFound(self.t(request, "error.no_object", name=req["object"]))
            record = await run_in_threadpool(self.ws.records.get, obj.name, req["record_id"])
            return await run_in_threadpool(self._panel, request, actor, obj, record, status,
                                           message, {"comment": comment})
        return await run_in_threadpool(self._row, request, actor, view, req, status,
                                       message or done, "error" if message else "ok")

    def _done_text(self, request: Request, action: str, req: Mapping[str, Any], user: str,
                   actor_id: int | None) -> str:
        if action in ("reassign", "add-signer"):
            detail = req["events"][-1]["detail"]  # the event this action logged
            uid = detail.get("to" if action == "reassign" else "user")
            name = next((t["approver_name"] for s in req["steps"] for t in s["tasks"]
                         if t["approver_id"] == uid), user)
            key = "approval.done.reassigned" if action == "reassign" else \
                "approval.done.signer_added"
            return self.t(request, key, name=name)
        if action == "approve" and req["status"] == "pending":
            current = req["steps"][req["step"]]
            if any(t["status"] == "approved" and t["approver_id"] == actor_id
                   for t in current["tasks"]):  # the step waits for its other approvers
                return self.t(request, "approval.done.waiting_others")
            labels = Labels(self.ws, self.screens.locale(request, request.scope.get("actor")))
            step = labels.step_label(req, req["step"], req["step_name"], req["step_label"])
            return self.t(request, "approval.done.next_step", step=step)
        return self.t(request, f"approval.done.{req['status']}")

    def _row(self, request: Request, actor: Actor, view: str, req: Mapping[str, Any],
             status: int, message: str | None, kind: str) -> Response:
        """One inbox or submitted row after an action: its outcome in place of the buttons,
        and the sidebar's count of waiting approvals out of band."""
        labels = Labels(self.ws, self.screens.locale(request, actor))
        template = "partials/approval_row.html" if view == "inbox" else \
            "partials/approval_submitted_row.html"
        return self.screens.render(
            request, template, status, actor, item=labels.request(req), outcome=True,
            message=message, message_kind=kind, oob=True,
            approvals_waiting=self.ws.approvals.inbox_count(actor))

    # -- the inbox -----------------------------------------------------------------------------

    def inbox_context(self, request: Request, actor: Actor) -> dict[str, Any]:
        approvals = self.ws.approvals
        labels = Labels(self.ws, self.screens.locale(request, actor))
        tab = "submitted" if request.query_params.get("tab") == "submitted" else "waiting"
        waiting = [labels.request(r) for r in approvals.inbox(actor)]
        names = titles_of(self.ws, {"user": {r["on_behalf_of"] for r in waiting
                                             if r["on_behalf_of"]}})
        for item in waiting:
            item["on_behalf_name"] = names.get(("user", item["on_behalf_of"] or 0))
        submitted = [labels.request(r) for r in approvals.submitted_by(actor)] \
            if tab == "submitted" else []
        for item in submitted:
            flow = labels.flow(item["object"], item["flow"])
            item["recallable"] = item["status"] == "pending" and (flow is None or flow.allow_recall)
        delegation = approvals.delegation(actor)
        if delegation:
            delegation["last_day"] = last_day(delegation["until"])
        return {"tab": tab, "waiting": waiting, "submitted": submitted,
                "delegation": delegation, "users": active_users(self.screens, actor),
                "delegation_error": None, "sent": {}}

    async def inbox(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        context = await run_in_threadpool(self.inbox_context, request, actor)
        return self.screens.render(request, "approvals.html", actor=actor, **context)

    async def delegate(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        form = await request.form()
        to, until = str(form.get("to") or "").strip(), str(form.get("until") or "").strip()
        try:
            if not to:
                raise ValidationError(self.t(request, "delegation.to_needed"), field="to")
            result = await run_in_threadpool(self.ws.approvals.set_delegation, actor, to,
                                             _until(until))
        except ValidationError as exc:
            context = await run_in_threadpool(self.inbox_context, request, actor)
            context.update(delegation_error=self._problem_text(request, exc, "delegation.not_saved"),
                           sent={"to": to, "until": until})
            return self.screens.render(request, "approvals.html", 422, actor, **context)
        ends = last_day(result["until"])
        self.screens.flash(request, self.t(request, "delegation.saved_until", name=result[
            "delegate_name"], day=ends.isoformat()) if ends else self.t(
            request, "delegation.saved", name=result["delegate_name"]))
        return RedirectResponse("/approvals", 303)

    async def undelegate(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        if await run_in_threadpool(self.ws.approvals.clear_delegation, actor):
            self.screens.flash(request, self.t(request, "delegation.cleared"))
        return RedirectResponse("/approvals", 303)

    # -- notifications -------------------------------------------------------------------------

    async def notifications(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        locale = self.screens.locale(request, actor)

        def read() -> list[dict[str, Any]]:
            notes = list(self.ws.notifications.list(actor, limit=NOTIFICATIONS_SHOWN))
            return notification_views(self.ws, notes, locale)
        notes = await run_in_threadpool(read)
        return self.screens.render(request, "notifications.html", actor=actor, notes=notes)

    async def mark_read(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        marked = await run_in_threadpool(self.ws.notifications.mark_read, actor, None)
        self.screens.flash(request, self.t(request, "notifications.marked", n=marked))
        return RedirectResponse("/notifications", 303)

    async def open_notification(self, request: Request) -> Response:
        """Marks one notification read and goes where it leads."""
        actor = await self.screens.actor(request)
        nid = request.path_params["id"]

        def find() -> str:
            notes = self.ws.notifications
            notes.mark_read(actor, [nid])
            found = next((n for n in notes.list(actor, limit=NOTIFICATIONS_SHOWN)
                          if n["id"] == nid), None)
            target = notification_views(self.ws, [found], "en")[0]["target"] if found else None
            return target or "/notifications"
        return RedirectResponse(await run_in_threadpool(find), 303)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/o/{object}/{id:int}/approvals", self.submit, methods=["POST"]),
            Route("/approvals", self.inbox, methods=["GET"]),
            Route("/approvals/delegation", self.delegate, methods=["POST"]),
            Route("/approvals/delegation/clear", self.undelegate, methods=["POST"]),
            *(Route(f"/approvals/{{id:int}}/{action}", self._act(action), methods=["POST"])
              for action in ("approve", "reject", "recall", "reassign", "add-signer")),
            Route("/notifications", self.notifications, methods=["GET"]),
            Route("/notifications/read", self.mark_read, methods=["POST"]),
            Route("/notifications/{id:int}", self.open_notification, methods=["GET"]),
        ]
