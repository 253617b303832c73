"""Who may do what to which record: roles, their per-object permissions and field access,
turned into SQL conditions (``readable`` / ``editable``) and into the values a user may see.

A role is a ``role`` record keyed by ``code``. Its permissions live in
``rapport_permission`` (one row per role and object: create, read, edit, delete, export,
import, the read and edit scope) and ``rapport_field_access`` (a field hidden or read-only).
An object a role has no row for gets the defaults: those of the built-in role of the same
code (``manager``, ``member``), else a member's — so a role a pack adds behaves like a
member until an admin sets its permissions. ``admin`` may always do everything.

The hierarchy: a role sees what its sub-roles see (the roles whose ``parent`` it is): its
permissions are the union of its own and theirs (the wider scope, the less restricted
field).

Nothing here outlives a request unless it is keyed by the data versions of the tables it
was read from: a permission an admin changes counts from the next request on, in every
worker. Owner and team are read by the SQL condition itself, so an owner change or a move
to another team counts at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Table, and_, false, or_, select, true

from ..errors import NotFound, PermissionDenied
from ..meta.model import ObjectDef
from ..records.actor import Actor
from ..storage import versions

if TYPE_CHECKING:
    from ..workspace import Workspace

ACTIONS = ("create", "read", "edit", "delete", "export", "import")
SCOPES = ("none", "own", "team", "all")
FIELD_ACCESS = ("hidden", "read_only")
BUILTIN_ROLES = ("admin", "manager", "member")
#: What a masked sensitive value reads as (the API, the screens, exports, history).
MASK = "••••••"
#: The tables a role's permissions are read from: a cached policy lives as long as their
#: data versions do not move.
POLICY_TABLES = ("role", "rapport_permission", "rapport_field_access")


@dataclass(frozen=True)
class Permission:
    """What a role may do to the records of one object."""

    create: bool = False
    read: bool = False
    edit: bool = False
    delete: bool = False
    export: bool = False
    import_: bool = False
    read_scope: str = "none"
    edit_scope: str = "none"
    hidden: frozenset[str] = frozenset()
    read_only: frozenset[str] = frozenset()

    def allows(self, action: str) -> bool:
        return bool(getattr(self, "import_" if action == "import" else action))

    def merged(self, other: Permission) -> Permission:
        """The union of two roles' permissions (a role and its sub-role)."""
        def wider(a: str, b: str) -> str:
            return a if SCOPES.index(a) >= SCOPES.index(b) else b
        return Permission(
            self.create or other.create, self.read or other.read, self.edit or other.edit,
            self.delete or other.delete, self.export or other.export,
            self.import_ or other.import_, wider(self.read_scope, other.read_scope),
            wider(self.edit_scope, other.edit_scope), self.hidden & other.hidden,
            (self.read_only | self.hidden) & (other.read_only | other.hidden)
            - (self.hidden & other.hidden))

    def as_dict(self) -> dict[str, Any]:
        return {"create": self.create, "read": self.read, "edit": self.edit,
                "delete": self.delete, "export": self.export, "import": self.import_,
                "read_scope": self.read_scope, "edit_scope": self.edit_scope,
                "hidden": sorted(self.hidden), "read_only": sorted(self.read_only)}


ALL = Permission(True, True, True, True, True, True, "all", "all")
#: DESIGN.md's defaults: a member reads and edits what they own and reads their team's; a
#: manager reads and edits their team's.
DEFAULTS = {
    "admin": ALL,
    "manager": Permission(True, True, True, True, True, True, "team", "team"),
    "member": Permission(True, True, True, True, True, False, "team", "own"),
}
#: System objects (users, teams, roles): everybody reads them (names in lookups), admins
#: alone change them.
SYSTEM_OBJECT = Permission(read=True, read_scope="all")


def default_permission(code: str) -> Permission:
    return DEFAULTS.get(code, DEFAULTS["member"])


