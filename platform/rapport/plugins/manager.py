"""Finding, loading and checking plugins; calling hooks so that a broken plugin is named.

Plugins come from (in this order): the built-in ones, modules handed to the workspace,
installed distributions (entry-point group ``rapport``), the bundled plugins the workspace
enabled (the top-level ``plugins/`` folder), the workspace's ``plugins/`` directory and
every ``--plugins-dir``. A plugin that fails to import, implements a hook that does not
exist or fails in ``startup`` is left out and reported (``rapport plugins list``); the
workspace opens without it.
"""

from __future__ import annotations

import difflib
import functools
import importlib.metadata
import importlib.util
import inspect
import logging
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from ..errors import RapportError
from ..resources import bundled
from . import hookspecs

log = logging.getLogger("rapport.plugins")


class PluginError(RapportError):
    """A plugin failed (an exception that is not a refusal): names the plugin and hook."""

    status = 500
    code = "plugin_error"

    def __init__(self, plugin: str, hook: str, exc: BaseException | str):
        self.plugin = plugin
        self.hook = hook
        detail = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        super().__init__(f"plugin '{plugin}' failed in {hook}: {detail}")


@dataclass
class PluginInfo:
    """What ``rapport plugins list`` shows about one plugin."""

    name: str
    source: str                     # builtin, module, entry point, bundled, directory
    location: str = ""
    hooks: list[str] = field(default_factory=list)
    error: str | None = None        # why it is not loaded
    problems: list[str] = field(default_factory=list)   # hooks that failed at run time

    @property
    def loaded(self) -> bool:
        return self.error is None


def _wrap(impl: Any) -> None:
    """Make an implementation raise PluginError (naming the plugin and the hook) for any
    exception but the refusals Rapport defines (ValidationError and the like)."""
    function = impl.function
    if getattr(function, "_rapport_wrapped", False) or impl.hookwrapper or impl.wrapper:
        return
    plugin, hook = impl.plugin_name, function.__name__

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except RapportError:
            raise
        except Exception as exc:
            log.error("plugin %r failed in %s\n%s", plugin, hook, traceback.format_exc())
            raise PluginError(plugin, hook, exc) from exc

    call._rapport_wrapped = True  # type: ignore[attr-defined]
    impl.function = call


