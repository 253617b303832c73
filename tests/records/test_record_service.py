"""The record service: defaults, autonumbers, formulas, rollups, rules, versions, history,
ownership, deletes and hooks."""

from __future__ import annotations

import json
import types
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from recordkit import BASKET, FILTERED_ROLLUPS, message_of, problems_of
from sqlalchemy import select

import rapport
from rapport.errors import Conflict, MetadataError, NotFound, StaleVersion, ValidationError
from rapport.records.actor import SYSTEM, Actor
from rapport.records.query import Cond, Query
from rapport.resources import bundled
from rapport.workspace import Workspace


def ids(ws: Workspace, obj: str, flt: Any = None) -> list[int]:
    return sorted(r["id"] for r in ws.records.query(obj, Query(filter=flt, limit=1000)).data)


# -- defaults --------------------------------------------------------------------------------------


def test_static_defaults(clean: Workspace) -> None:
    opp = clean.records.create("opportunity", {"name": "Deal"})
    assert opp["stage"] == "prospecting"
    product = clean.records.create("product", {"name": "Widget"})
    assert product["active"] is True
    # a value given wins over the default, and an explicit blank stays blank
    assert clean.records.create("opportunity", {"name": "D", "stage": "qualification"}
                                )["stage"] == "qualification"
    assert clean.records.create("product", {"name": "W", "active": False})["active"] is False
    assert clean.records.create("product", {"name": "W", "active": None})["active"] is None
    stored = clean.records.get("opportunity", opp["id"])
    assert stored["stage"] == "prospecting"


def test_default_formulas(clean: Workspace) -> None:
    g = clean.records.create("gadget", {"name": "Big Box"})
    assert g["opened"] == datetime.now(UTC).date()
    assert g["slug"] == "big box"
    given = clean.records.create("gadget", {"name": "Big Box", "opened": "2020-01-01",
                                            "slug": "mine"})
    assert (given["opened"], given["slug"]) == (date(2020, 1, 1), "mine")
    # defaults apply on create only
    clean.records.update("gadget", g["id"], {"name": "Small Box", "opened": None})
    after = clean.records.get("gadget", g["id"])
    assert (after["opened"], after["slug"]) == (None, "big box")


# -- autonumbers -----------------------------------------------------------------------------------


def test_autonumber_increments_and_stays_unique(clean: Workspace) -> None:
    numbers = [clean.records.create("quote", {"name": f"Q{i}"})["number"] for i in range(3)]
    assert numbers == ["Q-00001", "Q-00002", "Q-00003"]
    bulk = clean.records.create_many("quote", [{"name": "a"}, {"name": "b"}])
    assert bulk.created == 2
    more = [clean.records.get("quote", i)["number"] for i in bulk.ids]
    assert more == ["Q-00004", "Q-00005"]
    # a number is never given twice, not even after a delete or a refused create
    clean.records.delete("quote", bulk.ids[-1])
    with pytest.raises(ValidationError):
        clean.records.create("quote", {"name": None})
    assert clean.records.create("quote", {"name": "c", "number": "Q-00001"})["number"] == "Q-00006"
    # and it cannot be changed
    first = ids(clean, "quote")[0]
    clean.records.update("quote", first, {"number": "X"})
    assert clean.records.get("quote", first)["number"] == "Q-00001"
    all_numbers = [r["number"] for r in clean.records.query("quote", Query(limit=100)).data]
    assert len(all_numbers) == len(set(all_numbers)) == 5


# -- formulas --------------------------------------------------------------------------------------


def test_formulas_are_stored_and_recomputed_on_update(clean: Workspace) -> None:
    opp = clean.records.create("opportunity", {"name": "D", "amount": "1000", "probability": 25})
    assert opp["expected_revenue"] == Decimal("250.00")
    clean.records.update("opportunity", opp["id"], {"probability": 60})
    assert clean.records.get("opportunity", opp["id"])["expected_revenue"] == Decimal("600.00")
    # stored: the database filters and sorts on it
    assert ids(clean, "opportunity", Cond("expected_revenue", "gte", 600)) == [opp["id"]]
    clean.records.update("opportunity", opp["id"], {"amount": None})
    assert clean.records.get("opportunity", opp["id"])["expected_revenue"] is None


