"""Create and edit forms: a widget per field type, server validation shown next to each
field with what the user typed kept, optimistic concurrency through the record's version,
and the lookup search the lookup widgets call."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ...auth.access import MASK
from ...errors import Conflict, FieldProblem, StaleVersion, ValidationError
from ...meta.model import FieldDef, ObjectDef
from ...plugins import warnings
from ...records.actor import Actor
from ...records.query import Cond, Query
from .approvals import locked_for, refusal
from .base import ObjectScreens
from .widgets import (
    editable,
    form_sections,
    input_values,
    problems_by_field,
    read_form,
    record_title,
    resolve_titles,
    titles_of,
    widget_of,
)

LOOKUP_RESULTS = 10


class FormScreens(ObjectScreens):
    def _fields(self, obj: ObjectDef, creating: bool, actor: Actor) -> list[FieldDef]:
        """The fields the form sends: not those the user's role may not change."""
        closed = self.ws.access.readonly_fields(actor, obj)
        return [f for f in obj.fields if editable(f, creating) and f.name not in closed]

    def _lookup_labels(self, obj: ObjectDef, values: dict[str, Any],
                       actor: Actor) -> dict[str, str]:
        """The titles the form's lookup inputs show (a record the actor may not read: its
        number)."""
        wanted: dict[str, set[int]] = {}
        for f in obj.fields:
            v = values.get(f.name)
            if f.is_relation and f.target and str(v or "").isdigit():
                wanted.setdefault(f.target, set()).add(int(v))
        titles = titles_of(self.ws, wanted, actor)
        return {f.name: titles.get((f.target or "", int(values[f.name])), f"#{values[f.name]}")
                for f in obj.fields if f.is_relation and str(values.get(f.name) or "").isdigit()}

    def render_form(self, request: Request, actor: Actor, obj: ObjectDef,
                    record: dict[str, Any] | None, values: dict[str, Any],
                    labels: dict[str, str], problems: list[FieldProblem] | None = None,
                    status: int = 200, notice: str | None = None,
                    version: int | None = None) -> Response:
        locale = self.screens.locale(request, actor)
        creating = record is None
        closed = self.ws.access.readonly_fields(actor, obj)
        sections = form_sections(obj, locale, self.screens.t(request, "form.more_fields"),
                                 self.ws.access.hidden_fields(actor, obj))
        shown = [f.name for s in sections for f in s.fields]
        per_field, general = problems_by_field(problems or [], obj, locale, shown)
        titles = resolve_titles(self.ws, obj, [record], obj.fields, actor) if record else {}
        return self.screens.render(
            request, "form.html", status, actor, obj=obj, record=record, creating=creating,
            sections=sections, values=values, labels=labels, errors=per_field,
            general_errors=general, notice=notice, titles=titles,
            version=version if version is not None else (record or {}).get("version"),
            editable=lambda f: editable(f, creating) and f.name not in closed, widget_of=lambda f: widget_of(self.ws, f),
            title=record_title(obj, record) if record else None)

    # -- create -------------------------------------------------------------------------

    async def new(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        self.check_write(request, actor, obj)
        values = input_values(obj, {})
        for f in obj.fields:  # defaults, then what the link asked for (?account=12)
            if f.default is not None and not f.is_computed:
                values[f.name] = f.default if f.type != "multi_picklist" else list(f.default)
            given = request.query_params.getlist(f.name)
            if given and editable(f, True):
                values[f.name] = given if f.type == "multi_picklist" else \
                    (given[0] in {"1", "true", "on"} if f.type == "boolean" else given[0])
        labels = await run_in_threadpool(self._lookup_labels, obj, values, actor)
        return await run_in_threadpool(self.render_form, request, actor, obj, None, values, labels)

    async def create(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        self.check_write(request, actor, obj)
        form = await request.form()
        locale = self.screens.locale(request, actor)
        sent = await run_in_threadpool(read_form, self.ws, obj, form,
                                       self._fields(obj, True, actor), locale, actor)
        problems = list(sent.problems)
        record, warned = None, []
        if not problems:
            try:
                record, warned = await run_in_threadpool(
                    self._create, obj, sent.values, self.screens.acting(request, actor))
            except ValidationError as exc:
                problems = exc.problems
            except Conflict as exc:
                problems = [FieldProblem(None, "conflict", str(exc))]
        if record is None:
            labels = {**sent.labels,
                      **await run_in_threadpool(self._lookup_labels, obj, sent.raw, actor)}
            return await run_in_threadpool(self.render_form, request, actor, obj, None, sent.raw,
                                           labels, problems, 422)
        self.screens.flash(request, self.screens.t(
            request, "form.created", object=obj.display_label(locale),
            title=record_title(obj, record)))
        for warning in warned[:3]:  # a plugin's (a possible duplicate)
            self.screens.flash(request, warning, "error")
        return RedirectResponse(f"/o/{obj.name}/{record['id']}", 303)

    def _create(self, obj: ObjectDef, values: dict[str, Any], actor: Actor
                ) -> tuple[dict[str, Any], list[str]]:
        """The new record, and the warnings plugins gave about it."""
        with self.ws.transaction() as conn:
            record = self.ws.records.create(obj.name, values, actor, conn=conn)
            return record, warnings(conn)

    # -- edit -----------------------------------------------------------------------------

    async def edit(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        self.check_write(request, actor, obj)
        record = await run_in_threadpool(self.record, obj, request.path_params["id"], actor)
        locked = await run_in_threadpool(locked_for, self.screens, obj.name, record, actor)
        if locked is not None:
            self.screens.flash(request, await run_in_threadpool(
                refusal, self.screens, request, locked, obj.name, record["id"]), "error")
            return RedirectResponse(f"/o/{obj.name}/{record['id']}", 303)
        values = input_values(obj, record)
        labels = await run_in_threadpool(self._lookup_labels, obj, values, actor)
        return await run_in_threadpool(self.render_form, request, actor, obj, record, values, labels)

    async def update(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        self.check_write(request, actor, obj)
        form = await request.form()
        locale = self.screens.locale(request, actor)
        rid = request.path_params["id"]
        version_text = str(form.get("version") or "")
        version = int(version_text) if version_text.isdigit() else None
        sent = await run_in_threadpool(read_form, self.ws, obj, form,
                                       self._fields(obj, False, actor), locale, actor)
        problems = list(sent.problems)
        status, notice = 422, None
        if obj.sensitive_names and not actor.is_admin:
            # a masked value the user did not retype stays as it is (blank too: the input
            # of a masked number or date cannot hold the mask)
            for name in obj.sensitive_names:
                if str(sent.raw.get(name) or "") in {"", MASK}:
                    sent.values.pop(name, None)
        if not problems:
            try:
                await run_in_threadpool(self.ws.records.update, obj.name, rid, sent.values,
                                        self.screens.acting(request, actor), version)
                self.screens.flash(request, self.screens.t(request, "form.saved"))
                return RedirectResponse(f"/o/{obj.name}/{rid}", 303)
            except ValidationError as exc:
                problems = exc.problems
            except StaleVersion:
                status, notice = 409, "stale"
            except Conflict as exc:
                message = await run_in_threadpool(refusal, self.screens, request, exc, obj.name,
                                                  rid)
                problems, status = [FieldProblem(None, "conflict", message)], 409
        current = await run_in_threadpool(self.record, obj, rid, actor)
        labels = {**sent.labels,
                      **await run_in_threadpool(self._lookup_labels, obj, sent.raw, actor)}
        changed = None
        if notice == "stale":
            # keep what the user typed; the next save is made against the newest version
            theirs = input_values(obj, current)
            changed = [f.display_label(locale) for f in self._fields(obj, False, actor)
                       if theirs.get(f.name) != sent.raw.get(f.name)]
            version = current["version"]
            notice = self.screens.t(request, "form.stale", fields=", ".join(changed) or "—")
        return await run_in_threadpool(self.render_form, request, actor, obj, current, sent.raw,
                                       labels, problems, status, notice, version)

    # -- lookup search ------------------------------------------------------------------------

    def _search(self, target: ObjectDef, text: str, actor: Actor) -> list[dict[str, Any]]:
        title = target.title
        sort = [(title, False)] if title != "id" and \
            target.field(title).value_type not in {"multi_picklist", "json", "rich_text"} else []
        if not text:
            return self.ws.records.query(target.name, Query(sort=[("updated_at", True)],
                                                             limit=LOOKUP_RESULTS), actor).data
        found = self.ws.records.query(target.name, Query(search=text, sort=sort,
                                                         limit=LOOKUP_RESULTS), actor).data
        if not found and title != "id" and target.field(title).value_type in {"text", "email"}:
            found = self.ws.records.query(target.name, Query(filter=Cond(title, "contains", text),
                                                             sort=sort, limit=LOOKUP_RESULTS), actor).data
        return found

    async def lookup(self, request: Request) -> Response:
        """Records of this object whose title matches ``q`` (or any ``*__label`` value)."""
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        params = request.query_params
        text = params.get("q")
        if text is None:
            text = next((v for k, v in params.multi_items() if k.endswith("__label")), "")
        text = str(text).strip()[:200]
        records = await run_in_threadpool(self._search, obj, text, actor)
        return self.screens.render(request, "partials/lookup_options.html", actor=actor, obj=obj,
                                   records=records, record_title=record_title, text=text,
                                   list_id=str(params.get("list") or "")[:80])

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/o/{object}/lookup", self.lookup, methods=["GET"]),
            Route("/o/{object}/new", self.new, methods=["GET"]),
            Route("/o/{object}/new", self.create, methods=["POST"]),
            Route("/o/{object}/{id:int}/edit", self.edit, methods=["GET"]),
            Route("/o/{object}/{id:int}/edit", self.update, methods=["POST"]),
        ]
