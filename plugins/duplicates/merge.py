"""Merging duplicates: the losers' related records (every lookup to them, of every object)
are moved to the winner through the record service, the winner's blank fields are filled
from the losers, their history is moved to the winner, they are deleted, and the merge is
recorded in the winner's history. One transaction: all of it, or nothing."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from rapport.errors import PermissionDenied, ValidationError
from rapport.meta.model import label_text
from rapport.records.actor import Actor
from rapport.records.service import to_json

MERGE_ROLES = ("admin", "manager")
MAX_LOSERS = 20


def may_merge(workspace: Any, actor: Actor) -> bool:
    from rapport.plugins import settings

    roles = settings(workspace, "duplicates").get("merge_roles") or MERGE_ROLES
    return actor.is_admin or actor.role in roles


def merge(workspace: Any, object_name: str, winner_id: int, loser_ids: Sequence[int],
          actor: Actor, conn: Connection | None = None) -> dict[str, Any]:
    """Merge ``loser_ids`` into ``winner_id``; returns what was done (counts per object)."""
    if not may_merge(workspace, actor):
        raise PermissionDenied(label_text({"en": "merging records is for admins and managers",
                                           "zh-CN": "只有管理员和经理可以合并记录"},
                                          actor.locale))
    losers = [int(i) for i in dict.fromkeys(loser_ids) if int(i) != int(winner_id)]
    if not losers:
        raise ValidationError(label_text({"en": "choose another record to merge into this one",
                                          "zh-CN": "请选择另一条记录合并到此记录"},
                                         actor.locale))
    if len(losers) > MAX_LOSERS:
        raise ValidationError(label_text({"en": f"at most {MAX_LOSERS} records at once",
                                          "zh-CN": f"一次最多合并 {MAX_LOSERS} 条记录"},
                                         actor.locale))
    obj = workspace.meta.objects[object_name]
    records = workspace.records
    with workspace.within(conn) as c:
        winner = records.get(object_name, winner_id, actor, conn=c)  # not found unless readable
        gone = [records.get(object_name, i, actor, conn=c) for i in losers]
        moved: dict[str, int] = {}
        # 1. every lookup to a loser, of every object, now points at the winner
        for child, link in workspace.meta.children_of(object_name):
            t = workspace.table(child.name)
            ids = list(c.scalars(select(t.c.id).where(t.c[link.name].in_(losers))
                                 .order_by(t.c.id)))
            for rid in ids:
                target = None if child.name == object_name and rid == winner["id"] \
                    else winner["id"]  # the winner never becomes its own parent
                # the records following the loser: a consequence of the merge the actor
                # may make (the losers and the winner are checked as the actor's own writes)
                records.update(child.name, rid, {link.name: target}, actor, conn=c,
                               allow_read_only=True, trusted=True)
            if ids:
                key = f"{child.name}.{link.name}"
                moved[key] = moved.get(key, 0) + len(ids)
        moved.update(_related_by_reference(workspace, c, object_name, winner["id"], losers,
                                           actor))
        # 2. the losers' history continues on the winner
        h = workspace.table("rapport_history")
        c.execute(update(h).where(h.c.object == object_name, h.c.record_id.in_(losers))
                  .values(record_id=winner["id"]))
        # 3. the losers go (their deletion stays in the history under their own ids)
        for r in gone:
            records.delete(object_name, r["id"], actor, conn=c)
        # 4. blank fields of the winner take the first loser's value that has one
        fill: dict[str, Any] = {}
        for f in obj.fields:
            if f.is_computed or winner.get(f.name) not in (None, "", []):
                continue
            value = next((r[f.name] for r in gone if r.get(f.name) not in (None, "", [])), None)
            if value is not None:
                fill[f.name] = value
        if fill:
            records.update(object_name, winner["id"], fill, actor, conn=c,
                           allow_read_only=True)
        # 5. the merge itself, with what the losers were
        note = {"en": f"Merged {len(gone)} duplicate(s) into this record",
                "zh-CN": f"合并了 {len(gone)} 条重复记录"}
        c.execute(insert(h).values(
            object=object_name, record_id=winner["id"], action="merge", field=None,
            old_value=None, user_id=actor.id, at=datetime.now(UTC),
            new_value=json.dumps({"note": note, "merged": [
                {"id": r["id"], "title": str(r.get(obj.title) or f"#{r['id']}"),
                 "values": {k: to_json(v) for k, v in r.items()}} for r in gone],
                "filled": sorted(fill), "moved": moved}, ensure_ascii=False, default=str)))
    return {"winner": winner["id"], "merged": [r["id"] for r in gone], "moved": moved,
            "filled": sorted(fill)}


def _related_by_reference(workspace: Any, c: Connection, object_name: str, winner: int,
                          losers: list[int], actor: Actor) -> dict[str, int]:
    """Records that name a loser by object and id (an activity's related_object and
    related_id) follow it too."""
    moved: dict[str, int] = {}
    for other in workspace.meta.objects.values():
        if not (other.has_field("related_object") and other.has_field("related_id")):
            continue
        t = workspace.table(other.name)
        ids = list(c.scalars(select(t.c.id).where(t.c.related_object == object_name,
                                                  t.c.related_id.in_(losers))))
        for rid in ids:
            workspace.records.update(other.name, rid, {"related_id": winner}, actor, conn=c,
                                     allow_read_only=True, trusted=True)
        if ids:
            moved[f"{other.name}.related_id"] = len(ids)
    return moved
