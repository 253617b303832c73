"""The formula engine: syntax, semantics, the function library, refusals and limits."""

from __future__ import annotations

import contextlib
import re
import threading
from dataclasses import FrozenInstanceError
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from rapport.formulas import (
    Formula,
    FormulaError,
    compile_formula,
    default_library,
    engine,
)
from rapport.formulas.engine import type_name

DOCS = Path(__file__).resolve().parents[2] / "docs" / "formulas.md"
LIB = default_library()


def ev(expression: str, values: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    return compile_formula(expression, LIB).evaluate(values or {}, **kwargs)


def fails(expression: str, values: dict[str, Any] | None = None) -> str:
    """The FormulaError message of compiling + evaluating ``expression``."""
    with pytest.raises(FormulaError) as caught:
        ev(expression, values)
    return str(caught.value)


def refused(expression: str) -> str:
    """The FormulaError message of compiling ``expression`` (it must fail at compile time)."""
    with pytest.raises(FormulaError) as caught:
        compile_formula(expression, LIB)
    return str(caught.value)


# -- arithmetic ---------------------------------------------------------------------


@pytest.mark.parametrize(("expression", "expected"), [
    ("1 + 2", 3),
    ("(1 + 2) * 3", 9),
    ("1 + 2 * 3", 7),
    ("10 - 4 - 3", 3),
    ("7 / 2", 3.5),
    ("7 // 2", 3),
    ("-7 // 2", -4),
    ("7 % 3", 1),
    ("2 ** 10", 1024),
    ("2 ** -1", 0.5),
    ("2 ** 3 ** 2", 512),
    ("-3 + 1", -2),
    ("+3", 3),
    ("--3", 3),
    ("0.5 + 0.25", 0.75),
    ("'ab' + 'cd'", "abcd"),
    ("'-' * 3", "---"),
    ("3 * '-'", "---"),
    ("'-' * -1", ""),
    ("0x10 + 1_000", 1016),
])
def test_arithmetic(expression: str, expected: Any) -> None:
    assert ev(expression) == expected
    assert type(ev(expression)) is type(expected)


def test_arithmetic_on_fields() -> None:
    values = {"amount": 1200, "qty": 3, "price": 12.5}
    assert ev("amount * qty - price * 2", values) == 3575.0


def test_decimal_mixing() -> None:
    values = {"amount": Decimal("10"), "probability": 50, "rate": 0.1}
    result = ev("amount * probability / 100", values)
    assert result == Decimal("5") and isinstance(result, Decimal)
    # a float meets a Decimal through its text, not its binary value
    assert ev("amount + rate", values) == Decimal("10.1")
    assert ev("rate + amount", values) == Decimal("10.1")
    assert isinstance(ev("rate * amount", values), Decimal)
    assert ev("amount * 0.07", values) == Decimal("0.70")
    assert ev("number('0.1') == 0.1") is True
    assert ev("0.1 == number('0.1')") is True
    assert ev("number('0.1') < 0.2") is True
    assert ev("amount - 1", values) == Decimal("9")
    assert ev("amount // 3", values) == Decimal("3")
    assert ev("amount % 3", values) == Decimal("1")
    assert ev("amount ** 2", values) == Decimal("100")
    assert ev("-amount", values) == Decimal("-10")
    assert ev("amount / 4", values) == Decimal("2.5")
    assert ev("True + 1") == 2


def test_values_that_do_not_mix() -> None:
    assert fails("'a' + 1") == "cannot add text and number"
    assert fails("1 - 'a'") == "cannot subtract number and text"
    assert fails("d + 1", {"d": date(2024, 1, 1)}) == "cannot add date and number"
    assert fails("'a' * 'b'") == "cannot multiply text and text"
    assert fails("'a' * 1.5") == "cannot multiply text and number"
    assert fails("-'a'") == "cannot negate text"
    assert fails("[1] + [2]") == "cannot add list and list"
    assert fails("'a' < 1") == "cannot compare text and number"
    assert fails("d < 1", {"d": date(2024, 1, 1)}) == "cannot compare date and number"


@pytest.mark.parametrize("expression", [
    "1 / 0", "1 // 0", "1 % 0", "1.5 / 0", "1 / 0.0", "x / 0", "x / y", "x % y", "x // y",
    "0 ** -1", "round(1 / 0)",
])
def test_division_by_zero(expression: str) -> None:
    assert fails(expression, {"x": Decimal("3"), "y": Decimal("0")}) == "division by zero"


def test_not_a_real_number() -> None:
    assert "not a real number" in fails("(-8) ** 0.5")
    assert ev("2 ** 0.5") == pytest.approx(1.41421356)


# -- blanks -------------------------------------------------------------------------


@pytest.mark.parametrize(("expression", "expected"), [
    ("x + 1", None), ("1 + x", None), ("x * 2", None), ("x / 2", None), ("2 / x", None),
    ("x // 2", None), ("x % 2", None), ("x ** 2", None), ("2 ** x", None), ("-x", None),
    ("x + 'a'", None), ("x / 0", None),
    ("x > 1", False), ("x < 1", False), ("x >= 1", False), ("x <= 1", False),
    ("1 < x", False), ("x < x", False),
    ("x == None", True), ("x != None", False), ("x == 1", False), ("x != 1", True),
    ("x == x", True), ("x is None", True), ("x is not None", False),
    ("not x", True), ("x and 1", None), ("x or 'fallback'", "fallback"),
    ("'yes' if x else 'no'", "no"), ("x in (1, 2)", False), ("x in (1, None)", True),
    ("x not in (1, 2)", True),
])
def test_blank_propagation(expression: str, expected: Any) -> None:
    assert ev(expression, {"x": None}) == expected


def test_missing_names_are_blank() -> None:
    assert ev("nothing_here") is None
    assert ev("amount * 2", {}) is None
    assert ev("filled == None", {"filled": 0}) is False


# -- comparisons, membership, logic ------------------------------------------------


@pytest.mark.parametrize(("expression", "expected"), [
    ("1 < 2", True), ("2 <= 2", True), ("3 > 4", False), ("3 >= 3", True),
    ("1 == 1.0", True), ("1 != 2", True), ("'a' < 'b'", True),
    ("1 < 2 < 3", True), ("1 < 3 < 2", False), ("3 > 2 > 1 >= 1", True), ("1 == 1 == 1", True),
    ("0 < 5 <= 10 in (10, 20)", True),
    ("'b' in ('a', 'b')", True), ("'c' in ('a', 'b')", False), ("'c' not in ('a', 'b')", True),
    ("'b' in ['a', 'b']", True), ("2 in (1.5, 2.0)", True), ("2 in ()", False),
    ("True and 'x'", "x"), ("0 and 1", 0), ("0 or ''", ""), ("1 or 2", 1),
    ("not 0", True), ("not 'a'", False), ("1 and 2 and 3", 3), ("0 or 0 or 7", 7),
    ("'a' if 1 > 2 else 'b'", "b"), ("'a' if 2 > 1 else 1 / 0", "a"),
    ("(1, 'a')", (1, "a")), ("[1, 2]", [1, 2]), ("()", ()),
    ("True", True), ("None", None),
])
def test_comparisons_and_logic(expression: str, expected: Any) -> None:
    assert ev(expression) == expected


def test_membership_of_field_values() -> None:
    rule = "stage in ('proposal', 'negotiation') and is_blank(close_date)"
    assert ev(rule, {"stage": "proposal", "close_date": None}) is True
    assert ev(rule, {"stage": "proposal", "close_date": date(2024, 1, 1)}) is False
    assert ev(rule, {"stage": "closed_won"}) is False
    values = {"x": Decimal("0.1"), "y": Decimal("2"), "a": "A", "tags": ["a"]}
    assert ev("x in (0.1, 0.2)", values) is True  # float literal meets the Decimal
    assert ev("y in (1, 2)", values) is True
    assert ev("a in (a, 'b')", values) is True
    assert ev("tags in ('a', 'b')", values) is False  # a list is none of the items
    assert ev("tags in (['a'],)", values) is True


def test_short_circuit() -> None:
    assert ev("x != 0 and 10 / x > 1", {"x": 0}) is False
    assert ev("x == 0 or 10 / x > 1", {"x": 0}) is True
    assert ev("1 > 2 > 1 / 0") is False


def test_dates_compare() -> None:
    values = {"close_date": date(2024, 3, 1), "due": date(2024, 4, 1)}
    assert ev("close_date < due", values) is True
    assert ev("close_date < date(2024, 3, 2)", values) is True
    assert ev("close_date == '2024-03-01'", values) is False  # text is not a date


# -- names, dotted paths, the get callback -------------------------------------------


def test_names_and_functions_sets() -> None:
    f = compile_formula("account.industry == 'retail' and amount > owner.manager.quota "
                        "or is_blank(account.industry) or round(x, 2) > 1", LIB)
    assert f.expression.startswith("account.industry")
    assert f.names == frozenset({"account.industry", "amount", "owner.manager.quota", "x"})
    assert f.functions == frozenset({"is_blank", "round"})
    assert isinstance(f, Formula)
    assert compile_formula("1 + 2", LIB).names == frozenset()
    assert compile_formula("today", LIB).names == frozenset({"today"})  # a name, not a call


def test_dotted_paths_resolve_from_mapping_then_get() -> None:
    f = compile_formula("concat(account.industry, '/', name)", LIB)
    assert f.evaluate({"account.industry": "retail", "name": "A"}) == "retail/A"
    calls: list[str] = []

    def get(name: str) -> Any:
        calls.append(name)
        return {"account.industry": "energy"}.get(name)

    assert f.evaluate({"name": "A"}, get=get) == "energy/A"
    assert calls == ["account.industry"]  # only for names missing from the mapping
    assert f.evaluate({"name": "A", "account.industry": None}, get=get) == "/A"
    assert calls == ["account.industry"]  # a None in the mapping is a value, not a miss
    assert f.evaluate({"name": "A"}) == "/A"  # no get: blank


def test_get_errors_become_formula_errors() -> None:
    def get(name: str) -> Any:
        raise KeyError(name)

    with pytest.raises(FormulaError, match=r"cannot read account\.industry"):
        compile_formula("account.industry", LIB).evaluate({}, get=get)

    def refuse(name: str) -> Any:
        raise FormulaError(f"no access to {name}")

    with pytest.raises(FormulaError, match="no access to secret"):
        compile_formula("secret", LIB).evaluate({}, get=refuse)


def test_now_is_an_aware_utc_datetime() -> None:
    moment = ev("now()")
    assert isinstance(moment, datetime) and moment.tzinfo is UTC
    assert abs(moment - datetime.now(UTC)) < timedelta(minutes=1)


def test_evaluate_without_values() -> None:
    assert compile_formula("'approved'", LIB).evaluate() == "approved"


# -- refusals at compile time ---------------------------------------------------------


@pytest.mark.parametrize(("expression", "message"), [
    ("x.__class__", "names starting with '_' are not allowed"),
    ("account.__dict__", "names starting with '_' are not allowed"),
    ("_secret", "names starting with '_' are not allowed"),
    ("__import__('os')", "names starting with '_' are not allowed"),
    ("().__class__", "attribute access is not allowed"),
    ("().__class__.__bases__[0].__subclasses__()", "at column 1"),
    ("'abc'.upper()", "only library functions can be called"),
    ("name.upper()", "only library functions can be called"),
    ("lower('x').upper", "attribute access is not allowed"),
    ("(1).real", "attribute access is not allowed"),
    ("a.b.c.d", "record path too long"),
    ("tags[0]", "indexing with [] is not allowed"),
    ("name[1:3]", "indexing with [] is not allowed"),
    ("lambda: 1", "lambda is not allowed"),
    ("(lambda x: x)(1)", "only library functions can be called"),
    ("[x for x in tags]", "comprehensions are not allowed"),
    ("{x for x in tags}", "comprehensions are not allowed"),
    ("{x: 1 for x in tags}", "comprehensions are not allowed"),
    ("sum(x for x in tags)", "generator expressions are not allowed"),
    ("(x := 1)", "assignment (:=) is not allowed"),
    ("f'{name}'", "f-strings are not allowed"),
    ("[*tags]", "* unpacking is not allowed"),
    ("sum(*tags)", "* unpacking is not allowed"),
    ("round(**opts)", "** unpacking is not allowed"),
    ("round(1, _n=2)", "names starting with '_' are not allowed"),
    ("{'a': 1}", "dict literals are not allowed"),
    ("{1, 2}", "set literals are not allowed"),
    ("1 << 2", "operator '<<' is not allowed"),
    ("1 >> 2", "operator '>>' is not allowed"),
    ("1 | 2", "operator '|' is not allowed"),
    ("1 & 2", "operator '&' is not allowed"),
    ("1 ^ 2", "operator '^' is not allowed"),
    ("~1", "operator '~' is not allowed"),
    ("x is 1", "'is' only compares with None"),
    ("x in name", "the right side of 'in' must be a list"),
    ("x in tags", "the right side of 'in' must be a list"),
    ("b'bytes'", "bytes literals are not allowed"),
    ("1j", "complex literals are not allowed"),
    ("...", "ellipsis literals are not allowed"),
    ("import os", "import is not allowed"),
    ("from os import path", "import is not allowed"),
    ("x = 1", "assignment is not allowed"),
    ("x += 1", "assignment is not allowed"),
    ("del x", "statements are not allowed"),
    ("1\n2", "a formula is a single expression"),
    ("1; 2", "a formula is a single expression"),
    ("(yield)", "yield is not allowed"),
    ("await x", "await"),
    ("eval('1')", "unknown function 'eval'"),
    ("exec('1')", "unknown function 'exec'"),
    ("open('/etc/passwd')", "unknown function 'open'"),
    ("getattr(x, 'y')", "unknown function 'getattr'"),
    ("type(x)", "unknown function 'type'"),
    ("int('1')", "unknown function 'int'"),
    ("foo(1)", "unknown function 'foo'"),
    ("", "empty formula"),
    ("   ", "empty formula"),
])
def test_refused_constructs(expression: str, message: str) -> None:
    assert message in refused(expression)


def test_unknown_function_message() -> None:
    assert refused("foo(1)") == "unknown function 'foo' at column 1"
    assert refused("1 + is_blnk(x)") == "unknown function 'is_blnk' (did you mean is_blank?) at column 5"


def test_syntax_error_with_column() -> None:
    assert refused("amount *").startswith("syntax error at column 9")
    assert refused("  amount *").startswith("syntax error at column 11")
    assert "column" in refused("(amount")
    assert refused("(a +\n b +)").startswith("syntax error at line 2")
    assert refused("1 +* 2").startswith("syntax error")


def test_column_of_refused_construct() -> None:
    assert refused("amount + tags[0]").endswith("at column 10")
    assert refused("(1 +\n  tags[0])").endswith("at line 2, column 3")


def test_wrong_argument_count_is_refused_at_compile() -> None:
    assert refused("round(1, 2, 3)") == "round(): too many positional arguments at column 1"
    assert "missing a required argument" in refused("days_between(x)")
    assert "unexpected keyword argument" in refused("round(x, places=2)")
    assert ev("round(x, n=2)", {"x": Decimal("1.005")}) == Decimal("1.01")


def test_formula_is_text() -> None:
    with pytest.raises(FormulaError, match="must be text"):
        compile_formula(None, LIB)  # type: ignore[arg-type]


# -- limits ---------------------------------------------------------------------------


def test_too_long_expression_refused_fast() -> None:
    with pytest.raises(FormulaError, match="formula too long"):
        compile_formula("1 + " * 2_500_000 + "1", LIB)  # 10 MB
    compile_formula("x" * 4_000, LIB)
    with pytest.raises(FormulaError, match="formula too long"):
        compile_formula("x" * 4_001, LIB)


def test_too_many_nodes() -> None:
    items = ", ".join(["1"] * 499)
    assert len(ev(f"({items})")) == 499
    with pytest.raises(FormulaError, match="more than 500 parts"):
        compile_formula(f"({items}, 1)", LIB)


def test_nesting_depth() -> None:
    assert ev(" + ".join(["1"] * 49)) == 49
    assert "nested too deeply" in refused(" + ".join(["1"] * 51))
    assert ev("abs(" * 49 + "-1" + ")" * 49) == 1
    assert "nested too deeply" in refused("abs(" * 51 + "1" + ")" * 51)


@pytest.mark.parametrize("expression", [
    "(" * 1000 + "1" + ")" * 1000,
    "-" * 1000 + "1",
    "not " * 1000 + "x",
    "[" * 1000 + "]" * 1000,
    "abs(" * 1000 + "1" + ")" * 1000,
])
def test_deep_nesting_is_a_formula_error(expression: str) -> None:
    with pytest.raises(FormulaError):
        compile_formula(expression, LIB)


def test_power_tower_fails_fast() -> None:
    f = compile_formula("9**9**9**9", LIB)
    with pytest.raises(FormulaError, match="exponent too large"):
        f.evaluate({})


@pytest.mark.parametrize("expression", [
    "2 ** 101", "2 ** -101", "x ** 1000", "(10 ** 100) ** 50", "10 ** 100 ** 2",
])
def test_power_limits(expression: str) -> None:
    with pytest.raises(FormulaError, match=r"(exponent|number) too large"):
        ev(expression, {"x": Decimal("1.0001")})


def test_integer_digit_limit() -> None:
    assert ev("2 ** 100") == 2**100
    big = " * ".join(["10 ** 100"] * 42)
    assert ev(big) == 10**4200
    assert "number too large" in fails(big + " * 10 ** 100")
    assert "number too large" in fails("(10 ** 43) ** 100")
    assert ev("(10 ** 42) ** 100 - 1") == 10**4200 - 1
    assert "number too large" in fails("x + 1", {"x": 10**5000})


def test_float_overflow_is_a_formula_error() -> None:
    assert "number too large" in fails("10.0 ** 100 ** 1 * 1e300 ** 2")
    assert "number too large" in fails("x / 3", {"x": 10**4000})


def test_huge_text_refused_fast() -> None:
    for expression in ("'x' * 10**8", "10**8 * 'x'", "'ab' * 50001"):
        with pytest.raises(FormulaError, match="text too long"):
            ev(expression)
    assert len(ev("'x' * 100000")) == 100_000
    half = {"s": "x" * 60_000}
    assert "text too long" in fails("s + s", half)
    assert "text too long" in fails("concat(s, s)", half)
    assert "text too long" in fails("substitute(s, 'x', 'xx')", half)


def test_long_function_results_are_refused() -> None:
    lib = LIB.extend({"blow_up": lambda: "x" * 200_000, "huge": lambda: 10**5000})
    with pytest.raises(FormulaError, match="text too long"):
        compile_formula("blow_up()", lib).evaluate({})
    with pytest.raises(FormulaError, match="number too large"):
        compile_formula("huge()", lib).evaluate({})


def test_cost_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    f = compile_formula("1 + 2 + 3 + 4 + 5 + 6", LIB)
    assert f.evaluate({}) == 21
    monkeypatch.setattr(engine, "MAX_COST", 8)
    with pytest.raises(FormulaError, match="formula too expensive"):
        f.evaluate({})
    monkeypatch.setattr(engine, "MAX_COST", 12)  # 5 additions + 6 literals = 11 evaluations
    assert f.evaluate({}) == 21


def test_largest_formula_fits_the_budget() -> None:
    terms = " + ".join(f"sum({', '.join(['x'] * 30)})" for _ in range(15))
    f = compile_formula(terms, LIB)
    assert f.evaluate({"x": 1}) == 450


# -- nothing but FormulaError -----------------------------------------------------------


def test_function_exceptions_are_wrapped() -> None:
    def explode(x: Any) -> Any:
        raise ValueError("bad input")

    def recurse(x: Any) -> Any:
        return recurse(x)

    lib = LIB.extend({"explode": explode, "recurse": recurse, "zero": lambda: 1 / 0})
    with pytest.raises(FormulaError, match=r"explode\(\): bad input"):
        compile_formula("explode(1)", lib).evaluate({})
    with pytest.raises(FormulaError, match=r"recurse\(\)"):
        compile_formula("recurse(1)", lib).evaluate({})
    with pytest.raises(FormulaError, match="division by zero"):
        compile_formula("zero()", lib).evaluate({})


def test_weird_values_do_not_leak_exceptions() -> None:
    weird: list[Any] = [Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), float("nan"),
                        float("inf"), object(), {"a": 1}, b"bytes", 10**5000, [None, [1]]]
    for value in weird:
        for expression in ("x + 1", "x * x", "x < 1", "x == 1", "x in (1, 'a')", "-x",
                           "text(x)", "round(x, 2)", "number(x)", "max(x, 1)", "len(x)",
                           "concat(x)", "x ** 2", "x / x", "not x", "year(x)"):
            with contextlib.suppress(FormulaError):
                ev(expression, {"x": value})


