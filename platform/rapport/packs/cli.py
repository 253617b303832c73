"""``rapport pack list | install NAME [--sample-data] [--plan] | upgrade NAME |
uninstall NAME``."""

from __future__ import annotations

import os

import click


def _manager(ctx: click.Context):  # type: ignore[no-untyped-def]
    from ..cli import _workspace
    from .manager import PackManager

    return PackManager(_workspace(ctx))


def _echo_plan(plan) -> None:  # type: ignore[no-untyped-def]
    for line in plan.lines():
        click.echo(line)


@click.group("pack")
def pack() -> None:
    """Industry template packs: list, install, upgrade, uninstall."""


@pack.command("list")
@click.pass_context
def pack_list(ctx: click.Context) -> None:
    """The packs available and the version each workspace holds."""
    from ..cli import _errors

    with _errors():
        rows = _manager(ctx).list()
        width = max([len(r["name"]) for r in rows] + [4])
        click.echo(f"{'name':<{width}}  version  installed  status     label")
        for r in rows:
            click.echo(f"{r['name']:<{width}}  {r['version']:<7}  "
                       f"{r['installed_version'] or '-':<9}  {r['status']:<9}  {r['label']}")


@pack.command("install")
@click.argument("name")
@click.option("--sample-data", is_flag=True, help="Load the pack's sample records too.")
@click.option("--plan", "plan_only", is_flag=True, help="Print what would change, change nothing.")
@click.pass_context
def pack_install(ctx: click.Context, name: str, sample_data: bool, plan_only: bool) -> None:
    """Install a pack (one transaction: everything or nothing)."""
    from ..cli import _errors, _progress

    with _errors():
        pm = _manager(ctx)
        plan = pm.plan_install(name, sample_data)
        _echo_plan(plan)
        if plan_only:
            return
        with _progress(f"installing {name}", plan.sample_records or None) as advance:
            result = pm.install(name, sample_data, author=os.environ.get("USER"),
                                progress=advance)
        if result.samples:
            click.echo("sample data: " + ", ".join(f"{n} {k}" for k, n in result.samples.items()))
        click.echo(f"installed {name} {plan.version} as revision {result.revision}")


@pack.command("upgrade")
@click.argument("name")
@click.option("--plan", "plan_only", is_flag=True, help="Print what would change, change nothing.")
@click.pass_context
def pack_upgrade(ctx: click.Context, name: str, plan_only: bool) -> None:
    """Upgrade an installed pack, keeping the data and the admin's changes."""
    from ..cli import _errors

    with _errors():
        pm = _manager(ctx)
        plan = pm.plan_upgrade(name)
        _echo_plan(plan)
        if plan_only:
            return
        result = pm.upgrade(name, author=os.environ.get("USER"))
        click.echo(f"upgraded {name} to {plan.version} as revision {result.revision}")


@pack.command("uninstall")
@click.argument("name")
@click.option("--plan", "plan_only", is_flag=True, help="Print what would change, change nothing.")
@click.option("--allow-data-loss", is_flag=True,
              help="Uninstall even though the pack's objects (or the fields it added) hold data.")
@click.pass_context
def pack_uninstall(ctx: click.Context, name: str, plan_only: bool, allow_data_loss: bool) -> None:
    """Remove a pack's definitions; refused while they hold data unless allowed."""
    from ..cli import _errors

    with _errors():
        pm = _manager(ctx)
        plan = pm.plan_uninstall(name)
        _echo_plan(plan)
        if plan_only:
            return
        result = pm.uninstall(name, allow_data_loss, author=os.environ.get("USER"))
        click.echo(f"uninstalled {name} as revision {result.revision}")
