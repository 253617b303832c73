"""Shared pieces of the record tests: extra objects covering every field type, helpers,
and the worker functions child processes run (importable by name for 'spawn')."""

from __future__ import annotations

import time
from typing import Any

from rapport import hookimpl
from rapport.errors import ValidationError

#: One field of every built-in type (and the checks each can carry).
GADGET: dict[str, Any] = {
    "name": "gadget",
    "label": {"en": "Gadget", "zh-CN": "小工具"},
    "title_field": "name",
    "fields": [
        {"name": "name", "type": "text", "required": True, "max_length": 20, "min_length": 2,
         "label": {"en": "Gadget name", "zh-CN": "名称"}},
        {"name": "code", "type": "text", "unique": True, "pattern": "^[A-Z]{2}-[0-9]+$"},
        {"name": "ref", "type": "text", "pattern": "[0-9]"},
        {"name": "notes", "type": "textarea", "track_history": False},
        {"name": "body", "type": "rich_text"},
        {"name": "email", "type": "email"},
        {"name": "phone", "type": "phone"},
        {"name": "site", "type": "url"},
        {"name": "qty", "type": "integer", "min": 0, "max": 1000},
        {"name": "weight", "type": "decimal", "precision": 3},
        {"name": "price", "type": "currency", "min": 0},
        {"name": "share", "type": "percent", "min": 0, "max": 100},
        {"name": "active", "type": "boolean", "default": True},
        {"name": "due", "type": "date"},
        {"name": "seen_at", "type": "datetime"},
        {"name": "color", "type": "picklist", "options": ["red", "green", "blue"],
         "default": "green"},
        {"name": "tags", "type": "multi_picklist", "options": ["a", "ab", "b"]},
        {"name": "account", "type": "lookup", "target": "account"},
        {"name": "serial", "type": "autonumber", "format": "G-{000}"},
        {"name": "label", "type": "formula", "result_type": "text",
         "expression": "concat(name, ' @ ', account.name)"},
        {"name": "no_account", "type": "formula", "result_type": "boolean",
         "expression": "is_blank(account)"},
        {"name": "meta", "type": "json"},
        {"name": "opened", "type": "date", "default_formula": "today()"},
        {"name": "slug", "type": "text", "default_formula": "lower(name)"},
    ],
}

#: A parent with every kind of rollup over its details.
BASKET: list[dict[str, Any]] = [
    {"name": "basket",
     "fields": [
         {"name": "name", "type": "text", "required": True},
         {"name": "items", "type": "rollup", "source": "item", "relation": "basket",
          "aggregate": "count"},
         {"name": "total", "type": "rollup", "source": "item", "relation": "basket",
          "aggregate": "sum", "field": "line_total"},
         {"name": "cheapest", "type": "rollup", "source": "item", "relation": "basket",
          "aggregate": "min", "field": "price"},
         {"name": "dearest", "type": "rollup", "source": "item", "relation": "basket",
          "aggregate": "max", "field": "price"},
         {"name": "grand", "type": "formula", "result_type": "currency",
          "expression": "(total or 0) + 10"},
     ]},
    {"name": "item",
     "fields": [
         {"name": "basket", "type": "master_detail", "target": "basket"},
         {"name": "product", "type": "lookup", "target": "product", "on_delete": "restrict"},
         {"name": "kind", "type": "picklist", "options": ["big", "small"], "default": "small"},
         {"name": "qty", "type": "integer", "required": True, "min": 0},
         {"name": "price", "type": "currency"},
         {"name": "line_total", "type": "formula", "result_type": "currency",
          "expression": "qty * coalesce(price, product.unit_price, 0)"},
     ]},
]


def problems_of(exc: ValidationError) -> dict[str | None, str]:
    """{field: code} of a refused write."""
    return {p.field: p.code for p in exc.problems}


def message_of(exc: ValidationError, field: str | None) -> str:
    return next(p.message for p in exc.problems if p.field == field)


#: Rollups that summarise only some details (added to ``basket`` by the tests that need them).
FILTERED_ROLLUPS: list[dict[str, Any]] = [
    {"name": "big_items", "type": "rollup", "source": "item", "relation": "basket",
     "aggregate": "count", "filter": [{"field": "kind", "op": "eq", "value": "big"}]},
    {"name": "big_qty", "type": "rollup", "source": "item", "relation": "basket",
     "aggregate": "sum", "field": "qty",
     "filter": [{"field": "kind", "op": "eq", "value": "big"},
                {"field": "qty", "op": "gte", "value": 2}]},
]


# -- work done in other processes (multiprocessing, 'spawn') ------------------------------------


class SlowSaves:
    """A plugin that makes saves of one object slow: two processes then both pass the
    service's own unique check before either inserts, and the database decides."""

    def __init__(self, object_name: str, seconds: float):
        self.object_name = object_name
        self.seconds = seconds

    @hookimpl
    def record_before_save(self, object_name: str) -> None:
        if object_name == self.object_name:
            time.sleep(self.seconds)


def create_in_another_process(root: str, url: str, object_name: str, values: dict[str, Any],
                              times: int, slow: float, barrier: Any, results: Any) -> None:
    """Open the workspace, wait for the other process, create ``times`` records; put
    ("ok", ids), ("invalid", problems) or ("error", text) on ``results``."""
    from rapport.records.query import Query
    from rapport.workspace import Workspace

    ws = Workspace.open(root, url, plugin_modules=[SlowSaves(object_name, slow)])
    try:
        ws.records.count(object_name, Query())  # metadata loaded, connections open: both
        ws.records.runtime(object_name)         # processes start writing at the same time
        barrier.wait(timeout=120)
        created = []
        try:
            for _ in range(times):
                created.append(ws.records.create(object_name, values)["id"])
            results.put(("ok", created))
        except ValidationError as exc:
            results.put(("invalid", [p.as_dict() for p in exc.problems]))
        except Exception as exc:
            results.put(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        ws.close()
