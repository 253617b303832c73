"""Schema plans: what applying a new definition set does to the database, in words a
person can read, before anything changes; then the apply, in one transaction."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Connection, ForeignKey, Index, Integer, MetaData, Table, func, select
from sqlalchemy.schema import CreateColumn

from ..errors import DataLossRefused, RapportError
from ..fieldtypes import CoercionError, FieldTypes
from ..meta.model import CHOICE_TYPES, FieldDef, MetadataSet, ObjectDef
from .tables import ON_DELETE_SQL, build_metadata, constraint_name, object_indexes

BATCH = 5000


def new_id() -> str:
    return secrets.token_hex(6)


@dataclass
class Step:
    """One change to the schema or the stored data."""

    action: str
    object: str
    field: str | None = None
    detail: str = ""
    destructive: bool = False
    blocked: str | None = None          # why this step cannot run at all
    affected: int | None = None         # rows whose data is lost or does not convert
    old: FieldDef | None = None
    new: FieldDef | None = None
    index: tuple[str, tuple[str, ...], bool] | None = None

    def describe(self) -> str:
        marks = {"create_table": "+", "add_column": "+", "add_index": "+", "rename_column": "~",
                 "rename_value": "~",
                 "retype_column": "~", "backfill": "=", "recompute_rollup": "=",
                 "drop_index": "-", "drop_column": "-", "drop_table": "-"}
        mark = "!" if self.destructive or self.blocked else marks.get(self.action, "*")
        where = f"{self.object}.{self.field}" if self.field else self.object
        text = f"{mark} {self.action.replace('_', ' ')} {where}"
        if self.detail:
            text += f" ({self.detail})"
        if self.blocked:
            text += f" — refused: {self.blocked}"
        elif self.destructive:
            text += " — DESTROYS DATA"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "object": self.object, "field": self.field,
                "detail": self.detail, "destructive": self.destructive,
                "blocked": self.blocked, "affected": self.affected, "text": self.describe()}


@dataclass
class Plan:
    old: MetadataSet
    new: MetadataSet
    steps: list[Step] = field(default_factory=list)
    #: what the change does beyond the schema: reports following a rename, or left broken
    notes: list[str] = field(default_factory=list)

    @property
    def destructive(self) -> bool:
        return any(s.destructive for s in self.steps)

    @property
    def blocked(self) -> list[Step]:
        return [s for s in self.steps if s.blocked]

    @property
    def empty(self) -> bool:
        return not self.steps

    def lines(self) -> list[str]:
        return ([s.describe() for s in self.steps] or ["no schema changes"]) + \
            [f"note: {n}" for n in self.notes]

    def as_dict(self) -> dict[str, Any]:
        return {"steps": [s.as_dict() for s in self.steps], "destructive": self.destructive,
                "notes": self.notes}


# -- identities -----------------------------------------------------------------------

def assign_identities(old: MetadataSet, new: MetadataSet) -> MetadataSet:
    """Give every object and field of ``new`` a stable id: the id of the field it
    continues (same id, ``renamed_from``, or same name), else a fresh one."""
    objects = {}
    for name, obj in new.objects.items():
        before = old.objects.get(name)
        by_id = {f.id: f for f in before.fields} if before else {}
        by_name = {f.name: f for f in before.fields} if before else {}
        fields = []
        for f in obj.fields:
            if f.id and f.id in by_id:
                fields.append(replace(f, renamed_from=None))
                continue
            prior = by_name.get(f.renamed_from or "") if f.renamed_from else None
            if prior is None and not f.id:
                prior = by_name.get(f.name)
            fid = prior.id if prior is not None and prior.id else (f.id or new_id())
            fields.append(replace(f, id=fid, renamed_from=None))
        objects[name] = replace(obj, fields=tuple(fields),
                                id=obj.id or (before.id if before and before.id else new_id()))
    return replace(new, objects=objects)


# -- planning -------------------------------------------------------------------------

def _column_signature(types: FieldTypes, f: FieldDef, dialect: Any) -> str:
    return str(types.column_type(f).compile(dialect=dialect)) + (
        f"->{f.target}:{f.delete_rule}" if f.is_relation else "")


def _needs_conversion(old: FieldDef, new: FieldDef) -> bool:
    if new.is_computed:
        return False
    if old.value_type != new.value_type:
        return True
    return new.type == "picklist" and bool(set(old.option_values) - set(new.option_values)
                                           - set(new.value_renames))


def _value_renames(old: FieldDef, new: FieldDef) -> dict[str, str]:
    """The option values renamed from ``old`` to ``new`` (``renamed_from`` on an option)."""
    if old.type not in CHOICE_TYPES or new.type not in CHOICE_TYPES:
        return {}
    return {a: b for a, b in new.value_renames.items() if a in old.option_values}


def make_plan(conn: Connection | None, old: MetadataSet, new: MetadataSet,
              types: FieldTypes) -> Plan:
    """The steps from ``old`` (what the database holds) to ``new`` (ids assigned)."""
    plan = Plan(old, new)
    dialect = conn.dialect if conn is not None else None
    steps = plan.steps
    for name, obj in new.objects.items():
        before = old.objects.get(name)
        if before is None:
            steps.append(Step("create_table", name, detail=f"{len(obj.fields)} fields"))
            for f in obj.fields:
                if f.type == "rollup":
                    steps.append(Step("recompute_rollup", name, f.name, new=f))
            continue
        old_by_id = {f.id: f for f in before.fields}
        new_ids = {f.id for f in obj.fields}
        retyped: set[str] = set()
        for f in obj.fields:
            prior = old_by_id.get(f.id)
            if prior is None:
                steps.append(Step("add_column", name, f.name, detail=f.type, new=f))
                if f.type == "formula":
                    steps.append(Step("backfill", name, f.name, detail="compute for existing records", new=f))
                if f.type == "rollup":
                    steps.append(Step("recompute_rollup", name, f.name, new=f))
                continue
            if prior.name != f.name:
                steps.append(Step("rename_column", name, f.name, detail=f"from {prior.name}",
                                  old=prior, new=f))
            renames = _value_renames(prior, f)
            if renames:
                steps.append(Step("rename_value", name, f.name, old=prior, new=f,
                                  detail=", ".join(f"{a!r} -> {b!r}" for a, b in renames.items())))
            if (prior.is_relation or f.is_relation) and (
                    (prior.type != f.type and not (prior.is_relation and f.is_relation))
                    or prior.target != f.target):
                steps.append(Step("retype_column", name, f.name, old=prior, new=f,
                                  detail=f"{prior.type} -> {f.type}",
                                  blocked="a lookup cannot change its type or target; "
                                          "add a new field instead"))
                continue
            same_column = dialect is None or _column_signature(types, prior, dialect) == \
                _column_signature(types, f, dialect)
            if not same_column or _needs_conversion(prior, f):
                retyped.add(f.name)
                steps.append(Step("retype_column", name, f.name, old=prior, new=f,
                                  detail=f"{prior.type} -> {f.type}"))
            if f.type == "formula" and (prior.type != "formula" or prior.expression != f.expression
                                        or prior.result_type != f.result_type):
                steps.append(Step("backfill", name, f.name, detail="recompute stored values", new=f))
            if f.type == "rollup" and (prior.type != "rollup" or (prior.source, prior.relation,
                                       prior.aggregate, prior.field, prior.filter,
                                       prior.filter_formula) !=
                                       (f.source, f.relation, f.aggregate, f.field, f.filter,
                                        f.filter_formula)):
                steps.append(Step("recompute_rollup", name, f.name, new=f))
            if f.unique and not prior.unique:
                steps.append(Step("check_unique", name, f.name, new=f, detail="values must be unique"))
        for prior in before.fields:
            if prior.id not in new_ids:
                steps.append(Step("drop_column", name, prior.name, old=prior, detail=prior.type))
        # indexes: by name; those touching a retyped column are rebuilt
        old_idx = {i[0]: i for i in object_indexes(before, old)}
        new_idx = {i[0]: i for i in object_indexes(obj, new)}
        renames = {s.old.name: s.new.name for s in steps  # type: ignore[union-attr]
                   if s.action == "rename_column" and s.object == name}
        for iname, idx in old_idx.items():
            renamed_cols = tuple(renames.get(c, c) for c in idx[1])
            if iname not in new_idx or renamed_cols != idx[1] or set(idx[1]) & retyped \
                    or new_idx[iname] != idx:
                steps.append(Step("drop_index", name, detail=iname, index=idx))
        for iname, idx in new_idx.items():
            old_one = old_idx.get(iname)
            renamed_old = tuple(renames.get(c, c) for c in old_one[1]) if old_one else None
            if old_one is None or old_one != idx or set(idx[1]) & retyped or renamed_old != old_one[1]:
                steps.append(Step("add_index", name, detail=iname, index=idx))
    for name in old.objects:
        if name not in new.objects:
            steps.append(Step("drop_table", name))
    if conn is not None:
        _measure(conn, plan, types)
    return plan


def _typed(table: str, column: str, types: FieldTypes, f: FieldDef) -> Table:
    """The table's id and one column, read through the field's own type (not the
    database's generic one: a currency on SQLite is a REAL that reads back as Decimal)."""
    return Table(table, MetaData(), Column("id", Integer, primary_key=True),
                 Column(column, types.column_type(f)))


def _reflect(conn: Connection, name: str) -> Table:
    return Table(name, MetaData(), autoload_with=conn)


def _measure(conn: Connection, plan: Plan, types: FieldTypes) -> None:
    """Count what each step would lose or fail to convert."""
    for step in plan.steps:
        if step.action == "rename_value" and step.old is not None and step.new is not None:
            t = _reflect(conn, step.object)
            col = t.c[step.old.name]
            olds = list(_value_renames(step.old, step.new))
            if step.new.type == "picklist":
                n = conn.scalar(select(func.count()).where(col.in_(olds)))
            else:
                n = sum(1 for (v,) in conn.execute(select(col).where(col.is_not(None)))
                        if set(_json_list(v)) & set(olds))
            step.affected = n
            step.detail += f", {n:,} records migrated"
        elif step.action == "drop_column" and step.old is not None:
            t = _reflect(conn, step.object)
            n = conn.scalar(select(func.count()).where(t.c[step.old.name].is_not(None)))
            step.affected = n
            if n:
                step.destructive = True
                step.detail += f", {n:,} values would be lost"
        elif step.action == "drop_table":
            t = _reflect(conn, step.object)
            n = conn.scalar(select(func.count()).select_from(t))
            step.affected = n
            if n:
                step.destructive = True
                step.detail = f"{n:,} records would be lost"
        elif step.action == "retype_column" and not step.blocked and step.old and step.new:
            t = _typed(step.object, step.old.name, types, step.old)
            bad = 0
            example = None
            convert = _converter(types, step.new, _value_renames(step.old, step.new))
            for (value,) in conn.execute(select(t.c[step.old.name]).where(
                    t.c[step.old.name].is_not(None))):
                try:
                    convert(value)
                except CoercionError:
                    bad += 1
                    example = example or value
            step.affected = bad
            if bad and not step.new.is_computed:
                step.destructive = True
                step.detail += f", {bad:,} values would not convert (e.g. {str(example)[:40]!r})"
        elif step.action == "check_unique" and step.new is not None:
            t = _reflect(conn, step.object)
            col = t.c[step.new.name]
            dupes = conn.execute(select(col, func.count()).where(col.is_not(None)).group_by(col)
                                 .having(func.count() > 1).limit(3)).all()
            if dupes:
                step.blocked = ("values are not unique: " +
                                ", ".join(f"{v!r} ×{n}" for v, n in dupes))


def _json_list(value: Any) -> list[Any]:
    import json

    if isinstance(value, list):
        return value
    try:
        loaded = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return []
    return loaded if isinstance(loaded, list) else []


def _converter(types: FieldTypes, new: FieldDef,
               renames: dict[str, str] | None = None) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if value is None:
            return None
        if renames and isinstance(value, str):
            value = renames.get(value, value)
        try:
            return types.coerce_value(new, value)
        except CoercionError:
            if isinstance(value, str):
                raise
            return types.coerce_value(new, str(value))
    return convert


# -- apply ----------------------------------------------------------------------------

class PlanRefused(RapportError):
    status = 409
    code = "plan_refused"


def check_allowed(plan: Plan, allow_data_loss: bool) -> None:
    if plan.blocked:
        raise PlanRefused("the change cannot be applied:\n" +
                          "\n".join(s.describe() for s in plan.blocked))
    if plan.destructive and not allow_data_loss:
        raise DataLossRefused("the change would destroy data (use --allow-data-loss to apply "
                              "it anyway):\n" + "\n".join(s.describe() for s in plan.steps
                                                          if s.destructive))


def _add_column(conn: Connection, ops: Operations, table: str, column: Column) -> None:
    if conn.dialect.name == "sqlite" and column.foreign_keys:
        # SQLite adds a column with an inline REFERENCES clause (no ALTER ... ADD CONSTRAINT)
        fk = next(iter(column.foreign_keys))
        q = conn.dialect.identifier_preparer.quote
        ddl = str(CreateColumn(column).compile(dialect=conn.dialect))
        # the copied column belongs to no table yet: the target comes from the name
        target = fk.target_fullname.split(".")[0]
        ddl += f" REFERENCES {q(target)} (id) ON DELETE {fk.ondelete}"
        conn.exec_driver_sql(f"ALTER TABLE {q(table)} ADD COLUMN {ddl}")
    else:
        ops.add_column(table, column)


def apply_plan(conn: Connection, plan: Plan, types: FieldTypes,
               backfill: Callable[[Connection, ObjectDef, FieldDef], None],
               recompute_rollup: Callable[[Connection, ObjectDef, FieldDef], None]) -> None:
    """Run the plan's steps on ``conn`` (inside the caller's transaction)."""
    ops = Operations(MigrationContext.configure(conn))
    md = build_metadata(plan.new, types)
    order = ["drop_index", "rename_column", "rename_value", "create_table", "add_column", "retype_column",
             "drop_column", "drop_table", "check_unique", "add_index", "backfill", "recompute_rollup"]
    steps = sorted(plan.steps, key=lambda s: order.index(s.action))
    steps = _children_dropped_first(steps, plan.old)
    new_tables = [md.tables[s.object] for s in steps if s.action == "create_table"]
    for step in steps:
        if step.action == "drop_index" and step.index:
            ops.drop_index(step.index[0], table_name=step.object)
        elif step.action == "rename_column" and step.old and step.new:
            ops.alter_column(step.object, step.old.name, new_column_name=step.new.name)
        elif step.action == "rename_value" and step.old and step.new:
            _rename_values(conn, step.object, step.new, _value_renames(step.old, step.new))
        elif step.action == "create_table":
            if new_tables:
                md.create_all(conn, tables=new_tables)
                new_tables = []
        elif step.action == "add_column" and step.new:
            column = md.tables[step.object].c[step.new.name]
            _add_column(conn, ops, step.object, _copy_column(column))
        elif step.action == "retype_column" and step.old and step.new:
            _retype(conn, ops, md, step, types)
        elif step.action == "drop_column" and step.old:
            _drop_column(conn, ops, step.object, step.old)
        elif step.action == "drop_table":
            ops.drop_table(step.object)
        elif step.action == "add_index" and step.index:
            name, cols, unique = step.index
            if not _index_exists(conn, step.object, name):
                Index(name, *[md.tables[step.object].c[c] for c in cols], unique=unique).create(conn)
        elif step.action == "backfill" and step.new:
            backfill(conn, plan.new.objects[step.object], step.new)
        elif step.action == "recompute_rollup" and step.new:
            recompute_rollup(conn, plan.new.objects[step.object], step.new)


def _children_dropped_first(steps: list[Step], old: MetadataSet) -> list[Step]:
    """The drop_table steps reordered so a table goes before the tables it refers to
    (PostgreSQL refuses to drop a table another one still points at)."""
    drops = [s for s in steps if s.action == "drop_table"]
    if len(drops) < 2:
        return steps
    gone = {s.object for s in drops}
    refers = {name: {f.target for f in old.objects[name].fields
                     if f.is_relation and f.target in gone and f.target != name}
              for name in gone if name in old.objects}
    ordered: list[Step] = []
    pending = list(drops)
    while pending:
        # a table nobody left to drop refers to goes next (a cycle: the first one left)
        ready = [s for s in pending
                 if not any(s.object in refers.get(o.object, ()) for o in pending if o is not s)]
        step = ready[0] if ready else pending[0]
        ordered.append(step)
        pending.remove(step)
    first = steps.index(drops[0])
    rest = [s for s in steps if s.action != "drop_table"]
    return rest[:first] + ordered + rest[first:]


def _rename_values(conn: Connection, table: str, f: FieldDef, renames: dict[str, str]) -> None:
    """Stored option values renamed (the column already has the field's new name)."""
    import json

    from sqlalchemy import bindparam, update

    t = _reflect(conn, table)
    col = t.c[f.name]
    if f.type == "picklist":
        for old, new in renames.items():
            conn.execute(update(t).where(col == old).values({f.name: new}))
        return
    stmt = update(t).where(t.c.id == bindparam("_id")).values({f.name: bindparam("_v")})
    batch = []
    for rid, value in conn.execute(select(t.c.id, col).where(col.is_not(None))).all():
        values = _json_list(value)
        if set(values) & set(renames):
            batch.append({"_id": rid, "_v": json.dumps([renames.get(v, v) for v in values],
                                                       ensure_ascii=False)})
    for start in range(0, len(batch), BATCH):
        conn.execute(stmt, batch[start:start + BATCH])


def _index_exists(conn: Connection, table: str, name: str) -> bool:
    from sqlalchemy import inspect

    return any(i["name"] == name for i in inspect(conn).get_indexes(table))


def _copy_column(column: Column) -> Column:
    fks = [ForeignKey(fk.target_fullname, ondelete=fk.ondelete, name=fk.name)
           for fk in column.foreign_keys]
    return Column(column.name, column.type, *fks, nullable=True)


def _drop_column(conn: Connection, ops: Operations, table: str, old: FieldDef) -> None:
    if conn.dialect.name == "sqlite" and old.is_relation:
        # SQLite cannot drop a column that takes part in a foreign key: rebuild the table
        with ops.batch_alter_table(table, recreate="always") as batch:
            batch.drop_column(old.name)
    else:
        ops.drop_column(table, old.name)


def _retype(conn: Connection, ops: Operations, md: MetaData, step: Step, types: FieldTypes) -> None:
    assert step.old and step.new
    # renames ran first: the column already has its new name
    table_name, old_name, new_name = step.object, step.new.name, step.new.name
    temp = f"{new_name}__retype"
    target = md.tables[table_name].c[new_name]
    _add_column(conn, ops, table_name, Column(temp, target.type, nullable=True))
    t = _typed(table_name, old_name, types, step.old)
    convert = _converter(types, step.new)
    rows = conn.execute(select(t.c.id, t.c[old_name]).where(t.c[old_name].is_not(None))).all()
    # the reflected temp column has the database's generic type: bind through the target's
    tt = Table(table_name, MetaData(), Column("id", t.c.id.type, primary_key=True),
               Column(temp, target.type))
    from sqlalchemy import bindparam, update

    stmt = update(tt).where(tt.c.id == bindparam("_id")).values({temp: bindparam("_v")})
    batch: list[dict[str, Any]] = []
    for rid, value in rows:
        try:
            converted = convert(value)
        except CoercionError:
            converted = None
        if converted is not None:
            batch.append({"_id": rid, "_v": converted})
        if len(batch) >= BATCH:
            conn.execute(stmt, batch)
            batch = []
    if batch:
        conn.execute(stmt, batch)
    _drop_column(conn, ops, table_name, replace(step.old, name=old_name))
    ops.alter_column(table_name, temp, new_column_name=new_name)


def sqlite_fk_guard(conn: Connection) -> None:
    """After a plan ran on SQLite with foreign keys off: refuse if any reference broke."""
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise PlanRefused(f"the change would break {len(broken)} references "
                          f"(first: table {broken[0][0]}, row {broken[0][1]})")


__all__ = ["ON_DELETE_SQL", "Plan", "PlanRefused", "Step", "apply_plan", "assign_identities",
           "check_allowed", "constraint_name", "make_plan", "sqlite_fk_guard"]
