"""``caratflow directory``: an authority's addressees and how each is reached (issue 24)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import click
from sqlalchemy import select

from caratflow.accounts import audit
from caratflow.cli.context import current_runtime, local_actor, unit
from caratflow.deadlines.directory import directory as directory_of
from caratflow.deadlines.directory import import_addressees
from caratflow.deadlines.outbox import add_recipient, remove_recipient
from caratflow.models import Authority


@click.group()
def directory() -> None:
    """Who the authorities' notices go to: the Commission, KP authorities, customs, ..."""


@directory.command("list")
@click.argument("authority", required=False)
@click.option("--missing", is_flag=True, help="Only the addressees nobody can reach yet.")
def directory_list(authority: str | None, missing: bool) -> None:
    """Each addressee: audience, who, channel(s) and whether it is reached."""
    host = current_runtime().plugins
    with unit() as session:
        query = select(Authority).order_by(Authority.code)
        if authority:
            query = query.where(Authority.code == authority)
        for found in session.scalars(query):
            for entry in directory_of(session, host, found):
                if missing and entry.reach == "reachable":
                    continue
                click.echo(
                    f"{entry.authority:<4} {entry.audience:<22} {entry.reach:<17} {entry.name}"
                )
                for recipient in entry.recipients:
                    click.echo(f"       #{recipient.id} {recipient.address}")


@directory.command("add")
@click.argument("authority")
@click.argument("audience")
@click.argument("address")
@click.option("--name", default="", help="Who this is (e.g. 'European Commission, DG TRADE').")
def directory_add(authority: str, audience: str, address: str, name: str) -> None:
    """Reach AUTHORITY's AUDIENCE at ADDRESS: peer:CODE (a caratflow node), mailto:...,
    https://... (webhook); log:... is for development only. Notices kept undeliverable
    for that audience go out now."""
    with unit() as session:
        recipient = add_recipient(session, authority, audience, address, name)
        audit.record_change(
            session,
            local_actor().name,
            f"directory: {audience} reached at {address}",
            authorities=[authority],
        )
    dev = " (development only: nobody receives it)" if address.startswith("log:") else ""
    click.echo(f"#{recipient.id} {authority} {audience} -> {address}{dev}", err=True)


@directory.command("import")
@click.argument("authority")
@click.argument("listed", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
def directory_import(authority: str, listed: str) -> None:
    """Reach the addressees of a published list (TOML): the KP Secretariat's list of the
    participants' authorities, say. FILE gives ``source`` and ``published_on``, then one
    ``[[addressee]]`` per entry with ``audience`` (``kp-authority:CA``), ``address`` and
    ``name``. All or nothing: a bad row is named and nothing is written."""
    try:
        document = tomllib.loads(Path(listed).read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise click.ClickException(f"{listed}: not a TOML file: {error}") from None
    with unit() as session:
        found = session.get(Authority, authority)
        if found is None:
            raise click.ClickException(f"unknown authority {authority!r}")
        imported = import_addressees(session, current_runtime().plugins, found, document)
        audit.record_change(
            session,
            local_actor().name,
            f"directory: {imported.added} addressees imported from {imported.source} "
            f"(published {imported.published_on.isoformat()})",
            authorities=[authority],
        )
    click.echo(
        f"{authority}: {imported.added} added, {imported.already} already in the directory, "
        f"from {imported.source} of {imported.published_on.isoformat()}",
        err=True,
    )


@directory.command("remove")
@click.argument("entry_id", type=click.IntRange(min=1))
def directory_remove(entry_id: int) -> None:
    """Take entry ENTRY_ID (from ``directory list``) out of the directory."""
    with unit() as session:
        recipient = remove_recipient(session, entry_id)
        audit.record_change(
            session,
            local_actor().name,
            f"directory: {recipient.audience} no longer reached at {recipient.address}",
            authorities=[recipient.authority_code],
        )
    click.echo(f"#{entry_id} removed", err=True)
