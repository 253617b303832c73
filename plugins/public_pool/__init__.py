"""The public pool (公海): accounts and leads nobody followed up (no activity logged, no
stage change, no change of owner) within N days return to the pool on a schedule (their
owner is cleared); users claim from the pool, up to a daily limit per role, and release
records back. Every move is a note in the record's history.

Settings (rapport.json)::

    "plugin_settings": {"public_pool": {
        "objects": {"account": {"days": 30}, "lead": {"days": 14}},
        "claim_limits": {"member": 20, "manager": 50},
        "schedule": "0 * * * *"}}

(those are the defaults; admins have no claim limit unless ``claim_limits`` names them).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import rapport
from rapport.plugins import Action, Job, NavLink, Panel, settings

from . import pool
from .screens import PoolScreens

HERE = Path(__file__).resolve().parent


def _objects(workspace: Any) -> tuple[str, ...]:
    return tuple(pool.rules(workspace)) if workspace.meta.revision else tuple(pool.DEFAULT_DAYS)


@rapport.hookimpl
def startup(workspace: Any) -> None:
    """Everybody who may read an object reads its records in the pool (no owner)."""
    access = getattr(workspace, "access", None)
    if access is None:
        return

    def pooled(obj: Any, table: Any, actor: Any) -> Any:
        if obj.name not in _objects(workspace) or "owner" not in table.c:
            return None
        return table.c.owner.is_(None) if access.permission(actor, obj).read else None
    access.readers.append(pooled)


@rapport.hookimpl
def scheduled_jobs(workspace: Any) -> list[Any]:
    schedule = settings(workspace, "public_pool").get("schedule") or pool.DEFAULT_SCHEDULE
    return [Job("public_pool.return_idle", str(schedule), pool.return_idle)]


@rapport.hookimpl
def register_actions(workspace: Any) -> list[Any]:
    objects = _objects(workspace)
    return [
        Action("claim", {"en": "Claim", "zh-CN": "领取"},
               pool.claim,
               objects=objects, style="primary",
               available=lambda r: r.get("owner") is None,
               description={"en": "Make it yours, from the public pool",
                            "zh-CN": "从公海领取，归到自己名下"}),
        Action("release", {"en": "Release to pool", "zh-CN": "释放到公海"},
               pool.release,
               objects=objects, available=lambda r: r.get("owner") is not None,
               confirm={"en": "Give the chosen records back to the public pool? Anyone may "
                              "then claim them.",
                        "zh-CN": "将所选记录释放到公海？之后任何人都可以领取。"}),
    ]


@rapport.hookimpl
def record_panels(workspace: Any, object_name: str, record: dict[str, Any],
                  user: Any) -> list[Any]:
    rule = pool.rules(workspace).get(object_name)
    if rule is None:
        return []
    context: dict[str, Any] = {"in_pool": record.get("owner") is None, "days": rule.days}
    if not context["in_pool"]:
        last = pool.last_follow_up(workspace, rule, record)
        context.update(last=last, due=last + timedelta(days=rule.days))
    return [Panel({"en": "Public pool", "zh-CN": "公海"}, "public_pool/panel.html", context,
                  name="public-pool")]


@rapport.hookimpl
def register_routes(workspace: Any, screens: Any) -> list[Any]:
    return PoolScreens(workspace, screens).routes()


@rapport.hookimpl
def register_template_dirs() -> list[str]:
    return [str(HERE / "templates")]


@rapport.hookimpl
def register_nav_links(workspace: Any) -> list[Any]:
    return [NavLink({"en": "Public pool", "zh-CN": "公海"}, "/x/pool", admin=False)]
