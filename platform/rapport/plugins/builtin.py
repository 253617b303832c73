"""Rapport's own behaviour that rides on the hooks, registered like any plugin (as
``rapport``): the retry of failed after-commit hooks."""

from __future__ import annotations

from typing import Any

from .hookspecs import hookimpl


def retry_failed_hooks(workspace: Any) -> None:
    from .failures import retry_due

    retry_due(workspace)


@hookimpl
def scheduled_jobs(workspace: Any) -> list[Any]:
    from . import Job

    return [Job("rapport.retry_failed_hooks", "@every 30s", retry_failed_hooks)]
