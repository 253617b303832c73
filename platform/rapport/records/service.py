"""The record service: the one write path for the API, the screens, imports and packs.

Every write coerces and validates its values, computes defaults, autonumbers, formulas
and rollups, checks validation rules, optimistic concurrency, records field history and
calls the plugin hooks — in one transaction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from ..auth.access import MASK, unrestricted
from ..errors import (
    Conflict,
    FieldProblem,
    MetadataError,
    MetaProblem,
    NotFound,
    PermissionDenied,
    StaleVersion,
    ValidationError,
)
from ..formulas.sql import field_names, rollup_condition
from ..meta.model import SYSTEM_FIELDS, FieldDef, ObjectDef
from ..storage import versions
from ..storage.plan import constraint_name
from .actor import SYSTEM, Actor
from .query import And, Cond, Not, Or, Page, Query, conditions
from .runtime import ObjectRuntime
from .writer import WritePlan

if TYPE_CHECKING:
    from ..workflows import Move, StageWorkflow
    from ..workspace import Workspace

OWNER = FieldDef("owner", "lookup", label={"en": "Owner", "zh-CN": "所有人"}, target="user")
BULK_BATCH = 1000
COUNTER = re.compile(r"\{(0+)\}")
#: How far a change travels through stored values computed from it (rollups of rollups,
#: formulas reading formulas through lookups) before the chain is cut.
MAX_PROPAGATION = 8

def now_utc() -> datetime:
    return datetime.now(UTC)


def to_json(value: Any) -> Any:
    """A record value as JSON (Decimal as a number string keeps every digit)."""
    if isinstance(value, Decimal):
        return float(value) if value == value.to_integral_value() or abs(value) < 10**15 else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _history_value(value: Any) -> str | None:
    return None if value is None else json.dumps(to_json(value), ensure_ascii=False, default=str)


@dataclass
class BulkResult:
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, list[FieldProblem]]] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)


class _Resolver:
    """Values through lookups (``account.industry``) for formulas, cached per write."""

    def __init__(self, service: RecordService, conn: Connection):
        self.service = service
        self.conn = conn
        self.cache: dict[tuple[str, int], dict[str, Any] | None] = {}

    def row(self, object_name: str, rid: int) -> dict[str, Any] | None:
        key = (object_name, rid)
        if key not in self.cache:
            t = self.service.ws.table(object_name)
            row = self.conn.execute(select(t).where(t.c.id == rid)).first()
            self.cache[key] = dict(row._mapping) if row else None
        return self.cache[key]

    def prefetch(self, object_name: str, ids: Iterable[int]) -> None:
        missing = sorted({i for i in ids if i is not None and (object_name, i) not in self.cache})
        t = self.service.ws.table(object_name)
        for start in range(0, len(missing), 900):
            chunk = missing[start:start + 900]
            for row in self.conn.execute(select(t).where(t.c.id.in_(chunk))):
                self.cache[(object_name, row.id)] = dict(row._mapping)
            for i in chunk:
                self.cache.setdefault((object_name, i), None)

    def getter(self, obj: ObjectDef, record: Mapping[str, Any]) -> Callable[[str], Any]:
        return partial(self.get, obj, record)

    def cursor(self, obj: ObjectDef) -> _RecordGetter:
        """A getter a batch step points at each of its records in turn."""
        return _RecordGetter(self.get, obj)

    def get(self, obj: ObjectDef, record: Mapping[str, Any], path: str) -> Any:
        """The value at ``path`` (``account.industry``) from ``record`` of ``obj``."""
        parts = path.split(".")
        current_obj, current = obj, record
        for part in parts[:-1]:
            if part in {"owner", "created_by"}:
                target = "user"
            elif current_obj.has_field(part) and current_obj.field(part).is_relation:
                target = current_obj.field(part).target or ""
            else:
                return None
            rid = current.get(part)
            if rid is None:
                return None
            row = self.row(target, rid)
            if row is None:
                return None
            current_obj, current = self.service.ws.meta.objects[target], row
        return current.get(parts[-1])


class _RecordGetter:
    """``get(path)`` for the record it points at (``.record``)."""

    __slots__ = ("get", "obj", "record")

    def __init__(self, get: Callable[[ObjectDef, Mapping[str, Any], str], Any], obj: ObjectDef):
        self.get = get
        self.obj = obj
        self.record: Mapping[str, Any] = {}

    def __call__(self, path: str) -> Any:
        return self.get(self.obj, self.record, path)


class RecordService:
    def __init__(self, ws: Workspace):
        self.ws = ws

    # -- plumbing -------------------------------------------------------------------

    def runtime(self, object_name: str) -> ObjectRuntime:
        try:
            return self.ws.runtime(object_name)
        except KeyError:
            raise NotFound(f"no object named '{str(object_name)[:60]}'") from None

    def _hook(self, name: str, **kwargs: Any) -> None:
        hook = getattr(self.ws.plugins.hook, name)
        if hook.get_hookimpls():  # pluggy's call costs microseconds even with no plugin
            hook(workspace=self.ws, **kwargs)

    def _hooked(self, name: str) -> bool:
        """Whether a plugin implements the hook (asked once per batch)."""
        return bool(getattr(self.ws.plugins.hook, name).get_hookimpls())

    def plan(self, rt: ObjectRuntime) -> WritePlan:
        """The object's write plan (built once per metadata revision, kept on its runtime)."""
        plan = rt.write_plan
        if plan is None:
            plan = rt.write_plan = WritePlan(rt, self.ws.types, OWNER)
        return plan

    # -- reading --------------------------------------------------------------------

    def path_reader(self, conn: Connection
                    ) -> Callable[[ObjectDef, Mapping[str, Any]], Callable[[str], Any]]:
        """``reader(obj, record)``: the getter of values through lookups
        (``account.industry``) from ``record``, read on ``conn`` (the rows read are cached
        for the reader's life): what a formula sees when it is previewed outside a write."""
        return _Resolver(self, conn).getter

    def get(self, object_name: str, rid: Any, actor: Actor = SYSTEM,
            conn: Connection | None = None, reveal: Collection[str] = ()) -> dict[str, Any]:
        """One record, as the actor may see it (``reveal``: sensitive fields shown unmasked;
        the caller records the reveal). A record the actor may not read is not found."""
        rt = self.runtime(object_name)
        rid = _record_id(rid)
        t = rt.table
        stmt = select(t).where(t.c.id == rid)
        restricted = not unrestricted(actor)
        if restricted:
            stmt = stmt.where(self.readable(rt.obj, t, actor))
        if conn is not None:
            row = conn.execute(stmt).first()
        else:
            with self.ws.read_engine.connect() as c:
                row = c.execute(stmt).first()
        if row is None:
            raise NotFound(f"no {object_name} with id {rid}")
        record = dict(row._mapping)
        return self.ws.access.visible(actor, rt.obj, record, reveal) if restricted else record

    def query(self, object_name: str, q: Query, actor: Actor = SYSTEM,
              conn: Connection | None = None) -> Page:
        rt = self.runtime(object_name)
        compiler = self.ws.compiler()
        restricted = not unrestricted(actor)
        extra = None
        if restricted:
            compiler = compiler.reading_as(lambda o, t: self.readable(o, t, actor))
            self._check_query_fields(rt.obj, q, actor)
            extra = self.readable(rt.obj, rt.table, actor)
        stmt, sort_cols, limit = compiler.page_statement(rt.obj, q, extra_where=extra)
        if conn is not None:
            keys, rows = _fetch(conn, stmt)
        else:
            with self.ws.read_engine.connect() as c:
                keys, rows = _fetch(c, stmt)
        data = [dict(zip(keys, r, strict=True)) for r in rows[:limit]]
        cursor = compiler.encode_cursor(sort_cols, data[-1]) if len(rows) > limit else None
        if restricted:
            data = self.ws.access.visible_many(actor, rt.obj, data)
        return Page(data, cursor)

    def count(self, object_name: str, q: Query, actor: Actor = SYSTEM) -> int:
        rt = self.runtime(object_name)
        compiler = self.ws.compiler()
        if not unrestricted(actor):
            compiler = compiler.reading_as(lambda o, t: self.readable(o, t, actor))
        where = compiler.where(rt.obj, q.filter)
        if q.search:
            where = and_(where, compiler.search(rt.obj, q.search))
        if not unrestricted(actor):
            self._check_query_fields(rt.obj, q, actor)
            where = and_(where, self.readable(rt.obj, rt.table, actor))
        with self.ws.read_engine.connect() as c:
            return int(c.scalar(select(func.count()).select_from(rt.table).where(where)) or 0)

    def _check_query_fields(self, obj: ObjectDef, q: Query, actor: Actor) -> None:
        """A user filters and sorts only by fields they may see unmasked: a filter on a
        hidden or sensitive field would tell its value."""
        def closed(o: ObjectDef) -> frozenset[str]:
            return self.ws.access.hidden_fields(actor, o) | o.sensitive_names

        names = [name for name, _desc in q.sort]
        names += [c.field for c in _conds(q.filter)]
        for name in names:
            parts = str(name).split(".")
            shut = parts[0] in closed(obj)
            link = obj.field(parts[0]) if len(parts) == 2 and obj.has_field(parts[0]) else None
            if not shut and link is not None and link.target in self.ws.meta.objects:
                shut = parts[1] in closed(self.ws.meta.objects[link.target])  # account.tax_id
            if shut:
                shown = str(name)[:60]
                raise ValidationError([FieldProblem(
                    "sort" if name in [n for n, _d in q.sort] else f"filter[{shown}]",
                    "forbidden", f"'{shown}' cannot be used to filter or sort")])

    def readable(self, obj: ObjectDef, table: Table, actor: Actor = SYSTEM
                 ) -> ColumnElement[bool]:
        """The records of ``obj`` the actor may read, as a condition on ``table`` (its table
        or an alias of it): lists, counts, searches, lookups, boards, reports, exports and
        history all apply it. Built from the actor's role, owner, team and shares."""
        return self.ws.access.readable(obj, table, actor)

    def editable(self, obj: ObjectDef, table: Table, actor: Actor = SYSTEM
                 ) -> ColumnElement[bool]:
        """The records of ``obj`` the actor may change or delete, as a condition."""
        return self.ws.access.editable(obj, table, actor)

    def _check_writable(self, c: Connection, rt: ObjectRuntime, rid: int, actor: Actor,
                        action: str) -> None:
        """A record the actor cannot read is not found; one they read but may not change
        (or delete) is refused."""
        if unrestricted(actor):
            return
        access = self.ws.access
        t = rt.table
        may = c.execute(select(case((self.editable(rt.obj, t, actor), 1), else_=0)).where(
            t.c.id == rid, self.readable(rt.obj, t, actor))).scalar()  # one statement
        if may is None:
            raise NotFound(f"no {rt.name} with id {rid}")
        access.require(actor, rt.obj, action, c)
        if not may:
            raise PermissionDenied(f"you may read {rt.name} {rid} but not "
                                   f"{'delete' if action == 'delete' else 'change'} it")

    def _check_fields(self, rt: ObjectRuntime, values: Mapping[str, Any], actor: Actor,
                      allow_read_only: bool) -> dict[str, Any]:
        """The changes without masked sensitive values (sent back unchanged); a field the
        actor may not change is refused."""
        if unrestricted(actor) or allow_read_only:
            return dict(values)
        closed = self.ws.access.readonly_fields(actor, rt.obj)
        out = {}
        problems = []
        for k, v in values.items():
            if k in rt.obj.sensitive_names and v == MASK:
                continue
            if k in closed:
                problems.append(FieldProblem(k, "forbidden",
                                             f"your role may not change '{str(k)[:60]}'"))
            out[k] = v
        if problems:
            raise ValidationError(problems)
        return out

    def history(self, object_name: str, rid: Any, limit: int = 200,
                actor: Actor = SYSTEM) -> list[dict[str, Any]]:
        """The record's field history, newest first, as the actor may see it (hidden
        fields' entries left out, sensitive values masked)."""
        rt = self.runtime(object_name)
        rid = _record_id(rid)
        if not unrestricted(actor):
            self.get(object_name, rid, actor)  # not found when unreadable
        h = self.ws.table("rapport_history")
        with self.ws.read_engine.connect() as c:
            rows = c.execute(select(h).where(h.c.object == object_name, h.c.record_id == rid)
                             .order_by(h.c.id.desc()).limit(limit)).all()
        out = []
        for r in rows:
            item = dict(r._mapping)
            for key in ("old_value", "new_value"):
                item[key] = json.loads(item[key]) if item[key] is not None else None
            out.append(item)
        if unrestricted(actor):
            return out
        access = self.ws.access
        hidden = access.hidden_fields(actor, rt.obj)
        shown = []
        for item in out:
            name = item["field"]
            if name in hidden:
                continue
            for key in ("old_value", "new_value"):
                value = item[key]
                if isinstance(value, dict):  # a deleted record's values
                    item[key] = access.visible(actor, rt.obj, value)
                elif name in rt.obj.sensitive_names and value is not None:
                    item[key] = MASK
            shown.append(item)
        return shown

    # -- preparing values -------------------------------------------------------------

    def _coerce(self, rt: ObjectRuntime, values: Mapping[str, Any], problems: list[FieldProblem],
                read_only_ok: bool) -> dict[str, Any]:
        return self.plan(rt).coerce(values, problems, read_only_ok)

    def _defaults(self, rt: ObjectRuntime, record: dict[str, Any], get: Callable[[str], Any],
                  problems: list[FieldProblem]) -> None:
        self.plan(rt).defaults(record, get, problems)

    def _compute(self, rt: ObjectRuntime, record: dict[str, Any], get: Callable[[str], Any],
                 problems: list[FieldProblem]) -> None:
        self.plan(rt).compute(record, get, problems)

    def _check(self, rt: ObjectRuntime, record: dict[str, Any], get: Callable[[str], Any],
               problems: list[FieldProblem], locale: str = "en",
               skip: Collection[str | None] = ()) -> None:
        """Field checks (required, lengths, pattern, min/max; not the fields in ``skip``),
        then, when every field is fine, the validation rules."""
        self.plan(rt).check(record, get, problems, locale, skip)

    def _check_rest(self, rt: ObjectRuntime, record: dict[str, Any],
                    problems: list[FieldProblem], locale: str) -> None:
        """After values that could not be read: the other fields' problems, reported with
        them (not when the record as a whole is unreadable)."""
        fields = {p.field for p in problems}
        if None not in fields:
            self._check(rt, record, lambda _path: None, problems, locale, fields)

    def _db_checks(self, conn: Connection, rt: ObjectRuntime, records: Sequence[dict[str, Any]],
                   problems: list[list[FieldProblem] | None], actor: Actor = SYSTEM,
                   previous: Mapping[str, Any] | None = None) -> None:
        """Checks that need the database, batched: lookups exist (and the actor may read
        the records they point at: an unreadable one is as absent as a missing one), unique
        values are free. ``problems``: each record's list (None while it has none)."""
        relations = rt.relations
        if "user" in self.ws.meta.objects:
            relations = [*relations, OWNER]
        for f in relations:
            wanted = {r.get(f.name) for r in records}
            wanted.discard(None)
            if not wanted or f.target is None:
                continue
            target = self.ws.table(f.target)
            found: set[int] = set()
            ordered = sorted(wanted)
            readable = None
            if not unrestricted(actor) and f.target in self.ws.meta.objects:
                readable = self.readable(self.ws.meta.objects[f.target], target, actor)
                if previous is not None and previous.get(f.name) is not None:
                    found.add(previous[f.name])  # a link already there may stay
            for start in range(0, len(ordered), 900):
                stmt = select(target.c.id).where(target.c.id.in_(ordered[start:start + 900]))
                found.update(conn.scalars(stmt if readable is None else stmt.where(readable)))
            for i, r in enumerate(records):
                if r.get(f.name) is not None and r[f.name] not in found:
                    _add(problems, i, FieldProblem(
                        f.name, "not_found", f"{f.display_label()}: no {f.target} with id {r[f.name]}"))
        for f in rt.unique_fields:
            seen: dict[Any, int] = {}
            for i, r in enumerate(records):
                v = r.get(f.name)
                if v is None:
                    continue
                if v in seen:
                    _add(problems, i, FieldProblem(
                        f.name, "unique", f"{f.display_label()} '{v}' is used twice in this batch"))
                seen.setdefault(v, i)
            if not seen:
                continue
            col = rt.table.c[f.name]
            values = list(seen)
            taken: dict[Any, int] = {}
            for start in range(0, len(values), 900):
                for v, rid in conn.execute(select(col, rt.table.c.id).where(
                        col.in_(values[start:start + 900]))):
                    taken[v] = rid
            for i, r in enumerate(records):
                v = r.get(f.name)
                if v in taken and taken[v] != r.get("id"):
                    _add(problems, i, FieldProblem(f.name, "unique",
                                                   f"{f.display_label()} '{v}' is already used by "
                                                   f"{rt.name} {taken[v]}"))

    def _number(self, conn: Connection, rt: ObjectRuntime, f: FieldDef, count: int) -> list[str]:
        seq = self.ws.table("rapport_sequence")
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert
        conn.execute(upsert(seq).values(object=rt.name, field=f.name, next_value=f.start)
                     .on_conflict_do_nothing())
        end = conn.execute(update(seq).where(seq.c.object == rt.name, seq.c.field == f.name)
                           .values(next_value=seq.c.next_value + count)
                           .returning(seq.c.next_value)).scalar_one()
        match = COUNTER.search(f.format or "{0}")
        width = len(match.group(1)) if match else 1
        fmt = f.format or "{0}"
        return [COUNTER.sub(str(n).zfill(width), fmt, count=1) for n in range(end - count, end)]

    # -- create ---------------------------------------------------------------------------

    def create(self, object_name: str, values: Mapping[str, Any], actor: Actor = SYSTEM,
               conn: Connection | None = None) -> dict[str, Any]:
        if not unrestricted(actor):
            rt = self.runtime(object_name)
            self.ws.access.require(actor, rt.obj, "create")
            values = self._check_fields(rt, values, actor, False)
        result = self._create_many(object_name, [values], actor, conn, atomic=True)
        return result[0]

    def create_many(self, object_name: str, rows: Iterable[Mapping[str, Any]],
                    actor: Actor = SYSTEM, conn: Connection | None = None,
                    skip_invalid: bool = False,
                    progress: Callable[[int], None] | None = None) -> BulkResult:
        """Create many records in one transaction. Every invalid row is reported; nothing
        is created when one is invalid, unless ``skip_invalid`` (then the valid ones are)."""
        result = BulkResult()
        if not unrestricted(actor):
            rt = self.runtime(object_name)
            self.ws.access.require(actor, rt.obj, "create")
            rows = (self._check_fields(rt, r, actor, False) for r in rows)
        with self.ws.within(conn) as c:
            batch: list[Mapping[str, Any]] = []
            offset = 0
            for row in rows:
                batch.append(row)
                if len(batch) >= BULK_BATCH:
                    self._bulk_batch(c, object_name, batch, offset, actor, result, skip_invalid)
                    offset += len(batch)
                    if progress:
                        progress(len(batch))
                    batch = []
            if batch:
                self._bulk_batch(c, object_name, batch, offset, actor, result, skip_invalid)
                if progress:
                    progress(len(batch))
            if result.errors and not skip_invalid:
                result.created = 0
                result.ids = []
                c.info["rapport_rollback"] = True
        return result

    def _bulk_batch(self, c: Connection, object_name: str, batch: list[Mapping[str, Any]],
                    offset: int, actor: Actor, result: BulkResult, skip_invalid: bool) -> None:
        # a row refused by a before-save hook is reported with the others; a failure after
        # rows were written (an after-save hook, a unique value taken meanwhile) rolls the
        # whole write back
        records = self._create_many(object_name, batch, actor, c, atomic=False,
                                    collect=result.errors, offset=offset,
                                    write=skip_invalid or not result.errors)
        result.created += len(records)
        result.ids.extend(map(itemgetter("id"), records))

    def _create_many(self, object_name: str, rows: Sequence[Mapping[str, Any]], actor: Actor,
                     conn: Connection | None, atomic: bool,
                     collect: list[tuple[int, list[FieldProblem]]] | None = None,
                     offset: int = 0, write: bool = True) -> list[dict[str, Any]]:
        """Create the rows (one batch). ``atomic``: raise on the first bad row and return the
        records as stored; else the bad rows go to ``collect`` and the records returned
        carry at least their ids (column-ordered records only when a hook needs them).

        Each step runs over the whole batch; a row refused by a step drops out of the next
        ones, as it would going through the steps row by row. A row's problems list exists
        only once it has a problem: a batch keeps few objects the garbage collector tracks."""
        rt = self.runtime(object_name)
        plan = self.plan(rt)
        when = now_utc()
        rows = rows if isinstance(rows, list) else list(rows)
        with self.ws.within(conn) as c:
            resolver = _Resolver(self, c)
            records, problems = self._coerce_rows(plan, rows, actor, when)
            for f in rt.relations:
                linked = {r.get(f.name) for r in records}
                linked.discard(None)
                if f.target and linked:
                    resolver.prefetch(f.target, linked)
            self._defaults_rows(rt, plan, records, resolver, problems, actor)
            if self._hooked("record_before_save"):
                self._before_save_rows(c, rt, records, problems, actor)
            staged = bool(self.ws.workflows.of(rt.name))
            valid = [i for i, p in enumerate(problems) if p is None]
            if staged:
                self.ws.workflows.start(rt, [records[i] for i in valid])
            self._compute_rows(plan, records, valid, resolver, problems)
            self._check_rows(plan, records, valid, resolver, problems, actor)
            if staged:
                self._first_stage_rows(rt, records, problems, actor)
            self._db_checks(c, rt, records, problems, actor)
            bad = [(offset + i, p) for i, p in enumerate(problems) if p]
            if bad:
                if atomic:
                    raise ValidationError(bad[0][1])
                if collect is not None:
                    collect.extend(bad)
            good = [r for r, p in zip(records, problems, strict=True) if not p]
            if not good or not write:
                return []
            self.ws.approvals.check_masters_unlocked(c, rt.name, good, actor)
            for f in rt.autonumbers:
                for r, number in zip(good, self._number(c, rt, f, len(good)), strict=True):
                    r[f.name] = number
            self._insert(c, rt, good)
            self._history_created(c, rt, good, actor, when)
            self.ws.workflows.after_create(c, rt, good, actor, when)
            self._rollups_for(c, rt, good, None)
            self.ws.approvals.after_create(c, rt.name, good, actor)
            after_save = self._hooked("record_after_save")
            after_commit = self._hooked("record_after_commit")
            if not (atomic or after_save or after_commit):
                return good
            columns = [col.key for col in rt.table.columns]
            stored = [{k: r.get(k) for k in columns} for r in good]
            for r in stored:
                if after_save:
                    self._hook("record_after_save", object_name=rt.name, record=r, previous=None,
                               user=actor, connection=c)
                if after_commit:
                    self._after_commit(c, rt.name, r, None, actor)
            return stored

    # the steps of a create, each over the whole batch

    def _coerce_rows(self, plan: WritePlan, rows: Sequence[Mapping[str, Any]], actor: Actor,
                     when: datetime) -> tuple[list[dict[str, Any]], list[list[FieldProblem] | None]]:
        """The rows' values coerced, with the bookkeeping fields, and (when they are plain
        values) the defaults of the fields a row leaves out."""
        uid = actor.id
        base = {"id": None, "created_at": when, "updated_at": when, "created_by": uid,
                "owner": uid, "version": 1}
        if plan.static_defaults is not None:  # else computed per record in _defaults_rows
            base = {**plan.static_defaults, **dict(plan.rollup_defaults), **base}
        records, problems = plan.coerce_many(rows, True, base)
        for r in records:
            if not r["owner"]:  # a blank owner: the creator
                r["owner"] = uid
        return records, problems

    def _defaults_rows(self, rt: ObjectRuntime, plan: WritePlan, records: list[dict[str, Any]],
                       resolver: _Resolver, problems: list[list[FieldProblem] | None],
                       actor: Actor) -> None:
        if plan.static_defaults is None:
            defaults, get = plan.defaults, resolver.cursor(rt.obj)
            for i, record in enumerate(records):
                p = problems[i] or []
                get.record = record
                defaults(record, get, p)
                if p:
                    problems[i] = p
        for record, p in zip(records, problems, strict=True):
            if p:
                self._check_rest(rt, record, p, actor.locale)

    def _before_save_rows(self, c: Connection, rt: ObjectRuntime, records: list[dict[str, Any]],
                          problems: list[list[FieldProblem] | None], actor: Actor) -> None:
        for i, record in enumerate(records):
            if problems[i]:
                continue
            try:
                self._hook("record_before_save", object_name=rt.name, record=record,
                           previous=None, user=actor, connection=c)
            except ValidationError as exc:  # refuses this row (the others are reported too)
                problems[i] = list(exc.problems)
                continue
            record["version"], record["id"] = 1, None

    def _first_stage_rows(self, rt: ObjectRuntime, records: list[dict[str, Any]],
                          problems: list[list[FieldProblem] | None], actor: Actor) -> None:
        """The blank fields each new record's first stage requires, with the field checks'
        problems (one problem per field: a rule already asking for it is enough)."""
        staged = self.ws.workflows.starting_problems(rt, records, actor.locale)
        for i, more in enumerate(staged):
            if more:
                problems[i] = _merged(problems[i], more)

    def copy_rows(self, c: Connection, table: Table, fixed: Mapping[str, Any],
                  copied: Mapping[str, str], source: Table, ids: Sequence[int],
                  where: Any = None) -> None:
        """Rows of a system table made by the database from the rows ``ids`` of ``source``
        just written: ``fixed`` values, and columns ``copied`` from the source's
        (target: source column). One INSERT ... SELECT per chunk; nothing binds per row."""
        if not ids:
            return
        values = [literal(v, table.c[k].type).label(k) for k, v in fixed.items()]
        columns = [source.c[name].label(k) for k, name in copied.items()]
        chunks = [(ids[0], ids[-1])] if ids[-1] - ids[0] == len(ids) - 1 \
            else [ids[i:i + 900] for i in range(0, len(ids), 900)]  # contiguous: a range
        for chunk in chunks:
            cond = source.c.id.between(*chunk) if isinstance(chunk, tuple) \
                else source.c.id.in_(chunk)
            stmt = select(*values, *columns).where(cond if where is None else and_(cond, where))
            c.execute(insert(table).from_select([*fixed, *copied], stmt))

    def _compute_rows(self, plan: WritePlan, records: list[dict[str, Any]], valid: list[int],
                      resolver: _Resolver, problems: list[list[FieldProblem] | None]) -> None:
        """Formulas of the rows still valid (``valid``: their indexes)."""
        if not plan.formulas:
            return
        compute, get = plan.compute, resolver.cursor(plan.rt.obj)
        for i in valid:
            record = get.record = records[i]
            p: list[FieldProblem] = []
            compute(record, get, p)
            if p:
                problems[i] = p

    def _check_rows(self, plan: WritePlan, records: list[dict[str, Any]], valid: list[int],
                    resolver: _Resolver, problems: list[list[FieldProblem] | None],
                    actor: Actor) -> None:
        """Field checks and validation rules of the rows that reached the formulas
        (those whose formulas failed get their field checks too)."""
        check, get, locale = plan.check, resolver.cursor(plan.rt.obj), actor.locale
        for i in valid:
            record = get.record = records[i]
            p = problems[i] or []
            check(record, get, p, locale)
            if p:
                problems[i] = p

    def _insert(self, c: Connection, rt: ObjectRuntime, records: list[dict[str, Any]]) -> None:
        t = rt.table
        columns = [col.name for col in t.columns if col.name != "id"]
        try:
            if len(records) > 1 and c.dialect.name == "postgresql":
                # ids drawn from the table's sequence first, then one plain executemany
                # (psycopg pipelines it): much faster than INSERT ... RETURNING in batches
                ids = list(c.scalars(select(func.nextval(func.pg_get_serial_sequence(
                    t.name, "id"))).select_from(func.generate_series(1, len(records)))))
                c.execute(insert(t), [{"id": rid, **{k: r.get(k) for k in columns}}
                                      for rid, r in zip(ids, records, strict=True)])
            elif len(records) == 1 or c.dialect.name != "sqlite":
                if c.dialect.insert_executemany_returning:
                    ids = c.execute(insert(t).returning(t.c.id, sort_by_parameter_order=True),
                                    [{k: r.get(k) for k in columns} for r in records]).scalars().all()
                else:
                    ids = [c.execute(insert(t).values({k: r.get(k) for k in columns}))
                           .inserted_primary_key[0] for r in records]
            else:
                # SQLite: the ids follow the largest one, as SQLite itself would number the
                # rows (no AUTOINCREMENT); the transaction holds the write lock from its BEGIN
                # IMMEDIATE, so nothing interleaves. One executemany on the DBAPI cursor with
                # the values through the columns' own bind processors (what SQLAlchemy binds).
                spec = self.plan(rt).sqlite_insert(c.dialect)
                first = (_dbapi(c, spec.max_id_sql) or 0) + 1
                for rid, r in enumerate(records, first):
                    r["id"] = rid
                _dbapi(c, *spec.batch(records))
                versions.touch(c, t.name)
                return
        except IntegrityError as exc:
            raise self._integrity(rt, exc) from None
        for r, rid in zip(records, ids, strict=True):
            r["id"] = rid

    def _history_created(self, c: Connection, rt: ObjectRuntime, records: list[dict[str, Any]],
                         actor: Actor, when: datetime) -> None:
        """One history row per created record."""
        self.copy_rows(c, self.ws.table("rapport_history"), {
            "object": rt.name, "action": "create", "user_id": actor.id, "at": when},
            {"record_id": "id"}, rt.table, [r["id"] for r in records])

    def _integrity(self, rt: ObjectRuntime, exc: IntegrityError) -> Exception:
        text = str(exc.orig)
        for f in rt.obj.fields:
            if (f.unique or f.type == "autonumber") and (
                    f"{rt.name}.{f.name}" in text or constraint_name("uq", rt.name, (f.name,)) in text):
                return ValidationError(f"{f.display_label()} is already used", field=f.name,
                                           code="unique")
        if "FOREIGN KEY" in text.upper():
            return Conflict("the change refers to a record that does not exist or is still "
                            "referenced by others")
        return Conflict("the change conflicts with another record (a unique value or a reference)")

    def _history_rows(self, c: Connection, rows: list[dict[str, Any]]) -> None:
        if rows:
            c.execute(insert(self.ws.table("rapport_history")), rows)

    def _after_commit(self, c: Connection, object_name: str, record: dict[str, Any],
                      previous: dict[str, Any] | None, actor: Actor) -> None:
        if not self.ws.plugins.hook.record_after_commit.get_hookimpls():
            return
        from ..plugins.failures import after_commit

        snapshot = dict(record)
        c.info.setdefault("rapport_after_commit", []).append(
            lambda: after_commit(self.ws, object_name, snapshot, previous, actor))

    # -- update ---------------------------------------------------------------------------

    def update(self, object_name: str, rid: Any, changes: Mapping[str, Any], actor: Actor = SYSTEM,
               expected_version: int | None = None, conn: Connection | None = None,
               allow_read_only: bool = False, locked_ok: bool = False,
               trusted: bool = False) -> dict[str, Any]:
        """Change a record. ``allow_read_only``: the platform itself writes (an import, a
        workflow), which may set fields people cannot edit. ``locked_ok``: the approval
        engine's own field updates on a record its pending request locks. ``trusted``: the
        platform decided the write for the actor (an approval's action, a plugin's rule), so
        the actor's record access is not asked again (also with ``locked_ok``)."""
        rt = self.runtime(object_name)
        rid = _record_id(rid)
        with self.ws.within(conn) as c:
            t = rt.table
            stmt = select(t).where(t.c.id == rid)
            if c.dialect.name == "postgresql":
                stmt = stmt.with_for_update()
            row = c.execute(stmt).first()
            if row is None:
                raise NotFound(f"no {object_name} with id {rid}")
            previous = dict(row._mapping)
            if not (trusted or locked_ok):
                self._check_writable(c, rt, rid, actor, "edit")
                changes = self._check_fields(rt, changes, actor, allow_read_only)
            if not locked_ok:  # before the version: a lock says more than "changed meanwhile"
                self.ws.approvals.check_unlocked(c, rt.name, previous, actor)
            if expected_version is not None and previous["version"] != expected_version:
                raise StaleVersion(f"{object_name} {rid} was changed by someone else (version "
                                   f"{previous['version']}, yours {expected_version}); reload it")
            problems: list[FieldProblem] = []
            coerced = self._coerce(rt, changes, problems, read_only_ok=allow_read_only)
            if problems:
                self._check_rest(rt, {**previous, **coerced}, problems, actor.locale)
                raise ValidationError(problems)
            record = {**previous, **coerced}
            if not locked_ok:  # moved under another master: that one may be locked too
                self.ws.approvals.check_masters_unlocked(c, rt.name, [record], actor)
            self._hook("record_before_save", object_name=rt.name, record=record,
                       previous=previous, user=actor, connection=c)
            for key in ("id", "version", "created_at", "created_by"):
                record[key] = previous[key]
            resolver = _Resolver(self, c)
            get = resolver.getter(rt.obj, record)
            staged: list[FieldProblem] = []
            moves = self.ws.workflows.before_update(rt, previous, record, get, actor, staged)
            self._compute(rt, record, get, problems)
            self._check(rt, record, get, problems, actor.locale)
            self._db_checks(c, rt, [record], [problems], actor, previous)
            problems = _merged(problems, staged) or []
            if problems:
                raise ValidationError(problems)
            changed = {k: v for k, v in record.items()
                       if k in rt.table.c and k not in {"id", "version", "updated_at"}
                       and v != previous.get(k)}
            if not changed:
                return previous
            if rt.name in {"user", "role"}:
                self.ws.access.user_changing(c, rt.name, previous, record, changed, actor)
            return self._write_update(c, rt, previous, record, changed, actor, moves)

    def _write_update(self, c: Connection, rt: ObjectRuntime, previous: dict[str, Any],
                      record: dict[str, Any], changed: dict[str, Any], actor: Actor,
                      moves: Sequence[tuple[StageWorkflow, Move]] = (),
                      action: str = "update") -> dict[str, Any]:
        t = rt.table
        when = now_utc()
        values = {**changed, "updated_at": when, "version": previous["version"] + 1}
        try:
            done = c.execute(update(t).where(t.c.id == previous["id"],
                                             t.c.version == previous["version"]).values(values))
        except IntegrityError as exc:
            raise self._integrity(rt, exc) from None
        if done.rowcount != 1:
            raise StaleVersion(f"{rt.name} {previous['id']} was changed by someone else; reload it")
        record.update(values)
        tracked = [k for k in changed if k in SYSTEM_FIELDS or (
            rt.obj.has_field(k) and rt.obj.field(k).track_history)]
        if rt.obj.track_history:
            self._history_rows(c, [{"object": rt.name, "record_id": previous["id"], "action": action,
                                    "field": k, "old_value": _history_value(previous.get(k)),
                                    "new_value": _history_value(record.get(k)),
                                    "user_id": actor.id, "at": when} for k in tracked])
        self.ws.workflows.after_update(c, rt, record, moves, actor, when)
        self._propagate(c, rt, [record], set(changed), [previous])
        self._hook("record_after_save", object_name=rt.name, record=record, previous=previous,
                   user=actor, connection=c)
        self.ws.approvals.after_save(c, rt.name, record, previous, actor)
        self._after_commit(c, rt.name, record, previous, actor)
        return record

    # -- delete ---------------------------------------------------------------------------

    def delete(self, object_name: str, rid: Any, actor: Actor = SYSTEM,
               conn: Connection | None = None) -> dict[str, Any]:
        rt = self.runtime(object_name)
        rid = _record_id(rid)
        with self.ws.within(conn) as c:
            t = rt.table
            row = c.execute(select(t).where(t.c.id == rid)).first()
            if row is None:
                raise NotFound(f"no {object_name} with id {rid}")
            record = dict(row._mapping)
            self._check_writable(c, rt, rid, actor, "delete")
            if rt.name in {"user", "role"}:
                self.ws.access.user_changing(c, rt.name, record, None, {}, actor)
            self.ws.approvals.check_unlocked(c, rt.name, record, actor)
            self._hook("record_before_delete", object_name=rt.name, record=record, user=actor,
                       connection=c)
            cleared: list[tuple[ObjectDef, list[int]]] = []
            for child, link in self.ws.meta.children_of(rt.name):
                ct = self.ws.table(child.name)
                if link.delete_rule == "restrict":
                    n = c.scalar(select(func.count()).select_from(ct)
                                 .where(ct.c[link.name] == rid))
                    if n:
                        raise Conflict(f"cannot delete {rt.name} {rid}: {n} "
                                       f"{child.display_plural()} still refer to it through "
                                       f"'{link.name}'")
                elif link.delete_rule == "set_null" and self.runtime(child.name).formulas:
                    # the database clears the link; formulas reading it are computed again
                    cleared.append((child, list(c.scalars(
                        select(ct.c.id).where(ct.c[link.name] == rid)))))
            cascaded = self._cascaded(c, rt.name, [rid])
            try:
                c.execute(delete(t).where(t.c.id == rid))
            except IntegrityError as exc:
                raise self._integrity(rt, exc) from None
            for child, child_ids in cleared:
                if child_ids:
                    self.recompute_formulas(c, child, child_ids)
            for crt, rows in cascaded:  # their other parents' rollups
                self._rollups_for(c, crt, [], rows)
            self._history_rows(c, [{"object": rt.name, "record_id": rid, "action": "delete",
                                    "field": None, "old_value": _history_value(
                                        {k: to_json(v) for k, v in record.items()}),
                                    "new_value": None, "user_id": actor.id, "at": now_utc()}])
            self._rollups_for(c, rt, [], [record])
            self.ws.approvals.on_delete(c, rt.name, record, actor)
            self._hook("record_after_delete", object_name=rt.name, record=record, user=actor,
                       connection=c)
            return record

    def _cascaded(self, c: Connection, name: str, ids: list[int],
                  depth: int = 0) -> list[tuple[ObjectRuntime, list[dict[str, Any]]]]:
        """The rows a delete takes with it (master-detail, level by level) that feed rollups
        of other parents: those are recomputed once the rows are gone."""
        out: list[tuple[ObjectRuntime, list[dict[str, Any]]]] = []
        if depth >= MAX_PROPAGATION:
            return out
        for child, link in self.ws.meta.children_of(name):
            if link.delete_rule != "cascade":
                continue
            crt = self.runtime(child.name)
            feeds = any(r.relation != link.name for r in crt.rollups_up)
            deeper = any(x.delete_rule == "cascade"
                         for _o, x in self.ws.meta.children_of(child.name))
            if not feeds and not deeper:
                continue
            ct = crt.table
            rows = [dict(r._mapping) for start in range(0, len(ids), 900)
                    for r in c.execute(select(ct).where(
                        ct.c[link.name].in_(ids[start:start + 900])))]
            if rows and feeds:
                out.append((crt, rows))
            if rows and deeper:
                out += self._cascaded(c, child.name, [r["id"] for r in rows], depth + 1)
        return out

    # -- rollups and dependents ----------------------------------------------------------------

    def _propagate(self, c: Connection, rt: ObjectRuntime, records: Sequence[Mapping[str, Any]],
                   changed: set[str], previous: Sequence[Mapping[str, Any]] | None = None,
                   depth: int = 0) -> None:
        """Bring stored values computed from these rows' ``changed`` fields up to date: the
        parents' rollups, and formulas of other objects reading them through a lookup."""
        if depth >= MAX_PROPAGATION:
            return
        self._rollups_for(c, rt, records, previous, changed, depth)
        for dep in rt.dependents:
            if not dep.reads & changed:
                continue
            dt = self.ws.table(dep.obj.name)
            ids = sorted({x["id"] for x in records})
            found: list[int] = []
            for start in range(0, len(ids), 900):
                found += c.scalars(select(dt.c.id).where(
                    dt.c[dep.relation].in_(ids[start:start + 900])))
            if found:
                self.recompute_formulas(c, dep.obj, found, depth=depth + 1)

    def _rollups_for(self, c: Connection, rt: ObjectRuntime, records: Sequence[Mapping[str, Any]],
                     previous: Sequence[Mapping[str, Any]] | None, changed: set[str] | None = None,
                     depth: int = 0) -> None:
        """Recompute the parents' rollups that these child rows (before and after) feed
        (only those reading a ``changed`` field, when given)."""
        for r in rt.rollups_up:
            feeds = {r.relation, *([r.field.field] if r.field.field else []),
                     *(cond["field"].split(".")[0] for cond in r.field.filter),
                     *(field_names(r.field.filter_formula, rt.obj)
                       if r.field.filter_formula else ())}
            if changed is not None and not changed & feeds:
                continue
            parents = {x.get(r.relation) for x in records} | \
                      {x.get(r.relation) for x in (previous or ())}
            parents.discard(None)
            if parents:
                self.recompute_rollup(c, r.parent, r.field, sorted(parents), depth + 1)

    def rollup_expression(self, parent: ObjectDef, f: FieldDef) -> Any:
        child = self.ws.table(f.source or "")
        parent_t = self.ws.table(parent.name)
        child_obj = self.ws.meta.objects[f.source or ""]
        fn = f.aggregate or "count"
        col = child.c[f.field] if f.field else child.c.id
        agg = {"count": func.count(child.c.id), "sum": func.coalesce(func.sum(col), 0),
               "min": func.min(col), "max": func.max(col), "avg": func.avg(col)}[fn]
        where = child.c[f.relation] == parent_t.c.id
        if f.filter:
            where = and_(where, self.ws.compiler().where(child_obj, conditions(f.filter)))
        if f.filter_formula is not None:
            condition = rollup_condition(f.filter_formula, child_obj, child)
            if condition is None:  # validation refuses such a filter: never all rows
                raise MetadataError([MetaProblem(parent.name, f"/fields/{f.name}/filter",
                                                 "the rollup filter does not translate to SQL")])
            where = and_(where, condition)
        return select(agg).where(where).scalar_subquery()

    def recompute_rollup(self, c: Connection, parent: ObjectDef, f: FieldDef,
                         ids: Sequence[int] | None = None, depth: int = 0) -> None:
        """Set ``f`` on the parents (all, or ``ids``) in SQL, then what is computed from it."""
        t = self.ws.table(parent.name)
        stmt = update(t).values({f.name: self.rollup_expression(parent, f)})
        chunks = [None] if ids is None else [ids[i:i + 900] for i in range(0, len(ids), 900)]
        for chunk in chunks:
            c.execute(stmt if chunk is None else stmt.where(t.c.id.in_(chunk)))
        prt = self.runtime(parent.name)
        if any(f.name in formula.names for _f, formula in prt.formulas):
            self.recompute_formulas(c, parent, ids, depth=depth)
        if depth < MAX_PROPAGATION and (f.name in prt.rollup_inputs or any(
                f.name in dep.reads for dep in prt.dependents)):
            rows = [dict(r._mapping) for r in c.execute(
                select(t) if ids is None else select(t).where(t.c.id.in_(list(ids))))]
            self._propagate(c, prt, rows, {f.name}, depth=depth)

    def recompute_formulas(self, c: Connection, obj: ObjectDef, ids: Sequence[int] | None = None,
                           only: FieldDef | None = None, depth: int = 0) -> int:
        """Recompute stored formula values (of every record, or of ``ids``) in batches, then
        what is computed from the values that changed."""
        rt = self.runtime(obj.name)
        t = rt.table
        formulas = [f.name for f, _fm in rt.formulas if only is None or f.name == only.name]
        if not formulas:
            return 0
        resolver = _Resolver(self, c)
        stmt = update(t).where(t.c.id == bindparam("_id")).values(
            {n: bindparam(f"_v_{n}") for n in formulas})
        count = 0

        def run(rows: list[dict[str, Any]]) -> None:
            nonlocal count
            params = []
            changed_rows: list[dict[str, Any]] = []
            changed: set[str] = set()
            for record in rows:
                before = {n: record.get(n) for n in formulas}
                self._compute(rt, record, resolver.getter(obj, record), [])
                diff = {n for n in formulas if record.get(n) != before[n]}
                if diff:
                    changed |= diff
                    changed_rows.append(record)
                    params.append({"_id": record["id"], **{f"_v_{n}": record.get(n) for n in formulas}})
            if params:
                c.execute(stmt, params)
                count += len(params)
                self._propagate(c, rt, changed_rows, changed, depth=depth)

        if ids is not None:
            ids = list(ids)
            for start in range(0, len(ids), 900):
                run([dict(r._mapping) for r in c.execute(select(t).where(
                    t.c.id.in_(ids[start:start + 900])))])
            return count
        last = 0
        while rows := [dict(r._mapping) for r in c.execute(
                select(t).where(t.c.id > last).order_by(t.c.id).limit(2000))]:
            last = rows[-1]["id"]
            run(rows)
        return count

    # -- stored-value maintenance for plan steps ------------------------------------------------

    def backfill(self, c: Connection, obj: ObjectDef, f: FieldDef) -> None:
        if f.type == "formula":
            self.recompute_formulas(c, obj, only=f)
        elif f.type == "autonumber":
            t = self.ws.table(obj.name)
            ids = list(c.scalars(select(t.c.id).where(t.c[f.name].is_(None)).order_by(t.c.id)))
            rt = self.runtime(obj.name)
            if ids:
                numbers = self._number(c, rt, f, len(ids))
                c.execute(update(t).where(t.c.id == bindparam("_id"))
                          .values({f.name: bindparam("_v")}),
                          [{"_id": i, "_v": n} for i, n in zip(ids, numbers, strict=True)])