def test_a_formula_through_a_lookup_follows_the_looked_up_record(clean: Workspace) -> None:
    acme = clean.records.create("account", {"name": "Acme"})
    beta = clean.records.create("account", {"name": "Beta"})
    g = clean.records.create("gadget", {"name": "box", "account": acme["id"]})
    assert (g["label"], g["no_account"]) == ("box @ Acme", False)
    clean.records.update("account", acme["id"], {"name": "Acme Corp"})
    assert clean.records.get("gadget", g["id"])["label"] == "box @ Acme Corp"
    clean.records.update("gadget", g["id"], {"account": beta["id"]})
    assert clean.records.get("gadget", g["id"])["label"] == "box @ Beta"
    # a change elsewhere on the account leaves the gadget alone
    before = clean.records.get("gadget", g["id"])
    clean.records.update("account", beta["id"], {"employees": 5})
    assert clean.records.get("gadget", g["id"])["version"] == before["version"]
    # deleting the account clears the lookup (set_null): the formulas follow
    clean.records.delete("account", beta["id"])
    after = clean.records.get("gadget", g["id"])
    assert (after["account"], after["label"], after["no_account"]) == (None, "box @ ", True)


def test_formulas_through_a_self_lookup_follow_a_deleted_parent(ws: Workspace) -> None:
    ws.apply(ws.documents_from({"name": "node", "fields": [
        {"name": "name", "type": "text"},
        {"name": "parent", "type": "lookup", "target": "node"},
        {"name": "path", "type": "formula", "result_type": "text",
         "expression": "concat(parent.name, '/', name)"}]}))
    root = ws.records.create("node", {"name": "root"})["id"]
    leaf = ws.records.create("node", {"name": "leaf", "parent": root})["id"]
    assert ws.records.get("node", leaf)["path"] == "root/leaf"
    ws.records.update("node", root, {"name": "top"})
    assert ws.records.get("node", leaf)["path"] == "top/leaf"
    ws.records.delete("node", root)
    assert ws.records.get("node", leaf)["path"] == "/leaf"


def test_a_long_text_formula_is_kept(ws: Workspace) -> None:
    ws.apply(ws.documents_from({"name": "memo", "fields": [
        {"name": "body", "type": "textarea"},
        {"name": "shout", "type": "formula", "result_type": "text",
         "expression": "upper(body)"}]}))
    memo = ws.records.create("memo", {"body": "a" * 1000})
    assert memo["shout"] == "A" * 1000


def test_formula_errors_are_reported_on_the_field(ws: Workspace) -> None:
    ws.apply(ws.documents_from({"name": "ratio", "fields": [
        {"name": "a", "type": "integer"}, {"name": "b", "type": "integer"},
        {"name": "q", "type": "formula", "result_type": "decimal", "expression": "a / b"}]}))
    assert ws.records.create("ratio", {"a": 1, "b": 4})["q"] == Decimal("0.25")
    with pytest.raises(ValidationError) as info:
        ws.records.create("ratio", {"a": 1, "b": 0})
    assert problems_of(info.value) == {"q": "formula_error"}


# -- rollups ---------------------------------------------------------------------------------------


def _basket(ws: Workspace, bid: int) -> tuple[Any, ...]:
    b = ws.records.get("basket", bid)
    return b["items"], b["total"], b["cheapest"], b["dearest"], b["grand"]


