"""Report screens: the list of reports and dashboards, a report's page (its chart, its table,
a period picker and exports), the records behind a group row, and what the builder's preview
and the dashboard tiles share with the page (a chart and a table from one result)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...errors import FieldProblem, NotFound, ValidationError
from ...meta.model import Definition, ObjectDef, label_text
from ...records.actor import Actor
from ...records.query import period_range
from ...reports import charts, output, visual
from ...reports.engine import MAX_ROWS, ReportResult
from ..i18n import translate
from ..reports_api import drill_keys
from ..screens import is_partial
from .report_tables import table_of

if TYPE_CHECKING:
    from ...workspace import Workspace
    from ..screens import Screens

#: The periods a report page and a dashboard offer ("all": no period).
PERIODS = ("all", "today", "this_week", "this_month", "this_quarter", "this_year",
           "last_week", "last_month", "last_quarter", "last_year", "last_30_days",
           "last_90_days", "next_month", "next_quarter", "next_year")
DATE_TYPES = frozenset({"date", "datetime"})
PIPELINE_KINDS = ("funnel", "time_in_stage", "win_rate", "forecast")
#: (width, height) of the charts drawn for wide and for narrow screens.
PAGE_CHART = ((960, 340), (400, 300))


# -- periods -------------------------------------------------------------------------------

def valid_period(period: str | None) -> bool:
    if not period:
        return False
    if period == "all":
        return True
    try:
        period_range(period)
    except ValueError:
        return False
    return True


def period_choices(current: str | None) -> list[str]:
    """The offered periods, and the current one when it is another valid period."""
    return [*PERIODS, current] if current and current not in PERIODS and valid_period(current) \
        else list(PERIODS)


def period_label(locale: str, period: str) -> str:
    key = f"period.{period}"
    text = translate(locale, key)
    if text != key:
        return text
    if period.endswith("_days") and period[5:-5].isdigit():
        return translate(locale, f"period.{period[:4]}_n_days", n=int(period[5:-5]))
    return period


def path_field(ws: Workspace, obj: ObjectDef, path: str) -> Any:
    """The field a path (``account.created_at``) ends at, or None."""
    current: ObjectDef | None = obj
    found = None
    compiler = ws.compiler()
    for part in str(path or "").split("."):
        if current is None:
            return None
        found = compiler.field_of(current, part)
        if found is None:
            return None
        current = ws.meta.objects.get(found.target or "") if found.is_relation else None
    return found


def period_field(ws: Workspace, data: Mapping[str, Any]) -> str | None:
    """The date field a report's period picker filters: the first date field the report
    uses (filters, groupings, columns, the forecast's date), else the object's close_date."""
    obj = ws.meta.objects.get(str(data.get("object") or ""))
    if obj is None:
        return None
    paths = [*(f.get("field") for f in data.get("filters") or () if isinstance(f, Mapping)),
             *(g.get("field") for g in data.get("group_by") or () if isinstance(g, Mapping)),
             *(data.get("columns") or ()), (data.get("pipeline") or {}).get("date"), "close_date"]
    for path in paths:
        if isinstance(path, str) and path:
            f = path_field(ws, obj, path)
            if f is not None and f.value_type in DATE_TYPES:
                return path
    return None


# -- drill-down links ------------------------------------------------------------------------

_NO_KEY = object()


def _key(value: Any) -> Any:
    """A group value as it travels in a drill-down URL (JSON), or _NO_KEY."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return _NO_KEY


def drill_url_of(name: str, period: str | None = None) -> visual.DrillUrl:
    def url(keys: Any) -> str | None:
        clean = [_key(k) for k in keys]
        if any(k is _NO_KEY for k in clean):
            return None
        query = {"keys": json.dumps(clean, ensure_ascii=False, separators=(",", ":"))}
        if period and period != "all":
            query["period"] = period
        return f"/reports/{name}/records?{urlencode(query)}"
    return url


# -- a chart and a table from one result --------------------------------------------------

@dataclass
class ChartView:
    """A chart as a page shows it: two drawings (wide and narrow screens), or, for a single
    figure, the figure itself."""

    kind: str
    wide: str = ""                 # markup (charts.render escapes every text)
    narrow: str = ""
    figure: str = ""
    full: str = ""
    caption: str = ""


def chart_view(chart: charts.Chart | None, result: ReportResult, locale: str, currency: str,
               sizes: tuple[tuple[int, int], tuple[int, int]] = PAGE_CHART) -> ChartView | None:
    if chart is None:
        return None
    if chart.type == "kpi":
        y = visual.y_column(result, chart.series[0].key if chart.series else None)
        value = chart.series[0].values[0] if chart.series and chart.series[0].values else None
        raw = result.totals.get(y.key) if y is not None else None
        if raw is None and not result.groups and result.rows and y is not None:
            raw = result.rows[0].get(y.key)
        return ChartView("kpi", figure=visual.kpi_text(y, raw if raw is not None else value,
                                                       locale, currency),
                         full=visual.value_text(y, raw, currency), caption=chart.kpi_caption)
    (ww, wh), (nw, nh) = sizes
    return ChartView(chart.type, Markup(charts.render(chart, ww, wh)),
                     Markup(charts.render(chart, nw, nh)))


def kind_of(data: Mapping[str, Any]) -> str:
    """tabular, summary, matrix, or a pipeline measure."""
    pipeline = data.get("pipeline")
    if isinstance(pipeline, Mapping) and pipeline.get("measure") in PIPELINE_KINDS:
        return str(pipeline["measure"])
    layout = data.get("layout")
    if layout in {"tabular", "summary", "matrix"}:
        return str(layout)
    return "summary" if data.get("group_by") else "tabular"


class ReportScreens:
    def __init__(self, screens: Screens):
        self.screens = screens
        self.ws = screens.ws

    def t(self, locale: str) -> Any:
        return lambda key, **kw: translate(locale, key, **kw)

    def definition(self, request: Request, name: str) -> Definition:
        d = self.ws.meta.reports.get(name)
        if d is None:
            raise NotFound(self.screens.t(request, "report.not_found", name=str(name)[:60]))
        return d

    def label(self, d: Definition, locale: str) -> str:
        return label_text(d.data.get("label"), locale, d.name.replace("_", " ").capitalize())

    def body(self, result: ReportResult, locale: str, drill: visual.DrillUrl | None,
             row_limit: int | None = None,
             sizes: tuple[tuple[int, int], tuple[int, int]] = PAGE_CHART) -> dict[str, Any]:
        """The chart and the table of a result (the page, the builder's preview)."""
        t = self.t(locale)
        currency = self.screens.currency()
        chart = visual.chart_of(result, locale, currency, drill, empty_text=t("report.no_data"))
        return {"result": result, "chart": chart_view(chart, result, locale, currency, sizes),
                "table": table_of(result, t, locale, currency, drill, row_limit)}

    # -- the list -------------------------------------------------------------------------

    def index_context(self, actor: Actor, locale: str) -> dict[str, Any]:
        groups: dict[str, dict[str, Any]] = {}
        for name, d in self.ws.meta.reports.items():
            obj = self.ws.meta.objects.get(str(d.data.get("object") or ""))
            key = obj.name if obj else str(d.data.get("object"))
            group = groups.setdefault(key, {"label": obj.display_plural(locale) if obj else key,
                                            "reports": []})
            chart = d.data.get("chart") or {}
            group["reports"].append({
                "name": name, "label": self.label(d, locale), "kind": kind_of(d.data),
                "chart": chart.get("type"), "description": d.data.get("description"),
                "broken": self.ws.reports.broken(d)})
        for group in groups.values():
            group["reports"].sort(key=lambda r: r["label"].lower())
        dashboards = [{"name": n, "label": label_text(d.data.get("label"), locale,
                                                      n.replace("_", " ").capitalize()),
                       "tiles": len(d.data.get("tiles") or ())}
                      for n, d in sorted(self.ws.meta.dashboards.items())]
        return {"groups": sorted(groups.values(), key=lambda g: g["label"].lower()),
                "dashboards": dashboards}

    async def index(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        locale = self.screens.locale(request, actor)
        context = await run_in_threadpool(self.index_context, actor, locale)
        return self.screens.render(request, "reports.html", actor=actor, **context)

    # -- a report --------------------------------------------------------------------------

    def page_context(self, request: Request, actor: Actor, name: str) -> dict[str, Any]:
        d = self.definition(request, name)
        acting = self.screens.acting(request, actor)
        locale = acting.locale
        field = period_field(self.ws, d.data)
        period = request.query_params.get("period") or "all"
        if not valid_period(period) or field is None:
            period = "all"
        obj = self.ws.meta.objects.get(str(d.data.get("object") or ""))
        context: dict[str, Any] = {
            "name": name, "label": self.label(d, locale), "kind": kind_of(d.data), "obj": obj,
            "description": d.data.get("description"), "period": period,
            "periods": period_choices(period) if field else [],
            "period_field_label": self._path_label(obj, field, locale) if field and obj else "",
            "period_label": lambda p: period_label(locale, p), "error": None,
            "period_query": f"&period={period}" if period != "all" else ""}
        try:
            result = self.ws.reports.run(d, acting, period=(field, period) if field else None)
        except ValidationError as exc:
            context["error"] = [self._problem(p) for p in exc.problems]
            return context
        context.update(self.body(result, locale, drill_url_of(name, period)))
        return context

    def _problem(self, p: FieldProblem) -> str:
        where = p.field if p.field and p.field.startswith("/") else ""
        return f"{where}: {p.message}" if where else p.message

    def _path_label(self, obj: ObjectDef, path: str, locale: str) -> str:
        return self.ws.reports.compiler(Actor(None, locale=locale)).path_label(obj, path)

    async def page(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        name = request.path_params["name"]
        context = await run_in_threadpool(self.page_context, request, actor, name)
        template = "partials/report_view.html" if is_partial(request) else "report.html"
        return self.screens.render(request, template, actor=actor, **context)

    # -- the records behind a group ------------------------------------------------------------

    def records_context(self, request: Request, actor: Actor, name: str) -> dict[str, Any]:
        d = self.definition(request, name)
        acting = self.screens.acting(request, actor)
        locale = acting.locale
        keys = drill_keys(request.query_params.get("keys"))
        field = period_field(self.ws, d.data)
        period = request.query_params.get("period") or "all"
        if not valid_period(period) or field is None:
            period = "all"
        summary, records = self.ws.reports.drill(
            d, keys, acting, period=(field, period) if field and period != "all" else None)
        groups = summary.groups
        crumbs = [{"label": g.label, "value": summary.label_of(g.key, k)}
                  for g, k in zip(groups, keys, strict=False)]
        t = self.t(locale)
        return {"name": name, "label": self.label(d, locale), "crumbs": crumbs, "obj": records.object,
                "period": period, "period_text": period_label(locale, period),
                "table": table_of(records, t, locale, self.screens.currency()),
                "back": f"/reports/{name}" + (f"?period={period}" if period != "all" else "")}

    async def records(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        context = await run_in_threadpool(self.records_context, request, actor,
                                          request.path_params["name"])
        return self.screens.render(request, "report_records.html", actor=actor, **context)

    # -- exports ----------------------------------------------------------------------------------

    async def export(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        fmt = request.query_params.get("format", "csv")
        if fmt not in {"csv", "xlsx"}:
            raise ValidationError([FieldProblem("format", "invalid_query",
                                                self.screens.t(request, "report.bad_format"))])
        name = request.path_params["name"]

        def produce() -> tuple[bytes, str, str]:
            d = self.definition(request, name)
            acting = self.screens.acting(request, actor)
            field = period_field(self.ws, d.data)
            period = request.query_params.get("period") or "all"
            use = (field, period) if field and valid_period(period) and period != "all" else None
            result = self.ws.reports.run(d, acting, period=use, limit=MAX_ROWS)
            from ...auth import audit

            audit.record(self.ws, "export", acting, object_name=result.object.name,
                         address=request.client.host if request.client else None,
                         detail={"report": name, "format": fmt})
            return output.render(result, fmt, acting.locale)

        body, media, filename = await run_in_threadpool(produce)
        return Response(body, media_type=media,
                        headers={"content-disposition": f'attachment; filename="{filename}"',
                                 "cache-control": "no-store"})

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/reports", self.index, methods=["GET"]),
            Route("/reports/{name}", self.page, methods=["GET"]),
            Route("/reports/{name}/records", self.records, methods=["GET"]),
            Route("/reports/{name}/export", self.export, methods=["GET"]),
        ]


def report_routes(screens: Screens) -> list[BaseRoute]:
    """Reports, the builder and dashboards; the builder's fixed words before ``{name}``."""
    from .dashboards import DashboardScreens
    from .report_builder import ReportBuilder

    return [*ReportBuilder(screens).routes(), *ReportScreens(screens).routes(),
            *DashboardScreens(screens).routes()]
