"""Kanban boards: a column per picklist value with its count and sum (one GROUP BY in SQL,
loaded right after the board so that it never holds the board back on millions of rows),
20 cards per column with more loaded on scroll, and moves saved through the record service."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import and_, func, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ...errors import Conflict, NotFound, StaleVersion, ValidationError
from ...meta.model import FieldDef, ObjectDef, label_text
from ...records.actor import Actor
from ...records.query import And, Cond, Query, parse_sort
from ..i18n import translate
from ..screens import is_partial
from .approvals import refusal
from .base import ObjectScreens
from .querystate import ListState
from .widgets import (
    default_sort,
    field_of,
    kanban_view,
    option_color,
    option_label,
    problems_by_field,
    record_title,
    resolve_titles,
)

CARDS_PER_PAGE = 20
BLANK = "__blank__"


@dataclass
class Column:
    index: str                 # a safe id part: the option's position, or "blank"
    value: str | None
    label: str
    color: str | None
    count: int | None = 0       # None: not counted yet (the board loads counts after)
    total: Any = None
    cards: list[dict[str, Any]] = field(default_factory=list)
    cursor: str | None = None


class CardKit:
    """What every card of a board shares, worked out once per board rather than once per
    card (a board shows 120 cards and more): the labels and the move menu's options."""

    def __init__(self, group_field: FieldDef, card_fields: list[FieldDef], locale: str):
        self.move = translate(locale, "kanban.move")
        self.move_button = translate(locale, "kanban.move_button")
        self.group_label = group_field.display_label(locale)
        self.labels = {f.name: f.display_label(locale) for f in card_fields}
        self._choices = [(o.value, label_text(o.label, locale, o.value))
                         for o in group_field.options if o.active]
        self._options: dict[Any, Markup] = {}

    def options(self, selected: Any) -> Markup:
        """The move menu's ``<option>``s with ``selected`` chosen."""
        try:
            return self._options[selected]
        except (KeyError, TypeError):
            pass
        html = Markup("".join(
            f'<option value="{escape(value)}"{" selected" if value == selected else ""}>'
            f"{escape(label)}</option>" for value, label in self._choices))
        if isinstance(selected, str | None):
            self._options[selected] = html
        return html


def sum_field(obj: ObjectDef, view: dict[str, Any]) -> FieldDef | None:
    """The field a board sums in its column heads, if any."""
    name = view.get("sum")
    return obj.field(name) if name and obj.has_field(name) else None


