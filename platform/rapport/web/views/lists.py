"""The list view of an object: columns, sort, filters, search, keyset pages, a lazy count,
saved views, bulk actions and export of the current view."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from ...errors import Conflict, NotFound, RapportError, StaleVersion, ValidationError
from ...meta.model import FieldDef, ObjectDef
from ...records.actor import Actor
from ...records.query import MAX_LIMIT, PERIODS, Page, Query
from ...records.service import to_json
from ...records.transfer import safe_cell, write_csv, write_xlsx
from ..screens import is_partial
from .actions import ACTION_PREFIX, ActionScreens
from .base import ObjectScreens
from .querystate import NO_VALUE_OPS, PAGE_SIZES, FilterRow, ListState
from .saved import clean_query_string, delete_view, ensure_table, list_views, save_view
from .widgets import (
    editable,
    field_of,
    input_value,
    kanban_view,
    list_columns,
    operators_of,
    problems_by_field,
    read_form,
    record_title,
    resolve_titles,
    widget_of,
)

MAX_BULK = 500
EXPORT_BATCH = 1000
UNSORTABLE = frozenset({"multi_picklist", "json", "rich_text"})


def filterable_fields(obj: ObjectDef) -> list[FieldDef]:
    fields = [f for f in obj.fields if f.value_type != "json"]
    return fields + [field_of(obj, n) for n in ("owner", "created_at", "updated_at")]  # type: ignore[misc]


def filter_value_widget(f: FieldDef | None, op: str, numeric: bool = False) -> str:
    """The input a filter row shows for its value (``numeric``: a plugin's field type whose
    values are numbers)."""
    if f is None or op in NO_VALUE_OPS:
        return "none"
    if op == "in_period":
        return "period"
    if op == "between":
        return "between"
    vt = f.value_type
    if vt in {"picklist", "multi_picklist"} and op in {"eq", "ne", "contains"}:
        return "options"
    if vt == "boolean":
        return "boolean"
    if vt in {"date", "datetime"}:
        return "date"
    if (numeric or vt in {"integer", "decimal", "currency", "percent"}) \
            and op not in {"in", "not_in"}:
        return "number"
    return "text"


class ListScreens(ObjectScreens):
    def __init__(self, screens: Any):
        super().__init__(screens)
        ensure_table(self.ws)

    # -- the list ---------------------------------------------------------------------

    def _row_context(self, request: Request, obj: ObjectDef, row: FilterRow, index: int
                     ) -> dict[str, Any]:
        f = field_of(obj, row.field) if row.field else None
        ops = operators_of(self.ws, f) if f else ()
        if f is not None and row.op not in ops:
            row.op = ops[0] if ops else ""
        return {"row": row, "index": index, "field": f, "ops": ops,
                "value_widget": filter_value_widget(f, row.op, f is not None and f.value_type
                                                    in self.ws.types and
                                                    self.ws.types[f.value_type].numeric)}

    def list_context(self, request: Request, actor: Actor, obj: ObjectDef,
                     state: ListState) -> dict[str, Any]:
        columns = list_columns(obj)
        error = None
        try:
            page = self.ws.records.query(obj.name, state.query(self.ws, obj),
                                         self.screens.acting(request, actor))
        except ValidationError as exc:
            page, error = Page([], None), "; ".join(p.message for p in exc.problems)
        titles = resolve_titles(self.ws, obj, page.data, columns, actor)
        sorts = {}
        for f in columns:
            if f.value_type not in UNSORTABLE:
                sorts[f.name] = state.sort_link(obj, f.name)
        base_qs = state.url_query(obj, cursor="")
        return {
            "obj": obj, "state": state, "columns": columns, "records": page.data,
            "next_cursor": page.next_cursor, "titles": titles, "sorts": sorts, "error": error,
            "query_string": base_qs, "next_qs": state.url_query(obj, cursor=page.next_cursor or ""),
            "first_qs": base_qs, "saved_qs": clean_query_string(base_qs),
            "filter_rows": [self._row_context(request, obj, r, i)
                            for i, r in enumerate(state.filters)],
            "filter_fields": filterable_fields(obj), "periods": PERIODS, "page_sizes": PAGE_SIZES,
            "bulk_fields": [f for f in obj.fields if editable(f, False) and f.value_type != "json"],
            "kanban": kanban_view(obj) is not None, "record_title": record_title,
            "can_write": not obj.system or actor.is_admin,
            "bulk_actions": self.ws.actions.for_object(obj.name, actor, bulk=True),
        }

    async def list_page(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        state = ListState.from_params(request.query_params, obj)
        context = await run_in_threadpool(self.list_context, request, actor, obj, state)
        status = 400 if context["error"] else 200
        if is_partial(request) and request.headers.get("hx-target") == "results":
            return self.screens.render(request, "partials/list_results.html", status, actor,
                                       **context)
        context["saved_views"] = await run_in_threadpool(list_views, self.ws, actor.id, obj.name)
        return self.screens.render(request, "list.html", status, actor, **context)

    async def count(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        state = ListState.from_params(request.query_params, obj)
        try:
            n = await run_in_threadpool(self.ws.records.count, obj.name,
                                        state.query(self.ws, obj, cursor=False), actor)
        except ValidationError:
            n = 0
        return self.screens.render(request, "partials/list_count.html", actor=actor, count=n)

    async def filter_row(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        p = request.query_params
        row = FilterRow(str(p.get("f") or obj.title), str(p.get("op") or ""), str(p.get("v") or ""),
                        str(p.get("v2") or ""))
        if field_of(obj, row.field) is None:
            row.field = obj.title
        context = self._row_context(request, obj, row, 0)
        return self.screens.render(request, "partials/filter_row.html", actor=actor, obj=obj,
                                   filter_fields=filterable_fields(obj), periods=PERIODS, **context)

    async def bulk_widget(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        name = str(request.query_params.get("_field") or "")
        f = obj.field(name) if obj.has_field(name) and editable(obj.field(name), False) else None
        return self.screens.render(request, "partials/bulk_value.html", actor=actor, obj=obj,
                                   f=f, widget_kind=widget_of(self.ws, f) if f else "text",
                                   value=input_value(f, None) if f else "")

    # -- saved views ------------------------------------------------------------------------

    async def save(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        form = await request.form()
        name = str(form.get("name") or "").strip()[:100]
        qs = clean_query_string(str(form.get("query_string") or ""))
        if not name:
            self.screens.flash(request, self.screens.t(request, "views.name_needed"), "error")
        else:
            await run_in_threadpool(save_view, self.ws, actor.id, obj.name, name, qs)
            self.screens.flash(request, self.screens.t(request, "views.saved", name=name))
        return RedirectResponse(f"/o/{obj.name}?{qs}" if qs else f"/o/{obj.name}", 303)

    async def unsave(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        done = await run_in_threadpool(delete_view, self.ws, actor.id, obj.name,
                                       request.path_params["view_id"])
        if not done:
            raise NotFound(self.screens.t(request, "views.not_found"))
        self.screens.flash(request, self.screens.t(request, "views.deleted"))
        return RedirectResponse(f"/o/{obj.name}", 303)

    # -- bulk actions ---------------------------------------------------------------------------

    def _back(self, obj: ObjectDef, form: Any) -> str:
        back = str(form.get("_back") or "")
        prefix = f"/o/{obj.name}"
        return back if back == prefix or back.startswith(prefix + "?") else prefix

    async def bulk(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        self.check_write(request, actor, obj)
        form = await request.form()
        back = self._back(obj, form)
        ids = sorted({int(v) for v in form.getlist("_ids") if str(v).isdigit()})[:MAX_BULK]
        action = str(form.get("_action") or "")
        t = self.screens.t
        if not ids:
            self.screens.flash(request, t(request, "bulk.none_selected"), "error")
            return RedirectResponse(back, 303)
        acting = self.screens.acting(request, actor)
        if action == "delete":
            if form.get("_confirm") != "1":
                records = await run_in_threadpool(self._records, obj, ids, actor)
                return self.screens.render(request, "bulk_confirm.html", actor=actor, obj=obj,
                                           records=records, back=back,
                                           record_title=record_title)
            failures = await run_in_threadpool(self._bulk_delete, obj, ids, acting)
            if failures:
                self.screens.flash(request, t(request, "bulk.nothing_deleted") + " " +
                                   "; ".join(failures[:5]), "error")
            else:
                self.screens.flash(request, t(request, "bulk.deleted", n=len(ids)))
            return RedirectResponse(back, 303)
        if action == "set":
            name = str(form.get("_field") or "")
            if not obj.has_field(name) or not editable(obj.field(name), False):
                self.screens.flash(request, t(request, "bulk.pick_field"), "error")
                return RedirectResponse(back, 303)
            f = obj.field(name)
            locale = self.screens.locale(request, actor)
            if f.name not in form and f"{f.name}__label" not in form and "_value" in form:
                # sent without scripts: the generic value box stands for the field's widget
                form = ImmutableMultiDict([(f.name, v) for v in form.getlist("_value")])
            sent = await run_in_threadpool(read_form, self.ws, obj, form, [f], locale,
                                           actor)
            failures = [p.message for p in sent.problems]
            if not failures:
                failures = await run_in_threadpool(self._bulk_set, obj, ids, sent.values, acting,
                                                   locale)
            if failures:
                self.screens.flash(request, t(request, "bulk.nothing_changed") + " " +
                                   "; ".join(failures[:5]), "error")
            else:
                self.screens.flash(request, t(request, "bulk.changed", n=len(ids),
                                              field=f.display_label(locale)))
            return RedirectResponse(back, 303)
        if action.startswith(ACTION_PREFIX):
            return await ActionScreens(self.screens).run(
                request, obj, actor, action[len(ACTION_PREFIX):], ids, back, True, form)
        self.screens.flash(request, t(request, "bulk.unknown_action"), "error")
        return RedirectResponse(back, 303)

    def _records(self, obj: ObjectDef, ids: list[int], actor: Actor) -> list[dict[str, Any]]:
        from ...records.query import Cond

        return self.ws.records.query(obj.name, Query(filter=Cond("id", "in", ids),
                                                     limit=len(ids)), actor).data

    def _bulk_delete(self, obj: ObjectDef, ids: list[int], actor: Actor) -> list[str]:
        """All or nothing, in one transaction; the reasons when something refused."""
        failures: list[str] = []
        with self.ws.transaction() as conn:
            for rid in ids:
                try:
                    self.ws.records.delete(obj.name, rid, actor, conn=conn)
                except NotFound:
                    continue
                except (Conflict, ValidationError) as exc:
                    failures.append(f"#{rid}: {exc}")
            if failures:
                conn.info["rapport_rollback"] = True
        return failures

    def _bulk_set(self, obj: ObjectDef, ids: list[int], values: dict[str, Any], actor: Actor,
                  locale: str) -> list[str]:
        failures: list[str] = []
        with self.ws.transaction() as conn:
            for rid in ids:
                try:
                    self.ws.records.update(obj.name, rid, values, actor, conn=conn)
                except NotFound:
                    continue
                except ValidationError as exc:
                    _per, general = problems_by_field(exc.problems, obj, locale, ())
                    failures.append(f"#{rid}: " + "; ".join(general))
                except (Conflict, StaleVersion) as exc:
                    failures.append(f"#{rid}: {exc}")
            if failures:
                conn.info["rapport_rollback"] = True
        return failures

    # -- export -----------------------------------------------------------------------------------

    def _export_rows(self, obj: ObjectDef, query: Query, names: list[str],
                     actor: Actor) -> Iterator[list[Any]]:
        query.limit = EXPORT_BATCH if EXPORT_BATCH <= MAX_LIMIT else MAX_LIMIT
        query.cursor = None
        while True:
            page = self.ws.records.query(obj.name, query, actor)
            for record in page.data:
                out = []
                for n in names:
                    v = to_json(record.get(n))
                    if isinstance(v, list):
                        v = ";".join(map(str, v))
                    elif isinstance(v, dict):
                        v = json.dumps(v, ensure_ascii=False)
                    out.append(safe_cell(v))
                yield out
            if not page.next_cursor:
                return
            query.cursor = page.next_cursor

    def _export(self, obj: ObjectDef, state: ListState, fmt: str, actor: Actor) -> Any:
        names = ["id", *[f.name for f in list_columns(obj) if f.name != "id"]]
        query = state.query(self.ws, obj, cursor=False)
        spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
        rows = self._export_rows(obj, query, names, actor)
        if fmt == "xlsx":
            write_xlsx(names, rows, spool, title=obj.name)
        else:
            import io

            text = io.TextIOWrapper(spool, encoding="utf-8-sig", newline="")
            write_csv(names, rows, text)
            text.flush()
            text.detach()
        spool.seek(0)
        return spool

    async def export(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        fmt = "xlsx" if request.query_params.get("format") == "xlsx" else "csv"
        state = ListState.from_params(request.query_params, obj)

        def allowed() -> None:
            from ...auth import audit

            self.ws.access.require(actor, obj, "export")
            audit.record(self.ws, "export", actor, address=request.client.host
                         if request.client else None, object_name=obj.name,
                         detail={"format": fmt, "query": str(request.query_params)[:500]})
        await run_in_threadpool(allowed)
        try:
            spool = await run_in_threadpool(self._export, obj, state, fmt, actor)
        except ValidationError as exc:
            raise RapportError(str(exc)) from None

        def chunks() -> Iterator[bytes]:
            try:
                while data := spool.read(64 * 1024):
                    yield data
            finally:
                spool.close()
        media = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                 if fmt == "xlsx" else "text/csv; charset=utf-8")
        return StreamingResponse(chunks(), media_type=media, headers={
            "content-disposition": f'attachment; filename="{obj.name}.{fmt}"',
            "cache-control": "no-store"})

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/o/{object}", self.list_page, methods=["GET"]),
            Route("/o/{object}/count", self.count, methods=["GET"]),
            Route("/o/{object}/filter-row", self.filter_row, methods=["GET"]),
            Route("/o/{object}/bulk-value", self.bulk_widget, methods=["GET"]),
            Route("/o/{object}/export", self.export, methods=["GET"]),
            Route("/o/{object}/bulk", self.bulk, methods=["POST"]),
            Route("/o/{object}/views", self.save, methods=["POST"]),
            Route("/o/{object}/views/{view_id:int}/delete", self.unsave, methods=["POST"]),
        ]


