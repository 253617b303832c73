"""The pool's page: per object, how many records wait in the pool, the rule, and how many
the user may still claim today."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from rapport.records.actor import Actor
from rapport.records.query import Cond, Query

from . import pool


class PoolScreens:
    def __init__(self, ws: Any, screens: Any):
        self.ws = ws
        self.screens = screens

    def _summary(self, actor: Actor) -> dict[str, Any]:
        limit = pool.claim_limit(self.ws, actor)
        with self.ws.engine.connect() as conn:
            used = pool.claimed_today(self.ws, conn, actor, datetime.now(UTC))
        objects = [{"obj": rule.obj, "days": rule.days,
                    "count": self.ws.records.count(name, Query(filter=Cond("owner", "is_blank",
                                                                           None)))}
                   for name, rule in pool.rules(self.ws).items()]
        return {"objects": objects, "limit": limit, "used": used,
                "left": None if limit is None else max(0, limit - used)}

    async def page(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        summary = await run_in_threadpool(self._summary, actor)
        return self.screens.render(request, "public_pool/pool.html", actor=actor, **summary)

    def routes(self) -> list[BaseRoute]:
        return [Route("/x/pool", self.page, methods=["GET"])]