@dataclass
class Policy:
    """Every role's effective permissions, from one reading of the permission tables."""

    stamp: tuple[int, ...]
    parents: dict[str, str | None]
    own: dict[tuple[str, str], Permission] = field(default_factory=dict)
    _effective: dict[tuple[str, str], Permission] = field(default_factory=dict)

    def children(self, code: str) -> list[str]:
        return [c for c, p in self.parents.items() if p == code and c != code]

    def descendants(self, code: str) -> list[str]:
        seen: list[str] = []
        todo = self.children(code)
        while todo:
            c = todo.pop()
            if c not in seen and c != code:
                seen.append(c)
                todo.extend(self.children(c))
        return seen

    def permission(self, code: str, obj: ObjectDef) -> Permission:
        if code == "admin":
            return ALL
        if obj.system:
            return SYSTEM_OBJECT
        key = (code, obj.name)
        hit = self._effective.get(key)
        if hit is None:
            hit = self.own.get(key) or default_permission(code)
            for sub in self.descendants(code):
                hit = hit.merged(self.own.get((sub, obj.name)) or default_permission(sub))
            hit = replace(hit, hidden=hit.hidden & _field_names(obj),
                          read_only=hit.read_only & _field_names(obj))
            self._effective[key] = hit
        return hit


def _field_names(obj: ObjectDef) -> frozenset[str]:
    return frozenset(f.name for f in obj.fields)


