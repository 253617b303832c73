"""Compile a formula once, then evaluate it per record, fast and within limits.

A formula is a Python-syntax expression (the simpleeval dialect) over a record's
field names. ``compile_formula`` parses it, checks every node against an
allow-list and turns the checked tree into a tree of small Python closures;
``Formula.evaluate`` just calls the root closure with the record's values.

Why closures rather than ``SimpleEval.eval(expr, previously_parsed=tree)``:
simpleeval walks the tree on every call (a dict dispatch, a bound-method call
and a disallowed-item check per node, close to 1 µs a node) and keeps the names on
the evaluator instance, so one instance cannot serve two threads. Evaluate is
called per row in bulk imports, so the dispatch is done once here instead and
the per-call state lives in a small ``_Run`` object. No Python source is ever
built: the closures are fixed functions of this module, parametrised by the
checked tree. simpleeval stays the source of the dialect: its
``DEFAULT_OPERATORS`` table supplies the plain operator functions and its
``DISALLOW_FUNCTIONS`` list the callables a library refuses. Its ``safe_add`` /
``safe_mult`` / ``safe_power`` are not used because the limits here are
stricter (exponent at most 100, integers of at most 4,300 digits) and blanks
(None) propagate through arithmetic like SQL NULL.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import keyword
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, Overflow
from types import MappingProxyType
from typing import Any, Final

import simpleeval

from rapport.errors import FormulaError

__all__ = [
    "MAX_COST",
    "MAX_DEPTH",
    "MAX_DIGITS",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "MAX_NODES",
    "MAX_PATH_PARTS",
    "MAX_TEXT_LENGTH",
    "Formula",
    "FunctionLibrary",
    "add",
    "compile_formula",
    "equals",
    "less_than",
    "type_name",
]

MAX_LENGTH: Final = 4_000  # characters of formula source
MAX_NODES: Final = 500  # expression nodes (names, literals, operators, calls...)
MAX_DEPTH: Final = 50  # nesting of expression nodes
MAX_PATH_PARTS: Final = 3  # account.owner.email
MAX_EXPONENT: Final = 100  # largest |b| in a ** b
MAX_DIGITS: Final = 4_300  # largest integer result, in decimal digits
MAX_TEXT_LENGTH: Final = 100_000  # longest text a formula may build (= simpleeval.MAX_STRING_LENGTH)
MAX_COST: Final = 10_000  # node evaluations per evaluate call

Value = Any
Function = Callable[..., Any]
Node = Callable[["_Run"], Any]

_INT_LIMIT: Final = 10**MAX_DIGITS  # |int result| must stay below this
_INT_BITS: Final = _INT_LIMIT.bit_length()
_NUMBER: Final = (int, float, Decimal)  # bool is an int
_LISTS: Final = (list, tuple, set, frozenset)
_CONSTANT_TYPES: Final = (int, float, str, bool, type(None))
_FUNCTION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_OPS = simpleeval.DEFAULT_OPERATORS  # read once, at import, to build the tables below


# -- value semantics ------------------------------------------------------------


def type_name(value: Value) -> str:
    """The user-facing name of a value's type, for error messages."""
    if value is None:
        return "blank"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, _NUMBER):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, _LISTS):
        return "list"
    return type(value).__name__


def _too_large() -> FormulaError:
    return FormulaError(f"number too large (more than {MAX_DIGITS} digits)")


def _too_long() -> FormulaError:
    return FormulaError(f"text too long (more than {MAX_TEXT_LENGTH:,} characters)")


def _division_by_zero() -> FormulaError:
    return FormulaError("division by zero")


def _coerce(a: Value, b: Value) -> tuple[Value, Value]:
    """Mix a float with a Decimal through its shortest text: 0.1 -> Decimal('0.1')."""
    if isinstance(a, float) and isinstance(b, Decimal):
        return Decimal(str(a)), b
    if isinstance(b, float) and isinstance(a, Decimal):
        return a, Decimal(str(b))
    return a, b


def _short(value: Value) -> str:
    text = str(value)
    return text if len(text) <= 30 else text[:27] + "..."


