"""The packs over HTTP: ``GET /api/v1/packs``, ``POST /api/v1/packs/{pack}/install``
(``/upgrade``, ``/uninstall``; ``?plan=1`` shows the plan without applying), their
OpenAPI paths, and the admin's pack gallery at ``/packs``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..errors import FieldProblem, PermissionDenied, RapportError, ValidationError
from ..meta.model import label_text
from .manager import PackManager, PackPlan
from .manifest import PackNotFound
from .manifest import label_text as manifest_label

if TYPE_CHECKING:
    from ..records.actor import Actor
    from ..web.api import Api
    from ..web.screens import Screens

ACTIONS = ("install", "upgrade", "uninstall")
TRUE = {"1", "true", "yes", "on"}


def _admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("only admins install, upgrade and uninstall packs")


def _flag(value: Any, name: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.lower() in TRUE | {"0", "false", "no", "off", ""}:
        return value.lower() in TRUE
    raise ValidationError([FieldProblem(name, "invalid", f"{name} is true or false")])


def _plan(pm: PackManager, action: str, name: str, sample_data: bool) -> PackPlan:
    if action == "install":
        return pm.plan_install(name, sample_data)
    if action == "upgrade":
        return pm.plan_upgrade(name)
    return pm.plan_uninstall(name)


def _apply(pm: PackManager, action: str, name: str, sample_data: bool, allow: bool,
           author: str) -> dict[str, Any]:
    if action == "install":
        result = pm.install(name, sample_data, author=author)
    elif action == "upgrade":
        result = pm.upgrade(name, author=author)
    else:
        result = pm.uninstall(name, allow, author=author)
    return {"applied": True, "revision": result.revision, "plan": result.plan.as_dict(),
            "sample_data": result.samples}


class PacksApi:
    def __init__(self, api: Api):
        self.api = api
        self.ws = api.ws

    async def list(self, request: Request) -> Response:
        from ..web.api import _json

        actor = await self.api.actor(request)
        data = await self.api.run(lambda: PackManager(self.ws).list(actor.locale))
        return _json({"data": data})

    async def change(self, request: Request) -> Response:
        from ..web.api import _json, read_json

        actor = await self.api.actor(request)
        _admin(actor)
        action = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        name = request.path_params["pack"]
        body = await read_json(request)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise ValidationError("the body must be a JSON object")
        unknown = sorted(set(body) - {"sample_data", "allow_data_loss"})
        if unknown:
            raise ValidationError([FieldProblem(k, "unknown", f"unknown key '{k[:60]}'")
                                   for k in unknown[:10]])
        params = request.query_params
        sample = _flag(body.get("sample_data", params.get("sample_data")), "sample_data")
        allow = _flag(body.get("allow_data_loss", params.get("allow_data_loss")),
                      "allow_data_loss")
        pm = PackManager(self.ws)
        if _flag(params.get("plan"), "plan"):
            plan = await self.api.run(_plan, pm, action, name, sample)
            return _json({"applied": False, "plan": plan.as_dict()})
        out = await self.api.run(_apply, pm, action, name, sample, allow, actor.email,
                                 write=True)
        return _json(out)

    def routes(self) -> list[Route]:
        return [Route("/packs", self.list, methods=["GET"]),
                *(Route(f"/packs/{{pack}}/{a}", self.change, methods=["POST"]) for a in ACTIONS)]


def openapi_paths(paths: dict[str, Any], ws: Any,
                  responses: Any) -> None:
    """The packs' operations, for web/openapi.py."""
    names = [d.name for d in _directories()]
    summary = {"type": "object", "required": ["name", "version", "status"], "properties": {
        "name": {"type": "string"}, "version": {"type": "string"},
        "label": {"type": "string"}, "description": {"type": "string"},
        "requires": {"type": "object", "additionalProperties": {"type": "string"}},
        "objects": {"type": "array", "items": {"type": "string"}},
        "extends": {"type": "object", "additionalProperties": {
            "type": "array", "items": {"type": "string"}}},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "sample_data": {"type": "boolean"},
        "installed_version": {"type": ["string", "null"]},
        "status": {"enum": ["available", "installed", "upgrade"]}}}
    plan = {"type": "object", "properties": {
        "pack": {"type": "string"}, "action": {"enum": list(ACTIONS)},
        "version": {"type": "string"}, "from_version": {"type": ["string", "null"]},
        "definitions": {"type": "array", "items": {"type": "object"}},
        "steps": {"type": "array", "items": {"type": "string"}},
        "notes": {"type": "array", "items": {"type": "string"}},
        "roles": {"type": "array", "items": {"type": "string"}},
        "sample_records": {"type": "integer"}, "destructive": {"type": "boolean"}}}
    result = {"type": "object", "required": ["applied", "plan"], "properties": {
        "applied": {"type": "boolean"}, "revision": {"type": "integer"}, "plan": plan,
        "sample_data": {"type": "object", "additionalProperties": {"type": "integer"}}}}
    flag = {"enum": ["0", "1"]}
    paths["/api/v1/packs"] = {"get": {
        "operationId": "list_packs", "tags": ["packs"],
        "responses": responses("200", {"type": "object", "required": ["data"], "properties": {
            "data": {"type": "array", "items": summary}}})}}
    for action in ACTIONS:
        body: dict[str, Any] = {"allow_data_loss": {"type": "boolean"}} \
            if action == "uninstall" else {}
        if action == "install":
            body["sample_data"] = {"type": "boolean"}
        params = [{"name": "pack", "in": "path", "required": True,
                   "schema": {"type": "string", "enum": names or ["none"]}},
                  {"name": "plan", "in": "query", "schema": flag,
                   "description": "1: the plan, nothing applied"}]
        paths[f"/api/v1/packs/{{pack}}/{action}"] = {"post": {
            "operationId": f"{action}_pack", "tags": ["packs"], "parameters": params,
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": body, "additionalProperties": False}}}},
            "responses": responses("200", result, "404", "409", "422")}}