class Access:
    """The workspace's access rules (``ws.access``)."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self._policy: Policy | None = None
        self._lock = threading.Lock()
        #: more records a user may read, from plugins (``startup``): each rule is called
        #: with (object, table, actor) and gives a condition or None
        self.readers: list[Callable[[ObjectDef, Table, Actor], ColumnElement[bool] | None]] = []

    # -- the permission tables ------------------------------------------------------------

    def policy(self, conn: Any = None) -> Policy:
        """The permissions as they are now (read again when one of their tables moved)."""
        if conn is None:
            with self.ws.read_engine.connect() as c:
                return self.policy(c)
        md = self.ws.table("rapport_data_version").metadata
        stamp = tuple(versions.read(conn, md, POLICY_TABLES).values())
        current = self._policy
        if current is not None and current.stamp == stamp:
            return current
        role_t = self.ws.table("role")
        parent_col = role_t.c.parent if "parent" in role_t.c else None
        parents: dict[str, str | None] = {}
        by_id: dict[int, str] = {}
        rows = conn.execute(select(role_t.c.id, role_t.c.code,
                                   *([parent_col] if parent_col is not None else []))).all()
        for r in rows:
            by_id[r.id] = r.code
        for r in rows:
            parents[r.code] = by_id.get(r.parent) if parent_col is not None else None
        perm_t = self.ws.table("rapport_permission")
        fa_t = self.ws.table("rapport_field_access")
        own: dict[tuple[str, str], Permission] = {}
        for r in conn.execute(select(perm_t)):
            own[(r.role, r.object)] = Permission(
                bool(r.can_create), bool(r.can_read), bool(r.can_edit), bool(r.can_delete),
                bool(r.can_export), bool(r.can_import), r.read_scope if r.can_read else "none",
                r.edit_scope if r.can_edit else "none")
        for r in conn.execute(select(fa_t)):
            key = (r.role, r.object)
            p = own.get(key) or default_permission(r.role)
            if r.access == "hidden":
                p = replace(p, hidden=p.hidden | {r.field})
            else:
                p = replace(p, read_only=p.read_only | {r.field})
            own[key] = p
        policy = Policy(stamp, parents, own)
        with self._lock:
            self._policy = policy
        return policy

    def permission(self, actor: Actor, obj: ObjectDef, conn: Any = None) -> Permission:
        if unrestricted(actor):
            return ALL
        return self.policy(conn).permission(actor.role, obj)

    def require(self, actor: Actor, obj: ObjectDef, action: str, conn: Any = None) -> Permission:
        """The actor's permission on the object, or PermissionDenied naming the action."""
        p = self.permission(actor, obj, conn)
        if obj.system and action != "read" and not unrestricted(actor):
            raise PermissionDenied(f"only admins change {obj.display_plural()}")
        if not p.allows(action):
            if action == "read":
                raise NotFound(f"no object named '{obj.name}'")
            raise PermissionDenied(f"your role ({actor.role}) may not {action} "
                                   f"{obj.display_plural()}")
        return p

    # -- record conditions ---------------------------------------------------------------

    def readable(self, obj: ObjectDef, table: Table, actor: Actor,
                 conn: Any = None) -> ColumnElement[bool]:
        """The records of ``obj`` the actor may read, as a condition on ``table``."""
        if unrestricted(actor):
            return true()
        p = self.permission(actor, obj, conn)
        return self._scoped(obj, table, actor, p.read_scope if p.read else "none", "read")

    def editable(self, obj: ObjectDef, table: Table, actor: Actor,
                 conn: Any = None) -> ColumnElement[bool]:
        """The records of ``obj`` the actor may change (or delete)."""
        if unrestricted(actor):
            return true()
        if obj.system:
            return false()
        p = self.permission(actor, obj, conn)
        return self._scoped(obj, table, actor, p.edit_scope if p.edit else "none", "edit")

    def _scoped(self, obj: ObjectDef, table: Table, actor: Actor, scope: str,
                level: str) -> ColumnElement[bool]:
        if scope == "all":
            return true()
        user = self.ws.table("user")
        my_team = select(user.c.team).where(user.c.id == actor.id).scalar_subquery()
        parts: list[ColumnElement[bool]] = []
        if "owner" in table.c and scope in {"own", "team"}:
            parts.append(table.c.owner == actor.id)
            if scope == "team":
                parts.append(table.c.owner.in_(
                    select(user.c.id).where(user.c.team == my_team, user.c.team.is_not(None))))
        share = self.ws.table("rapport_share")
        who = or_(share.c.user_id == actor.id,
                  and_(share.c.team_id.is_not(None), share.c.team_id == my_team))
        levels = ["edit"] if level == "edit" else ["read", "edit"]
        parts.append(table.c.id.in_(select(share.c.record_id).where(
            share.c.object == obj.name, share.c.level.in_(levels), who)))
        if level == "read":
            for rule in self.readers:
                extra = rule(obj, table, actor)
                if extra is not None:
                    parts.append(extra)
        if level == "read" and any(d.data.get("object") == obj.name
                                   for d in self.ws.meta.approvals.values()):
            # an approver reads the records they are asked to decide on
            req = self.ws.table("rapport_approval_request")
            task = self.ws.table("rapport_approval_task")
            parts.append(table.c.id.in_(select(req.c.record_id).join(
                task, task.c.request_id == req.c.id).where(
                req.c.object == obj.name, task.c.approver_id == actor.id)))
        return or_(*parts)

    def can_read(self, obj: ObjectDef, actor: Actor, rid: int, conn: Any) -> bool:
        t = self.ws.table(obj.name)
        return conn.scalar(select(t.c.id).where(t.c.id == rid,
                                                self.readable(obj, t, actor, conn))) is not None

    def can_edit(self, obj: ObjectDef, actor: Actor, rid: int, conn: Any) -> bool:
        t = self.ws.table(obj.name)
        return conn.scalar(select(t.c.id).where(t.c.id == rid,
                                                self.editable(obj, t, actor, conn))) is not None

    # -- values ------------------------------------------------------------------------------

    def visible(self, actor: Actor, obj: ObjectDef, record: Mapping[str, Any],
                reveal: Iterable[str] = (), permission: Permission | None = None
                ) -> dict[str, Any]:
        """The values of ``record`` the actor may see: the fields hidden from their role
        left out, sensitive values masked (unless in ``reveal``, or the actor is an admin
        or the platform). Every way a record leaves the system goes through here."""
        if unrestricted(actor) or not (obj.sensitive_names or _has_hidden(self, actor, obj,
                                                                          permission)):
            return dict(record)
        p = permission or self.permission(actor, obj)
        shown = set(reveal)
        out = {}
        for k, v in record.items():
            if k in p.hidden:
                continue
            if k in obj.sensitive_names and k not in shown and v is not None:
                v = MASK
            out[k] = v
        return out

    def visible_many(self, actor: Actor, obj: ObjectDef,
                     records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        if unrestricted(actor):
            return [r if isinstance(r, dict) else dict(r) for r in records]
        p = self.permission(actor, obj)
        if not obj.sensitive_names and not p.hidden:
            return [r if isinstance(r, dict) else dict(r) for r in records]
        return [self.visible(actor, obj, r, permission=p) for r in records]

    def hidden_fields(self, actor: Actor, obj: ObjectDef) -> frozenset[str]:
        return frozenset() if unrestricted(actor) else self.permission(actor, obj).hidden

    def readonly_fields(self, actor: Actor, obj: ObjectDef) -> frozenset[str]:
        if unrestricted(actor):
            return frozenset()
        p = self.permission(actor, obj)
        return p.read_only | p.hidden

    def may_reveal(self, actor: Actor, obj: ObjectDef, name: str) -> bool:
        return name in obj.sensitive_names and name not in self.hidden_fields(actor, obj)


    # -- users and roles ---------------------------------------------------------------------

    def user_changing(self, conn: Any, object_name: str, previous: Mapping[str, Any],
                      record: Mapping[str, Any] | None, changed: Mapping[str, Any],
                      actor: Actor) -> None:
        """Before a user or role record changes (``record`` None: it is deleted): the last
        active admin stays an admin, and a role change goes to the audit log."""
        from ..errors import ValidationError
        from . import audit

        if object_name == "role":
            if previous.get("code") in BUILTIN_ROLES and (
                    record is None or record.get("code") != previous.get("code")):
                raise ValidationError(f"the built-in role '{previous['code']}' cannot be "
                                      "renamed or deleted", field="code")
            if record is not None and "parent" in changed:
                self._check_parent(conn, previous["id"], record.get("parent"))
            return
        was_admin = previous.get("role") == "admin" and previous.get("active", True)
        stays = record is not None and record.get("role") == "admin" and \
            record.get("active", True) is not False
        if was_admin and not stays:
            user = self.ws.table("user")
            others = conn.scalar(select(user.c.id).where(
                user.c.role == "admin", user.c.active.is_not(False),
                user.c.id != previous["id"]).limit(1))
            if others is None:
                raise ValidationError("the last admin cannot be demoted, deactivated or "
                                      "deleted: make another user an admin first",
                                      field="role", code="last_admin")
        if record is not None and {"role", "active", "team"} & set(changed):
            audit.record(self.ws, "role_changed" if "role" in changed else "user_changed",
                         actor, object_name="user", record_id=previous["id"], detail={
                             k: [previous.get(k), record.get(k)]
                             for k in ("role", "active", "team") if k in changed}, conn=conn)

    def _check_parent(self, conn: Any, role_id: int, parent: Any) -> None:
        from ..errors import ValidationError

        role = self.ws.table("role")
        seen = {role_id}
        while parent is not None:
            if parent in seen:
                raise ValidationError("a role cannot report to itself or to a role below it",
                                      field="parent")
            seen.add(parent)
            parent = conn.scalar(select(role.c.parent).where(role.c.id == parent))

    def set_permissions(self, role: str, object_name: str, values: Mapping[str, Any],
                        fields: Mapping[str, str | None], actor: Actor) -> None:
        """Store a role's permission on an object and its field access (one transaction),
        recorded in the audit log."""
        from sqlalchemy import delete, insert

        from ..errors import FieldProblem, ValidationError
        from . import audit

        obj = self.ws.meta.objects.get(object_name)
        problems = []
        if obj is None or obj.system:
            problems.append(FieldProblem("object", "invalid", f"no object '{object_name[:60]}' "
                                         "whose permissions can be set"))
        if role == "admin":
            problems.append(FieldProblem("role", "invalid", "admins may always do everything"))
        for key in ("read_scope", "edit_scope"):
            if values.get(key, "own") not in SCOPES[1:]:
                problems.append(FieldProblem(key, "invalid", f"{key} is own, team or all"))
        for name, access in fields.items():
            if obj is not None and (not obj.has_field(name) or access not in (None, "",
                                                                               *FIELD_ACCESS)):
                problems.append(FieldProblem(f"field.{name}"[:80], "invalid",
                                             "field access is hidden, read_only or empty"))
        if problems:
            raise ValidationError(problems)
        perm, fa = self.ws.table("rapport_permission"), self.ws.table("rapport_field_access")
        row = {"role": role, "object": object_name,
               **{f"can_{a}": bool(values.get(a)) for a in ACTIONS},
               "read_scope": values.get("read_scope", "own"),
               "edit_scope": values.get("edit_scope", "own")}
        with self.ws.transaction() as conn:
            roles = self.ws.table("role")
            if conn.scalar(select(roles.c.id).where(roles.c.code == role)) is None:
                raise NotFound(f"no role '{role[:63]}'")
            before = self.policy(conn).own.get((role, object_name))
            conn.execute(delete(perm).where(perm.c.role == role, perm.c.object == object_name))
            conn.execute(insert(perm).values(row))
            conn.execute(delete(fa).where(fa.c.role == role, fa.c.object == object_name))
            chosen = [{"role": role, "object": object_name, "field": n, "access": a}
                      for n, a in sorted(fields.items()) if a]
            if chosen:
                conn.execute(insert(fa), chosen)
            audit.record(self.ws, "permission_changed", actor, object_name=object_name,
                         detail={"role": role, "before": before.as_dict() if before else None,
                                 "after": {**{k: v for k, v in row.items()
                                              if k not in {"role", "object"}},
                                           "fields": {c["field"]: c["access"]
                                                      for c in chosen}}}, conn=conn)

    def reset_permissions(self, role: str, object_name: str, actor: Actor) -> None:
        """Back to the defaults (the role's own rows for the object removed)."""
        from sqlalchemy import delete

        from . import audit

        perm, fa = self.ws.table("rapport_permission"), self.ws.table("rapport_field_access")
        with self.ws.transaction() as conn:
            conn.execute(delete(perm).where(perm.c.role == role, perm.c.object == object_name))
            conn.execute(delete(fa).where(fa.c.role == role, fa.c.object == object_name))
            audit.record(self.ws, "permission_changed", actor, object_name=object_name,
                         detail={"role": role, "reset": True}, conn=conn)

    # -- sharing ---------------------------------------------------------------------------

    def shares_of(self, object_name: str, rid: Any, actor: Actor) -> list[dict[str, Any]]:
        """Whom a record is shared with (the record must be readable)."""
        record = self.ws.records.get(object_name, rid, actor)
        t = self.ws.table("rapport_share")
        with self.ws.read_engine.connect() as conn:
            return [_share_json(r) for r in conn.execute(select(t).where(
                t.c.object == object_name, t.c.record_id == record["id"]).order_by(t.c.id))]

    def share(self, object_name: str, rid: Any, body: Mapping[str, Any],
              actor: Actor) -> dict[str, Any]:
        """Share a record with a user or a team, to read or to edit. Who may change the
        record may share it."""
        from datetime import UTC, datetime

        from sqlalchemy import insert

        from ..errors import FieldProblem, ValidationError
        from . import audit

        rt = self.ws.records.runtime(object_name)
        level = body.get("level", "read")
        user_id, team_id = body.get("user"), body.get("team")
        problems = []
        if level not in {"read", "edit"}:
            problems.append(FieldProblem("level", "invalid", "level is 'read' or 'edit'"))
        if (user_id is None) == (team_id is None):
            problems.append(FieldProblem("user", "required", "give either a user or a team"))
        for key, value in (("user", user_id), ("team", team_id)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                problems.append(FieldProblem(key, "invalid", f"{key} must be a record id"))
        if problems:
            raise ValidationError(problems)
        with self.ws.transaction() as conn:
            record = self.ws.records.get(object_name, rid, actor, conn=conn)
            if not unrestricted(actor) and not self.can_edit(rt.obj, actor, record["id"], conn):
                raise PermissionDenied(f"you may not share {object_name} {record['id']}")
            target = self.ws.table("user" if user_id is not None else "team")
            wanted = user_id if user_id is not None else team_id
            if conn.scalar(select(target.c.id).where(target.c.id == wanted)) is None:
                key = "user" if user_id is not None else "team"
                raise ValidationError(f"no {key} with id {wanted}", field=key, code="not_found")
            t = self.ws.table("rapport_share")
            values = {"object": object_name, "record_id": record["id"], "user_id": user_id,
                      "team_id": team_id, "level": level, "created_by": actor.id,
                      "created_at": datetime.now(UTC)}
            new_id = conn.execute(insert(t).values(values)).inserted_primary_key[0]
            audit.record(self.ws, "share_changed", actor, object_name=object_name,
                         record_id=record["id"], detail={"added": {
                             "user": user_id, "team": team_id, "level": level}}, conn=conn)
        return _share_json({**values, "id": new_id})

    def unshare(self, object_name: str, rid: Any, share_id: int, actor: Actor) -> None:
        from sqlalchemy import delete

        from . import audit

        rt = self.ws.records.runtime(object_name)
        with self.ws.transaction() as conn:
            record = self.ws.records.get(object_name, rid, actor, conn=conn)
            if not unrestricted(actor) and not self.can_edit(rt.obj, actor, record["id"], conn):
                raise PermissionDenied(f"you may not share {object_name} {record['id']}")
            t = self.ws.table("rapport_share")
            done = conn.execute(delete(t).where(t.c.id == share_id, t.c.object == object_name,
                                                t.c.record_id == record["id"]))
            if done.rowcount == 0:
                raise NotFound(f"{object_name} {record['id']} has no share {share_id}")
            audit.record(self.ws, "share_changed", actor, object_name=object_name,
                         record_id=record["id"], detail={"removed": share_id}, conn=conn)


def _share_json(row: Any) -> dict[str, Any]:
    m = row if isinstance(row, Mapping) else row._mapping
    at = m["created_at"]
    return {"id": m["id"], "user": m["user_id"], "team": m["team_id"], "level": m["level"],
            "created_by": m["created_by"], "created_at": at.isoformat() if at else None}


def _has_hidden(access: Access, actor: Actor, obj: ObjectDef,
                permission: Permission | None) -> bool:
    return bool((permission or access.permission(actor, obj)).hidden)


def unrestricted(actor: Actor) -> bool:
    """The platform itself (no user) and admins read and change everything."""
    return actor.id is None or actor.role == "admin"


#: (role, object) a workspace starts with read scope "all" for
CATALOGUE = (("member", "product"), ("manager", "product"))
DEFAULT_ROLE_TITLES = {
    "admin": {"en": "Administrator", "zh-CN": "管理员"},
    "manager": {"en": "Manager", "zh-CN": "经理"},
    "member": {"en": "Member", "zh-CN": "成员"},
}


def install_default_roles(ws: Workspace) -> None:
    """The role records every workspace starts with: member reports to manager, manager to
    admin (the ones already there are left as they are)."""
    from ..records.actor import SYSTEM
    from ..records.query import Cond, Query

    ids: dict[str, int] = {}
    with ws.transaction() as conn:
        for code in BUILTIN_ROLES:
            found = ws.records.query("role", Query(filter=Cond("code", "eq", code), limit=1),
                                     SYSTEM, conn=conn).data
            if found:
                ids[code] = found[0]["id"]
                continue
            parent = {"manager": "admin", "member": "manager"}.get(code)
            rec = ws.records.create("role", {
                "code": code, "title": DEFAULT_ROLE_TITLES[code]["en"],
                "parent": ids.get(parent) if parent else None}, SYSTEM, conn=conn)
            ids[code] = rec["id"]
        # the catalogue is everybody's to read (a quote line names a product); an admin
        # may change it on the permission matrix like any other row
        from sqlalchemy import insert

        perm = ws.table("rapport_permission")
        have = {(r.role, r.object) for r in conn.execute(select(perm.c.role, perm.c.object))}
        for code, obj_name in CATALOGUE:
            if obj_name in ws.meta.objects and (code, obj_name) not in have:
                p = replace(DEFAULTS[code], read_scope="all")
                conn.execute(insert(perm).values(
                    role=code, object=obj_name, **{f"can_{a}": p.allows(a) for a in ACTIONS},
                    read_scope=p.read_scope, edit_scope=p.edit_scope))
