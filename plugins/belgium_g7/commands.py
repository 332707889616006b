"""The plugin's commands (``caratflow identities show|lineage ID``): the same records the
API serves (``web.py``), for an officer at a terminal. Built from
``caratflow.faces`` alone, like the plugin's web face."""

from __future__ import annotations

import json
from collections.abc import Callable

import click

from caratflow.faces import cli
from caratflow.jurisdiction.hookspecs import hookimpl
from caratflow.plugins.belgium_g7 import lineage, lookups


@click.group()
def identities() -> None:
    """G7 digital identities of parcels and stones (LAW.md g7.digital_identity)."""


@identities.command("show")
@click.argument("identity")
def show(identity: str) -> None:
    """An identity as recorded, with its ledger proof once sequenced (JSON)."""
    face = cli()
    with face.unit() as session:
        view = lookups.lookup(session, identity, face.actor())
        click.echo(json.dumps(view.as_json(), indent=2, ensure_ascii=False))


@identities.command("lineage")
@click.argument("identity")
def lineage_of(identity: str) -> None:
    """An identity's lineage: ancestors to the rough, descendants, and the verdict (JSON)."""
    face = cli()
    with face.unit() as session:
        graph = lineage.lineage_graph(session, identity, face.actor())
        click.echo(json.dumps(graph.as_dict(), indent=2, ensure_ascii=False, default=str))


@hookimpl
def caratflow_cli_extend(register: Callable[[click.Command], None]) -> None:
    register(identities)
