"""The plugin system: hook specs and the plugin manager."""

from __future__ import annotations

import importlib.metadata
import logging
from pathlib import Path
from types import ModuleType

import pluggy

from . import hookspecs
from .hookspecs import hookimpl

log = logging.getLogger("rapport.plugins")


def plugin_manager(plugin_dirs: list[Path] | None = None,
                   modules: list[ModuleType] | None = None,
                   entry_points: bool = True) -> pluggy.PluginManager:
    """A new plugin manager with the hook specs and the plugins found."""
    pm = pluggy.PluginManager("rapport")
    pm.add_hookspecs(hookspecs)
    for module in modules or ():
        pm.register(module)
    if entry_points:
        for ep in importlib.metadata.entry_points(group="rapport"):
            pm.register(ep.load(), name=ep.name)
    for directory in plugin_dirs or ():
        _load_dir(pm, directory)
    pm.check_pending()
    return pm


def _load_dir(pm: pluggy.PluginManager, directory: Path) -> None:
    import importlib.util

    if not directory.is_dir():
        return
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        name = f"rapport_plugin_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        pm.register(module, name=path.stem)


__all__ = ["hookimpl", "plugin_manager"]
