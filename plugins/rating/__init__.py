"""A star rating field type: ``{"name": "satisfaction", "type": "rating"}``, 1 to 5 stars
(``"settings": {"max": 10}`` for more). Stored as a whole number, filtered and sorted as
one, grouped in reports by its stars, shown as ★★★★☆ and edited by clicking a star."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Integer

import rapport
from rapport.fieldtypes import ORDER_OPS, CoercionError, FieldType
from rapport.meta.model import FieldDef

HERE = Path(__file__).resolve().parent
STAR, EMPTY = "★", "☆"
DEFAULT_MAX, LIMIT = 5, 10


def stars_of(field: FieldDef) -> int:
    """How many stars the field has (its ``settings.max``, 1 to 10; default 5)."""
    settings = field.extra.get("settings") or {}
    value = settings.get("max", DEFAULT_MAX) if isinstance(settings, dict) else DEFAULT_MAX
    return value if isinstance(value, int) and not isinstance(value, bool) \
        and 1 <= value <= LIMIT else DEFAULT_MAX


def coerce(field: FieldDef, value: Any) -> int | None:
    """1..max from a number, numeric text, "4/5" or stars ("★★★★☆"); blank or 0 is none."""
    top = stars_of(field)
    if value is None:
        return None
    if isinstance(value, bool):
        raise CoercionError(f"must be a rating from 1 to {top}")
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return None
        if text and set(text) <= {STAR, EMPTY}:
            value = text.count(STAR)
        else:
            text = text.split("/")[0].strip()
            try:
                value = float(text) if "." in text else int(text)
            except ValueError:
                raise CoercionError(f"'{value[:20]}' is not a rating from 1 to {top}") from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise CoercionError(f"must be a whole number of stars from 1 to {top}")
    if value == 0:
        return None
    if not 1 <= value <= top:
        raise CoercionError(f"must be from 1 to {top} stars")
    return value


def display(field: FieldDef, value: Any) -> str:
    n = max(0, min(int(value), stars_of(field)))
    return STAR * n + EMPTY * (stars_of(field) - n)


RATING = FieldType(
    "rating", lambda f: Integer(), coerce, widget="rating", display=display,
    operators=ORDER_OPS, numeric=True,
    label={"en": "Star rating", "zh-CN": "星级评分"},
    description={"en": "1 to 5 stars (or up to 10), shown as ★★★★☆",
                 "zh-CN": "1 到 5 颗星（最多 10 颗），显示为 ★★★★☆"},
    settings={"max": {"type": "integer", "minimum": 1, "maximum": LIMIT, "default": DEFAULT_MAX,
                      "title": {"en": "Number of stars", "zh-CN": "星星数量"}}})


@rapport.hookimpl
def register_field_types() -> list[FieldType]:
    return [RATING]


@rapport.hookimpl
def register_template_dirs() -> list[str]:
    return [str(HERE / "templates")]


@rapport.hookimpl
def register_static_dirs() -> list[str]:
    return [str(HERE / "static")]


@rapport.hookimpl
def register_formula_functions() -> dict[str, Any]:
    return {"stars": lambda n, top=DEFAULT_MAX: STAR * int(n or 0) + EMPTY * (int(top) - int(n or 0))}
