"""Questions a rule may ask of stored records, answered without the rule writing SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, exists, false, or_, select
from sqlalchemy.orm import Session

from caratflow.db import once_per_unit_of_work
from caratflow.models import (
    Certificate,
    Direction,
    DocumentStatus,
    Event,
    ExchangeMessage,
    IssuedDocument,
    Party,
    Shipment,
    TraderTally,
)

DETAINING = "hold"  # the action that detains a shipment, in every workflow


def _names(name: Any) -> Any:
    return or_(Certificate.importer_name == name, Certificate.exporter_name == name)


@dataclass(frozen=True)
class PartyHistory:
    seen_before: bool  # the trader was a party to another shipment of the authority
    held: int  # of those shipments, how many were ever detained


@dataclass(frozen=True)
class PresentationOnRecord:
    shipment_id: int
    authority_code: str
    presented_at: datetime


@dataclass(frozen=True)
class DocumentOnRecord:
    number: str
    status: DocumentStatus
    valid_until: date | None


@dataclass(frozen=True)
class ReceivedMessage:
    """A message another authority's node sent (issue 10), as verified and stored."""

    peer: str
    message_id: str
    type: str
    reference: str | None
    data: dict[str, Any]
    received_at: datetime


class Registry:
    def __init__(self, session: Session):
        self._session = session

    def party_registered(self, authority_code: str, name: str) -> bool:
        """Is a party of this name registered with the authority (e.g. Norway §7)?"""
        found = self._session.scalar(
            select(Party.id).where(Party.authority_code == authority_code, Party.name == name)
        )
        return found is not None

    def cleared_import(self, authority_code: str, number: str, clearing: Sequence[str]) -> bool:
        """Did an import under certificate ``number`` get cleared (one of ``clearing``)?"""
        query = (
            select(Event.id)
            .join(Shipment, Event.shipment_id == Shipment.id)
            .join(Certificate, Certificate.shipment_id == Shipment.id)
            .where(
                Shipment.authority_code == authority_code,
                Shipment.direction == Direction.IMPORT,
                Certificate.number == number,
                Event.action.in_(clearing),
            )
            .limit(1)
        )
        return self._session.scalar(query) is not None

    def party_history(
        self, authority_code: str, name: str, *, excluding: int | None = None
    ) -> PartyHistory:
        """Whether a trader appeared in this authority's shipments before, and how often
        they were held (see ``party_histories``)."""
        return self.party_histories(authority_code, [name], excluding=excluding)[name]

    def party_histories(
        self, authority_code: str, names: Sequence[str], *, excluding: int | None = None
    ) -> dict[str, PartyHistory]:
        """Each trader's history with the authority, in one query: a risk analysis asks of
        both traders at every presentation, so it reads their tallies (one row each,
        however long the history; issue 28), less the shipment ``excluding`` where it
        counted."""
        if excluding is None:  # a presentation not yet stored counts nowhere
            counted, held_here = false(), false()
        else:
            ours = and_(Certificate.shipment_id == excluding, _names(TraderTally.name))
            held = and_(Event.shipment_id == excluding, Event.action == DETAINING)
            counted, held_here = exists().where(ours), exists().where(held)
        query = select(
            TraderTally.name,
            TraderTally.shipments,
            TraderTally.held,
            counted.label("counted"),
            held_here.label("held_here"),
        ).where(TraderTally.authority_code == authority_code, TraderTally.name.in_(names))
        found = {
            name: PartyHistory(
                seen_before=shipments - int(counted) > 0,
                held=total - int(counted and held_here),
            )
            for name, shipments, total, counted, held_here in self._session.execute(query)
        }
        return {name: found.get(name, PartyHistory(seen_before=False, held=0)) for name in names}

    def first_presentation(
        self, issuing_country: str, number: str, *, before: int | None = None
    ) -> PresentationOnRecord | None:
        """The first import, at any authority of this deployment, that presented the
        certificate ``number`` of ``issuing_country`` before shipment ``before`` (before
        any, for one not recorded yet): a certificate serves one consignment."""
        query = (
            select(Shipment.id, Shipment.authority_code, Shipment.presented_at)
            .join(Certificate, Certificate.shipment_id == Shipment.id)
            .where(
                Certificate.number == number,
                Certificate.issuing_country == issuing_country,
                Shipment.direction == Direction.IMPORT,
            )
            .order_by(Shipment.id)
            .limit(1)
        )
        if before is not None:
            query = query.where(Shipment.id < before)
        row = self._session.execute(query).one_or_none()
        return None if row is None else PresentationOnRecord(*row)

    def document_of(self, shipment_id: int | None, kind: str) -> DocumentOnRecord | None:
        """The latest document of ``kind`` issued for the shipment, whatever its status."""
        row = self._session.execute(
            select(IssuedDocument.number, IssuedDocument.status, IssuedDocument.valid_until)
            .where(IssuedDocument.shipment_id == shipment_id, IssuedDocument.kind == kind)
            .order_by(IssuedDocument.id.desc())
            .limit(1)
        ).one_or_none()
        return None if row is None else DocumentOnRecord(*row)

    def received_messages(
        self, authority_code: str, references: Sequence[str], message_type: str | Sequence[str]
    ) -> list[ReceivedMessage]:
        """Messages of ``message_type`` (or of any of several: another jurisdiction's law
        names the same message otherwise) peers sent the authority about any of
        ``references`` (certificate numbers), oldest first (issue 10). Asked by the rules
        and by the notices of one decision, read once per unit of work (issue 28)."""
        wanted = tuple(sorted({r for r in references if r}))
        types = (message_type,) if isinstance(message_type, str) else tuple(message_type)
        key = (ExchangeMessage.__tablename__, authority_code, wanted, types)
        return list(
            once_per_unit_of_work(
                self._session, key, lambda: self._messages(authority_code, wanted, types)
            )
        )

    def _messages(
        self, authority_code: str, references: Sequence[str], types: Sequence[str]
    ) -> list[ReceivedMessage]:
        query = (
            select(
                ExchangeMessage.peer_code,
                ExchangeMessage.message_id,
                ExchangeMessage.type,
                ExchangeMessage.reference,
                ExchangeMessage.content,
                ExchangeMessage.received_at,
            )
            .where(
                ExchangeMessage.authority_code == authority_code,
                ExchangeMessage.reference.in_(references),
                ExchangeMessage.type.in_(types),
            )
            .order_by(ExchangeMessage.received_at, ExchangeMessage.id)
        )
        return [
            ReceivedMessage(peer, message_id, kind, reference, dict(content.get("data") or {}), at)
            for peer, message_id, kind, reference, content, at in self._session.execute(query)
        ]