class RapportPluginManager(pluggy.PluginManager):
    """pluggy's manager, with what is known about every plugin found (``infos``)."""

    def __init__(self) -> None:
        super().__init__("rapport")
        self.add_hookspecs(hookspecs)
        self.infos: list[PluginInfo] = []

    # -- loading -----------------------------------------------------------------------

    def add(self, plugin: Any, name: str, source: str, location: str = "") -> PluginInfo:
        """Register ``plugin`` (a module or an object with hook implementations), checked:
        an unknown hook name or wrong arguments leave it out, with the reason."""
        info = PluginInfo(name, source, location)
        self.infos.append(info)
        if self.has_plugin(name):
            info.error = f"another plugin is already registered as '{name}'"
            return info
        try:
            self.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            info.error = str(exc)
            return info
        unknown = [c.name for c in self.get_hookcallers(plugin) or () if c.spec is None]
        if unknown:
            self.unregister(plugin)
            known = [n for n in dir(hookspecs) if isinstance(getattr(self.hook, n, None),
                                                             pluggy.HookCaller)]
            hints = []
            for hook in unknown:
                close = difflib.get_close_matches(hook, known, n=1)
                hints.append(f"'{hook}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
            info.error = "unknown hook " + ", ".join(hints)
            return info
        info.hooks = sorted(c.name for c in self.get_hookcallers(plugin) or ())
        for caller in self.get_hookcallers(plugin) or ():
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin:
                    _wrap(impl)
        return info

    def failed(self, name: str, source: str, location: str, exc: BaseException) -> None:
        log.error("plugin %r (%s) not loaded\n%s", name, location, traceback.format_exc())
        self.infos.append(PluginInfo(name, source, location,
                                     error=f"{type(exc).__name__}: {exc}"))

    def info(self, name: str) -> PluginInfo | None:
        return next((i for i in self.infos if i.name == name and i.loaded), None)

    def drop(self, name: str, problem: str) -> None:
        """Leave a registered plugin out (it failed in ``startup``)."""
        plugin = self.get_plugin(name)
        if plugin is not None:
            self.unregister(plugin)
        info = self.info(name)
        if info is not None:
            info.error = problem

    # -- calling ----------------------------------------------------------------------

    def implementations(self, hook: str) -> list[Any]:
        """The hook's implementations in calling order (last registered first)."""
        return list(reversed(getattr(self.hook, hook).get_hookimpls()))

    def call_each(self, hook: str, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        """``(plugin name, result)`` of every implementation, each called on its own: one
        that fails is logged and noted on its plugin (``problems``); the others still run."""
        for impl in self.implementations(hook):
            try:
                result = impl.function(**{a: kwargs[a] for a in impl.argnames})
            except Exception as exc:
                self.note(impl.plugin_name, hook, exc)
                continue
            yield impl.plugin_name, result

    def collect(self, hook: str, **kwargs: Any) -> list[Any]:
        """The items of every implementation's list (register_* hooks), in order."""
        return [item for _name, items in self.call_each(hook, **kwargs) for item in items or ()]

    def note(self, plugin: str, hook: str, exc: BaseException) -> None:
        text = str(exc) if isinstance(exc, PluginError) else \
            str(PluginError(plugin, hook, exc))
        if not isinstance(exc, PluginError):
            log.error("%s\n%s", text, "".join(traceback.format_exception(exc)))
        info = self.info(plugin)
        if info is not None and text not in info.problems:
            info.problems.append(text)


# -- discovery ----------------------------------------------------------------------------

def _module_from(path: Path, module_name: str) -> ModuleType:
    """Import a plugin file (``x.py``) or package (``x/__init__.py``) under a name of its
    own; the same file imported again (another workspace in the process) is reused."""
    init = path / "__init__.py" if path.is_dir() else path
    existing = sys.modules.get(module_name)
    if existing is not None and getattr(existing, "__file__", None) == str(init):
        return existing
    spec = importlib.util.spec_from_file_location(
        module_name, init, submodule_search_locations=[str(path)] if path.is_dir() else None)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {init}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def plugin_paths(directory: Path) -> list[tuple[str, Path]]:
    """(name, path) of the plugins in a directory: ``*.py`` files and packages."""
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.iterdir()):
        if path.name.startswith(("_", ".")) or path.name == "tests":
            continue
        if path.suffix == ".py" and path.is_file():
            found.append((path.stem, path))
        elif path.is_dir() and (path / "__init__.py").exists():
            found.append((path.name, path))
    return found


def bundled_plugins() -> dict[str, Path]:
    """The plugins shipped with Rapport (the top-level ``plugins/`` folder)."""
    try:
        return dict(plugin_paths(bundled("plugins")))
    except FileNotFoundError:
        return {}


def load_bundled(name: str) -> ModuleType:
    """The module of a bundled plugin (imported once per process)."""
    path = bundled_plugins().get(name)
    if path is None:
        raise KeyError(name)
    return _module_from(path, f"rapport_bundled_{name}")


def _plugin_name(plugin: Any) -> str:
    name = getattr(plugin, "name", None) if not inspect.ismodule(plugin) else None
    if isinstance(name, str) and name:
        return name
    module = getattr(plugin, "__name__", None) or type(plugin).__name__
    return str(module).removeprefix("rapport_plugin_").removeprefix("rapport_bundled_")


def plugin_manager(plugin_dirs: Iterable[Path] = (), modules: Iterable[Any] = (),
                   entry_points: bool = True, enabled: Iterable[str] = (),
                   disabled: Iterable[str] = (),
                   builtin: Iterable[Any] | None = None) -> RapportPluginManager:
    """A new plugin manager with the hook specs and the plugins found (see the module's
    docstring). ``enabled``: bundled plugins to load; ``disabled``: plugins to skip."""
    from . import builtin as builtin_module

    pm = RapportPluginManager()
    skip = set(disabled)
    for plugin in (builtin_module,) if builtin is None else builtin:
        pm.add(plugin, _plugin_name(plugin) if plugin is not builtin_module else "rapport",
               "builtin", getattr(plugin, "__file__", "") or "")
    for plugin in modules:
        name = _plugin_name(plugin)
        if name not in skip:
            pm.add(plugin, name, "module", getattr(plugin, "__file__", "") or "")
    if entry_points:
        for ep in importlib.metadata.entry_points(group="rapport"):
            if ep.name in skip:
                continue
            where = f"{ep.dist.name if ep.dist else '?'}: {ep.value}"
            try:
                loaded = ep.load()
            except Exception as exc:
                pm.failed(ep.name, "entry point", where, exc)
                continue
            pm.add(loaded, ep.name, "entry point", where)
    shipped = bundled_plugins()
    for name in dict.fromkeys(enabled):
        if name in skip:
            continue
        if name not in shipped:
            pm.infos.append(PluginInfo(name, "bundled", error="no bundled plugin of this name "
                                       f"(there are: {', '.join(sorted(shipped)) or 'none'})"))
            continue
        _load_path(pm, name, shipped[name], f"rapport_bundled_{name}", "bundled")
    for directory in plugin_dirs:
        for name, path in plugin_paths(Path(directory)):
            if name not in skip:
                _load_path(pm, name, path, f"rapport_plugin_{name}", "directory")
    return pm


def _load_path(pm: RapportPluginManager, name: str, path: Path, module_name: str,
               source: str) -> None:
    try:
        module = _module_from(path, module_name)
    except Exception as exc:
        pm.failed(name, source, str(path), exc)
        return
    pm.add(module, name, source, str(path))


def accepts(function: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
    """The keyword arguments among ``kwargs`` that ``function`` takes (all of them when it
    takes ``**kwargs``): actions and jobs take only what they need, like hooks."""
    params = inspect.signature(function).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return kwargs
    return {k: v for k, v in kwargs.items() if k in params}
