"""Server-rendered screens (Jinja2 + htmx): login, the app shell and home. The object
screens (lists, record pages, forms, kanban) live in ``web/views/`` and are registered here."""

from __future__ import annotations

import dataclasses
import time
from typing import Any
from urllib.parse import quote

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..auth.users import Throttled, login
from ..errors import RapportError
from ..meta.model import ObjectDef, label_text
from ..plugins import NavLink
from ..records.actor import Actor
from ..resources import bundled
from ..workspace import Workspace
from .auth import Authenticator, Unauthenticated, check_csrf, csrf_token
from .i18n import LOCALES, pick_locale, translate
from .views.widgets import COLOR, cell, cell_html, format_datetime

FLASH_KEY = "flash"
MAX_FLASHES = 5


def is_partial(request: Request) -> bool:
    """An htmx request for a fragment (not a history restore, which needs the full page)."""
    headers = request.headers
    return headers.get("hx-request") == "true" and headers.get("hx-history-restore-request") != "true" \
        and headers.get("hx-boosted") != "true"


class Screens:
    def __init__(self, ws: Workspace, authenticator: Authenticator):
        self.ws = ws
        self.auth = authenticator
        self._pack_owners: tuple[int, dict[str, Any]] = (-1, {})  # (revision, object -> label)
        dirs = [str(d) for d in ws.plugins.collect("register_template_dirs")]
        self.plugin_nav = [link for link in ws.plugins.collect("register_nav_links",
                                                               workspace=ws)
                           if isinstance(link, NavLink)]
        self.env = Environment(
            loader=ChoiceLoader([FileSystemLoader([*dirs, str(bundled("ui") / "templates")])]),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True, lstrip_blocks=True)
        self.env.globals.update(label_text=label_text, LOCALES=LOCALES, cell_html=cell_html,
                                has_widget=self.has_widget,
                                datetime_text=format_datetime,
                                safe_color=lambda c: c if isinstance(c, str) and COLOR.match(c) else None)

    # -- helpers ----------------------------------------------------------------------

    def has_widget(self, kind: str) -> bool:
        """Whether a plugin's template ``fields/<kind>.html`` draws this form widget."""
        cache = self.__dict__.setdefault("_widgets", {})
        if kind not in cache:
            try:
                self.env.get_template(f"fields/{kind}.html")
                cache[kind] = True
            except Exception:
                cache[kind] = False
        return bool(cache[kind])

    def locale(self, request: Request, actor: Actor | None = None) -> str:
        chosen = request.session.get("locale") or (actor.locale if actor else None)
        return pick_locale(chosen, request.headers.get("accept-language", ""))

    def acting(self, request: Request, actor: Actor) -> Actor:
        """The actor as the record service sees it: messages in the screen's language."""
        locale = self.locale(request, actor)
        return actor if actor.locale == locale else dataclasses.replace(actor, locale=locale)

    def t(self, request: Request, key: str, **values: Any) -> str:
        return translate(self.locale(request, request.scope.get("actor")), key, **values)

    def currency(self) -> str:
        return str(self.ws.config.get("currency") or "USD")

    def flash(self, request: Request, text: str, kind: str = "ok") -> None:
        """A message shown once, on the next page rendered for this session."""
        items = list(request.session.get(FLASH_KEY) or [])[-(MAX_FLASHES - 1):]
        items.append([kind, text[:500]])
        request.session[FLASH_KEY] = items

    def badges(self, actor: Actor) -> dict[str, int]:
        """The shell's counts: approvals waiting for the actor, unread notifications (one
        COUNT each)."""
        return {"approvals_waiting": self.ws.approvals.inbox_count(actor),
                "notifications_unread": self.ws.notifications.unread_count(actor)}

    def nav_groups(self, locale: str) -> list[tuple[str | None, list[ObjectDef]]]:
        """The sidebar's objects: the workspace's own (heading None), then each template
        pack's under its label. Which pack owns what is read once per metadata revision."""
        meta = self.ws.meta
        if self._pack_owners[0] != meta.revision:
            from ..packs import PackManager

            owners = PackManager(self.ws).object_owners()
            self._pack_owners = (meta.revision, {o: p.label for o, p in owners.items()})
        owners = self._pack_owners[1]
        groups: dict[str | None, list[ObjectDef]] = {None: []}
        for heading in sorted({label_text(label, locale) for label in owners.values()}):
            groups[heading] = []
        for o in meta.objects.values():
            if not o.system:
                label = owners.get(o.name)
                groups[label_text(label, locale) if label else None].append(o)
        return [(k, sorted(v, key=lambda o: o.display_plural(locale)))
                for k, v in groups.items() if v]

    def render(self, request: Request, template: str, status: int = 200,
               actor: Actor | None = None, headers: dict[str, str] | None = None,
               **context: Any) -> HTMLResponse:
        locale = self.locale(request, actor)
        meta = self.ws.meta
        nav = self.nav_groups(locale)
        partial = is_partial(request)
        flashes = [] if partial else list(request.session.pop(FLASH_KEY, None) or [])
        currency = self.currency()
        types = self.ws.types
        titles = context.get("titles") or {}
        if actor is not None and not partial:  # the shell's badges (a fragment has no shell)
            context = {**self.badges(actor), **context}
        html = self.env.get_template(template).render(
            request=request, actor=actor, locale=locale, meta=meta, nav=nav,
            t=lambda key, **kw: translate(locale, key, **kw),
            show=lambda f, value: cell(f, value, locale, titles, currency, types),
            cell_for=lambda f, value, other: cell(f, value, locale, other, currency, types),
            currency=currency, csrf_token=csrf_token(request), htmx=partial, partial=partial,
            plugin_nav=self.plugin_nav,
            flashes=flashes, current_path=request.url.path, **context)
        response = HTMLResponse(html, status_code=status, headers=headers)
        response.headers["vary"] = "HX-Request"
        response.headers["cache-control"] = "no-store"
        return response

    async def actor(self, request: Request) -> Actor:
        actor = await self.auth.actor(request, api=False, before=self.ws.refresh)
        if request.method not in {"GET", "HEAD"}:
            form_token = None
            if "x-csrf-token" not in request.headers:
                form = await request.form()
                form_token = str(form.get("csrf_token") or "")
            await check_csrf(request, form_token)
        return actor

    async def error_page(self, request: Request, exc: Exception) -> Response:
        if isinstance(exc, Unauthenticated):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if request.headers.get("hx-request") == "true":
                return Response(status_code=401, headers={"HX-Redirect": "/login"})
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        status = exc.status if isinstance(exc, RapportError) else \
            exc.status_code if isinstance(exc, HTTPException) else 500
        message = str(exc) if isinstance(exc, RapportError) else \
            (exc.detail if isinstance(exc, HTTPException) else "error")
        actor = request.scope.get("actor")
        if is_partial(request):
            return Response(str(message), status_code=status, media_type="text/plain")
        return self.render(request, "error.html", status=status, actor=actor, status_code=status,
                           message=message)

    # -- login ------------------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        return self.render(request, "login.html", next=_safe_next(request.query_params.get("next")))

    async def login(self, request: Request) -> Response:
        form = await request.form()
        await check_csrf(request, str(form.get("csrf_token") or ""))
        email = str(form.get("email") or "").strip()[:254]
        password = str(form.get("password") or "")[:1024]
        target = _safe_next(str(form.get("next") or ""))
        address = request.client.host if request.client else ""
        try:
            actor = await run_in_threadpool(login, self.ws, email, password, address) \
                if email else None
        except Throttled:
            return self.render(request, "login.html", status=429, next=target, email=email,
                               error="login.throttled")
        if actor is None:
            return self.render(request, "login.html", status=401, next=target, email=email,
                               error="login.failed")
        locale = request.session.get("locale")
        request.session.clear()
        if locale:
            request.session["locale"] = locale
        request.session["user_id"] = actor.id
        request.session["login_at"] = int(time.time())
        csrf_token(request)
        return RedirectResponse(target, status_code=303)

    async def logout(self, request: Request) -> Response:
        form = await request.form()
        await check_csrf(request, str(form.get("csrf_token") or ""))
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    async def set_locale(self, request: Request) -> Response:
        form = await request.form()
        await check_csrf(request, str(form.get("csrf_token") or ""))
        locale = str(form.get("locale") or "")
        if locale in LOCALES:
            request.session["locale"] = locale
        return RedirectResponse(_safe_next(str(form.get("next") or "")), status_code=303)

    async def home(self, request: Request) -> Response:
        actor = await self.actor(request)
        return self.render(request, "home.html", actor=actor)

    def routes(self) -> list[BaseRoute]:
        from .admin import AdminScreens
        from .designer import designer_routes
        from .views import object_routes
        from .views.approvals import ApprovalScreens
        from .views.reports import report_routes

        return [
            Route("/", self.home, methods=["GET"]),
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/locale", self.set_locale, methods=["POST"]),
            *designer_routes(self),
            *AdminScreens(self).routes(),
            *ApprovalScreens(self).routes(),
            *report_routes(self),
            *object_routes(self),
        ]


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
