"""The pool itself: which records are idle, returning them, claiming and releasing."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, exists, func, insert, or_, select

from rapport.errors import PermissionDenied, ValidationError
from rapport.meta.model import ObjectDef, label_text
from rapport.plugins import settings
from rapport.records.actor import SYSTEM, Actor

DEFAULT_DAYS = {"account": 30, "lead": 14}
DEFAULT_LIMITS = {"member": 20, "manager": 50}     # claims per day; admins: no limit
DEFAULT_SCHEDULE = "0 * * * *"
BATCH = 500


@dataclass(frozen=True)
class PoolRule:
    obj: ObjectDef
    days: int


def rules(workspace: Any) -> dict[str, PoolRule]:
    """``plugin_settings.public_pool.objects``: ``{"account": {"days": 30}, ...}``
    (default: accounts after 30 days, leads after 14)."""
    conf = settings(workspace, "public_pool").get("objects")
    spec = conf if isinstance(conf, Mapping) else {n: {"days": d} for n, d in DEFAULT_DAYS.items()}
    out = {}
    for name, item in spec.items():
        obj = workspace.meta.objects.get(name)
        days = item.get("days") if isinstance(item, Mapping) else None
        if obj is not None and not obj.system and isinstance(days, int) and days > 0:
            out[name] = PoolRule(obj, days)
    return out


def claim_limit(workspace: Any, actor: Actor) -> int | None:
    """How many records ``actor`` may claim per day (None: no limit)."""
    conf = settings(workspace, "public_pool").get("claim_limits")
    limits = conf if isinstance(conf, Mapping) else DEFAULT_LIMITS
    if actor.role in limits:
        value = limits[actor.role]
        return value if isinstance(value, int) else None
    return None if actor.is_admin else 0


def stage_field(workspace: Any, obj: ObjectDef) -> str | None:
    """The field whose changes count as a stage change: the workflow's, else the board's."""
    workflows = workspace.workflows.of(obj.name)
    if workflows:
        return workflows[0].field.name
    kanban = (obj.views or {}).get("kanban") or {}
    name = kanban.get("group_by")
    return name if isinstance(name, str) and obj.has_field(name) else None


def idle_condition(workspace: Any, rule: PoolRule, since: datetime) -> Any:
    """The records of ``rule.obj`` owned by someone and not followed up since ``since``:
    no activity logged on them, no stage change, no change of owner, not created since."""
    t = workspace.table(rule.obj.name)
    h = workspace.table("rapport_history")
    conds = [t.c.owner.is_not(None), t.c.created_at < since,
             ~exists().where(h.c.object == rule.obj.name, h.c.record_id == t.c.id,
                             h.c.field == "owner", h.c.at >= since)]
    stage = stage_field(workspace, rule.obj)
    if stage is not None:
        conds.append(~exists().where(h.c.object == rule.obj.name, h.c.record_id == t.c.id,
                                     h.c.field == stage, h.c.at >= since))
        sh = workspace.table("rapport_stage_history")
        conds.append(~exists().where(sh.c.object == rule.obj.name, sh.c.record_id == t.c.id,
                                     sh.c.entered_at >= since))
    activity = workspace.meta.objects.get("activity")
    if activity is not None and rule.obj.name != "activity":
        a = workspace.table("activity")
        links = [a.c[f.name] == t.c.id for f in activity.fields
                 if f.is_relation and f.target == rule.obj.name]
        if activity.has_field("related_object") and activity.has_field("related_id"):
            links.append(and_(a.c.related_object == rule.obj.name, a.c.related_id == t.c.id))
        if links:
            conds.append(~exists().where(or_(*links), or_(a.c.created_at >= since,
                                                          a.c.updated_at >= since)))
    return and_(*conds)


def note(kind: str, days: int | None = None) -> dict[str, Any]:
    texts = {
        "returned": ({"en": f"Returned to the public pool: no follow-up for {days} days",
                      "zh-CN": f"{days} 天未跟进，退回公海"}),
        "claimed": {"en": "Claimed from the public pool", "zh-CN": "从公海领取"},
        "released": {"en": "Released to the public pool", "zh-CN": "释放到公海"},
    }
    return {"note": texts[kind], "pool": kind}


def _history(c: Connection, workspace: Any, object_name: str, rid: int, kind: str,
             actor: Actor, at: datetime, days: int | None = None,
             owner: int | None = None) -> None:
    value = {**note(kind, days), **({"previous_owner": owner} if owner else {})}
    c.execute(insert(workspace.table("rapport_history")).values(
        object=object_name, record_id=rid, action="pool", field=kind, old_value=None,
        new_value=json.dumps(value, ensure_ascii=False), user_id=actor.id, at=at))


def return_idle(workspace: Any, at: datetime | None = None) -> dict[str, int]:
    """Return every idle record to the pool (its owner cleared, through the record
    service, with a note in its history). The scheduled job; returns counts per object."""
    at = at or datetime.now(UTC)
    counts: dict[str, int] = {}
    for name, rule in rules(workspace).items():
        since = at - timedelta(days=rule.days)
        t = workspace.table(name)
        while True:
            with workspace.transaction() as c:
                rows = c.execute(select(t.c.id, t.c.owner, t.c.version)
                                 .where(idle_condition(workspace, rule, since))
                                 .order_by(t.c.id).limit(BATCH)).all()
                for rid, owner, version in rows:
                    workspace.records.update(name, rid, {"owner": None}, SYSTEM,
                                             expected_version=version, conn=c,
                                             allow_read_only=True)
                    _history(c, workspace, name, rid, "returned", SYSTEM, at, rule.days, owner)
            counts[name] = counts.get(name, 0) + len(rows)
            if len(rows) < BATCH:
                break
    return counts


def claimed_today(workspace: Any, c: Connection, actor: Actor, at: datetime) -> int:
    h = workspace.table("rapport_history")
    start = at.replace(hour=0, minute=0, second=0, microsecond=0)
    return int(c.scalar(select(func.count()).select_from(h).where(
        h.c.action == "pool", h.c.field == "claimed", h.c.user_id == actor.id,
        h.c.at >= start)) or 0)


def claim(workspace: Any, object_name: str, records: Sequence[Mapping[str, Any]],
          user: Actor, connection: Connection) -> dict[str, str]:
    """Take pooled records: they become the actor's, within the actor's daily limit."""
    actor, c = user, connection
    if actor.id is None:
        raise PermissionDenied("only a user can claim records")
    taken = [r for r in records if r.get("owner") is not None]
    if taken:
        rid = taken[0]["id"]
        raise ValidationError(label_text({"en": f"#{rid} is not in the public pool",
                                          "zh-CN": f"#{rid} 不在公海中"}, actor.locale))
    at = datetime.now(UTC)
    limit = claim_limit(workspace, actor)
    if limit is not None:
        used = claimed_today(workspace, c, actor, at)
        if used + len(records) > limit:
            left = max(0, limit - used)
            raise ValidationError(label_text(
                {"en": f"you may claim {limit} record(s) a day as {actor.role}; {left} left "
                       "today",
                 "zh-CN": f"角色 {actor.role} 每天最多领取 {limit} 条，今天还剩 {left} 条"},
                actor.locale))
    for r in records:
        workspace.records.update(object_name, r["id"], {"owner": actor.id}, actor,
                                 expected_version=r["version"], conn=c, allow_read_only=True,
                                 trusted=True)
        _history(c, workspace, object_name, r["id"], "claimed", actor, at)
    return {"en": f"{len(records)} record(s) claimed from the public pool",
            "zh-CN": f"已从公海领取 {len(records)} 条记录"}


def release(workspace: Any, object_name: str, records: Sequence[Mapping[str, Any]],
            user: Actor, connection: Connection) -> dict[str, str]:
    """Give records back to the pool: one's own (managers and admins: anyone's)."""
    actor, c = user, connection
    at = datetime.now(UTC)
    for r in records:
        if r.get("owner") != actor.id and actor.role not in {"admin", "manager"}:
            raise PermissionDenied(label_text({"en": f"#{r['id']} is not yours to release",
                                               "zh-CN": f"#{r['id']} 不归你负责，不能释放"},
                                              actor.locale))
        workspace.records.update(object_name, r["id"], {"owner": None}, actor,
                                 expected_version=r["version"], conn=c, allow_read_only=True,
                                 trusted=True)
        _history(c, workspace, object_name, r["id"], "released", actor, at, owner=r.get("owner"))
    return {"en": f"{len(records)} record(s) released to the public pool",
            "zh-CN": f"已将 {len(records)} 条记录释放到公海"}


def last_follow_up(workspace: Any, rule: PoolRule, record: Mapping[str, Any]) -> datetime:
    """When the record was last followed up (the latest of the moments the sweep counts)."""
    h = workspace.table("rapport_history")
    stage = stage_field(workspace, rule.obj)
    fields = ["owner", *([stage] if stage else [])]
    moments = [record["created_at"]]
    with workspace.engine.connect() as c:
        moments.append(c.scalar(select(func.max(h.c.at)).where(
            h.c.object == rule.obj.name, h.c.record_id == record["id"], h.c.field.in_(fields))))
        activity = workspace.meta.objects.get("activity")
        if activity is not None:
            a = workspace.table("activity")
            links = [a.c[f.name] == record["id"] for f in activity.fields
                     if f.is_relation and f.target == rule.obj.name]
            if activity.has_field("related_object"):
                links.append(and_(a.c.related_object == rule.obj.name,
                                  a.c.related_id == record["id"]))
            if links:
                moments.append(c.scalar(select(func.max(a.c.updated_at)).where(or_(*links))))
    return max(m for m in moments if m is not None)