def test_rollups_follow_child_create_update_delete_and_reparenting(clean: Workspace) -> None:
    ws = clean
    one = ws.records.create("basket", {"name": "one"})["id"]
    two = ws.records.create("basket", {"name": "two"})["id"]
    assert _basket(ws, one) == (0, Decimal("0.00"), None, None, Decimal("10.00"))
    a = ws.records.create("item", {"basket": one, "qty": 2, "price": "5.50"})["id"]
    b = ws.records.create("item", {"basket": one, "qty": 1, "price": "20"})["id"]
    assert _basket(ws, one) == (2, Decimal("31.00"), Decimal("5.50"), Decimal("20.00"),
                                Decimal("41.00"))
    ws.records.update("item", a, {"qty": 3})
    assert _basket(ws, one)[:2] == (2, Decimal("36.50"))
    ws.records.update("item", b, {"price": "1.25"})
    assert _basket(ws, one) == (2, Decimal("17.75"), Decimal("1.25"), Decimal("5.50"),
                                Decimal("27.75"))
    # re-parenting: both baskets are exact
    ws.records.update("item", b, {"basket": two})
    assert _basket(ws, one) == (1, Decimal("16.50"), Decimal("5.50"), Decimal("5.50"),
                                Decimal("26.50"))
    assert _basket(ws, two) == (1, Decimal("1.25"), Decimal("1.25"), Decimal("1.25"),
                                Decimal("11.25"))
    ws.records.delete("item", a)
    assert _basket(ws, one) == (0, Decimal("0.00"), None, None, Decimal("10.00"))
    # bulk creates count too
    ws.records.create_many("item", [{"basket": two, "qty": 1, "price": p} for p in (3, 4, 5)])
    assert _basket(ws, two) == (4, Decimal("13.25"), Decimal("1.25"), Decimal("5.00"),
                                Decimal("23.25"))


def test_quote_rollups_and_moving_a_line_to_another_quote(clean: Workspace) -> None:
    ws = clean
    q1 = ws.records.create("quote", {"name": "one", "discount": 10})["id"]
    q2 = ws.records.create("quote", {"name": "two"})["id"]
    line = ws.records.create("quote_line", {"quote": q1, "quantity": 2, "unit_price": 50})["id"]
    ws.records.create("quote_line", {"quote": q1, "quantity": 1, "unit_price": 100,
                                     "discount": 50})
    first = ws.records.get("quote", q1)
    assert (first["line_count"], first["subtotal"], first["total"]) == \
        (2, Decimal("150.00"), Decimal("135.00"))
    ws.records.update("quote_line", line, {"quote": q2})
    first, second = ws.records.get("quote", q1), ws.records.get("quote", q2)
    assert (first["line_count"], first["subtotal"], first["total"]) == \
        (1, Decimal("50.00"), Decimal("45.00"))
    assert (second["line_count"], second["subtotal"], second["total"]) == \
        (1, Decimal("100.00"), Decimal("100.00"))


def test_a_rollup_over_a_formula_reading_a_lookup(clean: Workspace) -> None:
    """An item without a price takes its product's: a new product price reaches the basket."""
    ws = clean
    widget = ws.records.create("product", {"name": "Widget", "unit_price": 4})["id"]
    basket = ws.records.create("basket", {"name": "b"})["id"]
    ws.records.create("item", {"basket": basket, "qty": 3, "product": widget})
    assert _basket(ws, basket)[1] == Decimal("12.00")
    ws.records.update("product", widget, {"unit_price": 5})
    assert _basket(ws, basket)[1] == Decimal("15.00")
    assert _basket(ws, basket)[4] == Decimal("25.00")


def test_a_cascade_delete_updates_the_other_parents_rollups(basket_ws: Workspace) -> None:
    ws = basket_ws
    product = json.loads((bundled("metadata") / "core" / "product.json").read_text("utf-8"))
    product["fields"].append({"name": "times_used", "type": "rollup", "source": "item",
                              "relation": "product", "aggregate": "count"})
    ws.apply(ws.documents_from(product))
    widget = ws.records.create("product", {"name": "Widget", "unit_price": 2})["id"]
    one = ws.records.create("basket", {"name": "one"})["id"]
    two = ws.records.create("basket", {"name": "two"})["id"]
    for basket in (one, one, two):
        ws.records.create("item", {"basket": basket, "qty": 1, "product": widget})
    assert ws.records.get("product", widget)["times_used"] == 3
    ws.records.delete("basket", one)
    assert ws.records.get("product", widget)["times_used"] == 1


