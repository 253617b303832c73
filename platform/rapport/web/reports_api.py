"""The reports part of the REST API: run a saved report (JSON, CSV, XLSX), preview an
unsaved definition, the records behind a group, and reports and dashboards as metadata.
Mounted under /api/v1 beside the records API, whose authentication and worker threads
it shares."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import FieldProblem, NotFound, ValidationError
from ..meta.model import label_text
from ..reports import output
from ..reports.engine import MAX_ROWS
from .api import Api, _json, dump_json, parse_query, read_object


def report_params(params: Any) -> dict[str, Any]:
    """The run options in a query string: ``period`` (with ``period_field``, default
    close_date) and ``filter[field][op]=value`` conditions added to the report's own."""
    period = params.get("period")
    options: dict[str, Any] = {}
    if period:
        options["period"] = (params.get("period_field") or "close_date", period)
    query = parse_query(_only_filters(params))
    if query.filter is not None:
        options["extra"] = list(query.filter.items)  # type: ignore[union-attr]
    return options


def _only_filters(params: Any) -> QueryParams:
    return QueryParams([(k, v) for k, v in params.multi_items() if k.startswith("filter")])


def drill_keys(text: str | None) -> list[Any]:
    """``keys``: a JSON list of the group values, e.g. ``["proposal","2026-03"]``."""
    try:
        keys = json.loads(text or "")
    except ValueError:
        keys = None
    if not isinstance(keys, list) or not 1 <= len(keys) <= 2 or not all(
            k is None or isinstance(k, str | int | bool) for k in keys):
        raise ValidationError([FieldProblem("keys", "invalid_query",
                                            'keys is a JSON list of one or two group values, '
                                            'e.g. ["proposal","2026-03"]')])
    return keys


class ReportsApi:
    def __init__(self, api: Api):
        self.api = api
        self.ws = api.ws

    async def list(self, request: Request) -> Response:
        actor = await self.api.actor(request)

        def read() -> list[dict[str, Any]]:
            out = []
            for name, d in sorted(self.ws.meta.reports.items()):
                rc = self.ws.reports.compiler(actor)
                out.append({"name": name, "label": _label(d.data, name, actor.locale),
                            "object": d.data.get("object"),
                            "layout": "summary" if d.data.get("pipeline") else
                            rc.layout_of(d.data), "chart": d.data.get("chart")})
            return out
        return _json({"data": await self.api.run(read)})

    async def run(self, request: Request) -> Response:
        actor = await self.api.actor(request)
        fmt = request.query_params.get("format", "json")
        if fmt not in output.FORMATS:
            raise ValidationError([FieldProblem("format", "invalid_query",
                                                "format is json, csv or xlsx")])
        name = request.path_params["report"]
        options = report_params(request.query_params)
        limit = MAX_ROWS if fmt != "json" else None

        def produce() -> tuple[bytes, str, str | None]:
            result = self.ws.reports.run(name, actor, limit=limit, **options)
            if fmt == "json":
                return dump_json(output.as_json(result)), "application/json", None
            from ..auth import audit

            audit.record(self.ws, "export", actor, object_name=result.object.name,
                         address=request.client.host if request.client else None,
                         detail={"report": name, "format": fmt})
            return output.render(result, fmt, actor.locale)
        body, media, filename = await self.api.run(produce)
        headers = {"content-disposition": f'attachment; filename="{filename}"'} if filename else None
        return Response(body, media_type=media, headers=headers)

    async def preview(self, request: Request) -> Response:
        """An unsaved definition, run as it would be once saved (the builder's preview)."""
        actor = await self.api.actor(request)
        data = await read_object(request)
        data.setdefault("name", "preview")

        def produce() -> bytes:
            d = self.ws.reports.definition(_checked(self.ws, data))
            return dump_json(output.as_json(self.ws.reports.run(d, actor)))
        return _json(await self.api.run(produce))

    async def records(self, request: Request) -> Response:
        actor = await self.api.actor(request)
        keys = drill_keys(request.query_params.get("keys"))
        options = report_params(request.query_params)

        def produce() -> bytes:
            _summary, records = self.ws.reports.drill(request.path_params["report"], keys, actor,
                                                      period=options.get("period"))
            return dump_json(output.as_json(records))
        return _json(await self.api.run(produce))

    # -- reports and dashboards as metadata ---------------------------------------------------

    async def get_definition(self, request: Request) -> Response:
        await self.api.actor(request)
        kind, name = self._kind_name(request)
        await self.api.run(lambda: None)
        doc = self.ws.state.documents.get((kind, name))
        if doc is None:
            raise NotFound(f"no {kind} named '{name[:60]}'")
        return _json(dict(doc))

    async def put_definition(self, request: Request) -> Response:
        actor = await self.api.actor(request)
        self.api._admin(actor)
        kind, name = self._kind_name(request)
        data = await read_object(request)
        data.setdefault("name", name)
        if data["name"] != name:
            raise ValidationError("the body's name differs from the URL's", field="name")
        data["kind"] = kind
        docs = self.ws.documents_from(data, f"{kind}/{name}")
        return await self.api._change(request, actor, docs, [])

    async def delete_definition(self, request: Request) -> Response:
        actor = await self.api.actor(request)
        self.api._admin(actor)
        kind, name = self._kind_name(request)
        await self.api.run(lambda: None)
        if (kind, name) not in self.ws.state.documents:
            raise NotFound(f"no {kind} named '{name[:60]}'")
        return await self.api._change(request, actor, [], [(kind, name)])

    def _kind_name(self, request: Request) -> tuple[str, str]:
        kind = "dashboard" if request.url.path.rstrip("/").split("/")[-2] == "dashboards" \
            else "report"
        return kind, request.path_params["name"]

    def routes(self) -> list[Route]:
        return [
            Route("/reports", self.list, methods=["GET"]),
            Route("/reports/preview", self.preview, methods=["POST"]),
            Route("/reports/{report}", self.run, methods=["GET"]),
            Route("/reports/{report}/records", self.records, methods=["GET"]),
            *(Route(f"/meta/{folder}/{{name}}", endpoint, methods=[method])
              for folder in ("reports", "dashboards")
              for method, endpoint in (("GET", self.get_definition),
                                       ("PUT", self.put_definition),
                                       ("DELETE", self.delete_definition))),
        ]


def _label(data: Any, name: str, locale: str) -> str:
    return label_text(data.get("label"), locale, name.replace("_", " ").capitalize())


def _checked(ws: Any, data: dict[str, Any]) -> dict[str, Any]:
    """A definition validated as a save would validate it (schema, fields, compile)."""
    data = {**data, "kind": "report"}
    docs = ws.documents_from(data, "report/preview")
    merged = ws.validate(docs)
    return dict(merged.reports[docs[0].name].data)

