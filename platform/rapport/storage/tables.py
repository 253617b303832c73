"""SQLAlchemy tables: one per object, built from its definition, plus the system tables."""

from __future__ import annotations

import hashlib

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)

from ..approvals.tables import approval_tables
from ..fieldtypes import BIGINT, FieldTypes
from ..meta.model import FieldDef, MetadataSet, ObjectDef
from .types import UTCDateTime

ON_DELETE_SQL = {"restrict": "RESTRICT", "set_null": "SET NULL", "cascade": "CASCADE"}


def constraint_name(prefix: str, table: str, columns: tuple[str, ...] | list[str]) -> str:
    """A deterministic name under PostgreSQL's 63-character limit."""
    name = f"{prefix}_{table}_{'_'.join(columns)}"
    if len(name) <= 60:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[:51]}_{digest}"


def system_tables(md: MetaData) -> None:
    """The platform's own tables (metadata revisions, history, sequences, credentials...)."""
    Table("rapport_meta_revision", md,
          Column("id", Integer, primary_key=True, autoincrement=True),
          Column("created_at", UTCDateTime, nullable=False),
          Column("author", Text),
          Column("comment", Text),
          Column("documents", Text, nullable=False),   # the full definition set, JSON
          Column("changes", Text, nullable=False))     # the plan applied, JSON
    Table("rapport_history", md,
          Column("id", BIGINT, primary_key=True, autoincrement=True),
          Column("object", Text, nullable=False),
          Column("record_id", BIGINT, nullable=False),
          Column("action", Text, nullable=False),      # create, update, delete, stage, approval...
          Column("field", Text),
          Column("old_value", Text),                   # JSON
          Column("new_value", Text),                   # JSON
          Column("user_id", BIGINT),
          Column("at", UTCDateTime, nullable=False),
          Index("ix_rapport_history_record", "object", "record_id", "id"))
    Table("rapport_stage_history", md,              # one row per stage a record entered
          Column("id", BIGINT, primary_key=True, autoincrement=True),
          Column("object", Text, nullable=False),
          Column("record_id", BIGINT, nullable=False),
          Column("field", Text, nullable=False),       # the workflow's stage field
          Column("stage", Text, nullable=False),
          Column("from_stage", Text),
          Column("entered_at", UTCDateTime, nullable=False),
          Column("left_at", UTCDateTime),              # NULL while the record is there
          Column("user_id", BIGINT),
          # a record's visits in order, their stages read from the index alone (the funnel)
          Index("ix_rapport_stage_history_visits", "object", "record_id", "field", "id",
                "stage"))
    Table("rapport_sequence", md,
          Column("object", Text, nullable=False),
          Column("field", Text, nullable=False),
          Column("next_value", BIGINT, nullable=False),
          PrimaryKeyConstraint("object", "field"))
    Table("rapport_credential", md,
          Column("user_id", BIGINT, primary_key=True, autoincrement=False),
          Column("password_hash", Text, nullable=False),
          Column("changed_at", UTCDateTime, nullable=False))
    Table("rapport_token", md,
          Column("id", Integer, primary_key=True, autoincrement=True),
          Column("user_id", BIGINT, nullable=False, index=True),
          Column("token_hash", Text, nullable=False, unique=True),
          Column("label", Text),
          Column("scope", Text, nullable=False, default="read_write"),
          Column("created_at", UTCDateTime, nullable=False),
          Column("last_used_at", UTCDateTime),
          Column("revoked_at", UTCDateTime))
    Table("rapport_lease", md,
          Column("name", Text, primary_key=True),
          Column("holder", Text, nullable=False),
          Column("expires_at", UTCDateTime, nullable=False))
    Table("rapport_saved_view", md,                    # a user's named list filters
          Column("id", Integer, primary_key=True, autoincrement=True),
          Column("user_id", BIGINT, nullable=False),
          Column("object", Text, nullable=False),
          Column("name", Text, nullable=False),
          Column("query_string", Text, nullable=False),
          Column("created_at", UTCDateTime, nullable=False),
          Index("ix_rapport_saved_view_user", "user_id", "object"))
    Table("rapport_data_version", md,                  # storage/versions.py
          Column("name", Text, primary_key=True),       # a table written
          Column("version", BIGINT, nullable=False))    # moved on by every write transaction
    Table("rapport_job", md,                           # scheduled jobs: one lease row each
          Column("name", Text, primary_key=True),
          Column("tick_at", UTCDateTime),              # the start of the last tick claimed
          Column("holder", Text),                      # the worker that claimed it
          Column("lease_until", UTCDateTime),          # NULL once the run finished
          Column("started_at", UTCDateTime),
          Column("finished_at", UTCDateTime),
          Column("status", Text),                      # running, ok, failed
          Column("last_error", Text),
          Column("runs", Integer, nullable=False, default=0))
    Table("rapport_hook_failure", md,                  # after-commit hook calls to retry
          Column("id", BIGINT, primary_key=True, autoincrement=True),
          Column("plugin", Text, nullable=False),
          Column("hook", Text, nullable=False),
          Column("object", Text),
          Column("record_id", BIGINT),
          Column("arguments", Text, nullable=False),   # JSON
          Column("error", Text, nullable=False),
          Column("attempts", Integer, nullable=False),
          Column("status", Text, nullable=False),      # pending, done, dead
          Column("created_at", UTCDateTime, nullable=False),
          Column("next_attempt_at", UTCDateTime),
          Column("resolved_at", UTCDateTime),
          Index("ix_rapport_hook_failure_due", "status", "next_attempt_at"))
    access_tables(md)
    approval_tables(md)


