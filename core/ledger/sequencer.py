"""The sequencer: places pending entries in batches (as Trillian does), stores the new
subtrees and signs a tree head per batch; one at a time (an advisory lock on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import (
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from caratflow.db import unit_of_work
from caratflow.ledger import merkle
from caratflow.ledger.leaf_keys import LeafKeys, session_leaf_keys
from caratflow.ledger.merkle import leaf_hash
from caratflow.ledger.signing import (
    SignedTreeHead,
    sign_tree_head,
)
from caratflow.models import (
    LedgerEntry,
    LedgerTreeHead,
)

if TYPE_CHECKING:
    from caratflow.config import Settings


from caratflow.ledger.sealing import LedgerError
from caratflow.ledger.signing_keys import signing_key
from caratflow.ledger.tree import SqlNodeStore, with_store

DEFAULT_BATCH = 10_000
"""Entries per sequencing batch: one signed tree head each."""


_SEQUENCER_LOCK = 0x6361726174666C77  # "caratflw": the PostgreSQL advisory lock of the sequencer


def sequence_pending(
    session: Session,
    key: Ed25519PrivateKey,
    *,
    batch_size: int = DEFAULT_BATCH,
    now: datetime | None = None,
) -> SignedTreeHead | None:
    """Give every pending entry its place in the tree and sign a tree head per batch.

    Runs in the caller's transaction; returns the newest head, or None when nothing was
    pending or another sequencer holds the lock (PostgreSQL: an advisory lock, so any
    number of workers may call this; SQLite: the database's one writer). Writers are
    never blocked: they only insert entries, which the next run picks up. An entry
    without a valid leaf authentication (inserted by SQL alone) is refused with a
    ``LedgerError`` naming it, and nothing is placed.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if not _lock_sequencer(session):
        return None
    latest = session.execute(
        select(LedgerTreeHead.tree_size).order_by(LedgerTreeHead.tree_size.desc()).limit(1)
    ).scalar_one_or_none()
    size = latest or 0
    last_seq = session.scalar(select(func.max(LedgerEntry.seq)))
    if (last_seq + 1 if last_seq is not None else 0) != size:
        raise LedgerError(
            f"the ledger's last sequenced entry is {last_seq}, but its latest signed head "
            f"covers {size} entries; run 'caratflow ledger verify' before sequencing more"
        )
    moment = now or datetime.now(UTC)
    keys = session_leaf_keys(session)
    head: SignedTreeHead | None = None
    previous = latest
    while True:
        pending = session.execute(
            select(
                LedgerEntry.kind,
                LedgerEntry.record_key,
                LedgerEntry.leaf_data,
                LedgerEntry.key_id,
                LedgerEntry.mac,
            )
            .where(LedgerEntry.seq.is_(None))
            .order_by(LedgerEntry.logged_at, LedgerEntry.kind, LedgerEntry.record_key)
            .limit(batch_size)
        ).all()
        if not pending:
            break
        _refuse_unauthenticated(pending, keys)
        store = SqlNodeStore(session)  # one per batch: its cache stays the batch's size
        start = size
        leaves = [leaf_hash(row.leaf_data.encode("utf-8")) for row in pending]
        with_store(store, partial(merkle.root, start))  # fetch the right edge it pairs with
        nodes = merkle.append_many(start, leaves, store)
        store.put_many(nodes)
        _assign_seqs(session, [(row.kind, row.record_key) for row in pending], start)
        size = start + len(pending)
        head = sign_tree_head(key, size, merkle.root(size, store), moment)
        record_head(session, head, previous)
        previous = size
        if len(pending) < batch_size:
            break
    return head


def _refuse_unauthenticated(pending: Sequence[Any], keys: LeafKeys) -> None:
    """Refuse to place a leaf the application did not write (issue 25): nothing is placed."""
    forged = [
        f"ledger_entry {row.kind}:{row.record_key}"
        for row in pending
        if not keys.authentic(row.leaf_data.encode("utf-8"), row.key_id, row.mac)
    ]
    if forged:
        shown = ", ".join(forged[:5]) + (f" and {len(forged) - 5} more" if len(forged) > 5 else "")
        raise LedgerError(
            f"{shown} not authenticated by this node's leaf keys: written outside the "
            "application; nothing was sequenced (run 'caratflow ledger verify')"
        )


def _assign_seqs(session: Session, keys: Sequence[tuple[str, str]], start: int) -> None:
    """Give ``keys``, in order, the places ``start``, ``start + 1``, ...: one executemany."""
    table = LedgerEntry.__table__
    session.execute(
        update(table)
        .where(table.c.kind == bindparam("k"), table.c.record_key == bindparam("r"))
        .values(seq=bindparam("place")),
        [{"k": kind, "r": key, "place": start + n} for n, (kind, key) in enumerate(keys)],
    )


def sequence_once(sessions: sessionmaker[Session], settings: Settings) -> int | None:
    """One sequencer run in its own transaction (the scheduler's periodic task).

    Returns the new tree size, or None when nothing was pending.
    """
    with unit_of_work(sessions) as session:
        head = sequence_pending(session, signing_key(settings))
    return head.tree_size if head is not None else None


def _lock_sequencer(session: Session) -> bool:
    if session.get_bind().dialect.name == "postgresql":
        return bool(session.scalar(select(func.pg_try_advisory_xact_lock(_SEQUENCER_LOCK))))
    # SQLite: take the write lock before reading, so no other writer slips in between.
    session.execute(text("UPDATE ledger_tree_head SET tree_size = tree_size WHERE 0 = 1"))
    return True


def record_head(session: Session, head: SignedTreeHead, previous_size: int | None) -> None:
    """Store a signed tree head, chained to the size of the one before it."""
    session.execute(
        insert(LedgerTreeHead).values(
            tree_size=head.tree_size,
            previous_size=previous_size,
            root_hash=head.root_hash,
            timestamp=head.timestamp,
            key_id=head.key_id,
            signature=head.signature,
        )
    )


def head_of(row: Any) -> SignedTreeHead:
    return SignedTreeHead(row.tree_size, row.root_hash, row.timestamp, row.key_id, row.signature)


HEAD_COLUMNS = (
    LedgerTreeHead.tree_size,
    LedgerTreeHead.previous_size,
    LedgerTreeHead.root_hash,
    LedgerTreeHead.timestamp,
    LedgerTreeHead.key_id,
    LedgerTreeHead.signature,
)


def latest_head(session: Session) -> SignedTreeHead | None:
    """The newest signed tree head, or None before the first sequencing."""
    row = session.execute(
        select(*HEAD_COLUMNS).order_by(LedgerTreeHead.tree_size.desc()).limit(1)
    ).one_or_none()
    return head_of(row) if row is not None else None


def head_at(session: Session, tree_size: int) -> SignedTreeHead | None:
    row = session.execute(
        select(*HEAD_COLUMNS).where(LedgerTreeHead.tree_size == tree_size)
    ).one_or_none()
    return head_of(row) if row is not None else None
