"""Every hook a plugin can implement.

Hooks are called with keyword arguments (pluggy), so an implementation takes only the
arguments it needs, and a spec can grow an argument without breaking existing plugins.
Each spec says what its arguments are, when it runs, what a return value does and in which
transaction it runs. docs/plugins.md documents the same specs for plugin developers (a
test keeps the two in step).

A hook refuses a write by raising ``rapport.ValidationError(message, field=None)``; any
other exception is a bug of the plugin: it is reported as a ``PluginError`` naming the
plugin and the hook (the write is refused and rolled back, or, for hooks that run outside
a write, the plugin's contribution is skipped and the failure logged).
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("rapport")
hookimpl = pluggy.HookimplMarker("rapport")


@hookspec
def startup(workspace: Any) -> None:
    """The workspace has opened (every CLI command, each server worker, ``rapport worker``).

    Arguments: ``workspace``, the :class:`rapport.workspace.Workspace`.
    Return value: ignored. Transaction: none. An exception is reported with the plugin's
    name and the plugin is left out of the workspace (``rapport plugins list`` shows why)."""


@hookspec
def shutdown(workspace: Any) -> None:
    """The workspace is closing (end of a CLI command, server or worker stop).

    Arguments: ``workspace``. Return value: ignored. Transaction: none. An exception is
    logged with the plugin's name; the other plugins still shut down."""


@hookspec
def register_field_types() -> list[Any]:
    """Field types the plugin adds, usable in object definitions like the built-in ones.

    Arguments: none. When: once, as the workspace opens. Return value: a list of
    :class:`rapport.fieldtypes.FieldType` (name, label, storage column type, coercion and
    validation, form widget, display, filter operators, settings). Transaction: none."""


@hookspec
def register_formula_functions() -> dict[str, Any]:
    """Functions the plugin adds to the formula library (formulas, validation rules,
    conditions, workflow ``set`` values).

    Arguments: none. When: once, as the workspace opens. Return value:
    ``{name: callable}``; a callable takes plain values and returns one, and runs inside
    the formula engine's limits. Transaction: none."""


@hookspec
def register_tables() -> Any:
    """Database tables the plugin keeps for itself (an outbox, a log...).

    Arguments: none. When: as the workspace opens; missing tables are created then (and
    by ``rapport migrate`` and ``rapport plugins enable``). Return value: a SQLAlchemy
    ``MetaData`` or a list of ``Table`` objects; name them ``<plugin>_...`` so they never
    collide with object tables. Transaction: their own, before anything else runs."""


@hookspec
def record_before_save(workspace: Any, object_name: str, record: dict[str, Any],
                       previous: dict[str, Any] | None, user: Any, connection: Any) -> None:
    """Before a record is created (``previous`` is None) or updated, through any path
    (API, screens, import, actions, other plugins).

    Arguments: ``object_name``; ``record``, the coerced values about to be saved, which
    the hook may change in place (formulas and validation rules run after it);
    ``previous``, the stored record before an update; ``user``, the acting
    :class:`rapport.records.actor.Actor`; ``connection``, the write's SQLAlchemy
    connection (read through it to see the transaction's own writes).
    Return value: ignored. Raise ``rapport.ValidationError(message, field=None)`` to
    refuse: the user sees the message on the field (or the record), nothing of the write
    remains; in a batch (import) only that row is refused and reported.
    Transaction: inside the write's transaction."""


@hookspec
def record_after_save(workspace: Any, object_name: str, record: dict[str, Any],
                      previous: dict[str, Any] | None, user: Any, connection: Any) -> None:
    """After a record was inserted or updated, before the transaction commits.

    Arguments: ``object_name``; ``record``, the record as stored (with its ``id`` and
    ``version``); ``previous``, None on create; ``user``, the acting user;
    ``connection``, the write's connection: what the hook
    writes through it commits or rolls back with the change (a transactional outbox).
    Return value: ignored. An exception (a ``ValidationError`` too) rolls the whole write
    back. Transaction: inside the write's transaction."""


@hookspec
def record_after_commit(workspace: Any, object_name: str, record: dict[str, Any],
                        previous: dict[str, Any] | None, user: Any) -> None:
    """After the write's transaction committed (never for a rolled-back write).

    Arguments: ``object_name``, ``record`` (as stored), ``previous`` (None on create),
    ``user``, as for ``record_after_save``, without a connection: the change is final.
    Return value: ignored. An exception is logged with the plugin's name and the call is
    kept in ``rapport_hook_failure``; the worker retries it with backoff (8 attempts),
    and ``rapport plugins failures`` lists what still fails. The user's write has happened
    and is not affected. Transaction: none (open your own with
    ``workspace.transaction()``)."""


@hookspec
def record_before_delete(workspace: Any, object_name: str, record: dict[str, Any],
                         user: Any, connection: Any) -> None:
    """Before a record is deleted.

    Arguments: ``object_name``; ``record``, the stored record; ``user``; ``connection``,
    the delete's connection. Return value: ignored. Raise ``rapport.ValidationError`` to
    refuse the
    delete (nothing is deleted). Transaction: inside the delete's transaction."""


@hookspec
def record_after_delete(workspace: Any, object_name: str, record: dict[str, Any],
                        user: Any, connection: Any) -> None:
    """After a record was deleted, before the transaction commits.

    Arguments: ``object_name``; ``record``, the record as it was; ``user``;
    ``connection``, the delete's connection. Return value: ignored. An exception rolls the delete back.
    Transaction: inside the delete's transaction."""