FORMULA_ROLLUPS = [
    {**FILTERED_ROLLUPS[0], "filter": "kind == 'big'"},
    {**FILTERED_ROLLUPS[1], "filter": "kind == 'big' and qty >= 2"},
]


@pytest.mark.parametrize("rollups", [FILTERED_ROLLUPS, FORMULA_ROLLUPS],
                         ids=["conditions", "formula"])
def test_rollup_with_a_filter(basket_ws: Workspace, rollups: list[dict[str, Any]]) -> None:
    """A rollup's filter, as a list of conditions or as a condition formula (run in SQL)."""
    ws = basket_ws
    doc = next(d for d in BASKET if d["name"] == "basket")
    ws.apply(ws.documents_from({**doc, "fields": [*doc["fields"], *rollups]}))
    b = ws.records.create("basket", {"name": "b"})["id"]
    small = ws.records.create("item", {"basket": b, "qty": 5, "kind": "small"})["id"]
    big = ws.records.create("item", {"basket": b, "qty": 1, "kind": "big"})["id"]

    def big_ones() -> tuple[int, Decimal]:
        row = ws.records.get("basket", b)
        return row["big_items"], row["big_qty"]

    assert big_ones() == (1, Decimal("0"))
    ws.records.update("item", big, {"qty": 4})
    assert big_ones() == (1, Decimal("4"))
    ws.records.update("item", small, {"kind": "big"})
    assert big_ones() == (2, Decimal("9"))
    ws.records.delete("item", big)
    assert big_ones() == (1, Decimal("5"))


@pytest.mark.parametrize("formula", ["len(name) > 2", "basket.name == 'b'", "kind < 'm'",
                                     "qty >= 2 or"])
def test_a_rollup_filter_that_cannot_run_in_sql_is_refused(basket_ws: Workspace,
                                                           formula: str) -> None:
    doc = next(d for d in BASKET if d["name"] == "basket")
    bad = {**FILTERED_ROLLUPS[0], "filter": formula}
    with pytest.raises(MetadataError) as err:
        basket_ws.apply(basket_ws.documents_from({**doc, "fields": [*doc["fields"], bad]}))
    assert [p.pointer for p in err.value.problems] == [f"/fields/{len(doc['fields'])}/filter"]
    assert "runs in the database" in str(err.value)


# -- validation rules ------------------------------------------------------------------------------


def test_validation_rule_message_on_its_field(clean: Workspace) -> None:
    # the sales workflow asks for the close date on entering the proposal stage; the
    # validation rule keeps asking for it while the deal stays there
    opp = clean.records.create("opportunity", {"name": "D", "stage": "proposal", "amount": 5,
                                               "close_date": "2030-01-31"})
    with pytest.raises(ValidationError) as info:
        clean.records.update("opportunity", opp["id"], {"close_date": ""})
    assert problems_of(info.value) == {"close_date": "close_date_required_late"}
    assert message_of(info.value, "close_date") == \
        "Close date is required from the proposal stage on"
    with pytest.raises(ValidationError) as info:
        clean.records.update("opportunity", opp["id"], {"stage": "negotiation", "close_date": ""})
    assert problems_of(info.value) == {"close_date": "close_date_required_late"}  # once
    assert clean.records.get("opportunity", opp["id"])["stage"] == "proposal"
    with pytest.raises(ValidationError) as info:
        clean.records.update("opportunity", opp["id"], {"close_date": None},
                             Actor(None, locale="zh-CN"))
    assert message_of(info.value, "close_date") == "从方案报价阶段起必须填写预计成交日期"


# -- versions and history --------------------------------------------------------------------------


