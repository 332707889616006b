"""Signed tree heads as C2SP ``tlog-checkpoint`` signed notes, and the check against a
checkpoint someone outside kept (issue 25): a database rolled back to an older head, with
the newer heads, entries and nodes deleted together, fails ``ledger verify --against``.

A checkpoint is the text ``<origin>\\n<tree size>\\n<base64 root hash>\\n``; a signed note
(C2SP ``signed-note``) is that text, a blank line, and one line per signature:
``— <key name> <base64(key hash ‖ Ed25519 signature)>``, the key hash being the first four
bytes of SHA-256(key name ‖ "\\n" ‖ 0x01 ‖ public key). The key name is the origin.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.orm import Session

from caratflow.ledger.sequencer import head_at, latest_head
from caratflow.ledger.signing import SignedTreeHead

ED25519 = 0x01
"""The signature type of Ed25519 in C2SP signed-note."""

_DASH = "\u2014 "  # an em dash and a space start each signature line


class CheckpointError(ValueError):
    """A checkpoint or note that is malformed, or not signed by the expected key."""


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_hash(name: str, public_key: Ed25519PublicKey, algorithm: int = ED25519) -> bytes:
    """The 4 bytes that tell which key signed a note line (C2SP signed-note): SHA-256 of
    name, newline, the algorithm's byte (0x01 Ed25519, 0x04 a cosignature) and the key."""
    data = name.encode() + b"\n" + bytes([algorithm]) + raw_public_key(public_key)
    return hashlib.sha256(data).digest()[:4]


def verifier_key(name: str, public_key: Ed25519PublicKey, algorithm: int = ED25519) -> str:
    """``<name>+<hex key hash>+<base64(algorithm ‖ key)>``: how a witness is told the key."""
    encoded = base64.b64encode(bytes([algorithm]) + raw_public_key(public_key)).decode()
    return f"{name}+{key_hash(name, public_key, algorithm).hex()}+{encoded}"


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """``text`` (ending in a newline) as a signed note with one signature."""
    if not text.endswith("\n"):
        raise CheckpointError("a note's text ends with a newline")
    signature = private_key.sign(text.encode())
    line = base64.b64encode(key_hash(name, private_key.public_key()) + signature).decode()
    return f"{text}\n{_DASH}{name} {line}\n"


def split_note(note: str) -> tuple[str, list[str]]:
    """A signed note's text (with its final newline) and its signature lines."""
    text, separator, signatures = note.rpartition("\n\n")
    if not separator or not signatures.endswith("\n"):
        raise CheckpointError("a signed note is text, a blank line, then signature lines")
    return text + "\n", signatures[:-1].split("\n")


def open_note(note: str, name: str, public_key: Ed25519PublicKey) -> str:
    """The text of ``note`` if a line of it is ``name``'s valid signature; else raises."""
    text, lines = split_note(note)
    text = text[:-1]
    wanted = key_hash(name, public_key)
    for line in lines:
        signer, _, blob = line.removeprefix(_DASH).partition(" ")
        if not line.startswith(_DASH) or signer != name:
            continue
        try:
            raw = base64.b64decode(blob, validate=True)
        except binascii.Error:
            continue
        if raw[:4] == wanted and len(raw) == 68:
            try:
                public_key.verify(raw[4:], (text + "\n").encode())
            except InvalidSignature:
                raise CheckpointError(f"{name}'s signature does not verify") from None
            return text + "\n"
    raise CheckpointError(f"the note carries no signature of {name}")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: str  # lower-case hex

    def text(self) -> str:
        root = base64.b64encode(bytes.fromhex(self.root_hash)).decode()
        return f"{self.origin}\n{self.tree_size}\n{root}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or not lines[1].isascii() or not lines[1].isdigit():
            raise CheckpointError("a checkpoint is its origin, tree size and root hash")
        try:
            root = base64.b64decode(lines[2], validate=True)
        except binascii.Error:
            raise CheckpointError("the checkpoint's root hash is not base64") from None
        if len(root) != 32:
            raise CheckpointError("the checkpoint's root hash is not 32 bytes")
        return cls(lines[0], int(lines[1]), root.hex())


def signed_checkpoint(origin: str, head: SignedTreeHead, private_key: Ed25519PrivateKey) -> str:
    """The head as a signed checkpoint note, for witnesses and auditors."""
    return sign_note(Checkpoint(origin, head.tree_size, head.root_hash).text(), origin, private_key)


def origin_of(public_url: str) -> str:
    """The log's origin line: the node's public address without its scheme."""
    return public_url.split("://", 1)[-1].rstrip("/") + "/ledger"


def against(session: Session, seen: Checkpoint) -> list[tuple[str, str]]:
    """What is wrong with this ledger given a checkpoint a witness kept: a latest head
    older than it (rolled back), or another root at its size (a forked history)."""
    latest = latest_head(session)
    if latest is None or latest.tree_size < seen.tree_size:
        size = latest.tree_size if latest is not None else 0
        return [
            (
                "rolled back",
                f"a witness holds a checkpoint at size {seen.tree_size}, but the ledger's "
                f"latest signed head is at size {size}",
            )
        ]
    head = head_at(session, seen.tree_size)
    if head is None or head.root_hash != seen.root_hash:
        return [
            (
                "inconsistent",
                f"the ledger's history at size {seen.tree_size} is not the one the witness's "
                "checkpoint signs",
            )
        ]
    return []
