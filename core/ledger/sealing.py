"""Sealing: each record's leaf written in the transaction that writes the record (one INSERT,
no lock on a shared row), and reading a sealed entry back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    insert,
    select,
)
from sqlalchemy.orm import Session, object_session

from caratflow.errors import CaratflowError
from caratflow.ledger.leaf_keys import session_leaf_keys
from caratflow.ledger.leaves import (
    CERTIFICATE_COLUMNS,
    CONTAINER_COLUMNS,
    DEADLINE,
    DEADLINE_COLUMNS,
    DECISION,
    DOCUMENT,
    DOCUMENT_COLUMNS,
    DOCUMENT_STATUS,
    EVENT_COLUMNS,
    HOLD_COLUMNS,
    IDENTITY,
    LEGAL_HOLD,
    PRESENTATION,
    PURGE,
    PURGE_COLUMNS,
    SHIPMENT_COLUMNS,
    STATUS_COLUMNS,
    finding_row,
    leaf_bytes,
    plain,
    row_of,
    sealed_decision,
    sealed_document,
    sealed_presentation,
    sealed_purge,
    sealed_status,
)
from caratflow.ledger.merkle import leaf_hash
from caratflow.models import (
    Deadline,
    DocumentStatusChange,
    Event,
    IssuedDocument,
    LedgerEntry,
    LegalHold,
    PurgeRecord,
    Shipment,
)

if TYPE_CHECKING:
    from caratflow.jurisdiction.contributions import Jurisdiction


class LedgerError(CaratflowError):
    """The ledger cannot do what was asked (no key, a corrupt tree); nothing was written."""

    status = 409


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

    The leaf is authenticated with the runtime's leaf key (``leaf_keys``): only the
    application can write a leaf that the sequencer takes.

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
    records = list(records)
    if not records:  # nothing to seal (a sweep with nothing missed): no key needed
        return []
    moment = logged_at or datetime.now(UTC)
    keys = session_leaf_keys(session)
    rows, refs = [], []
    for key, record in records:
        data = leaf_bytes(kind, key, moment, record)
        key_id, mac = keys.authenticate(data)
        rows.append(
            {
                "kind": kind,
                "record_key": key,
                "logged_at": moment,
                "leaf_data": data.decode(),
                "key_id": key_id,
                "mac": mac,
            }
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
        sealed_decision(row_of(event, EVENT_COLUMNS), [finding_row(f) for f in event.findings]),
        logged_at=event.at,
    )
    if event.from_state is None:  # the presentation: what every decision judges
        append_entry(
            session,
            PRESENTATION,
            str(shipment.id),
            presentation_record(shipment),
            logged_at=event.at,
        )


def presentation_record(shipment: Shipment) -> dict[str, Any]:
    """What the ledger seals of a shipment as presented (see ``sealed_presentation``)."""
    certificate = shipment.certificate
    return sealed_presentation(
        row_of(shipment, SHIPMENT_COLUMNS),
        row_of(certificate, CERTIFICATE_COLUMNS) if certificate is not None else None,
        [row_of(c, CONTAINER_COLUMNS) for c in shipment.containers],
    )


def seal_document(session: Session, document: IssuedDocument) -> LeafRef:
    """Seal an issued document (called by ``caratflow.records.documents`` as it issues one)."""
    return append_entry(session, DOCUMENT, document.number, document_record(document))


def document_record(document: IssuedDocument) -> dict[str, Any]:
    """What the ledger seals of a document (see ``sealed_document``)."""
    return sealed_document(row_of(document, DOCUMENT_COLUMNS))


def seal_status_change(session: Session, change: DocumentStatusChange, number: str) -> LeafRef:
    """Seal a document's return or revocation."""
    row = row_of(change, STATUS_COLUMNS)
    return append_entry(session, DOCUMENT_STATUS, str(change.id), sealed_status(row, number))


def seal_purge(session: Session, record: PurgeRecord) -> LeafRef:
    """Seal a purge tombstone, so the decisions it lawfully removed are accounted for."""
    return append_entry(session, PURGE, str(record.id), sealed_purge(row_of(record, PURGE_COLUMNS)))


def seal_deadline(session: Session, deadline: Deadline, *, counted: bool = False) -> LeafRef:
    """Seal a legal clock's status as it now stands, after it was opened, suspended,
    resumed, met, missed or cancelled (issue 25): the n-th change is ``<id>:<n>``, n
    counted on the clock's own row (issue 28: not a count of its leaves each time), before
    the leaf's INSERT flushes the change (``counted``: the row counts it already)."""
    if not counted:
        deadline.sealed_changes = (deadline.sealed_changes or 0) + 1
    [ref] = seal_deadlines(session, [row_of(deadline, (*DEADLINE_COLUMNS, "sealed_changes"))])
    return ref


def seal_deadlines(session: Session, rows: Iterable[Mapping[str, Any]]) -> list[LeafRef]:
    """Seal the changes of many clocks in one statement (the sweep's missed ones): each
    row as it now stands, its ``sealed_changes`` already counting this change."""
    records = [
        (f"{row['id']}:{row['sealed_changes']}", {n: plain(row[n]) for n in DEADLINE_COLUMNS})
        for row in rows
    ]
    return append_entries(session, DEADLINE, records)


def seal_legal_hold(session: Session, hold: LegalHold) -> LeafRef:
    """Seal a legal hold placed or lifted (issue 25), in the transaction that records it."""
    return append_entry(session, LEGAL_HOLD, str(hold.id), row_of(hold, HOLD_COLUMNS))


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
