"""Dashboards: a 12-column grid of tiles, each loading its own report (a big figure, a chart
or the first rows of a table) after the page, under one period picker kept in the URL. A
tile whose report fails says so inside the tile; the page never fails for it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...errors import NotFound, RapportError
from ...meta.model import Definition, label_text
from ...records.actor import Actor
from ...reports import visual
from ..i18n import translate
from ..screens import is_partial
from .report_tables import table_of
from .reports import (
    ReportScreens,
    chart_view,
    drill_url_of,
    period_choices,
    period_field,
    period_label,
    valid_period,
)

if TYPE_CHECKING:
    from ..screens import Screens

log = logging.getLogger(__name__)

#: Rows a table tile shows.
TILE_ROWS = 8
#: Drawing size of a grid column and a grid row (the SVG scales to the tile).
COLUMN_PX, ROW_PX = 96, 150


@dataclass
class TileSpec:
    index: int
    report: str
    type: str
    title: str
    aggregate: str | None
    width: int
    height: int
    exists: bool


class DashboardScreens:
    def __init__(self, screens: Screens):
        self.screens = screens
        self.ws = screens.ws
        self.reports = ReportScreens(screens)

    def dashboard(self, request: Request, name: str) -> Definition:
        d = self.ws.meta.dashboards.get(name)
        if d is None:
            raise NotFound(self.screens.t(request, "dashboard.not_found", name=str(name)[:60]))
        return d

    def label(self, d: Definition, locale: str) -> str:
        return label_text(d.data.get("label"), locale, d.name.replace("_", " ").capitalize())

    def specs(self, d: Definition, locale: str) -> list[TileSpec]:
        out = []
        for i, tile in enumerate(d.data.get("tiles") or ()):
            report = self.ws.meta.reports.get(str(tile.get("report") or ""))
            fallback = report.data.get("label") if report is not None else None
            title = label_text(tile.get("title") or fallback, locale,
                               str(tile.get("report") or "").replace("_", " ").capitalize())
            out.append(TileSpec(i, str(tile.get("report") or ""), str(tile.get("type") or "chart"),
                                title, tile.get("aggregate"),
                                max(1, min(12, int(tile.get("width") or 6))),
                                max(1, min(6, int(tile.get("height") or 2))), report is not None))
        return out

    def period(self, request: Request, d: Definition) -> tuple[str | None, str]:
        """(the date field the picker filters, the period chosen or the default)."""
        date_filter = d.data.get("date_filter") or {}
        field = date_filter.get("field")
        if not field:
            return None, "all"
        chosen = request.query_params.get("period")
        if chosen and valid_period(chosen):
            return field, chosen
        default = date_filter.get("default")
        return field, default if valid_period(default) else "all"

    # -- the pages ----------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        locale = self.screens.locale(request, actor)
        boards = [{"name": n, "label": self.label(d, locale), "tiles": len(d.data.get("tiles") or ())}
                  for n, d in sorted(self.ws.meta.dashboards.items())]
        return self.screens.render(request, "dashboards.html", actor=actor, dashboards=boards)

    def page_context(self, request: Request, actor: Actor, name: str) -> dict[str, Any]:
        d = self.dashboard(request, name)
        locale = self.screens.locale(request, actor)
        field, period = self.period(request, d)
        field_label = ""
        if field:
            obj = next((self.ws.meta.objects.get(str(r.data.get("object")))
                        for t in d.data.get("tiles") or ()
                        if (r := self.ws.meta.reports.get(str(t.get("report") or "")))), None)
            if obj is not None:
                field_label = self.reports._path_label(obj, field, locale)
        tiles = self.specs(d, locale)
        links = {}
        for tile in tiles:
            report = self.ws.meta.reports.get(tile.report)
            same = report is not None and period_field(self.ws, report.data) == field
            links[tile.index] = f"/reports/{tile.report}" + (
                f"?period={period}" if same and period != "all" else "")
        return {"name": name, "label": self.label(d, locale), "tiles": tiles, "links": links,
                "period": period, "periods": period_choices(period) if field else [],
                "period_field_label": field_label,
                "period_label": lambda p: period_label(locale, p),
                "query": f"?period={period}" if field else ""}

    async def page(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        context = await run_in_threadpool(self.page_context, request, actor,
                                          request.path_params["name"])
        template = "partials/dashboard_grid.html" if is_partial(request) else "dashboard.html"
        return self.screens.render(request, template, actor=actor, **context)

    # -- one tile ---------------------------------------------------------------------------

    def tile_context(self, request: Request, actor: Actor, name: str, index: int
                     ) -> dict[str, Any]:
        d = self.dashboard(request, name)
        acting = self.screens.acting(request, actor)
        locale = acting.locale
        specs = self.specs(d, locale)
        if not 0 <= index < len(specs):
            raise NotFound(self.screens.t(request, "dashboard.no_tile"))
        tile = specs[index]
        context: dict[str, Any] = {"tile": tile, "error": None, "chart": None, "table": None}
        if not tile.exists:
            context["error"] = translate(locale, "dashboard.missing_report", name=tile.report)
            return context
        field, period = self.period(request, d)
        report = self.ws.meta.reports[tile.report]
        try:
            result = self.ws.reports.run(report, acting,
                                         period=(field, period) if field else None)
        except RapportError as exc:
            problems = getattr(exc, "problems", None) or ()
            context["error"] = "; ".join(p.message for p in problems) or str(exc)
            return context
        except Exception:  # the tile says so; the page and the other tiles carry on
            log.exception("dashboard %s: tile %s (report %s) failed", name, index, tile.report)
            context["error"] = translate(locale, "dashboard.tile_failed")
            return context
        same = period_field(self.ws, report.data) == field
        drill = drill_url_of(tile.report, period if same else None)
        currency = self.screens.currency()
        empty = translate(locale, "report.no_data")
        if tile.type == "table":
            context["table"] = table_of(result, lambda k, **kw: translate(locale, k, **kw),
                                        locale, currency, drill, TILE_ROWS)
            return context
        kind = "kpi" if tile.type == "kpi" else None
        chart = visual.chart_of(result, locale, currency, drill, kind=kind,
                                aggregate=tile.aggregate, fallback=True, title=tile.title,
                                empty_text=empty,
                                kpi_caption=self._caption(result, tile, locale, period, field))
        if chart is None:  # a tabular report as a chart tile: its rows
            context["table"] = table_of(result, lambda k, **kw: translate(locale, k, **kw),
                                        locale, currency, drill, TILE_ROWS)
            return context
        wide = (tile.width * COLUMN_PX, tile.height * ROW_PX - 56)
        context["chart"] = chart_view(chart, result, locale, currency, (wide, (400, 280)))
        return context

    def _caption(self, result: Any, tile: TileSpec, locale: str, period: str,
                 field: str | None) -> str:
        y = visual.y_column(result, tile.aggregate or (result.chart or {}).get("y"))
        words = [y.label] if y is not None else []
        if field and period != "all":
            words.append(period_label(locale, period))
        return " · ".join(words)

    async def tile(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        context = await run_in_threadpool(self.tile_context, request, actor,
                                          request.path_params["name"],
                                          int(request.path_params["index"]))
        return self.screens.render(request, "partials/dashboard_tile.html", actor=actor,
                                   **context)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/dashboards", self.index, methods=["GET"]),
            Route("/dashboards/{name}", self.page, methods=["GET"]),
            Route("/dashboards/{name}/tiles/{index:int}", self.tile, methods=["GET"]),
        ]
