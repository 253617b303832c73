"""How field values look on screens and come back from forms: display cells, input values,
form parsing, lookup titles and problem messages. No routes here."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

from ...auth.access import MASK
from ...errors import FieldProblem
from ...fieldtypes import clean_html
from ...meta.model import BUILTIN_TYPES, SYSTEM_FIELDS, FieldDef, ObjectDef, label_text
from ...records.actor import SYSTEM, Actor
from ...records.query import Cond, Query
from ..i18n import translate

if TYPE_CHECKING:
    from ...fieldtypes import FieldTypes
    from ...workspace import Workspace

SYSTEM_LABELS: dict[str, dict[str, str]] = {
    "id": {"en": "ID", "zh-CN": "ID"},
    "created_at": {"en": "Created", "zh-CN": "创建时间"},
    "updated_at": {"en": "Last modified", "zh-CN": "最后修改"},
    "created_by": {"en": "Created by", "zh-CN": "创建人"},
    "owner": {"en": "Owner", "zh-CN": "负责人"},
    "version": {"en": "Version", "zh-CN": "版本"},
}
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CNY": "¥", "JPY": "¥", "INR": "₹",
                    "KRW": "₩", "HKD": "HK$", "AUD": "A$", "CAD": "CA$"}
COLOR = re.compile(r"^#[0-9a-fA-F]{3,8}$")
SAFE_LINK = re.compile(r"^(https?://|mailto:)", re.IGNORECASE)
NO_COLUMN_TYPES = frozenset({"json", "rich_text", "textarea"})


# -- fields ---------------------------------------------------------------------------------

def system_field(name: str) -> FieldDef:
    label = SYSTEM_LABELS.get(name)
    if name in {"created_at", "updated_at"}:
        return FieldDef(name, "datetime", label=label)
    if name in {"created_by", "owner"}:
        return FieldDef(name, "lookup", target="user", label=label)
    return FieldDef(name, "integer", label=label)


def field_of(obj: ObjectDef, name: str) -> FieldDef | None:
    if obj.has_field(name):
        return obj.field(name)
    if name in SYSTEM_FIELDS:
        return system_field(name)
    return None


def list_columns(obj: ObjectDef) -> list[FieldDef]:
    """The list view's columns, or the title field and the first few fields."""
    names = list((obj.views.get("list") or {}).get("columns") or ())
    if not names:
        names = [obj.title, *[f.name for f in obj.fields if f.name != obj.title and f.type not in NO_COLUMN_TYPES][:5]]
    out = [field_of(obj, n) for n in names]
    return [f for f in out if f is not None]


def default_sort(obj: ObjectDef) -> str:
    return obj.default_sort


def kanban_view(obj: ObjectDef) -> dict[str, Any] | None:
    view = obj.views.get("kanban")
    if not view or not obj.has_field(view.get("group_by", "")):
        return None
    if obj.field(view["group_by"]).type != "picklist":
        return None
    return dict(view)


@dataclass
class Section:
    label: str
    fields: list[FieldDef]
    columns: int = 2


def form_sections(obj: ObjectDef, locale: str, extra_label: str,
                  hidden: Collection[str] = ()) -> list[Section]:
    """The form view's sections; fields no section names are gathered in a last one.
    ``hidden``: the fields the user's role may not see (left out)."""
    sections: list[Section] = []
    seen: set[str] = set(hidden)
    for raw in (obj.views.get("form") or {}).get("sections") or ():
        fields = [obj.field(n) for n in raw.get("fields", ()) if obj.has_field(n)
                  and n not in seen]
        seen.update(f.name for f in fields)
        sections.append(Section(label_text(raw.get("label"), locale), fields,
                                int(raw.get("columns") or 2)))
    rest = [f for f in obj.fields if f.name not in seen]
    if rest:
        sections.append(Section(extra_label if sections else obj.display_label(locale), rest))
    return [s for s in sections if s.fields]


def editable(f: FieldDef, creating: bool) -> bool:
    return not f.is_computed and (creating or not f.read_only)


def widget_of(ws: Workspace, f: FieldDef) -> str:
    if f.name in SYSTEM_FIELDS and f.type == "lookup":
        return "lookup"
    try:
        return ws.types.of(f).widget
    except KeyError:
        return "text"


