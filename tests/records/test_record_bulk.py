"""Bulk creates (create_many, the CSV import) against single creates.

A bulk create of several rows goes a faster way than ``create``: its rows are coerced
column by column (text repeated down a column once per distinct text), static defaults are
merged in one step, and on SQLite the rows and their history are written with one
executemany on the DBAPI cursor, through the columns' SQLAlchemy bind processors. These
tests hold the two ways to the same result: what is stored (read back, and on SQLite the
stored text and numbers themselves), the ids, the history, every problem of every row with
its row number, and the plugin hooks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Float, delete, func, select

import rapport
from rapport.errors import ValidationError
from rapport.fieldtypes import CoercionError, FieldTypes
from rapport.meta.model import FieldDef, PicklistOption
from rapport.records.actor import Actor
from rapport.records.query import Query
from rapport.records.transfer import import_csv
from rapport.storage.types import _SQLiteDecimal
from rapport.workspace import Workspace

#: Every input type with plain defaults only (its defaults are merged in one step; the
#: gadget, with default formulas, takes them field by field).
WIDGET: dict[str, Any] = {
    "name": "widget",
    "fields": [
        {"name": "name", "type": "text", "required": True, "max_length": 20, "min_length": 2},
        {"name": "code", "type": "text", "unique": True, "pattern": "^[A-Z]{2}-[0-9]+$"},
        {"name": "notes", "type": "textarea"},
        {"name": "email", "type": "email"},
        {"name": "phone", "type": "phone"},
        {"name": "site", "type": "url"},
        {"name": "qty", "type": "integer", "min": 0, "max": 1000, "default": 1},
        {"name": "weight", "type": "decimal", "precision": 3},
        {"name": "price", "type": "currency", "min": 0},
        {"name": "share", "type": "percent", "min": 0, "max": 100},
        {"name": "active", "type": "boolean", "default": True},
        {"name": "due", "type": "date", "default": "2030-01-31"},
        {"name": "seen_at", "type": "datetime"},
        {"name": "color", "type": "picklist", "options": ["red", "green", "blue"],
         "default": "green"},
        {"name": "tags", "type": "multi_picklist", "options": ["a", "ab", "b"]},
        {"name": "account", "type": "lookup", "target": "account"},
        {"name": "serial", "type": "autonumber", "format": "W-{000}"},
        {"name": "total", "type": "formula", "result_type": "currency",
         "expression": "qty * price"},
        {"name": "label", "type": "formula", "result_type": "text",
         "expression": "concat(name, ' @ ', account.name)"},
        {"name": "meta", "type": "json"},
    ],
    "validation_rules": [{"name": "red_is_cheap", "when": "color == 'red' and price > 100",
                          "message": "Red ones cost at most 100", "field": "price"}],
}

#: Stored values that differ between two creates of the same values.
OWN = {"id", "code", "serial", "created_at", "updated_at"}


@pytest.fixture
def bulk(clean: Workspace) -> Iterator[Workspace]:
    """The module's workspace with the widget, emptied after the test."""
    if "widget" not in clean.meta.objects:
        clean.apply(clean.documents_from(WIDGET))
    yield clean
    with clean.transaction() as conn:
        conn.execute(delete(clean.table("widget")))


def _rows(account: int, owner: int | None) -> list[dict[str, Any]]:
    """The same kinds of values every way a caller may give them."""
    plus_two = timezone(timedelta(hours=2))
    return [
        {"name": "Plain", "code": "AA-1", "qty": "1,000", "weight": "1.2345", "price": "1,234.565",
         "share": "12.5", "active": "yes", "due": "2024-02-29",
         "seen_at": "2024-03-01T10:00:00+02:00", "color": "blue", "tags": "a;b",
         "account": str(account), "meta": '{"k": [1, 2], "é": null}', "email": "a@b.example",
         "phone": "+1 (555) 010-0000", "site": "example.com", "notes": "two\nlines"},
        {"name": "Typed", "code": "AA-2", "qty": 7, "weight": Decimal("0.0005"), "price": 3.3,
         "share": Decimal("99.995"), "active": False, "due": date(2023, 1, 1),
         "seen_at": datetime(2024, 3, 1, 10, 0, tzinfo=plus_two), "color": "red",
         "tags": ["ab", "a", "ab"], "account": account, "meta": {"x": "é", "n": 1.5},
         "owner": owner},
        {"name": "Blanks", "code": "", "qty": "", "weight": None, "price": "", "share": None,
         "active": "", "due": "", "seen_at": "", "color": "", "tags": "", "account": "",
         "meta": "", "email": " ", "notes": "   "},
        {"name": "Naive", "code": "AA-3", "seen_at": datetime(2024, 3, 1, 8, 0), "due": "2024-02-29",
         "price": "0.005", "active": "0", "owner": ""},
        {"name": "Nothing"},
        {"name": "Zulu", "seen_at": "2024-03-01T08:00:00Z", "price": 100, "color": "red"},
    ]