def _directories() -> list[Any]:
    from .manifest import pack_directories

    return pack_directories()


# -- the gallery ---------------------------------------------------------------------

class PackScreens:
    def __init__(self, screens: Screens):
        self.screens = screens
        self.ws = screens.ws

    async def _admin(self, request: Request) -> Actor:
        actor = await self.screens.actor(request)
        _admin(actor)
        return actor

    def _cards(self, locale: str) -> list[dict[str, Any]]:
        pm = PackManager(self.ws)
        meta = self.ws.meta
        cards = []
        status = {row["name"]: row for row in pm.list(locale)}
        for p in pm.available():
            s = p.summary(locale)
            s["label"] = manifest_label(p.label, locale)
            s["description"] = manifest_label(p.description, locale)
            s["objects"] = [{"name": d.name, "label": label_text(d.data.get("plural_label")
                                                                 or d.data.get("label"), locale,
                                                                 d.name)}
                            for d in p.of_kind("object")]
            s["kanbans"], s["dashboards"] = [], []
            cards.append(s)
            row = status[p.name]
            s["installed_version"], s["status"] = row["installed_version"], row["status"]
            if s["installed_version"]:
                s["kanbans"] = [o for o in s["objects"] if o["name"] in meta.objects
                                and (meta.objects[o["name"]].views or {}).get("kanban")]
                s["dashboards"] = [{"name": d.name, "label": label_text(
                    d.data.get("label"), locale, d.name)} for d in p.of_kind("dashboard")
                    if d.name in meta.dashboards]
        return cards

    async def gallery(self, request: Request) -> Response:
        actor = await self._admin(request)
        locale = self.screens.locale(request, actor)
        cards = await run_in_threadpool(self._cards, locale)
        return self.screens.render(request, "packs/gallery.html", actor=actor, cards=cards)

    async def plan(self, request: Request) -> Response:
        actor = await self._admin(request)
        name = request.path_params["pack"]
        action = request.query_params.get("action", "install")
        if action not in ACTIONS:
            raise ValidationError([FieldProblem("action", "invalid",
                                                "action is install, upgrade or uninstall")])
        sample = request.query_params.get("sample_data", "1" if action == "install" else "0") \
            in TRUE
        pm = PackManager(self.ws)
        locale = self.screens.locale(request, actor)
        pack = await run_in_threadpool(pm.pack, name)  # 404 for an unknown pack
        error = None
        plan = None
        try:
            plan = await run_in_threadpool(_plan, pm, action, name, sample)
        except PackNotFound:
            raise
        except RapportError as exc:  # a plan refused (requires, clashes): shown on the page
            error = str(exc)
        return self.screens.render(request, "packs/plan.html", actor=actor, pack=pack,
                                   label=manifest_label(pack.label, locale), action=action,
                                   plan=plan, error=error, sample_data=sample)

    async def apply(self, request: Request) -> Response:
        actor = await self._admin(request)
        name = request.path_params["pack"]
        action = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        form = await request.form()
        sample = str(form.get("sample_data") or "") in TRUE
        allow = str(form.get("allow_data_loss") or "") in TRUE
        pm = PackManager(self.ws)
        t = self.screens.t
        pack = await run_in_threadpool(pm.pack, name)  # 404 for an unknown pack
        label = manifest_label(pack.label, self.screens.locale(request, actor))
        try:
            out = await run_in_threadpool(_apply, pm, action, name, sample, allow, actor.email)
        except RapportError as exc:
            self.screens.flash(request, t(request, "packs.failed", action=t(
                request, f"packs.verb.{action}"), message=str(exc)[:400]), "error")
        else:
            n = sum(out["sample_data"].values())
            self.screens.flash(request, t(request, f"packs.done.{action}", name=label,
                                          revision=out["revision"], n=n))
        target = "/packs"
        if request.headers.get("hx-request") == "true":
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    def routes(self) -> list[Route]:
        return [Route("/packs", self.gallery, methods=["GET"]),
                Route("/packs/{pack}/plan", self.plan, methods=["GET"]),
                *(Route(f"/packs/{{pack}}/{a}", self.apply, methods=["POST"]) for a in ACTIONS)]
