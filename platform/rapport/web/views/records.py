"""The record page: fields by the form's sections, lookups as links, related lists, the
activity timeline, field history, inline edit of one field, and delete."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ...errors import Conflict, FieldProblem, NotFound, StaleVersion, ValidationError
from ...meta.model import FieldDef, ObjectDef, humanize, label_text
from ...records.actor import Actor
from ...records.query import And, Cond, Or, Query, parse_sort
from ..plugin_support import record_panels
from ..screens import is_partial
from .approvals import locked_for, panel_context, refusal
from .base import ObjectScreens
from .widgets import (
    Section,
    default_sort,
    editable,
    field_of,
    form_sections,
    input_value,
    kanban_view,
    list_columns,
    problems_by_field,
    read_form,
    record_title,
    resolve_titles,
    titles_of,
    widget_of,
)

RELATED_ROWS = 5
TIMELINE_ROWS = 20
HISTORY_ROWS = 50
SYSTEM_SECTION = ("owner", "created_by", "created_at", "updated_at")


class RecordScreens(ObjectScreens):
    # -- the page ---------------------------------------------------------------------------

    def _related(self, obj: ObjectDef, rid: int, timeline: bool,
                 actor: Actor) -> list[dict[str, Any]]:
        out = []
        for child, link in self.ws.meta.children_of(obj.name):
            if timeline and child.name == "activity":
                continue
            if child.system and child.name != obj.name:
                continue
            q = Query(filter=Cond(link.name, "eq", rid), sort=parse_sort(default_sort(child)),
                      limit=RELATED_ROWS)
            page = self.ws.records.query(child.name, q, actor)
            count = len(page.data) if not page.next_cursor else \
                self.ws.records.count(child.name, Query(filter=Cond(link.name, "eq", rid)), actor)
            columns = [f for f in list_columns(child) if f.name != link.name][:4]
            out.append({"obj": child, "link": link, "records": page.data, "count": count,
                        "columns": columns, "titles": resolve_titles(self.ws, child, page.data,
                                                                     columns, actor)})
        return out

    def _timeline(self, obj: ObjectDef, rid: int, actor: Actor) -> list[dict[str, Any]] | None:
        activity = self.ws.meta.objects.get("activity")
        if activity is None or obj.name == "activity":
            return None
        parts: list[Any] = []
        if activity.has_field("related_object") and activity.has_field("related_id"):
            parts.append(And((Cond("related_object", "eq", obj.name), Cond("related_id", "eq", rid))))
        parts += [Cond(f.name, "eq", rid) for f in activity.fields
                  if f.is_relation and f.target == obj.name]
        if not parts:
            return None
        page = self.ws.records.query("activity", Query(filter=Or(tuple(parts)),
                                                       sort=[("created_at", True)],
                                                       limit=TIMELINE_ROWS), actor)
        return page.data

    def _history(self, obj: ObjectDef, rid: int,
                 actor: Actor) -> tuple[list[dict[str, Any]], dict[Any, str]]:
        rows = self.ws.records.history(obj.name, rid, HISTORY_ROWS, actor)
        wanted: dict[str, set[int]] = {"user": {r["user_id"] for r in rows if r["user_id"]}}
        for r in rows:
            f = field_of(obj, r["field"]) if r["field"] else None
            if f is not None and f.is_relation and f.target:
                for v in (r["old_value"], r["new_value"]):
                    if isinstance(v, int):
                        wanted.setdefault(f.target, set()).add(v)
            r["fielddef"] = f
        return rows, titles_of(self.ws, wanted, actor)

    def page_context(self, request: Request, actor: Actor, obj: ObjectDef,
                     record: dict[str, Any]) -> dict[str, Any]:
        locale = self.screens.locale(request, actor)
        t = self.screens.t
        sections = form_sections(obj, locale, t(request, "form.more_fields"),
                                 self.ws.access.hidden_fields(actor, obj))
        system = Section(t(request, "record.system"),
                         [f for f in (field_of(obj, n) for n in SYSTEM_SECTION) if f])
        timeline = self._timeline(obj, record["id"], actor)
        activity = self.ws.meta.objects.get("activity")
        related = self._related(obj, record["id"], timeline is not None, actor)
        history, history_titles = self._history(obj, record["id"], actor)
        shown = [*obj.fields, *system.fields]
        titles = resolve_titles(self.ws, obj, [record], shown, actor)
        tl_titles = resolve_titles(self.ws, activity, timeline, activity.fields, actor) \
            if timeline and activity else {}
        can_write = not obj.system or actor.is_admin
        approval = panel_context(self.screens, request, actor, obj, record, can_write)
        if approval and approval["locked"] and not actor.is_admin:
            can_write = False
        return {
            "obj": obj, "record": record, "title": record_title(obj, record),
            "sections": sections, "system_section": system, "related": related,
            "timeline": timeline, "activity": activity, "timeline_titles": tl_titles,
            "history": history, "history_titles": history_titles, "titles": {**titles},
            "path": self._path(request, actor, obj, record), "approval": approval,
            "can_write": can_write,
            "record_title": record_title, "kanban": kanban_view(obj) is not None,
            "activity_link": self._activity_link(obj, record) if activity else None,
            "record_actions": self.ws.actions.for_object(obj.name, actor, record=record)
            if can_write else [],
            "plugin_panels": record_panels(self.ws, obj.name, record, actor, locale),
        }

    def _activity_link(self, obj: ObjectDef, record: dict[str, Any]) -> str | None:
        activity = self.ws.meta.objects["activity"]
        for f in activity.fields:
            if f.is_relation and f.target == obj.name:
                return f"/o/activity/new?{f.name}={record['id']}"
        if activity.has_field("related_object") and obj.name != "activity":
            return f"/o/activity/new?related_object={obj.name}&related_id={record['id']}"
        return None

    def _path(self, request: Request, actor: Actor, obj: ObjectDef,
              record: dict[str, Any]) -> dict[str, Any] | None:
        """The stage path: the object's stage workflow with the verdict on every move, or
        else the kanban's picklist, every value a move."""
        acting = self.screens.acting(request, actor)
        workflows = self.ws.workflows.of(obj.name)
        if workflows:
            path = self.ws.workflows.path(obj.name, record, acting, workflows[0].field.name)
            seconds = path["seconds_in_stage"]
            path["field"] = obj.field(path["field"])
            path["duration"] = None if seconds is None else self._duration(request, seconds)
            return path
        view = kanban_view(obj)
        if view is None:
            return None
        f = obj.field(view["group_by"])
        value = record.get(f.name)
        options = [o for o in f.options if o.active or o.value == value]
        at = next((i for i, o in enumerate(options) if o.value == value), -1)
        return {"field": f, "current": value, "workflow": None, "guidance": None,
                "duration": None,
                "stages": [{"name": o.value, "label": label_text(o.label, acting.locale,
                                                                  humanize(o.value)),
                            "color": o.color, "category": "open", "allowed": True,
                            "reason": None, "action": None,
                            "state": "current" if i == at else "done" if i < at else "ahead"}
                           for i, o in enumerate(options)]}

    def _duration(self, request: Request, seconds: int) -> str:
        for unit, size in (("days", 86400), ("hours", 3600)):
            if seconds >= size:
                return self.screens.t(request, f"duration.{unit}", n=seconds // size)
        return self.screens.t(request, "duration.minutes", n=max(1, seconds // 60))

    async def page(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        record = await run_in_threadpool(self.record, obj, request.path_params["id"], actor)
        context = await run_in_threadpool(self.page_context, request, actor, obj, record)
        return self.screens.render(request, "record.html", actor=actor, **context)

    # -- inline edit of one field ----------------------------------------------------------------

    def _field(self, request: Request, obj: ObjectDef) -> FieldDef:
        name = request.path_params["field"]
        f = obj.field(name) if obj.has_field(name) else None
        if f is None:
            raise NotFound(self.screens.t(request, "error.no_field", name=str(name)[:60]))
        return f

    def _field_response(self, request: Request, actor: Actor, obj: ObjectDef, f: FieldDef,
                        record: dict[str, Any], editing: bool = False, status: int = 200,
                        value: Any = None, label: str = "", errors: list[str] | None = None,
                        oob: list[FieldDef] | None = None, headers: dict[str, str] | None = None
                        ) -> Response:
        titles = resolve_titles(self.ws, obj, [record], obj.fields)
        template = "partials/field_editor.html" if editing else "partials/field_display.html"
        if editing and not is_partial(request):
            template = "field_edit.html"
        return self.screens.render(
            request, template, status, actor, headers=headers, obj=obj, f=f, record=record,
            titles=titles, value=value, label=label, errors=errors or [],
            widget_kind=widget_of(self.ws, f), can_write=not obj.system or actor.is_admin,
            oob_fields=oob or [],
            path=self._path(request, actor, obj, record) if oob is not None else None,
            title=record_title(obj, record))

    async def field_display(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        f = self._field(request, obj)
        record = await run_in_threadpool(self.record, obj, request.path_params["id"], actor)
        return await run_in_threadpool(self._field_response, request, actor, obj, f, record)

    async def field_editor(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        self.check_write(request, actor, obj)
        f = self._field(request, obj)
        record = await run_in_threadpool(self.record, obj, request.path_params["id"], actor)
        if not editable(f, False):
            return await run_in_threadpool(self._field_response, request, actor, obj, f, record)
        value = input_value(f, record.get(f.name))
        locked = await run_in_threadpool(locked_for, self.screens, obj.name, record, actor)
        if locked is not None:
            message = await run_in_threadpool(refusal, self.screens, request, locked, obj.name,
                                              record["id"])
            return await run_in_threadpool(self._field_response, request, actor, obj, f, record,
                                           True, 409, value, "", [message])
        label = ""
        if f.is_relation and record.get(f.name):
            titles = await run_in_threadpool(resolve_titles, self.ws, obj, [record], [f])
            label = titles.get((f.target or "", record[f.name]), "")
        return await run_in_threadpool(self._field_response, request, actor, obj, f, record, True,
                                       200, value, label)

    async def field_save(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        self.check_write(request, actor, obj)
        f = self._field(request, obj)
        rid = request.path_params["id"]
        form = await request.form()
        locale = self.screens.locale(request, actor)
        version_text = str(form.get("version") or "")
        version = int(version_text) if version_text.isdigit() else None
        sent = await run_in_threadpool(read_form, self.ws, obj, form, [f], locale, actor)
        problems = list(sent.problems)
        status = 422
        if not editable(f, False):
            problems.append(FieldProblem(f.name, "read_only", f"{f.display_label(locale)} is read-only"))
        if not problems:
            try:
                record = await run_in_threadpool(self.ws.records.update, obj.name, rid, sent.values,
                                                 self.screens.acting(request, actor), version)
                if not is_partial(request):
                    self.screens.flash(request, self.screens.t(request, "form.saved"))
                    return RedirectResponse(f"/o/{obj.name}/{rid}", 303)
                computed = [x for x in obj.fields if x.is_computed and x.name != f.name]
                return await run_in_threadpool(
                    self._field_response, request, actor, obj, f, record, False, 200, None, "",
                    None, computed, {"HX-Trigger": "record-changed"})
            except ValidationError as exc:
                problems = exc.problems
            except StaleVersion:
                problems, status = [FieldProblem(f.name, "stale",
                                                 self.screens.t(request, "field.stale"))], 409
            except Conflict as exc:
                message = await run_in_threadpool(refusal, self.screens, request, exc, obj.name,
                                                  rid)
                problems, status = [FieldProblem(f.name, "conflict", message)], 409
        record = await run_in_threadpool(self.record, obj, rid, actor)
        per, general = problems_by_field(problems, obj, locale, [f.name])
        errors = per.get(f.name, []) + general
        if status == 409:
            record_version = record["version"]
        else:
            record_version = version or record["version"]
        record = {**record, "version": record_version}
        return await run_in_threadpool(
            self._field_response, request, actor, obj, f, record, True, status,
            sent.raw.get(f.name), sent.labels.get(f.name, ""), errors)

    # -- delete --------------------------------------------------------------------------------------

    async def confirm_delete(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        self.check_write(request, actor, obj)
        record = await run_in_threadpool(self.record, obj, request.path_params["id"], actor)
        locked = await run_in_threadpool(locked_for, self.screens, obj.name, record, actor)
        if locked is not None:
            self.screens.flash(request, await run_in_threadpool(
                refusal, self.screens, request, locked, obj.name, record["id"]), "error")
            return RedirectResponse(f"/o/{obj.name}/{record['id']}", 303)
        return self.screens.render(request, "delete_confirm.html", actor=actor, obj=obj,
                                   record=record, title=record_title(obj, record))

    async def delete(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        self.check_write(request, actor, obj)
        rid = request.path_params["id"]
        record = await run_in_threadpool(self.record, obj, rid, actor)
        try:
            await run_in_threadpool(self.ws.records.delete, obj.name, rid,
                                    self.screens.acting(request, actor))
        except (Conflict, ValidationError) as exc:
            self.screens.flash(request, await run_in_threadpool(
                refusal, self.screens, request, exc, obj.name, rid), "error")
            return RedirectResponse(f"/o/{obj.name}/{rid}", 303)
        self.screens.flash(request, self.screens.t(request, "record.deleted",
                                                   title=record_title(obj, record)))
        return RedirectResponse(f"/o/{obj.name}", 303)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/o/{object}/{id:int}", self.page, methods=["GET"]),
            Route("/o/{object}/{id:int}/delete", self.confirm_delete, methods=["GET"]),
            Route("/o/{object}/{id:int}/delete", self.delete, methods=["POST"]),
            Route("/o/{object}/{id:int}/field/{field}", self.field_display, methods=["GET"]),
            Route("/o/{object}/{id:int}/field/{field}", self.field_save, methods=["POST"]),
            Route("/o/{object}/{id:int}/field/{field}/edit", self.field_editor, methods=["GET"]),
        ]