def _unique(rows: list[dict[str, Any]], suffix: str) -> list[dict[str, Any]]:
    return [{**r, "code": r["code"] + suffix} if r.get("code") else r for r in rows]


def _raw(ws: Workspace, obj: str, ids: list[int]) -> dict[int, dict[str, Any]]:
    """The rows as the database holds them (no SQLAlchemy type processing)."""
    with ws.engine.connect() as conn:
        result = conn.exec_driver_sql(f"SELECT * FROM {obj}")
        rows = {r["id"]: dict(r) for r in result.mappings()}
    return {i: rows[i] for i in ids}


@pytest.mark.parametrize("obj", ["widget", "gadget"])
def test_bulk_values_are_stored_as_single_creates_store_them(bulk: Workspace, obj: str,
                                                             alice: Actor) -> None:
    # alice's own account: she may link her records to it
    account = bulk.records.create("account", {"name": "Acme", "owner": alice.id})["id"]
    rows = _rows(account, alice.id)
    singles = [bulk.records.create(obj, r, alice)["id"] for r in _unique(rows, "1")]
    result = bulk.records.create_many(obj, _unique(rows, "2"), alice)
    assert result.errors == []
    assert result.created == len(rows)
    many = result.ids
    # read back through the record service: the same values
    for one, other in zip(singles, many, strict=True):
        a, b = bulk.records.get(obj, one), bulk.records.get(obj, other)
        assert {k: v for k, v in a.items() if k not in OWN} == \
            {k: v for k, v in b.items() if k not in OWN}
        assert b["created_at"] == b["updated_at"] and b["created_at"].tzinfo is not None
    # and the same stored text and numbers (on SQLite: what the executemany bound)
    raw_singles, raw_many = _raw(bulk, obj, singles), _raw(bulk, obj, many)
    for one, other in zip(singles, many, strict=True):
        a, b = raw_singles[one], raw_many[other]
        assert {k: v for k, v in a.items() if k not in OWN} == \
            {k: v for k, v in b.items() if k not in OWN}
        assert type(a["created_at"]) is type(b["created_at"])
        if isinstance(a["created_at"], str):
            assert len(a["created_at"]) == len(b["created_at"])
    stored = bulk.records.get(obj, many[0])
    assert (stored["qty"], stored["price"], stored["share"], stored["active"], stored["due"]) == \
        (1000, Decimal("1234.57"), Decimal("12.50"), True, date(2024, 2, 29))
    assert stored["seen_at"] == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    assert (stored["tags"], stored["meta"], stored["account"], stored["site"]) == \
        (["a", "b"], {"k": [1, 2], "é": None}, account, "https://example.com")
    assert stored["label"] == "Plain @ Acme"
    typed = bulk.records.get(obj, many[1])
    assert (typed["weight"], typed["price"], typed["share"], typed["tags"], typed["owner"]) == \
        (Decimal("0.001"), Decimal("3.30"), Decimal("100.00"), ["ab", "a"], alice.id)
    assert typed["seen_at"] == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    blanks = bulk.records.get(obj, many[2])
    assert (blanks["qty"], blanks["active"], blanks["color"], blanks["tags"], blanks["meta"],
            blanks["email"], blanks["notes"], blanks["code"]) == \
        (None, None, None, None, None, None, None, None)
    nothing = bulk.records.get(obj, many[4])
    assert (nothing["active"], nothing["color"], nothing["owner"], nothing["created_by"]) == \
        (True, "green", alice.id, alice.id)
    assert bulk.records.get(obj, many[3])["owner"] == alice.id  # a blank owner: the creator
    if obj == "widget":
        assert (nothing["qty"], nothing["due"]) == (1, date(2030, 1, 31))
        assert stored["total"] == Decimal("1234570.00")
    else:
        assert nothing["slug"] == "nothing"