def test_optimistic_concurrency(clean: Workspace) -> None:
    acc = clean.records.create("account", {"name": "Acme"})
    assert acc["version"] == 1
    v2 = clean.records.update("account", acc["id"], {"name": "Acme 2"}, expected_version=1)
    assert v2["version"] == 2
    with pytest.raises(StaleVersion):
        clean.records.update("account", acc["id"], {"name": "Acme 3"}, expected_version=1)
    assert clean.records.get("account", acc["id"])["name"] == "Acme 2"
    # nothing changed: no new version
    same = clean.records.update("account", acc["id"], {"name": "Acme 2"}, expected_version=2)
    assert same["version"] == 2
    assert clean.records.update("account", acc["id"], {"name": "Acme 3"},
                                expected_version=2)["version"] == 3


def test_field_history_says_who_changed_what(clean: Workspace, alice: Actor, bob: Actor) -> None:
    opp = clean.records.create("opportunity", {"name": "Deal", "amount": 100}, alice)
    clean.records.update("opportunity", opp["id"], {"name": "Big deal", "amount": 250.5}, bob)
    clean.records.update("opportunity", opp["id"], {"stage": "qualification"}, alice)
    history = clean.records.history("opportunity", opp["id"])
    changes = {(h["field"], h["user_id"]): (h["old_value"], h["new_value"])
               for h in history if h["action"] == "update"}
    assert changes[("name", bob.id)] == ("Deal", "Big deal")
    assert changes[("amount", bob.id)] == (100, 250.5)
    assert changes[("stage", alice.id)] == ("prospecting", "qualification")
    created = [h for h in history if h["action"] == "create"]
    assert len(created) == 1 and created[0]["user_id"] == alice.id
    assert changes[("probability", alice.id)] == (10, 20)  # entering the stage sets it
    assert history[0]["id"] > history[-1]["id"]  # newest first
    assert all(h["at"] is not None for h in history)


def test_history_skips_untracked_fields(clean: Workspace) -> None:
    g = clean.records.create("gadget", {"name": "box"})
    clean.records.update("gadget", g["id"], {"notes": "secret", "qty": 3})
    fields = {h["field"] for h in clean.records.history("gadget", g["id"])}
    assert "qty" in fields and "notes" not in fields


# -- ownership -------------------------------------------------------------------------------------


def test_created_by_and_owner_come_from_the_actor(clean: Workspace, alice: Actor,
                                                  bob: Actor) -> None:
    acc = clean.records.create("account", {"name": "Acme"}, alice)
    assert (acc["created_by"], acc["owner"]) == (alice.id, alice.id)
    given = clean.records.create("account", {"name": "Beta", "owner": bob.id}, alice)
    assert (given["created_by"], given["owner"]) == (alice.id, bob.id)
    clean.records.update("account", acc["id"], {"name": "Acme 2", "created_by": bob.id}, bob)
    stored = clean.records.get("account", acc["id"])
    assert (stored["created_by"], stored["owner"]) == (alice.id, alice.id)
    clean.records.update("account", acc["id"], {"owner": bob.id}, alice)
    assert clean.records.get("account", acc["id"])["owner"] == bob.id
    system = clean.records.create("account", {"name": "Gamma"}, SYSTEM)
    assert (system["created_by"], system["owner"]) == (None, None)


def test_an_unknown_owner_is_a_validation_error(clean: Workspace) -> None:
    with pytest.raises(ValidationError) as info:
        clean.records.create("account", {"name": "Acme", "owner": 987654})
    assert problems_of(info.value) == {"owner": "not_found"}
    acc = clean.records.create("account", {"name": "Acme"})
    with pytest.raises(ValidationError) as info:
        clean.records.update("account", acc["id"], {"owner": 987654})
    assert problems_of(info.value) == {"owner": "not_found"}
    with pytest.raises(ValidationError) as info:
        clean.records.update("account", acc["id"], {"owner": "me"})
    assert problems_of(info.value) == {"owner": "invalid"}