@dataclass(frozen=True)
class _Arith:
    """One arithmetic operator: its number function and, for + and *, its text one."""

    symbol: str
    verb: str
    number: Callable[[Value, Value], Value]
    text: Callable[[Value, Value], Value] | None = None


def _checked_number(op: _Arith, a: Value, b: Value) -> Value:
    try:
        result = op.number(a, b)
    except ZeroDivisionError:  # includes decimal.DivisionByZero / DivisionUndefined
        raise _division_by_zero() from None
    except (OverflowError, Overflow):
        raise _too_large() from None
    except ArithmeticError:  # decimal.InvalidOperation and friends
        raise FormulaError(f"invalid arithmetic: {_short(a)} {op.symbol} {_short(b)}") from None
    except TypeError:
        raise FormulaError(f"cannot {op.verb} {type_name(a)} and {type_name(b)}") from None
    if type(result) is int:
        if -_INT_LIMIT < result < _INT_LIMIT:
            return result
        raise _too_large()
    if isinstance(result, complex):
        raise FormulaError(f"({_short(a)}) {op.symbol} {_short(b)} is not a real number")
    return result


def _arith(op: _Arith, a: Value, b: Value) -> Value:
    """The general (slow) path of every arithmetic operator."""
    if a is None or b is None:
        return None
    if isinstance(a, _NUMBER) and isinstance(b, _NUMBER):
        a, b = _coerce(a, b)
        return _checked_number(op, a, b)
    if op.text is not None and (isinstance(a, str) or isinstance(b, str)):
        result = op.text(a, b)
        if result is not NotImplemented:
            return result
    raise FormulaError(f"cannot {op.verb} {type_name(a)} and {type_name(b)}")


def _divide(fn: Callable[[Value, Value], Value]) -> Callable[[Value, Value], Value]:
    def divide(a: Value, b: Value) -> Value:
        if b == 0:
            raise _division_by_zero()
        return fn(a, b)

    return divide


def _power(a: Value, b: Value) -> Value:
    if abs(b) > MAX_EXPONENT:
        raise FormulaError(f"exponent too large: {_short(b)} (at most {MAX_EXPONENT})")
    if isinstance(a, int) and isinstance(b, int) and b > 0 and (a.bit_length() - 1) * b >= _INT_BITS:
        raise _too_large()  # |a ** b| >= 2 ** _INT_BITS > 10 ** MAX_DIGITS; else cheap to compute
    return operator.pow(a, b)


def _join_text(a: Value, b: Value) -> Value:
    if isinstance(a, str) and isinstance(b, str):
        if len(a) + len(b) > MAX_TEXT_LENGTH:
            raise _too_long()
        return a + b
    return NotImplemented


def _repeat_text(a: Value, b: Value) -> Value:
    text, times = (a, b) if isinstance(a, str) else (b, a)
    if not isinstance(text, str) or not isinstance(times, int):
        return NotImplemented
    if times > 0 and len(text) * times > MAX_TEXT_LENGTH:
        raise _too_long()
    return text * times


_ADD = _Arith("+", "add", operator.add, _join_text)
_SUB = _Arith("-", "subtract", _OPS[ast.Sub])
_MUL = _Arith("*", "multiply", operator.mul, _repeat_text)
_DIV = _Arith("/", "divide", _divide(_OPS[ast.Div]))
_FLOORDIV = _Arith("//", "divide", _divide(_OPS[ast.FloorDiv]))
_MOD = _Arith("%", "take the remainder of", _divide(_OPS[ast.Mod]))
_POW = _Arith("**", "raise", _power)


# The binary operators, each with a fast path for two operands of one numeric type.


def add(a: Value, b: Value) -> Value:
    """a + b with blanks, Decimal/float mixing and the size limits."""
    t, u = type(a), type(b)
    if t is u:
        if t is int:
            r = a + b
            if -_INT_LIMIT < r < _INT_LIMIT:
                return r
            raise _too_large()
        if t is Decimal or t is float:
            return a + b
    elif (t is Decimal and u is int) or (t is int and u is Decimal):
        return a + b
    return _arith(_ADD, a, b)


