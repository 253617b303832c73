"""Every hook a plugin can implement. Hooks are called with keyword arguments, so an
implementation takes only the arguments it needs (pluggy)."""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("rapport")
hookimpl = pluggy.HookimplMarker("rapport")


@hookspec
def startup(workspace: Any) -> None:
    """The workspace has opened (CLI command or server start). No transaction."""


@hookspec
def shutdown(workspace: Any) -> None:
    """The workspace is closing (server stop). No transaction."""


@hookspec
def register_field_types() -> list[Any]:
    """Return a list of :class:`rapport.fieldtypes.FieldType` (storage column type,
    coercion and validation, form widget, display). Called once when the workspace opens."""


@hookspec
def register_formula_functions() -> dict[str, Any]:
    """Return ``{name: callable}`` added to the formula function library."""


@hookspec
def record_before_save(workspace: Any, object_name: str, record: dict[str, Any],
                       previous: dict[str, Any] | None, user: Any) -> None:
    """Before a record is created (``previous`` is None) or updated. ``record`` holds the
    values about to be saved and may be changed in place; formulas are computed after this
    hook. Raise ``rapport.ValidationError(message, field=None)`` to refuse the write.
    Runs inside the write's transaction."""


@hookspec
def record_after_save(workspace: Any, object_name: str, record: dict[str, Any],
                      previous: dict[str, Any] | None, user: Any, connection: Any) -> None:
    """After a record was inserted or updated, inside the same transaction (``connection``):
    an exception here rolls the whole write back."""


@hookspec
def record_after_commit(workspace: Any, object_name: str, record: dict[str, Any],
                        previous: dict[str, Any] | None, user: Any) -> None:
    """After the write's transaction committed. An exception is logged, never raised to the
    user (the write has happened)."""


@hookspec
def record_before_delete(workspace: Any, object_name: str, record: dict[str, Any],
                         user: Any) -> None:
    """Before a record is deleted; raise ``rapport.ValidationError`` to refuse.
    Runs inside the delete's transaction."""


@hookspec
def record_after_delete(workspace: Any, object_name: str, record: dict[str, Any],
                        user: Any) -> None:
    """After a record was deleted, inside the delete's transaction."""


@hookspec
def stage_before_transition(workspace: Any, object_name: str, record: dict[str, Any],
                            from_stage: str | None, to_stage: str, user: Any) -> None:
    """Before a stage change is saved; raise ``rapport.ValidationError`` to refuse.
    Runs inside the write's transaction."""


@hookspec
def stage_after_transition(workspace: Any, object_name: str, record: dict[str, Any],
                           from_stage: str | None, to_stage: str, user: Any) -> None:
    """After a stage change was saved, inside the write's transaction."""


@hookspec
def approval_submitted(workspace: Any, request: dict[str, Any], user: Any) -> None:
    """An approval request was submitted; inside the submit's transaction."""


@hookspec
def approval_decided(workspace: Any, request: dict[str, Any], decision: str, user: Any) -> None:
    """An approval request was approved, rejected or recalled; inside the decision's
    transaction."""


@hookspec
def register_routes(workspace: Any) -> list[Any]:
    """Return a list of Starlette routes mounted into the web app."""


@hookspec
def register_actions(workspace: Any) -> list[Any]:
    """Return a list of record or bulk actions (buttons on record pages and lists)."""


@hookspec
def register_template_dirs() -> list[str]:
    """Return directories searched for templates before the defaults."""


@hookspec
def scheduled_jobs(workspace: Any) -> list[tuple[str, Any]]:
    """Return ``(cron expression, callable)`` pairs; each runs once per tick across workers."""
