"""Field types: how a value is stored, coerced from input, and checked.

Built-in types are registered here; plugins add more through the
``register_field_types`` hook (a list of :class:`FieldType`).
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from functools import partial
from typing import Any

import nh3
from sqlalchemy import BigInteger, Boolean, Date, Integer, Text

from .meta.model import FieldDef
from .storage.types import JSONText, UTCDateTime, decimal_type

BIGINT = BigInteger().with_variant(Integer(), "sqlite")

#: Length limits when a field sets no max_length.
DEFAULT_MAX_LENGTH = {"text": 255, "email": 254, "phone": 40, "url": 2048, "picklist": 255,
                      "autonumber": 255, "textarea": 131_072, "rich_text": 1_000_000,
                      "formula": 100_000}  # a text formula: as long as formulas build text
MAX_DIGITS = 18
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^[0-9+()./\-\s]{3,40}(\s*(x|ext\.?)\s*[0-9]{1,6})?$", re.IGNORECASE)
URL = re.compile(r"^(https?://|mailto:)[^\s<>\"]+$", re.IGNORECASE)
TRUE_WORDS = {"true", "1", "yes", "y", "on", "t", "是"}
FALSE_WORDS = {"false", "0", "no", "n", "off", "f", "否"}


class CoercionError(ValueError):
    """A value that does not fit its field; the message is shown to the user."""


def _text(field: FieldDef, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise CoercionError("must be text")
    text = value if isinstance(value, str) else str(value)
    if text.strip() == "":
        return None
    limit = field.max_length or DEFAULT_MAX_LENGTH.get(field.type, 255)
    if len(text) > limit:
        raise CoercionError(f"is too long ({len(text):,} characters, at most {limit:,})")
    if "\x00" in text:  # PostgreSQL cannot store it; no text needs it
        raise CoercionError("must not contain NUL characters")
    return text


def _email(field: FieldDef, value: Any) -> str | None:
    text = _text(field, value)
    if text is not None:
        text = text.strip()
        if not EMAIL.match(text):
            raise CoercionError("is not a valid email address")
    return text


RICH_TAGS = frozenset({"p", "br", "strong", "b", "em", "i", "u", "s", "ul", "ol", "li", "a", "h2",
                       "h3", "h4", "blockquote", "code", "pre", "hr", "div", "span"})
RICH_ATTRIBUTES = {"a": {"href", "title"}}
LOOKS_LIKE_HTML = re.compile(r"<[a-zA-Z/!]")


def clean_html(text: str) -> str:
    """Rich text as stored and shown: an allowlist of formatting tags, links only to
    http(s)/mailto, every other tag, attribute, script and style removed (nh3/ammonia)."""
    return nh3.clean(text, tags=set(RICH_TAGS), attributes=RICH_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")


def _rich_text(field: FieldDef, value: Any) -> str | None:
    text = _text(field, value)
    if text is None:
        return None
    if not LOOKS_LIKE_HTML.search(text):  # plain text: keep its line breaks
        text = "<br>".join(html.escape(line, quote=False) for line in text.split("\n"))
    text = clean_html(text)
    return text if text.strip() else None


def _phone(field: FieldDef, value: Any) -> str | None:
    text = _text(field, value)
    if text is not None:
        text = text.strip()
        if not PHONE.match(text) or not any(c.isdigit() for c in text):
            raise CoercionError("is not a valid phone number")
    return text


def _url(field: FieldDef, value: Any) -> str | None:
    text = _text(field, value)
    if text is not None:
        text = text.strip()
        if "://" not in text and not text.lower().startswith("mailto:") and "." in text:
            text = "https://" + text
        if not URL.match(text):
            raise CoercionError("is not a valid web address (http or https)")
    return text


def _integer(field: FieldDef, value: Any) -> int | None:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, bool):
        raise CoercionError("must be a whole number")
    if isinstance(value, int):
        result = value
    elif isinstance(value, float | Decimal):
        if isinstance(value, Decimal) and value.is_snan():  # math.isfinite cannot read it
            raise CoercionError("must be a whole number")
        if not math.isfinite(value) or value != int(value):
            raise CoercionError("must be a whole number")
        result = int(value)
    elif isinstance(value, str):
        try:
            result = int(value.strip().replace(",", "").replace("_", "x"))
        except ValueError:
            raise CoercionError(f"'{value[:40]}' is not a whole number") from None
    else:
        raise CoercionError("must be a whole number")
    if abs(result) >= 10**MAX_DIGITS:
        raise CoercionError("is too large")
    return result


def to_decimal(value: Any, scale: int) -> Decimal | None:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, bool):
        raise CoercionError("must be a number")
    try:
        if isinstance(value, float):
            if not math.isfinite(value):
                raise CoercionError("must be a finite number")
            number = Decimal(repr(value))
        elif isinstance(value, int | Decimal):
            number = Decimal(value)
        elif isinstance(value, str):
            if len(value) > 64:
                raise CoercionError("is not a number")
            number = Decimal(value.strip().replace(",", ""))
        else:
            raise CoercionError("must be a number")
    except InvalidOperation:
        raise CoercionError(f"'{str(value)[:40]}' is not a number") from None
    if not number.is_finite():
        raise CoercionError("must be a finite number")
    if number.adjusted() >= MAX_DIGITS - scale:
        raise CoercionError("is too large")
    return number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)


def _decimal(field: FieldDef, value: Any) -> Decimal | None:
    return to_decimal(value, field.scale)


def _boolean(field: FieldDef, value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word == "":
            return None
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise CoercionError("must be true or false")


def _date(field: FieldDef, value: Any) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return None
        try:
            return date.fromisoformat(text[:10] if len(text) > 10 and text[10] in "T " else text)
        except ValueError:
            raise CoercionError(f"'{text[:40]}' is not a valid date (YYYY-MM-DD)") from None
    raise CoercionError("must be a date (YYYY-MM-DD)")


def _datetime(field: FieldDef, value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return None
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise CoercionError(f"'{text[:40]}' is not a valid date and time (ISO 8601)") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
            raise CoercionError("is out of range") from None
    raise CoercionError("must be a date and time (ISO 8601)")


def _picklist(field: FieldDef, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise CoercionError("must be one of the options")
    if value not in field.option_values:
        raise CoercionError(f"'{value[:60]}' is not one of the options ({', '.join(field.option_values[:12])})")
    return value


def _multi_picklist(field: FieldDef, value: Any) -> list[str] | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        value = [v.strip() for v in value.split(";") if v.strip()]
    if not isinstance(value, list | tuple):
        raise CoercionError("must be a list of options")
    result: list[str] = []
    for v in value:
        if not isinstance(v, str) or v not in field.option_values:
            raise CoercionError(f"'{str(v)[:60]}' is not one of the options")
        if v not in result:
            result.append(v)
    return result or None


def _lookup(field: FieldDef, value: Any) -> int | None:
    if isinstance(value, Mapping):
        value = value.get("id")
    try:
        result = _integer(field, value)
    except CoercionError:
        raise CoercionError("must be the id of a record") from None
    if result is not None and result <= 0:
        raise CoercionError("must be the id of a record")
    return result


JSON_LIMIT = 1_000_000


def _json(field: FieldDef, value: Any) -> Any:
    if isinstance(value, str):
        if len(value) > JSON_LIMIT:
            raise CoercionError("is too large")
        try:
            value = json.loads(value) if value.strip() else None
        except (ValueError, RecursionError):
            raise CoercionError("is not valid JSON") from None
    if value is None:
        return None
    try:  # what is stored must read back the same: plain JSON, within the size limit
        size = len(json.dumps(value, ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        raise CoercionError("is not valid JSON (text, numbers, true/false, null, lists and "
                            "objects with text keys only)") from None
    if size > JSON_LIMIT:
        raise CoercionError("is too large")
    return value


@dataclass(frozen=True)
class FieldType:
    """A field type: its name, column type, and coercion of input values.

    ``column(field)`` returns the SQLAlchemy type of the column; ``coerce(field, value)``
    returns the stored Python value or raises :class:`CoercionError` with a message;
    ``widget`` names the form widget (a built-in one, or a plugin's template
    ``fields/<widget>.html``); ``display(field, value)`` formats a value as text for
    screens, reports and exports (None: the default rendering); ``operators`` the filter
    operators the type accepts. For the designer: ``label`` (per locale),
    ``description``, and ``settings``, the JSON Schema properties of what a field of the
    type may set in its ``settings`` (with their labels and defaults).
    """

    name: str
    column: Callable[[FieldDef], Any]
    coerce: Callable[[FieldDef, Any], Any]
    widget: str = "text"
    display: Callable[[FieldDef, Any], str] | None = None
    operators: tuple[str, ...] = ("eq", "ne", "in", "not_in", "is_blank", "is_not_blank")
    label: Mapping[str, str] | str | None = None
    description: Mapping[str, str] | str | None = None
    settings: Mapping[str, Any] = dc_field(default_factory=dict)
    numeric: bool = False        # its values are numbers: right-aligned, summable in reports


TEXT_OPS = ("eq", "ne", "in", "not_in", "contains", "startswith", "is_blank", "is_not_blank")
ORDER_OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "between", "in", "not_in", "is_blank",
             "is_not_blank")
DATE_OPS = (*ORDER_OPS, "in_period")


def _value_column(type_name: str, field: FieldDef) -> Any:
    if type_name in {"integer"}:
        return BIGINT
    if type_name in {"decimal", "currency", "percent"}:
        return decimal_type(field.scale)
    if type_name == "boolean":
        return Boolean()
    if type_name == "date":
        return Date()
    if type_name == "datetime":
        return UTCDateTime()
    return Text()


def builtin_types() -> list[FieldType]:
    text = lambda f: Text()  # noqa: E731
    types = [
        FieldType("text", text, _text, "text", operators=TEXT_OPS),
        FieldType("textarea", text, _text, "textarea", operators=TEXT_OPS),
        FieldType("rich_text", text, _rich_text, "rich_text", operators=("contains", "is_blank", "is_not_blank")),
        FieldType("email", text, _email, "email", operators=TEXT_OPS),
        FieldType("phone", text, _phone, "phone", operators=TEXT_OPS),
        FieldType("url", text, _url, "url", operators=TEXT_OPS),
        FieldType("integer", lambda f: BIGINT, _integer, "number", operators=ORDER_OPS),
        FieldType("decimal", lambda f: decimal_type(f.scale), _decimal, "number", operators=ORDER_OPS),
        FieldType("currency", lambda f: decimal_type(f.scale), _decimal, "currency", operators=ORDER_OPS),
        FieldType("percent", lambda f: decimal_type(f.scale), _decimal, "percent", operators=ORDER_OPS),
        FieldType("boolean", lambda f: Boolean(), _boolean, "checkbox",
                  operators=("eq", "ne", "is_blank", "is_not_blank")),
        FieldType("date", lambda f: Date(), _date, "date", operators=DATE_OPS),
        FieldType("datetime", lambda f: UTCDateTime(), _datetime, "datetime", operators=DATE_OPS),
        FieldType("picklist", text, _picklist, "select"),
        FieldType("multi_picklist", lambda f: JSONText(), _multi_picklist, "multiselect",
                  operators=("contains", "is_blank", "is_not_blank")),
        FieldType("lookup", lambda f: BIGINT, _lookup, "lookup"),
        FieldType("master_detail", lambda f: BIGINT, _lookup, "lookup"),
        FieldType("autonumber", text, _text, "readonly", operators=TEXT_OPS),
        FieldType("formula", lambda f: _value_column(f.value_type, f), _no_input, "readonly",
                  operators=DATE_OPS),
        FieldType("rollup", lambda f: _value_column(f.value_type, f), _no_input, "readonly",
                  operators=ORDER_OPS),
        FieldType("json", lambda f: JSONText(), _json, "json", operators=("is_blank", "is_not_blank")),
    ]
    return types


def _no_input(field: FieldDef, value: Any) -> Any:
    raise CoercionError("is computed and cannot be set")


# -- coercers bound to one field ---------------------------------------------------------------
#
# Bulk writes coerce the same fields over and over: ``FieldTypes.coercer(field)`` returns a
# one-argument function with what the field's checks need worked out once (limits, option
# sets, the decimal quantum). For the built-in types it first tries the common, well-formed
# input and returns exactly what the general function returns for it; anything else (blank,
# malformed, unusual types) goes to the general function, so values and messages are the same.

Coercer = Callable[[Any], Any]


def _fast_text(field: FieldDef) -> Coercer:
    limit = field.max_length or DEFAULT_MAX_LENGTH.get(field.type, 255)
    general = partial(_text, field)

    def coerce(value: Any) -> Any:
        if type(value) is str and value and len(value) <= limit and not value.isspace() \
                and "\x00" not in value:
            return value
        return general(value)
    return coerce


def _fast_whole(general: Callable[[FieldDef, Any], Any], low: int) -> Callable[[FieldDef], Coercer]:
    """The short path of a whole-number type: an int in ``low`` .. 10**MAX_DIGITS as is."""
    high = 10**MAX_DIGITS

    def make(field: FieldDef) -> Coercer:
        slow = partial(general, field)

        def coerce(value: Any) -> Any:
            if type(value) is int and low < value < high:
                return value
            return slow(value)
        return coerce
    return make


_fast_integer = _fast_whole(_integer, -(10**MAX_DIGITS))
_fast_lookup = _fast_whole(_lookup, 0)  # ids are positive


#: Rounds a value of at most MAX_DIGITS digits to its scale as ``quantize(q,
#: rounding=ROUND_HALF_UP)`` in the default context does (that call copies the context
#: every time, which costs more than the rounding).
_HALF_UP = Context(prec=28, rounding=ROUND_HALF_UP, traps=[InvalidOperation])


def decimal_coercer(scale: int) -> Coercer:
    """:func:`to_decimal` for one scale: plain numeric text and Decimals take a short path."""
    quantum = Decimal(1).scaleb(-scale)
    digits = MAX_DIGITS - scale
    general = partial(to_decimal, scale=scale)
    quantize = _HALF_UP.quantize

    def coerce(value: Any) -> Any:
        kind = type(value)
        if kind is str:
            if len(value) > 64:
                return general(value)
            try:
                number = Decimal(value.replace(",", "") if "," in value else value)
            except InvalidOperation:
                return general(value)  # blank, or the message
        elif kind is Decimal:
            number = value
        else:
            return general(value)
        if number.is_finite() and number.adjusted() < digits:
            return quantize(number, quantum)
        return general(value)
    return coerce


def _fast_decimal(field: FieldDef) -> Coercer:
    return decimal_coercer(field.scale)


def _fast_date(field: FieldDef) -> Coercer:
    general = partial(_date, field)
    parse = date.fromisoformat

    def coerce(value: Any) -> Any:
        if type(value) is str and len(value) == 10:
            try:
                return parse(value)
            except ValueError:
                pass
        elif type(value) is date:
            return value
        return general(value)
    return coerce


def _fast_picklist(field: FieldDef) -> Coercer:
    options = frozenset(field.option_values) - {""}  # "" is blank: the general path says so
    general = partial(_picklist, field)

    def coerce(value: Any) -> Any:
        if type(value) is str and value in options:
            return value
        return general(value)
    return coerce


_PURE = frozenset({_text, _email, _phone, _url, _integer, _decimal, _boolean, _date, _datetime,
                   _picklist, _lookup})
_FAST: dict[Callable[..., Any], Callable[[FieldDef], Coercer]] = {
    _text: _fast_text, _integer: _fast_integer, _lookup: _fast_lookup,
    _decimal: _fast_decimal, _date: _fast_date, _picklist: _fast_picklist,
}


class FieldTypes:
    """The field types a workspace knows: built-ins plus those plugins register."""

    def __init__(self, extra: Iterable[FieldType] = (), builtins: bool = True):
        """The built-in types (unless ``builtins`` is false: a workspace receives them from
        its built-in plugin like any other), then ``extra``."""
        self._types = {t.name: t for t in builtin_types()} if builtins else {}
        for t in extra:
            self._types[t.name] = t

    def __getitem__(self, name: str) -> FieldType:
        return self._types[name]

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def names(self) -> list[str]:
        return list(self._types)

    def of(self, field: FieldDef) -> FieldType:
        return self._types[field.type]

    def column_type(self, field: FieldDef) -> Any:
        return self._types[field.type].column(field)

    def coercer(self, field: FieldDef) -> Coercer:
        """``lambda value: types.of(field).coerce(field, value)``, faster for built-in types."""
        coerce = self._types[field.type].coerce
        fast = _FAST.get(coerce)
        return fast(field) if fast is not None else partial(coerce, field)

    def pure(self, field: FieldDef) -> bool:
        """Whether coercing the field's text gives an immutable value that depends on the
        text alone (built-in types but lists and JSON): a column of repeated text may then
        be coerced once per distinct text."""
        return self._types[field.type].coerce in _PURE

    def value_coercer(self, field: FieldDef) -> Coercer:
        """:meth:`coerce_value` bound to one field."""
        vt = field.value_type
        if field.type in {"formula", "rollup"}:
            if vt in {"decimal", "currency", "percent"}:
                return decimal_coercer(field.scale)
            coerce = self._types[vt].coerce
            fast = _FAST.get(coerce)
            return fast(field) if fast is not None else partial(coerce, field)
        return self.coercer(field)

    def coerce_value(self, field: FieldDef, value: Any) -> Any:
        """Coerce a value to the field's *value type* (for formula results and rollups)."""
        vt = field.value_type
        if field.type in {"formula", "rollup"}:
            if vt in {"decimal", "currency", "percent"}:
                return to_decimal(value, field.scale)
            return self._types[vt].coerce(field, value)
        return self._types[field.type].coerce(field, value)
