"""After-commit hooks: each implementation called on its own, and a call that fails kept
in ``rapport_hook_failure`` to be retried by the worker (with exponential backoff), never
silently lost."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from ..records.actor import SYSTEM, Actor
from .manager import PluginError

if TYPE_CHECKING:
    from ..workspace import Workspace

log = logging.getLogger("rapport.plugins")

MAX_ATTEMPTS = 8
FIRST_DELAY = 30.0        # seconds; doubled after every failed attempt
RETRY_BATCH = 100


def now() -> datetime:
    return datetime.now(UTC)


def _call(impl: Any, kwargs: dict[str, Any]) -> None:
    impl.function(**{a: kwargs[a] for a in impl.argnames})


def after_commit(ws: Workspace, object_name: str, record: dict[str, Any],
                 previous: dict[str, Any] | None, user: Actor) -> None:
    """Every ``record_after_commit`` implementation, each on its own; a failure is logged
    and kept for a retry (the other plugins still get the call)."""
    kwargs = {"workspace": ws, "object_name": object_name, "record": record,
              "previous": previous, "user": user}
    for impl in ws.plugins.implementations("record_after_commit"):
        try:
            _call(impl, kwargs)
        except Exception as exc:
            ws.plugins.note(impl.plugin_name, "record_after_commit", exc)
            keep(ws, impl.plugin_name, "record_after_commit", object_name, record, previous,
                 user, exc)


def _error_text(plugin: str, hook: str, exc: BaseException) -> str:
    return str(exc if isinstance(exc, PluginError) else PluginError(plugin, hook, exc))[:2000]


def keep(ws: Workspace, plugin: str, hook: str, object_name: str, record: dict[str, Any],
         previous: dict[str, Any] | None, user: Actor, exc: BaseException) -> None:
    from ..records.service import to_json

    arguments = {"object_name": object_name,
                 "record": {k: to_json(v) for k, v in record.items()},
                 "previous": None if previous is None else
                 {k: to_json(v) for k, v in previous.items()},
                 "user": user.id}
    when = now()
    try:
        with ws.transaction() as conn:
            conn.execute(insert(ws.table_of("rapport_hook_failure")).values(
                plugin=plugin, hook=hook, object=object_name, record_id=record.get("id"),
                arguments=json.dumps(arguments, ensure_ascii=False, default=str),
                error=_error_text(plugin, hook, exc), attempts=1, status="pending",
                created_at=when, next_attempt_at=when + timedelta(seconds=FIRST_DELAY)))
    except Exception:  # the database itself failed: the log is all that is left
        log.exception("could not keep the failed %s call of plugin %r for a retry "
                      "(object %s, record %s)", hook, plugin, object_name, record.get("id"))


def _revive(ws: Workspace, object_name: str, values: dict[str, Any] | None
            ) -> dict[str, Any] | None:
    """A record kept as JSON, with its values typed again (decimals, dates...)."""
    if values is None:
        return None
    obj = ws.meta.objects.get(object_name)
    out: dict[str, Any] = {}
    for key, value in values.items():
        try:
            if key in {"created_at", "updated_at"} and isinstance(value, str):
                value = datetime.fromisoformat(value)
            elif obj is not None and obj.has_field(key) and value is not None:
                value = ws.types.coerce_value(obj.field(key), value)
        except Exception:  # kept as it was stored
            pass
        out[key] = value
    return out


def _actor(ws: Workspace, user_id: int | None) -> Actor:
    from ..auth.users import actor_of
    from ..errors import NotFound

    if user_id is None:
        return SYSTEM
    try:
        return actor_of(ws.records.get("user", user_id))
    except NotFound:
        return SYSTEM


def retry_due(ws: Workspace, at: datetime | None = None, only: int | None = None) -> int:
    """Call the failed after-commit hooks that are due again (or the one ``only``, due or
    not); returns how many succeeded. Run by the built-in job ``rapport.retry``."""
    t = ws.table_of("rapport_hook_failure")
    at = at or now()
    stmt = select(t).where(t.c.status == "pending").order_by(t.c.id).limit(RETRY_BATCH)
    stmt = stmt.where(t.c.id == only) if only is not None else \
        stmt.where(t.c.next_attempt_at <= at)
    with ws.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(stmt)]
    done = 0
    for row in rows:
        if _retry(ws, row, at):
            done += 1
    return done


def _retry(ws: Workspace, row: dict[str, Any], at: datetime) -> bool:
    t = ws.table_of("rapport_hook_failure")
    impl = next((i for i in ws.plugins.implementations(row["hook"])
                 if i.plugin_name == row["plugin"]), None)
    error: str | None = None
    if impl is None:
        error = f"plugin '{row['plugin']}' is not loaded (or no longer implements {row['hook']})"
    else:
        args = json.loads(row["arguments"])
        kwargs = {"workspace": ws, "object_name": args["object_name"],
                  "record": _revive(ws, args["object_name"], args["record"]),
                  "previous": _revive(ws, args["object_name"], args["previous"]),
                  "user": _actor(ws, args.get("user"))}
        try:
            _call(impl, kwargs)
        except Exception as exc:
            error = _error_text(row["plugin"], row["hook"], exc)
    attempts = row["attempts"] + 1
    with ws.transaction() as conn:
        values: dict[str, Any]
        if error is None:
            values = {"status": "done", "resolved_at": at, "attempts": attempts,
                      "next_attempt_at": None}
        elif attempts >= MAX_ATTEMPTS:
            values = {"status": "dead", "error": error, "attempts": attempts,
                      "next_attempt_at": None}
            log.error("giving up on the %s call of plugin %r after %d attempts: %s",
                      row["hook"], row["plugin"], attempts, error)
        else:
            values = {"error": error, "attempts": attempts, "next_attempt_at":
                      at + timedelta(seconds=FIRST_DELAY * 2 ** (attempts - 1))}
        conn.execute(update(t).where(t.c.id == row["id"]).values(values))
    return error is None


def failures(ws: Workspace, include_done: bool = False, limit: int = 200
             ) -> list[dict[str, Any]]:
    t = ws.table_of("rapport_hook_failure")
    stmt = select(t).order_by(t.c.id.desc()).limit(limit)
    if not include_done:
        stmt = stmt.where(t.c.status != "done")
    with ws.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]