def operators_of(ws: Workspace, f: FieldDef) -> tuple[str, ...]:
    if f.name in SYSTEM_FIELDS:
        if f.type == "lookup":
            return ("eq", "ne", "is_blank", "is_not_blank")
        return ("eq", "ne", "lt", "lte", "gt", "gte", "between", "is_blank", "is_not_blank",
                *(("in_period",) if f.type == "datetime" else ()))
    if f.type == "formula" and f.value_type in ws.types:
        return ws.types[f.value_type].operators
    try:
        return ws.types.of(f).operators
    except KeyError:
        return ("eq", "ne", "is_blank", "is_not_blank")


# -- display ---------------------------------------------------------------------------------

@dataclass
class Cell:
    """One value as the screens show it."""

    text: str = ""
    href: str | None = None
    kind: str = "text"            # text, empty, badge, badges, bool, number, multiline, html, code
    color: str | None = None
    items: list[tuple[str, str | None]] = field(default_factory=list)
    checked: bool = False


def option_label(f: FieldDef, value: Any, locale: str) -> str:
    for o in f.options:
        if o.value == value:
            return label_text(o.label, locale, str(value).replace("_", " ").capitalize())
    return str(value)


def option_color(f: FieldDef, value: Any) -> str | None:
    for o in f.options:
        if o.value == value and o.color and COLOR.match(o.color):
            return o.color
    return None


def format_number(value: Any, scale: int) -> str:
    if isinstance(value, bool):
        return str(value)
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    return f"{number:,.{max(0, scale)}f}"


def format_money(value: Any, scale: int, currency: str) -> str:
    symbol = CURRENCY_SYMBOLS.get(currency)
    text = format_number(value, scale)
    negative = text.startswith("-")
    text = text.lstrip("-")
    out = f"{symbol}{text}" if symbol else f"{currency} {text}"
    return f"-{out}" if negative else out


def format_percent(value: Any) -> str:
    number = Decimal(str(value))
    text = format_number(number, 0 if number == number.to_integral_value() else 2)
    return f"{text}%"


