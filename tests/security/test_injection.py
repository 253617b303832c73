"""Hostile input: filter names, operators, sort keys, search terms, report definitions,
CSV cells (formula injection), and the formula sandbox."""

from __future__ import annotations

import csv
import io
import threading
from typing import Any

import pytest
from securitykit import Org

from rapport.formulas import FormulaError, compile_formula, default_library

HOSTILE = ["name;drop table opportunity", "name) or (1=1", "__class__", "name--", "1=1",
           "name\x00", "' OR '1'='1", "owner.password_hash", "rapport_credential.password_hash",
           "a" * 300, "名字", "name.__dict__"]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_filter_names_operators_and_sort_keys_are_clear_422s(org: Org,
                                                                    value: str) -> None:
    api = org.api("sam")
    for params in ({f"filter[{value}]": "x"}, {f"filter[name][{value}]": "x"},
                   {"sort": value}, {"sort": f"-{value}"}, {"limit": value}, {"cursor": value}):
        r = api.get("/api/v1/records/opportunity", params=params)
        assert r.status_code in (400, 422), (params, r.status_code, r.text[:200])
        body = r.json()
        assert body["errors"] and all(e["message"] for e in body["errors"])
    # the table is still there and nothing leaked
    assert api.get("/api/v1/records/opportunity/count").json()["count"] == 3


@pytest.mark.parametrize("term", ["' OR 1=1 --", "%", "_", "\\", "%' UNION SELECT * FROM "
                                  "rapport_credential --", "\x00", "deal' --", "a" * 5000])
def test_hostile_search_terms_match_literally_and_only_readable_rows(org: Org,
                                                                     term: str) -> None:
    r = org.api("oscar").get("/api/v1/records/opportunity", params={"q": term})
    assert r.status_code == 200
    assert all(row["name"] == "oscar deal" for row in r.json()["data"])
    assert r.json()["data"] == [] or term in {"\x00"}
    screen = org.screen("oscar").get("/o/opportunity", params={"q": term})
    assert screen.status_code in (200, 400) and "sam deal" not in screen.text


@pytest.mark.parametrize("definition", [
    {"object": "opportunity", "columns": ["name;drop"]},
    {"object": "rapport_credential", "columns": ["password_hash"]},
    {"object": "opportunity", "group_by": ["stage"], "aggregates": [
        {"fn": "sum(amount)); drop table x; --", "field": "amount"}]},
    {"object": "opportunity", "filters": [{"field": "amount", "op": "; drop", "value": 1}]},
    {"object": "opportunity", "sort": ["amount desc; drop table x"]},
    {"object": "opportunity", "columns": ["owner.password_hash"]},
    {"object": "opportunity", "columns": ["account.__class__"]},
])
def test_hostile_report_definitions_are_refused_with_a_pointer(org: Org,
                                                               definition: dict[str, Any]) -> None:
    r = org.api("sam").post("/api/v1/reports/preview",
                            json={"name": "evil", "label": {"en": "Evil"}, **definition})
    assert r.status_code == 422, r.text[:300]
    errors = r.json()["errors"]
    assert errors and all(e["field"].startswith("report/") and e["message"] for e in errors)


def test_formula_injection_in_exported_cells_is_neutralised(org: Org) -> None:
    ws, sam = org.ws, org.actors["sam"]
    for name in ("=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"):
        ws.records.create("opportunity", {"name": name, "owner": sam.id})
    text = org.screen("sam").get("/o/opportunity/export").content.decode("utf-8-sig")
    names = [row["name"] for row in csv.DictReader(io.StringIO(text))]
    dangerous = [n for n in names if n[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert dangerous == [] and "'=cmd|' /C calc'!A0" in names
    report = org.api("sam").get("/api/v1/reports/largest_open_deals?format=csv")
    cells = [c for row in csv.reader(io.StringIO(report.content.decode("utf-8-sig")))
             for c in row]
    assert not any(c.startswith(("=", "+", "@")) for c in cells)


LIB = default_library()
SANDBOX = [
    "().__class__", "''.__class__.__mro__", "name.__dict__", "__import__('os')",
    "import os", "open('/etc/passwd')", "eval('1')", "exec('1')", "globals()", "locals()",
    "getattr(1, 'real')", "lambda: 1", "[x for x in range(10)]", "(1).__add__(2)",
    "9 ** 9 ** 9", "2 ** 10000000", "10 ** 5000", "'x' * 10 ** 9", "concat('x' * 99999, 'xx')",
    "(" * 300 + "1" + ")" * 300, "1" + " + 1" * 3000, "-" * 10000 + "1",
    "account.owner.owner.owner.email", "__builtins__", "__name__",
]


def _bounded(fn: Any, seconds: float = 10.0) -> BaseException | None:
    """Run ``fn`` in a thread: the exception it raised (None when it returned); the test
    fails when it has not finished within ``seconds`` (a bound, not a speed measure)."""
    out: list[BaseException | None] = []

    def run() -> None:
        try:
            fn()
            out.append(None)
        except BaseException as exc:
            out.append(exc)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "the formula ran past its bound"
    return out[0]


@pytest.mark.parametrize("expression", SANDBOX)
def test_the_formula_sandbox_refuses_with_a_clear_error_within_a_bound(expression: str) -> None:
    raised = _bounded(lambda: compile_formula(expression, LIB).evaluate({"name": "x"}))
    assert isinstance(raised, FormulaError), (expression, raised)
    assert str(raised) and "Traceback" not in str(raised)


def test_a_hostile_formula_field_is_refused_by_the_api(org: Org) -> None:
    doc = dict(org.ws.state.documents[("object", "account")])
    evil = {"name": "evil", "type": "formula", "expression": "().__class__.__mro__",
            "result_type": "text"}
    r = org.api("ann").put("/api/v1/meta/objects/account",
                           json={**doc, "fields": [*doc["fields"], evil]})
    assert r.status_code == 422 and "attribute access is not allowed" in r.text, r.text[:300]
    assert "evil" not in org.ws.meta.objects["account"].field_names
    assert org.api("sam").put("/api/v1/meta/objects/account", json=doc).status_code == 403
