"""Canonical JSON and Ed25519 signatures: what the ledger hashes and how its heads are signed.

A leaf is hashed over canonical JSON, so the same record gives the same bytes on any
machine and in any language (RFC 8785, JSON Canonicalization Scheme, restricted to the
types our records use). Tree heads are signed with Ed25519 (RFC 8032) so another
authority holding only our public key can check them.

Domain separation: a tree head is signed over ``TREE_HEAD_CONTEXT ‖ canonical JSON``, and
the detached signer refuses data that starts with that context, so a document signature
can never be passed off as a tree head (or the reverse).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

TREE_HEAD_CONTEXT = b"caratflow tree head v1\n"
"""Prefix of every signed tree head message; see the module docstring."""

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer every JSON reader (RFC 8785 §3.2.2.3 uses IEEE 754 doubles) keeps exact."""

_ROOT_HASH_HEX = re.compile(r"[0-9a-f]{64}")
_KEY_ID_HEX = re.compile(r"[0-9a-f]{16}")
_SIGNATURE_SIZE = 64


# ---------------------------------------------------------------------------- canonical JSON


def canonical_json(obj: object) -> bytes:
    """RFC 8785 canonical JSON of ``obj``, as UTF-8 bytes, for hashing and signing.

    Objects have str keys sorted by UTF-16 code units (RFC 8785 §3.2.3) and no whitespace;
    strings are escaped as ECMAScript's JSON.stringify does (§3.2.2.2). Our extensions,
    each written as a JSON string: ``Decimal`` as ``str(d)``, an aware ``datetime`` as ISO
    8601 in UTC ending in ``Z``, a ``date`` as ISO 8601. Tuples are arrays.

    Floats raise ``TypeError``: their rounding differs between languages, and amounts
    belong in ``Decimal``. Integers beyond ±(2**53 - 1), naive datetimes, non-finite
    Decimals and lone surrogates raise ``ValueError``; any other type raises ``TypeError``.
    """
    parts: list[str] = []
    _write_json(obj, parts)
    return "".join(parts).encode("utf-8")


def _write_json(value: object, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(f"integer {value} is beyond 2**53 - 1; send it as a string")
        out.append(str(int(value)))
    elif isinstance(value, float):
        raise TypeError("floats are not allowed in canonical JSON; use Decimal or int")
    elif isinstance(value, str):
        out.append(_json_string(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"Decimal {value} is not finite")
        out.append(_json_string(str(value)))
    elif isinstance(value, datetime):
        out.append(_json_string(format_timestamp(value)))
    elif isinstance(value, date):
        out.append(_json_string(value.isoformat()))
    elif isinstance(value, list | tuple):
        out.append("[")
        for position, item in enumerate(value):
            if position:
                out.append(",")
            _write_json(item, out)
        out.append("]")
    elif isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"object keys must be str, got {type(key).__name__}")
        out.append("{")
        for position, key in enumerate(sorted(value, key=_utf16_code_units)):
            if position:
                out.append(",")
            out.append(_json_string(key))
            out.append(":")
            _write_json(value[key], out)
        out.append("}")
    else:
        raise TypeError(f"{type(value).__name__} is not allowed in canonical JSON")


def _json_string(text: str) -> str:
    """A JSON string literal escaped as RFC 8785 §3.2.2.2 requires (JSON.stringify's rules).

    Python's encoder with ``ensure_ascii=False`` escapes exactly ``"``, ``\\`` and the
    control characters below U+0020 (short forms where they exist, else lower-case
    ``\\u00xx``), and leaves everything else literal — the same rules. A lone surrogate
    passes through here and fails when ``canonical_json`` encodes to UTF-8.
    """
    return json.dumps(text, ensure_ascii=False)


def _utf16_code_units(key: str) -> bytes:
    """Sort key of RFC 8785 §3.2.3: big-endian UTF-16 compares as its code units do."""
    return key.encode("utf-16-be", "surrogatepass")


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``; a naive datetime is refused because its zone is a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"datetime {moment!r} has no time zone")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def parse_timestamp(text: str) -> datetime:
    """Inverse of ``format_timestamp``: only UTC timestamps written with ``Z`` are accepted."""
    if not isinstance(text, str) or not text.endswith("Z"):
        raise ValueError(f"timestamp {text!r} is not ISO 8601 UTC ending in Z")
    moment = datetime.fromisoformat(text[:-1])
    if moment.tzinfo is not None:
        raise ValueError(f"timestamp {text!r} carries a second time zone")
    return moment.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------- keys


