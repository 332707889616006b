"""``ledger verify``: rebuild every leaf from the rows it seals, recompute the tree and every
signed root, and name each row that was modified, deleted, inserted or reordered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import (
    and_,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session, sessionmaker

from caratflow.ledger import merkle, registers, states
from caratflow.ledger.leaf_keys import LeafKeys, session_leaf_keys
from caratflow.ledger.merkle import leaf_hash
from caratflow.ledger.signing import (
    format_timestamp,
    verify_tree_head,
)
from caratflow.models import (
    LedgerEntry,
    LedgerNode,
    LedgerTreeHead,
)

if TYPE_CHECKING:
    pass


from caratflow.ledger.leaves import (
    LEAF_VERSION,
    PURGE,
    as_json,
    leaf_bytes,
)
from caratflow.ledger.sequencer import HEAD_COLUMNS, head_of
from caratflow.ledger.sources import SOURCES, Source


@dataclass(frozen=True)
class Discrepancy:
    """One thing wrong, with the rows it concerns, the likeliest first.

    Rows are named ``<table> <key>``: ``event 42``, ``finding 7``, ``ledger_entry
    decision:42``, ``ledger_entry seq 5``, ``ledger_node 0/5``, ``tree_head 17``,
    ``issued_document EC000001``, ``document_status_change 3``, ``purge_record 2``.
    """

    problem: str  # modified, deleted, inserted, reordered, forged, unsealed, unauthenticated
    rows: tuple[str, ...]
    message: str

    def __str__(self) -> str:
        return f"{self.problem.upper()}: {self.message} [{', '.join(self.rows)}]"


@dataclass
class LedgerReport:
    """What ``verify_ledger`` found; ``ok`` when nothing."""

    entries: int = 0
    pending: int = 0
    tree_size: int = 0
    heads: int = 0
    discrepancies: list[Discrepancy] = field(default_factory=list)
    consequences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.discrepancies

    @property
    def rows(self) -> set[str]:
        """Every row named by a discrepancy."""
        return {row for d in self.discrepancies for row in d.rows}

    def add(self, problem: str, rows: Iterable[str], message: str) -> None:
        self.discrepancies.append(Discrepancy(problem, tuple(rows), message))


_ENTRY_COLUMNS = (
    LedgerEntry.kind,
    LedgerEntry.record_key,
    LedgerEntry.seq,
    LedgerEntry.logged_at,
    LedgerEntry.leaf_data,
    LedgerEntry.key_id,
    LedgerEntry.mac,
)


def verify_ledger(
    session: Session,
    key: Ed25519PublicKey,
    *,
    sources: Mapping[str, Source] | None = None,
    progress: Callable[[int], None] | None = None,
    chunk_size: int = 2_000,
    leaf_keys: LeafKeys | None = None,
) -> LedgerReport:
    """Check the whole ledger against the rows it seals, the stored tree and the heads.

    Streams the entries in order, in chunks (memory stays O(chunk + log n)); ``progress``
    is called with the number of entries done after each chunk. Run it in one snapshot
    (the CLI uses REPEATABLE READ on PostgreSQL), so that a sequencer running meanwhile
    is not mistaken for tampering. It finds and names:

    - a sealed row (event, finding, document, status change, purge) modified, deleted,
      or written without an entry; an entry whose data or columns were edited;
    - an entry the application did not write: pending or beyond the signed heads without
      a valid HMAC of the runtime's leaf keys (``leaf_keys``), or under a head with a wrong
      one (entries sequenced before leaves were authenticated carry none: their signed
      head vouches for them); a shipment's records count as purged only by an authentic
      purge leaf;
    - entries deleted (a gap below the signed size), inserted (beyond every signed head,
      or sealing a record that never existed) or reordered (a leaf found at another
      position than the one it was sequenced at);
    - stored subtrees modified, deleted or inserted; tree heads forged, altered or
      deleted (each head names the size of the one before it).
    """
    report = LedgerReport()
    keys = leaf_keys or session_leaf_keys(session)
    heads = list(session.execute(select(*HEAD_COLUMNS).order_by(LedgerTreeHead.tree_size)))
    signed = _check_heads(heads, key, report)
    scan = _Scan(
        session,
        report,
        dict(SOURCES if sources is None else sources),
        _purged_shipments(session, keys, max(signed, default=0)),
        {row.tree_size: row.root_hash for row in heads if row.tree_size in signed},
        keys,
    )
    after = -1
    while True:
        chunk = session.execute(
            select(*_ENTRY_COLUMNS)
            .where(LedgerEntry.seq > after)
            .order_by(LedgerEntry.seq)
            .limit(chunk_size)
        ).all()
        if not chunk:
            break
        scan.sequenced(chunk)
        after = chunk[-1].seq
        if progress is not None:
            progress(len(chunk))
    pending = session.execute(
        select(*_ENTRY_COLUMNS)
        .where(LedgerEntry.seq.is_(None))
        .order_by(LedgerEntry.logged_at, LedgerEntry.kind, LedgerEntry.record_key)
    ).all()
    for start in range(0, len(pending), chunk_size):
        scan.outside(pending[start : start + chunk_size], "pending")
        if progress is not None:
            progress(len(pending[start : start + chunk_size]))
    scan.finish()
    report.pending = len(pending)
    for source in scan.sources.values():
        for record_key in source.unsealed(session):
            report.add(
                "unsealed",
                (f"{source.table} {record_key}", f"ledger_entry {source.kind}:{record_key}"),
                f"{source.table} {record_key} has no ledger entry: it was written outside "
                "the service, or its entry was deleted",
            )
    for found in states.check_states(session, scan.purged_shipments, key):
        report.add(*found)
    for found in registers.check_registers(session):
        report.add(*found)
    return report


def count_entries(session: Session) -> int:
    """Every entry, sequenced and pending: the length of ``verify_ledger``'s progress."""
    return session.scalar(select(func.count()).select_from(LedgerEntry)) or 0


