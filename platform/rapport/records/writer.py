"""What writing records of one object takes, worked out once per metadata revision.

The record service coerces, defaults, computes and checks every value it writes; a bulk
import does that a hundred thousand times for the same fields. A :class:`WritePlan` holds,
per object, the work that does not depend on the record: a coercer bound to each field
(limits, option sets and decimal quanta worked out once), the static defaults already
coerced, the formulas with their result coercers, and only the checks a field actually
carries (required, lengths, pattern, min/max) with their limits converted once. Running
it gives the same values, problems and messages, in the same order, as going through the
fields one by one.

For SQLite it also holds the INSERT statements the bulk create runs on the DBAPI cursor,
with each column's SQLAlchemy bind processor, so values are stored exactly as SQLAlchemy
stores them.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert
from sqlalchemy.engine import Dialect

from ..errors import FieldProblem, FormulaError
from ..fieldtypes import CoercionError, FieldTypes
from ..meta.model import SYSTEM_FIELDS, FieldDef, label_text

if TYPE_CHECKING:
    from sqlalchemy import Table

    from .runtime import ObjectRuntime

Getter = Callable[[str], Any]
#: The record's value for a key is ignored on input (bookkeeping and computed fields).
SKIP = object()
#: Values a default can share between records; others (lists, dicts...) are copied.
IMMUTABLE = (str, int, float, Decimal, date, bool, tuple, frozenset, type(None))


def plain_number(number: float) -> str:
    """A limit as people write it: 0, 2.5, 1000000 (not 1e+06)."""
    return format(Decimal(str(number)).normalize(), "f")


class _FieldChecks:
    """The checks one field carries once it has a value (lengths, pattern, min/max)."""

    __slots__ = ("field", "max", "max_text", "min", "min_length", "min_text", "numeric", "pattern")

    def __init__(self, f: FieldDef, pattern: re.Pattern[str] | None):
        self.field = f
        self.min_length = f.min_length or 0
        self.pattern = pattern
        self.numeric = not f.is_relation and (f.min is not None or f.max is not None)
        self.min = Decimal(str(f.min)) if f.min is not None else None
        self.max = Decimal(str(f.max)) if f.max is not None else None
        self.min_text = plain_number(f.min) if f.min is not None else ""
        self.max_text = plain_number(f.max) if f.max is not None else ""

    @property
    def any(self) -> bool:
        return bool(self.min_length or self.pattern is not None or self.numeric)

    def __call__(self, value: Any, problems: list[FieldProblem], locale: str) -> None:
        f = self.field
        if isinstance(value, str):
            if self.min_length and len(value) < self.min_length:
                problems.append(FieldProblem(
                    f.name, "too_short",
                    f"{f.display_label(locale)} needs at least {f.min_length} characters"))
            if self.pattern is not None and not self.pattern.search(value):
                problems.append(FieldProblem(f.name, "pattern",
                                             f"{f.display_label(locale)} has the wrong format"))
        if self.numeric and isinstance(value, int | Decimal) and not isinstance(value, bool):
            if self.min is not None and value < self.min:
                problems.append(FieldProblem(f.name, "min", f"{f.display_label(locale)} "
                                                            f"must be at least {self.min_text}"))
            if self.max is not None and value > self.max:
                problems.append(FieldProblem(f.name, "max", f"{f.display_label(locale)} "
                                                            f"must be at most {self.max_text}"))


class SQLiteInsert:
    """An INSERT of every column of a table for the DBAPI cursor's executemany: its SQL,
    the column keys in parameter order, and the bind processor of each (None: as is).

    A column that is NULL in every row of a batch is written as a NULL literal rather than
    bound: Python's sqlite3 module binds None through its adapter lookup, which costs more
    than the rest of the row's binding (and stores the same NULL)."""

    def __init__(self, table: Table, dialect: Dialect, keys: Sequence[str] | None = None):
        keys = list(keys) if keys is not None else [c.key for c in table.columns]
        compiled = insert(table).compile(dialect=dialect, column_keys=keys)
        order = list(compiled.positiontup or ())
        if sorted(order) != sorted(keys):
            raise RuntimeError(f"unexpected parameters for {table.name}: {order}")
        self.sql = str(compiled)
        self.keys = order
        self.processors = [table.c[k].type._cached_bind_processor(dialect) for k in order]
        #: (key, processor, memo of processed values or None) of each column, in parameter
        #: order; date columns keep a memo (dates repeat; equal dates bind as the same text)
        self._columns = [(k, p, {} if p is not None and _python_type(table.c[k].type) is date
                          else None) for k, p in zip(order, self.processors, strict=True)]
        self._statements: dict[tuple[int, ...], str] = {}
        prep = dialect.identifier_preparer
        self._head: str | None = (f"INSERT INTO {prep.format_table(table)} "
                                  f"({', '.join(prep.format_column(table.c[k]) for k in order)})"
                                  " VALUES (")
        if self.statement(()) != self.sql:  # not the statement SQLAlchemy writes: bind all
            self._head = None
        #: the largest id so far (the table's own ``id`` column)
        self.max_id_sql = (f"SELECT max({prep.format_column(table.c.id)}) "
                           f"FROM {prep.format_table(table)}") if "id" in table.c else None

    def statement(self, nulls: tuple[int, ...]) -> str:
        """The INSERT with a NULL literal for the columns at the positions ``nulls``."""
        if self._head is None:
            return self.sql
        sql = self._statements.get(nulls) if nulls else None
        if sql is None:
            marks = ("NULL" if i in nulls else "?" for i in range(len(self.keys)))
            sql = f"{self._head}{', '.join(marks)})"
            if nulls:
                self._statements[nulls] = sql
        return sql

    def batch(self, records: Sequence[Mapping[str, Any]]) -> tuple[str, list[tuple[Any, ...]]]:
        """The statement and its parameter tuples for ``records`` (missing keys are None),
        each value through its column's bind processor, as SQLAlchemy binds it."""
        columns = []
        for key, process, memo in self._columns:
            try:
                values = [r[key] for r in records]
            except KeyError:
                values = [r.get(key) for r in records]
            columns.append(values if process is None else _processed(process, values, memo))
        return self._statement_rows(columns, len(records))

    def _statement_rows(self, columns: list[Any], count: int
                        ) -> tuple[str, list[tuple[Any, ...]]]:
        if not count:
            return self.sql, []
        nulls = tuple(i for i, values in enumerate(columns)
                      if values[0] is None and (count == 1 or values.count(None) == count))
        if nulls and self._head is not None:
            columns = [values for i, values in enumerate(columns) if i not in nulls]
            return self.statement(nulls), list(zip(*columns, strict=True))
        return self.sql, list(zip(*columns, strict=True))


