"""Rapport's own behaviour that rides on the hooks, registered like any plugin (as
``rapport``): the built-in field types, and the retry of failed after-commit hooks."""

from __future__ import annotations

from typing import Any

from .hookspecs import hookimpl


def retry_failed_hooks(workspace: Any) -> None:
    from .failures import retry_due

    retry_due(workspace)


@hookimpl(tryfirst=True)
def register_field_types() -> list[Any]:
    from ..fieldtypes import builtin_types

    return builtin_types()  # first: a plugin's type of the same name replaces one


@hookimpl
def scheduled_jobs(workspace: Any) -> list[Any]:
    from . import Job

    return [Job("rapport.retry_failed_hooks", "@every 30s", retry_failed_hooks)]
