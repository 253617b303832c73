"""Property: a random filter tree over random records finds exactly the records a plain
Python evaluation of the same tree finds.

The Python semantics (the query engine's contract): a blank is None; ``eq``/``ne`` with None
test blankness; ``ne`` and ``not_in`` include blanks, comparisons (``lt`` ... ``between``,
``contains``, ``startswith``) exclude them; ``in``/``not_in`` treat a None in the list as the
blank value; ``contains``/``startswith`` ignore ASCII case and take ``%``/``_`` literally;
through a lookup (``kin.k``) a record without a linked record sees a blank; Not is plain
negation.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from rapport.records.query import And, Cond, Not, Or, Query
from rapport.workspace import Workspace

OBJECTS = [
    {"name": "kin", "fields": [{"name": "k", "type": "integer"},
                               {"name": "q", "type": "picklist", "options": ["x", "y"]}]},
    {"name": "sample", "fields": [
        {"name": "n", "type": "integer"},
        {"name": "t", "type": "text"},
        {"name": "p", "type": "picklist", "options": ["x", "y", "z"]},
        {"name": "d", "type": "date"},
        {"name": "b", "type": "boolean"},
        {"name": "kin", "type": "lookup", "target": "kin"},
    ]},
]
#: The linked records, by index: (k, q).
KIN = [(1, "x"), (None, None), (3, "y")]

ALPHABET = "aAb%_"
INTS = st.integers(-3, 3)
TEXTS = st.text(alphabet=ALPHABET, min_size=1, max_size=3)
PICKS = st.sampled_from(["x", "y", "z"])
DATES = st.dates(min_value=date(2024, 1, 1), max_value=date(2024, 1, 6))
BOOLS = st.booleans()

rows_strategy = st.lists(st.fixed_dictionaries({
    "n": st.none() | INTS, "t": st.none() | TEXTS, "p": st.none() | PICKS,
    "d": st.none() | DATES, "b": st.none() | BOOLS, "kin": st.none() | st.integers(0, 2),
}), max_size=12)


def _ordered(field: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[Cond]:
    """Conditions on a field whose values have an order (integers, dates)."""
    return st.one_of(
        st.builds(Cond, st.just(field), st.sampled_from(["eq", "ne"]), st.none() | values),
        st.builds(Cond, st.just(field), st.sampled_from(["lt", "lte", "gt", "gte"]), values),
        st.builds(Cond, st.just(field), st.just("between"), st.lists(values, min_size=2,
                                                                     max_size=2)),
        _membership(field, values),
        _blankness(field),
    )


def _membership(field: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[Cond]:
    return st.builds(Cond, st.just(field), st.sampled_from(["in", "not_in"]),
                     st.lists(st.none() | values, min_size=1, max_size=3))


def _blankness(field: str) -> st.SearchStrategy[Cond]:
    return st.builds(Cond, st.just(field), st.sampled_from(["is_blank", "is_not_blank"]))


def _equality(field: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[Cond]:
    return st.builds(Cond, st.just(field), st.sampled_from(["eq", "ne"]), st.none() | values)


conditions = st.one_of(
    _ordered("n", INTS),
    _ordered("d", DATES),
    _equality("t", TEXTS), _membership("t", TEXTS), _blankness("t"),
    st.builds(Cond, st.just("t"), st.sampled_from(["contains", "startswith"]),
              st.text(alphabet=ALPHABET, max_size=2)),
    _equality("p", PICKS), _membership("p", PICKS), _blankness("p"),
    _equality("b", BOOLS), _blankness("b"),
    _ordered("kin.k", INTS),
    _equality("kin.q", st.sampled_from(["x", "y"])),
    _membership("kin.q", st.sampled_from(["x", "y"])),
    _blankness("kin.q"),
)

filters = st.recursive(
    conditions,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda items: And(tuple(items))),
        st.lists(inner, max_size=3).map(lambda items: Or(tuple(items))),
        inner.map(Not),
    ),
    max_leaves=8,
)


def value_of(row: dict[str, Any], field: str) -> Any:
    if field.startswith("kin."):
        if row["kin"] is None:
            return None
        k, q = KIN[row["kin"]]
        return {"kin.k": k, "kin.q": q}[field]
    return row[field]


def holds(node: Any, row: dict[str, Any]) -> bool:
    if isinstance(node, And):
        return all(holds(n, row) for n in node.items)
    if isinstance(node, Or):
        return any(holds(n, row) for n in node.items)
    if isinstance(node, Not):
        return not holds(node.item, row)
    v, op, arg = value_of(row, node.field), node.op, node.value
    if op == "is_blank":
        return v is None
    if op == "is_not_blank":
        return v is not None
    if op == "eq":
        return v == arg if arg is not None else v is None
    if op == "ne":
        return v != arg if arg is not None else v is not None
    if op == "in":
        return v in arg
    if op == "not_in":
        return v not in arg
    if v is None:
        return False
    if op == "contains":
        return arg.lower() in v.lower()
    if op == "startswith":
        return v.lower().startswith(arg.lower())
    if op == "between":
        return arg[0] <= v <= arg[1]
    return {"lt": v < arg, "lte": v <= arg, "gt": v > arg, "gte": v >= arg}[op]


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=rows_strategy, flt=filters)
def test_filters_agree_with_python(ws: Workspace, rows: list[dict[str, Any]], flt: Any) -> None:
    if "sample" not in ws.meta.objects:  # the workspace is built once, the data per example
        ws.apply(ws.documents_from(OBJECTS))
        for k, q in KIN:
            ws.records.create("kin", {"k": k, "q": q})
    kin_ids = sorted(r["id"] for r in ws.records.query("kin", Query()).data)
    with ws.transaction() as conn:
        conn.execute(delete(ws.table("sample")))
    result = ws.records.create_many(
        "sample", [{**r, "kin": None if r["kin"] is None else kin_ids[r["kin"]]} for r in rows])
    assert result.created == len(rows), result.errors

    expected = sorted(rid for rid, row in zip(result.ids, rows, strict=True) if holds(flt, row))
    found = sorted(r["id"] for r in ws.records.query("sample", Query(filter=flt, limit=1000)).data)
    assert found == expected
    assert ws.records.count("sample", Query(filter=flt)) == len(expected)
