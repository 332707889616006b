"""`caratflow init` makes the ledger key; `caratflow ledger verify` names what was tampered."""

from __future__ import annotations

import json
import os
import stat

from sqlalchemy import text

from caratflow.db import make_engine
from caratflow.ledger.signing import generate_key, public_key_pem
from caratflow.testing.payloads import shipment_payload

REGISTERS = 4
"""Register leaves before the first shipment (issue 25): BE and NO as ``init`` declares
them, the user ``users add`` makes, and the security event that records it."""


def test_init_creates_the_signing_key_once_and_never_replaces_it(cli, tmp_path):
    key = tmp_path / "ledger-ed25519.pem"
    assert f"ledger signing key created: {key}" in cli("init").stderr
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    before = key.read_bytes()
    assert f"ledger signing key kept: {key}" in cli("init").stderr
    assert key.read_bytes() == before
    head = json.loads(cli("ledger", "head").stdout)
    assert head["tree_head"] is None and head["public_key"].startswith("-----BEGIN PUBLIC KEY")


def test_verify_passes_then_names_the_edited_decision(cli, tmp_path):
    cli("init")
    payload = tmp_path / "shipment.json"
    payload.write_text(json.dumps(shipment_payload()))
    cli("users", "add", "anna", "--role", "officer", "--authority", "BE")
    for _ in range(3):
        cli("present", str(payload), "--as", "anna")  # issue 23: a named user presents
    # each presentation, its decision and the deadline it opened, after the registers
    # (issue 25): the two authorities init declared, anna, and the security event of her
    assert cli("ledger", "sequence").stdout.strip() == f"tree size {REGISTERS + 9}"
    assert cli("ledger", "sequence").stdout.strip() == "nothing pending"
    clean = cli("ledger", "verify")
    assert (
        f"{REGISTERS + 9} entries under 1 signed tree heads (size {REGISTERS + 9})" in clean.stdout
    )
    assert "every record matches its leaf" in clean.stdout
    assert "verifying the ledger" in clean.stderr  # the progress bar

    engine = make_engine(cli.url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE event SET to_state = 'released' WHERE id = 2"))
        connection.execute(text("DELETE FROM finding WHERE id = (SELECT min(id) FROM finding)"))
    engine.dispose()
    tampered = cli("ledger", "verify", ok=False)
    assert tampered.exit_code == 1
    assert "event 2 changed after it was sealed" in tampered.stdout
    assert "to_state: sealed 'presented', now 'released'" in tampered.stdout
    assert "finding 1 of event 1 was deleted" in tampered.stdout
    assert "shipment 2 says it is presented, but its last sealed decision" in tampered.stdout
    assert "3 discrepancies" in tampered.stderr


def test_verify_with_another_authoritys_key_finds_every_head_foreign(cli, tmp_path):
    cli("init")
    payload = tmp_path / "shipment.json"
    payload.write_text(json.dumps(shipment_payload()))
    cli("users", "add", "anna", "--role", "officer", "--authority", "BE")
    cli("present", str(payload), "--as", "anna")
    cli("ledger", "sequence")
    other = tmp_path / "other.pem"
    (tmp_path / "other-public.pem").write_text(public_key_pem(generate_key(other)))
    result = cli("ledger", "verify", "--public-key", str(tmp_path / "other-public.pem"), ok=False)
    assert result.exit_code == 1 and "FORGED" in result.stdout
    assert f"tree_head {REGISTERS + 3}" in result.stdout


def test_verify_names_a_decision_forged_by_sql_and_sequence_refuses_it(cli, tmp_path):
    """Issue 25: the insider's row and its pending leaf, in the product's own encoding."""
    cli("init")
    cli("users", "add", "anna", "--role", "officer", "--authority", "BE")
    assert stat.S_IMODE(os.stat(tmp_path / "ledger-leaf.keys").st_mode) == 0o600
    payload = tmp_path / "shipment.json"
    payload.write_text(json.dumps(shipment_payload()))
    cli("present", str(payload), "--as", "anna")
    cli("ledger", "sequence")
    engine = make_engine(cli.url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO event (id, shipment_id, action, actor, from_state, to_state, "
            "reason, legal_date, at, data) SELECT 99, shipment_id, 'release', actor, "
            "to_state, 'released', reason, legal_date, at, data FROM event WHERE id = 1"
        )
        connection.exec_driver_sql(
            "INSERT INTO ledger_entry (kind, record_key, logged_at, leaf_data) "
            "SELECT kind, '99', logged_at, replace(replace(leaf_data, '\"id\":1', "
            '\'"id":99\'), \'"key":"1"\', \'"key":"99"\') FROM ledger_entry '
            "WHERE kind = 'decision'"
        )
    engine.dispose()
    tampered = cli("ledger", "verify", ok=False)
    assert tampered.exit_code == 1
    assert "UNAUTHENTICATED: ledger_entry decision:99 (pending)" in tampered.stdout
    refused = cli("ledger", "sequence", ok=False)
    assert refused.exit_code == 1 and "ledger_entry decision:99 not authenticated" in refused.stderr


def test_a_rotated_leaf_key_authenticates_new_leaves_and_the_old_still_verify(cli, tmp_path):
    cli("init")
    cli("users", "add", "anna", "--role", "officer", "--authority", "BE")
    payload = tmp_path / "shipment.json"
    payload.write_text(json.dumps(shipment_payload()))
    cli("present", str(payload), "--as", "anna")
    assert "now authenticates new leaves" in cli("ledger", "rotate-leaf-key").stdout
    cli("present", str(payload), "--as", "anna")
    assert cli("ledger", "sequence").stdout.strip() == f"tree size {REGISTERS + 6}"
    assert "every record matches its leaf" in cli("ledger", "verify").stdout


def a_sealed_presentation(cli, tmp_path) -> int:
    """An instance with one presentation sequenced: the signed tree's size."""
    cli("init")
    cli("users", "add", "anna", "--role", "officer", "--authority", "BE")
    payload = tmp_path / "shipment.json"
    payload.write_text(json.dumps(shipment_payload()))
    cli("present", str(payload), "--as", "anna")
    return int(cli("ledger", "sequence").stdout.split()[-1])


def a_newer_head(cli) -> int:
    """One more sealed decision (a legal hold on shipment 1), sequenced: the new size."""
    hold = ("legal-hold", "place", "1", "--kind", "investigation", "--reference", "PV 1")
    cli(*hold, "--reason", "suspected fraud")
    return int(cli("ledger", "sequence").stdout.split()[-1])


def test_a_rollback_to_an_older_head_fails_verify_against_a_witnesss_checkpoint(cli, tmp_path):
    """Issue 25: the newer head, its entries, nodes and records deleted together leave a
    ledger that verifies alone; the checkpoint a witness kept of the newer head says no."""
    older = a_sealed_presentation(cli, tmp_path)
    newer = a_newer_head(cli)
    witness = tmp_path / "witness.checkpoint"
    witness.write_text(cli("ledger", "checkpoint").stdout)
    assert witness.read_text().startswith(f"127.0.0.1:5000/ledger\n{newer}\n")
    assert "every record matches" in cli("ledger", "verify", "--against", str(witness)).stdout

    engine = make_engine(cli.url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM legal_hold"))
        connection.execute(text(f"DELETE FROM ledger_entry WHERE seq >= {older}"))
        connection.execute(text(f"DELETE FROM ledger_tree_head WHERE tree_size > {older}"))
        for level in range(newer.bit_length()):
            connection.execute(
                text(f"DELETE FROM ledger_node WHERE level = {level} AND idx >= {older >> level}")
            )
    engine.dispose()
    assert "every record matches" in cli("ledger", "verify").stdout  # alone, it passes
    caught = cli("ledger", "verify", "--against", str(witness), ok=False)
    assert caught.exit_code == 1
    assert (
        f"ROLLED BACK: a witness holds a checkpoint at size {newer}, but the ledger's latest "
        f"signed head is at size {older}"
    ) in caught.stdout
    forged = tmp_path / "forged.checkpoint"
    forged.write_text(witness.read_text().replace(f"\n{newer}\n", f"\n{newer + 1}\n"))
    refused = cli("ledger", "verify", "--against", str(forged), ok=False)
    assert "the witness's checkpoint" in refused.stderr and "does not verify" in refused.stderr


def _roll_back(url: str, older: int, newer: int) -> None:
    """What the insider does: the newer heads, their entries and nodes, and the records
    they sealed, deleted together."""
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM legal_hold"))
        connection.execute(text(f"DELETE FROM ledger_entry WHERE seq >= {older}"))
        connection.execute(text(f"DELETE FROM ledger_tree_head WHERE tree_size > {older}"))
        for level in range(newer.bit_length()):
            connection.execute(
                text(f"DELETE FROM ledger_node WHERE level = {level} AND idx >= {older >> level}")
            )
    engine.dispose()


def test_a_witness_cosigns_each_head_and_a_rollback_fails_against_what_it_cosigned(cli, tmp_path):
    """Issue 25 point 4: an auditor's witness (``ledger watch``) fed files, the node keeping
    its cosignatures; after a rollback, ``verify`` fails on the kept cosignature and against
    the witness's state, and the witness refuses to cosign the older head."""
    older = a_sealed_presentation(cli, tmp_path)
    log_key = cli("ledger", "checkpoint", "--verifier-key").stdout.strip()
    assert log_key.startswith("127.0.0.1:5000/ledger+")
    auditor = tmp_path / "auditor"
    auditor.mkdir()
    generate_key(auditor / "witness.pem")
    state = auditor / "state.json"
    watch = ("ledger", "watch", "--state", str(state), "--key", str(auditor / "witness.pem"))
    watch += ("--name", "auditor.test/w1")
    witness_key = cli(*watch, "-", "--verifier-key").stdout.strip()
    assert witness_key.startswith("auditor.test/w1+")
    first = tmp_path / "first.checkpoint"
    first.write_text(cli("ledger", "checkpoint").stdout)
    cosigned = cli(*watch, str(first), "--log-key", log_key)
    assert f"cosigned size {older} as auditor.test/w1" in cosigned.stderr
    newer = a_newer_head(cli)
    body = tmp_path / "add-checkpoint"
    body.write_text(cli("ledger", "checkpoint", "--old", str(older)).stdout)
    assert body.read_text().startswith(f"old {older}\n")
    note = tmp_path / "cosigned.note"
    cli(*watch, str(body), "--out", str(note))
    kept = cli("ledger", "cosignatures", "add", str(note), "--witness", witness_key)
    assert f"kept: auditor.test/w1 cosigned size {newer}" in kept.stdout
    assert f"auditor.test/w1\tsize {newer}" in cli("ledger", "cosignatures", "list").stdout
    assert "every record matches" in cli("ledger", "verify").stdout
    assert cli(
        "ledger", "verify", "--against", str(state), "--witness", witness_key
    ).stdout.endswith("the tree and heads verify\n")

    _roll_back(cli.url, older, newer)
    alone = cli("ledger", "verify", ok=False)  # the node's kept cosignature remembers
    assert (
        f"ROLLED BACK: a witness holds a checkpoint at size {newer}, but the ledger's latest "
        f"signed head is at size {older} (cosigned by auditor.test/w1)"
    ) in alone.stdout
    (tmp_path / "cosignatures").rename(tmp_path / "cosignatures.gone")  # and without it
    assert "every record matches" in cli("ledger", "verify").stdout
    against = cli("ledger", "verify", "--against", str(state), "--witness", witness_key, ok=False)
    assert against.exit_code == 1 and "ROLLED BACK" in against.stdout
    first.write_text(cli("ledger", "checkpoint").stdout)
    refused = cli(*watch, str(first), ok=False)
    assert refused.exit_code == 1
    assert f"REFUSED: rolled back: the log's checkpoint is at size {older}" in refused.stderr
    other = ("ledger", "verify", "--against", str(state), "--witness", log_key)
    assert "no cosignature" in cli(*other, ok=False).stderr  # a key that did not cosign
