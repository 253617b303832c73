"""A workspace's plugins: which ones it loads (from its config and the environment), and
starting them (their tables, then ``startup``)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import MetaData

from ..errors import RapportError
from .manager import RapportPluginManager, plugin_manager

if TYPE_CHECKING:
    from ..workspace import Workspace


def workspace_plugins(config: Mapping[str, Any], root: Path | None, modules: Iterable[Any],
                      dirs: Iterable[str | Path]) -> RapportPluginManager:
    """The plugins of a workspace: its plugins/ directory, the directories of its config
    (``plugins.dirs``, relative to the workspace), of RAPPORT_PLUGINS_DIR and ``dirs``, the
    bundled plugins it enabled (``plugins.enabled``), installed ones; less those it
    disabled (``plugins.disabled``)."""
    settings = config.get("plugins") or {}
    found: list[Path] = [root / "plugins"] if root else []
    env = os.environ.get("RAPPORT_PLUGINS_DIR", "")
    for d in [*settings.get("dirs", ()), *env.split(os.pathsep), *dirs]:
        path = Path(d) if d and (Path(d).is_absolute() or root is None) else \
            root / d if d and root else None
        if path is not None and path not in found:
            found.append(path)
    return plugin_manager(found, list(modules), entry_points=config.get("entry_points", True),
                          enabled=settings.get("enabled", ()),
                          disabled=settings.get("disabled", ()))


def start_plugins(ws: Workspace) -> None:
    """Create the tables plugins keep (``register_tables``) that do not exist yet, then
    call ``startup``; a plugin failing either is left out, with the reason."""
    for plugin, tables in ws.plugins.call_each("register_tables"):
        if not tables:
            continue
        md = tables if isinstance(tables, MetaData) else MetaData()
        if md is not tables:
            for table in tables:
                table.to_metadata(md)
        try:
            md.create_all(ws.engine, checkfirst=True)
        except Exception as exc:
            ws.plugins.drop(plugin, f"cannot create its tables: {exc}")
    for impl in ws.plugins.implementations("startup"):
        try:
            impl.function(workspace=ws)
        except Exception as exc:
            ws.plugins.drop(impl.plugin_name, str(exc) if isinstance(exc, RapportError)
                            else f"failed in startup: {type(exc).__name__}: {exc}")
