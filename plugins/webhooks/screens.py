"""The admin screens: subscriptions, and the delivery log with redeliver."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from rapport.errors import NotFound, PermissionDenied
from rapport.records.actor import Actor

from . import delivery
from .store import ALL_OBJECTS, ATTEMPTS, EVENTS, OUTBOX, SUBSCRIPTIONS, new_secret, now

URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
PAGE = 50
STATUSES = ("pending", "delivered", "dead")


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

    def _subscriptions(self) -> list[dict[str, Any]]:
        with self.ws.engine.connect() as conn:
            counts = dict(conn.execute(select(OUTBOX.c.subscription_id, func.count())
                                       .where(OUTBOX.c.status == "pending")
                                       .group_by(OUTBOX.c.subscription_id)).all())
            rows = [dict(r._mapping) for r in conn.execute(
                select(SUBSCRIPTIONS).order_by(SUBSCRIPTIONS.c.id))]
        for r in rows:
            r["events"] = json.loads(r["events"])
            r["pending"] = counts.get(r["id"], 0)
        return rows

    def _objects(self) -> list[Any]:
        return sorted((o for o in self.ws.meta.objects.values() if not o.system),
                      key=lambda o: o.name)

    def _read(self, request: Request, form: Any) -> tuple[dict[str, Any], list[str]]:
        values = {"name": str(form.get("name") or "").strip()[:200],
                  "url": str(form.get("url") or "").strip()[:2000],
                  "object": str(form.get("object") or ""),
                  "events": [e for e in form.getlist("events") if e in EVENTS],
                  "active": str(form.get("active") or "") in {"1", "on", "true"}}
        errors = []
        if not values["name"]:
            errors.append(self.t(request, "name_needed"))
        if not URL.match(values["url"]):
            errors.append(self.t(request, "bad_url"))
        if values["object"] != ALL_OBJECTS and values["object"] not in self.ws.meta.objects:
            errors.append(self.t(request, "bad_object"))
        if not values["events"]:
            errors.append(self.t(request, "events_needed"))
        return values, errors

    async def index(self, request: Request) -> Response:
        actor = await self.admin(request)
        subs = await run_in_threadpool(self._subscriptions)
        return self.screens.render(request, "webhooks/list.html", actor=actor,
                                   subscriptions=subs, objects=self._objects(), events=EVENTS,
                                   form={"active": True, "events": list(EVENTS)}, errors=[])

    async def create(self, request: Request) -> Response:
        actor = await self.admin(request)
        values, errors = self._read(request, await request.form())
        if errors:
            subs = await run_in_threadpool(self._subscriptions)
            return self.screens.render(request, "webhooks/list.html", status=422, actor=actor,
                                       subscriptions=subs, objects=self._objects(),
                                       events=EVENTS, form=values, errors=errors)

        def save() -> int:
            with self.ws.transaction() as conn:
                return int(conn.execute(insert(SUBSCRIPTIONS).values(
                    **{**values, "events": json.dumps(values["events"])}, secret=new_secret(),
                    created_at=now(), created_by=actor.id)).inserted_primary_key[0])
        sid = await run_in_threadpool(save)
        self.screens.flash(request, self.t(request, "created", name=values["name"]))
        return RedirectResponse(f"/x/webhooks/{sid}", 303)

    def _subscription(self, sid: int) -> dict[str, Any]:
        with self.ws.engine.connect() as conn:
            row = conn.execute(select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == sid)).first()
        if row is None:
            raise NotFound(f"no webhook with id {sid}")
        out = dict(row._mapping)
        out["events"] = json.loads(out["events"])
        return out

    async def show(self, request: Request) -> Response:
        actor = await self.admin(request)
        sid = request.path_params["id"]
        sub = await run_in_threadpool(self._subscription, sid)
        events = await run_in_threadpool(self._events, None, sid, 20)
        return self.screens.render(request, "webhooks/edit.html", actor=actor, sub=sub,
                                   form=sub, objects=self._objects(), events=EVENTS,
                                   deliveries=events, errors=[])

    async def save(self, request: Request) -> Response:
        actor = await self.admin(request)
        sid = request.path_params["id"]
        sub = await run_in_threadpool(self._subscription, sid)
        values, errors = self._read(request, await request.form())
        if errors:
            events = await run_in_threadpool(self._events, None, sid, 20)
            return self.screens.render(request, "webhooks/edit.html", status=422, actor=actor,
                                       sub=sub, form=values, objects=self._objects(),
                                       events=EVENTS, deliveries=events, errors=errors)

        def write() -> None:
            with self.ws.transaction() as conn:
                conn.execute(update(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == sid).values(
                    **{**values, "events": json.dumps(values["events"])}))
        await run_in_threadpool(write)
        self.screens.flash(request, self.t(request, "saved"))
        return RedirectResponse(f"/x/webhooks/{sid}", 303)

    async def rotate(self, request: Request) -> Response:
        await self.admin(request)
        sid = request.path_params["id"]
        await run_in_threadpool(self._subscription, sid)

        def write() -> None:
            with self.ws.transaction() as conn:
                conn.execute(update(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == sid)
                             .values(secret=new_secret()))
        await run_in_threadpool(write)
        self.screens.flash(request, self.t(request, "rotated"))
        return RedirectResponse(f"/x/webhooks/{sid}", 303)

    async def remove(self, request: Request) -> Response:
        await self.admin(request)
        sid = request.path_params["id"]
        sub = await run_in_threadpool(self._subscription, sid)

        def write() -> None:
            with self.ws.transaction() as conn:
                ids = select(OUTBOX.c.id).where(OUTBOX.c.subscription_id == sid)
                conn.execute(delete(ATTEMPTS).where(ATTEMPTS.c.event_id.in_(ids)))
                conn.execute(delete(OUTBOX).where(OUTBOX.c.subscription_id == sid))
                conn.execute(delete(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == sid))
        await run_in_threadpool(write)
        self.screens.flash(request, self.t(request, "deleted", name=sub["name"]))
        return RedirectResponse("/x/webhooks", 303)

    # -- the delivery log -------------------------------------------------------------------

    def _events(self, status: str | None, sid: int | None, limit: int = PAGE,
                before: int | None = None) -> list[dict[str, Any]]:
        stmt = select(OUTBOX.c.id, OUTBOX.c.event, OUTBOX.c.record_id, OUTBOX.c.object,
                      OUTBOX.c.created_at, OUTBOX.c.status, OUTBOX.c.attempts,
                      OUTBOX.c.next_attempt_at, OUTBOX.c.delivered_at, OUTBOX.c.last_status,
                      OUTBOX.c.last_error, SUBSCRIPTIONS.c.name.label("subscription"),
                      OUTBOX.c.subscription_id) \
            .join(SUBSCRIPTIONS, SUBSCRIPTIONS.c.id == OUTBOX.c.subscription_id) \
            .order_by(OUTBOX.c.id.desc()).limit(limit)
        if status in STATUSES:
            stmt = stmt.where(OUTBOX.c.status == status)
        if sid is not None:
            stmt = stmt.where(OUTBOX.c.subscription_id == sid)
        if before is not None:
            stmt = stmt.where(OUTBOX.c.id < before)
        with self.ws.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    async def log(self, request: Request) -> Response:
        actor = await self.admin(request)
        p = request.query_params
        status = p.get("status") if p.get("status") in STATUSES else None
        sid = int(p["webhook"]) if str(p.get("webhook") or "").isdigit() else None
        before = int(p["before"]) if str(p.get("before") or "").isdigit() else None
        rows = await run_in_threadpool(self._events, status, sid, PAGE + 1, before)
        more = len(rows) > PAGE
        rows = rows[:PAGE]
        subs = await run_in_threadpool(self._subscriptions)
        return self.screens.render(request, "webhooks/deliveries.html", actor=actor,
                                   deliveries=rows, chosen=status, webhook=sid,
                                   subscriptions=subs, statuses=STATUSES,
                                   next_before=rows[-1]["id"] if more and rows else None)

    def _event(self, eid: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        rows = self._events(None, None, 1, eid + 1)
        if not rows or rows[0]["id"] != eid:
            raise NotFound(f"no webhook delivery with id {eid}")
        with self.ws.engine.connect() as conn:
            event = dict(rows[0])
            event["payload"] = conn.scalar(select(OUTBOX.c.payload).where(OUTBOX.c.id == eid))
            attempts = [dict(r._mapping) for r in conn.execute(
                select(ATTEMPTS).where(ATTEMPTS.c.event_id == eid).order_by(ATTEMPTS.c.id))]
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
