"""``caratflow ledger``: sequence, head, verify, rotate-leaf-key."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from caratflow.cli.context import current_runtime, unit
from caratflow.errors import CaratflowError
from caratflow.ledger import signing_keys, verification


@click.group()
def ledger() -> None:
    """The tamper-evident ledger of decisions, documents and identities."""


@ledger.command("sequence")
def ledger_sequence() -> None:
    """Place pending entries in the tree and sign a tree head (the scheduler does it too)."""
    from caratflow.ledger.sequencer import sequence_once

    runtime = current_runtime()
    try:
        size = sequence_once(runtime.sessions, runtime.settings)
    except CaratflowError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"tree size {size}" if size is not None else "nothing pending")


@ledger.command("rotate-leaf-key")
def ledger_rotate_leaf_key() -> None:
    """Authenticate new leaves with a new key; the old keys stay, so old leaves still check."""
    from caratflow.ledger.leaf_keys import rotate_leaf_key

    path = current_runtime().settings.leaf_keys_path
    if path is None:
        raise click.ClickException("no leaf key path (CARATFLOW_LEAF_KEYS)")
    try:
        click.echo(f"leaf key {rotate_leaf_key(path)} now authenticates new leaves ({path})")
    except CaratflowError as error:
        raise click.ClickException(str(error)) from None


@ledger.command("head")
def ledger_head() -> None:
    """Print the latest signed tree head and the public key that verifies it."""
    from caratflow.ledger.sequencer import latest_head
    from caratflow.ledger.signing import public_key_pem
    from caratflow.ledger.signing_keys import signing_key

    runtime = current_runtime()
    with unit() as session:
        head = latest_head(session)
    body = {
        "tree_head": head.to_dict() if head else None,
        "public_key": public_key_pem(signing_key(runtime.settings)),
    }
    click.echo(json.dumps(body, indent=2))


@ledger.command("checkpoint")
def ledger_checkpoint() -> None:
    """Print the latest signed tree head as a C2SP tlog-checkpoint signed note."""
    from caratflow.ledger.checkpoints import origin_of, signed_checkpoint
    from caratflow.ledger.sequencer import latest_head
    from caratflow.ledger.signing_keys import signing_key

    runtime = current_runtime()
    with unit() as session:
        head = latest_head(session)
    if head is None:
        raise click.ClickException("no signed tree head yet: run 'caratflow ledger sequence'")
    origin = origin_of(runtime.settings.public_url)
    click.echo(signed_checkpoint(origin, head, signing_key(runtime.settings)), nl=False)


@ledger.command("verify")
@click.option(
    "--public-key",
    type=click.File("r"),
    help="The PEM public key to check the heads with (default: this node's own key).",
)
@click.option(
    "--against",
    "witness",
    type=click.File("r"),
    help="A checkpoint a witness kept (caratflow ledger checkpoint): fail if this ledger "
    "is older than it or disagrees with it.",
)
def ledger_verify(public_key: Any, witness: Any) -> None:
    """Rebuild the tree from the records and name every record edited, deleted, inserted
    or reordered, and every leaf the application did not write; exit code 1 on any
    discrepancy."""
    from caratflow.ledger.signing import load_public_key

    runtime = current_runtime()
    try:
        key = (
            load_public_key(public_key.read())
            if public_key
            else signing_keys.public_key(runtime.settings)
        )
    except (CaratflowError, ValueError, TypeError) as error:
        raise click.ClickException(f"no public key to verify with: {error}") from None
    seen = _witnessed(witness, runtime, key) if witness is not None else None
    with verification.snapshot(runtime.sessions) as session:
        total = verification.count_entries(session)
        with click.progressbar(length=total, label="verifying the ledger", file=sys.stderr) as bar:
            report = verification.verify_ledger(session, key, progress=bar.update)
        if seen is not None:
            from caratflow.ledger.checkpoints import against

            for problem, message in against(session, seen):
                report.add(problem, (f"tree_head {seen.tree_size}",), message)
    for discrepancy in report.discrepancies:
        click.echo(str(discrepancy))
    for consequence in report.consequences:
        click.echo(f"  consequence: {consequence}")
    summary = (
        f"{report.entries} entries under {report.heads} signed tree heads (size "
        f"{report.tree_size}), {report.pending} pending: "
    )
    if report.ok:
        click.echo(summary + "every record matches its leaf; the tree and heads verify")
        return
    click.echo(summary + f"{len(report.discrepancies)} discrepancies", err=True)
    sys.exit(1)


def _witnessed(witness: Any, runtime: Any, key: Any) -> Any:
    """The checkpoint in a witness's file, checked with this ledger's key."""
    from caratflow.ledger.checkpoints import Checkpoint, CheckpointError, open_note, origin_of

    origin = origin_of(runtime.settings.public_url)
    try:
        return Checkpoint.parse(open_note(witness.read(), origin, key))
    except CheckpointError as error:
        raise click.ClickException(f"the witness's checkpoint: {error}") from None
