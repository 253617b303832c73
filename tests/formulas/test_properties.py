"""Properties of the formula engine, with hypothesis.

1. Whatever text is compiled and whatever values a formula meets, the only
   exception that comes out is FormulaError.
2. Integer arithmetic agrees with a plain Python evaluation of the same tree,
   and fails (with FormulaError) exactly where Python fails or a limit applies.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import operator
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rapport.formulas import FormulaError, compile_formula, default_library

LIB = default_library()
FAST = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
NAMES = ("a", "b", "c", "account.industry")

# -- 1. nothing but FormulaError -----------------------------------------------------

TOKENS = [
    "a", "b", "account.industry", "x.__class__", "(", ")", "[", "]", ",", ".", " ", "\n",
    "1", "0", "-1", "2.5", "9", "**", "*", "/", "//", "%", "+", "-", "<", "==", "!=", ">=",
    " in ", " not ", " and ", " or ", " if ", " else ", "'x'", '"', "'", "None", "True",
    "lambda", ":", "=", ":=", "{", "}", "f'", "_", "import ", "round(", "concat(", "max(",
    "is_blank(", "date(", "number(", "text(", "len(", "substitute(", "left(", "\\", "#",
]

formula_like = st.lists(st.sampled_from(TOKENS), max_size=30).map("".join)


def record_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=True, allow_infinity=True),
        st.decimals(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
        st.dates(),
        st.datetimes(timezones=st.just(UTC)),
    )
    return st.one_of(scalars, st.lists(scalars, max_size=4))


records = st.fixed_dictionaries({}, optional={name: record_values() for name in NAMES})


def _evaluate_safely(expression: str, values: dict[str, Any]) -> None:
    try:
        formula = compile_formula(expression, LIB)
    except FormulaError:
        return
    with contextlib.suppress(FormulaError):
        formula.evaluate(values, get=lambda name: None)


@FAST
@given(st.text(max_size=200), records)
def test_arbitrary_text_raises_only_formula_errors(text: str, values: dict[str, Any]) -> None:
    _evaluate_safely(text, values)


@FAST
@given(formula_like, records)
def test_formula_like_text_raises_only_formula_errors(text: str, values: dict[str, Any]) -> None:
    _evaluate_safely(text, values)


def _arities(fn: Callable[..., Any]) -> tuple[int, int]:
    params = inspect.signature(fn).parameters.values()
    required = sum(1 for p in params if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD)
    varargs = any(p.kind is p.VAR_POSITIONAL for p in params)
    return required, (4 if varargs else sum(1 for p in params if p.kind is p.POSITIONAL_OR_KEYWORD))


ARITIES = {name: _arities(LIB[name]) for name in LIB}

literals = st.one_of(
    st.integers(min_value=-1000, max_value=1000).map(str),
    st.sampled_from(["0", "0.5", "-2.5", "1e308", "100", "None", "True", "False", "''", "'ab'",
                     "'2024-02-29'", "' 3.5 '", "'x' * 1000"]),
    st.sampled_from(NAMES),
)

BINARY = ["+", "-", "*", "/", "//", "%", "**", "<", "<=", ">", ">=", "==", "!=", "and", "or"]


def _call(draw: st.DrawFn, children: st.SearchStrategy[str]) -> str:
    name = draw(st.sampled_from(sorted(LIB)))
    low, high = ARITIES[name]
    args = draw(st.lists(children, min_size=low, max_size=high))
    return f"{name}({', '.join(args)})"


@st.composite
def _compound(draw: st.DrawFn, children: st.SearchStrategy[str]) -> str:
    kind = draw(st.integers(min_value=0, max_value=5))
    if kind == 0:
        return f"({draw(children)} {draw(st.sampled_from(BINARY))} {draw(children)})"
    if kind == 1:
        return f"({draw(st.sampled_from(['-', 'not ']))}{draw(children)})"
    if kind == 2:
        return f"({draw(children)} if {draw(children)} else {draw(children)})"
    if kind == 3:
        items = draw(st.lists(children, max_size=3))
        op = draw(st.sampled_from(["in", "not in"]))
        options = ", ".join(items) + ("," if len(items) == 1 else "")
        return f"({draw(children)} {op} ({options}))"
    if kind == 4:
        return f"({draw(children)} < {draw(children)} <= {draw(children)})"
    return _call(draw, children)


expressions = st.recursive(literals, _compound, max_leaves=12)


@FAST
@given(expressions, records)
def test_random_expression_trees_raise_only_formula_errors(
        expression: str, values: dict[str, Any]) -> None:
    formula = compile_formula(expression, LIB)  # generated trees are always valid
    with contextlib.suppress(FormulaError):
        formula.evaluate(values)


# -- 2. integer arithmetic agrees with Python ----------------------------------------------

PY_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": operator.floordiv, "%": operator.mod, "**": operator.pow,
}
Tree = int | tuple[str, "Tree", "Tree"]


class Refused(Exception):
    """The reference evaluation hit a Python error or one of the documented limits."""


def reference(tree: Tree) -> Any:
    if isinstance(tree, int):
        return tree
    op, left, right = tree
    a, b = reference(left), reference(right)
    if op == "**" and abs(b) > 100:
        raise Refused("exponent")
    try:
        result = PY_OPS[op](a, b)
    except (ZeroDivisionError, OverflowError) as exc:
        raise Refused(str(exc)) from None
    if isinstance(result, complex):
        raise Refused("complex")
    if isinstance(result, int) and abs(result) >= 10**4300:
        raise Refused("digits")
    return result


def render(tree: Tree, names: dict[str, int] | None = None) -> str:
    """The formula text of a tree; with ``names``, every literal becomes a name bound there."""
    if isinstance(tree, int):
        if names is not None:
            name = f"v{len(names)}"
            names[name] = tree
            return name
        return f"({tree})" if tree < 0 else str(tree)
    op, left, right = tree
    return f"({render(left, names)} {op} {render(right, names)})"


ints = st.one_of(st.integers(min_value=-20, max_value=20),
                 st.integers(min_value=-(10**40), max_value=10**40))
trees = st.recursive(
    ints,
    lambda children: st.one_of(
        st.tuples(st.sampled_from(["+", "-", "*", "/", "//", "%"]), children, children),
        st.tuples(st.just("**"), children, st.integers(min_value=-3, max_value=8)),
        st.tuples(st.just("**"), children, children),
    ),
    max_leaves=16,
)


def _same(result: Any, expected: Any) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(result, float) and math.isnan(result)
    return bool(result == expected) and type(result) is type(expected)


@FAST
@given(trees)
def test_integer_arithmetic_matches_python(tree: Tree) -> None:
    formula = compile_formula(render(tree), LIB)
    try:
        expected = reference(tree)
    except Refused:
        try:
            formula.evaluate({})
        except FormulaError:
            return
        raise AssertionError(f"{render(tree)} should have failed") from None
    assert _same(formula.evaluate({}), expected), render(tree)


@FAST
@given(trees)
def test_names_evaluate_like_their_values(tree: Tree) -> None:
    names: dict[str, int] = {}
    by_name = compile_formula(render(tree, names), LIB)
    by_value = compile_formula(render(tree), LIB)
    assert by_name.names == frozenset(names)
    outcomes = []
    for formula, values in ((by_name, names), (by_value, {})):
        try:
            outcomes.append(("value", formula.evaluate(values)))
        except FormulaError as exc:
            outcomes.append(("error", str(exc)))
    (kind_a, a), (kind_b, b) = outcomes
    assert kind_a == kind_b
    assert kind_a == "error" or _same(a, b)


@FAST
@given(st.lists(st.sampled_from([None, 1, 2, Decimal("1.5"), 0.25]), min_size=1, max_size=6))
def test_blank_anywhere_in_a_sum_blanks_it(values: list[Any]) -> None:
    names = [f"v{i}" for i in range(len(values))]
    formula = compile_formula(" + ".join(names), LIB)
    result = formula.evaluate(dict(zip(names, values, strict=True)))
    if any(v is None for v in values):
        assert result is None
    else:
        assert result == sum(Decimal(str(v)) for v in values)


@FAST
@given(st.dates(), st.integers(min_value=-5000, max_value=5000))
def test_add_days_and_days_between_are_inverse(start: date, days: int) -> None:
    formula = compile_formula("days_between(d, add_days(d, n))", LIB)
    try:
        start + timedelta(days=days)
    except OverflowError:
        with pytest.raises(FormulaError, match="outside the calendar"):
            formula.evaluate({"d": start, "n": days})
        return
    assert formula.evaluate({"d": start, "n": days}) == days
    moment = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    with contextlib.suppress(FormulaError):  # the very last day may overflow in UTC
        assert formula.evaluate({"d": moment, "n": days}) == days
