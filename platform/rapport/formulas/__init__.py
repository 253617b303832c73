"""Formulas: safe expressions over a record's fields, with a function library.

    lib = default_library().extend({"stars": stars})
    f = compile_formula("amount * probability / 100", lib)   # parse + check once
    f.evaluate({"amount": Decimal("10"), "probability": 50})  # per record

See docs/formulas.md for the language, its blank semantics, limits and functions.
"""

from __future__ import annotations

from rapport.errors import FormulaError

from .engine import Formula, FunctionLibrary, compile_formula
from .functions import default_library

__all__ = ["Formula", "FormulaError", "FunctionLibrary", "compile_formula", "default_library"]