def _sub(a: Value, b: Value) -> Value:
    t, u = type(a), type(b)
    if t is u:
        if t is int:
            r = a - b
            if -_INT_LIMIT < r < _INT_LIMIT:
                return r
            raise _too_large()
        if t is Decimal or t is float:
            return a - b
    elif (t is Decimal and u is int) or (t is int and u is Decimal):
        return a - b
    return _arith(_SUB, a, b)


def _mul(a: Value, b: Value) -> Value:
    t, u = type(a), type(b)
    if t is u:
        if t is int:
            r = a * b
            if -_INT_LIMIT < r < _INT_LIMIT:
                return r
            raise _too_large()
        if t is Decimal or t is float:
            return a * b
    elif (t is Decimal and u is int) or (t is int and u is Decimal):
        return a * b
    return _arith(_MUL, a, b)


def _truediv(a: Value, b: Value) -> Value:
    t, u = type(a), type(b)
    if (t is Decimal or t is float) and (u is t or u is int) and b:
        return a / b
    return _arith(_DIV, a, b)


def _floordiv(a: Value, b: Value) -> Value:
    return _arith(_FLOORDIV, a, b)


def _mod(a: Value, b: Value) -> Value:
    return _arith(_MOD, a, b)


def _pow(a: Value, b: Value) -> Value:
    return _arith(_POW, a, b)


_BINARY: Final[Mapping[type[ast.operator], Callable[[Value, Value], Value]]] = MappingProxyType({
    ast.Add: add, ast.Sub: _sub, ast.Mult: _mul, ast.Div: _truediv,
    ast.FloorDiv: _floordiv, ast.Mod: _mod, ast.Pow: _pow,
})


def _unary(verb: str, fn: Callable[[Value], Value]) -> Callable[[Value], Value]:
    def apply(a: Value) -> Value:
        t = type(a)
        if t is int or t is Decimal or t is float:
            return fn(a)
        if a is None:
            return None
        if isinstance(a, _NUMBER):
            return fn(a)
        raise FormulaError(f"cannot {verb} {type_name(a)}")

    return apply


_UNARY: Final[Mapping[type[ast.unaryop], Callable[[Value], Value]]] = MappingProxyType({
    ast.USub: _unary("negate", _OPS[ast.USub]),
    ast.UAdd: _unary("apply unary + to", _OPS[ast.UAdd]),
    ast.Not: _OPS[ast.Not],
})


def equals(a: Value, b: Value) -> bool:
    """a == b; blank equals only blank; a float equals the Decimal of its text."""
    if type(a) is type(b):
        return bool(a == b)
    if a is None or b is None:
        return False
    a, b = _coerce(a, b)
    return bool(a == b)


def _not_equals(a: Value, b: Value) -> bool:
    return not equals(a, b)


def _ordering(symbol: str, fn: Callable[[Value, Value], Any]) -> Callable[[Value, Value], bool]:
    def compare(a: Value, b: Value) -> bool:
        if a is None or b is None:
            return False
        if type(a) is not type(b):
            a, b = _coerce(a, b)
        try:
            return bool(fn(a, b))
        except TypeError:
            raise FormulaError(f"cannot compare {type_name(a)} and {type_name(b)}") from None

    compare.__name__ = f"compare_{symbol}"
    return compare


less_than = _ordering("<", _OPS[ast.Lt])


def _member(value: Value, options: Value) -> bool:
    """value in options; options is a frozenset of literals or a tuple of values."""
    if type(options) is frozenset:
        try:
            return value in options
        except TypeError:  # an unhashable value (a list) is none of the literals
            return False
    return any(equals(value, option) for option in options)


def _not_member(value: Value, options: Value) -> bool:
    return not _member(value, options)


def _is(a: Value, b: Value) -> bool:
    return a is b


def _is_not(a: Value, b: Value) -> bool:
    return a is not b


_COMPARE: Final[Mapping[type[ast.cmpop], Callable[[Value, Value], bool]]] = MappingProxyType({
    ast.Eq: equals, ast.NotEq: _not_equals,
    ast.Lt: less_than, ast.LtE: _ordering("<=", _OPS[ast.LtE]),
    ast.Gt: _ordering(">", _OPS[ast.Gt]), ast.GtE: _ordering(">=", _OPS[ast.GtE]),
    ast.In: _member, ast.NotIn: _not_member, ast.Is: _is, ast.IsNot: _is_not,
})

