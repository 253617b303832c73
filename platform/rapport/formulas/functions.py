"""The built-in formula functions.

Each function receives already evaluated arguments: dates as ``datetime.date``,
datetimes as aware ``datetime.datetime``, currency and decimals as ``Decimal``,
percents as numbers 0..100, multi-picklists as lists. They are blank-safe: a
blank (None) argument gives a blank result where that makes sense. Wrong input
raises FormulaError with a message naming the function. The docstrings are the
reference in docs/formulas.md, examples included (a test evaluates them).
"""

from __future__ import annotations

import calendar
import functools
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from datetime import date as Date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Final

from rapport.errors import FormulaError

from .engine import (
    MAX_TEXT_LENGTH,
    Function,
    FunctionLibrary,
    add,
    equals,
    less_than,
    type_name,
)

__all__ = ["BUILTIN_FUNCTIONS", "default_library"]

_LISTS: Final = (list, tuple, set, frozenset)
_MAX_PLACES: Final = 100  # round(x, n): |n| at most this


# -- helpers --------------------------------------------------------------------


def _expected(fn: str, what: str, value: Any) -> FormulaError:
    return FormulaError(f"{fn}(): expected {what}, got {type_name(value)}")


def _whole(fn: str, value: Any) -> int:
    """A whole number argument (a count of days, months, characters...)."""
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if (isinstance(value, Decimal) and value.is_finite()
            and value == value.to_integral_value()):
        if value.adjusted() > 18:
            raise FormulaError(f"{fn}(): {value} is too large")
        return int(value)
    raise _expected(fn, "a whole number", value)


def _as_date(fn: str, value: Any) -> Date | None:
    """A calendar date; a datetime counts by its UTC date, text must be ISO 8601."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.date()
    if isinstance(value, Date):
        return value
    if isinstance(value, str):
        return _as_date(fn, _parse_date(fn, value))
    raise _expected(fn, "a date", value)


def _as_moment(fn: str, value: Any) -> Date | None:
    """A date or a datetime, kept as it is (text is parsed as ISO 8601)."""
    if value is None or isinstance(value, Date):
        return value
    if isinstance(value, str):
        return _parse_date(fn, value)
    raise _expected(fn, "a date", value)


def _parse_date(fn: str, text: str) -> Date:
    text = text.strip()
    try:
        return Date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise FormulaError(f"{fn}(): {text[:30]!r} is not a date (use YYYY-MM-DD)") from None


def _flatten(values: Iterable[Any]) -> Iterable[Any]:
    for value in values:
        if isinstance(value, _LISTS):
            yield from value
        else:
            yield value


def _text(value: Any) -> str:
    """The text form of a value (blank becomes empty text)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        if value.is_finite() and -100 <= value.as_tuple().exponent <= 100:  # type: ignore[operator]
            return format(value, "f")
        return str(value)
    if isinstance(value, Date):
        return value.isoformat()
    if isinstance(value, _LISTS):
        parts: list[str] = []
        size = 0
        for item in value:
            part = _text(item)
            size += len(part) + 2
            if size > MAX_TEXT_LENGTH:
                raise FormulaError("text(): text too long")
            parts.append(part)
        return ", ".join(parts)
    return str(value)


def _in_list(items: Any, value: Any) -> bool:
    return any(equals(item, value) for item in items)


# -- blanks ---------------------------------------------------------------------


def is_blank(value: Any) -> bool:
    """True when the value is blank: None, empty text or an empty list.

    Examples:
    ``is_blank('')`` → ``True``
    ``is_blank(0)`` → ``False``
    """
    if value is None:
        return True
    if isinstance(value, str | list | tuple | set | frozenset):
        return not value
    return False


def is_not_blank(value: Any) -> bool:
    """True when the value is not blank (the opposite of is_blank).

    Examples:
    ``is_not_blank('Acme')`` → ``True``
    ``is_not_blank(None)`` → ``False``
    """
    return not is_blank(value)


def coalesce(*values: Any) -> Any:
    """The first value that is not blank; blank when all are.

    Examples:
    ``coalesce(None, '', 'fallback')`` → ``'fallback'``
    ``coalesce(None, 0, 5)`` → ``0``
    """
    for value in values:
        if not is_blank(value):
            return value
    return None


# -- dates ----------------------------------------------------------------------


def today() -> Date:
    """Today's date (in UTC).

    Examples:
    ``days_between(today(), add_days(today(), 7))`` → ``7``
    """
    return datetime.now(UTC).date()


