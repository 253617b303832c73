"""Coercion and validation of every field type, through the record service."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from recordkit import message_of, problems_of

from rapport.errors import NotFound, ValidationError
from rapport.workspace import Workspace

TEN_MB = "x" * (10 * 1024 * 1024)


def refused(ws: Workspace, values: dict[str, Any], obj: str = "gadget") -> ValidationError:
    with pytest.raises(ValidationError) as info:
        ws.records.create(obj, values)
    return info.value


def saved(ws: Workspace, values: dict[str, Any], obj: str = "gadget") -> dict[str, Any]:
    """Create, then read back from the database (what was really stored)."""
    record = ws.records.create(obj, values)
    return ws.records.get(obj, record["id"])


def count(ws: Workspace, obj: str = "gadget") -> int:
    from rapport.records.query import Query

    return ws.records.count(obj, Query())


# -- required, lengths, pattern, unique --------------------------------------------------------


def test_required(clean: Workspace) -> None:
    for blank in ({}, {"name": None}, {"name": ""}, {"name": "   "}):
        exc = refused(clean, blank)
        assert problems_of(exc) == {"name": "required"}
        assert message_of(exc, "name") == "Gadget name is required"
    assert count(clean) == 0


def test_required_message_in_the_actors_language(clean: Workspace) -> None:
    from rapport.records.actor import Actor

    with pytest.raises(ValidationError) as info:
        clean.records.create("gadget", {}, Actor(None, locale="zh-CN"))
    assert message_of(info.value, "name") == "名称 is required"


def test_max_and_min_length(clean: Workspace) -> None:
    exc = refused(clean, {"name": "x" * 21})
    assert problems_of(exc) == {"name": "invalid"}
    assert "too long (21 characters, at most 20)" in message_of(exc, "name")
    exc = refused(clean, {"name": "x"})
    assert problems_of(exc) == {"name": "too_short"}
    assert saved(clean, {"name": "x" * 20})["name"] == "x" * 20


def test_a_ten_megabyte_string_is_refused_as_too_long(clean: Workspace) -> None:
    for field in ("name", "notes", "body", "email", "phone", "site", "meta"):
        exc = refused(clean, {"name": "ok", field: TEN_MB})
        assert problems_of(exc) == {field: "invalid"}, field
        assert "is too long (10,485,760 characters" in message_of(exc, field) or \
            "is too large" in message_of(exc, field), field
    assert count(clean) == 0


def test_a_ten_megabyte_json_value_is_refused(clean: Workspace) -> None:
    exc = refused(clean, {"name": "ok", "meta": {"blob": TEN_MB}})
    assert problems_of(exc) == {"meta": "invalid"}
    assert "too large" in message_of(exc, "meta")


def test_text_defaults_limit_the_length(clean: Workspace) -> None:
    # a text field without max_length holds 255 characters, a textarea much more
    assert problems_of(refused(clean, {"name": "ok", "code": None, "slug": "s" * 256})) == \
        {"slug": "invalid"}
    assert len(saved(clean, {"name": "ok", "notes": "n" * 100_000})["notes"]) == 100_000


def test_nul_characters_are_refused(clean: Workspace) -> None:
    # PostgreSQL cannot store them in text: refused up front on every database
    exc = refused(clean, {"name": "a\x00b"})
    assert problems_of(exc) == {"name": "invalid"}


def test_pattern(clean: Workspace) -> None:
    exc = refused(clean, {"name": "ok", "code": "ab-1"})
    assert problems_of(exc) == {"code": "pattern"}
    assert message_of(exc, "code") == "Code has the wrong format"
    assert saved(clean, {"name": "ok", "code": "AB-12"})["code"] == "AB-12"


def test_an_unanchored_pattern_is_searched(clean: Workspace) -> None:
    # the metadata language: "a regular expression a non-blank value must match (searched,
    # anchor it with ^...$ to match the whole value)"
    assert saved(clean, {"name": "ok", "ref": "abc-7-def"})["ref"] == "abc-7-def"
    assert problems_of(refused(clean, {"name": "ok", "ref": "no digits"})) == {"ref": "pattern"}


def test_unique(clean: Workspace) -> None:
    first = clean.records.create("gadget", {"name": "one", "code": "AB-1"})
    exc = refused(clean, {"name": "two", "code": "AB-1"})
    assert problems_of(exc) == {"code": "unique"}
    assert "already used" in message_of(exc, "code")
    other = clean.records.create("gadget", {"name": "two", "code": "AB-2"})
    with pytest.raises(ValidationError) as info:
        clean.records.update("gadget", other["id"], {"code": "AB-1"})
    assert problems_of(info.value) == {"code": "unique"}
    # saving a record with its own unique value is fine
    clean.records.update("gadget", first["id"], {"code": "AB-1", "name": "one!"})
    # blanks are never duplicates
    clean.records.create("gadget", {"name": "three"})
    clean.records.create("gadget", {"name": "four"})
    assert count(clean) == 4


def test_unique_within_one_batch(clean: Workspace) -> None:
    result = clean.records.create_many("gadget", [{"name": "one", "code": "AB-1"},
                                                      {"name": "two", "code": "AB-1"}])
    assert result.created == 0
    assert [(i, problems_of(ValidationError(p))) for i, p in result.errors] == \
        [(1, {"code": "unique"})]
    assert count(clean) == 0


# -- numbers -------------------------------------------------------------------------------------


def test_integer(clean: Workspace) -> None:
    assert saved(clean, {"name": "ok", "qty": "1,000"})["qty"] == 1000
    assert saved(clean, {"name": "ok", "qty": 12.0})["qty"] == 12
    assert saved(clean, {"name": "ok", "qty": " 7 "})["qty"] == 7
    assert saved(clean, {"name": "ok", "qty": ""})["qty"] is None
    for bad in ("12.5", 12.5, "1e3", "seven", True, [1], {"n": 1}, "1_0"):
        exc = refused(clean, {"name": "ok", "qty": bad})
        assert problems_of(exc) == {"qty": "invalid"}, bad
        assert "whole number" in message_of(exc, "qty")
    assert problems_of(refused(clean, {"name": "ok", "qty": 10**18})) == {"qty": "invalid"}


def test_number_min_max(clean: Workspace) -> None:
    exc = refused(clean, {"name": "ok", "qty": -1, "share": 100.5, "price": "-0.01"})
    assert problems_of(exc) == {"qty": "min", "share": "max", "price": "min"}
    assert message_of(exc, "qty") == "Qty must be at least 0"
    assert message_of(exc, "share") == "Share must be at most 100"
    exc = refused(clean, {"name": "ok", "qty": 1001})
    assert problems_of(exc) == {"qty": "max"}
    edge = saved(clean, {"name": "ok", "qty": 1000, "share": 100, "price": 0})
    assert (edge["qty"], edge["share"], edge["price"]) == (1000, Decimal("100.00"), Decimal("0.00"))


def test_decimal_currency_percent(clean: Workspace) -> None:
    r = saved(clean, {"name": "ok", "weight": "3.14159", "price": "1,234.565",
                          "share": 12.5})
    assert r["weight"] == Decimal("3.142")
    assert r["price"] == Decimal("1234.57")  # half up
    assert r["share"] == Decimal("12.50")
    for bad in ("abc", "NaN", float("nan"), float("inf"), "1" * 70, True, [1]):
        assert problems_of(refused(clean, {"name": "ok", "weight": bad})) == \
            {"weight": "invalid"}, bad
    assert problems_of(refused(clean, {"name": "ok", "price": 10**17})) == {"price": "invalid"}


# -- booleans, dates, times ----------------------------------------------------------------------


BOOLEANS = [("yes", True), ("Y", True), ("true", True), ("1", True), (1, True), ("on", True),
            ("是", True), ("no", False), ("FALSE", False), ("0", False), (0, False),
            ("off", False), ("否", False), (True, True), (False, False)]


def test_booleans_from_strings(clean: Workspace) -> None:
    for given, stored in BOOLEANS:
        assert saved(clean, {"name": "ok", "active": given})["active"] is stored, given
    assert saved(clean, {"name": "ok"})["active"] is True  # the default


def test_boolean_refuses_other_values(clean: Workspace) -> None:
    for bad in ("maybe", 2, 0.5, [True]):
        exc = refused(clean, {"name": "ok", "active": bad})
        assert problems_of(exc) == {"active": "invalid"}
        assert "true or false" in message_of(exc, "active")


def test_dates(clean: Workspace) -> None:
    assert saved(clean, {"name": "ok", "due": "2024-02-29"})["due"] == date(2024, 2, 29)
    assert saved(clean, {"name": "ok", "due": "2024-02-29T10:30:00"})["due"] == \
        date(2024, 2, 29)
    assert saved(clean, {"name": "ok", "due": date(2023, 1, 1)})["due"] == date(2023, 1, 1)


def test_an_impossible_date_is_refused_with_a_clear_message(clean: Workspace) -> None:
    exc = refused(clean, {"name": "ok", "due": "2024-02-30"})
    assert problems_of(exc) == {"due": "invalid"}
    assert message_of(exc, "due") == "Due '2024-02-30' is not a valid date (YYYY-MM-DD)"
    for bad in ("2023-02-29", "30/01/2024", "tomorrow", 20240101, "2024-13-01"):
        assert problems_of(refused(clean, {"name": "ok", "due": bad})) == {"due": "invalid"}


def test_datetime_with_timezone(clean: Workspace) -> None:
    r = saved(clean, {"name": "ok", "seen_at": "2024-03-01T10:00:00+02:00"})
    assert r["seen_at"] == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    assert r["seen_at"].utcoffset() == timedelta(0)
    assert saved(clean, {"name": "ok", "seen_at": "2024-03-01T10:00:00Z"})["seen_at"] == \
        datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    # without a zone: UTC
    assert saved(clean, {"name": "ok", "seen_at": "2024-03-01 10:00:00.250"})["seen_at"] == \
        datetime(2024, 3, 1, 10, 0, 0, 250_000, tzinfo=UTC)
    for bad in ("2024-02-30T10:00:00", "yesterday", "2024-03-01T25:00:00", 1700000000,
                "0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00"):
        exc = refused(clean, {"name": "ok", "seen_at": bad})
        assert problems_of(exc) == {"seen_at": "invalid"}, bad


# -- text formats ----------------------------------------------------------------------------


def test_email(clean: Workspace) -> None:
    assert saved(clean, {"name": "ok", "email": " ann@example.com "})["email"] == \
        "ann@example.com"
    for bad in ("ann", "ann@", "@example.com", "ann@example", "a n@example.com", "a@b@c.com"):
        exc = refused(clean, {"name": "ok", "email": bad})
        assert problems_of(exc) == {"email": "invalid"}, bad
        assert "not a valid email address" in message_of(exc, "email")


def test_url(clean: Workspace) -> None:
    assert saved(clean, {"name": "ok", "site": "example.com/x"})["site"] == \
        "https://example.com/x"
    assert saved(clean, {"name": "ok", "site": "http://example.com"})["site"] == \
        "http://example.com"
    for bad in ("javascript:alert(1)", "ftp://example.com", "https://exa mple.com", "nothing",
                'https://x.com/"onload'):
        exc = refused(clean, {"name": "ok", "site": bad})
        assert problems_of(exc) == {"site": "invalid"}, bad


def test_phone(clean: Workspace) -> None:
    for good in ("+1 (555) 010-0000", "030 1234567 ext. 12", "+86 10 6552 9988"):
        assert saved(clean, {"name": "ok", "phone": good})["phone"] == good
    for bad in ("call me", "12", "555-CALL-NOW", "---", "(((+)))"):
        exc = refused(clean, {"name": "ok", "phone": bad})
        assert problems_of(exc) == {"phone": "invalid"}, bad
        assert "not a valid phone number" in message_of(exc, "phone")


# -- choices, lookups, json ---------------------------------------------------------------------


def test_picklist_membership(clean: Workspace) -> None:
    assert saved(clean, {"name": "ok", "color": "red"})["color"] == "red"
    exc = refused(clean, {"name": "ok", "color": "purple"})
    assert problems_of(exc) == {"color": "invalid"}
    assert "'purple' is not one of the options (red, green, blue)" in message_of(exc, "color")
    for bad in ("Red", " red", 1, ["red"]):
        assert problems_of(refused(clean, {"name": "ok", "color": bad})) == {"color": "invalid"}


def test_multi_picklist_membership(clean: Workspace) -> None:
    assert saved(clean, {"name": "ok", "tags": ["a", "b", "a"]})["tags"] == ["a", "b"]
    assert saved(clean, {"name": "ok", "tags": "ab; b"})["tags"] == ["ab", "b"]
    assert saved(clean, {"name": "ok", "tags": []})["tags"] is None
    for bad in (["a", "z"], "a;z", [1], 5, {"a": 1}):
        exc = refused(clean, {"name": "ok", "tags": bad})
        assert problems_of(exc) == {"tags": "invalid"}, bad


def test_lookup_target_must_exist(clean: Workspace) -> None:
    acme = clean.records.create("account", {"name": "Acme"})
    assert saved(clean, {"name": "ok", "account": acme["id"]})["account"] == acme["id"]
    assert saved(clean, {"name": "ok", "account": str(acme["id"])})["account"] == acme["id"]
    assert saved(clean, {"name": "ok", "account": {"id": acme["id"], "name": "Acme"}}
                 )["account"] == acme["id"]
    exc = refused(clean, {"name": "ok", "account": 987654})
    assert problems_of(exc) == {"account": "not_found"}
    assert "no account with id 987654" in message_of(exc, "account")
    for bad in ("Acme", 0, -3, 1.5, True):
        assert problems_of(refused(clean, {"name": "ok", "account": bad})) == \
            {"account": "invalid"}, bad


def test_json(clean: Workspace) -> None:
    value = {"a": [1, 2.5, None, "x"], "b": {"c": True}}
    assert saved(clean, {"name": "ok", "meta": value})["meta"] == value
    assert saved(clean, {"name": "ok", "meta": '{"k": [1]}'})["meta"] == {"k": [1]}
    assert saved(clean, {"name": "ok", "meta": [1, "two"]})["meta"] == [1, "two"]
    deep = "[" * 100_000 + "]" * 100_000
    for bad in ("{not json", {1, 2}, {"when": datetime(2024, 1, 1)}, float("nan"), deep):
        assert problems_of(refused(clean, {"name": "ok", "meta": bad})) == \
            {"meta": "invalid"}, bad


# -- the record as a whole ---------------------------------------------------------------------


def test_every_problem_is_reported_at_once(clean: Workspace) -> None:
    exc = refused(clean, {"qty": "x", "due": "2024-02-30", "color": "purple", "nope": 1,
                          "share": 101, "code": "bad"})
    assert problems_of(exc) == {"name": "required", "qty": "invalid", "due": "invalid",
                                "color": "invalid", "nope": "unknown_field", "share": "max",
                                "code": "pattern"}
    assert count(clean) == 0
    g = clean.records.create("gadget", {"name": "ok"})
    with pytest.raises(ValidationError) as info:
        clean.records.update("gadget", g["id"], {"name": "", "qty": "x", "share": 101})
    assert problems_of(info.value) == {"name": "required", "qty": "invalid", "share": "max"}


def test_unknown_fields_and_bad_bodies(clean: Workspace) -> None:
    assert problems_of(refused(clean, {"name": "ok", "colour": "red"})) == \
        {"colour": "unknown_field"}
    not_a_record: Any = ["name", "ok"]
    assert problems_of(refused(clean, not_a_record)) == {None: "invalid"}
    with pytest.raises(NotFound):
        clean.records.create("no_such_object", {"name": "ok"})


def test_bookkeeping_and_computed_fields_are_ignored_on_input(clean: Workspace) -> None:
    r = saved(clean, {"name": "ok", "id": 999, "version": 7, "created_by": 5,
                          "serial": "HACK", "label": "HACK", "no_account": False})
    assert r["id"] != 999 and r["version"] == 1 and r["created_by"] is None
    assert r["serial"] == "G-001" and r["label"] == "ok @ " and r["no_account"] is True


def test_read_only_fields_are_set_on_create_only(ws: Workspace) -> None:
    # (a workspace of its own: this test changes the metadata)
    ws.apply(ws.documents_from({"name": "ticket", "fields": [
        {"name": "name", "type": "text"}, {"name": "origin", "type": "text", "read_only": True}]}))
    t = ws.records.create("ticket", {"name": "t", "origin": "email"})
    with pytest.raises(ValidationError) as info:
        ws.records.update("ticket", t["id"], {"origin": "phone"})
    assert problems_of(info.value) == {"origin": "read_only"}
    # the platform itself (an import, a workflow) may set it
    ws.records.update("ticket", t["id"], {"origin": "phone"}, allow_read_only=True)
    assert ws.records.get("ticket", t["id"])["origin"] == "phone"