def _purged_shipments(session: Session, keys: LeafKeys, signed_size: int) -> set[int]:
    """The shipments an authentic purge leaf accounts for: a purge record written by SQL
    alone makes no decision's absence lawful."""
    purged = set()
    for row in session.execute(select(*_ENTRY_COLUMNS).where(LedgerEntry.kind == PURGE)):
        if _authentic(row, keys, signed_size):
            try:
                purged.add(json.loads(row.leaf_data)["record"]["shipment_id"])
            except (ValueError, KeyError, TypeError):
                continue
    return purged


def _authentic(row: Any, keys: LeafKeys, signed_size: int) -> bool:
    """Whether the application wrote this entry: its HMAC checks, or it carries none and
    lies under a signed head (sequenced before leaves were authenticated)."""
    if row.mac is None and row.key_id is None and row.seq is not None and row.seq < signed_size:
        return True
    return keys.authentic(row.leaf_data.encode("utf-8"), row.key_id, row.mac)


def _check_heads(heads: Sequence[Any], key: Ed25519PublicKey, report: LedgerReport) -> set[int]:
    """Check each head's signature and its link to the one before; the sizes that verify."""
    sizes = {row.tree_size for row in heads}
    signed: set[int] = set()
    previous = None
    for row in heads:
        label = f"tree_head {row.tree_size}"
        if verify_tree_head(key, head_of(row)):
            signed.add(row.tree_size)
        else:
            report.add(
                "forged",
                (label,),
                f"the tree head at size {row.tree_size} does not carry a valid signature of "
                "this ledger's key: it was altered or forged",
            )
        if row.previous_size != previous:
            if row.previous_size is not None and row.previous_size not in sizes:
                report.add(
                    "deleted",
                    (f"tree_head {row.previous_size}", label),
                    f"the tree head at size {row.previous_size}, which the head at size "
                    f"{row.tree_size} follows, is missing",
                )
            else:
                report.add(
                    "modified",
                    (label, f"tree_head {previous}"),
                    f"the tree head at size {row.tree_size} says it follows size "
                    f"{row.previous_size}, but the head before it is at size {previous}",
                )
        previous = row.tree_size
    return signed


