"""The ledger: a tamper-evident, append-only log of every decision, document and identity.

A verifiable transparency log in the style of Certificate Transparency (RFC 9162), kept in
the same database as the records it seals:

- **Sealing.** The transaction that writes a record also writes its ledger entry: the
  canonical JSON (RFC 8785) of the record, with its kind, key and the instant it was
  logged. A writer inserts its rows (a batch in one statement) and never waits on another
  writer.
- **Sequencing.** ``sequence_pending`` (run by the scheduler, or ``caratflow ledger
  sequence``) takes the pending entries in batches, as Trillian does: it gives each its
  place (``seq``), stores the new perfect subtrees of the Merkle tree (``ledger_node``)
  and signs a tree head (Ed25519) per batch.
- **Proofs.** Inclusion and consistency proofs are read from stored subtrees in one query
  each; ``check_inclusion`` and ``check_consistency`` verify them with nothing but the
  public key, as another authority would.
- **Verification.** ``verify_ledger`` rebuilds every leaf from the rows it seals,
  recomputes the tree and every signed root, and names each row that was modified,
  deleted, inserted or reordered.

What each kind of leaf seals is defined once here (``_decision_record`` and friends) and
used both when sealing and when verifying, so the two can never drift apart. A new column
on a sealed table is not sealed until it is added there, with a new ``LEAF_VERSION``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import (
    Select,
    String,
    and_,
    bindparam,
    cast,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session, object_session, sessionmaker

from caratflow import merkle
from caratflow.errors import CaratflowError, NotFound
from caratflow.merkle import NodeStore, leaf_hash
from caratflow.models import (
    DocumentStatusChange,
    Event,
    FindingRecord,
    IssuedDocument,
    LedgerEntry,
    LedgerNode,
    LedgerTreeHead,
    PurgeRecord,
    Shipment,
)
from caratflow.signing import (
    MAX_SAFE_INTEGER,
    SignedTreeHead,
    canonical_json,
    format_timestamp,
    generate_key,
    load_private_key,
    sign_tree_head,
    verify_tree_head,
)

if TYPE_CHECKING:
    from caratflow.config import Settings
    from caratflow.pluginhost import Jurisdiction

T = TypeVar("T")

LEAF_VERSION = 1
"""Written into every leaf; bumped when what a kind of leaf seals changes."""

DECISION = "decision"
DOCUMENT = "document"
DOCUMENT_STATUS = "document_status"
IDENTITY = "identity"
PURGE = "purge"

DEFAULT_BATCH = 10_000
"""Entries per sequencing batch: one signed tree head each."""

_SEQUENCER_LOCK = 0x6361726174666C77  # "caratflw": the PostgreSQL advisory lock of the sequencer


class LedgerError(CaratflowError):
    """The ledger cannot do what was asked (no key, a corrupt tree); nothing was written."""

    status = 409


# ---------------------------------------------------------------------------- sealing


def leaf_bytes(kind: str, key: str, logged_at: datetime, record: Mapping[str, Any]) -> bytes:
    """The exact bytes of a leaf: canonical JSON (RFC 8785) of the record with what
    identifies it.

    ``signing.canonical_json`` defines the bytes. When every object key is ASCII (all our
    records), the C encoder of ``json`` writes exactly the same bytes several times
    faster: RFC 8785 orders keys by UTF-16 code units, which for ASCII is Python's order,
    and escapes strings as ``json.dumps`` does. Any other key takes the reference path.
    """
    leaf = {
        "v": LEAF_VERSION,
        "kind": kind,
        "key": key,
        "logged_at": logged_at,
        "record": sealable(record),
    }
    if not _ascii_keys(leaf["record"]):
        return canonical_json(leaf)
    return json.dumps(
        leaf,
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
        default=_json_default,
    ).encode("utf-8")


def _ascii_keys(value: Any) -> bool:
    if isinstance(value, dict):
        return all(key.isascii() and _ascii_keys(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_ascii_keys(item) for item in value)
    return True


def _json_default(value: Any) -> str:
    """What ``canonical_json`` writes for the types JSON has not: text, and only these."""
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"Decimal {value} is not finite")
        return str(value)
    raise TypeError(f"{type(value).__name__} is not allowed in canonical JSON")


def sealable(value: Any) -> Any:
    """``value`` in the types canonical JSON takes, the same way every time it is read.

    JSON columns may hold floats and integers beyond 2**53 that canonical JSON refuses;
    both are sealed as their exact decimal text, which a round trip through the database
    gives back unchanged.
    """
    if isinstance(value, Mapping):
        return {str(key): sealable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [sealable(item) for item in value]
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE_INTEGER:
        return str(value)
    return value


def as_json(value: Any) -> Any:
    """``value`` as canonical JSON would read back: ``json.loads(leaf_bytes(...))["record"]``
    without serialising (verification compares structures; the hash checks the bytes)."""
    if isinstance(value, Mapping):
        return {str(key): as_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(item) for item in value]
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) <= MAX_SAFE_INTEGER else str(value)
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)  # Decimal


@dataclass(frozen=True)
class LeafRef:
    """Where a sealed record stands in the ledger: its leaf hash, and its place once sequenced."""

    kind: str
    key: str
    leaf_hash: bytes
    seq: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "leaf_hash": self.leaf_hash.hex(),
            "seq": self.seq,
        }


def append_entry(
    session: Session,
    kind: str,
    key: str,
    record: Mapping[str, Any],
    *,
    logged_at: datetime | None = None,
) -> LeafRef:
    """Seal ``record`` in the caller's transaction: one INSERT, no lock on any shared row.

    A record is sealed once: sealing the same (kind, key) again fails with an integrity
    error, because a sealed record never changes (a change is a new record).
    """
    [ref] = append_entries(session, kind, [(key, record)], logged_at=logged_at)
    return ref


def append_entries(
    session: Session,
    kind: str,
    records: Iterable[tuple[str, Mapping[str, Any]]],
    *,
    logged_at: datetime | None = None,
) -> list[LeafRef]:
    """Seal many records of one kind as ``append_entry`` seals one, in one executemany.

    For records written by the thousand in one transaction (a batch of identities), where
    building an INSERT per leaf took more than half of the registration's time
    (bench/bench_identities.py). They are logged at one instant, so the sequencer places
    them in the order of their keys.
    """
    moment = logged_at or datetime.now(UTC)
    rows, refs = [], []
    for key, record in records:
        data = leaf_bytes(kind, key, moment, record)
        rows.append(
            {"kind": kind, "record_key": key, "logged_at": moment, "leaf_data": data.decode()}
        )
        refs.append(LeafRef(kind, key, leaf_hash(data), None))
    if rows:
        session.execute(insert(LedgerEntry.__table__), rows)
    return refs


def seal_decision(
    session: Session, shipment: Shipment, event: Event, jurisdiction: Jurisdiction
) -> None:
    """The decision observer (wired in ``Runtime.assemble``): seal the event and its findings."""
    append_entry(
        session,
        DECISION,
        str(event.id),
        _decision_record(
            _attributes(event, _EVENT_COLUMNS), [_finding_of(f) for f in event.findings]
        ),
        logged_at=event.at,
    )


def seal_document(session: Session, document: IssuedDocument) -> LeafRef:
    """Seal an issued document (called by ``caratflow.documents`` as it issues one)."""
    return append_entry(session, DOCUMENT, document.number, document_record(document))


def document_record(document: IssuedDocument) -> dict[str, Any]:
    """What the ledger seals of a document (see ``_document_record``)."""
    return _document_record(_attributes(document, _DOCUMENT_COLUMNS))


def seal_status_change(session: Session, change: DocumentStatusChange, number: str) -> LeafRef:
    """Seal a document's return or revocation."""
    row = _attributes(change, _STATUS_COLUMNS)
    return append_entry(session, DOCUMENT_STATUS, str(change.id), _status_record(row, number))


