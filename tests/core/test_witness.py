"""Witnesses that remember the head (issue 25 point 4): C2SP tlog-cosignature checked against
the specification's examples, the Merkle proofs against transparency-dev's test vectors,
and a rollback or fork caught by a witness that cosigned a newer head.

Vectors, copied into this repository (no test reads the network):
- C2SP tlog-cosignature.md (https://github.com/C2SP/C2SP, CC BY 4.0): the example
  checkpoint, its witness line and the signed message at ``time 1679315147``.
- transparency-dev/formats note/note_cosigv1_test.go (BSD-style, The Go Authors): the
  native cosignature/v1 verifier key of remora.n621.de and a cosignature of 1727964367.
- transparency-dev/merkle testdata/ (Apache 2.0), every inclusion and consistency case:
  tests/vectors/transparency-dev-merkle.json (its source commit inside).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from caratflow.ledger import checkpoints, merkle, witness
from caratflow.ledger.checkpoints import Checkpoint, CheckpointError

VECTORS = Path(__file__).parent.parent / "vectors" / "transparency-dev-merkle.json"

SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_MESSAGE = "cosignature/v1\ntime 1679315147\n" + SPEC_BODY
SPEC_LINE = (
    "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrD"
    "JsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="
)
REMORA = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
FORMATS_COSIGNATURE = (
    "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJ"
    "XORmnFBOBA=="
)


def test_the_cosigned_message_is_the_specifications_example():
    assert witness.cosigned_message(SPEC_BODY, 1679315147).decode() == SPEC_MESSAGE


@pytest.mark.parametrize(("line", "timestamp"), [(SPEC_LINE, 1679315147)])
def test_the_specifications_witness_line_is_key_id_timestamp_and_signature(line, timestamp):
    name, blob = line.removeprefix("\u2014 ").split(" ")
    raw = base64.b64decode(blob)
    assert name == "witness.example.com/w1" and len(raw) == 4 + 8 + 64
    assert int.from_bytes(raw[4:12], "big") == timestamp


def test_a_cosignature_of_transparency_dev_formats_carries_its_timestamp():
    raw = base64.b64decode(FORMATS_COSIGNATURE)
    assert len(raw) == 76 and int.from_bytes(raw[4:12], "big") == 1727964367


def test_a_native_cosigner_key_parses_and_its_id_is_recomputed():
    name, kind, key = witness.parse_vkey(REMORA)
    assert (name, kind) == ("remora.n621.de", witness.COSIGNATURE_V1)
    assert witness.cosigner_key_id(name, key).hex() == "da77ade7"
    assert witness.cosigner_vkey(name, key) == REMORA
    with pytest.raises(CheckpointError, match="its id is not its key's hash"):
        witness.parse_vkey(REMORA.replace("da77ade7", "00000000"))


def test_a_cosignature_verifies_and_nothing_else_does():
    key = Ed25519PrivateKey.generate()
    line = witness.cosign(SPEC_BODY, "w.test/1", key, 1679315147)
    note = SPEC_BODY + "\n" + line
    assert witness.cosigned_at(note, "w.test/1", key.public_key()) == 1679315147
    raw = base64.b64decode(line.split(" ")[-1])
    assert raw[:4] == witness.cosigner_key_id("w.test/1", key.public_key())
    assert key.public_key().verify(raw[12:], SPEC_MESSAGE.encode()) is None
    with pytest.raises(CheckpointError, match="does not verify"):
        witness.cosigned_at(note.replace("20852163", "20852164"), "w.test/1", key.public_key())
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(CheckpointError, match=r"no cosignature of w\.test/1"):
        witness.cosigned_at(note, "w.test/1", other)
    # a log's signature (type 0x01) of the same key is no cosignature (type 0x04)
    logged = checkpoints.sign_note(SPEC_BODY, "w.test/1", key)
    with pytest.raises(CheckpointError, match="no cosignature"):
        witness.cosigned_at(logged, "w.test/1", key.public_key())


STRICTER = {
    "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json": "its roots are "
    "the 12 bytes 'don't care 2': the Go reference compares them, ours refuses a root hash "
    "that is not 32 bytes before comparing (merkle.verify_consistency)",
}
"""Cases where our verifier refuses what the reference accepts, and why."""


def _vectors(kind: str) -> list[tuple[str, dict]]:
    return sorted(json.loads(VECTORS.read_text())[kind].items())


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


@pytest.mark.parametrize(("name", "case"), _vectors("inclusion"), ids=lambda v: str(v)[:60])
def test_inclusion_agrees_with_transparency_dev_merkle(name, case):
    ok = merkle.verify_inclusion(
        _b64(case["leafHash"]),
        case["leafIdx"],
        case["treeSize"],
        [_b64(p) for p in case["proof"] or []],
        _b64(case["root"]),
    )
    assert ok is not case["wantErr"], case["desc"]


@pytest.mark.parametrize(("name", "case"), _vectors("consistency"), ids=lambda v: str(v)[:60])
def test_consistency_agrees_with_transparency_dev_merkle(name, case):
    ok = merkle.verify_consistency(
        case["size1"],
        case["size2"],
        _b64(case["root1"]),
        _b64(case["root2"]),
        [_b64(p) for p in case["proof"] or []],
    )
    assert ok is (not case["wantErr"] and name not in STRICTER), case["desc"]


# -- the witness -----------------------------------------------------------------------


def tree(size: int) -> merkle.MemoryNodeStore:
    store = merkle.MemoryNodeStore()
    store.put_many(merkle.append_many(0, [merkle.leaf_hash(b"%d" % i) for i in range(size)], store))
    return store


def signed(log: Ed25519PrivateKey, size: int, store: merkle.MemoryNodeStore) -> str:
    body = Checkpoint("log.test/ledger", size, merkle.root(size, store).hex()).text()
    return checkpoints.sign_note(body, "log.test/ledger", log)


def test_a_witness_cosigns_growth_and_refuses_a_rollback_or_a_fork():
    log, key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    state = witness.WitnessState(checkpoints.verifier_key("log.test/ledger", log.public_key()))
    store = tree(9)
    state = witness.witness(
        state, witness.Submission(signed(log, 5, store)), None, "w.test/1", key, 1
    )
    assert state.checkpoint.tree_size == 5
    proof = merkle.consistency_proof(5, 9, store)
    state = witness.witness(
        state, witness.Submission(signed(log, 9, store), 5, tuple(proof)), None, "w.test/1", key, 2
    )
    assert state.checkpoint.tree_size == 9
    assert witness.cosigned_at(state.note, "w.test/1", key.public_key()) == 2
    with pytest.raises(witness.WitnessRefusal, match=r"rolled back: .* size 5, but .* size 9"):
        witness.witness(state, witness.Submission(signed(log, 5, store)), None, "w.test/1", key, 3)
    forked = merkle.MemoryNodeStore()  # another history of 13 leaves
    forked.put_many(merkle.append_many(0, [bytes([i]) * 32 for i in range(13)], forked))
    fork = signed(log, 13, forked)
    with pytest.raises(witness.WitnessRefusal, match="inconsistent"):
        witness.witness(state, witness.Submission(fork), lambda a, b: [], "w.test/1", key, 3)
    with pytest.raises(witness.WitnessRefusal, match="last cosigned size 9"):
        witness.witness(state, witness.Submission(fork, 5), None, "w.test/1", key, 3)
    impostor = Ed25519PrivateKey.generate()
    with pytest.raises(CheckpointError, match=r"no signature of log\.test/ledger"):
        witness.witness(
            state, witness.Submission(signed(impostor, 9, store)), None, "w.test/1", key, 3
        )


def test_an_add_checkpoint_body_is_read_as_tlog_witness_writes_it():
    text = (
        "old 20852014\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
        "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n\n" + SPEC_BODY + "\n" + SPEC_LINE + "\n"
    )
    submission = witness.Submission.parse(text)
    assert submission.old_size == 20852014 and len(submission.proof) == 2
    assert submission.note.startswith(SPEC_BODY)


def test_the_state_file_is_the_witnesss_alone(tmp_path):
    state = witness.WitnessState("log+00000000+AQ==", None)
    path = tmp_path / "w" / "state.json"
    state.save(path)
    assert path.stat().st_mode & 0o077 == 0
    assert witness.WitnessState.load(path) == state
