"""Signed tree heads as C2SP tlog-checkpoint signed notes, checked against the signed-note
specification's example (golang.org/x/mod/sumdb/note, whose key and note C2SP's
signed-note reproduces), and a rollback caught by a witness's checkpoint (issue 25)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from caratflow.ledger import checkpoints
from caratflow.ledger.signing import sign_tree_head

# The example of golang.org/x/mod/sumdb/note (note.go, note_test.go): a private key, its
# verifier key, a text, and the signed note Ed25519 (deterministic) must give.
SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
NOTE = (
    TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZ"
    "SNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


@pytest.fixture
def peter():
    seed = base64.b64decode(SKEY.split("+", 4)[4])[1:]  # after the algorithm byte 0x01
    return Ed25519PrivateKey.from_private_bytes(seed)


def test_the_key_hash_and_verifier_key_are_those_of_the_specification(peter):
    assert checkpoints.key_hash("PeterNeumann", peter.public_key()).hex() == "c74f20a3"
    assert checkpoints.verifier_key("PeterNeumann", peter.public_key()) == VKEY


def test_a_note_is_signed_byte_for_byte_as_the_specification_signs_it(peter):
    assert checkpoints.sign_note(TEXT, "PeterNeumann", peter) == NOTE
    assert checkpoints.open_note(NOTE, "PeterNeumann", peter.public_key()) == TEXT


def test_a_note_altered_or_signed_by_another_key_does_not_open(peter):
    with pytest.raises(checkpoints.CheckpointError, match="does not verify"):
        checkpoints.open_note(
            NOTE.replace("cryptography", "cryptographY"), "PeterNeumann", peter.public_key()
        )
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(checkpoints.CheckpointError, match="no signature of PeterNeumann"):
        checkpoints.open_note(NOTE, "PeterNeumann", other)


def test_a_tree_head_is_a_checkpoint_of_origin_size_and_base64_root(peter):
    root = bytes(range(32))
    head = sign_tree_head(peter, 42, root, datetime(2026, 12, 7, tzinfo=UTC))
    note = checkpoints.signed_checkpoint("kp.example.be/ledger", head, peter)
    text = f"kp.example.be/ledger\n42\n{base64.b64encode(root).decode()}\n"
    assert note.startswith(text + "\n\u2014 kp.example.be/ledger ")
    opened = checkpoints.open_note(note, "kp.example.be/ledger", peter.public_key())
    assert checkpoints.Checkpoint.parse(opened) == checkpoints.Checkpoint(
        "kp.example.be/ledger", 42, root.hex()
    )
