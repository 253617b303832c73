"""``rapport plugins ...`` and ``rapport worker``."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from .manager import bundled_plugins


def _ws(ctx: click.Context) -> Any:
    from ..cli import _workspace

    return _workspace(ctx)


def _settings_edit(ws: Any, change: Any) -> None:
    """Change the ``plugins`` section of the workspace's rapport.json."""
    from ..workspace import CONFIG_FILE

    if ws.root is None or not (ws.root / CONFIG_FILE).exists():
        raise click.ClickException("the workspace has no rapport.json to keep the setting in")
    path = Path(ws.root) / CONFIG_FILE
    config = json.loads(path.read_text("utf-8"))
    settings = config.setdefault("plugins", {})
    change(settings)
    for key in ("enabled", "disabled"):
        if key in settings and not settings[key]:
            del settings[key]
    if not settings:
        del config["plugins"]
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", "utf-8")


@click.group("plugins")
def plugins() -> None:
    """List, enable and disable plugins; see failed after-commit hooks."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """What is loaded, from where, with which hooks; what failed and why. Exit 1 when a
    plugin could not be loaded."""
    from ..cli import _errors
    from .failures import failures
    from .scheduler import ensure_tables, jobs_of

    with _errors():
        ws = _ws(ctx)
        infos = list(ws.plugins.infos)
        loaded = {i.name for i in infos}
        enabled = set((ws.config.get("plugins") or {}).get("enabled", ()))
        available = [n for n in sorted(bundled_plugins()) if n not in loaded | enabled]
        ensure_tables(ws, "rapport_hook_failure", "rapport_job")
        pending = failures(ws)
        jobs: dict[str, list[str]] = {}
        with ws.engine.connect() as conn:
            t = ws.table_of("rapport_job")
            runs = {r.name: r for r in conn.execute(select(t))}
        for job in jobs_of(ws):
            run = runs.get(job.name)
            last = f", last run {run.finished_at:%Y-%m-%d %H:%M} UTC: {run.status}" \
                if run is not None and run.finished_at else ""
            jobs.setdefault(job.plugin, []).append(f"{job.name} ({job.schedule.text}{last})")
        actions = {r.plugin: [] for r in ws.actions.all()}
        for r in ws.actions.all():
            actions[r.plugin].append(r.name)
        if as_json:
            click.echo(json.dumps({
                "plugins": [{"name": i.name, "source": i.source, "location": i.location,
                             "loaded": i.loaded, "hooks": i.hooks, "error": i.error,
                             "problems": i.problems, "actions": actions.get(i.name, []),
                             "jobs": jobs.get(i.name, [])}
                            for i in infos],
                "available": available,
                "failed_calls": len(pending)}, indent=2, ensure_ascii=False))
        else:
            for i in infos:
                state = "loaded" if i.loaded else "FAILED"
                click.echo(f"{i.name}  [{state}]  {i.source}" + (f": {i.location}" if i.location
                                                                 else ""))
                if i.hooks:
                    click.echo(f"    hooks: {', '.join(i.hooks)}")
                if actions.get(i.name):
                    click.echo(f"    actions: {', '.join(actions[i.name])}")
                if jobs.get(i.name):
                    click.echo(f"    jobs: {', '.join(jobs[i.name])}")
                if i.error:
                    click.echo(f"    error: {i.error}")
                for problem in i.problems:
                    click.echo(f"    problem: {problem}")
            if available:
                click.echo("bundled, not enabled: " + ", ".join(available)
                           + "  (rapport plugins enable NAME)")
            if pending:
                click.echo(f"{len(pending)} failed after-commit call(s) kept for a retry "
                           "(rapport plugins failures)")
        ws.close()
        if any(not i.loaded for i in infos):
            sys.exit(1)


@plugins.command("enable")
@click.argument("name")
@click.pass_context
def enable(ctx: click.Context, name: str) -> None:
    """Enable a plugin in this workspace (a bundled plugin is off until enabled)."""
    from ..cli import _errors

    with _errors():
        ws = _ws(ctx)
        shipped = bundled_plugins()
        known = {i.name for i in ws.plugins.infos}
        disabled = set((ws.config.get("plugins") or {}).get("disabled", ()))
        if name not in shipped and name not in disabled and name not in known:
            raise click.ClickException(f"no plugin named '{name}' (bundled: "
                                       f"{', '.join(sorted(shipped)) or 'none'})")

        def change(settings: dict[str, Any]) -> None:
            settings["disabled"] = [n for n in settings.get("disabled", ()) if n != name]
            if name in shipped and name not in settings.get("enabled", ()):
                settings["enabled"] = [*settings.get("enabled", ()), name]
        _settings_edit(ws, change)
        ws.close()
        ws = _ws(ctx)  # opened again with the plugin: its tables are made, startup runs
        info = ws.plugins.info(name)
        ws.close()
        if info is None:
            failed = next((i for i in ws.plugins.infos if i.name == name), None)
            reason = failed.error if failed else "it was not found"
            raise click.ClickException(f"plugin '{name}' is enabled but did not load: {reason}")
        click.echo(f"plugin {name} enabled (hooks: {', '.join(info.hooks) or 'none'})")


@plugins.command("disable")
@click.argument("name")
@click.pass_context
def disable(ctx: click.Context, name: str) -> None:
    """Disable a plugin in this workspace (its data stays)."""
    from ..cli import _errors

    with _errors():
        ws = _ws(ctx)
        shipped = bundled_plugins()

        def change(settings: dict[str, Any]) -> None:
            settings["enabled"] = [n for n in settings.get("enabled", ()) if n != name]
            if name not in shipped and name not in settings.get("disabled", ()):
                settings["disabled"] = [*settings.get("disabled", ()), name]
        _settings_edit(ws, change)
        ws.close()
        click.echo(f"plugin {name} disabled")


@plugins.command("failures")
@click.option("--retry", "retry_id", type=int, help="Retry this failed call now.")
@click.pass_context
def failures_(ctx: click.Context, retry_id: int | None) -> None:
    """After-commit hook calls that failed and are retried (or given up on)."""
    from ..cli import _errors
    from .failures import failures, retry_due
    from .scheduler import ensure_tables

    with _errors():
        ws = _ws(ctx)
        ensure_tables(ws, "rapport_hook_failure")
        if retry_id is not None:
            ok = retry_due(ws, only=retry_id)
            click.echo("the call succeeded" if ok else "the call failed again (or is not pending)")
        rows = failures(ws)
        for r in rows:
            click.echo(f"#{r['id']} {r['status']} {r['plugin']} {r['hook']} {r['object']} "
                       f"{r['record_id']} attempts={r['attempts']} next={r['next_attempt_at']}: "
                       f"{r['error']}")
        if not rows:
            click.echo("no failed calls")
        ws.close()


@click.command("worker")
@click.option("--once", is_flag=True, help="Run the jobs that are due, then stop.")
@click.option("--poll", default=1.0, show_default=True, type=click.FloatRange(0.1, 60),
              help="Seconds between looks at the schedule.")
@click.pass_context
def worker(ctx: click.Context, once: bool, poll: float) -> None:
    """Run the scheduled jobs of the plugins (as many workers as you like: each job runs
    once per tick across all of them)."""
    from ..cli import _errors
    from .scheduler import Scheduler

    with _errors():
        ws = _ws(ctx)
        scheduler = Scheduler(ws, poll=poll)
        names = ", ".join(f"{j.name} ({j.schedule.text})" for j in scheduler.jobs) or "none"
        click.echo(f"rapport worker {scheduler.holder}: jobs {names}", err=True)
        if once:
            started = scheduler.run_pending(wait=True)
            click.echo(f"ran: {', '.join(started) or 'nothing was due'}", err=True)
            scheduler.stop()
            ws.close()
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_a: stop.set())
        scheduler.start()
        while not stop.wait(1.0):
            pass
        click.echo("stopping the worker ...", err=True)
        scheduler.stop()
        ws.close()
