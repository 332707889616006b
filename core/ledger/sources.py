"""Where each kind of sealed record lives: how verification loads the current rows of a kind
and names what differs from its leaf. Other wings add their own kinds (the exchange's
messages).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    String,
    cast,
    exists,
    select,
)
from sqlalchemy.orm import Session

from caratflow.models import (
    Certificate,
    Container,
    DigitalIdentity,
    DocumentStatusChange,
    Event,
    FindingRecord,
    IdentityCut,
    IssuedDocument,
    LedgerEntry,
    LegalHold,
    PurgeRecord,
    Shipment,
)

if TYPE_CHECKING:
    pass


from caratflow.ledger.leaves import (
    CERTIFICATE_COLUMNS,
    CONTAINER_COLUMNS,
    DECISION,
    DOCUMENT,
    DOCUMENT_COLUMNS,
    DOCUMENT_STATUS,
    EVENT_COLUMNS,
    FINDING_COLUMNS,
    HOLD_COLUMNS,
    IDENTITY,
    IDENTITY_COLUMNS,
    LEGAL_HOLD,
    PRESENTATION,
    PURGE,
    PURGE_COLUMNS,
    SHIPMENT_COLUMNS,
    STATUS_COLUMNS,
    sealed_decision,
    sealed_document,
    sealed_identity,
    sealed_presentation,
    sealed_purge,
    sealed_status,
)


def _int_keys(keys: Sequence[str]) -> list[int]:
    return [int(key) for key in keys if key.isdigit()]


def _rows(session: Session, table: Any, names: Sequence[str], where: Any) -> list[Any]:
    columns = [table.c[name] for name in names]
    return list(session.execute(select(*columns).where(where)))


def _load_decisions(session: Session, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    ids = _int_keys(keys)
    if not ids:
        return {}
    events = _rows(session, Event.__table__, EVENT_COLUMNS, Event.__table__.c.id.in_(ids))
    findings: dict[int, list[dict[str, Any]]] = {}
    table = FindingRecord.__table__
    for row in _rows(session, table, ("event_id", *FINDING_COLUMNS), table.c.event_id.in_(ids)):
        findings.setdefault(row.event_id, []).append(row._asdict())
    return {str(row.id): sealed_decision(row._asdict(), findings.get(row.id, [])) for row in events}


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
    rows = _rows(session, table, DOCUMENT_COLUMNS, table.c.number.in_(list(keys)))
    return {row.number: sealed_document(row._asdict()) for row in rows}


def _load_status_changes(session: Session, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    ids = _int_keys(keys)
    if not ids:
        return {}
    changes = DocumentStatusChange.__table__
    documents = IssuedDocument.__table__
    rows = session.execute(
        select(*(changes.c[name] for name in STATUS_COLUMNS), documents.c.number)
        .outerjoin(documents, documents.c.id == changes.c.document_id)
        .where(changes.c.id.in_(ids))
    )
    return {str(row.id): sealed_status(row._asdict(), row.number) for row in rows}


def _load_purges(session: Session, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    ids = _int_keys(keys)
    if not ids:
        return {}
    table = PurgeRecord.__table__
    rows = _rows(session, table, PURGE_COLUMNS, table.c.id.in_(ids))
    return {str(row.id): sealed_purge(row._asdict()) for row in rows}


def _load_holds(session: Session, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    ids = _int_keys(keys)
    if not ids:
        return {}
    table = LegalHold.__table__
    rows = _rows(session, table, HOLD_COLUMNS, table.c.id.in_(ids))
    return {str(row.id): row._asdict() for row in rows}


def _load_presentations(session: Session, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    ids = _int_keys(keys)
    if not ids:
        return {}
    shipments = _rows(
        session, Shipment.__table__, SHIPMENT_COLUMNS, Shipment.__table__.c.id.in_(ids)
    )
    certificates = {
        row.shipment_id: row._asdict()
        for row in _rows(
            session,
            Certificate.__table__,
            ("shipment_id", *CERTIFICATE_COLUMNS),
            Certificate.__table__.c.shipment_id.in_(ids),
        )
    }
    containers: dict[int, list[dict[str, Any]]] = {}
    for row in _rows(
        session,
        Container.__table__,
        ("shipment_id", *CONTAINER_COLUMNS),
        Container.__table__.c.shipment_id.in_(ids),
    ):
        containers.setdefault(row.shipment_id, []).append(row._asdict())
    return {
        str(row.id): sealed_presentation(
            row._asdict(), certificates.get(row.id), containers.get(row.id, [])
        )
        for row in shipments
    }


def _presentation_rows(
    key: str, sealed: Mapping[str, Any], current: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """Name the shipment, certificate and container rows that differ from the presentation."""
    own = {name: sealed.get(name) for name in SHIPMENT_COLUMNS}
    found = _column_changes(f"shipment {key}", own, {n: current.get(n) for n in own})
    was, now = sealed.get("certificate") or {}, current.get("certificate") or {}
    found += _column_changes(f"certificate {was.get('id', now.get('id'))}", was, now)
    before = {c["id"]: c for c in sealed.get("containers", [])}
    after = {c["id"]: c for c in current.get("containers", [])}
    for container in sorted(set(before) | set(after)):
        label = f"container {container}"
        if container not in after:
            found.append((label, f"{label} of shipment {key} was deleted"))
        elif container not in before:
            found.append((label, f"{label} was added to shipment {key} after it was presented"))
        else:
            found += _column_changes(label, before[container], after[container])
    return found


def _column_changes(
    label: str, sealed: Mapping[str, Any], current: Mapping[str, Any]
) -> list[tuple[str, str]]:
    return [
        (label, f"{label} {name}: sealed {sealed.get(name)!r}, now {current.get(name)!r}")
        for name in sorted(set(sealed) | set(current))
        if sealed.get(name) != current.get(name)
    ]


def _unsealed_presentations(session: Session) -> list[str]:
    """Shipments without a presentation leaf, among those presented since presentations
    were sealed (issue 25; an older shipment's presentation is in its decisions alone)."""
    sealed = exists().where(
        LedgerEntry.kind == PRESENTATION, LedgerEntry.record_key == cast(Shipment.id, String)
    )
    first = session.scalar(select(Shipment.id).where(sealed).order_by(Shipment.id).limit(1))
    if first is None:
        return []
    query = select(Shipment.id).where(Shipment.id > first, ~sealed).limit(1000)
    return [str(key) for key in session.scalars(query)]


def _load_identities(session: Session, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    table, cut = DigitalIdentity.__table__, IdentityCut.__table__
    rows = _rows(session, table, IDENTITY_COLUMNS, table.c.number.in_(list(keys)))
    parents: dict[int, list[tuple[str, Any]]] = {}
    if rows:
        parent = table.alias("parent")
        for child, number, carats in session.execute(
            select(cut.c.child_id, parent.c.number, cut.c.carats)
            .join(parent, parent.c.id == cut.c.parent_id)
            .where(cut.c.child_id.in_([row.id for row in rows]))
        ):
            parents.setdefault(child, []).append((number, carats))
    return {row.number: sealed_identity(row._asdict(), parents.get(row.id, [])) for row in rows}


def _identity_rows(
    key: str, sealed: Mapping[str, Any], current: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """Name the identity row, and each cut it was made of, that differs from its leaf."""
    own = {name: value for name, value in sealed.items() if name != "parents"}
    found = _column_changes(
        f"digital_identity {key}", own, {name: current.get(name) for name in own}
    )
    was = {p["id"]: p["carats"] for p in sealed.get("parents", [])}
    now = {p["id"]: p["carats"] for p in current.get("parents", [])}
    for parent in sorted(set(was) | set(now)):
        label = f"identity_cut {parent}>{key}"
        if parent not in now:
            found.append((label, f"{label} (the cut of {key} from {parent}) was deleted"))
        elif parent not in was:
            found.append((label, f"{label} was added after {key} was registered"))
        elif was[parent] != now[parent]:
            found.append((label, f"{label} carats: sealed {was[parent]!r}, now {now[parent]!r}"))
    return found


def _presented_shipment_purged(record: Mapping[str, Any], purged: set[int]) -> bool:
    return record.get("id") in purged


def _shipment_purged(record: Mapping[str, Any], purged: set[int]) -> bool:
    return record.get("shipment_id") in purged


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
    PRESENTATION: Source(
        PRESENTATION,
        "shipment",
        _load_presentations,
        _unsealed_presentations,
        _presentation_rows,
        _presented_shipment_purged,
    ),
    IDENTITY: Source(
        IDENTITY,
        "digital_identity",
        _load_identities,
        unsealed_keys(IDENTITY, DigitalIdentity.number),
        _identity_rows,
    ),
    LEGAL_HOLD: Source(
        LEGAL_HOLD,
        "legal_hold",
        _load_holds,
        unsealed_keys(LEGAL_HOLD, LegalHold.id),
        changed_columns("legal_hold"),
        _shipment_purged,
    ),
}
"""The kinds whose records live in their own tables; a leaf of any other kind is its
record (an identity's leaf is compared with its rows and cuts since issue 25)."""
