"""A formula as an SQL condition, when it is simple enough to mean the same in SQL as in
the formula engine (the designer counts the records a validation rule refuses with it; a
rollup's ``filter`` formula runs in the database with it): comparisons of the object's own number, text, picklist and
boolean fields with literals, ``in`` / ``not in`` lists, ``is_blank(field)``, joined by
``and`` / ``or``. Anything else is None (the caller evaluates the rule record by record).

Blank values follow the engine: a comparison with a blank field is false, except ``!=``
and ``not in``, which are true (as ``None != 'x'`` is)."""

from __future__ import annotations

import ast
from typing import Any

from sqlalchemy import Table, and_, column, or_, table
from sqlalchemy.sql.elements import ColumnElement

from ..meta.model import NUMBER_TYPES, ObjectDef

SAFE_TYPES = NUMBER_TYPES | {"text", "email", "phone", "url", "picklist", "boolean", "textarea"}
OPS = {ast.Eq: "__eq__", ast.NotEq: "__ne__", ast.Lt: "__lt__", ast.LtE: "__le__",
       ast.Gt: "__gt__", ast.GtE: "__ge__"}


class _Unsupported(Exception):
    pass


def rule_condition(when: str, obj: ObjectDef, table: Table) -> ColumnElement[bool] | None:
    """The SQL condition true exactly for the records the rule refuses, or None."""
    try:
        tree = ast.parse(when.strip(), mode="eval")
        return _node(tree.body, obj, table)
    except (_Unsupported, SyntaxError, ValueError, RecursionError):
        return None


def rollup_condition(expression: str, obj: ObjectDef,
                     on: Table | None = None) -> ColumnElement[bool] | None:
    """A rollup's filter formula as the SQL condition on the child rows (``on``: the
    child's table; without it, a stand-in that only checks the formula translates)."""
    if on is None:
        return rule_condition(expression, obj, table(obj.name, column("id"),  # type: ignore
                                                     *(column(f.name) for f in obj.fields)))
    return rule_condition(expression, obj, on)


def field_names(expression: str, obj: ObjectDef) -> set[str]:
    """The fields of ``obj`` a condition formula reads (for what a rollup depends on)."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and obj.has_field(n.id)}


def _column(node: ast.expr, obj: ObjectDef, table: Table) -> tuple[Any, str]:
    if not isinstance(node, ast.Name) or not obj.has_field(node.id):
        raise _Unsupported
    f = obj.field(node.id)
    if f.value_type not in SAFE_TYPES or (f.type in {"formula", "rollup"} and \
            f.value_type not in NUMBER_TYPES | {"text"}):
        raise _Unsupported
    return table.c[f.name], f.value_type


def _literal(node: ast.expr, value_type: str) -> Any:
    if not isinstance(node, ast.Constant) or node.value is None:
        raise _Unsupported
    value = node.value
    numeric = value_type in NUMBER_TYPES
    if numeric and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise _Unsupported
    if value_type == "boolean" and not isinstance(value, bool):
        raise _Unsupported
    if not numeric and value_type != "boolean" and not isinstance(value, str):
        raise _Unsupported
    return value


def _node(node: ast.expr, obj: ObjectDef, table: Table) -> ColumnElement[bool]:
    if isinstance(node, ast.BoolOp):
        parts = [_node(v, obj, table) for v in node.values]
        return and_(*parts) if isinstance(node.op, ast.And) else or_(*parts)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id == "is_blank" and len(node.args) == 1 and not node.keywords:
        col, value_type = _column(node.args[0], obj, table)
        return or_(col.is_(None), col == "") if value_type not in NUMBER_TYPES | {"boolean"} \
            else col.is_(None)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and \
            isinstance(node.operand, ast.Call):
        inner = node.operand
        if isinstance(inner.func, ast.Name) and inner.func.id == "is_blank":
            col, value_type = _column(inner.args[0], obj, table) if len(inner.args) == 1 \
                else (None, "")
            if col is None:
                raise _Unsupported
            return and_(col.is_not(None), col != "") if value_type not in \
                NUMBER_TYPES | {"boolean"} else col.is_not(None)
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        op, left, right = node.ops[0], node.left, node.comparators[0]
        if isinstance(op, ast.In | ast.NotIn):
            col, value_type = _column(left, obj, table)
            if not isinstance(right, ast.Tuple | ast.List | ast.Set) or not right.elts:
                raise _Unsupported
            values = [_literal(e, value_type) for e in right.elts]
            if isinstance(op, ast.In):
                return col.in_(values)
            return or_(col.not_in(values), col.is_(None))
        if type(op) not in OPS:
            raise _Unsupported
        if isinstance(left, ast.Constant):  # 100 < budget
            left, right = right, left
            op = {ast.Lt: ast.Gt(), ast.Gt: ast.Lt(), ast.LtE: ast.GtE(),
                  ast.GtE: ast.LtE()}.get(type(op), op)
        col, value_type = _column(left, obj, table)
        value = _literal(right, value_type)
        if value_type not in NUMBER_TYPES and type(op) not in {ast.Eq, ast.NotEq}:
            raise _Unsupported  # text ordering differs between collations and Python
        condition = getattr(col, OPS[type(op)])(value)
        return or_(condition, col.is_(None)) if isinstance(op, ast.NotEq) else condition
    raise _Unsupported