def test_values_that_are_not_a_mapping() -> None:
    with pytest.raises(FormulaError):
        compile_formula("x", LIB).evaluate(None)  # type: ignore[arg-type]


# -- the function library ----------------------------------------------------------------


def test_library_is_immutable_and_extend_makes_a_new_one() -> None:
    lib = default_library()
    assert lib is default_library()
    with pytest.raises(TypeError):
        lib["stars"] = len  # type: ignore[index]
    stars = lib.extend({"stars": lambda n: "*" * int(n)})
    assert "stars" in stars and "stars" not in lib
    assert len(stars) == len(lib) + 1
    assert compile_formula("stars(3)", stars).evaluate({}) == "***"
    with pytest.raises(FormulaError, match="unknown function 'stars'"):
        compile_formula("stars(3)", lib)
    with pytest.raises(FormulaError, match="already defined"):
        lib.extend({"round": lambda x: x})
    mine = lib.extend({"round": lambda x: "mine"}, replace=True)
    assert compile_formula("round(1)", mine).evaluate({}) == "mine"
    assert compile_formula("round(1)", lib).evaluate({}) == 1
    assert repr(lib).startswith("<FunctionLibrary of ")


@pytest.mark.parametrize(("name", "fn", "message"), [
    ("evil", eval, "not allowed"),
    ("ga", getattr, "not allowed"),
    ("_hidden", len, "invalid formula function name"),
    ("if", len, "invalid formula function name"),
    ("a-b", len, "invalid formula function name"),
    ("notcallable", 42, "not callable"),
])
def test_library_refuses_bad_functions(name: str, fn: Any, message: str) -> None:
    with pytest.raises(FormulaError, match=message):
        default_library().extend({name: fn})


