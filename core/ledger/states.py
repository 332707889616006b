"""The rows whose current state is the latest of many records: a document's status, a
shipment's state, a deadline's status. ``verify_ledger`` checks each against the last
sealed record that set it (issue 25), as these rows change while their leaves never do.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from caratflow.ledger.leaves import DEADLINE, DEADLINE_COLUMNS, as_json, plain
from caratflow.ledger.signing import verify_rendition
from caratflow.models import (
    Deadline,
    DocumentStatusChange,
    Event,
    IssuedDocument,
    LedgerEntry,
    Shipment,
)

Found = tuple[str, tuple[str, ...], str]
"""A discrepancy as ``LedgerReport.add`` takes it: problem, rows, message."""


def check_states(session: Session, purged: set[int], key: Ed25519PublicKey) -> Iterator[Found]:
    """Every row whose state differs from the latest sealed record that set it."""
    yield from _document_status(session)
    yield from _renditions(session, key)
    yield from _shipment_state(session)
    yield from _deadlines(session, purged)


def _renditions(session: Session, key: Ed25519PublicKey) -> Iterator[Found]:
    """A document's PDF, rendered after its decision (issue 28) and so not in its leaf,
    must be the key's signed rendering of what the leaf seals (its digest)."""
    table = IssuedDocument.__table__
    rendered = select(table.c.number, table.c.digest, table.c.pdf, table.c.signature).where(
        table.c.digest.is_not(None), or_(table.c.pdf.is_not(None), table.c.signature.is_not(None))
    )
    for number, digest, pdf, signature in session.execute(rendered):
        if not verify_rendition(key, pdf, signature, digest):
            yield (
                "modified",
                (f"issued_document {number}",),
                f"issued_document {number}: its PDF is not the signed rendering of what it "
                "seals (its next download renders it again)",
            )


def _document_status(session: Session) -> Iterator[Found]:
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
        expected = plain(changed_to) if changed_to is not None else "valid"
        if plain(status) != expected:
            yield (
                "modified",
                (f"issued_document {number}",),
                f"issued_document {number} says it is {plain(status)}, but its sealed status "
                f"changes say {expected}",
            )


def _deadlines(session: Session, purged: set[int]) -> Iterator[Found]:
    """A deadline must stand as its latest sealed status change says (issue 25): met is
    not missed, nor its due day moved, by SQL alone."""
    latest: dict[int, tuple[int, dict[str, Any]]] = {}
    entries = select(LedgerEntry.record_key, LedgerEntry.leaf_data).where(
        LedgerEntry.kind == DEADLINE
    )
    sealed_changes: dict[int, set[int]] = {}
    for key, data in session.execute(entries):
        deadline, _, change = key.partition(":")
        known = latest.get(int(deadline), (0, {}))[0] if deadline.isdigit() else None
        if known is not None and change.isdigit():
            sealed_changes.setdefault(int(deadline), set()).add(int(change))
            if int(change) > known:
                try:
                    latest[int(deadline)] = (int(change), json.loads(data)["record"])
                except (ValueError, KeyError, TypeError):
                    continue  # an edited entry: the scan names it, its leaf no longer matches
    table = Deadline.__table__
    rows = {
        row.id: as_json({name: getattr(v, "value", v) for name, v in row._asdict().items()})
        for row in session.execute(
            select(*(table.c[name] for name in (*DEADLINE_COLUMNS, "sealed_changes")))
        )
    }
    first = min(latest, default=None)
    for deadline, row in rows.items():
        label = f"deadline {deadline}"
        counted = range(1, (row.get("sealed_changes") or 0) + 1)  # issue 28: on the row
        for gone in sorted(set(counted) - sealed_changes.get(deadline, set())):
            yield (
                "deleted",
                (label, f"ledger_entry {DEADLINE}:{deadline}:{gone}"),
                f"{label} counts {len(counted)} sealed changes, but the leaf of change {gone} "
                "is gone",
            )
        if deadline not in latest:
            if first is not None and deadline > first:
                yield (
                    "unsealed",
                    (label,),
                    f"{label} has no sealed status: it was written outside the service",
                )
            continue
        change, sealed = latest[deadline]
        changed = sorted(name for name in sealed if sealed[name] != row.get(name))
        for name in changed:
            yield (
                "modified",
                (label,),
                f"{label} {name}: sealed {sealed[name]!r} (change {change}), now {row.get(name)!r}",
            )
    for deadline, (change, sealed) in latest.items():
        if deadline not in rows and sealed.get("shipment_id") not in purged:
            yield (
                "deleted",
                (f"deadline {deadline}", f"ledger_entry {DEADLINE}:{deadline}:{change}"),
                f"deadline {deadline}, sealed by its status change {change}, no longer exists",
            )


def _shipment_state(session: Session) -> Iterator[Found]:
    """A shipment's state must be the one its last sealed decision left it in (issue 25)."""
    earlier = aliased(Event)
    latest = (
        select(func.max(earlier.id)).where(earlier.shipment_id == Shipment.id).correlate(Shipment)
    )
    rows = session.execute(
        select(Shipment.id, Shipment.state, Event.id, Event.to_state).outerjoin(
            Event, Event.id == latest.scalar_subquery()
        )
    )
    for shipment, state, event, left in rows:
        if state != left:
            yield (
                "modified",
                (f"shipment {shipment}",),
                f"shipment {shipment} says it is {state}, but its last sealed decision "
                f"(event {event}) left it {left}",
            )
