"""What every object screen needs: the object from the URL, the write check, the
service actor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from ...errors import NotFound, PermissionDenied
from ...meta.model import ObjectDef
from ...records.actor import Actor

if TYPE_CHECKING:
    from ..screens import Screens


class ObjectScreens:
    def __init__(self, screens: Screens):
        self.screens = screens
        self.ws = screens.ws

    def obj(self, request: Request) -> ObjectDef:
        name = request.path_params["object"]
        obj = self.ws.meta.objects.get(name)
        if obj is None:
            raise NotFound(self.screens.t(request, "error.no_object", name=str(name)[:60]))
        return obj

    def check_write(self, request: Request, actor: Actor, obj: ObjectDef) -> None:
        """System objects (users, roles, teams) are changed by admins only."""
        if obj.system and not actor.is_admin:
            raise PermissionDenied(self.screens.t(request, "error.admins_only"))

    def record(self, obj: ObjectDef, rid: Any, actor: Actor) -> dict[str, Any]:
        """The record as the actor may see it (not found when they may not read it)."""
        return self.ws.records.get(obj.name, rid, actor)