def test_bulk_ids_history_and_timestamps(bulk: Workspace, alice: Actor) -> None:
    bulk.records.create("widget", {"name": "first"}, alice)
    rows = [{"name": f"w{i:05d}", "price": str(i)} for i in range(2345)]  # three batches
    result = bulk.records.create_many("widget", rows, alice)
    assert result.created == len(rows) and result.errors == []
    t = bulk.table("widget")
    h = bulk.table("rapport_history")
    with bulk.engine.connect() as conn:
        stored = conn.execute(select(t.c.id, t.c.name, t.c.price, t.c.serial, t.c.created_at,
                                     t.c.version).where(t.c.name != "first")
                              .order_by(t.c.id)).all()
        history = conn.execute(select(h.c.record_id, h.c.action, h.c.user_id, h.c.at,
                                      h.c.field, h.c.old_value, h.c.new_value)
                               .where(h.c.object == "widget").order_by(h.c.id)).all()
    assert [r.id for r in stored] == result.ids
    assert result.ids == list(range(result.ids[0], result.ids[0] + len(rows)))
    assert [r.name for r in stored] == [r["name"] for r in rows]
    assert [r.price for r in stored] == [Decimal(i).quantize(Decimal("0.01"))
                                         for i in range(len(rows))]
    assert [r.serial for r in stored] == [f"W-{i:03d}" for i in range(2, len(rows) + 2)]
    assert {r.version for r in stored} == {1}
    created = {r.id: r.created_at for r in stored}
    assert [r.record_id for r in history[1:]] == result.ids
    for r in history[1:]:
        assert (r.action, r.user_id, r.field, r.old_value, r.new_value) == \
            ("create", alice.id, None, None, None)
        assert r.at == created[r.record_id] and r.at.tzinfo is not None
    assert bulk.records.history("widget", result.ids[-1])[0]["action"] == "create"


def _problems(ws: Workspace, obj: str, row: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        ws.records.create(obj, row)
    except ValidationError as exc:
        return [p.as_dict() for p in exc.problems]
    raise AssertionError(f"{row} was saved")


@pytest.mark.parametrize("obj", ["widget", "gadget"])
def test_bulk_problems_are_those_of_single_creates(bulk: Workspace, obj: str) -> None:
    good = {"name": "fine", "qty": "3", "price": "10"}
    bad = [
        {"name": "x", "qty": "lots", "price": "-1", "email": "nope", "color": "pink"},
        {"name": "", "qty": "2000", "share": "101", "due": "2024-13-01", "code": "bad"},
        {"name": "ok name", "qty": "1.5", "tags": "a;zz", "meta": "{", "seen_at": "yesterday"},
        # the widget's validation rule; the gadget's pattern on ref
        {"name": "redder", "price": "500", "color": "red",
         **({"ref": "no digits"} if obj == "gadget" else {})},
        {"name": "lookup", "account": "999999"},
        {"name": "way too long for twenty"},
    ]
    keys = sorted(set().union(*bad), reverse=True)
    filled = [{**dict.fromkeys(keys, ""), **r} for r in bad]
    # rows of mixed keys (coerced row by row); the same keys in every row (column by column)
    for rows, batch in ((bad, [good, *[x for r in bad for x in (r, good)]]),
                        (filled, [x for r in filled
                                  for x in ({**dict.fromkeys(keys, ""), **good}, r)])):
        expected = [_problems(bulk, obj, r) for r in rows]
        result = bulk.records.create_many(obj, batch)
        assert result.created == 0
        assert [i for i, _p in result.errors] == list(range(1, 2 * len(rows), 2))
        assert [[p.as_dict() for p in problems] for _i, problems in result.errors] == expected
    assert bulk.records.count(obj, Query()) == 0


def test_unique_values_across_batches_and_within_one(bulk: Workspace) -> None:
    rows = [{"name": f"w{i}", "code": f"AB-{i}"} for i in range(2100)]
    rows[1500]["code"] = "AB-10"   # taken by row 10, written with the first batch
    rows[1700]["code"] = "AB-1600"  # twice in the second batch
    result = bulk.records.create_many("widget", rows)
    assert result.created == 0
    assert [(i, [p.code for p in problems]) for i, problems in result.errors] == \
        [(1500, ["unique"]), (1700, ["unique"])]
    assert "already used by widget" in result.errors[0][1][0].message
    assert "twice in this batch" in result.errors[1][1][0].message
    assert bulk.records.count("widget", Query()) == 0
    result = bulk.records.create_many("widget", rows, skip_invalid=True)
    assert result.created == 2098 and len(result.errors) == 2


def _opportunity_csv(path: Path, rows: int, bad: dict[int, str]) -> Path:
    lines = ["name,amount,stage,probability,close_date"]
    for i in range(1, rows + 1):
        lines.append(bad.get(i, f"Deal {i},{i}.50,proposal,{i % 101},2025-0{1 + i % 9}-1{i % 9}"))
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def test_an_import_with_bad_rows_in_the_middle_imports_nothing(bulk: Workspace,
                                                                tmp_path: Path) -> None:
    bad = {1700: "Deal x,1.00,closing,10,2025-01-01",       # not a stage
           2301: "Deal y,2.00,negotiation,20,",              # the close date rule
           2302: "Deal z,-3,prospecting,20,",                # below the minimum
           2500: "'=1+1,4.00,prospecting,abc,"}              # not a number
    path = _opportunity_csv(tmp_path / "deals.csv", 2600, bad)
    report = import_csv(bulk, "opportunity", path)
    assert [line for line, _message in report.errors] == [1701, 2302, 2303, 2501]
    messages = dict(report.errors)
    assert "closing" in messages[1701] and "Close date is required" in messages[2302]
    assert "at least 0" in messages[2303] and "abc" in messages[2501]
    assert (report.created, report.rows) == (0, 2600)
    assert bulk.records.count("opportunity", Query()) == 0
    h = bulk.table("rapport_history")
    with bulk.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(h)) == 0
    report = import_csv(bulk, "opportunity", path, skip_invalid=True)
    assert (report.created, len(report.errors)) == (2596, 4)
    assert bulk.records.count("opportunity", Query()) == 2596
    deal = bulk.records.query("opportunity", Query(sort=[("id", False)], limit=1)).data[0]
    assert (deal["name"], deal["amount"], deal["probability"], deal["expected_revenue"]) == \
        ("Deal 1", Decimal("1.50"), Decimal("1.00"), Decimal("0.02"))


