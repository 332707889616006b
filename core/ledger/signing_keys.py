"""The ledger's Ed25519 key in the instance folder: created by ``caratflow init`` (never
replaced), loaded from the settings.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from caratflow.db import make_private_folder
from caratflow.ledger.signing import (
    generate_key,
    load_private_key,
)

if TYPE_CHECKING:
    from caratflow.config import Settings


from caratflow.ledger.sealing import LedgerError


def ensure_signing_key(path: Path) -> bool:
    """Create the ledger's Ed25519 key at ``path`` unless one is there; True if created.

    An existing key is never replaced: it signed every tree head and document so far.
    """
    if path.exists():
        return False
    make_private_folder(path.parent)
    try:
        generate_key(path)
    except FileExistsError:  # another process created it meanwhile
        return False
    return True


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The ledger's private key from ``settings.signing_key_path``, loaded once per path."""
    if settings.signing_key_path is None:
        raise LedgerError("no ledger signing key is configured (CARATFLOW_SIGNING_KEY)")
    return _load_key(os.fspath(settings.signing_key_path))


def public_key(settings: Settings) -> Ed25519PublicKey:
    return signing_key(settings).public_key()


@lru_cache(maxsize=8)
def _load_key(path: str) -> Ed25519PrivateKey:
    if not os.path.exists(path):
        raise LedgerError(f"no ledger signing key at {path}; run 'caratflow init' to create it")
    return load_private_key(path)
