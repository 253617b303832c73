"""Screens: duplicate groups per object, the merge page (what will happen, then do it),
and ``GET /api/v1/x/duplicates/{object}/{id}`` (a record's possible duplicates)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from rapport.errors import NotFound, PermissionDenied, RapportError
from rapport.meta.model import label_text
from rapport.records.actor import Actor
from rapport.records.service import to_json

from . import index
from .merge import may_merge, merge
from .rules import Check, checks


class DuplicateScreens:
    def __init__(self, ws: Any, screens: Any):
        self.ws = ws
        self.screens = screens

    def check(self, request: Request) -> Check:
        found = checks(self.ws).get(request.path_params["object"])
        if found is None:
            raise NotFound(self.screens.t(request, "plugins.duplicates.not_checked"))
        return found

    def _groups(self, locale: str) -> list[dict[str, Any]]:
        from . import describe

        out = []
        with self.ws.engine.connect() as conn:
            for check in checks(self.ws).values():
                groups = []
                for rule, ids in index.groups(conn, check, 100):
                    found = {i: [rule] for i in ids}
                    groups.append({"rule": check.rule(rule).label(locale) if check.rule(rule)
                                   else rule,
                                   "records": describe(self.ws, check, found, locale)})
                out.append({"obj": check.obj, "mode": check.mode, "groups": groups,
                            "rules": [r.label(locale) for r in check.rules]})
        return out

    async def overview(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        locale = self.screens.locale(request, actor)
        objects = await run_in_threadpool(self._groups, locale)
        return self.screens.render(request, "duplicates/overview.html", actor=actor,
                                   objects=objects, can_merge=may_merge(self.ws, actor))

    def _pair(self, check: Check, winner: int, loser: int) -> dict[str, Any]:
        name = check.obj.name
        a, b = self.ws.records.get(name, winner), self.ws.records.get(name, loser)
        related = []
        for child, link in self.ws.meta.children_of(name):
            from rapport.records.query import Cond, Query

            n = self.ws.records.count(child.name, Query(filter=Cond(link.name, "eq", loser)))
            if n:
                related.append((child, link, n))
        return {"winner": a, "loser": b, "related": related}

    async def merge_page(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        check = self.check(request)
        winner, loser = request.path_params["winner"], request.path_params["loser"]
        if winner == loser:
            raise NotFound(self.screens.t(request, "plugins.duplicates.same_record"))
        pair = await run_in_threadpool(self._pair, check, winner, loser)
        from rapport.web.views.widgets import record_title, resolve_titles

        records = [pair["winner"], pair["loser"]]
        titles = await run_in_threadpool(resolve_titles, self.ws, check.obj, records,
                                         check.obj.fields)
        return self.screens.render(request, "duplicates/merge.html", actor=actor,
                                   obj=check.obj, titles=titles, record_title=record_title,
                                   can_merge=may_merge(self.ws, actor), **pair)

    async def do_merge(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        check = self.check(request)
        winner, loser = request.path_params["winner"], request.path_params["loser"]
        acting = self.screens.acting(request, actor)
        try:
            done = await run_in_threadpool(merge, self.ws, check.obj.name, winner, [loser],
                                           acting)
        except PermissionDenied:
            raise
        except RapportError as exc:
            self.screens.flash(request, f"{self.screens.t(request, 'plugins.duplicates.not_merged')}"
                                        f" {exc}", "error")
            return RedirectResponse(f"/x/duplicates/{check.obj.name}/{winner}/merge/{loser}", 303)
        moved = sum(done["moved"].values())
        self.screens.flash(request, self.screens.t(request, "plugins.duplicates.merged",
                                                   n=moved, id=loser))
        return RedirectResponse(f"/o/{check.obj.name}/{winner}", 303)

    async def api(self, request: Request) -> Response:
        actor: Actor = await self.screens.auth.actor(request, api=True)
        check = self.check(request)
        rid = request.path_params["id"]

        def found() -> list[dict[str, Any]]:
            from . import describe

            record = self.ws.records.get(check.obj.name, rid)
            with self.ws.engine.connect() as conn:
                hits = index.matches(conn, check, check.keys(record), exclude=record["id"])
            return [{"id": d["id"], "title": d["title"], "rules": d["rules"],
                     "reasons": d["reasons"],
                     "record": {k: to_json(v) for k, v in d["record"].items()}}
                    for d in describe(self.ws, check, hits, actor.locale)]
        return JSONResponse({"data": await run_in_threadpool(found),
                             "mode": check.mode,
                             "rules": [r.name for r in check.rules],
                             "object": label_text(check.obj.label, actor.locale)})

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/x/duplicates", self.overview, methods=["GET"]),
            Route("/x/duplicates/{object}/{winner:int}/merge/{loser:int}", self.merge_page,
                  methods=["GET"]),
            Route("/x/duplicates/{object}/{winner:int}/merge/{loser:int}", self.do_merge,
                  methods=["POST"]),
            Route("/api/v1/x/duplicates/{object}/{id:int}", self.api, methods=["GET"]),
        ]