class KanbanScreens(ObjectScreens):
    def board_view(self, request: Request, obj: ObjectDef) -> dict[str, Any]:
        view = kanban_view(obj)
        if view is None:
            raise NotFound(self.screens.t(request, "kanban.none", object=obj.name))
        return view

    def _base_query(self, obj: ObjectDef, state: ListState, view: dict[str, Any]) -> Query:
        q = state.query(self.ws, obj, cursor=False)
        q.sort = parse_sort(view.get("sort") or default_sort(obj))
        q.limit = CARDS_PER_PAGE
        return q

    def summaries(self, obj: ObjectDef, view: dict[str, Any], q: Query,
                  actor: Actor) -> dict[Any, tuple[int, Any]]:
        """{group value: (count, sum)} in one GROUP BY query over the records the actor
        may read (a hidden or sensitive sum field is not summed)."""
        t = self.ws.table(obj.name)
        compiler = self.ws.compiler()
        col = t.c[view["group_by"]]
        where = compiler.where(obj, q.filter)
        if q.search:
            where = and_(where, compiler.search(obj, q.search))
        where = and_(where, self.ws.records.readable(obj, t, actor))
        sum_name = view.get("sum")
        if sum_name in self.ws.access.hidden_fields(actor, obj) or (
                sum_name in obj.sensitive_names and not actor.is_admin):
            sum_name = None
        aggregates = [func.count()]
        if sum_name and sum_name in t.c:
            aggregates.append(func.coalesce(func.sum(t.c[sum_name]), 0))
        stmt = select(col, *aggregates).where(where).group_by(col)
        with self.ws.read_engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return {r[0]: (int(r[1]), r[2] if len(r) > 2 else None) for r in rows}

    def columns(self, obj: ObjectDef, view: dict[str, Any], q: Query, locale: str,
                counted: bool = True, actor: Actor | None = None) -> list[Column]:
        """The board's columns: every active option, and an inactive one or the blank column
        while records are in it. With ``counted``, each with its count and sum; without,
        every candidate column, uncounted (the board drops the empty inactive ones)."""
        f = obj.field(view["group_by"])
        sums = self.summaries(obj, view, q, actor) if counted and actor is not None else None
        cols = [Column(str(i), o.value, option_label(f, o.value, locale), option_color(f, o.value),
                       count=None)
                for i, o in enumerate(f.options) if o.active or sums is None or o.value in sums]
        if sums is None or sums.get(None, (0, None))[0]:
            cols.append(Column("blank", None, "", None, count=None))
        if sums is not None:
            for c in cols:
                c.count, c.total = sums.get(c.value, (0, None))
                if view.get("sum") and c.total is None:
                    c.total = Decimal(0)
        return cols

    def shown(self, obj: ObjectDef, view: dict[str, Any], cols: list[Column]) -> list[Column]:
        """Of uncounted columns, those the board shows: active options and non-empty others."""
        active = {o.value for o in obj.field(view["group_by"]).options if o.active}
        return [c for c in cols if c.cards or (c.value is not None and c.value in active)]

    def cards(self, obj: ObjectDef, view: dict[str, Any], q: Query, value: str | None,
              cursor: str | None, actor: Actor) -> tuple[list[dict[str, Any]], str | None]:
        group = Cond(view["group_by"], "is_blank") if value is None else \
            Cond(view["group_by"], "eq", value)
        query = Query(filter=And((group, *([q.filter] if q.filter else []))), search=q.search,
                      sort=q.sort, limit=CARDS_PER_PAGE, cursor=cursor)
        page = self.ws.records.query(obj.name, query, actor)
        return page.data, page.next_cursor

    def card_fields(self, obj: ObjectDef, view: dict[str, Any]) -> list[FieldDef]:
        names = [n for n in view.get("card") or () if n != obj.title]
        return [f for f in (field_of(obj, n) for n in names) if f is not None]

    def board_context(self, request: Request, actor: Actor, obj: ObjectDef) -> dict[str, Any]:
        view = self.board_view(request, obj)
        state = ListState.from_params(request.query_params, obj)
        locale = self.screens.locale(request, actor)
        error = None

        def load() -> list[Column]:
            q = self._base_query(obj, state, view)
            cols = self.columns(obj, view, q, locale, counted=False)
            for c in cols:
                c.cards, c.cursor = self.cards(obj, view, q, c.value, None, actor)
            return self.shown(obj, view, cols)

        try:
            cols = load()
        except ValidationError as exc:  # a bad filter: say so, show the whole board
            error = "; ".join(p.message for p in exc.problems)
            state.filters, state.search = [], ""
            cols = load()
        card_fields = self.card_fields(obj, view)
        records = [r for c in cols for r in c.cards]
        group_field = obj.field(view["group_by"])
        return {"obj": obj, "view": view, "columns": cols, "card_fields": card_fields,
                "kit": CardKit(group_field, card_fields, locale),
                "titles": resolve_titles(self.ws, obj, records, card_fields, actor), "error": error,
                "state": state, "filter_qs": state.url_query(obj, cursor=""),
                "sum_field": sum_field(obj, view),
                "group_field": group_field, "record_title": record_title,
                "can_write": not obj.system or actor.is_admin}

    async def board(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        context = await run_in_threadpool(self.board_context, request, actor, obj)
        return self.screens.render(request, "kanban.html", 400 if context["error"] else 200,
                                   actor, **context)

    def more_context(self, request: Request, obj: ObjectDef, locale: str = "en",
                     actor: Actor | None = None) -> dict[str, Any]:
        view = self.board_view(request, obj)
        state = ListState.from_params(request.query_params, obj)
        params = request.query_params
        value = params.get("value")
        value = None if value in (None, BLANK) else str(value)
        f = obj.field(view["group_by"])
        if value is not None and value not in f.option_values:
            raise NotFound(self.screens.t(request, "kanban.no_column"))
        q = self._base_query(obj, state, view)
        actor = actor or request.scope["actor"]
        cards, cursor = self.cards(obj, view, q, value, str(params.get("cursor") or "") or None,
                                   actor)
        card_fields = self.card_fields(obj, view)
        index = "blank" if value is None else str(f.option_values.index(value))
        column = Column(index, value, "", None, cards=cards, cursor=cursor)
        return {"obj": obj, "view": view, "column": column, "card_fields": card_fields,
                "kit": CardKit(f, card_fields, locale),
                "titles": resolve_titles(self.ws, obj, cards, card_fields, actor),
                "filter_qs": state.url_query(obj, cursor=""), "record_title": record_title,
                "group_field": f, "can_write": True}

    async def more(self, request: Request) -> Response:
        """The next cards of one column (the scroll sentinel's request)."""
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        context = await run_in_threadpool(self.more_context, request, obj,
                                          self.screens.locale(request, actor), actor)
        context["can_write"] = not obj.system or actor.is_admin
        return self.screens.render(request, "partials/kanban_cards.html", actor=actor, **context)

    # -- moving a card --------------------------------------------------------------------------

    async def move(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        self.check_write(request, actor, obj)
        form = await request.form()
        rid = request.path_params["id"]
        f = self._moved_field(request, obj, str(form.get("field") or ""))
        value = str(form.get("value") or "")
        value_or_none = None if value in ("", BLANK) else value
        version_text = str(form.get("version") or "")
        version = int(version_text) if version_text.isdigit() else None
        back = str(form.get("_back") or "")
        back = back if back.startswith(f"/o/{obj.name}") and "//" not in back else \
            f"/o/{obj.name}/kanban"
        locale = self.screens.locale(request, actor)
        message, status = None, 200
        try:
            record = await run_in_threadpool(self.ws.records.update, obj.name, rid,
                                             {f.name: value_or_none},
                                             self.screens.acting(request, actor), version)
        except ValidationError as exc:
            _per, general = problems_by_field(exc.problems, obj, locale, ())
            message, status = "; ".join(general), 422
        except StaleVersion:
            message, status = self.screens.t(request, "kanban.stale"), 409
        except Conflict as exc:
            message = await run_in_threadpool(refusal, self.screens, request, exc, obj.name, rid)
            status = 409
        if not is_partial(request):
            if message:
                self.screens.flash(request, message, "error")
            else:
                self.screens.flash(request, self.screens.t(
                    request, "kanban.moved", title=record_title(obj, record),
                    column=option_label(f, value_or_none, locale) if value_or_none else "—"))
            return RedirectResponse(back, 303)
        if message:
            return Response(message, status_code=status, media_type="text/plain")
        context = await run_in_threadpool(self.board_context_after_move, request, actor, obj,
                                          record)
        return self.screens.render(request, "partials/kanban_moved.html", actor=actor,
                                   **context)

    def _moved_field(self, request: Request, obj: ObjectDef, name: str) -> FieldDef:
        """The field a move changes: the board's column field, or (from the stage path) the
        field of one of the object's stage workflows."""
        workflow = self.ws.workflows.on_field(obj.name, name) if name else None
        if workflow is not None:
            return workflow.field
        return obj.field(self.board_view(request, obj)["group_by"])

    def board_context_after_move(self, request: Request, actor: Actor, obj: ObjectDef,
                                 record: dict[str, Any]) -> dict[str, Any]:
        view = self.board_view(request, obj)
        state = ListState.from_params(request.query_params, obj)
        locale = self.screens.locale(request, actor)
        try:
            q = self._base_query(obj, state, view)
            cols = self.columns(obj, view, q, locale, actor=actor)
        except ValidationError:
            q = self._base_query(obj, ListState(), view)
            cols = self.columns(obj, view, q, locale, actor=actor)
        card_fields = self.card_fields(obj, view)
        return {"obj": obj, "view": view, "columns": cols, "record": record,
                "card_fields": card_fields,
                "kit": CardKit(obj.field(view["group_by"]), card_fields, locale),
                "titles": resolve_titles(self.ws, obj, [record], card_fields, actor),
                "sum_field": sum_field(obj, view),
                "group_field": obj.field(view["group_by"]), "record_title": record_title,
                "can_write": True}

    def summary_context(self, request: Request, actor: Actor, obj: ObjectDef) -> dict[str, Any]:
        view = self.board_view(request, obj)
        state = ListState.from_params(request.query_params, obj)
        try:
            q = self._base_query(obj, state, view)
            cols = self.columns(obj, view, q, self.screens.locale(request, actor), actor=actor)
        except ValidationError:  # the board showed everything: so do its counts
            q = self._base_query(obj, ListState(), view)
            cols = self.columns(obj, view, q, self.screens.locale(request, actor), actor=actor)
        return {"obj": obj, "columns": cols,
                "sum_field": sum_field(obj, view)}

    async def summary(self, request: Request) -> Response:
        """Every column's count and sum, as out-of-band column heads for the board."""
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        context = await run_in_threadpool(self.summary_context, request, actor, obj)
        return self.screens.render(request, "partials/kanban_heads.html", actor=actor, **context)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/o/{object}/kanban", self.board, methods=["GET"]),
            Route("/o/{object}/kanban/summary", self.summary, methods=["GET"]),
            Route("/o/{object}/kanban/cards", self.more, methods=["GET"]),
            Route("/o/{object}/{id:int}/move", self.move, methods=["POST"]),
        ]