def format_datetime(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M") + " UTC"
    return str(value)


def cell(f: FieldDef, value: Any, locale: str, titles: Mapping[tuple[str, int], str],
         currency: str = "USD", types: FieldTypes | None = None) -> Cell:
    vt = f.value_type
    if value is None or value == "" or value == []:
        return Cell("—", kind="empty")
    if value == MASK and f.sensitive:  # revealed on demand (the reveal is audited)
        return Cell(MASK, kind="masked")
    if types is not None and vt not in BUILTIN_TYPES and vt in types:
        kind = types[vt]
        if kind.display is not None:  # a plugin's type shows itself
            return Cell(kind.display(f, value), kind="number" if kind.numeric else "text")
    if f.is_relation:
        target = f.target or ""
        return Cell(titles.get((target, value)) or f"#{value}", href=f"/o/{target}/{value}")
    if vt == "boolean":
        return Cell("✓" if value else "✗", kind="bool", checked=bool(value))
    if vt == "picklist":
        return Cell(option_label(f, value, locale), kind="badge", color=option_color(f, value))
    if vt == "multi_picklist":
        values = value if isinstance(value, list) else [value]
        return Cell(", ".join(option_label(f, v, locale) for v in values), kind="badges",
                    items=[(option_label(f, v, locale), option_color(f, v)) for v in values])
    if vt == "currency":
        return Cell(format_money(value, f.scale, currency), kind="number")
    if vt == "percent":
        return Cell(format_percent(value), kind="number")
    if vt in {"integer", "decimal"}:
        return Cell(format_number(value, f.scale), kind="number")
    if vt == "datetime":
        return Cell(format_datetime(value))
    if vt == "date":
        return Cell(value.isoformat() if isinstance(value, date) else str(value))
    if vt == "url":
        text = str(value)
        return Cell(text, href=text if SAFE_LINK.match(text) else None)
    if vt == "email":
        return Cell(str(value), href=f"mailto:{value}")
    if vt == "phone":
        return Cell(str(value), href="tel:" + re.sub(r"[^0-9+]", "", str(value)))
    if vt == "json":
        import json

        return Cell(json.dumps(value, ensure_ascii=False, indent=2, default=str), kind="code")
    if vt == "rich_text":
        return Cell(str(value), kind="html")
    if vt == "textarea":
        return Cell(str(value), kind="multiline")
    return Cell(str(value))


def _badge(text: str, color: str | None) -> str:
    if color:
        return f'<span class="badge colored" style="--badge: {escape(color)}">{escape(text)}</span>'
    return f'<span class="badge">{escape(text)}</span>'


def cell_html(c: Cell, locale: str) -> Markup:
    """A cell as HTML: what the ``render_cell`` macro of partials/macros.html writes, done
    in Python (the macro, called for every cell of a list or a board, cost more than the
    rest of the row)."""
    kind = c.kind
    if kind == "empty":
        return Markup('<span class="empty">—</span>')
    if kind == "masked":
        return Markup('<span class="masked">' + MASK + "</span>")
    if kind == "badge":
        return Markup(_badge(c.text, c.color))
    if kind == "badges":
        return Markup('<span class="badges">' + "".join(_badge(t, col) for t, col in c.items)
                      + "</span>")
    if kind == "bool":
        word = translate(locale, "value.yes" if c.checked else "value.no")
        return Markup(f'<span class="bool {"yes" if c.checked else "no"}"><span aria-hidden="true">'
                      f"{escape(c.text)}</span> {escape(word)}</span>")
    if c.href:
        new_tab = ' rel="noopener noreferrer nofollow" target="_blank"' \
            if c.href.startswith("http") else ""
        return Markup(f'<a href="{escape(c.href)}"{new_tab}>{escape(c.text)}</a>')
    if kind == "multiline":
        return Markup(f'<span class="multiline">{escape(c.text)}</span>')
    if kind == "html":  # cleaned when stored; cleaned again here, whatever wrote the row
        return Markup(f'<div class="rich-text">{clean_html(c.text)}</div>')
    if kind == "code":
        return Markup(f'<pre class="code">{escape(c.text)}</pre>')
    if kind == "number":
        return Markup(f'<span class="num">{escape(c.text)}</span>')
    return escape(c.text)


def plain(f: FieldDef, value: Any, locale: str, titles: Mapping[tuple[str, int], str],
          currency: str = "USD") -> str:
    c = cell(f, value, locale, titles, currency)
    return "" if c.kind == "empty" else c.text


def resolve_titles(ws: Workspace, obj: ObjectDef, records: Iterable[Mapping[str, Any]],
                   fields: Sequence[FieldDef], actor: Actor = SYSTEM
                   ) -> dict[tuple[str, int], str]:
    """Titles of the records the lookup fields point at that ``actor`` may read, one query
    per target (a record they may not read shows as its number)."""
    wanted: dict[str, set[int]] = {}
    rows = list(records)
    for f in fields:
        if f.is_relation and f.target:
            ids = {r.get(f.name) for r in rows} - {None}
            if ids:
                wanted.setdefault(f.target, set()).update(ids)  # type: ignore[arg-type]
    return titles_of(ws, wanted, actor)


def titles_of(ws: Workspace, wanted: Mapping[str, set[int]],
              actor: Actor = SYSTEM) -> dict[tuple[str, int], str]:
    out: dict[tuple[str, int], str] = {}
    for target, ids in wanted.items():
        if target not in ws.meta.objects or not ids:
            continue
        tobj = ws.meta.objects[target]
        title = tobj.title
        ordered = sorted(ids)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start:start + 500]
            page = ws.records.query(target, Query(filter=Cond("id", "in", chunk),
                                                  limit=len(chunk)), actor)
            for r in page.data:
                value = r.get(title)
                out[(target, r["id"])] = str(value) if value not in (None, "") else f"#{r['id']}"
    return out


def record_title(obj: ObjectDef, record: Mapping[str, Any]) -> str:
    value = record.get(obj.title)
    return str(value) if value not in (None, "") else f"#{record.get('id')}"


# -- inputs ---------------------------------------------------------------------------------

