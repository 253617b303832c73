"""The ``rapport`` command line."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from .errors import MetadataError, MetaProblem, RapportError

console = Console(stderr=True)


def _workspace(ctx: click.Context) -> Any:
    from .workspace import Workspace

    obj = ctx.find_root().obj or {}
    return Workspace.open(obj.get("workspace"), obj.get("database"),
                          plugin_dirs=obj.get("plugins_dirs", ()))


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except MetadataError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)
    except RapportError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@contextmanager
def _progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    quiet = not sys.stderr.isatty() or os.environ.get("CI")
    if quiet:
        yield lambda n: None
        return
    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


@click.group()
@click.option("--workspace", "-w", envvar="RAPPORT_HOME", type=click.Path(file_okay=False),
              help="Workspace directory (default: the current directory).")
@click.option("--database", envvar="RAPPORT_DATABASE_URL", help="Database URL (overrides the "
              "workspace's).")
@click.option("--plugins-dir", "plugins_dirs", multiple=True,
              type=click.Path(file_okay=False, exists=True),
              help="Load the plugins in this directory too (repeatable).")
@click.version_option(package_name="rapport")
@click.pass_context
def main(ctx: click.Context, workspace: str | None, database: str | None,
         plugins_dirs: tuple[str, ...]) -> None:
    """Rapport: a low-code CRM platform."""
    ctx.obj = {"workspace": workspace, "database": database,
               "plugins_dirs": [str(Path(d).resolve()) for d in plugins_dirs]}


@main.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--database", "database_url", help="Database URL (default: SQLite in DIR).")
@click.option("--admin-email", help="Create an admin user with this email.")
@click.option("--admin-password", help="The admin's password (asked for when omitted).")
@click.pass_context
def init(ctx: click.Context, directory: str | None, database_url: str | None,
         admin_email: str | None, admin_password: str | None) -> None:
    """Create a workspace: config, database schema, core objects, an admin."""
    from .auth.users import create_user
    from .workspace import Workspace

    root_obj = ctx.find_root().obj or {}
    with _errors():
        target = directory or root_obj.get("workspace") or "."
        ws = Workspace.init(target, database_url or root_obj.get("database"))
        click.echo(f"workspace created in {ws.root} ({ws.engine.url.render_as_string()})")
        if admin_email:
            if admin_password is None:
                admin_password = click.prompt("admin password", hide_input=True,
                                              confirmation_prompt=True)
            create_user(ws, admin_email, role="admin", password=admin_password,
                        full_name="Administrator")
            click.echo(f"admin user {admin_email} created")
        ws.close()


@main.command()
@click.option("--plan", "plan_only", is_flag=True, help="Print what would change, change nothing.")
@click.pass_context
def migrate(ctx: click.Context, plan_only: bool) -> None:
    """Bring the database schema in line with the stored metadata."""
    with _errors():
        ws = _workspace(ctx)
        steps = ws.migrate(plan_only=plan_only)
        for line in steps or ["the schema is up to date"]:
            click.echo(line)


@main.group()
def meta() -> None:
    """Validate, apply and export metadata (objects, workflows, approvals, reports...)."""


def _read(paths: tuple[str, ...]) -> tuple[list[Any], list[MetaProblem]]:
    from .meta.loader import read_paths

    problems: list[MetaProblem] = []
    docs = read_paths(paths, problems)
    return docs, problems


@meta.command("validate")
@click.argument("paths", nargs=-1, required=True)
@click.pass_context
def meta_validate(ctx: click.Context, paths: tuple[str, ...]) -> None:
    """Check definition files; print file:/json/pointer: message for every problem."""
    docs, problems = _read(paths)
    with _errors():
        try:
            ws = _workspace(ctx)
            ws.validate(docs, problems)
        except RapportError as exc:
            if isinstance(exc, MetadataError):
                raise
            # outside a workspace: validate against the core objects
            from .fieldtypes import FieldTypes
            from .formulas import default_library
            from .meta.loader import read_paths
            from .meta.model import MetadataSet
            from .meta.validate import validate_documents
            from .resources import bundled

            core_problems: list[MetaProblem] = []
            names = {(d.kind, d.name) for d in docs}
            core = [d for d in read_paths([bundled("metadata") / "core"], core_problems)
                    if (d.kind, d.name) not in names]
            base = validate_documents(core, MetadataSet(), default_library(), FieldTypes().names())
            validate_documents(docs, base, default_library(), FieldTypes().names(), problems)
    click.echo(f"{len(docs)} definition(s) valid")


@meta.command("apply")
@click.argument("paths", nargs=-1, required=True)
@click.option("--plan", "plan_only", is_flag=True, help="Print the schema plan, change nothing.")
@click.option("--allow-data-loss", is_flag=True, help="Apply a plan that destroys data.")
@click.option("--comment", "-m", help="A note stored with the revision.")
@click.pass_context
def meta_apply(ctx: click.Context, paths: tuple[str, ...], plan_only: bool,
               allow_data_loss: bool, comment: str | None) -> None:
    """Validate definitions, show the schema plan and apply it (one transaction)."""
    docs, problems = _read(paths)
    with _errors():
        if problems:
            raise MetadataError(problems)
        ws = _workspace(ctx)
        if plan_only:
            plan = ws.plan(docs)
            for line in plan.lines():
                click.echo(line)
            return
        plan = ws.apply(docs, allow_data_loss=allow_data_loss, author=os.environ.get("USER"),
                        comment=comment)
        for line in plan.lines():
            click.echo(line)
        click.echo(f"applied as revision {ws.meta.revision}")


@meta.command("export")
@click.argument("directory", type=click.Path(file_okay=False))
@click.pass_context
def meta_export(ctx: click.Context, directory: str) -> None:
    """Write every definition as JSON files (the format meta apply reads)."""
    with _errors():
        written = _workspace(ctx).export(directory)
        click.echo(f"{len(written)} definition(s) written to {directory}")


@meta.command("history")
@click.option("--limit", default=50, show_default=True, help="How many revisions, newest first.")
@click.pass_context
def meta_history(ctx: click.Context, limit: int) -> None:
    """The metadata revisions: number, when, who, what changed."""
    with _errors():
        ws = _workspace(ctx)
        for r in ws.revisions(limit):
            changes = r["changes"] or {}
            what = [f"{k}/{n}" for k, n in changes.get("definitions", [])] + \
                [f"-{k}/{n}" for k, n in changes.get("removed", [])]
            when = r["created_at"].strftime("%Y-%m-%d %H:%M") if r["created_at"] else ""
            click.echo(f"{r['id']:>5}  {when}  {r['author'] or '-'}  {r['comment'] or ''}"
                       f"  [{', '.join(what[:8])}{' ...' if len(what) > 8 else ''}]")


@meta.command("diff")
@click.argument("a", type=int)
@click.argument("b", type=int)
@click.pass_context
def meta_diff(ctx: click.Context, a: int, b: int) -> None:
    """What changed from revision A to revision B, definition by definition."""
    from .meta.history import diff_revisions

    with _errors():
        changes = diff_revisions(_workspace(ctx), a, b)
        for c in changes:
            click.echo(f"== {c.kind}/{c.name} ({c.status})")
            for line in c.summary:
                click.echo(f"# {line}")
            for line in c.lines:
                click.echo(line)
        if not changes:
            click.echo("no differences")


@meta.command("rollback")
@click.argument("revision", type=int)
@click.option("--plan", "plan_only", is_flag=True, help="Print the schema plan, change nothing.")
@click.option("--allow-data-loss", is_flag=True, help="Apply a plan that destroys data.")
@click.pass_context
def meta_rollback(ctx: click.Context, revision: int, plan_only: bool,
                  allow_data_loss: bool) -> None:
    """Make revision N the model again: a new revision, with its own plan."""
    from .meta.history import rollback_change

    with _errors():
        ws = _workspace(ctx)
        docs, removals = rollback_change(ws, revision)
        if plan_only:
            plan = ws.plan(docs, removals)
        else:
            plan = ws.apply(docs, allow_data_loss=allow_data_loss, author=os.environ.get("USER"),
                            comment=f"roll back to revision {revision}", remove=removals)
        for line in plan.lines():
            click.echo(line)
        if not plan_only:
            click.echo(f"applied as revision {ws.meta.revision}")


@main.command("import")
@click.argument("object_name", metavar="OBJECT")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--upsert-key", help="Update records whose FIELD matches; create the others.")
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows, report the others.")
@click.pass_context
def import_(ctx: click.Context, object_name: str, file: str, upsert_key: str | None,
            skip_invalid: bool) -> None:
    """Import records from a CSV file (header: field names or labels)."""
    from .records.transfer import import_csv

    with _errors():
        ws = _workspace(ctx)
        with open(file, "rb") as fh:
            total = max(0, sum(1 for _ in fh) - 1)
        with _progress(f"importing {object_name}", total) as advance:
            report = import_csv(ws, object_name, file, upsert_key=upsert_key,
                                skip_invalid=skip_invalid, progress=advance)
        for line, message in report.errors[:200]:
            click.echo(f"{file}:{line}: {message}", err=True)
        if len(report.errors) > 200:
            click.echo(f"... and {len(report.errors) - 200} more bad rows", err=True)
        if report.errors and not skip_invalid:
            click.echo(f"nothing imported: {len(report.errors)} bad row(s) "
                       "(fix them, or use --skip-invalid)", err=True)
            sys.exit(1)
        for warning in report.warnings[:200]:
            click.echo(f"warning: {warning}", err=True)
        click.echo(f"{report.created} created, {report.updated} updated"
                   + (f", {len(report.errors)} skipped" if report.errors else ""))


@main.command("export")
@click.argument("object_name", metavar="OBJECT")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="File (default: stdout; "
              "xlsx needs a file).")
@click.pass_context
def export(ctx: click.Context, object_name: str, fmt: str, output: str | None) -> None:
    """Export every record of OBJECT as CSV or XLSX."""
    from .records.transfer import export_rows, write_csv, write_xlsx

    with _errors():
        ws = _workspace(ctx)
        header, rows = export_rows(ws, object_name)
        if fmt == "xlsx":
            target = output or f"{object_name}.xlsx"
            with open(target, "wb") as fh:
                n = write_xlsx(header, rows, fh, object_name)
            click.echo(f"{n} records written to {target}", err=True)
        elif output:
            with open(output, "w", newline="", encoding="utf-8") as fh:
                n = write_csv(header, rows, fh)
            click.echo(f"{n} records written to {output}", err=True)
        else:
            write_csv(header, rows, sys.stdout)


def _serve(ws: Any, host: str, port: int, workers: int, scheduler: bool = True,
           plugins_dirs: list[str] | None = None) -> None:
    import uvicorn

    for info in ws.plugins.infos:
        if not info.loaded:
            click.echo(f"warning: plugin {info.name} not loaded: {info.error}", err=True)
    if workers > 1:
        # each worker process opens the workspace itself (the app factory reads the env)
        os.environ["RAPPORT_HOME"] = str(ws.root)
        os.environ["RAPPORT_DATABASE_URL"] = ws.database_url
        os.environ["RAPPORT_SCHEDULER"] = "1" if scheduler else "0"
        if plugins_dirs:
            os.environ["RAPPORT_PLUGINS_DIR"] = os.pathsep.join(
                [*filter(None, os.environ.get("RAPPORT_PLUGINS_DIR", "").split(os.pathsep)),
                 *plugins_dirs])
        ws.close()
        uvicorn.run("rapport.web.app:app_from_env", factory=True, host=host, port=port,
                    workers=workers, log_level="info", proxy_headers=True)
        return
    from .web.app import create_app

    uvicorn.run(create_app(ws, scheduler=scheduler), host=host, port=port, log_level="info",
                proxy_headers=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (they share nothing but the database).")
@click.option("--plugins-dir", "plugins_dirs", multiple=True,
              type=click.Path(file_okay=False, exists=True),
              help="Load the plugins in this directory too (repeatable).")
@click.option("--no-scheduler", is_flag=True,
              help="Do not run scheduled jobs here (run 'rapport worker' instead).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int,
          plugins_dirs: tuple[str, ...], no_scheduler: bool) -> None:
    """Serve the screens and the REST API; every worker also runs the scheduled jobs."""
    with _errors():
        obj = ctx.find_root().obj
        obj["plugins_dirs"] = [*obj.get("plugins_dirs", ()),
                               *(str(Path(d).resolve()) for d in plugins_dirs)]
        ws = _workspace(ctx)
        click.echo(f"Rapport on http://{host}:{port}/ (workspace {ws.root})", err=True)
        _serve(ws, host, port, workers, not no_scheduler, obj["plugins_dirs"])


DEMO_ADMIN = ("admin@example.com", "rapport-demo")
# bundled plugins the demo turns on: signed webhooks to other systems, and the duplicate
# check. The public pool moves records between owners on a schedule: an admin enables it
# deliberately (rapport plugins enable public_pool).
DEMO_PLUGINS = ("webhooks", "duplicates")


@main.command()
@click.argument("directory", required=False, default="rapport-demo",
                type=click.Path(file_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Create the workspace and its data, then stop.")
@click.pass_context
def demo(ctx: click.Context, directory: str, host: str, port: int, no_serve: bool) -> None:
    """A workspace with sample data (created on first run), then serve it.

    SQLite in DIR, unless ``rapport --database URL demo`` names another database."""
    from .auth.users import actor_of, create_user, find_user
    from .demo import install_packs, seed
    from .workspace import CONFIG_FILE, Workspace

    with _errors():
        root = Path(directory).resolve()
        database = (ctx.find_root().obj or {}).get("database")
        if (root / CONFIG_FILE).exists():
            ws = Workspace.open(root, database)
            click.echo(f"using the demo workspace in {root}", err=True)
        else:
            ws = Workspace.init(root, database, plugins=DEMO_PLUGINS)
            admin = create_user(ws, DEMO_ADMIN[0], "admin", DEMO_ADMIN[1], "Ada Admin")
            with _progress("sample data", None) as advance:
                counts = seed(ws, actor_of(admin), progress=advance)
            click.echo("sample data: " + ", ".join(f"{n} {k}" for k, n in counts.items()), err=True)
            with _progress("industry packs", None) as advance:
                packs = install_packs(ws, DEMO_ADMIN[1], progress=advance)
            click.echo("industry packs: " + ", ".join(f"{k} ({n} records)"
                                                      for k, n in packs.items()), err=True)
        if find_user(ws, DEMO_ADMIN[0]) is None:
            create_user(ws, DEMO_ADMIN[0], "admin", DEMO_ADMIN[1], "Ada Admin")
        click.echo(f"open http://{host}:{port}/ and log in as {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]}"
                   f" (or maria@example.com, the sales manager, to decide approvals; the packs'"
                   f" users, e.g. m_fin@mfg.example.com, have the same password)", err=True)
        if not no_serve:
            _serve(ws, host, port, 1)


@main.group()
def user() -> None:
    """Manage users and API tokens."""


@user.command("create")
@click.argument("email")
@click.option("--role", default="member", help="A role code: admin, manager, member or one "
              "a pack or an admin added.")
@click.option("--password", help="Password (asked for when omitted).")
@click.option("--name", "full_name", help="Full name.")
@click.pass_context
def user_create(ctx: click.Context, email: str, role: str, password: str | None,
                full_name: str | None) -> None:
    """Create a user."""
    from .auth.users import create_user

    with _errors():
        ws = _workspace(ctx)
        if password is None:
            password = click.prompt("password", hide_input=True, confirmation_prompt=True)
        u = create_user(ws, email, role=role, password=password, full_name=full_name)
        click.echo(f"user {u['email']} created (id {u['id']}, role {role})")


@user.command("token")
@click.argument("email")
@click.option("--read-only", is_flag=True, help="A token that can only read.")
@click.option("--label", help="What the token is for.")
@click.pass_context
def user_token(ctx: click.Context, email: str, read_only: bool, label: str | None) -> None:
    """Print a new API token for a user (Authorization: Bearer <token>)."""
    from .auth.users import create_token

    with _errors():
        ws = _workspace(ctx)
        click.echo(create_token(ws, email, label, "read" if read_only else "read_write"))


def _add_plugin_commands() -> None:
    from .plugins.commands import plugins, worker

    main.add_command(plugins)
    main.add_command(worker)


_add_plugin_commands()


def _add_pack_commands() -> None:
    from .packs.cli import pack

    main.add_command(pack)


_add_pack_commands()

if __name__ == "__main__":  # pragma: no cover
    main()