_SYMBOLS: Final[Mapping[type[ast.AST], str]] = MappingProxyType({
    ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&",
    ast.MatMult: "@", ast.Invert: "~",
})


# -- the function library -------------------------------------------------------


def _check_function(name: str, fn: Any) -> inspect.Signature | None:
    if not isinstance(name, str) or not _FUNCTION_NAME.match(name) or keyword.iskeyword(name):
        raise FormulaError(f"invalid formula function name {name!r}")
    if not callable(fn):
        raise FormulaError(f"formula function {name!r} is not callable")
    try:
        forbidden = fn in simpleeval.DISALLOW_FUNCTIONS
    except TypeError:  # unhashable callable object
        forbidden = False
    if forbidden:
        raise FormulaError(f"formula function {name!r} is not allowed ({fn!r})")
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have no signature
        return None


class FunctionLibrary(Mapping[str, Function]):
    """An immutable set of named functions a formula may call.

    ``default_library()`` gives the built-in one; ``extend`` returns a new
    library with more functions (plugins register theirs this way).
    """

    __slots__ = ("_functions", "_signatures")

    def __init__(self, functions: Mapping[str, Function] | None = None) -> None:
        items = dict(functions or {})
        self._signatures = MappingProxyType(
            {name: _check_function(name, fn) for name, fn in items.items()})
        self._functions: Mapping[str, Function] = MappingProxyType(items)

    def extend(self, functions: Mapping[str, Function], *, replace: bool = False
               ) -> FunctionLibrary:
        """A new library with ``functions`` added; a name clash is refused unless ``replace``."""
        clashes = sorted(set(functions) & set(self._functions))
        if clashes and not replace:
            raise FormulaError(f"formula function {clashes[0]!r} is already defined")
        return FunctionLibrary({**self._functions, **functions})

    def signature(self, name: str) -> str:
        """How the function is called, as shown in docs and the formula editor: ``round(x, n=0)``."""
        sig = self._signatures[name]
        if sig is None:
            return f"{name}(...)"
        plain = sig.replace(return_annotation=sig.empty, parameters=[
            p.replace(annotation=p.empty) for p in sig.parameters.values()])
        return f"{name}{plain}"

    def check_call(self, name: str, positional: int, keywords: tuple[str, ...]) -> None:
        """Refuse a call that cannot bind to the function's parameters."""
        sig = self._signatures[name]
        if sig is None:
            return
        try:
            sig.bind(*range(positional), **dict.fromkeys(keywords))
        except TypeError as exc:
            raise FormulaError(f"{name}(): {exc}") from None

    def __getitem__(self, name: str) -> Function:
        return self._functions[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._functions)

    def __len__(self) -> int:
        return len(self._functions)

    def __contains__(self, name: object) -> bool:
        return name in self._functions

    # A library is a value with identity: hashable, so callers may key caches on it.
    __hash__ = object.__hash__

    def __eq__(self, other: object) -> bool:
        return self is other

    def __repr__(self) -> str:
        return f"<FunctionLibrary of {len(self._functions)} functions>"


# -- evaluation -----------------------------------------------------------------


class _Run:
    """The state of one evaluate call: the record's values, the lookup and the budget."""

    __slots__ = ("budget", "get", "values")

    def __init__(self, values: Mapping[str, Value], get: Callable[[str], Value] | None):
        self.values = values
        self.get = get
        self.budget = MAX_COST

    def missing(self, name: str) -> Value:
        if self.get is None:
            return None
        try:
            return self.get(name)
        except FormulaError:
            raise
        except Exception as exc:
            raise FormulaError(f"cannot read {name}: {exc}") from exc


def _too_expensive() -> FormulaError:
    return FormulaError("formula too expensive")