def generate_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Create a new Ed25519 key and write it to ``path`` as unencrypted PKCS#8 PEM.

    The file is created with mode 0600 and ``O_EXCL``: an existing file (or symlink) at
    ``path`` raises ``FileExistsError`` rather than being replaced, because overwriting a
    log key would orphan every tree head it signed.
    """
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as key_file:
            key_file.write(pem)
            key_file.flush()
            os.fsync(key_file.fileno())
    except BaseException:
        os.unlink(path)
        raise
    return private_key


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Read a PEM private key written by ``generate_key``; ``TypeError`` if not Ed25519."""
    with open(path, "rb") as key_file:
        private_key = serialization.load_pem_private_key(key_file.read(), password=None)
    if not isinstance(private_key, Ed25519PrivateKey):
        raise TypeError(f"{os.fspath(path)} holds a {type(private_key).__name__}, not Ed25519")
    return private_key


def public_key_pem(private_key: Ed25519PrivateKey) -> str:
    """The public half as SubjectPublicKeyInfo PEM, the form we publish to other authorities."""
    return (
        private_key.public_key()
        .public_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode("ascii")
    )


def load_public_key(pem: str) -> Ed25519PublicKey:
    """Parse a PEM public key; ``TypeError`` if it is not Ed25519."""
    public_key = serialization.load_pem_public_key(pem.encode("ascii"))
    if not isinstance(public_key, Ed25519PublicKey):
        raise TypeError(f"expected an Ed25519 public key, got {type(public_key).__name__}")
    return public_key


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of SHA-256 of the raw 32-byte key: names the key in tree heads."""
    raw = public_key.public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    )
    return hashlib.sha256(raw).hexdigest()[:16]


# ---------------------------------------------------------------------------- tree heads


@dataclass(frozen=True)
class SignedTreeHead:
    """A log size and root, vouched for by the log's key at ``timestamp`` (RFC 9162 §4.10).

    The signature covers ``signed_message()``: ``TREE_HEAD_CONTEXT`` followed by the
    canonical JSON of every field except ``signature``.
    """

    tree_size: int
    root_hash: str
    """Lower-case hex of the 32-byte root."""
    timestamp: datetime
    """Aware, in UTC."""
    key_id: str
    signature: str
    """Standard base64 of the 64-byte Ed25519 signature."""

    @property
    def root(self) -> bytes:
        return bytes.fromhex(self.root_hash)

    def signed_fields(self) -> dict[str, object]:
        return {
            "key_id": self.key_id,
            "root_hash": self.root_hash,
            "timestamp": self.timestamp,
            "tree_size": self.tree_size,
        }

    def signed_message(self) -> bytes:
        """The exact bytes the signature covers; an outside auditor rebuilds them from JSON."""
        return TREE_HEAD_CONTEXT + canonical_json(self.signed_fields())

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form, for the API and for storage."""
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "timestamp": format_timestamp(self.timestamp),
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> SignedTreeHead:
        """Parse ``to_dict()`` output; ``ValueError`` on a missing, unknown or mistyped field.

        Parsing does not verify: call ``verify_tree_head`` with the log's public key.
        """
        expected = {"tree_size", "root_hash", "timestamp", "key_id", "signature"}
        if set(data) != expected:
            raise ValueError(f"tree head fields must be exactly {sorted(expected)}")
        tree_size = data["tree_size"]
        if not isinstance(tree_size, int) or isinstance(tree_size, bool) or tree_size < 0:
            raise ValueError("tree_size must be an integer >= 0")
        root_hash = data["root_hash"]
        if not isinstance(root_hash, str) or not _ROOT_HASH_HEX.fullmatch(root_hash):
            raise ValueError("root_hash must be 64 lower-case hex digits")
        timestamp = data["timestamp"]
        if not isinstance(timestamp, str):
            raise ValueError("timestamp must be a string")
        key = data["key_id"]
        signature = data["signature"]
        if not isinstance(key, str) or not _KEY_ID_HEX.fullmatch(key):
            raise ValueError("key_id must be 16 lower-case hex digits")
        if not isinstance(signature, str):
            raise ValueError("signature must be a string")
        return cls(tree_size, root_hash, parse_timestamp(timestamp), key, signature)