def _add(problems: list[list[FieldProblem] | None], i: int, problem: FieldProblem) -> None:
    """Add a problem to row ``i`` of a batch (its list is made on its first problem)."""
    p = problems[i]
    if p is None:
        problems[i] = [problem]
    else:
        p.append(problem)


def _merged(problems: list[FieldProblem] | None,
            more: list[FieldProblem]) -> list[FieldProblem] | None:
    """``problems`` plus those of ``more`` on fields that have none yet."""
    if not more:
        return problems
    taken = {p.field for p in problems or ()}
    return [*(problems or ()), *(p for p in more if p.field not in taken)]


def _dbapi(c: Connection, sql: str, rows: list[tuple[Any, ...]] | None = None) -> Any:
    """On the connection's DBAPI cursor, inside its transaction: ``executemany`` of
    ``rows``, or (without rows) the first value of the query. A database error comes out
    as SQLAlchemy's (an IntegrityError is an IntegrityError)."""
    if rows is not None and not rows:
        return None
    if not c.in_transaction():
        c.begin()  # what SQLAlchemy's autobegin does before its own first statement
    cursor = c.connection.cursor()
    dbapi = c.dialect.loaded_dbapi
    try:
        if rows is None:
            row = cursor.execute(sql).fetchone()
            return row[0] if row else None
        cursor.executemany(sql, rows)
        return None
    except dbapi.Error as exc:
        raise DBAPIError.instance(sql, None, exc, dbapi.Error, dialect=c.dialect) from exc
    finally:
        cursor.close()


def _conds(node: Any) -> Iterable[Cond]:
    """The conditions of a filter tree."""
    if isinstance(node, Cond):
        yield node
    elif isinstance(node, And | Or):
        for item in node.items:
            yield from _conds(item)
    elif isinstance(node, Not):
        yield from _conds(node.item)


def _record_id(rid: Any) -> int:
    try:
        value = int(rid)
    except (TypeError, ValueError):
        raise NotFound(f"no record with id '{str(rid)[:40]}'") from None
    if value <= 0 or value >= 2**63:
        raise NotFound(f"no record with id {value}")
    return value


__all__ = ["BulkResult", "RecordService", "to_json"]


def _fetch(conn: Connection, stmt: Any) -> tuple[list[str], list[Any]]:
    """Column names once and the rows as tuples: a page of records without building a
    mapping view per row."""
    result = conn.execute(stmt)
    return list(result.keys()), result.fetchall()
