"""``caratflow ledger``: sequence, head, checkpoint, verify, rotate-leaf-key, and the
witness's part: watch, cosignatures add/list."""

from __future__ import annotations

import base64
import json
import sys
import time
import urllib.request
from pathlib import Path
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
@click.option(
    "--verifier-key",
    is_flag=True,
    help="Print the log's note verifier key instead (what a witness is given to trust).",
)
@click.option(
    "--old",
    type=click.IntRange(min=0),
    help="Print a C2SP tlog-witness add-checkpoint body instead: 'old N', the consistency "
    "proof from size N, a blank line, the checkpoint (for a witness that reads files).",
)
def ledger_checkpoint(verifier_key: bool, old: int | None) -> None:
    """Print the latest signed tree head as a C2SP tlog-checkpoint signed note."""
    from caratflow.ledger import checkpoints
    from caratflow.ledger.checkpoints import origin_of, signed_checkpoint
    from caratflow.ledger.sequencer import latest_head
    from caratflow.ledger.signing_keys import signing_key

    runtime = current_runtime()
    if verifier_key:
        origin = origin_of(runtime.settings.public_url)
        key = signing_keys.public_key(runtime.settings)
        click.echo(checkpoints.verifier_key(origin, key))
        return
    with unit() as session:
        head = latest_head(session)
        if head is None:
            raise click.ClickException("no signed tree head yet: run 'caratflow ledger sequence'")
        proof = None
        if old is not None:
            from caratflow.ledger.proofs import prove_consistency

            proof = prove_consistency(session, old, head.tree_size) if old else []
    origin = origin_of(runtime.settings.public_url)
    note = signed_checkpoint(origin, head, signing_key(runtime.settings))
    if proof is not None:
        lines = "".join(base64.b64encode(node).decode() + "\n" for node in proof)
        note = f"old {old}\n{lines}\n{note}"
    click.echo(note, nl=False)


@ledger.command("verify")
@click.option(
    "--public-key",
    type=click.File("r"),
    help="The PEM public key to check the heads with (default: this node's own key).",
)
@click.option(
    "--against",
    "witness",
    help="A checkpoint a witness kept, as a file or an http(s) URL (a note signed by this "
    "ledger's key, with cosignatures): fail if this ledger is older than it or disagrees.",
)
@click.option(
    "--witness",
    "witness_keys",
    multiple=True,
    help="A witness's verifier key (ledger watch --verifier-key): --against must carry its "
    "valid cosignature. Repeatable.",
)
def ledger_verify(public_key: Any, witness: str | None, witness_keys: tuple[str, ...]) -> None:
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
    seen = _witnessed(witness, witness_keys, runtime, key) if witness is not None else []
    seen += _kept(runtime, key)
    with verification.snapshot(runtime.sessions) as session:
        total = verification.count_entries(session)
        with click.progressbar(length=total, label="verifying the ledger", file=sys.stderr) as bar:
            report = verification.verify_ledger(session, key, progress=bar.update)
        from caratflow.ledger.checkpoints import against

        for who, checkpoint in seen:
            for problem, message in against(session, checkpoint):
                report.add(problem, (f"tree_head {checkpoint.tree_size}",), f"{message} ({who})")
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


def _read(source: str) -> str:
    """A file's text, or an http(s) URL's answer."""
    if source.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(source, timeout=30) as answer:
                return answer.read().decode("utf-8")
        except OSError as error:
            raise click.ClickException(f"could not fetch {source}: {error}") from None
    try:
        return Path(source).read_text(encoding="utf-8")
    except OSError as error:
        raise click.ClickException(f"could not read {source}: {error}") from None


def _witnessed(source: str, witness_keys: tuple[str, ...], runtime: Any, key: Any) -> list[Any]:
    """The checkpoint a witness kept, checked with this ledger's key and each witness's."""
    from caratflow.ledger import witness
    from caratflow.ledger.checkpoints import Checkpoint, CheckpointError, open_note, origin_of

    origin = origin_of(runtime.settings.public_url)
    note = _read(source)
    if note.startswith("{"):  # a witness's state file (ledger watch --state)
        note = json.loads(note).get("note") or ""
    try:
        checkpoint = Checkpoint.parse(open_note(note, origin, key))
        for vkey in witness_keys:
            name, _, public = witness.parse_vkey(vkey)
            witness.cosigned_at(note, name, public)
    except CheckpointError as error:
        raise click.ClickException(f"the witness's checkpoint: {error}") from None
    return [(f"against {source}", checkpoint)]


