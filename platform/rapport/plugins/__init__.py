"""The plugin system: hook specs, the plugin manager, and what plugins hand back (record
actions, record page panels, scheduled jobs). docs/plugins.md is the guide."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..meta.model import Label
from .hookspecs import hookimpl
from .manager import PluginError, PluginInfo, RapportPluginManager, plugin_manager


@dataclass(frozen=True)
class Action:
    """A record action: a button on the record page (``record``) and a bulk action on the
    list (``bulk``) of the objects it applies to.

    ``run(workspace, object_name, records, user, connection)`` (any of these keywords)
    changes the records through ``workspace.records`` with the ``connection`` given, and
    returns the message shown to the user (a string or a label per locale), or None.
    ``objects``: the objects it applies to (None: every object that is not a system
    object). ``roles``: the roles that may run it (None: whoever may edit the object).
    ``available(record)``: whether the button is shown for a record (and whether a
    record may be part of a run). ``confirm``: a question asked before it runs."""

    name: str
    label: Label
    run: Callable[..., Any]
    objects: tuple[str, ...] | None = None
    record: bool = True
    bulk: bool = True
    roles: tuple[str, ...] | None = None
    available: Callable[[Mapping[str, Any]], bool] | None = None
    confirm: Label | None = None
    style: str = "secondary"        # secondary, primary or danger
    description: Label | None = None


@dataclass(frozen=True)
class Panel:
    """A box beside a record on its page: ``template`` (found in the plugin's template
    directories) is rendered with ``context`` plus what every page has (``record``,
    ``obj``, ``t``, ``csrf_token``...)."""

    title: Label
    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""


@dataclass(frozen=True)
class Job:
    """A scheduled job: ``run(workspace)`` on ``schedule`` (a cron expression, ``@hourly``,
    ``@daily`` or ``@every 30s``), once per tick across every worker. ``lease_seconds``:
    how long a worker that died while running it keeps the tick."""

    name: str
    schedule: str
    run: Callable[..., Any]
    lease_seconds: float = 600.0


@dataclass(frozen=True)
class NavLink:
    """An entry of the sidebar (under "Extensions"); ``admin``: shown to admins only."""

    label: Label
    href: str
    admin: bool = True


SCRATCH = "rapport_scratch"


def scratch(connection: Any) -> dict[str, Any]:
    """A dict that lives as long as the connection's transaction (``connection.info``
    outlives it: the pool keeps it with the connection): what a hook remembers between
    the rows of one import, say."""
    return connection.info.setdefault(SCRATCH, {})


def warn(connection: Any, message: str) -> None:
    """A warning about the write in progress (it goes ahead): a CSV import reports it."""
    scratch(connection).setdefault("warnings", []).append(str(message)[:500])


def warnings(connection: Any) -> list[str]:
    return list(scratch(connection).get("warnings", ()))


def settings(workspace: Any, plugin: str) -> dict[str, Any]:
    """A plugin's settings: ``"plugin_settings": {"<plugin>": {...}}`` in rapport.json."""
    value = (workspace.config.get("plugin_settings") or {}).get(plugin) or {}
    return dict(value) if isinstance(value, Mapping) else {}


__all__ = ["Action", "Job", "NavLink", "Panel", "PluginError", "PluginInfo", "RapportPluginManager",
           "hookimpl", "plugin_manager", "scratch", "settings", "warn", "warnings"]
