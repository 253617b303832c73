"""The REST API of webhooks, for systems that manage their own subscriptions (an ERP
registering its endpoint): /api/v1/x/webhooks. Admins only, with a Bearer token or the
session cookie (and its CSRF token); errors are problem+json like the rest of /api/v1."""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from rapport.errors import FieldProblem, PermissionDenied, ValidationError
from rapport.records.actor import Actor
from rapport.web.api import JsonResponse, read_object

from . import delivery, subscriptions

MESSAGES = {
    "name_needed": "a name is required",
    "bad_url": "the URL must start with http:// or https://",
    "bad_object": "not an object a webhook can follow (an object name, or * for every object)",
    "events_needed": "a list of one or more of: created, updated, deleted",
}
FIELDS = ("name", "url", "object", "events", "active")
MAX_PAGE = 200


def _public(sub: dict[str, Any], secret: bool = False) -> dict[str, Any]:
    out = {k: sub[k] for k in ("id", *FIELDS, "created_at", "created_by")}
    out["created_at"] = sub["created_at"].isoformat()
    if "pending" in sub:
        out["pending"] = sub["pending"]
    if secret:
        out["secret"] = sub["secret"]
    return out


def _event(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in event.items()}


def _int(value: str | None, name: str, default: int | None = None) -> int | None:
    if value in (None, ""):
        return default
    if not value.isdigit():
        raise ValidationError([FieldProblem(name, "invalid_query", f"{name} must be a number")])
    return int(value)


class WebhooksApi:
    def __init__(self, ws: Any, screens: Any):
        self.ws = ws
        self.screens = screens

    async def admin(self, request: Request) -> Actor:
        actor = await self.screens.auth.actor(request, api=True, before=self.ws.refresh)
        if not actor.is_admin:
            raise PermissionDenied("only admins manage webhooks")
        return actor

    async def _values(self, request: Request, base: dict[str, Any] | None = None
                      ) -> dict[str, Any]:
        body = await read_object(request)
        unknown = sorted(set(body) - set(FIELDS))
        given = {**(base or {}), **body}
        values, problems = subscriptions.read(self.ws, given)
        found = [FieldProblem(f, code, MESSAGES[code]) for f, code in problems]
        found += [FieldProblem(k[:80], "unknown_field", "not a webhook field") for k in unknown]
        if found:
            raise ValidationError(found)
        return values

    async def index(self, request: Request) -> Response:
        await self.admin(request)
        subs = await run_in_threadpool(subscriptions.listing, self.ws)
        return JsonResponse({"data": [_public(s) for s in subs]})

    async def create(self, request: Request) -> Response:
        actor = await self.admin(request)
        values = await self._values(request)
        sid = await run_in_threadpool(subscriptions.create, self.ws, values, actor.id)
        sub = await run_in_threadpool(subscriptions.get, self.ws, sid)
        return JsonResponse(_public(sub, secret=True), status_code=201,
                            headers={"Location": f"/api/v1/x/webhooks/{sid}"})

    async def show(self, request: Request) -> Response:
        await self.admin(request)
        sub = await run_in_threadpool(subscriptions.get, self.ws, request.path_params["id"])
        return JsonResponse(_public(sub, secret=True))

    async def change(self, request: Request) -> Response:
        await self.admin(request)
        sid = request.path_params["id"]
        sub = await run_in_threadpool(subscriptions.get, self.ws, sid)
        values = await self._values(request, {k: sub[k] for k in FIELDS})
        await run_in_threadpool(subscriptions.save, self.ws, sid, values)
        return JsonResponse(_public(await run_in_threadpool(subscriptions.get, self.ws, sid)))

    async def remove(self, request: Request) -> Response:
        await self.admin(request)
        await run_in_threadpool(subscriptions.remove, self.ws, request.path_params["id"])
        return Response(status_code=204)

    async def rotate(self, request: Request) -> Response:
        await self.admin(request)
        sid = request.path_params["id"]
        await run_in_threadpool(subscriptions.rotate_secret, self.ws, sid)
        sub = await run_in_threadpool(subscriptions.get, self.ws, sid)
        return JsonResponse(_public(sub, secret=True))

    async def log(self, request: Request) -> Response:
        await self.admin(request)
        p = request.query_params
        status = p.get("status")
        if status not in (None, "", *subscriptions.STATUSES):
            raise ValidationError([FieldProblem("status", "invalid_query", "status is one of "
                                                + ", ".join(subscriptions.STATUSES))])
        limit = _int(p.get("limit"), "limit", 50) or 0
        if not 1 <= limit <= MAX_PAGE:
            raise ValidationError([FieldProblem("limit", "invalid_query",
                                                f"limit must be from 1 to {MAX_PAGE}")])
        rows = await run_in_threadpool(subscriptions.events, self.ws, status or None,
                                       _int(p.get("webhook"), "webhook"), limit + 1,
                                       _int(p.get("before"), "before"))
        more = len(rows) > limit
        rows = rows[:limit]
        return JsonResponse({"data": [_event(r) for r in rows],
                             "next_before": rows[-1]["id"] if more and rows else None})

    async def delivery(self, request: Request) -> Response:
        await self.admin(request)
        event, attempts = await run_in_threadpool(subscriptions.event, self.ws,
                                                  request.path_params["id"])
        event["payload"] = json.loads(event["payload"])
        return JsonResponse({**_event(event), "attempts": [_event(a) for a in attempts]})

    async def redeliver(self, request: Request) -> Response:
        await self.admin(request)
        eid = request.path_params["id"]
        await run_in_threadpool(subscriptions.event, self.ws, eid)
        await run_in_threadpool(delivery.redeliver, self.ws, eid)
        return JsonResponse({"id": eid, "status": "pending"}, status_code=202)

    def routes(self) -> list[BaseRoute]:
        base = "/api/v1/x/webhooks"
        return [
            Route(base, self.index, methods=["GET"]),
            Route(base, self.create, methods=["POST"]),
            Route(f"{base}/deliveries", self.log, methods=["GET"]),
            Route(base + "/deliveries/{id:int}", self.delivery, methods=["GET"]),
            Route(base + "/deliveries/{id:int}/redeliver", self.redeliver, methods=["POST"]),
            Route(base + "/{id:int}", self.show, methods=["GET"]),
            Route(base + "/{id:int}", self.change, methods=["PATCH"]),
            Route(base + "/{id:int}", self.remove, methods=["DELETE"]),
            Route(base + "/{id:int}/secret", self.rotate, methods=["POST"]),
        ]
