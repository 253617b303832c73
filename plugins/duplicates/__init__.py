"""Duplicate check (查重): per-object match rules (normalised name, email, phone,
company...), a warning or a refusal when a new record (one saved on a screen, through the
API or by a CSV import) matches an existing one, a "possible duplicates" panel on the
record page, a list of duplicate groups, and a merge that keeps everything.

Settings (rapport.json)::

    "plugin_settings": {"duplicates": {
        "objects": {"account": {"mode": "block", "rules": [["name"], ["phone"]]},
                    "lead": {"rules": [["email"], ["first_name", "last_name", "company"]]}},
        "merge_roles": ["admin", "manager"]}}

Without ``objects``: accounts, contacts and leads with the default rules, in ``warn``
mode (the record is saved, the panel shows what it resembles, an import reports it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import rapport
from rapport.meta.model import label_text
from rapport.plugins import Action, NavLink, Panel, scratch, warn

from . import index
from .merge import may_merge, merge
from .rules import Check, checks
from .screens import DuplicateScreens

HERE = Path(__file__).resolve().parent
BATCH_KEY = "duplicates_batch"


@rapport.hookimpl
def register_tables() -> Any:
    return index.TABLES


@rapport.hookimpl
def startup(workspace: Any) -> None:
    if workspace.meta.revision:
        for check in checks(workspace).values():
            index.ensure(workspace, check)


def _check(workspace: Any, object_name: str) -> Check | None:
    return checks(workspace).get(object_name)


def describe(workspace: Any, check: Check, found: dict[int, list[str]], locale: str
             ) -> list[dict[str, Any]]:
    """The records found, with their titles and the rules they match on."""
    if not found:
        return []
    from rapport.records.query import Cond, Query

    page = workspace.records.query(check.obj.name, Query(filter=Cond("id", "in", list(found)),
                                                         limit=min(len(found), 500)))
    out = []
    for r in page.data:
        rules = [check.rule(name) for name in found[r["id"]]]
        out.append({"id": r["id"], "title": str(r.get(check.obj.title) or f"#{r['id']}"),
                    "record": r, "reasons": [x.label(locale) for x in rules if x],
                    "rules": found[r["id"]]})
    return sorted(out, key=lambda d: d["id"])


@rapport.hookimpl
def record_before_save(workspace: Any, object_name: str, record: dict[str, Any],
                       previous: dict[str, Any] | None, user: Any, connection: Any) -> None:
    if previous is not None:
        return  # only new records are checked: editing an existing duplicate stays possible
    check = _check(workspace, object_name)
    if check is None:
        return
    keys = check.keys(record)
    if not keys:
        return
    batch = scratch(connection).setdefault(BATCH_KEY, {})  # rows of the same import
    earlier = [rule for rule, key in keys.items() if (object_name, rule, key) in batch]
    found = index.matches(connection, check, keys)
    for rule, key in keys.items():
        batch.setdefault((object_name, rule, key), True)
    if not found and not earlier:
        return
    locale = user.locale
    if found:
        first = describe(workspace, check, found, locale)[:3]
        names = ", ".join(f"{d['title']} (#{d['id']}, {' / '.join(d['reasons'])})"
                          for d in first)
    else:
        names = label_text({"en": "a row above in this import",
                            "zh-CN": "本次导入中前面的一行"}, locale)
    rule = check.rule((next(iter(found.values()))[0]) if found else earlier[0])
    message = label_text({"en": f"possible duplicate of {names}",
                          "zh-CN": f"可能与 {names} 重复"}, locale)
    if check.mode == "block":
        field = rule.fields[0].name if rule else None
        raise rapport.ValidationError(message, field=field, code="duplicate")
    warn(connection, f"{record.get(check.obj.title) or object_name}: {message}")


@rapport.hookimpl
def record_after_save(workspace: Any, object_name: str, record: dict[str, Any],
                      previous: dict[str, Any] | None, connection: Any) -> None:
    check = _check(workspace, object_name)
    if check is not None:
        index.store(connection, check, record, new=previous is None)


@rapport.hookimpl
def record_after_delete(workspace: Any, object_name: str, record: dict[str, Any],
                        connection: Any) -> None:
    if _check(workspace, object_name) is not None:
        index.forget(connection, object_name, record["id"])


@rapport.hookimpl
def record_panels(workspace: Any, object_name: str, record: dict[str, Any],
                  user: Any) -> list[Any]:
    check = _check(workspace, object_name)
    if check is None:
        return []
    with workspace.engine.connect() as conn:
        found = index.matches(conn, check, check.keys(record), exclude=record["id"])
    if not found:
        return []
    return [Panel({"en": "Possible duplicates", "zh-CN": "可能重复"}, "duplicates/panel.html",
                  {"matches": describe(workspace, check, found, user.locale),
                   "can_merge": may_merge(workspace, user), "object_name": object_name},
                  name="duplicates")]


def merge_action(workspace: Any, object_name: str, records: list[dict[str, Any]], user: Any,
                 connection: Any) -> dict[str, str]:
    """The chosen records merged into the oldest of them."""
    if len(records) < 2:
        raise rapport.ValidationError(label_text({"en": "choose two or more records to merge",
                                                  "zh-CN": "请选择两条或更多记录来合并"},
                                                 user.locale), field="ids")
    winner = min(records, key=lambda r: r["id"])
    done = merge(workspace, object_name, winner["id"], [r["id"] for r in records], user,
                 conn=connection)
    n = len(done["merged"])
    return {"en": f"{n} record(s) merged into #{winner['id']}",
            "zh-CN": f"已将 {n} 条记录合并到 #{winner['id']}"}


@rapport.hookimpl
def register_actions(workspace: Any) -> list[Any]:
    names = tuple(checks(workspace)) if workspace.meta.revision else \
        tuple(("account", "contact", "lead"))
    return [Action("merge_duplicates", {"en": "Merge", "zh-CN": "合并"}, merge_action,
                   objects=names, record=False, bulk=True, roles=("admin", "manager"),
                   confirm={"en": "Merge the chosen records into the oldest of them? Their "
                                  "related records and history move to it; the others are "
                                  "deleted.",
                            "zh-CN": "将所选记录合并到其中最早的一条？相关记录和历史都会移过去，"
                                     "其余记录将被删除。"})]


@rapport.hookimpl
def register_routes(workspace: Any, screens: Any) -> list[Any]:
    return DuplicateScreens(workspace, screens).routes()


@rapport.hookimpl
def register_template_dirs() -> list[str]:
    return [str(HERE / "templates")]


@rapport.hookimpl
def register_nav_links(workspace: Any) -> list[Any]:
    return [NavLink({"en": "Duplicates", "zh-CN": "查重"}, "/x/duplicates", admin=False)]