def _python_type(type_: Any) -> Any:
    try:
        return type_.python_type
    except NotImplementedError:
        return None


_MEMO_SIZE = 10_000  # distinct dates kept per column (a few MB at most)


def _processed(process: Callable[[Any], Any], values: Sequence[Any],
               memo: dict[Any, Any] | None) -> list[Any]:
    if memo is not None:
        out = []
        for v in values:
            if type(v) is date:
                try:
                    out.append(memo[v])
                    continue
                except KeyError:
                    if len(memo) >= _MEMO_SIZE:
                        memo.clear()
                    memo[v] = result = process(v)
            else:
                result = process(v)
            out.append(result)
        return out
    first = values[0]
    if first is values[-1] and values.count(first) == len(values):
        return [process(first)] * len(values)  # one value (the batch's timestamps)
    if first is values[-1]:
        # a column most likely holding one value: each run of the same object is
        # processed once
        out = []
        last: Any = out  # a sentinel no value is
        result = None
        for v in values:
            if v is not last:
                last, result = v, process(v)
            out.append(result)
        return out
    return list(map(process, values))


_FAILED = object()  # a value that could not be coerced, left out of its record


def _coerce_column(coerce: Callable[[Any], Any], values: list[Any]) -> list[Any]:
    """``list(map(coerce, values))`` for a pure coercer: text repeated down the column (a
    picklist, a date, a percentage) is coerced once."""
    try:
        sample = values[:64]
        if len(set(sample)) == len(sample):
            return list(map(coerce, values))  # no repeats to begin with (names, amounts)
        distinct = dict.fromkeys(values)
    except TypeError:  # something unhashable: not text
        return list(map(coerce, values))
    if 2 * len(distinct) > len(values) or not all(type(v) is str for v in distinct):
        return list(map(coerce, values))  # mostly distinct; or not only text (1 == True)
    coerced = {v: coerce(v) for v in distinct}
    return list(map(coerced.__getitem__, values))


def _common_keys(rows: Sequence[Any]) -> tuple[Any, ...] | None:
    """The keys of every row when all are dicts with the same keys in the same order."""
    if not rows or len(set(map(type, rows))) != 1 or type(rows[0]) is not dict:
        return None
    keys = set(map(tuple, rows))
    return keys.pop() if len(keys) == 1 else None