def sign_tree_head(
    private_key: Ed25519PrivateKey, size: int, root: bytes, timestamp: datetime
) -> SignedTreeHead:
    """Sign that the log held ``size`` leaves with root hash ``root`` at ``timestamp``."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError(f"tree size must be an integer >= 0, got {size!r}")
    if not isinstance(root, bytes) or len(root) != 32:
        raise ValueError("root must be 32 bytes")
    format_timestamp(timestamp)  # refuses a naive datetime
    unsigned = SignedTreeHead(
        tree_size=size,
        root_hash=root.hex(),
        timestamp=timestamp.astimezone(UTC),
        key_id=key_id(private_key.public_key()),
        signature="",
    )
    signature = private_key.sign(unsigned.signed_message())
    return SignedTreeHead(
        tree_size=unsigned.tree_size,
        root_hash=unsigned.root_hash,
        timestamp=unsigned.timestamp,
        key_id=unsigned.key_id,
        signature=base64.b64encode(signature).decode("ascii"),
    )


def verify_tree_head(public_key: Ed25519PublicKey, sth: SignedTreeHead) -> bool:
    """Whether ``sth`` was signed by ``public_key``; False (never raises) for anything wrong.

    Also False when ``sth.key_id`` names another key or a field is malformed.
    """
    try:
        if not isinstance(sth, SignedTreeHead) or sth.key_id != key_id(public_key):
            return False
        if not isinstance(sth.root_hash, str) or not _ROOT_HASH_HEX.fullmatch(sth.root_hash):
            return False
        if not isinstance(sth.tree_size, int) or isinstance(sth.tree_size, bool):
            return False
        if sth.tree_size < 0:
            return False
        signature = _decode_signature(sth.signature)
        if signature is None:
            return False
        public_key.verify(signature, sth.signed_message())
    except (InvalidSignature, ValueError, TypeError, AttributeError):
        return False
    return True


# ---------------------------------------------------------------------------- detached


def sign_detached(private_key: Ed25519PrivateKey, data: bytes) -> str:
    """Plain Ed25519 signature of ``data`` (base64), checkable with any Ed25519 tool.

    Refuses (``ValueError``) data beginning with ``TREE_HEAD_CONTEXT``, so the log key can
    never be made to sign something that reads as a tree head.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    message = bytes(data)
    if message.startswith(TREE_HEAD_CONTEXT):
        raise ValueError("data starts with the tree head context; use sign_tree_head")
    return base64.b64encode(private_key.sign(message)).decode("ascii")


def verify_detached(public_key: Ed25519PublicKey, data: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64) is ``public_key``'s signature of ``data``.

    False, never an exception, for a bad signature, bad base64, wrong types, or data that
    ``sign_detached`` would have refused.
    """
    try:
        if not isinstance(data, bytes | bytearray | memoryview):
            return False
        message = bytes(data)
        if message.startswith(TREE_HEAD_CONTEXT):
            return False
        raw_signature = _decode_signature(signature)
        if raw_signature is None:
            return False
        public_key.verify(raw_signature, message)
    except (InvalidSignature, ValueError, TypeError, AttributeError):
        return False
    return True


def _decode_signature(signature: object) -> bytes | None:
    """The 64 raw bytes of a signature in canonical padded base64, or None.

    Only the one canonical spelling is accepted, so a signature string is unique (no
    variants differing in unused trailing bits, whitespace or padding).
    """
    if not isinstance(signature, str):
        return None
    try:
        raw = base64.b64decode(signature.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    if len(raw) != _SIGNATURE_SIZE or base64.b64encode(raw).decode("ascii") != signature:
        return None
    return raw


def verify_rendition(
    public_key: Ed25519PublicKey, pdf: bytes | None, signature: str | None, digest: str
) -> bool:
    """Whether ``pdf`` is a rendering the key signed of the document whose canonical form
    has SHA-256 ``digest`` (issue 28: a PDF names that digest, so a genuine PDF of another
    document does not pass for this one)."""
    if pdf is None or not signature or not verify_detached(public_key, pdf, signature):
        return False
    return digest.encode("ascii") in bytes(pdf)
