"""The admin's security screens under /admin: users, teams, roles, the permission matrix
(objects × actions, scopes, field access), API tokens and the audit log. Admins only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from ...auth import audit
from ...auth.access import ACTIONS, FIELD_ACCESS, SCOPES, default_permission
from ...auth.users import revoke_token, role_codes, tokens_of
from ...errors import NotFound, PermissionDenied, RapportError, ValidationError
from ...records.actor import Actor
from ...records.query import Query

if TYPE_CHECKING:
    from ..screens import Screens

PAGE = 200


class AdminScreens:
    def __init__(self, screens: Screens):
        self.screens = screens
        self.ws = screens.ws

    async def admin(self, request: Request) -> Actor:
        actor = await self.screens.actor(request)  # CSRF checked on every write
        if not actor.is_admin:
            raise PermissionDenied(self.screens.t(request, "error.admins_only"))
        return actor

    def _all(self, name: str, sort: str) -> list[dict[str, Any]]:
        return self.ws.records.query(name, Query(sort=[(sort, False)], limit=1000)).data

    # -- users and teams -------------------------------------------------------------------

    async def users(self, request: Request) -> Response:
        actor = await self.admin(request)

        def context() -> dict[str, Any]:
            return {"users": self._all("user", "full_name"), "teams": self._all("team", "name"),
                    "roles": self._all("role", "title"), "codes": role_codes(self.ws)}
        return self.screens.render(request, "admin/users.html", actor=actor,
                                   section="users", **await run_in_threadpool(context))

    async def save_user(self, request: Request) -> Response:
        actor = await self.admin(request)
        form = await request.form()
        rid = request.path_params["id"]
        team = str(form.get("team") or "")
        changes = {"role": str(form.get("role") or ""), "active": form.get("active") == "1",
                   "team": int(team) if team.isdigit() else None}
        try:
            await run_in_threadpool(self.ws.records.update, "user", rid, changes,
                                    self.screens.acting(request, actor))
        except (ValidationError, NotFound) as exc:
            self.screens.flash(request, _message(exc), "error")
        else:
            self.screens.flash(request, self.screens.t(request, "security.saved"))
        return RedirectResponse("/admin/users", 303)

    async def teams(self, request: Request) -> Response:
        actor = await self.admin(request)

        def context() -> dict[str, Any]:
            users = self._all("user", "full_name")
            members: dict[Any, list[dict[str, Any]]] = {}
            for u in users:
                members.setdefault(u.get("team"), []).append(u)
            return {"teams": self._all("team", "name"), "members": members, "users": users}
        return self.screens.render(request, "admin/teams.html", actor=actor, section="teams",
                                   **await run_in_threadpool(context))

    async def add_team(self, request: Request) -> Response:
        actor = await self.admin(request)
        form = await request.form()
        manager = str(form.get("manager") or "")
        values = {"name": str(form.get("name") or "").strip(),
                  "manager": int(manager) if manager.isdigit() else None}
        try:
            await run_in_threadpool(self.ws.records.create, "team", values,
                                    self.screens.acting(request, actor))
        except ValidationError as exc:
            self.screens.flash(request, _message(exc), "error")
        else:
            self.screens.flash(request, self.screens.t(request, "security.saved"))
        return RedirectResponse("/admin/teams", 303)

    # -- roles and the permission matrix -----------------------------------------------------

    async def roles(self, request: Request) -> Response:
        actor = await self.admin(request)
        roles = await run_in_threadpool(self._all, "role", "title")
        by_id = {r["id"]: r for r in roles}
        return self.screens.render(request, "admin/roles.html", actor=actor, section="roles",
                                   roles=roles, by_id=by_id)

    async def add_role(self, request: Request) -> Response:
        actor = await self.admin(request)
        form = await request.form()
        parent = str(form.get("parent") or "")
        values = {"code": str(form.get("code") or "").strip(),
                  "title": str(form.get("title") or "").strip(),
                  "parent": int(parent) if parent.isdigit() else None}

        def create() -> None:
            from ...auth.roles import add_role_option

            with self.ws.transaction() as conn:
                self.ws.records.create("role", values, self.screens.acting(request, actor),
                                       conn=conn)
                audit.record(self.ws, "permission_changed", actor, object_name="role",
                             detail={"role_added": values}, conn=conn)
            add_role_option(self.ws, values["code"], values["title"])
        try:
            await run_in_threadpool(create)
        except ValidationError as exc:
            self.screens.flash(request, _message(exc), "error")
            return RedirectResponse("/admin/roles", 303)
        return RedirectResponse(f"/admin/roles/{values['code']}", 303)

    def _matrix(self, code: str) -> dict[str, Any]:
        roles = self._all("role", "title")
        role = next((r for r in roles if r["code"] == code), None)
        if role is None:
            raise NotFound(f"no role '{code[:63]}'")
        policy = self.ws.access.policy()
        rows = []
        for obj in sorted((o for o in self.ws.meta.objects.values() if not o.system),
                          key=lambda o: o.name):
            own = policy.own.get((code, obj.name))
            rows.append({"obj": obj, "own": own is not None,
                         "perm": own or default_permission(code),
                         "effective": policy.permission(code, obj)})
        return {"role": role, "rows": rows, "parent": next(
            (r for r in roles if r["id"] == role.get("parent")), None)}

    async def role(self, request: Request) -> Response:
        actor = await self.admin(request)
        context = await run_in_threadpool(self._matrix, request.path_params["code"])
        return self.screens.render(request, "admin/role.html", actor=actor, section="roles",
                                   actions=ACTIONS, scopes=SCOPES[1:], field_access=FIELD_ACCESS,
                                   **context)

    async def save_role(self, request: Request) -> Response:
        actor = await self.admin(request)
        form = await request.form()
        code = request.path_params["code"]
        name = str(form.get("object") or "")
        back = f"/admin/roles/{code}#perm-{name}"
        try:
            if form.get("reset") == "1":
                await run_in_threadpool(self.ws.access.reset_permissions, code, name, actor)
            else:
                values: dict[str, Any] = {a: form.get(f"can_{a}") == "1" for a in ACTIONS}
                values["read_scope"] = str(form.get("read_scope") or "own")
                values["edit_scope"] = str(form.get("edit_scope") or "own")
                prefix = "field."
                fields = {k[len(prefix):]: (str(v) or None) for k, v in form.multi_items()
                          if k.startswith(prefix)}
                await run_in_threadpool(self.ws.access.set_permissions, code, name, values,
                                        fields, actor)
        except (ValidationError, NotFound) as exc:
            self.screens.flash(request, _message(exc), "error")
        else:
            self.screens.flash(request, self.screens.t(request, "security.saved"))
        return RedirectResponse(back, 303)

    # -- tokens and the audit log ------------------------------------------------------------

    async def tokens(self, request: Request) -> Response:
        actor = await self.admin(request)

        def context() -> dict[str, Any]:
            users = {u["id"]: u for u in self._all("user", "full_name")}
            return {"tokens": tokens_of(self.ws), "users": users}
        return self.screens.render(request, "admin/tokens.html", actor=actor, section="tokens",
                                   **await run_in_threadpool(context))

    async def revoke(self, request: Request) -> Response:
        actor = await self.admin(request)
        try:
            await run_in_threadpool(revoke_token, self.ws, request.path_params["id"], actor)
        except NotFound as exc:
            self.screens.flash(request, _message(exc), "error")
        else:
            self.screens.flash(request, self.screens.t(request, "security.token_revoked"))
        return RedirectResponse("/admin/tokens", 303)

    async def audit_log(self, request: Request) -> Response:
        actor = await self.admin(request)
        event = request.query_params.get("event") or None
        if event not in (None, *audit.EVENTS):
            event = None
        before = request.query_params.get("before") or ""
        rows = await run_in_threadpool(audit.entries, self.ws, event, PAGE,
                                       int(before) if before.isdigit() else None)
        return self.screens.render(request, "admin/audit.html", actor=actor, section="audit",
                                   entries=rows, events=audit.EVENTS, event=event,
                                   more=rows[-1]["id"] if len(rows) == PAGE else None)

    async def audit_csv(self, request: Request) -> Response:
        actor = await self.admin(request)
        event = request.query_params.get("event") or None
        if event not in (None, *audit.EVENTS):
            event = None
        await run_in_threadpool(audit.record, self.ws, "export", actor,
                                object_name="rapport_audit", detail={"event": event})
        lines = await run_in_threadpool(lambda: list(audit.csv_lines(self.ws, event)))
        return StreamingResponse(iter(lines), media_type="text/csv; charset=utf-8", headers={
            "content-disposition": 'attachment; filename="audit.csv"', "cache-control": "no-store"})

    async def reveal(self, request: Request) -> Response:
        """A sensitive value in clear on a record page (htmx), the reveal audited."""
        from ..views.widgets import cell, cell_html

        actor = await self.screens.actor(request)
        name, field = request.path_params["object"], request.path_params["field"]

        def shown() -> str:
            obj = self.ws.meta.objects.get(name)
            if obj is None or not self.ws.access.may_reveal(actor, obj, field):
                raise NotFound(self.screens.t(request, "error.no_object", name=str(name)[:60]))
            record = self.ws.records.get(name, request.path_params["id"], actor, reveal=[field])
            audit.record(self.ws, "reveal", actor, object_name=name, record_id=record["id"],
                         address=request.client.host if request.client else None,
                         detail={"field": field})
            locale = self.screens.locale(request, actor)
            return str(cell_html(cell(obj.field(field), record.get(field), locale, {},
                                      self.screens.currency(), self.ws.types), locale))
        html = await run_in_threadpool(shown)
        return Response(html, media_type="text/html",
                        headers={"cache-control": "no-store"})

    async def index(self, request: Request) -> Response:
        await self.admin(request)
        return RedirectResponse("/admin/users", 303)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/admin", self.index, methods=["GET"]),
            Route("/admin/users", self.users, methods=["GET"]),
            Route("/admin/users/{id:int}", self.save_user, methods=["POST"]),
            Route("/admin/teams", self.teams, methods=["GET"]),
            Route("/admin/teams", self.add_team, methods=["POST"]),
            Route("/admin/roles", self.roles, methods=["GET"]),
            Route("/admin/roles", self.add_role, methods=["POST"]),
            Route("/admin/roles/{code}", self.role, methods=["GET"]),
            Route("/admin/roles/{code}", self.save_role, methods=["POST"]),
            Route("/admin/tokens", self.tokens, methods=["GET"]),
            Route("/admin/tokens/{id:int}/revoke", self.revoke, methods=["POST"]),
            Route("/admin/audit", self.audit_log, methods=["GET"]),
            Route("/admin/audit.csv", self.audit_csv, methods=["GET"]),
            Route("/o/{object}/{id:int}/reveal/{field}", self.reveal, methods=["GET"]),
        ]


def _message(exc: RapportError) -> str:
    if isinstance(exc, ValidationError) and exc.problems:
        return "; ".join(p.message for p in exc.problems)
    return str(exc)