# -- not found -------------------------------------------------------------------------------------


def test_missing_records_and_objects(clean: Workspace) -> None:
    for rid in (987654, "abc", None, -1, 0, 2**70, "1; drop table account"):
        with pytest.raises(NotFound):
            clean.records.get("account", rid)
        with pytest.raises(NotFound):
            clean.records.update("account", rid, {"name": "x"})
        with pytest.raises(NotFound):
            clean.records.delete("account", rid)
    with pytest.raises(NotFound):
        clean.records.query("nope", Query())
    with pytest.raises(NotFound):
        clean.records.history("nope", 1)


# -- deletes ---------------------------------------------------------------------------------------


def test_deleting_a_referenced_account_is_a_conflict(clean: Workspace) -> None:
    acc = clean.records.create("account", {"name": "Acme"})["id"]
    for i in range(2):
        clean.records.create("opportunity", {"name": f"D{i}", "account": acc})
    with pytest.raises(Conflict) as info:
        clean.records.delete("account", acc)
    assert "2 Opportunities" in str(info.value)
    assert clean.records.get("account", acc)["name"] == "Acme"
    assert len(ids(clean, "opportunity")) == 2
    assert [h["action"] for h in clean.records.history("account", acc)] == ["create"]


def test_master_detail_delete_cascades(clean: Workspace) -> None:
    q = clean.records.create("quote", {"name": "q"})["id"]
    other = clean.records.create("quote", {"name": "other"})["id"]
    for n in range(3):
        clean.records.create("quote_line", {"quote": q, "quantity": n + 1, "unit_price": 1})
    kept = clean.records.create("quote_line", {"quote": other, "quantity": 1, "unit_price": 1})
    clean.records.delete("quote", q)
    assert ids(clean, "quote_line") == [kept["id"]]
    with pytest.raises(NotFound):
        clean.records.get("quote", q)
    assert clean.records.history("quote", q)[0]["action"] == "delete"


def test_delete_returns_the_record_and_updates_rollups(clean: Workspace) -> None:
    b = clean.records.create("basket", {"name": "b"})["id"]
    item = clean.records.create("item", {"basket": b, "qty": 1, "price": 2})
    gone = clean.records.delete("item", item["id"])
    assert gone["id"] == item["id"]
    assert _basket(clean, b)[:2] == (0, Decimal("0.00"))


# -- hooks -----------------------------------------------------------------------------------------


class Guard:
    """A plugin refusing gadgets named 'forbidden', and shouting names."""

    def __init__(self) -> None:
        self.after_commit: list[str] = []

    @rapport.hookimpl
    def record_before_save(self, object_name: str, record: dict[str, Any],
                           previous: dict[str, Any] | None) -> None:
        if object_name != "quote":
            return
        if record.get("name") == "forbidden":
            raise rapport.ValidationError("no", field="name")
        if record.get("description") == "shout":
            record["name"] = str(record["name"]).upper()

    @rapport.hookimpl
    def record_after_save(self, object_name: str, record: dict[str, Any]) -> None:
        if object_name == "quote" and record.get("description") == "explode":
            raise rapport.ValidationError("refused after saving")

    @rapport.hookimpl
    def record_before_delete(self, object_name: str, record: dict[str, Any]) -> None:
        if object_name == "quote" and record.get("status") == "accepted":
            raise rapport.ValidationError("an accepted quote stays", field="status")

    @rapport.hookimpl
    def record_after_commit(self, object_name: str, record: dict[str, Any]) -> None:
        self.after_commit.append(f"{object_name}:{record['name']}")


@pytest.fixture
def guarded(tmp_path: Any, database_url: str) -> Any:
    guard = Guard()
    root = tmp_path / "guarded"
    Workspace.init(root, database_url).close()
    ws = Workspace.open(root, database_url, plugin_modules=[guard])
    yield ws, guard
    ws.close()


