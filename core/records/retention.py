"""How long records must be kept, and purging them once no law requires them any more.

Each enabled plugin says until when its law requires a finished shipment's records
(``caratflow_retention_until``); the latest date wins. A purge goes by the legal clock
(today in the authority's zone; never a date of the caller's choosing): before that date
it is refused, as it is while a legal hold stands (an investigation, an appeal, a court
order, each placed and lifted as a sealed record, issue 25). Every purge leaves a sealed
tombstone saying what went, when, by whom and why.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, object_session, selectinload

from caratflow.case import history
from caratflow.case.access import Actor
from caratflow.case.service import legal_date
from caratflow.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from caratflow.jurisdiction.contributions import Plugins, authority_jurisdiction
from caratflow.jurisdiction.retention import RetentionFacts
from caratflow.ledger.sealing import seal_legal_hold, seal_purge
from caratflow.models import LegalHold, PurgeRecord, Role, Shipment

HOLD_KINDS = ("investigation", "appeal", "court_order")
"""What keeps records beyond their retention period whatever the law's period says: a
procedure that may still need them as evidence."""


@dataclass(frozen=True)
class Retention:
    shipment: Shipment
    keep_until: date | None  # None: no period can be computed yet, so it is kept
    holds: tuple[LegalHold, ...] = field(default=())  # standing legal holds

    def purgeable_on(self, today: date) -> bool:
        return not self.holds and self.keep_until is not None and today >= self.keep_until


def legal_today(shipment: Shipment, now: datetime | None = None) -> date:
    """The law's date for a shipment's records: today in its authority's zone."""
    return shipment.authority.local_date(now or datetime.now(UTC))


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
    holds = standing_holds(shipment)
    workflow = authority_jurisdiction(host, shipment.authority).workflow
    if not workflow.states[shipment.state].terminal:
        return Retention(shipment, None, holds)
    dates = host.retention_until(shipment.authority.plugins, facts(shipment))
    return Retention(shipment, max(dates) if dates else None, holds)


def standing_holds(shipment: Shipment) -> tuple[LegalHold, ...]:
    """The legal holds on ``shipment`` that no later record lifted."""

    session = object_session(shipment)
    if session is None or shipment.id is None:
        return ()
    lifting = aliased(LegalHold)
    lifted = select(lifting.id).where(lifting.lifts == LegalHold.id).exists()
    return tuple(
        session.scalars(
            select(LegalHold)
            .where(LegalHold.shipment_id == shipment.id, LegalHold.lifts.is_(None), ~lifted)
            .order_by(LegalHold.id)
        )
    )


def place_hold(
    session: Session,
    shipment_id: int,
    kind: str,
    reference: str,
    reason: str,
    actor: Actor,
    now: datetime | None = None,
) -> LegalHold:
    """Hold a shipment's records for a procedure (``HOLD_KINDS``): sealed, and no purge
    takes them until it is lifted."""
    shipment = _held_shipment(session, shipment_id, actor)
    errors = []
    if kind not in HOLD_KINDS:
        errors.append(FieldError("kind", f"must be one of {', '.join(HOLD_KINDS)}"))
    if not reference.strip():
        errors.append(FieldError("reference", "the procedure's reference is required"))
    if not reason.strip():
        errors.append(FieldError("reason", "is required"))
    if errors:
        raise InvalidInput(errors)
    return _record_hold(session, shipment, kind, reference.strip(), reason, actor, now, None)


def lift_hold(
    session: Session, hold_id: int, reason: str, actor: Actor, now: datetime | None = None
) -> LegalHold:
    """End a standing legal hold (the procedure is over): a sealed record of its own."""
    hold = session.get(LegalHold, hold_id)
    if hold is None or hold.lifts is not None or hold.shipment_id is None:
        raise NotFound(f"no legal hold {hold_id}")
    shipment = _held_shipment(session, hold.shipment_id, actor)
    if hold not in standing_holds(shipment):
        raise Conflict(f"legal hold {hold_id} was lifted before")
    if not reason.strip():
        raise InvalidInput([FieldError("reason", "is required")])
    return _record_hold(session, shipment, hold.kind, hold.reference, reason, actor, now, hold.id)


def _held_shipment(session: Session, shipment_id: int, actor: Actor) -> Shipment:
    if actor.role not in (Role.ADMIN, Role.SUPERVISOR):
        raise Forbidden("only a supervisor or an administrator may place or lift a legal hold")
    shipment = session.get(Shipment, shipment_id)
    if shipment is None or not actor.may_act_for(shipment.authority_code):
        raise NotFound(f"no shipment {shipment_id}")
    return shipment


def _record_hold(
    session: Session,
    shipment: Shipment,
    kind: str,
    reference: str,
    reason: str,
    actor: Actor,
    now: datetime | None,
    lifts: int | None,
) -> LegalHold:
    hold = LegalHold(
        shipment_id=shipment.id,
        authority_code=shipment.authority_code,
        kind=kind,
        reference=reference,
        reason=reason,
        actor=actor.name,
        at=now or datetime.now(UTC),
        lifts=lifts,
    )
    session.add(hold)
    session.flush()
    seal_legal_hold(session, hold)
    return hold


def retentions(session: Session, host: Plugins, actor: Actor) -> Iterator[Retention]:
    query = select(Shipment).options(selectinload(Shipment.events)).order_by(Shipment.id)
    if actor.authorities is not None:
        query = query.where(Shipment.authority_code.in_(actor.authorities))
    for shipment in session.scalars(query):
        yield retention_of(host, shipment)


def purge(
    session: Session,
    host: Plugins,
    shipment_id: int,
    actor: Actor,
    reason: str,
    now: datetime | None = None,
) -> PurgeRecord:
    """Delete a shipment's records once every law lets go of them by the legal clock
    (``now``: the instant, UTC, by default this one); refuse it before, or while a legal
    hold stands."""
    if actor.role != Role.ADMIN:
        raise Forbidden("only an administrator may purge records")
    shipment = session.get(Shipment, shipment_id)
    if shipment is None or not actor.may_act_for(shipment.authority_code):
        raise Conflict(f"no shipment {shipment_id} to purge")
    retention = retention_of(host, shipment)
    today = legal_today(shipment, now)
    if retention.holds:
        held = "; ".join(f"{h.kind} {h.reference} (hold {h.id})" for h in retention.holds)
        raise Conflict(f"shipment {shipment_id} is under a legal hold: {held}; nothing was deleted")
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
    history.uncount(session, shipment)
    session.delete(shipment)
    session.flush()
    return record
