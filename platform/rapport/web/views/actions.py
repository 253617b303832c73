"""Plugin record actions on the screens: a record page's action buttons and a list's bulk
actions post here (CSRF-checked); the action runs in one transaction and its message is
flashed on the page the user came from. An action with a question confirms first."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ...errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    RapportError,
    StaleVersion,
    ValidationError,
)
from ...meta.model import ObjectDef, label_text
from ...records.actor import Actor
from .base import ObjectScreens
from .widgets import record_title

ACTION_PREFIX = "action:"


class ActionScreens(ObjectScreens):
    async def run(self, request: Request, obj: ObjectDef, actor: Actor, name: str,
                  ids: list[Any], back: str, bulk: bool, form: Any) -> Response:
        """Run action ``name`` on ``ids`` (after its question, when it has one)."""
        reg = self.ws.actions.get(name)
        locale = self.screens.locale(request, actor)
        if reg.action.confirm and form.get("_confirm") != "1":
            records = await run_in_threadpool(self._records, obj, ids, actor)
            return self.screens.render(
                request, "action_confirm.html", actor=actor, obj=obj, records=records,
                back=back, bulk=bulk, action=reg.action, record_title=record_title,
                question=label_text(reg.action.confirm, locale),
                label=label_text(reg.action.label, locale))
        try:
            result = await run_in_threadpool(self.ws.actions.run, name, obj.name, ids,
                                             self.screens.acting(request, actor), bulk)
        except (ValidationError, Conflict, StaleVersion, PermissionDenied, NotFound) as exc:
            self.screens.flash(request, f"{label_text(reg.action.label, locale)}: {exc}",
                               "error")
        except RapportError as exc:  # a plugin that failed: named, nothing was changed
            self.screens.flash(request, str(exc), "error")
        else:
            self.screens.flash(request, result.message)
        return RedirectResponse(back, 303)

    def _records(self, obj: ObjectDef, ids: list[Any], actor: Actor) -> list[dict[str, Any]]:
        from ...records.query import Cond, Query

        wanted = [int(i) for i in ids if str(i).isdigit()][:500]
        return self.ws.records.query(obj.name, Query(filter=Cond("id", "in", wanted),
                                                     limit=max(1, len(wanted))), actor).data

    async def record_action(self, request: Request) -> Response:
        actor = await self.screens.actor(request)
        obj = self.obj(request)
        form = await request.form()
        rid = request.path_params["id"]
        return await self.run(request, obj, actor, request.path_params["action"], [rid],
                              f"/o/{obj.name}/{rid}", False, form)

    def routes(self) -> list[BaseRoute]:
        return [Route("/o/{object}/{id:int}/actions/{action}", self.record_action,
                      methods=["POST"])]
