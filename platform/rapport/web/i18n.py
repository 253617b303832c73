"""Interface text in the user's language: ui/i18n/<locale>.json, plus one catalogue per
area in ui/i18n/<locale>/*.json (the designer, packs, security ...), merged in name order.
Labels of metadata come from the definitions themselves."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from ..resources import bundled

LOCALES = {"en": "English", "zh-CN": "简体中文"}
DEFAULT_LOCALE = "en"


@cache
def catalog(locale: str) -> dict[str, str]:
    root = bundled("ui") / "i18n"
    book: dict[str, str] = {}
    for path in [root / f"{locale}.json", *sorted((root / locale).glob("*.json"))]:
        if path.exists():
            book.update(json.loads(path.read_text("utf-8")))
    return book


def translate(locale: str, key: str, **values: Any) -> str:
    """The message ``key`` in ``locale`` (else in English), with ``values`` filled in; when
    ``n`` is 1 (or "1", already formatted) and the catalogue has a ``key_one`` form, that one."""
    if values.get("n") in (1, "1"):
        for book in (catalog(locale), catalog(DEFAULT_LOCALE)):
            if key in book or key + "_one" in book:
                if key + "_one" in book:
                    key += "_one"
                break
    text = catalog(locale).get(key) or catalog(DEFAULT_LOCALE).get(key) or key
    return text.format(**values) if values else text


def pick_locale(requested: str | None, accept_language: str = "") -> str:
    if requested in LOCALES:
        return requested
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip()
        if tag.lower().startswith("zh"):
            return "zh-CN"
        if tag.lower().startswith("en"):
            return "en"
    return DEFAULT_LOCALE