_NO_VALUES: Final[Mapping[str, Value]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Formula:
    """A checked formula, ready to evaluate against many records.

    ``names`` are the record names it reads (dotted lookup paths kept whole,
    ``account.industry``); ``functions`` the library functions it calls.
    """

    expression: str
    names: frozenset[str]
    functions: frozenset[str]
    _root: Node = field(repr=False, compare=False)

    def evaluate(self, values: Mapping[str, Value] = _NO_VALUES,
                 get: Callable[[str], Value] | None = None) -> Value:
        """The formula's value for one record.

        A name missing from ``values`` is read with ``get(name)`` when given
        (lazy lookups such as ``account.industry``), else it is blank (None).
        Raises FormulaError, and nothing else, on any problem.
        """
        try:
            return self._root(_Run(values, get))
        except FormulaError:
            raise
        except RecursionError:
            raise FormulaError("formula is nested too deeply") from None
        except ZeroDivisionError:
            raise _division_by_zero() from None
        except (OverflowError, Overflow):
            raise _too_large() from None
        except ArithmeticError:
            raise FormulaError("invalid arithmetic") from None
        except Exception as exc:
            raise FormulaError(f"cannot evaluate formula: {exc}") from exc


def _name(key: str) -> Node:
    def name(run: _Run) -> Value:
        try:
            return run.values[key]
        except KeyError:
            return run.missing(key)

    return name


def _constant(value: Value) -> Node:
    def constant(run: _Run) -> Value:
        return value

    return constant


def _binary(fn: Callable[[Value, Value], Value], left: Node, right: Node, cost: int) -> Node:
    def binary(run: _Run) -> Value:
        run.budget -= cost
        if run.budget < 0:
            raise _too_expensive()
        return fn(left(run), right(run))

    return binary


def _unary_node(fn: Callable[[Value], Value], operand: Node, cost: int) -> Node:
    def unary(run: _Run) -> Value:
        run.budget -= cost
        if run.budget < 0:
            raise _too_expensive()
        return fn(operand(run))

    return unary


def _and(operands: tuple[Node, ...], cost: int) -> Node:
    def and_(run: _Run) -> Value:
        run.budget -= cost
        if run.budget < 0:
            raise _too_expensive()
        for operand in operands:
            value = operand(run)
            if not value:
                return value
        return value

    return and_


def _or(operands: tuple[Node, ...], cost: int) -> Node:
    def or_(run: _Run) -> Value:
        run.budget -= cost
        if run.budget < 0:
            raise _too_expensive()
        for operand in operands:
            value = operand(run)
            if value:
                return value
        return value

    return or_


def _if(test: Node, body: Node, orelse: Node, cost: int) -> Node:
    def if_(run: _Run) -> Value:
        run.budget -= cost
        if run.budget < 0:
            raise _too_expensive()
        return body(run) if test(run) else orelse(run)

    return if_


def _chain(left: Node, steps: tuple[tuple[Callable[[Value, Value], bool], Node], ...],
           cost: int) -> Node:
    def chain(run: _Run) -> bool:
        run.budget -= cost
        if run.budget < 0:
            raise _too_expensive()
        a = left(run)
        for compare, right in steps:
            b = right(run)
            if not compare(a, b):
                return False
            a = b
        return True

    return chain


def _sequence(kind: type, items: tuple[Node, ...], cost: int) -> Node:
    def sequence(run: _Run) -> Value:
        run.budget -= cost
        if run.budget < 0:
            raise _too_expensive()
        return kind([item(run) for item in items])

    return sequence


def _result(value: Value) -> Value:
    """A function's result, within the size limits."""
    t = type(value)
    if t is str:
        if len(value) > MAX_TEXT_LENGTH:
            raise _too_long()
    elif t is int and not -_INT_LIMIT < value < _INT_LIMIT:
        raise _too_large()
    return value


def _failed(name: str, exc: Exception) -> FormulaError:
    if isinstance(exc, ZeroDivisionError):
        return FormulaError(f"{name}(): division by zero")
    if isinstance(exc, RecursionError):
        return FormulaError(f"{name}(): too deeply nested")
    return FormulaError(f"{name}(): {str(exc) or type(exc).__name__}")


def _call(name: str, fn: Function, args: tuple[Node, ...],
          keywords: tuple[tuple[str, Node], ...], cost: int) -> Node:
    if keywords:
        def call_keywords(run: _Run) -> Value:
            run.budget -= cost
            if run.budget < 0:
                raise _too_expensive()
            values = [arg(run) for arg in args]
            named = {key: arg(run) for key, arg in keywords}
            try:
                value = fn(*values, **named)
            except FormulaError:
                raise
            except Exception as exc:
                raise _failed(name, exc) from exc
            return _result(value)

        return call_keywords
    if len(args) == 1:
        (only,) = args

        def call_one(run: _Run) -> Value:
            run.budget -= cost
            if run.budget < 0:
                raise _too_expensive()
            a = only(run)
            try:
                value = fn(a)
            except FormulaError:
                raise
            except Exception as exc:
                raise _failed(name, exc) from exc
            return _result(value)

        return call_one

    def call(run: _Run) -> Value:
        run.budget -= cost
        if run.budget < 0:
            raise _too_expensive()
        values = [arg(run) for arg in args]
        try:
            value = fn(*values)
        except FormulaError:
            raise
        except Exception as exc:
            raise _failed(name, exc) from exc
        return _result(value)

    return call


# -- compiling ------------------------------------------------------------------


_REFUSED: Final[Mapping[type[ast.AST], str]] = MappingProxyType({
    ast.Subscript: "indexing with [] is not allowed",
    ast.Slice: "slicing is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed",
    ast.NamedExpr: "assignment (:=) is not allowed",
    ast.JoinedStr: "f-strings are not allowed; use concat()",
    ast.FormattedValue: "f-strings are not allowed; use concat()",
    ast.Starred: "* unpacking is not allowed",
    ast.Dict: "dict literals are not allowed",
    ast.Set: "set literals are not allowed; use a tuple like ('a', 'b')",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
})

_STATEMENTS: Final[Mapping[type[ast.AST], str]] = MappingProxyType({
    ast.Import: "import is not allowed",
    ast.ImportFrom: "import is not allowed",
    ast.Assign: "assignment is not allowed (use == to compare)",
    ast.AugAssign: "assignment is not allowed",
    ast.AnnAssign: "assignment is not allowed",
})


def _lines(source: str) -> list[str]:
    """The lines as Python's tokenizer counts them (str.splitlines knows more breaks)."""
    return re.split(r"\r\n|\r|\n", source)


def _is_leaf(node: ast.expr) -> bool:
    return isinstance(node, ast.Name | ast.Constant | ast.Attribute)


class _Compiler:
    """Checks a parsed expression node by node and builds its closures."""

    def __init__(self, source: str, shift: int, library: FunctionLibrary):
        self.lines = _lines(source)
        self.shift = shift
        self.library = library
        self.names: set[str] = set()
        self.functions: set[str] = set()
        self.count = 0

    def where(self, node: ast.AST) -> str:
        lineno = getattr(node, "lineno", None)
        offset = getattr(node, "col_offset", None)
        if lineno is None or offset is None or lineno > len(self.lines):
            return ""
        line = self.lines[lineno - 1]
        column = len(line.encode()[:offset].decode(errors="ignore")) + 1
        if lineno == 1:
            return f" at column {column + self.shift}"
        return f" at line {lineno}, column {column}"

    def fail(self, node: ast.AST, message: str) -> FormulaError:
        return FormulaError(message + self.where(node))

    def cost(self, *children: ast.expr) -> int:
        """1 for the node plus its leaf children, which do not count themselves."""
        return 1 + sum(1 for child in children if _is_leaf(child))

    def build(self, node: ast.expr, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise self.fail(node, f"formula nested too deeply (more than {MAX_DEPTH} levels)")
        self.count += 1
        if self.count > MAX_NODES:
            raise FormulaError(f"formula too long (more than {MAX_NODES} parts)")
        depth += 1
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name | ast.Attribute):
            return _name(self.path(node))
        if isinstance(node, ast.BinOp):
            fn = _BINARY.get(type(node.op))
            if fn is None:
                raise self.refused_operator(node, node.op)
            return _binary(fn, self.build(node.left, depth), self.build(node.right, depth),
                           self.cost(node.left, node.right))
        if isinstance(node, ast.UnaryOp):
            return self.unary(node, depth)
        if isinstance(node, ast.BoolOp):
            operands = tuple(self.build(value, depth) for value in node.values)
            make = _and if isinstance(node.op, ast.And) else _or
            return make(operands, self.cost(*node.values))
        if isinstance(node, ast.Compare):
            return self.compare(node, depth)
        if isinstance(node, ast.IfExp):
            return _if(self.build(node.test, depth), self.build(node.body, depth),
                       self.build(node.orelse, depth),
                       self.cost(node.test, node.body, node.orelse))
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        if isinstance(node, ast.Tuple | ast.List):
            kind = tuple if isinstance(node, ast.Tuple) else list
            items = tuple(self.build(item, depth) for item in node.elts)
            return _sequence(kind, items, self.cost(*node.elts))
        message = _REFUSED.get(type(node), f"{type(node).__name__} is not allowed")
        raise self.fail(node, message)

    def constant(self, node: ast.Constant) -> Node:
        if type(node.value) not in _CONSTANT_TYPES:
            kind = type(node.value).__name__
            raise self.fail(node, f"{kind} literals are not allowed")
        return _constant(node.value)

    def path(self, node: ast.Name | ast.Attribute) -> str:
        parts: list[str] = []
        current: ast.expr = node
        while isinstance(current, ast.Attribute):
            parts.append(current.attr)
            current = current.value
        if not isinstance(current, ast.Name):
            raise self.fail(node, "attribute access is not allowed; only record paths like "
                                  "account.industry")
        parts.append(current.id)
        parts.reverse()
        for part in parts:
            if part.startswith("_"):
                raise self.fail(node, f"names starting with '_' are not allowed ({part})")
        if len(parts) > MAX_PATH_PARTS:
            raise self.fail(node, f"record path too long: {'.'.join(parts)} "
                                  f"(at most {MAX_PATH_PARTS} parts)")
        key = ".".join(parts)
        self.names.add(key)
        return key

    def refused_operator(self, node: ast.AST, op: ast.AST) -> FormulaError:
        symbol = _SYMBOLS.get(type(op), type(op).__name__)
        return self.fail(node, f"operator '{symbol}' is not allowed")

    def unary(self, node: ast.UnaryOp, depth: int) -> Node:
        fn = _UNARY.get(type(node.op))
        if fn is None:
            raise self.refused_operator(node, node.op)
        operand = node.operand
        if (isinstance(node.op, ast.USub | ast.UAdd) and isinstance(operand, ast.Constant)
                and type(operand.value) in (int, float)):
            self.count += 1
            return _constant(fn(operand.value))  # -1 is a literal, not an operation
        return _unary_node(fn, self.build(operand, depth), self.cost(operand))

    def compare(self, node: ast.Compare, depth: int) -> Node:
        left = self.build(node.left, depth)
        steps: list[tuple[Callable[[Value, Value], bool], Node]] = []
        cost = self.cost(node.left, *node.comparators)
        for op, right in zip(node.ops, node.comparators, strict=True):
            fn = _COMPARE[type(op)]
            if isinstance(op, ast.In | ast.NotIn):
                steps.append((fn, self.options(right, depth)))
                cost += len(getattr(right, "elts", ()))
            elif isinstance(op, ast.Is | ast.IsNot):
                if not (isinstance(right, ast.Constant) and right.value is None):
                    raise self.fail(node, "'is' only compares with None; use == or is_blank()")
                steps.append((fn, self.build(right, depth)))
            else:
                steps.append((fn, self.build(right, depth)))
        if len(steps) == 1:
            return _binary(steps[0][0], left, steps[0][1], cost)
        return _chain(left, tuple(steps), cost)

    def options(self, node: ast.expr, depth: int) -> Node:
        """The right side of ``in``: a tuple or list literal."""
        if not isinstance(node, ast.Tuple | ast.List):
            raise self.fail(node, "the right side of 'in' must be a list like ('a', 'b'); "
                                  "use contains() or includes() for fields")
        literal = all(isinstance(item, ast.Constant) for item in node.elts)
        if literal and not any(isinstance(item.value, float) for item in node.elts):  # type: ignore[attr-defined]
            for item in node.elts:
                self.build(item, depth + 1)  # checked and counted like any literal
            self.count += 1
            return _constant(frozenset(item.value for item in node.elts))  # type: ignore[attr-defined]
        items = tuple(self.build(item, depth + 1) for item in node.elts)
        self.count += 1
        return _sequence(tuple, items, self.cost(*node.elts))

    def call(self, node: ast.Call, depth: int) -> Node:
        func = node.func
        if not isinstance(func, ast.Name):
            raise self.fail(node, "only library functions can be called, like round(amount, 2)")
        name = func.id
        if name.startswith("_"):
            raise self.fail(node, f"names starting with '_' are not allowed ({name})")
        if name not in self.library:
            close = difflib.get_close_matches(name, list(self.library), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise self.fail(node, f"unknown function '{name}'{hint}")
        args = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.fail(arg, "* unpacking is not allowed")
            args.append(self.build(arg, depth))
        keywords = []
        for kw in node.keywords:
            if kw.arg is None:
                raise self.fail(kw.value, "** unpacking is not allowed")
            if kw.arg.startswith("_"):
                raise self.fail(kw.value, f"names starting with '_' are not allowed ({kw.arg})")
            keywords.append((kw.arg, self.build(kw.value, depth)))
        try:
            self.library.check_call(name, len(args), tuple(key for key, _ in keywords))
        except FormulaError as exc:
            raise self.fail(node, str(exc)) from None
        self.functions.add(name)
        cost = self.cost(*node.args, *(kw.value for kw in node.keywords))
        return _call(name, self.library[name], tuple(args), tuple(keywords), cost)


def _syntax_error(exc: SyntaxError, source: str, shift: int) -> FormulaError:
    lines = _lines(source)
    lineno = exc.lineno or 1
    offset = exc.offset or 0
    if offset <= 0 and lineno <= len(lines):
        offset = len(lines[lineno - 1]) + 1  # the error is at the end of the line
    where = f"column {offset + shift}" if lineno == 1 else f"line {lineno}, column {offset}"
    return FormulaError(f"syntax error at {where}: {exc.msg}")


def _statement_error(source: str, shift: int) -> FormulaError | None:
    """A clearer message when the text is a statement (import, assignment...)."""
    try:
        body = ast.parse(source).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if len(body) > 1:
        return FormulaError("a formula is a single expression")
    if body and type(body[0]) in _STATEMENTS:
        column = body[0].col_offset + 1 + shift
        return FormulaError(f"{_STATEMENTS[type(body[0])]} at column {column}")
    if body and not isinstance(body[0], ast.Expr):
        return FormulaError(f"{type(body[0]).__name__.lower()} statements are not allowed; "
                            "a formula is a single expression")
    return None


def _parse(expression: str) -> tuple[ast.expr, str, int]:
    if not isinstance(expression, str):
        raise FormulaError(f"a formula must be text, not {type(expression).__name__}")
    if len(expression) > MAX_LENGTH:
        raise FormulaError(f"formula too long ({len(expression):,} characters; "
                           f"at most {MAX_LENGTH:,})")
    if not expression.strip():
        raise FormulaError("empty formula")
    source = expression.lstrip(" \t")
    shift = len(expression) - len(source)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:  # IndentationError included
        raise (_statement_error(source, shift) or _syntax_error(exc, source, shift)) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        # null bytes; a parser stack or recursion overflow on pathological nesting
        reason = "formula nested too deeply" if not isinstance(exc, ValueError) else str(exc)
        raise FormulaError(f"syntax error: {reason}") from None
    return tree.body, source, shift


def compile_formula(expression: str, library: FunctionLibrary | Mapping[str, Function]
                    ) -> Formula:
    """Parse and check ``expression`` once; raise FormulaError when it is not allowed."""
    if not isinstance(library, FunctionLibrary):
        library = FunctionLibrary(library)
    body, source, shift = _parse(expression)
    compiler = _Compiler(source, shift, library)
    try:
        root = compiler.build(body, 1)
    except RecursionError:  # cannot happen below MAX_DEPTH, but never leak it
        raise FormulaError("formula nested too deeply") from None
    return Formula(expression, frozenset(compiler.names), frozenset(compiler.functions), root)
