"""The admin screens: subscriptions, and the delivery log with redeliver."""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from rapport.errors import PermissionDenied
from rapport.records.actor import Actor

from . import delivery, subscriptions
from .store import EVENTS

PAGE = 50


class WebhookScreens:
    def __init__(self, ws: Any, screens: Any):
        self.ws = ws
        self.screens = screens

    async def admin(self, request: Request) -> Actor:
        actor = await self.screens.actor(request)
        if not actor.is_admin:
            raise PermissionDenied(self.screens.t(request, "error.admins_only"))
        return actor

    def t(self, request: Request, key: str, **values: Any) -> str:
        return self.screens.t(request, f"plugins.webhooks.{key}", **values)

    # -- subscriptions --------------------------------------------------------------------

    def _read(self, request: Request, form: Any) -> tuple[dict[str, Any], list[str]]:
        values, problems = subscriptions.read(self.ws, {
            **form, "events": form.getlist("events"), "active": str(form.get("active") or "")})
        return values, [self.t(request, code) for _field, code in problems]

    async def index(self, request: Request) -> Response:
        actor = await self.admin(request)
        subs = await run_in_threadpool(subscriptions.listing, self.ws)
        return self.screens.render(request, "webhooks/list.html", actor=actor,
                                   subscriptions=subs, objects=subscriptions.objects(self.ws), events=EVENTS,
                                   form={"active": True, "events": list(EVENTS)}, errors=[])

    async def create(self, request: Request) -> Response:
        actor = await self.admin(request)
        values, errors = self._read(request, await request.form())
        if errors:
            subs = await run_in_threadpool(subscriptions.listing, self.ws)
            return self.screens.render(request, "webhooks/list.html", status=422, actor=actor,
                                       subscriptions=subs, objects=subscriptions.objects(self.ws),
                                       events=EVENTS, form=values, errors=errors)
        sid = await run_in_threadpool(subscriptions.create, self.ws, values, actor.id)
        self.screens.flash(request, self.t(request, "created", name=values["name"]))
        return RedirectResponse(f"/x/webhooks/{sid}", 303)

    async def show(self, request: Request) -> Response:
        actor = await self.admin(request)
        sid = request.path_params["id"]
        sub = await run_in_threadpool(subscriptions.get, self.ws, sid)
        events = await run_in_threadpool(subscriptions.events, self.ws, None, sid, 20)
        return self.screens.render(request, "webhooks/edit.html", actor=actor, sub=sub,
                                   form=sub, objects=subscriptions.objects(self.ws), events=EVENTS,
                                   deliveries=events, errors=[])

    async def save(self, request: Request) -> Response:
        actor = await self.admin(request)
        sid = request.path_params["id"]
        sub = await run_in_threadpool(subscriptions.get, self.ws, sid)
        values, errors = self._read(request, await request.form())
        if errors:
            events = await run_in_threadpool(subscriptions.events, self.ws, None, sid, 20)
            return self.screens.render(request, "webhooks/edit.html", status=422, actor=actor,
                                       sub=sub, form=values, objects=subscriptions.objects(self.ws),
                                       events=EVENTS, deliveries=events, errors=errors)
        await run_in_threadpool(subscriptions.save, self.ws, sid, values)
        self.screens.flash(request, self.t(request, "saved"))
        return RedirectResponse(f"/x/webhooks/{sid}", 303)

    async def rotate(self, request: Request) -> Response:
        await self.admin(request)
        sid = request.path_params["id"]
        await run_in_threadpool(subscriptions.rotate_secret, self.ws, sid)
        self.screens.flash(request, self.t(request, "rotated"))
        return RedirectResponse(f"/x/webhooks/{sid}", 303)

    async def remove(self, request: Request) -> Response:
        await self.admin(request)
        sid = request.path_params["id"]
        sub = await run_in_threadpool(subscriptions.get, self.ws, sid)
        await run_in_threadpool(subscriptions.remove, self.ws, sid)
        self.screens.flash(request, self.t(request, "deleted", name=sub["name"]))
        return RedirectResponse("/x/webhooks", 303)

    # -- the delivery log -------------------------------------------------------------------

    async def log(self, request: Request) -> Response:
        actor = await self.admin(request)
        p = request.query_params
        status = p.get("status") if p.get("status") in subscriptions.STATUSES else None
        sid = int(p["webhook"]) if str(p.get("webhook") or "").isdigit() else None
        before = int(p["before"]) if str(p.get("before") or "").isdigit() else None
        rows = await run_in_threadpool(subscriptions.events, self.ws, status, sid, PAGE + 1,
                                  before)
        more = len(rows) > PAGE
        rows = rows[:PAGE]
        subs = await run_in_threadpool(subscriptions.listing, self.ws)
        return self.screens.render(request, "webhooks/deliveries.html", actor=actor,
                                   deliveries=rows, chosen=status, webhook=sid,
                                   subscriptions=subs, statuses=subscriptions.STATUSES,
                                   next_before=rows[-1]["id"] if more and rows else None)

    def _event(self, eid: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        event, attempts = subscriptions.event(self.ws, eid)
        event["payload_text"] = json.dumps(json.loads(event["payload"]), indent=2,
                                           ensure_ascii=False)
        return event, attempts

    async def delivery(self, request: Request) -> Response:
        actor = await self.admin(request)
        event, attempts = await run_in_threadpool(self._event, request.path_params["id"])
        return self.screens.render(request, "webhooks/delivery.html", actor=actor,
                                   event=event, attempts=attempts)

    async def redeliver(self, request: Request) -> Response:
        await self.admin(request)
        eid = request.path_params["id"]
        await run_in_threadpool(self._event, eid)
        await run_in_threadpool(delivery.redeliver, self.ws, eid)
        self.screens.flash(request, self.t(request, "redelivering", id=eid))
        return RedirectResponse(f"/x/webhooks/deliveries/{eid}", 303)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/x/webhooks", self.index, methods=["GET"]),
            Route("/x/webhooks", self.create, methods=["POST"]),
            Route("/x/webhooks/deliveries", self.log, methods=["GET"]),
            Route("/x/webhooks/deliveries/{id:int}", self.delivery, methods=["GET"]),
            Route("/x/webhooks/deliveries/{id:int}/redeliver", self.redeliver, methods=["POST"]),
            Route("/x/webhooks/{id:int}", self.show, methods=["GET"]),
            Route("/x/webhooks/{id:int}", self.save, methods=["POST"]),
            Route("/x/webhooks/{id:int}/secret", self.rotate, methods=["POST"]),
            Route("/x/webhooks/{id:int}/delete", self.remove, methods=["POST"]),
        ]