def seal_purge(session: Session, record: PurgeRecord) -> LeafRef:
    """Seal a purge tombstone, so the decisions it lawfully removed are accounted for."""
    return append_entry(
        session, PURGE, str(record.id), _purge_record(_attributes(record, _PURGE_COLUMNS))
    )


def record_digital_identity(
    session: Session, identity_id: str, record: Mapping[str, Any]
) -> LeafRef:
    """Register a digital identity (a parcel's or a stone's) as a leaf (LAW.md g7.digital_identity).

    The ledger entry is the identity's authoritative record: ``find_entry(session,
    IDENTITY, identity_id)`` returns it and ``prove_inclusion`` its proof.
    """
    [ref] = record_digital_identities(session, [(identity_id, record)])
    return ref


def record_digital_identities(
    session: Session, records: Iterable[tuple[str, Mapping[str, Any]]]
) -> list[LeafRef]:
    """Register a batch of digital identities, ``(identity_id, record)`` each, in one
    statement (see ``append_entries``)."""
    return append_entries(session, IDENTITY, records)


def find_entry(session: Session, kind: str, key: str) -> SealedEntry | None:
    """The entry sealing (kind, key), read fresh from the database."""
    row = session.execute(
        select(LedgerEntry.seq, LedgerEntry.logged_at, LedgerEntry.leaf_data).where(
            LedgerEntry.kind == kind, LedgerEntry.record_key == key
        )
    ).one_or_none()
    if row is None:
        return None
    return SealedEntry(kind, key, row.seq, row.logged_at, row.leaf_data)


