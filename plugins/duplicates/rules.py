"""Match rules: which values make two records possible duplicates, normalised so that
"ACME, Inc." matches "acme inc", "+1 (555) 010-9999" matches "555 010 9999"."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rapport.meta.model import FieldDef, ObjectDef
from rapport.plugins import settings

#: Rules per object when the settings name none: each rule is a list of fields that must
#: all match (blank values never match).
DEFAULT_RULES: dict[str, list[list[str]]] = {
    "account": [["name"], ["email"], ["phone"]],
    "contact": [["email"], ["phone"], ["first_name", "last_name", "account"]],
    "lead": [["email"], ["phone"], ["first_name", "last_name", "company"]],
}
MODES = ("warn", "block")
LEGAL_FORMS = ("incorporated", "corporation", "company", "limited", "gmbh", "inc", "corp",
               "ltd", "llc", "plc", "co", "sa", "ag", "bv", "股份有限公司", "有限责任公司",
               "有限公司", "集团")
PUNCTUATION = re.compile(r"[\W_]+", re.UNICODE)
PHONE_DIGITS = 10


def name_key(text: str) -> str:
    """Case, accents, punctuation, spaces and a trailing legal form do not count."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    words = [w for w in PUNCTUATION.split(text) if w]
    while len(words) > 1 and words[-1] in LEGAL_FORMS:
        words.pop()
    joined = "".join(words)
    for form in LEGAL_FORMS:  # 有限公司 and the like are written without spaces
        if len(form) > 1 and not form.isascii() and joined.endswith(form) and joined != form:
            joined = joined[: -len(form)]
            break
    return joined


def phone_key(text: str) -> str:
    digits = re.sub(r"\D", "", text)
    return digits[-PHONE_DIGITS:] if len(digits) >= 7 else ""


def email_key(text: str) -> str:
    return text.strip().casefold()


def value_key(f: FieldDef, value: Any) -> str:
    if value is None or value == "":
        return ""
    if f.type == "email":
        return email_key(str(value))
    if f.type == "phone":
        return phone_key(str(value))
    if f.is_relation:
        return str(value)
    return name_key(str(value))


@dataclass(frozen=True)
class Rule:
    fields: tuple[FieldDef, ...]

    @property
    def name(self) -> str:
        return "+".join(f.name for f in self.fields)

    def key(self, record: Mapping[str, Any]) -> str | None:
        parts = [value_key(f, record.get(f.name)) for f in self.fields]
        if not all(parts):
            return None
        text = "\x1f".join(parts)
        return text if len(text) <= 200 else hashlib.sha256(text.encode()).hexdigest()

    def label(self, locale: str) -> str:
        return " + ".join(f.display_label(locale) for f in self.fields)


@dataclass(frozen=True)
class Check:
    """The duplicate check of one object."""

    obj: ObjectDef
    rules: tuple[Rule, ...]
    mode: str

    def keys(self, record: Mapping[str, Any]) -> dict[str, str]:
        return {r.name: k for r in self.rules if (k := r.key(record)) is not None}

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    @property
    def signature(self) -> str:
        """Changes when the rules change: the stored keys are then built again."""
        return json.dumps([r.name for r in self.rules] + [f.type for r in self.rules
                                                         for f in r.fields])


def checks(workspace: Any) -> dict[str, Check]:
    """The objects checked, from ``plugin_settings.duplicates.objects`` (default: accounts,
    contacts and leads with the default rules, in warn mode). A rule naming a field the
    object does not have is left out."""
    conf = settings(workspace, "duplicates")
    objects = conf.get("objects")
    if not isinstance(objects, Mapping):
        objects = {name: {} for name in DEFAULT_RULES}
    out: dict[str, Check] = {}
    for name, spec in objects.items():
        obj = workspace.meta.objects.get(name)
        if obj is None or not isinstance(spec, Mapping):
            continue
        rules = []
        for fields in spec.get("rules") or DEFAULT_RULES.get(name, ()):
            names = [fields] if isinstance(fields, str) else list(fields)
            if names and all(obj.has_field(n) for n in names):
                rules.append(Rule(tuple(obj.field(n) for n in names)))
        mode = spec.get("mode") if spec.get("mode") in MODES else \
            conf.get("mode") if conf.get("mode") in MODES else "warn"
        if rules:
            out[name] = Check(obj, tuple(rules), mode)
    return out