def _kept(runtime: Any, key: Any) -> list[Any]:
    """The cosigned checkpoints this node keeps, each still checked with both keys."""
    from caratflow.ledger import witness
    from caratflow.ledger.checkpoints import CheckpointError, open_note, origin_of

    origin = origin_of(runtime.settings.public_url)
    found = []
    folder = witness.cosignatures_folder(runtime.settings.instance_path)
    for kept in witness.kept_cosignatures(folder):
        name, _, public = witness.parse_vkey(kept.witness_vkey)
        try:
            open_note(kept.note, origin, key)
            witness.cosigned_at(kept.note, name, public)
        except CheckpointError as error:
            raise click.ClickException(f"the cosignature kept of {name}: {error}") from None
        found.append((f"cosigned by {name}", kept.checkpoint))
    return found


@ledger.command("watch")
@click.argument("source")
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The witness's state file: the last checkpoint it cosigned (made at the first run).",
)
@click.option(
    "--log-key",
    help="The log's verifier key (ledger checkpoint --verifier-key); needed at the first run.",
)
@click.option(
    "--key",
    "key_path",
    type=click.Path(exists=True, dir_okay=False),
    help="The witness's Ed25519 private key, PEM (default: this node's ledger key).",
)
@click.option("--name", help="The witness's name (default: this node's address + /witness).")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the cosigned note here."
)
@click.option(
    "--verifier-key", is_flag=True, help="Print the witness's verifier key and do nothing else."
)
def ledger_watch(
    source: str,
    state_path: Path,
    log_key: str | None,
    key_path: str | None,
    name: str | None,
    out: Path | None,
    verifier_key: bool,
) -> None:
    """Act as a witness (C2SP tlog-witness): fetch the latest checkpoint from a node's URL
    or a file (a note, or an add-checkpoint body with its proof), check it extends the last
    one cosigned, cosign it (cosignature/v1) and keep it. Exit code 1 if the log was rolled
    back or forked: nothing is cosigned then."""
    from caratflow.ledger import witness
    from caratflow.ledger.checkpoints import CheckpointError
    from caratflow.ledger.signing import load_private_key

    if key_path is not None:
        private = load_private_key(key_path)
    else:
        private = signing_keys.signing_key(current_runtime().settings)
    if name is None:
        from caratflow.ledger.checkpoints import origin_of

        name = origin_of(current_runtime().settings.public_url).removesuffix("/ledger")
        name += "/witness"
    if verifier_key:
        click.echo(witness.cosigner_vkey(name, private.public_key()))
        return
    state = witness.WitnessState.load(state_path)
    if state is None:
        if log_key is None:
            raise click.ClickException("the first watch needs the log's key (--log-key)")
        state = witness.WitnessState(log_key)
    node = source.rstrip("/") if source.startswith(("http://", "https://")) else None
    text = _read(f"{node}/api/v1/ledger/checkpoint" if node else source)

    def fetch_proof(old: int, new: int) -> list[bytes]:
        if node is None:
            return []
        answer = json.loads(_read(f"{node}/api/v1/ledger/consistency?from={old}&to={new}"))
        return [bytes.fromhex(node_hash) for node_hash in answer["proof"]]

    try:
        new_state = witness.witness(
            state, witness.Submission.parse(text), fetch_proof, name, private, int(time.time())
        )
    except CheckpointError as error:
        click.echo(f"REFUSED: {error}", err=True)
        sys.exit(1)
    new_state.save(state_path)
    if out is not None:
        out.write_text(new_state.note or "", encoding="utf-8")
    click.echo(new_state.note, nl=False)
    click.echo(f"cosigned size {new_state.checkpoint.tree_size} as {name}", err=True)


@ledger.group("cosignatures")
def ledger_cosignatures() -> None:
    """The witnesses' cosignatures this node keeps (in its instance folder)."""


@ledger_cosignatures.command("add")
@click.argument("note_file", type=click.File("r"))
@click.option("--witness", "witness_key", required=True, help="The witness's verifier key.")
def ledger_cosignatures_add(note_file: Any, witness_key: str) -> None:
    """Keep a witness's cosigned checkpoint of this ledger (ledger watch --out): both the
    ledger's signature and the witness's cosignature must verify."""
    from caratflow.ledger import witness
    from caratflow.ledger.checkpoints import CheckpointError, origin_of

    runtime = current_runtime()
    folder = witness.cosignatures_folder(runtime.settings.instance_path)
    origin = origin_of(runtime.settings.public_url)
    try:
        kept, at = witness.keep_cosignature(
            folder, note_file.read(), origin, signing_keys.public_key(runtime.settings), witness_key
        )
    except CheckpointError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"kept: {witness_key.split('+', 1)[0]} cosigned size {kept.checkpoint.tree_size} (at {at})"
    )


@ledger_cosignatures.command("list")
def ledger_cosignatures_list() -> None:
    """Each witness's latest cosigned checkpoint kept here."""
    from caratflow.ledger import witness

    folder = witness.cosignatures_folder(current_runtime().settings.instance_path)
    for kept in witness.kept_cosignatures(folder):
        click.echo(f"{kept.witness_vkey.split('+', 1)[0]}\tsize {kept.checkpoint.tree_size}")