def input_value(f: FieldDef, value: Any) -> Any:
    """A stored value as a form input shows it (a list for multi-picklists)."""
    if value is None:
        return [] if f.type == "multi_picklist" else ""
    if f.type == "multi_picklist":
        return list(value) if isinstance(value, list | tuple) else [str(value)]
    if f.type == "boolean":
        return bool(value)
    if f.type == "datetime" and isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if f.type == "json":
        import json

        return json.dumps(value, ensure_ascii=False, indent=2, default=str)
    return str(value)


def input_values(obj: ObjectDef, record: Mapping[str, Any]) -> dict[str, Any]:
    return {f.name: input_value(f, record.get(f.name)) for f in obj.fields}


@dataclass
class FormInput:
    """What a form sent: values for the record service, and the raw text to show again."""

    values: dict[str, Any]
    raw: dict[str, Any]
    labels: dict[str, str]
    problems: list[FieldProblem]


def read_form(ws: Workspace, obj: ObjectDef, form: Any, fields: Sequence[FieldDef],
              locale: str, actor: Actor = SYSTEM) -> FormInput:
    values: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    labels: dict[str, str] = {}
    problems: list[FieldProblem] = []
    for f in fields:
        name = f.name
        if f.type == "boolean":
            checked = str(form.get(name) or "") in {"1", "on", "true"}
            values[name] = raw[name] = checked
        elif f.type == "multi_picklist":
            chosen = [str(v) for v in form.getlist(name) if str(v)]
            values[name] = chosen or None
            raw[name] = chosen
        elif f.is_relation:
            rid = str(form.get(name) or "").strip()
            label = str(form.get(f"{name}__label") or "").strip()
            raw[name], labels[name] = rid, label
            if rid:
                values[name] = rid
            elif label:
                found, problem = lookup_by_title(ws, f, label, locale, actor)
                if problem:
                    problems.append(problem)
                else:
                    values[name] = found
                    raw[name] = str(found)
            else:
                values[name] = None
        else:
            text = str(form.get(name) or "")
            raw[name] = text
            values[name] = text if text.strip() else None
    return FormInput(values, raw, labels, problems)


def lookup_by_title(ws: Workspace, f: FieldDef, text: str, locale: str,
                    actor: Actor = SYSTEM) -> tuple[int | None, FieldProblem | None]:
    """A lookup typed as a title (a form sent without scripts): exactly one match among
    the records ``actor`` may read."""
    target = ws.meta.objects.get(f.target or "")
    label = f.display_label(locale)
    if target is None:
        return None, FieldProblem(f.name, "lookup", translate(locale, "lookup.none",
                                                              label=label, text=text))
    if target.title == "id" or text.lstrip("#").isdigit():
        digits = text.lstrip("#")
        if digits.isdigit():
            return int(digits), None
    page = ws.records.query(target.name, Query(filter=Cond(target.title, "eq", text), limit=2),
                            actor)
    if len(page.data) == 1:
        return int(page.data[0]["id"]), None
    key = "lookup.none" if not page.data else "lookup.several"
    return None, FieldProblem(f.name, "lookup", translate(locale, key, label=label, text=text))


# -- problems ----------------------------------------------------------------------------------

TRANSLATED_CODES = frozenset({"required", "too_short", "min", "max", "pattern", "unique",
                              "invalid", "not_found", "read_only"})


def problem_text(problem: FieldProblem, obj: ObjectDef, locale: str) -> str:
    """The message in the user's language: the service's own text in English (it is the
    most precise), a translated sentence per problem code otherwise."""
    if locale == "en" or problem.code not in TRANSLATED_CODES or not problem.field \
            or not obj.has_field(problem.field):
        return problem.message
    f = obj.field(problem.field)
    values = {"label": f.display_label(locale), "min": f"{f.min:g}" if f.min is not None else "",
              "max": f"{f.max:g}" if f.max is not None else "", "length": f.min_length or ""}
    return translate(locale, f"problem.{problem.code}", **values)


def problems_by_field(problems: Sequence[FieldProblem], obj: ObjectDef, locale: str,
                      shown: Iterable[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Messages per field shown on the screen, and the rest (about the record)."""
    names = set(shown)
    per: dict[str, list[str]] = {}
    general: list[str] = []
    for p in problems:
        text = problem_text(p, obj, locale)
        if p.field and p.field in names:
            per.setdefault(p.field, []).append(text)
        else:
            general.append(text)
    return per, general