def test_a_before_save_hook_refuses_the_write_and_leaves_nothing(guarded: Any) -> None:
    ws, guard = guarded
    with pytest.raises(rapport.ValidationError) as info:
        ws.records.create("quote", {"name": "forbidden"})
    assert [p.as_dict() for p in info.value.problems] == \
        [{"field": "name", "code": "invalid", "message": "no"}]
    assert ids(ws, "quote") == []
    h = ws.table("rapport_history")
    with ws.engine.connect() as conn:
        assert conn.execute(select(h).where(h.c.object == "quote")).all() == []
    # the refused write took no number
    assert ws.records.create("quote", {"name": "fine"})["number"] == "Q-00001"
    q = ws.records.get("quote", ids(ws, "quote")[0])
    with pytest.raises(rapport.ValidationError):
        ws.records.update("quote", q["id"], {"name": "forbidden"})
    assert ws.records.get("quote", q["id"]) == q
    assert guard.after_commit == ["quote:fine"]


def test_hooks_change_records_and_refuse_deletes(guarded: Any) -> None:
    ws, _guard = guarded
    q = ws.records.create("quote", {"name": "quiet", "description": "shout"})
    assert q["name"] == "QUIET"
    with pytest.raises(rapport.ValidationError):
        ws.records.create("quote", {"name": "boom", "description": "explode"})
    assert ids(ws, "quote") == [q["id"]]
    ws.records.update("quote", q["id"], {"status": "accepted"})
    with pytest.raises(rapport.ValidationError) as info:
        ws.records.delete("quote", q["id"])
    assert problems_of(info.value) == {"status": "invalid"}
    assert ws.records.get("quote", q["id"])["status"] == "accepted"


def test_a_hook_refusing_one_row_of_a_bulk_create(guarded: Any) -> None:
    ws, _guard = guarded
    rows = [{"name": "a"}, {"name": "forbidden"}, {"name": "c"}]
    result = ws.records.create_many("quote", rows)
    assert (result.created, [i for i, _p in result.errors]) == (0, [1])
    assert ids(ws, "quote") == []
    result = ws.records.create_many("quote", rows, skip_invalid=True)
    assert (result.created, [i for i, _p in result.errors]) == (2, [1])
    names = sorted(r["name"] for r in ws.records.query("quote", Query()).data)
    assert names == ["a", "c"]


def test_a_plugin_module_is_a_plugin(tmp_path: Any, database_url: str) -> None:
    module = types.ModuleType("no_lowercase")

    @rapport.hookimpl
    def record_before_save(object_name: str, record: dict[str, Any]) -> None:
        if object_name == "account" and record["name"].islower():
            raise rapport.ValidationError("names start with a capital", field="name")

    module.record_before_save = record_before_save  # type: ignore[attr-defined]
    root = tmp_path / "plugged"
    Workspace.init(root, database_url).close()
    ws = Workspace.open(root, database_url, plugin_modules=[module])
    try:
        with pytest.raises(rapport.ValidationError):
            ws.records.create("account", {"name": "acme"})
        assert ws.records.create("account", {"name": "Acme"})["name"] == "Acme"
        assert ws.records.count("account", Query()) == 1
    finally:
        ws.close()


# -- bulk ------------------------------------------------------------------------------------------


def test_create_many_reports_every_bad_row(clean: Workspace) -> None:
    rows = [{"name": "ok 1"}, {"name": ""}, {"name": "ok 2", "employees": "many"},
            {"name": "ok 3"}]
    result = clean.records.create_many("account", rows)
    assert result.created == 0 and result.ids == []
    assert [(i, problems_of(ValidationError(p))) for i, p in result.errors] == \
        [(1, {"name": "required"}), (2, {"employees": "invalid"})]
    assert ids(clean, "account") == []
    result = clean.records.create_many("account", rows, skip_invalid=True)
    assert result.created == 2 and len(result.errors) == 2
    assert ids(clean, "account") == sorted(result.ids)