def access_tables(md: MetaData) -> None:
    """Roles' permissions, records shared, the audit log and login attempts (auth/)."""
    Table("rapport_permission", md,                    # a role's rights on one object
          Column("role", Text, nullable=False),         # role.code
          Column("object", Text, nullable=False),
          Column("can_create", Boolean, nullable=False),
          Column("can_read", Boolean, nullable=False),
          Column("can_edit", Boolean, nullable=False),
          Column("can_delete", Boolean, nullable=False),
          Column("can_export", Boolean, nullable=False),
          Column("can_import", Boolean, nullable=False),
          Column("read_scope", Text, nullable=False),   # own, team, all
          Column("edit_scope", Text, nullable=False),
          PrimaryKeyConstraint("role", "object"))
    Table("rapport_field_access", md,                  # a field a role may not see or change
          Column("role", Text, nullable=False),
          Column("object", Text, nullable=False),
          Column("field", Text, nullable=False),
          Column("access", Text, nullable=False),       # hidden, read_only
          PrimaryKeyConstraint("role", "object", "field"))
    Table("rapport_share", md,                         # a record shared with a user or team
          Column("id", BIGINT, primary_key=True, autoincrement=True),
          Column("object", Text, nullable=False),
          Column("record_id", BIGINT, nullable=False),
          Column("user_id", BIGINT),
          Column("team_id", BIGINT),
          Column("level", Text, nullable=False),        # read, edit
          Column("created_by", BIGINT),
          Column("created_at", UTCDateTime, nullable=False),
          Index("ix_rapport_share_record", "object", "record_id"),
          Index("ix_rapport_share_user", "object", "user_id", "record_id"),
          Index("ix_rapport_share_team", "object", "team_id", "record_id"))
    Table("rapport_audit", md,                         # who did what that matters to security
          Column("id", BIGINT, primary_key=True, autoincrement=True),
          Column("at", UTCDateTime, nullable=False),
          Column("event", Text, nullable=False),        # login_ok, login_failed, reveal...
          Column("user_id", BIGINT),
          Column("email", Text),
          Column("address", Text),
          Column("object", Text),
          Column("record_id", BIGINT),
          Column("detail", Text),                       # JSON
          Index("ix_rapport_audit_at", "at"),
          Index("ix_rapport_audit_event", "event", "at"))
    Table("rapport_login_attempt", md,                 # failed logins, for throttling
          Column("id", BIGINT, primary_key=True, autoincrement=True),
          Column("kind", Text, nullable=False),         # account, address
          Column("key", Text, nullable=False),
          Column("at", UTCDateTime, nullable=False),
          Index("ix_rapport_login_attempt_key", "kind", "key", "at"))