@dataclass(frozen=True)
class SealedEntry:
    kind: str
    key: str
    seq: int | None
    logged_at: datetime
    leaf_data: str

    @property
    def leaf_hash(self) -> bytes:
        return leaf_hash(self.leaf_data.encode("utf-8"))

    @property
    def record(self) -> dict[str, Any]:
        return json.loads(self.leaf_data)["record"]

    @property
    def ref(self) -> LeafRef:
        return LeafRef(self.kind, self.key, self.leaf_hash, self.seq)


def reference(event: Event) -> dict[str, Any] | None:
    """The ledger reference of a decision, for its history: leaf hash, and seq once sequenced."""
    session = object_session(event)
    if session is None or event.id is None:
        return None
    entry = find_entry(session, DECISION, str(event.id))
    return entry.ref.to_dict() if entry is not None else None


# ---------------------------------------------------------------------------- what is sealed

_EVENT_COLUMNS = (
    "id",
    "shipment_id",
    "action",
    "actor",
    "from_state",
    "to_state",
    "reason",
    "legal_date",
    "at",
    "data",
)
_FINDING_COLUMNS = ("id", "rule", "outcome", "basis", "message", "rule_version", "data")
_DOCUMENT_COLUMNS = (
    "id",
    "number",
    "kind",
    "serial",
    "authority_code",
    "shipment_id",
    "issued_at",
    "issued_on",
    "valid_until",
    "actor",
    "content",
    "pdf",
    "key_id",
    "signature",
)
_STATUS_COLUMNS = ("id", "document_id", "status", "at", "actor", "reason")
_PURGE_COLUMNS = (
    "id",
    "shipment_id",
    "authority_code",
    "certificate_number",
    "kept_until",
    "actor",
    "reason",
    "purged_at",
)


def _attributes(obj: object, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in names}


def _finding_of(finding: FindingRecord) -> dict[str, Any]:
    return _attributes(finding, _FINDING_COLUMNS)


def _plain(value: Any) -> Any:
    """Enum members as their values, so a row read back and an object give the same leaf."""
    return getattr(value, "value", value) if not isinstance(value, str | int) else value