class Counter:
    """A plugin that sees every bulk-created row, before and after it is saved."""

    def __init__(self) -> None:
        self.before: list[str] = []
        self.after: list[tuple[str, int]] = []
        self.committed: list[str] = []

    @rapport.hookimpl
    def record_before_save(self, object_name: str, record: dict[str, Any]) -> None:
        if object_name != "widget":
            return
        self.before.append(record["name"])
        if record["name"] == "refused":
            raise rapport.ValidationError("not this one", field="name")
        record["notes"] = f"seen {record['name']}"
        record["qty"] = 5  # formulas run after the hook

    @rapport.hookimpl
    def record_after_save(self, object_name: str, record: dict[str, Any]) -> None:
        if object_name == "widget":
            self.after.append((record["name"], record["id"]))

    @rapport.hookimpl
    def record_after_commit(self, object_name: str, record: dict[str, Any]) -> None:
        if object_name == "widget":
            self.committed.append(record["name"])


def test_hooks_run_for_every_row_of_a_bulk_create(tmp_path: Path, database_url: str) -> None:
    counter = Counter()
    root = tmp_path / "hooked"
    Workspace.init(root, database_url).close()
    ws = Workspace.open(root, database_url, plugin_modules=[counter])
    try:
        ws.apply(ws.documents_from(WIDGET))
        rows = [{"name": f"w{i}", "price": "2"} for i in range(3)]
        result = ws.records.create_many("widget", [*rows, {"name": "refused"}])
        assert ([i for i, _p in result.errors], result.created) == ([3], 0)
        # the good rows of the batch were saved (after-save hooks ran), then rolled back
        assert counter.committed == [] and ws.records.count("widget", Query()) == 0
        counter.after.clear()
        result = ws.records.create_many("widget", rows)
        assert counter.before == ["w0", "w1", "w2", "refused", "w0", "w1", "w2"]
        assert counter.after == [(f"w{i}", rid) for i, rid in enumerate(result.ids)]
        assert counter.committed == ["w0", "w1", "w2"]
        stored = ws.records.get("widget", result.ids[1])
        assert (stored["notes"], stored["qty"], stored["total"]) == \
            ("seen w1", 5, Decimal("10.00"))
    finally:
        ws.close()


# -- the pieces: coercers bound to a field, the decimal bind processor --------------------------

