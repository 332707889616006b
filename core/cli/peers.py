"""``caratflow peers``: register other authorities' nodes, print this node's key, look up."""

from __future__ import annotations

import json
from typing import Any

import click

from caratflow.cli.context import current_runtime, local_actor, unit
from caratflow.errors import CaratflowError
from caratflow.exchange import lookups
from caratflow.exchange import peers as exchange_peers


@click.group()
def peers() -> None:
    """Other authorities' caratflow nodes this one exchanges signed messages with."""


@peers.command("add")
@click.option("--authority", required=True, help="Your authority, which talks to the peer.")
@click.option("--code", required=True, help="The peer authority's code, e.g. NL.")
@click.option("--url", required=True, help="The peer node's base URL, e.g. https://kp.example.nl")
@click.option(
    "--public-key",
    "public_key",
    required=True,
    type=click.File("r"),
    help="The peer's public key, PEM (what 'caratflow peers key' prints there).",
)
@click.option(
    "--accepts",
    default="",
    help="Message and look-up types taken from it, comma-separated, e.g. "
    "eu.import_confirmation (none: a system that only receives, such as a customs endpoint).",
)
@click.option("--name", help="What to call it (default: its code).")
@click.option("--replace", is_flag=True, help="Change a peer registered before (a new key).")
def peers_add(
    authority: str,
    code: str,
    url: str,
    public_key: Any,
    accepts: str,
    name: str | None,
    replace: bool,
) -> None:
    """Register a peer; then map an audience to it: deadlines add-recipient BE
    kp-authority:NL peer:NL, or ask it: peers lookup NL <identity>."""
    with unit() as session:
        peer = exchange_peers.add_peer(
            session,
            authority,
            code,
            base_url=url,
            public_key=public_key.read(),
            accepts=accepts.split(","),
            name=name,
            actor=local_actor().name,
            replace=replace,
        )
        key = exchange_peers.peer_key_id(peer)
        click.echo(
            f"{peer.authority_code} <- {peer.code} {peer.base_url} key {key}"
            f" accepts {', '.join(peer.accepts) or 'nothing'}"
        )


@peers.command("list")
@click.option("--authority", help="Only this authority's peers.")
def peers_list(authority: str | None) -> None:
    """Every peer: code, base URL, key id and the message types taken from it."""
    with unit() as session:
        for peer in exchange_peers.peers(session, authority):
            key = exchange_peers.peer_key_id(peer)
            click.echo(
                f"{peer.authority_code:<4} {peer.code:<6} {peer.base_url}  key "
                f"{key}  accepts {', '.join(peer.accepts) or 'nothing'}"
            )


@peers.command("key")
def peers_key() -> None:
    """Print this node's public key (PEM) for peers to register; its key id on stderr."""
    from caratflow.ledger.signing_keys import signing_key

    try:
        pem, kid = exchange_peers.own_public_key(signing_key(current_runtime().settings))
    except CaratflowError as error:
        raise click.ClickException(str(error)) from None
    click.echo(pem, nl=False)
    click.echo(f"key id {kid}", err=True)


@peers.command("lookup")
@click.argument("peer")
@click.argument("value")
@click.option("--authority", help="Your authority that asks (default: the one with that peer).")
@click.option("--type", "kind", help="The look-up (default: the only one your plugins declare).")
def peers_lookup(peer: str, value: str, authority: str | None, kind: str | None) -> None:
    """Ask PEER's node about VALUE (e.g. a digital identity it registered) and print its
    answer as JSON once verified with PEER's key alone; exit 1 with the reason if not."""
    pass
    from caratflow.ledger.signing_keys import signing_key

    runtime = current_runtime()
    with unit() as session:
        if authority is None:
            having = sorted(
                {p.authority_code for p in exchange_peers.peers(session) if p.code == peer}
            )
            if len(having) != 1:
                raise click.ClickException(
                    f"name the asking authority (--authority): {', '.join(having)} have a "
                    f"peer {peer}"
                    if having
                    else f"no authority here has a peer {peer}: register it (peers add)"
                )
            [authority] = having
        prepared = lookups.prepare(
            session,
            runtime.plugins,
            authority,
            peer,
            value,
            signing_key(runtime.settings),
            type_=kind,
        )
    try:
        verified = lookups.ask(prepared)
    except lookups.LookupFailed as failed:
        if failed.reason == "unverified":
            with unit() as session:
                lookups.record_unverified(session, failed, prepared, user_name=local_actor().name)
        raise click.ClickException(f"{failed.reason}: {failed}") from None
    click.echo(json.dumps(verified.as_json(), indent=2, ensure_ascii=False))
