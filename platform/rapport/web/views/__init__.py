"""The object screens, one module per job: lists, record pages, forms, kanban boards."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from ..screens import Screens


def object_routes(screens: Screens) -> list[BaseRoute]:
    """Every ``/o/...`` route; fixed words (new, kanban, count...) before ``{id:int}``."""
    from .actions import ActionScreens
    from .forms import FormScreens
    from .kanban import KanbanScreens
    from .lists import ListScreens
    from .records import RecordScreens

    return [*ListScreens(screens).routes(), *KanbanScreens(screens).routes(),
            *FormScreens(screens).routes(), *ActionScreens(screens).routes(),
            *RecordScreens(screens).routes()]