class WritePlan:
    """The per-object work of coercing, defaulting, computing and checking a record."""

    def __init__(self, rt: ObjectRuntime, types: FieldTypes, owner: FieldDef):
        self.rt = rt
        obj = rt.obj
        self.name = obj.name
        owner_entry = (owner, types.coercer(owner))
        self.inputs: dict[Any, Any] = dict.fromkeys(SYSTEM_FIELDS, SKIP)
        self.inputs["owner"] = owner_entry
        self.inputs_read_only = dict(self.inputs)
        #: fields whose text a batch may coerce once per distinct text
        self.pure: set[str] = set()
        for f in obj.fields:
            if f.is_computed:
                self.inputs[f.name] = self.inputs_read_only[f.name] = SKIP
                continue
            entry = (f, types.coercer(f))
            if types.pure(f):
                self.pure.add(f.name)
            self.inputs_read_only[f.name] = entry
            self.inputs[f.name] = (f, None) if f.read_only else entry

        # defaults, field by field: (name, formula, coercer) or (name, None, value, mutable)
        self.default_steps: list[tuple[Any, ...]] = []
        for f in obj.fields:
            if f.is_computed:
                continue
            if f.name in rt.default_formulas:
                self.default_steps.append((f, rt.default_formulas[f.name], types.coercer(f)))
            elif f.default is not None:
                try:
                    value = types.coercer(f)(f.default)
                except CoercionError:  # a default that does not fit: the field stays unset
                    continue
                self.default_steps.append((f, None, value, not isinstance(value, IMMUTABLE)))
            else:
                self.default_steps.append((f, None, None, False))
        self.rollup_defaults = [(f.name, 0 if f.aggregate in {"count", "sum"} else None)
                                for f in rt.own_rollups]
        #: no default formulas and no mutable defaults: the defaults are one dict merged in
        self.static_defaults: dict[str, Any] | None = None
        if all(step[1] is None and not step[3] for step in self.default_steps):
            self.static_defaults = {step[0].name: step[2] for step in self.default_steps}

        self.formulas = [(f, formula, types.value_coercer(f)) for f, formula in rt.formulas]
        self.checks: list[tuple[str, bool, _FieldChecks | None]] = []
        for f in obj.fields:
            checks = _FieldChecks(f, rt.patterns.get(f.name))
            required = f.required and not f.is_computed
            if required or checks.any:
                self.checks.append((f.name, required, checks if checks.any else None))
        self.rules = rt.rules
        self._sqlite: dict[int, SQLiteInsert] = {}

    # -- the steps ------------------------------------------------------------------------

    def coerce(self, values: Mapping[str, Any], problems: list[FieldProblem],
               read_only_ok: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if not isinstance(values, Mapping):
            problems.append(FieldProblem(None, "invalid", "a record must be a JSON object"))
            return out
        inputs = self.inputs_read_only if read_only_ok else self.inputs
        for key, value in values.items():
            entry = inputs.get(key) if isinstance(key, str) else None
            if entry is SKIP:
                continue  # bookkeeping and computed values: ignored, so a GET body can be PUT
            if entry is None:
                problems.append(FieldProblem(str(key)[:60], "unknown_field",
                                             f"{self.name} has no field '{str(key)[:60]}'"))
                continue
            f, coerce = entry
            if coerce is None:
                problems.append(FieldProblem(key, "read_only", f"{f.display_label()} is read-only"))
                continue
            try:
                out[key] = coerce(value)
            except CoercionError as exc:
                problems.append(FieldProblem(key, "invalid", f"{f.display_label()} {exc}"))
        return out

    def coerce_many(self, rows: Sequence[Mapping[str, Any]], read_only_ok: bool,
                    base: Mapping[str, Any] | None = None
                    ) -> tuple[list[dict[str, Any]], list[list[FieldProblem] | None]]:
        """:meth:`coerce` of each row (over a copy of ``base`` when given), with each row's
        problems (None: none). Rows that are dicts with the same keys in the same order (a
        CSV file's, say) are coerced column by column."""
        base = base or {}
        keys = _common_keys(rows)
        if keys is None:
            records, problems = [], []
            for r in rows:
                p: list[FieldProblem] = []
                records.append({**base, **self.coerce(r, p, read_only_ok)})
                problems.append(p or None)
            return records, problems
        found: list[list[FieldProblem] | None] = [None] * len(rows)

        def add(i: int, problem: FieldProblem) -> None:
            p = found[i]
            if p is None:
                found[i] = [problem]
            else:
                p.append(problem)

        inputs = self.inputs_read_only if read_only_ok else self.inputs
        names: list[str] = []
        columns: list[list[Any]] = []
        failed = False
        for key in keys:
            entry = inputs.get(key) if isinstance(key, str) else None
            if entry is SKIP:
                continue
            if entry is None:
                for i in range(len(rows)):
                    add(i, FieldProblem(str(key)[:60], "unknown_field",
                                        f"{self.name} has no field '{str(key)[:60]}'"))
                continue
            f, coerce = entry
            if coerce is None:
                for i in range(len(rows)):
                    add(i, FieldProblem(key, "read_only", f"{f.display_label()} is read-only"))
                continue
            values = [r[key] for r in rows]
            try:
                out = _coerce_column(coerce, values) if key in self.pure else \
                    list(map(coerce, values))
            except CoercionError:  # again value by value, to tell each row its problem
                out = []
                for i, value in enumerate(values):
                    try:
                        out.append(coerce(value))
                    except CoercionError as exc:
                        add(i, FieldProblem(key, "invalid", f"{f.display_label()} {exc}"))
                        out.append(_FAILED)
                        failed = True
            names.append(key)
            columns.append(out)
        if not names:
            return [dict(base) for _ in rows], found
        records = []
        new, append = base.copy, records.append
        for values in zip(*columns, strict=True):
            record = new()
            record.update(zip(names, values, strict=True))
            append(record)
        if failed:  # a value that failed leaves the field as base has it (or unset)
            for record, p in zip(records, found, strict=True):
                if p:
                    for name in names:
                        if record.get(name) is _FAILED:
                            if name in base:
                                record[name] = base[name]
                            else:
                                del record[name]
        return records, found

    def defaults(self, record: dict[str, Any], get: Getter, problems: list[FieldProblem]) -> None:
        static = self.static_defaults
        if static is not None:
            for name, value in static.items():
                if name not in record:
                    record[name] = value
        else:
            for step in self.default_steps:
                f = step[0]
                if f.name in record:
                    continue
                if step[1] is not None:
                    try:
                        record[f.name] = step[2](step[1].evaluate(record, get=get))
                    except (FormulaError, CoercionError) as exc:
                        problems.append(FieldProblem(
                            f.name, "default_error",
                            f"default of {f.name} cannot be computed: {exc}"))
                else:
                    record[f.name] = copy.deepcopy(step[2]) if step[3] else step[2]
        for name, value in self.rollup_defaults:
            record[name] = value

    def compute(self, record: dict[str, Any], get: Getter, problems: list[FieldProblem]) -> None:
        for f, formula, coerce in self.formulas:
            try:
                record[f.name] = coerce(formula.evaluate(record, get=get))
            except (FormulaError, CoercionError) as exc:
                where = f"record {record['id']}" if record.get("id") else "the new record"
                problems.append(FieldProblem(
                    f.name, "formula_error",
                    f"{f.display_label()} cannot be computed for {where} of {self.name}: {exc}"))
                record[f.name] = None

    def check(self, record: dict[str, Any], get: Getter, problems: list[FieldProblem],
              locale: str = "en", skip: Collection[str | None] = ()) -> None:
        """Field checks (required, lengths, pattern, min/max; not the fields in ``skip``),
        then, when every field is fine, the validation rules."""
        for name, required, checks in self.checks:
            value = record.get(name)
            if value is None:
                if required and name not in skip:
                    f = self.rt.obj.field(name)
                    problems.append(FieldProblem(name, "required",
                                                 f"{f.display_label(locale)} is required"))
            elif checks is not None and name not in skip:
                checks(value, problems, locale)
        if problems:
            return  # rules read clean values only
        for rule, formula in self.rules:
            try:
                hit = formula.evaluate(record, get=get)
            except FormulaError as exc:
                problems.append(FieldProblem(rule.field, "rule_error",
                                             f"validation rule {rule.name} failed to run: {exc}"))
                continue
            if hit:
                problems.append(FieldProblem(rule.field, rule.name, label_text(rule.message, locale)))

    # -- SQLite -----------------------------------------------------------------------------

    def sqlite_insert(self, dialect: Dialect) -> SQLiteInsert:
        spec = self._sqlite.get(id(dialect))
        if spec is None:
            spec = self._sqlite[id(dialect)] = SQLiteInsert(self.rt.table, dialect)
        return spec


__all__ = ["SKIP", "SQLiteInsert", "WritePlan", "plain_number"]