def _decision_record(
    event: Mapping[str, Any], findings: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A decision as sealed: every column of the event, and each finding with its id."""
    record = {name: _plain(event[name]) for name in _EVENT_COLUMNS}
    record["findings"] = [
        {name: _plain(f[name]) for name in _FINDING_COLUMNS}
        for f in sorted(findings, key=lambda f: f["id"])
    ]
    return record


def _document_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """An issued document as sealed, with nothing personal in the clear.

    The public check shows this leaf whole, so that anyone can recompute its hash: the
    PDF and the parts that name people (the content, the officer) are sealed by their
    SHA-256 only.
    """
    private = canonical_json({"actor": row["actor"], "content": sealable(row["content"])})
    return {
        "id": row["id"],
        "number": row["number"],
        "kind": row["kind"],
        "serial": row["serial"],
        "authority": row["authority_code"],
        "shipment_id": row["shipment_id"],
        "issued_at": row["issued_at"],
        "issued_on": row["issued_on"],
        "valid_until": row["valid_until"],
        "pdf_sha256": hashlib.sha256(bytes(row["pdf"])).hexdigest(),
        "private_sha256": hashlib.sha256(private).hexdigest(),
        "key_id": row["key_id"],
        "signature": row["signature"],
    }


def _status_record(row: Mapping[str, Any], number: str) -> dict[str, Any]:
    return {
        "id": row["id"],
        "document": number,
        "status": _plain(row["status"]),
        "at": row["at"],
        "actor": row["actor"],
        "reason": row["reason"],
    }


def _purge_record(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in _PURGE_COLUMNS}


# ---------------------------------------------------------------------------- keys


def ensure_signing_key(path: Path) -> bool:
    """Create the ledger's Ed25519 key at ``path`` unless one is there; True if created.

    An existing key is never replaced: it signed every tree head and document so far.
    """
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
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


# ---------------------------------------------------------------------------- stored tree


class SqlNodeStore:
    """The ``NodeStore`` of the ledger: perfect subtrees in ``ledger_node``.

    ``get`` reads one node; ``prefetch`` reads every node a computation will need in one
    query (see ``_with_store``), which is how proofs and appends use it.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._cache: dict[tuple[int, int], bytes] = {}

    def get(self, level: int, index: int) -> bytes:
        key = (level, index)
        node = self._cache.get(key)
        if node is None:
            stored = self._session.scalar(
                select(LedgerNode.hash).where(LedgerNode.level == level, LedgerNode.idx == index)
            )
            if stored is None:
                raise KeyError(key)
            node = self._cache[key] = bytes(stored)
        return node

    def prefetch(self, coordinates: Iterable[tuple[int, int]]) -> None:
        missing = sorted({c for c in coordinates if c not in self._cache})
        for first in range(0, len(missing), _NODES_PER_QUERY):
            chunk = missing[first : first + _NODES_PER_QUERY]
            places = {}
            for n, (level, index) in enumerate(chunk):
                places[f"l{n}"], places[f"i{n}"] = level, index
            for level, index, node in self._session.execute(_nodes_at(len(chunk)), places):
                self._cache[(level, index)] = bytes(node)

    def put_many(self, nodes: Sequence[merkle.Node]) -> None:
        """Write new perfect subtrees (what ``merkle.append_many`` returned) in one
        executemany (Core, not the ORM's unit of work: a third of the time per row)."""
        if nodes:
            self._session.execute(
                insert(LedgerNode.__table__),
                [{"level": level, "idx": index, "hash": node} for level, index, node in nodes],
            )
        for level, index, node in nodes:
            self._cache[(level, index)] = node


_NODES_PER_QUERY = 64
"""Nodes ``prefetch`` reads per query: every proof of a log below 2**32 entries in one."""


@lru_cache(maxsize=_NODES_PER_QUERY)
def _nodes_at(count: int) -> Select[tuple[int, int, bytes]]:
    """The query for ``count`` nodes: ``(level = :l0 AND idx = :i0) OR ...``.

    Each term is a search of the primary key, on SQLite and PostgreSQL alike. Not
    ``(level, idx) IN (VALUES ...)``: SQLite answers that by scanning all of
    ``ledger_node`` (a proof took 379 ms at a million entries), while PostgreSQL plans it
    as these same terms (a BitmapOr of index scans). Built once per count with bound
    parameters, since building the terms costs several times the query itself.
    """
    table = LedgerNode.__table__
    return select(table.c.level, table.c.idx, table.c.hash).where(
        or_(
            *(
                and_(table.c.level == bindparam(f"l{n}"), table.c.idx == bindparam(f"i{n}"))
                for n in range(count)
            )
        )
    )


class _Recorder:
    """A stand-in store that notes which nodes a computation reads (the reads never depend
    on the hashes, only on sizes and indexes)."""

    _DUMMY = bytes(merkle.HASH_SIZE)

    def __init__(self) -> None:
        self.reads: list[tuple[int, int]] = []

    def get(self, level: int, index: int) -> bytes:
        self.reads.append((level, index))
        return self._DUMMY


def _with_store(store: SqlNodeStore, compute: Callable[[NodeStore], T]) -> T:
    """Run ``compute`` over the store after fetching all it reads in one query."""
    recorder = _Recorder()
    compute(recorder)
    store.prefetch(recorder.reads)
    return compute(store)


# ---------------------------------------------------------------------------- sequencing


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
    never blocked: they only insert entries, which the next run picks up.
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
    head: SignedTreeHead | None = None
    previous = latest
    while True:
        pending = session.execute(
            select(LedgerEntry.kind, LedgerEntry.record_key, LedgerEntry.leaf_data)
            .where(LedgerEntry.seq.is_(None))
            .order_by(LedgerEntry.logged_at, LedgerEntry.kind, LedgerEntry.record_key)
            .limit(batch_size)
        ).all()
        if not pending:
            break
        store = SqlNodeStore(session)  # one per batch: its cache stays the batch's size
        start = size
        leaves = [leaf_hash(row.leaf_data.encode("utf-8")) for row in pending]
        _with_store(store, partial(merkle.root, start))  # fetch the right edge it pairs with
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
    with sessions() as session, session.begin():
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


def _head_of(row: Any) -> SignedTreeHead:
    return SignedTreeHead(row.tree_size, row.root_hash, row.timestamp, row.key_id, row.signature)


_HEAD_COLUMNS = (
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
        select(*_HEAD_COLUMNS).order_by(LedgerTreeHead.tree_size.desc()).limit(1)
    ).one_or_none()
    return _head_of(row) if row is not None else None


def head_at(session: Session, tree_size: int) -> SignedTreeHead | None:
    row = session.execute(
        select(*_HEAD_COLUMNS).where(LedgerTreeHead.tree_size == tree_size)
    ).one_or_none()
    return _head_of(row) if row is not None else None


# ---------------------------------------------------------------------------- proofs


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
    path = _with_store(store, lambda s: merkle.inclusion_proof(seq, head.tree_size, s))
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
    return _with_store(store, lambda s: merkle.consistency_proof(old_size, new_size, s))


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


# ---------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class Discrepancy:
    """One thing wrong, with the rows it concerns, the likeliest first.

    Rows are named ``<table> <key>``: ``event 42``, ``finding 7``, ``ledger_entry
    decision:42``, ``ledger_entry seq 5``, ``ledger_node 0/5``, ``tree_head 17``,
    ``issued_document EC000001``, ``document_status_change 3``, ``purge_record 2``.
    """

    problem: str  # modified, deleted, inserted, reordered, forged, unsealed
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


Differences = Callable[[str, Mapping[str, Any], Mapping[str, Any]], list[tuple[str, str]]]


@dataclass(frozen=True)
class Source:
    """Where the records of one kind of leaf live, so ``verify_ledger`` can compare them.

    ``load`` gives the current record of each key that still exists; ``unsealed`` the
    keys of rows without a ledger entry; ``differences`` names the rows behind each
    difference between a sealed and a current record; ``purged`` says whether a missing
    record went with a lawful purge of its shipment.
    """

    kind: str
    table: str
    load: Callable[[Session, Sequence[str]], dict[str, dict[str, Any]]]
    unsealed: Callable[[Session], list[str]]
    differences: Differences
    purged: Callable[[Mapping[str, Any], set[int]], bool] = lambda record, shipments: False


_ENTRY_COLUMNS = (
    LedgerEntry.kind,
    LedgerEntry.record_key,
    LedgerEntry.seq,
    LedgerEntry.logged_at,
    LedgerEntry.leaf_data,
)


def verify_ledger(
    session: Session,
    key: Ed25519PublicKey,
    *,
    sources: Mapping[str, Source] | None = None,
    progress: Callable[[int], None] | None = None,
    chunk_size: int = 2_000,
) -> LedgerReport:
    """Check the whole ledger against the rows it seals, the stored tree and the heads.

    Streams the entries in order, in chunks (memory stays O(chunk + log n)); ``progress``
    is called with the number of entries done after each chunk. Run it in one snapshot
    (the CLI uses REPEATABLE READ on PostgreSQL), so that a sequencer running meanwhile
    is not mistaken for tampering. It finds and names:

    - a sealed row (event, finding, document, status change, purge) modified, deleted,
      or written without an entry; an entry whose data or columns were edited;
    - entries deleted (a gap below the signed size), inserted (beyond every signed head,
      or sealing a record that never existed) or reordered (a leaf found at another
      position than the one it was sequenced at);
    - stored subtrees modified, deleted or inserted; tree heads forged, altered or
      deleted (each head names the size of the one before it).
    """
    report = LedgerReport()
    heads = list(session.execute(select(*_HEAD_COLUMNS).order_by(LedgerTreeHead.tree_size)))
    signed = _check_heads(heads, key, report)
    scan = _Scan(
        session,
        report,
        dict(SOURCES if sources is None else sources),
        set(session.scalars(select(PurgeRecord.shipment_id))),
        {row.tree_size: row.root_hash for row in heads if row.tree_size in signed},
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
    _check_document_status(session, report)
    return report


def count_entries(session: Session) -> int:
    """Every entry, sequenced and pending: the length of ``verify_ledger``'s progress."""
    return session.scalar(select(func.count()).select_from(LedgerEntry)) or 0


def _check_heads(heads: Sequence[Any], key: Ed25519PublicKey, report: LedgerReport) -> set[int]:
    """Check each head's signature and its link to the one before; the sizes that verify."""
    sizes = {row.tree_size for row in heads}
    signed: set[int] = set()
    previous = None
    for row in heads:
        label = f"tree_head {row.tree_size}"
        if verify_tree_head(key, _head_of(row)):
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
    ) -> None:
        self.session = session
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
        moved_from = {leaf: seq for seq, leaf in self.missing.items() if leaf is not None}
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


def _check_document_status(session: Session, report: LedgerReport) -> None:
    """A document's status column must be what its last sealed status change says."""
    last = (
        select(DocumentStatusChange.status)
        .where(DocumentStatusChange.document_id == IssuedDocument.id)
        .order_by(DocumentStatusChange.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    for number, status, changed_to in session.execute(
        select(IssuedDocument.number, IssuedDocument.status, last)
    ):
        expected = _plain(changed_to) if changed_to is not None else "valid"
        if _plain(status) != expected:
            report.add(
                "modified",
                (f"issued_document {number}",),
                f"issued_document {number} says it is {_plain(status)}, but its sealed status "
                f"changes say {expected}",
            )


# ---------------------------------------------------------------------------- sources


def _int_keys(keys: Sequence[str]) -> list[int]:
    return [int(key) for key in keys if key.isdigit()]


def _rows(session: Session, table: Any, names: Sequence[str], where: Any) -> list[Any]:
    columns = [table.c[name] for name in names]
    return list(session.execute(select(*columns).where(where)))


def _load_decisions(session: Session, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    ids = _int_keys(keys)
    if not ids:
        return {}
    events = _rows(session, Event.__table__, _EVENT_COLUMNS, Event.__table__.c.id.in_(ids))
    findings: dict[int, list[dict[str, Any]]] = {}
    table = FindingRecord.__table__
    for row in _rows(session, table, ("event_id", *_FINDING_COLUMNS), table.c.event_id.in_(ids)):
        findings.setdefault(row.event_id, []).append(row._asdict())
    return {
        str(row.id): _decision_record(row._asdict(), findings.get(row.id, [])) for row in events
    }


def _decision_rows(
    key: str, sealed: Mapping[str, Any], current: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """Name the event and finding rows that differ from what was sealed."""
    found = []
    for name in sorted(set(sealed) | set(current)):
        if name != "findings" and sealed.get(name) != current.get(name):
            found.append(
                (
                    f"event {key}",
                    f"event {key} {name}: sealed {sealed.get(name)!r}, now {current.get(name)!r}",
                )
            )
    was = {f["id"]: f for f in sealed.get("findings", [])}
    now = {f["id"]: f for f in current.get("findings", [])}
    for finding in sorted(set(was) | set(now)):
        label = f"finding {finding}"
        if finding not in now:
            found.append((label, f"{label} of event {key} was deleted"))
        elif finding not in was:
            found.append((label, f"{label} was added to event {key} after it was sealed"))
        elif was[finding] != now[finding]:
            changed = sorted(
                k
                for k in set(was[finding]) | set(now[finding])
                if was[finding].get(k) != now[finding].get(k)
            )
            found.append((label, f"{label} of event {key} changed ({', '.join(changed)})"))
    return found


def changed_columns(table: str) -> Differences:
    """The differences of a kind whose record is one row of ``table``: the columns changed."""

    def rows(
        key: str, sealed: Mapping[str, Any], current: Mapping[str, Any]
    ) -> list[tuple[str, str]]:
        changed = sorted(k for k in set(sealed) | set(current) if sealed.get(k) != current.get(k))
        return (
            [(f"{table} {key}", f"{table} {key} changed ({', '.join(changed)})")] if changed else []
        )

    return rows


def unsealed_keys(kind: str, key_column: Any) -> Callable[[Session], list[str]]:
    """The keys (``key_column``) of up to 1,000 records of ``kind`` that have no leaf."""

    def unsealed(session: Session) -> list[str]:
        sealed = exists().where(
            LedgerEntry.kind == kind, LedgerEntry.record_key == cast(key_column, String)
        )
        return [str(key) for key in session.scalars(select(key_column).where(~sealed).limit(1000))]

    return unsealed


def _load_documents(session: Session, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    table = IssuedDocument.__table__
    rows = _rows(session, table, _DOCUMENT_COLUMNS, table.c.number.in_(list(keys)))
    return {row.number: _document_record(row._asdict()) for row in rows}


def _load_status_changes(session: Session, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    ids = _int_keys(keys)
    if not ids:
        return {}
    changes = DocumentStatusChange.__table__
    documents = IssuedDocument.__table__
    rows = session.execute(
        select(*(changes.c[name] for name in _STATUS_COLUMNS), documents.c.number)
        .outerjoin(documents, documents.c.id == changes.c.document_id)
        .where(changes.c.id.in_(ids))
    )
    return {str(row.id): _status_record(row._asdict(), row.number) for row in rows}


def _load_purges(session: Session, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    ids = _int_keys(keys)
    if not ids:
        return {}
    table = PurgeRecord.__table__
    rows = _rows(session, table, _PURGE_COLUMNS, table.c.id.in_(ids))
    return {str(row.id): _purge_record(row._asdict()) for row in rows}


def _shipment_purged(record: Mapping[str, Any], purged: set[int]) -> bool:
    return record.get("shipment_id") in purged


SOURCES: dict[str, Source] = {
    DECISION: Source(
        DECISION,
        "event",
        _load_decisions,
        unsealed_keys(DECISION, Event.id),
        _decision_rows,
        _shipment_purged,
    ),
    DOCUMENT: Source(
        DOCUMENT,
        "issued_document",
        _load_documents,
        unsealed_keys(DOCUMENT, IssuedDocument.number),
        changed_columns("issued_document"),
        _shipment_purged,
    ),
    DOCUMENT_STATUS: Source(
        DOCUMENT_STATUS,
        "document_status_change",
        _load_status_changes,
        unsealed_keys(DOCUMENT_STATUS, DocumentStatusChange.id),
        changed_columns("document_status_change"),
    ),
    PURGE: Source(
        PURGE,
        "purge_record",
        _load_purges,
        unsealed_keys(PURGE, PurgeRecord.id),
        changed_columns("purge_record"),
    ),
}
"""The kinds whose records live in their own tables; ``identity`` leaves are the record."""


@contextmanager
def snapshot(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session that reads one consistent snapshot, for ``verify_ledger`` while writers and
    the sequencer go on (PostgreSQL: REPEATABLE READ; SQLite: its read transaction)."""
    with sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        yield session
