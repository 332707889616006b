"""The ``caratflow`` command: set up, serve, present and decide from a terminal.

Scriptable forms that deployment tools rely on: ``init`` (safe to repeat),
``users add NAME --role R --authority CC`` (password from ``--password-stdin``),
``tokens create NAME`` (prints the token alone on stdout).

One module per area of commands (``setup``, ``cases``, ``deadlines``, ``ledger``,
``peers``), each a face over the engine's wings; ``context`` is what they share. The
enabled plugins add their own commands (hook ``caratflow_cli_extend``) when a command
line names one that core does not have, or asks for the list.
"""

from __future__ import annotations

import logging

import click

from caratflow.cli import authorities, cases, deadlines, directory, doctor, ledger, peers, setup
from caratflow.cli.context import CliContext
from caratflow.config import Settings, scrub_logs
from caratflow.pluginhost import UnknownPlugin, load_plugin_host


class CaratflowCommands(click.Group):
    """Core's commands, and those the enabled plugins add, loaded only when asked for
    (``--help`` and core's commands need no plugin)."""

    def _plugin_commands(self) -> dict[str, click.Command]:
        found: dict[str, click.Command] = {}
        try:
            host = load_plugin_host(Settings.from_env().plugins)
        except UnknownPlugin as error:
            raise click.ClickException(str(error)) from None
        host.extend_cli(lambda command: found.setdefault(command.name or "", command))
        return found

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugin_commands()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return super().get_command(ctx, name) or self._plugin_commands().get(name)


@click.group(cls=CaratflowCommands)
@click.option("-v", "--verbose", is_flag=True, help="Log what happens.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """caratflow: border control of the diamond trade."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    scrub_logs()  # issue 21: no personal number in a log line
    if not isinstance(ctx.obj, CliContext):  # a test hands in its own runtime
        ctx.obj = CliContext()


for command in (
    setup.init,
    authorities.authorities,
    setup.serve,
    setup.worker,
    setup.plugins,
    setup.users,
    setup.tokens,
    cases.present,
    cases.act,
    cases.replay,
    cases.handover,
    cases.purge,
    cases.legal_hold,
    cases.report,
    deadlines.deadlines,
    directory.directory,
    doctor.doctor,
    ledger.ledger,
    peers.peers,
):
    main.add_command(command)