def now() -> datetime:
    """The current moment, as a datetime in UTC.

    Examples:
    ``is_blank(now())`` → ``False``
    """
    return datetime.now(UTC)


def date(year: Any, month: Any, day: Any) -> Date | None:
    """The date of the given year, month (1-12) and day; blank if any part is blank.

    Examples:
    ``date(2024, 2, 29)`` → ``date(2024, 2, 29)``
    ``year(date(2024, 2, 29))`` → ``2024``
    """
    if year is None or month is None or day is None:
        return None
    try:
        return Date(_whole("date", year), _whole("date", month), _whole("date", day))
    except (ValueError, OverflowError) as exc:
        raise FormulaError(f"date(): {exc}") from None


def days_between(start: Any, end: Any) -> int | None:
    """Calendar days from start to end (end - start); datetimes count by their UTC date.

    Examples:
    ``days_between(date(2024, 1, 1), date(2024, 3, 1))`` → ``60``
    ``days_between(date(2024, 3, 1), date(2024, 1, 1))`` → ``-60``
    ``days_between(None, date(2024, 1, 1))`` → ``None``
    """
    a, b = _as_date("days_between", start), _as_date("days_between", end)
    if a is None or b is None:
        return None
    return (b - a).days


def add_days(value: Any, days: Any) -> Date | None:
    """The date (or datetime) moved by a whole number of days, back when negative.

    Examples:
    ``add_days(date(2024, 2, 28), 2)`` → ``date(2024, 3, 1)``
    ``add_days(date(2024, 1, 1), -1)`` → ``date(2023, 12, 31)``
    """
    moment = _as_moment("add_days", value)
    if moment is None or days is None:
        return None
    try:
        return moment + timedelta(days=_whole("add_days", days))
    except OverflowError:
        raise FormulaError("add_days(): the result is outside the calendar") from None


def add_months(value: Any, months: Any) -> Date | None:
    """The date (or datetime) moved by whole months; the day is clamped to the month's end.

    Examples:
    ``add_months(date(2024, 1, 31), 1)`` → ``date(2024, 2, 29)``
    ``add_months(date(2024, 3, 15), -3)`` → ``date(2023, 12, 15)``
    """
    moment = _as_moment("add_months", value)
    if moment is None or months is None:
        return None
    year, month = divmod(moment.year * 12 + moment.month - 1 + _whole("add_months", months), 12)
    if not 1 <= year <= 9999:
        raise FormulaError("add_months(): the result is outside the calendar")
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def year(value: Any) -> int | None:
    """The year of a date.

    Examples:
    ``year(date(2024, 7, 14))`` → ``2024``
    """
    d = _as_date("year", value)
    return None if d is None else d.year


def month(value: Any) -> int | None:
    """The month of a date, 1 (January) to 12.

    Examples:
    ``month(date(2024, 7, 14))`` → ``7``
    """
    d = _as_date("month", value)
    return None if d is None else d.month


def day(value: Any) -> int | None:
    """The day of the month of a date, 1 to 31.

    Examples:
    ``day(date(2024, 7, 14))`` → ``14``
    """
    d = _as_date("day", value)
    return None if d is None else d.day


def weekday(value: Any) -> int | None:
    """The day of the week of a date: Monday is 1, Sunday is 7.

    Examples:
    ``weekday(date(2024, 7, 14))`` → ``7``
    ``weekday(date(2024, 7, 15))`` → ``1``
    """
    d = _as_date("weekday", value)
    return None if d is None else d.isoweekday()


# -- numbers --------------------------------------------------------------------


