"""The ASGI application: the REST API, the screens and static files, assembled from lists."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import RapportError
from ..packs.web import PacksApi, PackScreens
from ..resources import bundled
from ..workspace import Workspace
from .api import Api
from .approvals_api import ApprovalsApi
from .auth import Authenticator
from .problems import http_error, rapport_error, server_error
from .reports_api import ReportsApi

SESSION_COOKIE = "rapport_session"
SESSION_MAX_AGE = 12 * 3600

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
       "form-action 'self'")


class SecurityHeaders:
    """CSP allowing only our own scripts, no framing, no sniffing, no referrer leaks."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", CSP.encode()),
                            (b"x-frame-options", b"DENY"),
                            (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"same-origin")]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(ws: Workspace, scheduler: bool = False) -> Starlette:
    """The app of one workspace. ``scheduler``: this process also runs the plugins'
    scheduled jobs (``rapport serve``), started and stopped with the app's lifespan."""
    from .plugin_support import ActionsApi, plugin_static_routes
    from .screens import Screens

    authenticator = Authenticator(ws)
    api = Api(ws, authenticator.actor)
    approvals_api = ApprovalsApi(api)
    screens = Screens(ws, authenticator)
    plugin_routes = ws.plugins.collect("register_routes", workspace=ws, screens=screens)
    routes = [
        *plugin_routes,  # under /x/<plugin>/ and /api/v1/x/<plugin>/: they shadow nothing
        Mount("/api/v1", routes=[*ActionsApi(api).routes(), *api.routes(),
                                 *approvals_api.routes(), *ReportsApi(api).routes(),
                                 *PacksApi(api).routes()]),
        *plugin_static_routes(ws),
        Mount("/static", app=StaticFiles(directory=bundled("ui") / "static"), name="static"),
        *PackScreens(screens).routes(),
        *screens.routes(),
    ]
    secure = os.environ.get("RAPPORT_SECURE_COOKIES", "") in {"1", "true"}
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(SessionMiddleware, secret_key=ws.config.get("secret_key") or _require_secret(),
                   session_cookie=SESSION_COOKIE, max_age=SESSION_MAX_AGE, same_site="lax",
                   https_only=secure),
    ]

    async def on_rapport_error(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api/"):
            return await rapport_error(request, exc)
        return await screens.error_page(request, exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api/"):
            return await http_error(request, exc)
        return await screens.error_page(request, exc)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        jobs = None
        if scheduler:
            from ..plugins.scheduler import Scheduler

            jobs = Scheduler(ws).start()
        yield
        if jobs is not None:
            jobs.stop()
        ws.close()

    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan, exception_handlers={
        RapportError: on_rapport_error, HTTPException: on_http_error, Exception: server_error})
    app.state.ws = ws
    return app


def _require_secret() -> str:
    secret = os.environ.get("RAPPORT_SECRET_KEY")
    if not secret:
        raise RuntimeError("the workspace has no secret_key (set RAPPORT_SECRET_KEY)")
    return secret


def app_from_env() -> Any:
    """The app for ``uvicorn --factory`` (``rapport serve --workers N``): the workspace
    comes from RAPPORT_HOME / RAPPORT_DATABASE_URL."""
    return create_app(Workspace.open(), scheduler=os.environ.get("RAPPORT_SCHEDULER") == "1")
