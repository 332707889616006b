"""Questions a rule may ask of stored records, answered without the rule writing SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from caratflow.models import (
    Certificate,
    Direction,
    DocumentStatus,
    Event,
    ExchangeMessage,
    IssuedDocument,
    Party,
    Shipment,
)


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
        they were held. Read through the certificate's name indexes: a risk analysis runs
        at every presentation, so it may cost what one trader's history costs, never what
        the whole register does."""
        involved = or_(Certificate.importer_name == name, Certificate.exporter_name == name)
        shipments = (
            select(Certificate.shipment_id)
            .join(Shipment, Certificate.shipment_id == Shipment.id)
            .where(Shipment.authority_code == authority_code, involved)
        )
        if excluding is not None:
            shipments = shipments.where(Certificate.shipment_id != excluding)
        seen = self._session.scalar(select(shipments.exists()))
        held = self._session.scalar(
            select(func.count(func.distinct(Event.shipment_id))).where(
                Event.shipment_id.in_(shipments.scalar_subquery()), Event.action == "hold"
            )
        )
        return PartyHistory(seen_before=bool(seen), held=held or 0)

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
        self, authority_code: str, references: Sequence[str], message_type: str
    ) -> list[ReceivedMessage]:
        """Messages of ``message_type`` peers sent the authority about any of
        ``references`` (certificate numbers), oldest first (issue 10)."""
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
                ExchangeMessage.reference.in_([r for r in references if r]),
                ExchangeMessage.type == message_type,
            )
            .order_by(ExchangeMessage.received_at, ExchangeMessage.id)
        )
        return [
            ReceivedMessage(peer, message_id, kind, reference, dict(content.get("data") or {}), at)
            for peer, message_id, kind, reference, content, at in self._session.execute(query)
        ]
