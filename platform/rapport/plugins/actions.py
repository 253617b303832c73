"""Record actions from the ``register_actions`` hook: which ones a user may see and run on
an object or a record, and running one over chosen records in one transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..errors import NotFound, PermissionDenied, RapportError, ValidationError
from ..meta.model import label_text
from ..meta.reserved import NAME
from ..records.actor import Actor
from ..web.i18n import translate
from . import Action
from .manager import PluginError, accepts

if TYPE_CHECKING:
    from ..workspace import Workspace

MAX_RECORDS = 500


@dataclass(frozen=True)
class Registered:
    plugin: str
    action: Action

    @property
    def name(self) -> str:
        return self.action.name


@dataclass
class ActionResult:
    message: str
    count: int
    ids: list[int]


class Actions:
    """The workspace's record actions (collected once, as the workspace opens)."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self._all: dict[str, Registered] = {}
        for plugin, items in ws.plugins.call_each("register_actions", workspace=ws):
            for action in items or ():
                if not isinstance(action, Action) or not NAME.fullmatch(action.name):
                    ws.plugins.note(plugin, "register_actions", ValueError(
                        f"not an Action with a valid name: {action!r}"[:200]))
                elif action.name in self._all:
                    ws.plugins.note(plugin, "register_actions", ValueError(
                        f"action '{action.name}' is registered twice"))
                else:
                    self._all[action.name] = Registered(plugin, action)

    def all(self) -> list[Registered]:
        return list(self._all.values())

    def applies(self, reg: Registered, object_name: str) -> bool:
        obj = self.ws.meta.objects.get(object_name)
        if obj is None:
            return False
        if reg.action.objects is None:
            return not obj.system
        return object_name in reg.action.objects

    def allowed(self, reg: Registered, object_name: str, actor: Actor) -> bool:
        """Whether ``actor`` may run it on ``object_name``: its roles (admins run every
        action), and the right to edit the object (system objects: admins)."""
        obj = self.ws.meta.objects.get(object_name)
        if obj is None or not self.applies(reg, object_name):
            return False
        if obj.system and not actor.is_admin:
            return False
        roles = reg.action.roles
        return roles is None or actor.is_admin or actor.role in roles

    def available(self, reg: Registered, record: Mapping[str, Any]) -> bool:
        test = reg.action.available
        if test is None:
            return True
        try:
            return bool(test(record))
        except Exception as exc:
            self.ws.plugins.note(reg.plugin, f"action {reg.name} (available)", exc)
            return False

    def for_object(self, object_name: str, actor: Actor, bulk: bool = False,
                   record: Mapping[str, Any] | None = None) -> list[Registered]:
        """The actions ``actor`` sees on a record page (``record``) or a list (``bulk``)."""
        out = []
        for reg in self._all.values():
            if (bulk and not reg.action.bulk) or (not bulk and not reg.action.record):
                continue
            if not self.allowed(reg, object_name, actor):
                continue
            if record is not None and not self.available(reg, record):
                continue
            out.append(reg)
        return out

    def get(self, name: str) -> Registered:
        reg = self._all.get(name)
        if reg is None:
            raise NotFound(f"no action named '{str(name)[:60]}'")
        return reg

    def run(self, name: str, object_name: str, ids: Sequence[Any], actor: Actor,
            bulk: bool = False) -> ActionResult:
        """Run an action over the records ``ids`` in one transaction: all or nothing."""
        reg = self.get(name)
        action = reg.action
        self.ws.records.runtime(object_name)  # NotFound for an unknown object
        if not self.applies(reg, object_name) or (bulk and not action.bulk) or \
                (not bulk and not action.record):
            raise NotFound(translate(actor.locale, "plugins.actions.not_here", action=name,
                                     object=object_name))
        if not self.allowed(reg, object_name, actor):
            raise PermissionDenied(translate(actor.locale, "plugins.actions.forbidden",
                                             action=label_text(action.label, actor.locale),
                                             object=object_name))
        wanted: list[int] = []
        for rid in ids:
            text = str(rid)
            if not text.isdigit() or not 0 < int(text) < 2**63:
                raise ValidationError(translate(actor.locale, "plugins.actions.bad_id",
                                                id=text[:40]), field="ids")
            if int(text) not in wanted:
                wanted.append(int(text))
        if not wanted:
            raise ValidationError(translate(actor.locale, "plugins.actions.none"), field="ids")
        if len(wanted) > MAX_RECORDS:
            raise ValidationError(translate(actor.locale, "plugins.actions.too_many",
                                            n=MAX_RECORDS), field="ids")
        t = self.ws.table(object_name)
        with self.ws.transaction() as conn:
            rows = {r.id: dict(r._mapping) for r in conn.execute(
                select(t).where(t.c.id.in_(wanted)))}
            missing = [i for i in wanted if i not in rows]
            if missing:
                raise NotFound(f"no {object_name} with id {missing[0]}")
            records = [rows[i] for i in wanted]
            for r in records:
                if not self.available(reg, r):
                    raise ValidationError(translate(
                        actor.locale, "plugins.actions.unavailable",
                        action=label_text(action.label, actor.locale), object=object_name,
                        id=r["id"]))
            kwargs = {"workspace": self.ws, "object_name": object_name, "records": records,
                      "user": actor, "connection": conn}
            try:
                message = action.run(**accepts(action.run, **kwargs))
            except RapportError:
                raise
            except Exception as exc:
                self.ws.plugins.note(reg.plugin, f"action {name}", exc)
                raise PluginError(reg.plugin, f"action {name}", exc) from exc
        text = label_text(message, actor.locale) if message else \
            f"{label_text(action.label, actor.locale)}: {len(records)}"
        return ActionResult(text, len(records), wanted)

    def describe(self, reg: Registered, locale: str) -> dict[str, Any]:
        a = reg.action
        return {"name": a.name, "label": label_text(a.label, locale), "plugin": reg.plugin,
                "record": a.record, "bulk": a.bulk, "style": a.style,
                "confirm": label_text(a.confirm, locale) if a.confirm else None,
                "roles": list(a.roles) if a.roles is not None else None}