@hookspec
def stage_before_transition(workspace: Any, object_name: str, record: dict[str, Any],
                            from_stage: str | None, to_stage: str, user: Any) -> None:
    """Before a stage change of a stage workflow is saved (a kanban drag, a transition
    button, an API transition or any update that changes the stage field), after the
    workflow's own rules allowed it.

    Arguments: ``object_name``; ``record``, the values about to be saved;
    ``from_stage``, ``to_stage``; ``user``. Return value: ignored. Raise ``rapport.ValidationError`` to refuse the
    move: it springs back with the message. Transaction: inside the write's transaction."""


@hookspec
def stage_after_transition(workspace: Any, object_name: str, record: dict[str, Any],
                           from_stage: str | None, to_stage: str, user: Any,
                           connection: Any) -> None:
    """After a stage change was saved (its stage history row written).

    Arguments: ``object_name``, ``record`` (as stored), ``from_stage``, ``to_stage``,
    ``user``, as for ``stage_before_transition``, plus ``connection``, the write's
    connection. Return value: ignored. An exception rolls the change back.
    Transaction: inside the write's transaction."""


@hookspec
def approval_submitted(workspace: Any, request: dict[str, Any], user: Any,
                       connection: Any) -> None:
    """An approval request was submitted.

    Arguments: ``request``, the request as the API shows it (id, flow, object,
    record_id, status, steps...); ``user``, who submitted; ``connection``, the submit's
    connection. Return value: ignored. An exception refuses the submit.
    Transaction: inside the submit's transaction."""


@hookspec
def approval_decided(workspace: Any, request: dict[str, Any], decision: str, user: Any,
                     connection: Any) -> None:
    """An approval request was approved, rejected or recalled (as a whole: the last step
    decided it).

    Arguments: ``request``, as for ``approval_submitted``; ``decision``: ``approved``,
    ``rejected`` or ``recalled``; ``user``, who decided; ``connection``. Return value:
    ignored. An exception refuses the decision. Transaction: inside the decision's
    transaction."""


@hookspec
def register_routes(workspace: Any, screens: Any) -> list[Any]:
    """HTTP routes the plugin adds to the web app.

    Arguments: ``workspace``; ``screens``, the app's :class:`rapport.web.screens.Screens`:
    ``await screens.actor(request)`` is who is asking (the login and CSRF checks of every
    screen), ``screens.render(request, template, actor=actor, **context)`` renders a page
    in the app's shell. When: once per server worker, as the app is built. Return value:
    a list of Starlette routes (``Route``, ``Mount``); they come first, so keep them under
    ``/x/<plugin>/`` (screens) and ``/api/v1/x/<plugin>/`` (JSON; errors there are
    problem+json). Transaction: none; a handler opens its own
    (``workspace.transaction()``)."""


@hookspec
def register_actions(workspace: Any) -> list[Any]:
    """Record actions: buttons on record pages and bulk actions on lists (and
    ``POST /api/v1/records/{object}/{id}/actions/{name}``).

    Arguments: ``workspace``. When: once, as the workspace opens. Return value: a list of
    :class:`rapport.plugins.Action`; its ``run`` is called with ``records`` (the chosen
    records), ``user`` and ``connection`` and returns the message shown to the user.
    Transaction: ``run`` runs inside one transaction for all the chosen records; a
    ``ValidationError`` (or any exception) rolls it all back and is shown instead."""


@hookspec
def register_template_dirs() -> list[str]:
    """Directories of Jinja templates: searched before the built-in ones, so a plugin
    adds templates (its screens, its field widgets as ``fields/<widget>.html``) or
    overrides one.

    Arguments: none. When: once per server worker. Return value: a list of directory
    paths. Transaction: none."""


@hookspec
def register_static_dirs() -> list[str]:
    """Directories of static files (CSS, scripts, images) served under
    ``/static/plugins/<plugin>/``.

    Arguments: none. When: once per server worker. Return value: a list of directory
    paths, searched in order. Transaction: none."""


@hookspec
def record_panels(workspace: Any, object_name: str, record: dict[str, Any],
                  user: Any) -> list[Any]:
    """Panels shown beside a record on its page (possible duplicates, pool status...).

    Arguments: ``object_name``, ``record`` (as stored), ``user``. When: every time a
    record page is rendered. Return value: a list of :class:`rapport.plugins.Panel`
    (a title, a template from the plugin's template directory and its context), or
    None. Transaction: none (read only)."""


@hookspec
def register_nav_links(workspace: Any) -> list[Any]:
    """Entries the plugin adds to the sidebar, under "Extensions" (its screens).

    Arguments: ``workspace``. When: once per server worker. Return value: a list of
    :class:`rapport.plugins.NavLink` (label, href, admin only or not). Transaction: none."""


@hookspec
def scheduled_jobs(workspace: Any) -> list[Any]:
    """Jobs to run on a schedule by the scheduler of ``rapport serve`` and ``rapport
    worker``.

    Arguments: ``workspace``. When: once, as the scheduler starts. Return value: a list of
    ``(schedule, callable)`` pairs or :class:`rapport.plugins.Job` objects. A schedule is
    a cron expression (``"*/5 * * * *"``, minute hour day month weekday, UTC), ``@hourly``,
    ``@daily``, or an interval (``"@every 30s"``). The callable gets the workspace
    (``job(workspace)``). Each job runs once per tick across every worker process (a
    lease row in ``rapport_job``); a job still running holds its tick.
    Transaction: none; the job opens its own (``workspace.transaction()``)."""