class _Scan:
    """Walks the entries in order, rebuilding each leaf from its record and the tree from
    the leaves, and compares both with what is stored."""

    def __init__(
        self,
        session: Session,
        report: LedgerReport,
        sources: dict[str, Source],
        purged_shipments: set[int],
        roots: Mapping[int, str],
        keys: LeafKeys,
    ) -> None:
        self.session = session
        self.keys = keys
        self.report = report
        self.sources = sources
        self.purged_shipments = purged_shipments
        self.roots = roots
        self.signed_size = max(roots, default=0)
        self.size = 0  # leaves in the recomputed tree
        self.frontier: dict[tuple[int, int], bytes] = {}
        self.mismatches: dict[tuple[int, int], tuple[bytes, bytes | None]] = {}
        self.named: set[int] = set()  # seqs whose entry or record a discrepancy names
        self.suspect: set[int] = set()  # seqs whose leaf differs from the stored tree
        self.labels: dict[int, str] = {}
        self.missing: dict[int, bytes | None] = {}  # deleted seq -> its stored leaf
        self.strays: list[tuple[str, bytes, str]] = []  # (label, leaf, where) outside the tree
        self.root_matches: dict[int, bool] = {}  # signed size -> the records give its root

    # -- entries under a signed head -----------------------------------------------------

    def sequenced(self, chunk: Sequence[Any]) -> None:
        covered = [row for row in chunk if row.seq < self.signed_size]
        self.outside([row for row in chunk if row.seq >= self.signed_size], "unsigned")
        if not covered:
            return
        first, end = self.size, covered[-1].seq + 1
        stored = self._stored_nodes(first, end)
        current = self._records(covered)
        by_seq = {row.seq: row for row in covered}
        for seq in range(first, end):
            row = by_seq.get(seq)
            if row is None:  # deleted: its stored leaf stands in, so the rest still checks
                self.missing[seq] = stored.get((0, seq))
                self._append(self.missing[seq] or bytes(merkle.HASH_SIZE), stored)
                continue
            data = row.leaf_data.encode("utf-8")
            self.labels[seq] = _entry_label(row)
            self._check(row, data, current, seq, stored.get((0, seq)))
            self._append(leaf_hash(data), stored)

    def _append(self, leaf: bytes, stored: Mapping[tuple[int, int], bytes]) -> None:
        for level, index, node in merkle.append_nodes(self.size, leaf, _Frontier(self.frontier)):
            if level:
                del self.frontier[(level - 1, 2 * index)], self.frontier[(level - 1, 2 * index + 1)]
            self.frontier[(level, index)] = node
            kept = stored.get((level, index))
            if kept != node:
                self.mismatches[(level, index)] = (node, kept)
        self.size += 1
        root = self.roots.get(self.size)
        if root is None:
            return
        matches = merkle.root(self.size, _Frontier(self.frontier)).hex() == root
        self.root_matches[self.size] = matches
        if not matches:
            if not (self.named | self.suspect | set(self.missing)):
                self.report.add(
                    "modified",
                    (f"tree_head {self.size}",),
                    f"the records give another root than the tree head at size {self.size}",
                )
            else:
                self.report.consequences.append(
                    f"the signed root at size {self.size} no longer matches the records"
                )

    def _stored_nodes(self, first: int, end: int) -> dict[tuple[int, int], bytes]:
        """The stored nodes that leaves [first, end) complete: one range per level."""
        ranges = []
        level = 0
        while 1 << level <= end:
            low, high = -(-(first + 1) >> level) - 1, (end >> level) - 1
            if low <= high:
                ranges.append(and_(LedgerNode.level == level, LedgerNode.idx.between(low, high)))
            level += 1
        rows = self.session.execute(
            select(LedgerNode.level, LedgerNode.idx, LedgerNode.hash).where(or_(*ranges))
        )
        return {(lvl, idx): bytes(node) for lvl, idx, node in rows}

    # -- every entry: its data, its columns, its record ----------------------------------

    def outside(self, rows: Sequence[Any], where: str) -> None:
        """Entries outside the signed tree (pending, or beyond every signed head)."""
        current = self._records(rows)
        for row in rows:
            data = row.leaf_data.encode("utf-8")
            self._check(row, data, current, None, None)
            self.strays.append((_entry_label(row), leaf_hash(data), where))

    def _records(self, rows: Sequence[Any]) -> dict[tuple[str, str], dict[str, Any]]:
        keys: dict[str, list[str]] = {}
        for row in rows:
            keys.setdefault(row.kind, []).append(row.record_key)
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for kind, kind_keys in keys.items():
            source = self.sources.get(kind)
            if source is not None:
                for record_key, record in source.load(self.session, kind_keys).items():
                    found[(kind, record_key)] = record
        return found

    def _check(
        self,
        row: Any,
        data: bytes,
        current: Mapping[tuple[str, str], dict[str, Any]],
        seq: int | None,
        stored_leaf: bytes | None,
    ) -> None:
        """Compare an entry with the record it seals and, under a head, with its stored leaf.

        When entry and record disagree, the stored leaf tells which one changed: it
        still hashes the original.
        """
        label = _entry_label(row)
        where = "pending" if row.seq is None else f"seq {row.seq}"
        leaf = leaf_hash(data)
        try:
            sealed = json.loads(data)
            intact = (
                sealed["kind"] == row.kind
                and sealed["key"] == row.record_key
                and sealed["logged_at"] == format_timestamp(row.logged_at)
            )
            sealed_record = sealed["record"]
        except (ValueError, KeyError, TypeError):
            return self._name(seq, "modified", (label,), f"{label} ({where}) holds no valid leaf")
        if not intact:
            return self._name(
                seq,
                "modified",
                (label,),
                f"{label} ({where}): its kind, key or logged_at column no longer matches its data",
            )
        source = self.sources.get(row.kind)
        if not _authentic(row, self.keys, self.signed_size):
            record_row = (f"{source.table} {row.record_key}",) if source is not None else ()
            return self._name(
                seq,
                "unauthenticated",
                (label, *record_row),
                f"{label} ({where}) is not authenticated by this node's leaf keys (key id "
                f"{row.key_id}): it was written outside the application",
            )
        if source is None:  # the entry is the record itself (digital identities)
            if stored_leaf is not None and stored_leaf != leaf:
                self.suspect.add(seq)  # edited or moved: decided in finish()
            return None
        record = current.get((row.kind, row.record_key))
        if record is None:
            if source.purged(sealed_record, self.purged_shipments):
                return None
            return self._name(
                seq,
                "deleted",
                (f"{source.table} {row.record_key}", label),
                f"{source.table} {row.record_key}, sealed by {label} ({where}), no longer exists",
            )
        now = as_json(record)  # what the leaf holds if the record is unchanged
        if now == sealed_record and sealed.get("v") == LEAF_VERSION:
            if stored_leaf is not None and stored_leaf != leaf:
                self.suspect.add(seq)  # the entry moved, or the stored leaf was edited
            return None
        rebuilt = leaf_bytes(row.kind, row.record_key, row.logged_at, record)
        if source.purged(sealed_record, self.purged_shipments) and _unlinked(sealed_record, now):
            return None
        differences = source.differences(row.record_key, sealed_record, now)
        said = "; ".join(text for _, text in differences) or "its content changed"
        record_rows = tuple(dict.fromkeys(name for name, _ in differences))
        record_rows = record_rows or (f"{source.table} {row.record_key}",)
        if stored_leaf is not None and stored_leaf == leaf:  # the entry is the original
            return self._name(
                seq,
                "modified",
                record_rows,
                f"{source.table} {row.record_key} changed after it was sealed ({where}): {said}",
            )
        if stored_leaf is not None and stored_leaf == leaf_hash(rebuilt):
            return self._name(
                seq,
                "modified",
                (label,),
                f"{label} ({where}) was edited; {source.table} {row.record_key} still matches "
                f"the tree ({said})",
            )
        return self._name(
            seq,
            "modified",
            (*record_rows, label),
            f"{source.table} {row.record_key} differs from its ledger entry ({where}): {said}",
        )

    def _name(self, seq: int | None, problem: str, rows: tuple[str, ...], message: str) -> None:
        if seq is not None:
            self.named.add(seq)
        self.report.add(problem, rows, message)

    # -- after the last entry ------------------------------------------------------------

    def finish(self) -> None:
        report = self.report
        for seq in range(self.size, self.signed_size):  # deleted from the end of the log
            self.missing[seq] = self._stored_leaf(seq)
        report.entries = self.size - len(self.missing)
        report.tree_size = self.signed_size
        report.heads = len(self.roots)
        # an entry outside the tree whose leaf the tree holds was sequenced there: at a
        # seq now missing, or one another entry took (their places swapped)
        moved_from = {
            kept: index
            for (level, index), (_, kept) in self.mismatches.items()
            if level == 0 and kept is not None
        }
        moved_from.update({leaf: seq for seq, leaf in self.missing.items() if leaf is not None})
        for seq in sorted(self.missing):
            report.add(
                "deleted", (f"ledger_entry seq {seq}",), f"the ledger entry at seq {seq} is missing"
            )
        unsigned = []
        for label, leaf, where in self.strays:
            origin = moved_from.get(leaf)
            if origin is not None:
                report.add(
                    "reordered",
                    (label,),
                    f"{label} is {where}, but it was sequenced at seq {origin}",
                )
            elif where == "unsigned":
                unsigned.append(label)
        if unsigned:
            report.add(
                "inserted",
                (*unsigned, f"tree_head {self.signed_size + len(unsigned)}"),
                f"{len(unsigned)} entries lie beyond the last signed tree head (size "
                f"{self.signed_size}): they were inserted, or the head that covered them was "
                "deleted",
            )
        self._name_nodes()
        self._extra_nodes()

    def _name_nodes(self) -> None:
        """Name the culprit behind each mismatch between the recomputed and stored tree.

        A node that differs only because a node below it differs is a consequence; the
        lowest mismatch is the culprit. A leaf that differs is an entry moved (its leaf is
        stored at another position), an entry edited (the stored tree above agrees with
        the stored leaf) or a stored leaf edited.
        """
        stored_at = {kept: index for (lvl, index), (_, kept) in self.mismatches.items() if lvl == 0}
        for (level, index), (computed, kept) in sorted(self.mismatches.items()):
            label = f"ledger_node {level}/{index}"
            if level == 0:
                if index in self.missing or index in self.named:
                    continue
                entry = self.labels.get(index, f"ledger_entry seq {index}")
                origin = stored_at.get(computed)
                if kept is None:
                    self.report.add("deleted", (label,), f"stored node {label} is missing")
                elif not self._entry_changed(index, kept):
                    self.report.add("modified", (label,), f"stored node {label} was altered")
                elif origin is not None and origin != index:
                    self.report.add(
                        "reordered",
                        (entry,),
                        f"{entry} is at seq {index}, but was sequenced at seq {origin}",
                    )
                else:
                    self.report.add(
                        "modified",
                        (entry,),
                        f"{entry} (seq {index}) was edited: its data no longer gives the leaf "
                        "the stored tree was built from",
                    )
            elif not any((level - 1, 2 * index + i) in self.mismatches for i in (0, 1)):
                if kept is None:
                    self.report.add("deleted", (label,), f"stored node {label} is missing")
                else:
                    self.report.add(
                        "modified", (label,), f"stored node {label} does not hash its children"
                    )

    def _stored_leaf(self, seq: int) -> bytes | None:
        node = self.session.scalar(
            select(LedgerNode.hash).where(LedgerNode.level == 0, LedgerNode.idx == seq)
        )
        return bytes(node) if node is not None else None

    def _entry_changed(self, index: int, kept: bytes) -> bool:
        """Whether the entry at ``index`` changed (edited or moved) rather than its stored leaf.

        The first signed head over the entry decides: if the records still give its root,
        the entry is genuine and the stored leaf was altered. Without one, the stored
        parent decides: built from the stored leaf, it shows the leaf is original.
        """
        covering = [size for size in self.root_matches if size > index]
        if covering:
            return not self.root_matches[min(covering)]
        return self._parent_agrees(index, kept)

    def _parent_agrees(self, index: int, kept: bytes) -> bool:
        """Whether the stored parent of leaf ``index`` was built from its stored leaf."""
        sibling = self._stored_leaf(index ^ 1)
        parent = self.session.scalar(
            select(LedgerNode.hash).where(LedgerNode.level == 1, LedgerNode.idx == index >> 1)
        )
        if parent is None or sibling is None:
            return True  # a lone leaf on the right edge: nothing stored contradicts it
        pair = (kept, sibling) if index % 2 == 0 else (sibling, kept)
        return merkle.node_hash(*pair) == bytes(parent)

    def _extra_nodes(self) -> None:
        """Stored nodes that are no subtree of the signed leaves were inserted."""
        size = self.signed_size
        beyond = [LedgerNode.level >= max(size.bit_length(), 1), LedgerNode.idx < 0]
        beyond += [
            and_(LedgerNode.level == level, LedgerNode.idx >= size >> level)
            for level in range(size.bit_length())
        ]
        rows = self.session.execute(
            select(LedgerNode.level, LedgerNode.idx).where(or_(*beyond)).limit(1_000)
        )
        for level, index in rows:
            label = f"ledger_node {level}/{index}"
            self.report.add("inserted", (label,), f"stored node {label} lies outside the tree")


class _Frontier:
    """The recomputed tree's right edge as a ``NodeStore``: all appends and roots read."""

    __slots__ = ("_nodes",)

    def __init__(self, nodes: Mapping[tuple[int, int], bytes]) -> None:
        self._nodes = nodes

    def get(self, level: int, index: int) -> bytes:
        return self._nodes[(level, index)]


def _entry_label(row: Any) -> str:
    return f"ledger_entry {row.kind}:{row.record_key}"


def _unlinked(sealed: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """Only the link to a purged shipment was cut (the foreign key's SET NULL)."""
    if current.get("shipment_id") is not None:
        return False
    return {k: v for k, v in sealed.items() if k != "shipment_id"} == {
        k: v for k, v in current.items() if k != "shipment_id"
    }


@contextmanager
def snapshot(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session that reads one consistent snapshot, for ``verify_ledger`` while writers and
    the sequencer go on (PostgreSQL: REPEATABLE READ; SQLite: its read transaction)."""
    with sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        yield session