def test_compile_accepts_a_plain_mapping() -> None:
    assert compile_formula("twice(2)", {"twice": lambda x: x * 2}).evaluate({}) == 4


def test_signature() -> None:
    assert LIB.signature("round") == "round(x, n=0)"
    assert LIB.signature("concat") == "concat(*values)"
    assert LIB.signature("today") == "today()"


def test_formula_is_immutable_and_comparable() -> None:
    f = compile_formula("a + 1", LIB)
    with pytest.raises(FrozenInstanceError):
        f.expression = "b"  # type: ignore[misc]
    assert f == compile_formula("a + 1", LIB)
    assert "a + 1" in repr(f)


def test_evaluate_from_many_threads() -> None:
    f = compile_formula("x * 2 + 1", LIB)
    errors: list[str] = []

    def work(offset: int) -> None:
        for i in range(2_000):
            if f.evaluate({"x": i + offset}) != 2 * (i + offset) + 1:
                errors.append("wrong")

    threads = [threading.Thread(target=work, args=(n * 10_000,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


UTC_NOON = datetime(2024, 7, 14, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("expression", "values", "expected"), [
    # blanks
    ("is_blank(x)", {"x": None}, True),
    ("is_blank(x)", {"x": ""}, True),
    ("is_blank(x)", {"x": []}, True),
    ("is_blank(x)", {"x": " "}, False),
    ("is_blank(x)", {"x": 0}, False),
    ("is_blank(x)", {"x": False}, False),
    ("is_not_blank(x)", {"x": ["a"]}, True),
    ("is_not_blank(missing)", {}, False),
    ("coalesce(x, y, 3)", {"x": None, "y": ""}, 3),
    ("coalesce(x)", {"x": None}, None),
    ("coalesce()", {}, None),
    # dates
    ("today()", {}, datetime.now(UTC).date()),
    ("now().tzinfo", {}, "refused"),
    ("date(2024, 2, 29)", {}, date(2024, 2, 29)),
    ("date(y, 1, 1)", {"y": None}, None),
    ("date(number('2024'), 1.0, 1)", {}, date(2024, 1, 1)),
    ("days_between(a, b)", {"a": date(2024, 1, 1), "b": date(2024, 3, 1)}, 60),
    ("days_between(a, b)", {"a": UTC_NOON, "b": date(2024, 7, 20)}, 6),
    ("days_between(a, b)", {"a": UTC_NOON, "b": UTC_NOON + timedelta(hours=13)}, 1),
    ("days_between('2024-01-01', '2024-01-31')", {}, 30),
    ("days_between('2024-01-01T23:00:00+00:00', '2024-01-02')", {}, 1),
    ("days_between(a, None)", {"a": date(2024, 1, 1)}, None),
    ("add_days(d, 10)", {"d": date(2024, 2, 25)}, date(2024, 3, 6)),
    ("add_days(d, -1)", {"d": UTC_NOON}, UTC_NOON - timedelta(days=1)),
    ("add_days(d, number('2'))", {"d": date(2024, 1, 1)}, date(2024, 1, 3)),
    ("add_days(d, n)", {"d": None, "n": 2}, None),
    ("add_days(d, n)", {"d": date(2024, 1, 1), "n": None}, None),
    ("add_months(d, 1)", {"d": date(2024, 1, 31)}, date(2024, 2, 29)),
    ("add_months(d, 1)", {"d": date(2023, 1, 31)}, date(2023, 2, 28)),
    ("add_months(d, 13)", {"d": date(2024, 12, 31)}, date(2026, 1, 31)),
    ("add_months(d, -2)", {"d": date(2024, 3, 31)}, date(2024, 1, 31)),
    ("add_months(d, -3)", {"d": date(2024, 5, 31)}, date(2024, 2, 29)),
    ("add_months(d, 1)", {"d": UTC_NOON}, UTC_NOON.replace(month=8)),
    ("add_months(d, 1)", {"d": None}, None),
    ("year(d)", {"d": date(2024, 7, 14)}, 2024),
    ("month(d)", {"d": date(2024, 7, 14)}, 7),
    ("day(d)", {"d": date(2024, 7, 14)}, 14),
    ("day(d)", {"d": None}, None),
    ("weekday(d)", {"d": date(2024, 7, 15)}, 1),
    ("weekday(d)", {"d": date(2024, 7, 14)}, 7),
    ("year('2024-07-14')", {}, 2024),
    # numbers
    ("round(x, 2)", {"x": Decimal("2.345")}, Decimal("2.35")),
    ("round(x, 2)", {"x": Decimal("-2.345")}, Decimal("-2.35")),
    ("round(x)", {"x": Decimal("2.5")}, Decimal("3")),
    ("round(x, 1)", {"x": Decimal("2")}, Decimal("2")),
    ("round(x, -2)", {"x": Decimal("1250")}, Decimal("1.3E+3")),
    ("round(2.675, 2)", {}, 2.68),
    ("round(2.5)", {}, 3.0),
    ("round(-1250, -2)", {}, -1300),
    ("round(1249, -2)", {}, 1200),
    ("round(7, 2)", {}, 7),
    ("round(x, 2)", {"x": None}, None),
    ("abs(x)", {"x": Decimal("-2.5")}, Decimal("2.5")),
    ("abs(x)", {"x": None}, None),
    ("min(3, x, 1.5, y)", {"x": None, "y": Decimal("2")}, 1.5),
    ("max(3, x, 1.5, y)", {"x": None, "y": Decimal("4")}, Decimal("4")),
    ("max(x)", {"x": [1, 5, 2]}, 5),
    ("min()", {}, None),
    ("max('b', 'a')", {}, "b"),
    ("sum(1, 2.5, x, y)", {"x": None, "y": Decimal("1")}, Decimal("4.5")),
    ("sum(x)", {"x": [1, 2, 3]}, 6),
    ("sum()", {}, 0),
    ("number('12.50')", {}, Decimal("12.50")),
    ("number(' -3 ')", {}, Decimal("-3")),
    ("number(3)", {}, Decimal("3")),
    ("number(0.1)", {}, Decimal("0.1")),
    ("number(x)", {"x": Decimal("1.5")}, Decimal("1.5")),
    ("number('')", {}, None),
    ("number(None)", {}, None),
    # text
    ("text(x)", {"x": Decimal("1.50")}, "1.50"),
    ("text(x)", {"x": Decimal("1E+3")}, "1000"),
    ("text(42)", {}, "42"),
    ("text(False)", {}, "false"),
    ("text(x)", {"x": UTC_NOON}, "2024-07-14T12:00:00+00:00"),
    ("text(x)", {"x": ["a", "b"]}, "a, b"),
    ("text(x)", {"x": None}, None),
    ("concat('a', 1, None, x, True)", {"x": Decimal("2.0")}, "a12.0true"),
    ("concat()", {}, ""),
    ("lower('AbC')", {}, "abc"),
    ("upper('AbC')", {}, "ABC"),
    ("upper(x)", {"x": None}, None),
    ("trim('  a b  ')", {}, "a b"),
    ("trim(x)", {"x": None}, None),
    ("len('abc')", {}, 3),
    ("len(x)", {"x": ["a", "b"]}, 2),
    ("len(x)", {"x": None}, 0),
    ("contains('Acme Corp', 'Corp')", {}, True),
    ("contains('Acme Corp', 'corp')", {}, False),
    ("contains(x, 2)", {"x": [Decimal("2")]}, True),
    ("contains(x, 'a')", {"x": None}, False),
    ("contains('a1', 1)", {}, True),
    ("startswith('ACME-1', 'ACME')", {}, True),
    ("startswith('ACME-1', 'X')", {}, False),
    ("startswith(x, 'A')", {"x": None}, False),
    ("left('abcdef', 2)", {}, "ab"),
    ("left('ab', 5)", {}, "ab"),
    ("left('ab', 0)", {}, ""),
    ("left('ab', -1)", {}, ""),
    ("left(x, 2)", {"x": None}, None),
    ("right('abcdef', 2)", {}, "ef"),
    ("right('abcdef', 0)", {}, ""),
    ("right(x, 2)", {"x": None}, None),
    ("substitute('a-b-c', '-', '')", {}, "abc"),
    ("substitute('abc', '', 'x')", {}, "abc"),
    ("substitute(x, 'a', 'b')", {"x": None}, None),
    ("substitute('a-b', '-', None)", {}, "ab"),
    # choices
    ("if_(x > 1, 'big', 'small')", {"x": 2}, "big"),
    ("if_(x > 1, 'big', 'small')", {"x": None}, "small"),
    ("if_(True, 1)", {}, 1),
    ("if_(False, 1)", {}, None),
    ("case(x, 'a', 1, 'b', 2)", {"x": "b"}, 2),
    ("case(x, 'a', 1, 'b', 2, 0)", {"x": "z"}, 0),
    ("case(x, 1, 'one', 0.5, 'half')", {"x": Decimal("0.5")}, "half"),
    ("case(x, None, 'blank', 'other')", {"x": None}, "blank"),
    ("case(x)", {"x": 1}, None),
    ("includes(x, 'b2b')", {"x": ["retail", "b2b"]}, True),
    ("includes(x, 'b2c')", {"x": ["retail", "b2b"]}, False),
    ("includes(x, 'b2b')", {"x": None}, False),
    ("includes(x, 'b2b')", {"x": "b2b"}, True),
])
def test_library_functions(expression: str, values: dict[str, Any], expected: Any) -> None:
    if expected == "refused":
        with pytest.raises(FormulaError):
            ev(expression, values)
        return
    result = ev(expression, values)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(("expression", "message"), [
    ("number('abc')", "number(): 'abc' is not a number"),
    ("number('nan')", "is not a number"),
    ("number('1' * 200)", "is not a number"),
    ("number(x)", "number(): expected text or a number, got date"),
    ("date(2024, 2, 30)", "date(): day is out of range for month"),
    ("date(2024, 1.5, 1)", "date(): expected a whole number, got number"),
    ("date(2024, 'x', 1)", "date(): expected a whole number, got text"),
    ("year('soon')", "year(): 'soon' is not a date"),
    ("year(5)", "year(): expected a date, got number"),
    ("days_between(1, 2)", "days_between(): expected a date, got number"),
    ("add_days(x, 10 ** 9)", "add_days(): the result is outside the calendar"),
    ("add_days(x, 1.5)", "add_days(): expected a whole number"),
    ("add_days(x, number('1E+50'))", "too large"),
    ("add_months(x, 10 ** 6)", "add_months(): the result is outside the calendar"),
    ("round('a')", "round(): expected a number, got text"),
    ("round(1.5, 200)", "round(): n must be between"),
    ("round(number('1' * 40 + '.5'))", "round(): the number is too large"),
    ("abs('a')", "abs(): expected a number, got text"),
    ("sum(1, 'a')", "sum(): expected numbers, got text"),
    ("min(1, 'a')", "cannot compare text and number"),
    ("len(5)", "len(): expected text or a list, got number"),
    ("contains(5, 5)", "contains(): expected text or a list, got number"),
    ("includes(5, 5)", "includes(): expected a list, got number"),
    ("left('abc', 'x')", "left(): expected a whole number, got text"),
])
def test_library_function_errors(expression: str, message: str) -> None:
    assert message in fails(expression, {"x": date(2024, 1, 1)})


def test_every_function_has_a_docstring_with_examples() -> None:
    for name in LIB:
        doc = LIB[name].__doc__ or ""
        assert "Examples:" in doc and "→" in doc, name


# -- docs -------------------------------------------------------------------------------


def test_every_function_is_documented() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    for name in default_library():
        assert f"{name}(" in docs, f"{name} is missing from docs/formulas.md"
        assert f"`{LIB.signature(name)}`" in docs, f"the signature of {name} is not documented"


EXAMPLE = re.compile(r"^- `(?P<formula>.+)` → `(?P<value>.+)`$", re.MULTILINE)


def test_documented_examples_hold() -> None:
    examples = EXAMPLE.findall(DOCS.read_text(encoding="utf-8"))
    assert len(examples) > len(LIB)
    for formula, shown in examples:
        result, expected = ev(formula), ev(shown)
        assert result == expected, formula
        assert type_name(result) == type_name(expected), formula
