"""Questions a rule may ask of stored records, answered without the rule writing SQL."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from caratflow.models import Certificate, Party, Shipment


class Registry:
    def __init__(self, session: Session):
        self._session = session

    def party_registered(self, authority_code: str, name: str) -> bool:
        """Is a party of this name registered with the authority (e.g. Norway §7)?"""
        found = self._session.scalar(
            select(Party.id).where(Party.authority_code == authority_code, Party.name == name)
        )
        return found is not None

    def presentations_of_certificate(self, number: str, *, excluding: int | None = None) -> int:
        """How many other shipments already presented a certificate with this number."""
        query = select(func.count()).select_from(Certificate).join(Shipment)
        query = query.where(Certificate.number == number)
        if excluding is not None:
            query = query.where(Shipment.id != excluding)
        return self._session.scalar(query) or 0
