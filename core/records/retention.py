"""How long records must be kept, and purging them once no law requires them any more.

Each enabled plugin says until when its law requires a finished shipment's records
(``caratflow_retention_until``); the latest date wins. A purge before that date is
refused, and every purge leaves a tombstone saying what went, when, by whom and why.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from caratflow.case.access import Actor
from caratflow.case.service import legal_date
from caratflow.errors import Conflict, Forbidden
from caratflow.jurisdiction.contributions import Plugins, authority_jurisdiction
from caratflow.jurisdiction.retention import RetentionFacts
from caratflow.ledger.sealing import seal_purge
from caratflow.models import PurgeRecord, Role, Shipment


@dataclass(frozen=True)
class Retention:
    shipment: Shipment
    keep_until: date | None  # None: no period can be computed yet, so it is kept

    def purgeable_on(self, today: date) -> bool:
        return self.keep_until is not None and today >= self.keep_until


def facts(shipment: Shipment) -> RetentionFacts:
    authority = shipment.authority
    return RetentionFacts(
        shipment_id=shipment.id,
        authority=shipment.authority_code,
        direction=shipment.direction.value,
        goods=shipment.goods.value,
        state=shipment.state,
        presented_on=legal_date(shipment),
        decisions=tuple((e.action, authority.local_date(e.at)) for e in shipment.events),
    )


def retention_of(host: Plugins, shipment: Shipment) -> Retention:
    workflow = authority_jurisdiction(host, shipment.authority).workflow
    if not workflow.states[shipment.state].terminal:
        return Retention(shipment, None)
    dates = host.retention_until(shipment.authority.plugins, facts(shipment))
    return Retention(shipment, max(dates) if dates else None)


def retentions(session: Session, host: Plugins, actor: Actor) -> Iterator[Retention]:
    query = select(Shipment).options(selectinload(Shipment.events)).order_by(Shipment.id)
    if actor.authorities is not None:
        query = query.where(Shipment.authority_code.in_(actor.authorities))
    for shipment in session.scalars(query):
        yield retention_of(host, shipment)


def purge(
    session: Session, host: Plugins, shipment_id: int, today: date, actor: Actor, reason: str
) -> PurgeRecord:
    """Delete a shipment's records once every law lets go of them; refuse it before."""
    if actor.role != Role.ADMIN:
        raise Forbidden("only an administrator may purge records")
    shipment = session.get(Shipment, shipment_id)
    if shipment is None or not actor.may_act_for(shipment.authority_code):
        raise Conflict(f"no shipment {shipment_id} to purge")
    retention = retention_of(host, shipment)
    if not retention.purgeable_on(today):
        until = retention.keep_until.isoformat() if retention.keep_until else "not yet known"
        raise Conflict(
            f"shipment {shipment_id} must be kept until {until} (state {shipment.state}); "
            "nothing was deleted"
        )
    record = PurgeRecord(
        shipment_id=shipment.id,
        authority_code=shipment.authority_code,
        certificate_number=shipment.certificate.number,
        kept_until=retention.keep_until,
        actor=actor.name,
        reason=reason,
    )
    session.add(record)
    session.flush()
    seal_purge(session, record)  # the ledger accounts for the decisions that go
    session.delete(shipment)
    session.flush()
    return record
