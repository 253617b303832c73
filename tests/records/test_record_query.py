"""The query engine: every operator on every type, filter trees, lookups, search, sort,
keyset pagination, counts, and bad input."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from rapport.errors import ValidationError
from rapport.records.query import And, Cond, Not, Or, Query, period_range
from rapport.workspace import Workspace

ROWS: list[dict[str, Any]] = [
    {"name": "Alpha", "ref": "50% off 1", "qty": 5, "price": "10.50", "active": True,
     "due": "2024-01-10", "seen_at": "2024-01-10T08:00:00Z", "color": "red", "tags": ["a"],
     "notes": "100% sure", "email": "al@example.com"},
    {"name": "beta", "ref": "a_1", "qty": 10, "price": "20", "active": False, "due": "2024-02-01",
     "seen_at": "2024-02-01T23:30:00+01:00", "color": "green", "tags": ["ab", "b"],
     "notes": "under_score"},
    {"name": "Gamma", "color": None, "active": None},
    {"name": "delta", "ref": "x1", "qty": 0, "price": "0", "active": True, "due": "2024-03-15",
     "seen_at": "2024-03-15T12:00:00", "color": "blue", "tags": ["b"], "notes": "plain"},
    {"name": "Epsilon", "ref": "501", "qty": 10, "price": "5.25", "active": False,
     "due": "2024-01-10", "color": "red", "tags": ["a", "b"]},
]
ALL = sorted(r["name"] for r in ROWS)


@pytest.fixture
def data(clean: Workspace) -> Workspace:
    acme = clean.records.create("account", {"name": "ACME Corp", "industry": "technology"})
    beta = clean.records.create("account", {"name": "Beta Bank", "industry": "finance"})
    bare = clean.records.create("account", {"name": "Bare"})
    links = {"Alpha": acme["id"], "beta": beta["id"], "delta": bare["id"], "Epsilon": acme["id"]}
    rows = [{**r, "account": links.get(r["name"])} for r in ROWS]
    result = clean.records.create_many("gadget", rows)
    assert result.created == len(ROWS), result.errors
    return clean


def names(ws: Workspace, flt: Any = None, search: str | None = None, obj: str = "gadget",
          field: str = "name") -> list[str]:
    page = ws.records.query(obj, Query(filter=flt, search=search, limit=1000))
    assert page.next_cursor is None
    found = sorted(r[field] for r in page.data)
    assert ws.records.count(obj, Query(filter=flt, search=search)) == len(found)
    return found


def but(*excluded: str) -> list[str]:
    return sorted(n for n in ALL if n not in excluded)


# -- operators -------------------------------------------------------------------------------------


def test_text_operators(data: Workspace) -> None:
    assert names(data, Cond("name", "eq", "Alpha")) == ["Alpha"]
    assert names(data, Cond("name", "eq", "alpha")) == []  # eq is exact
    assert names(data, Cond("name", "ne", "Alpha")) == but("Alpha")
    assert names(data, Cond("notes", "ne", "plain")) == but("delta")  # blanks included
    assert names(data, Cond("name", "in", ["Alpha", "beta", "nobody"])) == ["Alpha", "beta"]
    assert names(data, Cond("name", "in", "Alpha,beta")) == ["Alpha", "beta"]
    assert names(data, Cond("notes", "not_in", ["plain", "100% sure"])) == \
        ["Epsilon", "Gamma", "beta"]
    assert names(data, Cond("name", "contains", "ALP")) == ["Alpha"]
    assert names(data, Cond("name", "contains", "ta")) == ["beta", "delta"]
    assert names(data, Cond("name", "startswith", "GA")) == ["Gamma"]
    assert names(data, Cond("name", "startswith", "a")) == ["Alpha"]
    assert names(data, Cond("notes", "is_blank")) == ["Epsilon", "Gamma"]
    assert names(data, Cond("notes", "is_not_blank")) == ["Alpha", "beta", "delta"]
    assert names(data, Cond("email", "eq", "al@example.com")) == ["Alpha"]


def test_like_wildcards_are_taken_literally(data: Workspace) -> None:
    assert names(data, Cond("notes", "contains", "%")) == ["Alpha"]
    assert names(data, Cond("notes", "contains", "_")) == ["beta"]
    assert names(data, Cond("notes", "contains", "0%")) == ["Alpha"]
    assert names(data, Cond("notes", "startswith", "under_")) == ["beta"]
    assert names(data, Cond("notes", "startswith", "_")) == []
    assert names(data, Cond("notes", "contains", "/")) == []
    assert names(data, Cond("notes", "contains", "\\")) == []


def test_integer_operators(data: Workspace) -> None:
    assert names(data, Cond("qty", "eq", 10)) == ["Epsilon", "beta"]
    assert names(data, Cond("qty", "eq", "10")) == ["Epsilon", "beta"]
    assert names(data, Cond("qty", "ne", 10)) == ["Alpha", "Gamma", "delta"]
    assert names(data, Cond("qty", "lt", 5)) == ["delta"]
    assert names(data, Cond("qty", "lte", 5)) == ["Alpha", "delta"]
    assert names(data, Cond("qty", "gt", 5)) == ["Epsilon", "beta"]
    assert names(data, Cond("qty", "gte", 5)) == ["Alpha", "Epsilon", "beta"]
    assert names(data, Cond("qty", "between", [1, 10])) == ["Alpha", "Epsilon", "beta"]
    assert names(data, Cond("qty", "between", "0,5")) == ["Alpha", "delta"]
    assert names(data, Cond("qty", "in", [0, 5])) == ["Alpha", "delta"]
    assert names(data, Cond("qty", "not_in", [10])) == ["Alpha", "Gamma", "delta"]
    assert names(data, Cond("qty", "in", [None, 0])) == ["Gamma", "delta"]
    assert names(data, Cond("qty", "not_in", [None, 0])) == ["Alpha", "Epsilon", "beta"]
    assert names(data, Cond("qty", "eq", None)) == ["Gamma"]
    assert names(data, Cond("qty", "ne", None)) == but("Gamma")
    assert names(data, Cond("qty", "is_blank")) == ["Gamma"]
    assert names(data, Cond("qty", "is_not_blank")) == but("Gamma")


def test_decimal_operators(data: Workspace) -> None:
    assert names(data, Cond("price", "gt", "10.25")) == ["Alpha", "beta"]
    assert names(data, Cond("price", "gte", 10.5)) == ["Alpha", "beta"]
    assert names(data, Cond("price", "between", ["5.25", "10.50"])) == ["Alpha", "Epsilon"]
    assert names(data, Cond("price", "eq", 0)) == ["delta"]
    assert names(data, Cond("price", "lt", Decimal("5.26"))) == ["Epsilon", "delta"]
    assert names(data, Cond("price", "in", ["20", 5.25])) == ["Epsilon", "beta"]


def test_boolean_operators(data: Workspace) -> None:
    assert names(data, Cond("active", "eq", True)) == ["Alpha", "delta"]
    assert names(data, Cond("active", "eq", "false")) == ["Epsilon", "beta"]
    assert names(data, Cond("active", "ne", True)) == ["Epsilon", "Gamma", "beta"]
    assert names(data, Cond("active", "is_blank")) == ["Gamma"]
    assert names(data, Cond("active", "is_not_blank")) == but("Gamma")


def test_date_operators(data: Workspace) -> None:
    assert names(data, Cond("due", "eq", "2024-01-10")) == ["Alpha", "Epsilon"]
    assert names(data, Cond("due", "ne", "2024-01-10")) == ["Gamma", "beta", "delta"]
    assert names(data, Cond("due", "lt", "2024-02-01")) == ["Alpha", "Epsilon"]
    assert names(data, Cond("due", "lte", date(2024, 2, 1))) == ["Alpha", "Epsilon", "beta"]
    assert names(data, Cond("due", "gt", "2024-02-01")) == ["delta"]
    assert names(data, Cond("due", "gte", "2024-02-01")) == ["beta", "delta"]
    assert names(data, Cond("due", "between", ["2024-01-15", "2024-02-28"])) == ["beta"]
    assert names(data, Cond("due", "in", ["2024-03-15", "2024-02-01"])) == ["beta", "delta"]
    assert names(data, Cond("due", "not_in", ["2024-01-10"])) == ["Gamma", "beta", "delta"]


def test_datetime_operators(data: Workspace) -> None:
    # beta was seen 2024-02-01T23:30+01:00, that is 22:30 UTC
    assert names(data, Cond("seen_at", "gt", "2024-01-31T00:00:00Z")) == ["beta", "delta"]
    assert names(data, Cond("seen_at", "eq", "2024-02-01T22:30:00Z")) == ["beta"]
    assert names(data, Cond("seen_at", "lt", "2024-01-10T10:00:00+02:00")) == []
    assert names(data, Cond("seen_at", "lte", "2024-01-10T10:00:00+02:00")) == ["Alpha"]
    assert names(data, Cond("seen_at", "between", ["2024-02-01T22:00:00Z",
                                                   "2024-03-15T12:00:00Z"])) == ["beta", "delta"]
    assert names(data, Cond("seen_at", "is_blank")) == ["Epsilon", "Gamma"]


def test_in_period(clean: Workspace) -> None:
    today = datetime.now(UTC).date()
    days = {"today": 0, "yesterday": -1, "tomorrow": 1, "week ago": -7, "month ago": -31,
            "quarter ahead": 95, "year ago": -366, "later": 400}
    for label, shift in days.items():
        clean.records.create("gadget", {"name": label, "due": today + timedelta(days=shift),
                                        "seen_at": datetime.now(UTC) + timedelta(days=shift)})
    clean.records.create("gadget", {"name": "never"})
    periods = ["today", "yesterday", "tomorrow", "this_week", "last_week", "next_week",
               "this_month", "last_month", "next_month", "this_quarter", "last_quarter",
               "next_quarter", "this_year", "last_year", "next_year", "last_7_days",
               "next_30_days", "last_90_days", "last_9999_days"]
    for period in periods:
        start, end = period_range(period, today)
        expected = sorted(n for n, s in days.items() if start <= today + timedelta(days=s) < end)
        assert names(clean, Cond("due", "in_period", period)) == expected, period
        assert names(clean, Cond("seen_at", "in_period", period)) == expected, period
    everyone = sorted([*days, "never"])
    assert names(clean, Cond("created_at", "in_period", "today")) == everyone
    assert names(clean, Not(Cond("due", "in_period", "this_year"))) == sorted(
        ["never", *(n for n, s in days.items()
                    if (today + timedelta(days=s)).year != today.year)])


def test_the_longest_relative_periods_the_schema_allows() -> None:
    today = datetime(2026, 3, 1, tzinfo=UTC).date()
    assert period_range("last_9999_days", today)[0] == today - timedelta(days=9998)
    assert period_range("next_9999_days", today)[1] == today + timedelta(days=9999)
    for bad in ("last_0_days", "last_10000_days"):
        with pytest.raises(ValueError):
            period_range(bad, today)


def test_picklist_operators(data: Workspace) -> None:
    assert names(data, Cond("color", "eq", "red")) == ["Alpha", "Epsilon"]
    assert names(data, Cond("color", "ne", "red")) == ["Gamma", "beta", "delta"]
    assert names(data, Cond("color", "in", ["red", "blue"])) == ["Alpha", "Epsilon", "delta"]
    assert names(data, Cond("color", "not_in", ["red"])) == ["Gamma", "beta", "delta"]
    assert names(data, Cond("color", "in", [None, "blue"])) == ["Gamma", "delta"]
    assert names(data, Cond("color", "is_blank")) == ["Gamma"]
    # a value that is not an option simply matches nothing
    assert names(data, Cond("color", "eq", "purple")) == []


def test_multi_picklist_contains_whole_options(data: Workspace) -> None:
    assert names(data, Cond("tags", "contains", "a")) == ["Alpha", "Epsilon"]
    assert names(data, Cond("tags", "contains", "ab")) == ["beta"]
    assert names(data, Cond("tags", "contains", "b")) == ["Epsilon", "beta", "delta"]
    assert names(data, Cond("tags", "is_blank")) == ["Gamma"]
    assert names(data, Not(Cond("tags", "contains", "b"))) == ["Alpha", "Gamma"]


def test_lookup_and_lookup_hop(data: Workspace) -> None:
    acme = data.records.query("account", Query(filter=Cond("name", "eq", "ACME Corp"))).data[0]
    assert names(data, Cond("account", "eq", acme["id"])) == ["Alpha", "Epsilon"]
    assert names(data, Cond("account", "eq", str(acme["id"]))) == ["Alpha", "Epsilon"]
    assert names(data, Cond("account", "ne", acme["id"])) == ["Gamma", "beta", "delta"]
    assert names(data, Cond("account", "in", [acme["id"], 987654])) == ["Alpha", "Epsilon"]
    assert names(data, Cond("account", "is_blank")) == ["Gamma"]
    assert names(data, Cond("account.industry", "eq", "technology")) == ["Alpha", "Epsilon"]
    assert names(data, Cond("account.industry", "in", ["technology", "finance"])) == \
        ["Alpha", "Epsilon", "beta"]
    assert names(data, Cond("account.name", "contains", "bank")) == ["beta"]
    assert names(data, Cond("account.industry", "is_blank")) == ["Gamma", "delta"]
    assert names(data, Cond("account.industry", "is_not_blank")) == ["Alpha", "Epsilon", "beta"]
    # a gadget without an account has no technology account: ne and Not include it
    assert names(data, Cond("account.industry", "ne", "technology")) == ["Gamma", "beta", "delta"]
    assert names(data, Not(Cond("account.industry", "eq", "technology"))) == \
        ["Gamma", "beta", "delta"]
    assert names(data, Cond("account.industry", "not_in", ["finance"])) == \
        ["Alpha", "Epsilon", "Gamma", "delta"]
    assert names(data, Cond("account.employees", "gt", 5)) == []
    assert names(data, Not(Cond("account.employees", "gt", 5))) == ALL
    # owner and created_by lead to users
    assert names(data, Cond("owner.email", "eq", "nobody@example.com")) == []


def test_computed_and_system_fields(data: Workspace) -> None:
    assert names(data, Cond("label", "contains", "@ acme")) == ["Alpha", "Epsilon"]
    assert names(data, Cond("no_account", "eq", True)) == ["Gamma"]
    assert names(data, Cond("serial", "eq", "G-001")) == [ROWS[0]["name"]]
    assert names(data, Cond("serial", "startswith", "g-")) == ALL
    first = data.records.query("gadget", Query(sort=[("id", False)], limit=2)).data
    assert names(data, Cond("id", "in", [r["id"] for r in first])) == \
        sorted(r["name"] for r in first)
    assert names(data, Cond("id", "gt", first[0]["id"])) == but(first[0]["name"])
    assert names(data, Cond("version", "eq", 1)) == ALL
    assert names(data, Cond("owner", "is_blank")) == ALL
    assert names(data, Cond("created_by", "is_not_blank")) == []
    assert names(data, Cond("updated_at", "in_period", "today")) == ALL


def test_rollup_fields_filter(clean: Workspace) -> None:
    full = clean.records.create("basket", {"name": "full"})["id"]
    clean.records.create("basket", {"name": "empty"})
    clean.records.create("item", {"basket": full, "qty": 2, "price": 3})
    assert names(clean, Cond("items", "gt", 0), obj="basket") == ["full"]
    assert names(clean, Cond("total", "gte", "6"), obj="basket") == ["full"]
    assert names(clean, Cond("cheapest", "is_blank"), obj="basket") == ["empty"]
    assert names(clean, Cond("grand", "eq", 10), obj="basket") == ["empty"]


# -- trees -----------------------------------------------------------------------------------------


def test_and_or_not_trees(data: Workspace) -> None:
    red_or_many = Or((Cond("color", "eq", "red"), Cond("qty", "gt", 5)))
    assert names(data, red_or_many) == ["Alpha", "Epsilon", "beta"]
    assert names(data, Not(red_or_many)) == ["Gamma", "delta"]
    assert names(data, And((Not(Cond("active", "eq", True)), Cond("qty", "gte", 10)))) == \
        ["Epsilon", "beta"]
    # Not of a comparison holds for blanks: a blank is not equal to 10
    assert names(data, Not(Cond("qty", "eq", 10))) == ["Alpha", "Gamma", "delta"]
    assert names(data, Not(Cond("qty", "gt", 0))) == ["Gamma", "delta"]
    assert names(data, Not(Cond("color", "eq", "red"))) == ["Gamma", "beta", "delta"]
    assert names(data, Not(Cond("name", "contains", "a"))) == ["Epsilon"]
    assert names(data, Not(Cond("notes", "contains", "%"))) == but("Alpha")
    assert names(data, Not(Cond("qty", "in", [0, 5]))) == ["Epsilon", "Gamma", "beta"]
    assert names(data, Not(Cond("qty", "between", [1, 10]))) == ["Gamma", "delta"]
    assert names(data, Not(Not(Cond("qty", "eq", 10)))) == ["Epsilon", "beta"]
    assert names(data, And(())) == ALL
    assert names(data, Or(())) == []
    assert names(data, Or((And((Cond("color", "eq", "red"), Cond("qty", "lt", 10))),
                           Cond("name", "eq", "Gamma")))) == ["Alpha", "Gamma"]


# -- search ----------------------------------------------------------------------------------------


@pytest.fixture
def accounts(clean: Workspace) -> Workspace:
    for name, email in [("100% Juice", "sales@juice.example"), ("Under_Score Ltd", None),
                        ("Plain Co", "hello@acme.example"), ("ACME Corp", None),
                        ("Percent Shop", "x%y@shop.example")]:
        clean.records.create("account", {"name": name, "email": email,
                                         "billing_city": "Acmeville"})
    return clean


def test_search_across_text_fields_case_insensitively(accounts: Workspace) -> None:
    assert names(accounts, search="acme", obj="account") == ["ACME Corp", "Plain Co"]
    assert names(accounts, search="  JUICE ", obj="account") == ["100% Juice"]
    # billing_city is not a search field of account
    assert names(accounts, search="acmeville", obj="account") == []
    assert names(accounts, search="", obj="account") == \
        ["100% Juice", "ACME Corp", "Percent Shop", "Plain Co", "Under_Score Ltd"]


def test_search_takes_wildcards_literally(accounts: Workspace) -> None:
    assert names(accounts, search="%", obj="account") == ["100% Juice", "Percent Shop"]
    assert names(accounts, search="0%", obj="account") == ["100% Juice"]
    assert names(accounts, search="_", obj="account") == ["Under_Score Ltd"]
    assert names(accounts, search="r_s", obj="account") == ["Under_Score Ltd"]
    assert names(accounts, search="e%s", obj="account") == []
    assert names(accounts, search="%%", obj="account") == []


def test_search_by_id_and_odd_text(accounts: Workspace) -> None:
    plain = names(accounts, Cond("name", "eq", "Plain Co"), obj="account", field="id")[0]
    assert names(accounts, search=str(plain), obj="account") == ["Plain Co"]
    for odd in ("²", "٣", "--5", "-0", "1" * 40, "zz\x00z", "'; drop table account; --",
                "x" * 10_000, "ü", "\\"):
        assert names(accounts, search=odd, obj="account") == [], odd


def test_search_with_a_filter_and_counts(accounts: Workspace) -> None:
    flt = Cond("email", "is_not_blank")
    assert names(accounts, flt, search="a", obj="account") == \
        ["100% Juice", "Percent Shop", "Plain Co"]


def test_search_fields_and_fields_marked_searchable(ws: Workspace) -> None:
    ws.apply(ws.documents_from({"name": "pet", "search_fields": ["name", "chip"], "fields": [
        {"name": "name", "type": "text"},
        {"name": "nickname", "type": "text", "searchable": True},
        {"name": "owner_note", "type": "text"},
        {"name": "chip", "type": "integer"}]}))
    ws.records.create("pet", {"name": "Rex", "nickname": "Sparky", "owner_note": "sparkling",
                              "chip": 4711})
    ws.records.create("pet", {"name": "Tom", "chip": 47})
    assert names(ws, search="rex", obj="pet") == ["Rex"]
    assert names(ws, search="spark", obj="pet") == ["Rex"]  # searchable, beside search_fields
    assert names(ws, search="4711", obj="pet") == ["Rex"]   # a number matches exactly
    assert names(ws, search="47", obj="pet") == ["Tom"]


# -- sort and keyset pagination --------------------------------------------------------------------


@pytest.fixture
def many(clean: Workspace) -> Workspace:
    """23 gadgets with repeated values and blanks in every sort column."""
    colors = ["red", "green", None, "blue"]
    rows = []
    for i in range(23):
        rows.append({
            "name": f"g{(i * 7) % 23:02d}",
            "qty": None if i % 5 == 0 else (i * 3) % 7,
            "price": None if i % 4 == 1 else f"{(i % 6) * 1.25:.2f}",
            "active": None if i % 6 == 2 else i % 2 == 0,
            "due": None if i % 3 == 0 else (date(2024, 1, 1) + timedelta(days=i % 4)).isoformat(),
            "seen_at": None if i % 7 == 3 else
            (datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=(i % 5) * 17)).isoformat(),
            "color": colors[i % 4],
            "email": None if i % 2 else f"u{i % 3}@example.com",
        })
    assert clean.records.create_many("gadget", rows).created == 23
    return clean


SORTS: list[list[tuple[str, bool]]] = [
    [("qty", False)], [("qty", True)], [("due", False), ("name", True)], [("price", True)],
    [("active", False)], [("active", True), ("due", True)], [("color", False), ("qty", True)],
    [("name", False)], [], [("id", False)], [("seen_at", True)], [("seen_at", False)],
    [("label", False)], [("serial", True)], [("email", False), ("price", False)],
    [("created_at", True)], [("qty", False), ("id", True)],
]


def _expected(rows: list[dict[str, Any]], sort: list[tuple[str, bool]],
              nulls_low: bool) -> list[int]:
    """The order the database gives: NULLs lowest on SQLite, highest on PostgreSQL; ties
    broken by id in the direction of the first sort column."""
    keys = [*[s for s in sort if s[0] != "id"], ("id", sort[0][1] if sort else True)]
    out = list(rows)
    for name, desc in reversed(keys):  # stable sorts, last key first
        present = sorted((r for r in out if r[name] is not None), key=lambda r: r[name],
                         reverse=desc)
        blank = [r for r in out if r[name] is None]
        out = blank + present if nulls_low != desc else present + blank
        # (a key's rows keep the order of the less significant keys: sorted() is stable)
    return [r["id"] for r in out]


def _walk(ws: Workspace, sort: list[tuple[str, bool]], limit: int, flt: Any = None,
          search: str | None = None) -> list[int]:
    seen: list[int] = []
    cursor = None
    for _ in range(100):
        page = ws.records.query("gadget", Query(filter=flt, search=search, sort=sort,
                                                limit=limit, cursor=cursor))
        assert len(page.data) <= limit
        seen += [r["id"] for r in page.data]
        cursor = page.next_cursor
        if cursor is None:
            return seen
        assert page.data, "a page with a cursor has rows"
    raise AssertionError("pagination does not end")


def test_keyset_pagination_walks_every_row_once_in_order(many: Workspace,
                                                         is_postgres: bool) -> None:
    rows = many.records.query("gadget", Query(limit=1000)).data
    assert len(rows) == 23
    for sort in SORTS:
        expected = _expected(rows, sort, nulls_low=not is_postgres)
        single = [r["id"] for r in many.records.query("gadget", Query(sort=sort,
                                                                        limit=1000)).data]
        assert single == expected, sort
        for limit in (1, 4, 22, 23):
            walked = _walk(many, sort, limit)
            assert walked == expected, (sort, limit)


def test_pagination_with_a_filter_and_a_search(many: Workspace, is_postgres: bool) -> None:
    flt = Or((Cond("qty", "is_blank"), Cond("qty", "gte", 3)))
    rows = many.records.query("gadget", Query(filter=flt, search="G1", limit=1000)).data
    assert 0 < len(rows) < 23
    assert many.records.count("gadget", Query(filter=flt, search="G1")) == len(rows)
    for sort in ([("qty", True)], [("due", False), ("qty", False)]):
        assert _walk(many, sort, 3, flt, "G1") == _expected(rows, sort, not is_postgres)


def test_limits(many: Workspace) -> None:
    assert len(many.records.query("gadget", Query(limit=0)).data) == 23  # 0: the default (50)
    assert len(many.records.query("gadget", Query(limit=-4)).data) == 1
    assert len(many.records.query("gadget", Query(limit=10**9)).data) == 23
    assert len(many.records.query("gadget", Query(limit="5")).data) == 5  # type: ignore[arg-type]


# -- bad input -------------------------------------------------------------------------------------

BAD_FILTERS: list[Any] = [
    Cond("nope", "eq", 1), Cond("account.nope", "eq", 1), Cond("name.first", "eq", 1),
    Cond("account.parent.name", "eq", "x"), Cond("", "eq", 1),
    Cond(None, "eq", 1),  # type: ignore[arg-type]
    Cond(5, "eq", 1),  # type: ignore[arg-type]
    Cond("name", "like", "x"), Cond("name", None, "x"),  # type: ignore[arg-type]
    Cond("name", ["eq"], "x"),  # type: ignore[arg-type]
    Cond("qty", "contains", "1"), Cond("active", "lt", True), Cond("tags", "eq", "a"),
    Cond("meta", "eq", "x"), Cond("body", "eq", "x"), Cond("color", "contains", "r"),
    Cond("qty", "eq", "abc"), Cond("qty", "eq", [1]), Cond("qty", "eq", {"a": 1}),
    Cond("qty", "eq", 1.5), Cond("qty", "gt", 10**30), Cond("qty", "eq", True),
    Cond("price", "gt", "cheap"), Cond("price", "eq", float("nan")),
    Cond("due", "eq", "2024-02-30"), Cond("due", "gt", 5), Cond("seen_at", "gt", "noon"),
    Cond("color", "eq", 5), Cond("name", "eq", {"x": 1}), Cond("name", "eq", True),
    Cond("name", "in", [["Alpha"]]), Cond("active", "eq", "maybe"),
    Cond("account", "eq", "abc"), Cond("account", "eq", -1), Cond("account.industry", "eq", 7),
    Cond("qty", "lt", None), Cond("qty", "between", [1]), Cond("qty", "between", [None, 5]),
    Cond("qty", "between", "1,2,3"), Cond("qty", "between", None),
    Cond("due", "in_period", "someday"), Cond("due", "in_period", None),
    Cond("qty", "in_period", "today"), Cond("name", "contains", None),
    Cond("name", "startswith", None), Cond("qty", "in", list(range(2000))),
    Cond("tags", "contains", None),
    {"field": "name", "op": "eq", "value": "x"}, "name = 'x'", 42,
    And(({"field": "name"},)), Or("abc"), Not({"field": "name"}),
    And(None),  # type: ignore[arg-type]
]


def test_bad_filters_are_validation_errors(data: Workspace) -> None:
    for flt in BAD_FILTERS:
        with pytest.raises(ValidationError):
            data.records.query("gadget", Query(filter=flt))
        with pytest.raises(ValidationError):
            data.records.count("gadget", Query(filter=flt))


def test_a_deeply_nested_filter_is_refused(data: Workspace) -> None:
    flt: Any = Cond("qty", "eq", 1)
    for _ in range(5000):
        flt = Not(flt)
    with pytest.raises(ValidationError):
        data.records.query("gadget", Query(filter=flt))
    wide = Or(tuple(Cond("qty", "eq", i) for i in range(200)))
    assert names(data, wide) == ["Alpha", "Epsilon", "beta", "delta"]


def test_bad_sorts_are_validation_errors(data: Workspace) -> None:
    for sort in ([("nope", False)], [("tags", False)], [("meta", True)], [("body", False)],
                 [(5, False)], [("account.name", False)], ["name"], [("name",)], "name",
                 [None]):
        with pytest.raises(ValidationError):
            data.records.query("gadget", Query(sort=sort))  # type: ignore[arg-type]


def _cursor(values: Any) -> str:
    raw = json.dumps(values).encode() if not isinstance(values, bytes) else values
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_forged_cursors_are_validation_errors(many: Workspace) -> None:
    sort = [("qty", False)]
    good = many.records.query("gadget", Query(sort=sort, limit=3)).next_cursor
    assert good is not None
    forged = ["garbage!!", "%%%", "é", "=", "a", _cursor({"qty": 1}), _cursor([1]),
              _cursor([1, 2, 3]), _cursor(["x", 2]), _cursor([1, "2"]), _cursor([1.5, 2]),
              _cursor([10**30, 2]), _cursor([1, 10**30]), _cursor([True, 2]),
              _cursor([None, None]), _cursor([[1], 2]), _cursor([{"a": 1}, 2]),
              _cursor(b"\xff\xfe"), _cursor(b"[1, 2"), _cursor("NaN"), "x" * 100_000,
              123, ["a"]]
    for cursor in forged:
        try:
            many.records.query("gadget", Query(sort=sort, cursor=cursor))
        except ValidationError:
            continue
        # a well-formed cursor for this sort may simply be a position: it must not crash
        assert cursor == _cursor([None, None]), cursor
    # a cursor of one sort given to another
    for other in ([("due", False)], [("name", False)], [("price", True), ("qty", False)],
                  [("seen_at", False)], [("active", False)]):
        with pytest.raises(ValidationError):
            many.records.query("gadget", Query(sort=other, cursor=good))
    # bad values for the types of the sort columns
    for sort_, values in (([("due", False)], ["2024-02-30", 1]), ([("seen_at", True)], ["x", 1]),
                          ([("price", True)], ["1e999", 1]), ([("active", False)], ["maybe", 1]),
                          ([("name", False)], [{"x": 1}, 1]), ([("color", False)], [5, 1])):
        with pytest.raises(ValidationError):
            many.records.query("gadget", Query(sort=sort_, cursor=_cursor(values)))


def test_bad_searches_and_limits(data: Workspace) -> None:
    for search in (5, ["a"], {"q": 1}):
        with pytest.raises(ValidationError):
            data.records.query("gadget", Query(search=search))  # type: ignore[arg-type]
    for limit in ("abc", [1], 1.5, None):
        try:
            page = data.records.query("gadget", Query(limit=limit))  # type: ignore[arg-type]
        except ValidationError:
            continue
        assert limit is None and len(page.data) == 5


@pytest.mark.parametrize("call", ["query", "count"])
def test_unknown_object(data: Workspace, call: str) -> None:
    from rapport.errors import NotFound

    fn: Callable[..., Any] = getattr(data.records, call)
    with pytest.raises(NotFound):
        fn("no_such_object", Query())