def round_(x: Any, n: Any = 0) -> Any:
    """x rounded half up to n decimals (a negative n rounds to tens, hundreds...).

    Examples:
    ``round(number('2.345'), 2)`` → ``number('2.35')``
    ``round(2.5)`` → ``3.0``
    ``round(1250, -2)`` → ``1300``
    ``round(None, 2)`` → ``None``
    """
    if x is None or n is None:
        return None
    places = _whole("round", n)
    if abs(places) > _MAX_PLACES:
        raise FormulaError(f"round(): n must be between -{_MAX_PLACES} and {_MAX_PLACES}")
    if isinstance(x, bool) or not isinstance(x, int | float | Decimal):
        raise _expected("round", "a number", x)
    if isinstance(x, int):
        if places >= 0:
            return x
        step = 10**-places
        magnitude = (abs(x) + step // 2) // step * step
        return magnitude if x >= 0 else -magnitude
    exact = x if isinstance(x, Decimal) else Decimal(str(x))
    if not exact.is_finite() or exact.as_tuple().exponent >= -places:  # type: ignore[operator]
        return x  # nothing to round
    try:
        rounded = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise FormulaError("round(): the number is too large to round") from None
    return rounded if isinstance(x, Decimal) else float(rounded)


def abs_(value: Any) -> Any:
    """The number without its sign.

    Examples:
    ``abs(-3)`` → ``3``
    """
    if value is None:
        return None
    if not isinstance(value, int | float | Decimal):
        raise _expected("abs", "a number", value)
    return abs(value)


def _extreme(values: tuple[Any, ...], better: Any) -> Any:
    best = None
    for value in _flatten(values):
        if value is not None and (best is None or better(value, best)):
            best = value
    return best


def min_(*values: Any) -> Any:
    """The smallest of the values (lists are searched too), ignoring blanks; blank if none.

    Examples:
    ``min(3, None, 1, 2)`` → ``1``
    ``min(None)`` → ``None``
    """
    return _extreme(values, less_than)


def max_(*values: Any) -> Any:
    """The largest of the values (lists are searched too), ignoring blanks; blank if none.

    Examples:
    ``max(3, None, 1, 2)`` → ``3``
    ``max(date(2024, 1, 1), date(2023, 1, 1))`` → ``date(2024, 1, 1)``
    """
    return _extreme(values, lambda a, b: less_than(b, a))


def sum_(*values: Any) -> Any:
    """The total of the values (lists are summed too), ignoring blanks; 0 when there are none.

    Examples:
    ``sum(1, 2, None, 3)`` → ``6``
    ``sum(number('0.1'), 0.2)`` → ``number('0.3')``
    """
    total: Any = 0
    for value in _flatten(values):
        if value is not None:
            if not isinstance(value, int | float | Decimal):
                raise _expected("sum", "numbers", value)
            total = add(total, value)
    return total


def number(value: Any) -> Decimal | None:
    """The value as a decimal number; text must hold a number, blank text gives blank.

    Examples:
    ``number('12.50')`` → ``number('12.5')``
    ``number(' 7 ') + 1`` → ``8``
    ``number('')`` → ``None``
    """
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(int(value))
    if isinstance(value, float):
        result = Decimal(str(value))
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            result = Decimal(text) if len(text) <= 100 else Decimal("NaN")
        except InvalidOperation:
            result = Decimal("NaN")
        if not result.is_finite():
            raise FormulaError(f"number(): {text[:30]!r} is not a number")
    else:
        raise _expected("number", "text or a number", value)
    if not result.is_finite():
        raise FormulaError(f"number(): {value!r} is not a finite number")
    return result


# -- text -----------------------------------------------------------------------


def text(value: Any) -> str | None:
    """The value as text: numbers without exponent, dates as YYYY-MM-DD, lists joined by ', '.

    Examples:
    ``text(number('1E+2'))`` → ``'100'``
    ``text(date(2024, 7, 14))`` → ``'2024-07-14'``
    ``text(True)`` → ``'true'``
    ``text(None)`` → ``None``
    """
    return None if value is None else _text(value)


def concat(*values: Any) -> str:
    """The values joined as text; blanks count as empty text.

    Examples:
    ``concat('Q', 3, '-', None, 2024)`` → ``'Q3-2024'``
    """
    parts: list[str] = []
    size = 0
    for value in values:
        part = _text(value)
        size += len(part)
        if size > MAX_TEXT_LENGTH:
            raise FormulaError(f"concat(): text too long (more than {MAX_TEXT_LENGTH:,} characters)")
        parts.append(part)
    return "".join(parts)


def lower(value: Any) -> str | None:
    """The text in lower case.

    Examples:
    ``lower('ACME Corp')`` → ``'acme corp'``
    """
    return None if value is None else _text(value).lower()


def upper(value: Any) -> str | None:
    """The text in upper case.

    Examples:
    ``upper('acme')`` → ``'ACME'``
    """
    return None if value is None else _text(value).upper()


def trim(value: Any) -> str | None:
    """The text without leading and trailing spaces.

    Examples:
    ``trim('  Acme  ')`` → ``'Acme'``
    """
    return None if value is None else _text(value).strip()


def len_(value: Any) -> int:
    """The number of characters of a text or of items of a list; 0 when blank.

    Examples:
    ``len('Acme')`` → ``4``
    ``len(['a', 'b'])`` → ``2``
    ``len(None)`` → ``0``
    """
    if value is None:
        return 0
    if isinstance(value, str | list | tuple | set | frozenset):
        return len(value)
    raise _expected("len", "text or a list", value)


def contains(container: Any, value: Any) -> bool:
    """True when the text contains the value as a part, or the list holds it as an item.

    Examples:
    ``contains('Acme Corp', 'Corp')`` → ``True``
    ``contains(['a', 'b'], 'c')`` → ``False``
    ``contains(None, 'x')`` → ``False``
    """
    if container is None or value is None:
        return False
    if isinstance(container, str):
        return _text(value) in container
    if isinstance(container, _LISTS):
        return _in_list(container, value)
    raise _expected("contains", "text or a list", container)


def startswith(value: Any, prefix: Any) -> bool:
    """True when the text starts with the prefix.

    Examples:
    ``startswith('ACME-001', 'ACME')`` → ``True``
    ``startswith(None, 'A')`` → ``False``
    """
    if value is None or prefix is None:
        return False
    return _text(value).startswith(_text(prefix))


def left(value: Any, count: Any) -> str | None:
    """The first count characters of the text.

    Examples:
    ``left('Acme Corp', 4)`` → ``'Acme'``
    """
    if value is None or count is None:
        return None
    n = _whole("left", count)
    return _text(value)[:n] if n > 0 else ""


def right(value: Any, count: Any) -> str | None:
    """The last count characters of the text.

    Examples:
    ``right('INV-2024', 4)`` → ``'2024'``
    """
    if value is None or count is None:
        return None
    n = _whole("right", count)
    return _text(value)[-n:] if n > 0 else ""


def substitute(value: Any, old: Any, new: Any) -> str | None:
    """The text with every occurrence of old replaced by new.

    Examples:
    ``substitute('a-b-c', '-', '/')`` → ``'a/b/c'``
    """
    if value is None:
        return None
    source, find, replacement = _text(value), _text(old), _text(new)
    if not find:
        return source
    size = len(source) + source.count(find) * (len(replacement) - len(find))
    if size > MAX_TEXT_LENGTH:
        raise FormulaError(f"substitute(): text too long (more than {MAX_TEXT_LENGTH:,} characters)")
    return source.replace(find, replacement)


# -- choices --------------------------------------------------------------------


def if_(condition: Any, then: Any, otherwise: Any = None) -> Any:
    """then when the condition is true, else otherwise (both are always evaluated;
    the expression ``then if condition else otherwise`` evaluates only one).

    Examples:
    ``if_(5 > 3, 'big', 'small')`` → ``'big'``
    ``if_(None, 'yes', 'no')`` → ``'no'``
    """
    return then if condition else otherwise


def case(value: Any, *matches_and_results: Any) -> Any:
    """The result paired with the first match equal to value, else the default
    (a last unpaired argument), else blank.

    Examples:
    ``case('b', 'a', 1, 'b', 2, 0)`` → ``2``
    ``case('z', 'a', 1, 'b', 2, 0)`` → ``0``
    ``case('z', 'a', 1)`` → ``None``
    """
    pairs = len(matches_and_results) // 2
    for i in range(pairs):
        if equals(value, matches_and_results[2 * i]):
            return matches_and_results[2 * i + 1]
    return matches_and_results[-1] if len(matches_and_results) % 2 else None


def includes(values: Any, value: Any) -> bool:
    """True when a multi-picklist (a list of choices) includes the value.

    Examples:
    ``includes(['retail', 'b2b'], 'b2b')`` → ``True``
    ``includes(None, 'b2b')`` → ``False``
    """
    if values is None:
        return False
    if isinstance(values, str):
        return equals(values, value)
    if isinstance(values, _LISTS):
        return _in_list(values, value)
    raise _expected("includes", "a list", values)


BUILTIN_FUNCTIONS: Final[Mapping[str, Function]] = MappingProxyType({
    "is_blank": is_blank,
    "is_not_blank": is_not_blank,
    "coalesce": coalesce,
    "today": today,
    "now": now,
    "date": date,
    "days_between": days_between,
    "add_days": add_days,
    "add_months": add_months,
    "year": year,
    "month": month,
    "day": day,
    "weekday": weekday,
    "round": round_,
    "abs": abs_,
    "min": min_,
    "max": max_,
    "sum": sum_,
    "number": number,
    "text": text,
    "concat": concat,
    "lower": lower,
    "upper": upper,
    "trim": trim,
    "len": len_,
    "contains": contains,
    "startswith": startswith,
    "left": left,
    "right": right,
    "substitute": substitute,
    "if_": if_,
    "case": case,
    "includes": includes,
})


@functools.cache
def default_library() -> FunctionLibrary:
    """The library of built-in functions (one immutable instance, shared)."""
    return FunctionLibrary(BUILTIN_FUNCTIONS)