def field_column(obj: ObjectDef, f: FieldDef, types: FieldTypes, meta: MetadataSet) -> Column:
    kwargs = {}
    args = []
    if f.is_relation and f.target in meta.objects:
        args.append(ForeignKey(f"{f.target}.id", ondelete=ON_DELETE_SQL[f.delete_rule],
                               name=constraint_name("fk", obj.name, (f.name,))))
    return Column(f.name, types.column_type(f), *args, nullable=True, **kwargs)


def grouped_picklists(obj: ObjectDef, meta: MetadataSet) -> set[str]:
    """Picklists that boards and workflows group by: worth an index of their own."""
    names = set()
    kanban = (obj.views or {}).get("kanban") or {}
    if kanban.get("group_by"):
        names.add(kanban["group_by"])
    for wf in meta.workflows.values():
        if wf.data.get("object") == obj.name and wf.data.get("field"):
            names.add(wf.data["field"])
    return names


def object_indexes(obj: ObjectDef, meta: MetadataSet) -> list[tuple[str, tuple[str, ...], bool]]:
    """(name, columns, unique) for every index the object's table has: lookups, unique and
    ``indexed`` fields, picklists that boards or workflows group by, declared composites,
    the owner (record access filters on it) and the list view's default sort (with ``id``,
    the keyset tie-breaker), so that the first page of a big list is an index walk. A plain
    one-column index is left out when another index starts with that column."""
    grouped = grouped_picklists(obj, meta)
    out: dict[str, tuple[str, tuple[str, ...], bool]] = {}
    for f in obj.fields:
        unique = f.unique or f.type == "autonumber"
        if unique or f.indexed or f.is_relation or f.name in grouped:
            name = constraint_name("uq" if unique else "ix", obj.name, (f.name,))
            out[name] = (name, (f.name,), unique)
    for idx in obj.indexes:
        name = idx.name or constraint_name("uq" if idx.unique else "ix", obj.name, idx.fields)
        out[name] = (name, tuple(idx.fields), idx.unique)
    owner = constraint_name("ix", obj.name, ("owner",))
    out[owner] = (owner, ("owner",), False)
    sort = list_sort_column(obj)
    if sort:
        name = constraint_name("ix", obj.name, (sort, "id"))
        out.setdefault(name, (name, (sort, "id"), False))
    leading = {cols[0] for _, cols, _ in out.values() if len(cols) > 1}
    return [ix for ix in out.values() if ix[2] or len(ix[1]) > 1 or ix[1][0] not in leading]


SORTABLE_SYSTEM_COLUMNS = frozenset({"created_at", "updated_at"})
UNINDEXABLE = frozenset({"multi_picklist", "json", "rich_text", "textarea"})


def list_sort_column(obj: ObjectDef) -> str | None:
    """The first column the list view sorts by by default, when an index can serve it."""
    first = obj.default_sort.split(",")[0].strip().lstrip("+-")
    if first in SORTABLE_SYSTEM_COLUMNS:
        return first
    if not obj.has_field(first) or obj.field(first).type in UNINDEXABLE:
        return None
    return first


def object_table(md: MetaData, obj: ObjectDef, types: FieldTypes, meta: MetadataSet) -> Table:
    user_fk = "user.id" if "user" in meta.objects else None
    columns = [
        Column("id", BIGINT, primary_key=True, autoincrement=True),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        Column("created_by", BIGINT,
               *([ForeignKey(user_fk, name=constraint_name("fk", obj.name, ("created_by",)),
                             ondelete="SET NULL")] if user_fk else [])),
        Column("owner", BIGINT,
               *([ForeignKey(user_fk, name=constraint_name("fk", obj.name, ("owner",)),
                             ondelete="SET NULL")] if user_fk else [])),
        Column("version", Integer, nullable=False, default=1),
    ]
    columns += [field_column(obj, f, types, meta) for f in obj.fields]
    table = Table(obj.name, md, *columns)
    for name, cols, unique in object_indexes(obj, meta):
        Index(name, *[table.c[c] for c in cols], unique=unique)
    return table


def build_metadata(meta: MetadataSet, types: FieldTypes) -> MetaData:
    md = MetaData()
    system_tables(md)
    for obj in meta.objects.values():
        object_table(md, obj, types, meta)
    return md