TYPES = FieldTypes()
FIELDS = [
    FieldDef("t", "text", max_length=5), FieldDef("ta", "textarea"), FieldDef("i", "integer"),
    FieldDef("d", "decimal", precision=3), FieldDef("c", "currency"), FieldDef("p", "percent"),
    FieldDef("dt", "date"), FieldDef("pk", "picklist",
                                     options=(PicklistOption("a"), PicklistOption("b c"))),
    FieldDef("lk", "lookup", target="account"), FieldDef("b", "boolean"),
    FieldDef("f", "formula", result_type="currency", expression="1"),
    FieldDef("ft", "formula", result_type="text", expression="'x'"),
    FieldDef("fd", "formula", result_type="date", expression="today()"),
]
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-10**20, 10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.decimals(allow_nan=True),
    st.decimals(places=4, min_value=-10**16, max_value=10**16),
    st.text(max_size=8), st.text(alphabet="0123456789,. -+eE_", max_size=24),
    st.sampled_from(["a", "b c", " a", "", "   ", "2024-02-29", "2024-02-30", "20240229",
                     "2024-02-29T10:00", "nan", "Infinity", "1,0", "x\x00", "1e17", "1e15"]),
    st.dates(), st.datetimes(),
)


def _outcome(fn: Any, value: Any) -> tuple[str, Any]:
    try:
        result = fn(value)
    except CoercionError as exc:
        return "error", str(exc)
    except Exception as exc:  # the same failure either way
        return type(exc).__name__, str(exc)
    return "value", (type(result), str(result) if isinstance(result, Decimal) else result)


@settings(max_examples=400, deadline=None)
@given(value=VALUES)
def test_bound_coercers_agree_with_the_field_types(value: Any) -> None:
    for f in FIELDS:
        if f.is_computed:
            general: Any = partial(TYPES.coerce_value, f)
            bound = TYPES.value_coercer(f)
        else:
            general = partial(TYPES.of(f).coerce, f)
            bound = TYPES.coercer(f)
        expected = _outcome(general, value)
        got = _outcome(bound, value)
        if expected[0] == "value" and isinstance(value, float) and math.isnan(value):
            continue
        assert got == expected, (f.name, value)


def test_the_sqlite_decimal_binds_as_its_process_bind_param_did(bulk: Workspace) -> None:
    t = _SQLiteDecimal(2)
    from sqlalchemy.dialects import sqlite

    dialect = sqlite.dialect()
    fast = t.bind_processor(dialect)
    impl = Float().bind_processor(dialect)
    for value in (None, Decimal("1.25"), Decimal("-0.00"), Decimal("12345678901234.56"), 3, 2.5):
        slow = t.process_bind_param(value, dialect)
        assert fast(value) == (impl(slow) if impl else slow)
        assert type(fast(value)) is type(slow)


def test_a_database_refusal_in_the_bulk_insert_is_reported_as_for_single_creates(
        bulk: Workspace) -> None:
    bulk.records.create_many("widget", [{"name": "one"}, {"name": "two"}])
    seq = bulk.table("rapport_sequence")
    with bulk.transaction() as conn:  # numbers handed out again: the unique index refuses
        conn.execute(seq.update().where(seq.c.object == "widget").values(next_value=1))
    for rows in ([{"name": "three"}], [{"name": "three"}, {"name": "four"}]):
        with pytest.raises(ValidationError) as info:
            bulk.records.create_many("widget", rows)
        assert [(p.field, p.code) for p in info.value.problems] == [("serial", "unique")]
    assert sorted(r["name"] for r in bulk.records.query("widget", Query()).data) == ["one", "two"]


def test_the_sqlite_bulk_insert_writes_the_statement_sqlalchemy_writes(bulk: Workspace) -> None:
    """The NULL-literal statements are SQLAlchemy's INSERT with NULL for some parameters;
    should SQLAlchemy write its INSERT differently, every value is bound again (and this
    test tells that the shortcut is gone)."""
    if bulk.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    from rapport.records.writer import SQLiteInsert

    for name in ("widget", "opportunity", "rapport_history"):
        spec = SQLiteInsert(bulk.table(name), bulk.engine.dialect)
        assert spec.statement(()) == spec.sql
        assert spec.statement((1,)) != spec.sql and "NULL" in spec.statement((1,))


def test_a_bulk_create_on_a_connection_joins_its_transaction(bulk: Workspace) -> None:
    """Given a connection that has not begun yet, the rows are written in the transaction
    it then begins (as SQLAlchemy's autobegin would), so a rollback takes them away. (An
    account: nothing else runs a statement before its INSERT.)"""
    with bulk.engine.connect() as conn:
        result = bulk.records.create_many("account", [{"name": "a1"}, {"name": "a2"}],
                                          conn=conn)
        assert result.created == 2 and conn.in_transaction()
        conn.rollback()
    assert bulk.records.count("account", Query()) == 0
    with bulk.engine.connect() as conn:
        bulk.records.create_many("account", [{"name": "b1"}, {"name": "b2"}], conn=conn)
        conn.commit()
    assert bulk.records.count("account", Query()) == 2
