"""What the web app offers plugins: record actions over the API, their static files, and
the record page's plugin panels."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..meta.model import label_text
from ..plugins import Panel
from ..records.actor import Actor
from .api import Api, _json, read_json

if TYPE_CHECKING:
    from ..workspace import Workspace


class ActionsApi:
    """``GET /records/{object}/actions``, ``POST /records/{object}/actions/{action}``
    (``{"ids": [...]}``) and ``POST /records/{object}/{id}/actions/{action}``."""

    def __init__(self, api: Api):
        self.api = api
        self.ws = api.ws

    async def list_actions(self, request: Request) -> Response:
        actor = await self.api.actor(request)
        name = request.path_params["object"]

        def describe() -> list[dict[str, Any]]:
            self.ws.records.runtime(name)
            regs = {r.name: r for r in self.ws.actions.for_object(name, actor)}
            regs.update({r.name: r for r in self.ws.actions.for_object(name, actor, bulk=True)})
            return [self.ws.actions.describe(r, actor.locale) for r in regs.values()]
        return _json({"data": await self.api.run(describe)})

    async def run_bulk(self, request: Request) -> Response:
        actor = await self.api.actor(request)
        body = await read_json(request)
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list):
            from ..errors import ValidationError

            raise ValidationError("send {\"ids\": [record ids]}", field="ids")
        return await self._run(request, actor, ids, bulk=True)

    async def run_one(self, request: Request) -> Response:
        actor = await self.api.actor(request)
        return await self._run(request, actor, [request.path_params["id"]], bulk=False)

    async def _run(self, request: Request, actor: Actor, ids: list[Any], bulk: bool) -> Response:
        result = await self.api.run(self.ws.actions.run, request.path_params["action"],
                                    request.path_params["object"], ids, actor, bulk, write=True)
        return _json({"message": result.message, "count": result.count, "ids": result.ids})

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/records/{object}/actions", self.list_actions, methods=["GET"]),
            Route("/records/{object}/actions/{action}", self.run_bulk, methods=["POST"]),
            Route("/records/{object}/{id:int}/actions/{action}", self.run_one, methods=["POST"]),
        ]


def plugin_static_routes(ws: Workspace) -> list[BaseRoute]:
    """``/static/plugins/<plugin>/...`` for each plugin's ``register_static_dirs``."""
    routes: list[BaseRoute] = []
    for plugin, dirs in ws.plugins.call_each("register_static_dirs"):
        found = [str(d) for d in dirs or () if Path(d).is_dir()]
        if not found:
            continue
        files = StaticFiles(directory=found[0])
        files.all_directories = found
        routes.append(Mount(f"/static/plugins/{plugin}", app=files))
    return routes


def record_panels(ws: Workspace, object_name: str, record: dict[str, Any], actor: Actor,
                  locale: str) -> list[dict[str, Any]]:
    """The panels plugins show beside a record; a failing plugin's panel is left out."""
    out = []
    for plugin, panels in ws.plugins.call_each("record_panels", workspace=ws,
                                               object_name=object_name, record=record,
                                               user=actor):
        for panel in panels or ():
            if isinstance(panel, Panel):
                out.append({"plugin": plugin, "name": panel.name or plugin,
                            "title": label_text(panel.title, locale),
                            "template": panel.template, "context": dict(panel.context)})
    return out
