"""The leaf keys: HMAC-SHA256 keys in the instance folder that authenticate every leaf as it
is written, in the decision's transaction (issue 25).

Someone who can write the database but cannot read the instance folder can insert a
record and a leaf that encodes it exactly as the application would; without the key he
cannot authenticate it, so the sequencer refuses it and ``ledger verify`` names it. An HMAC,
not a signature: it costs about 2 µs a leaf where Ed25519 costs 35 µs to sign and 110 µs to
check (bench/bench_ledger.py), and the signed tree heads already carry the public proof.

The key file (``CARATFLOW_LEAF_KEYS``, default ``<instance>/ledger-leaf.keys``, 0600) holds
one key a line, in hex: the last one authenticates new leaves, and every one checks, so a
rotated key keeps the leaves it authenticated checkable. Each leaf stores the id of its key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from caratflow.db import make_private_folder
from caratflow.errors import CaratflowError

LEAF_MAC_CONTEXT = b"caratflow leaf v1\n"
"""Prefix of the bytes each leaf's HMAC covers, so the key authenticates nothing else."""

_KEY_ID_CONTEXT = b"caratflow leaf key id v1\n"
_SESSION_INFO = "caratflow.leaf_keys"
_KEY_BYTES = 32


class LeafKeyError(CaratflowError):
    """No usable leaf key: nothing can be sealed or checked until ``caratflow init``."""

    status = 409


def leaf_key_id(key: bytes) -> str:
    """16 hex digits naming a key: a hash of it, which tells nothing of the key itself."""
    return hashlib.sha256(_KEY_ID_CONTEXT + key).hexdigest()[:16]


@dataclass(frozen=True)
class LeafKeys:
    """A keyring: every key by its id, and the one that authenticates new leaves."""

    keys: dict[str, bytes]
    current: str

    def authenticate(self, data: bytes) -> tuple[str, str]:
        """The key id and the hex HMAC-SHA256 of a leaf's bytes."""
        return self.current, _mac(self.keys[self.current], data)

    def authentic(self, data: bytes, key_id: str | None, mac: str | None) -> bool:
        """Whether ``mac`` is the HMAC of ``data`` under the key ``key_id`` names."""
        key = self.keys.get(key_id or "")
        return key is not None and mac is not None and hmac.compare_digest(_mac(key, data), mac)


def _mac(key: bytes, data: bytes) -> str:
    return hmac.new(key, LEAF_MAC_CONTEXT + data, hashlib.sha256).hexdigest()


def ensure_leaf_keys(path: Path) -> bool:
    """Create the key file with one new key unless it exists (0600, never replaced); True
    if created."""
    if path.exists():
        return False
    make_private_folder(path.parent)
    try:
        _write_key(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except FileExistsError:  # another process created it meanwhile
        return False
    return True


def rotate_leaf_key(path: Path) -> str:
    """Add a new key that authenticates leaves from now on; the old ones still check. Its id."""
    if not path.exists():
        raise LeafKeyError(f"no leaf key file at {path}; run 'caratflow init' first")
    return _write_key(path, os.O_WRONLY | os.O_APPEND)


def _write_key(path: Path, flags: int) -> str:
    key = secrets.token_bytes(_KEY_BYTES)
    descriptor = os.open(path, flags, 0o600)
    with os.fdopen(descriptor, "w") as key_file:
        key_file.write(key.hex() + "\n")
        key_file.flush()
        os.fsync(key_file.fileno())
    return leaf_key_id(key)


def load_leaf_keys(path: Path) -> LeafKeys:
    """The keyring at ``path``, read again whenever the file changes (a rotation elsewhere)."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        raise LeafKeyError(
            f"no leaf key file at {path}; run 'caratflow init' to create it"
        ) from None
    return _read(os.fspath(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _read(path: str, _mtime: int, _size: int) -> LeafKeys:
    with open(path, encoding="ascii") as key_file:
        lines = [line.strip() for line in key_file if line.strip()]
    try:
        keys = [bytes.fromhex(line) for line in lines]
    except ValueError:
        raise LeafKeyError(f"{path} holds a line that is no hex key") from None
    if not keys or any(len(key) != _KEY_BYTES for key in keys):
        raise LeafKeyError(f"{path} holds no key, or one that is not {_KEY_BYTES} bytes")
    return LeafKeys({leaf_key_id(key): key for key in keys}, leaf_key_id(keys[-1]))


def bind_leaf_keys(sessions: sessionmaker[Session], path: Path | None) -> None:
    """Give every session of ``sessions`` the key file, so the ledger can seal and check in
    it (``Runtime.assemble`` does it for the process's sessions)."""
    info: dict[str, Any] = dict(sessions.kw.get("info") or {})
    info[_SESSION_INFO] = path
    sessions.configure(info=info)


def has_leaf_keys(session: Session) -> bool:
    """Whether ``session`` belongs to a runtime that seals (a bare session seals nothing)."""
    return session.info.get(_SESSION_INFO) is not None


def session_leaf_keys(session: Session) -> LeafKeys:
    """The keyring of the runtime ``session`` belongs to; ``LeafKeyError`` without one."""
    path = session.info.get(_SESSION_INFO)
    if path is None:
        raise LeafKeyError("this session has no leaf key (CARATFLOW_LEAF_KEYS): nothing is sealed")
    return load_leaf_keys(path)
