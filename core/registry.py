"""Questions a rule may ask of stored records, answered without the rule writing SQL."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from caratflow.models import Certificate, Direction, Event, Party, Shipment


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

    def presentations_of_certificate(self, number: str, *, excluding: int | None = None) -> int:
        """How many other shipments already presented a certificate with this number."""
        query = select(func.count()).select_from(Certificate).join(Shipment)
        query = query.where(Certificate.number == number)
        if excluding is not None:
            query = query.where(Shipment.id != excluding)
        return self._session.scalar(query) or 0
