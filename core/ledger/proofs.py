"""Inclusion and consistency proofs (RFC 9162), and their checks with nothing but the log's
public key, as another authority would check them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from caratflow.errors import NotFound
from caratflow.ledger import merkle
from caratflow.ledger.merkle import leaf_hash
from caratflow.ledger.signing import (
    SignedTreeHead,
    verify_tree_head,
)
from caratflow.models import (
    LedgerEntry,
)

if TYPE_CHECKING:
    pass


from caratflow.ledger.sequencer import latest_head
from caratflow.ledger.tree import SqlNodeStore, with_store


@dataclass(frozen=True)
class InclusionProof:
    """That the entry at ``seq`` is in the tree the signed ``head`` vouches for."""

    seq: int
    leaf_hash: bytes
    path: list[bytes]
    head: SignedTreeHead
    leaf_data: str | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "seq": self.seq,
            "leaf_hash": self.leaf_hash.hex(),
            "tree_size": self.head.tree_size,
            "proof": [node.hex() for node in self.path],
            "tree_head": self.head.to_dict(),
        }
        if self.leaf_data is not None:
            body["leaf_data"] = self.leaf_data
        return body


def prove_inclusion(
    session: Session, seq: int, head: SignedTreeHead | None = None, *, with_data: bool = False
) -> InclusionProof:
    """The inclusion proof of the entry at ``seq`` against ``head`` (the latest by default).

    ``with_data`` adds the leaf's data, for leaves that hold nothing personal (documents).
    Raises ``NotFound`` when the entry is not (yet) covered by a signed head.
    """
    head = head or latest_head(session)
    if head is None or not 0 <= seq < head.tree_size:
        raise NotFound(f"no ledger entry {seq} under a signed tree head yet")
    data = session.scalar(select(LedgerEntry.leaf_data).where(LedgerEntry.seq == seq))
    if data is None:
        raise NotFound(f"ledger entry {seq} is missing; run 'caratflow ledger verify'")
    store = SqlNodeStore(session)
    path = with_store(store, lambda s: merkle.inclusion_proof(seq, head.tree_size, s))
    return InclusionProof(
        seq, leaf_hash(data.encode("utf-8")), path, head, data if with_data else None
    )


def prove_consistency(session: Session, old_size: int, new_size: int) -> list[bytes]:
    """RFC 9162 consistency proof between two sizes no larger than the latest signed head."""
    head = latest_head(session)
    limit = head.tree_size if head is not None else 0
    if not 0 <= old_size <= new_size <= limit:
        raise NotFound(
            f"cannot prove size {old_size} consistent with {new_size}: the latest signed "
            f"tree head has {limit} entries"
        )
    store = SqlNodeStore(session)
    return with_store(store, lambda s: merkle.consistency_proof(old_size, new_size, s))


def check_inclusion(key: Ed25519PublicKey, answer: Mapping[str, Any]) -> bool:
    """Verify an inclusion proof as the API gives it, with the log's public key alone.

    Checks the tree head's signature, the Merkle path to its root, and, when the answer
    carries ``leaf_data``, that the leaf hash is that data's. False for anything wrong.
    """
    try:
        head = SignedTreeHead.from_dict(answer["tree_head"])
        leaf = bytes.fromhex(answer["leaf_hash"])
        path = [bytes.fromhex(node) for node in answer["proof"]]
        seq = answer["seq"]
        if "leaf_data" in answer and leaf_hash(answer["leaf_data"].encode("utf-8")) != leaf:
            return False
    except (KeyError, TypeError, ValueError, AttributeError):
        return False
    return (
        verify_tree_head(key, head)
        and answer.get("tree_size", head.tree_size) == head.tree_size
        and merkle.verify_inclusion(leaf, seq, head.tree_size, path, head.root)
    )


def check_consistency(
    key: Ed25519PublicKey,
    old_head: Mapping[str, Any],
    new_head: Mapping[str, Any],
    proof: Sequence[str],
) -> bool:
    """Verify that the log only grew between two signed heads, with the public key alone."""
    try:
        old = SignedTreeHead.from_dict(old_head)
        new = SignedTreeHead.from_dict(new_head)
        path = [bytes.fromhex(node) for node in proof]
    except (KeyError, TypeError, ValueError, AttributeError):
        return False
    return (
        verify_tree_head(key, old)
        and verify_tree_head(key, new)
        and merkle.verify_consistency(old.tree_size, new.tree_size, old.root, new.root, path)
    )
