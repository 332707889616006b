"""An officer's work (issue 26): what waits for a decision of theirs, the four-eyes
requests a colleague made, the held cases, and who is on which case.

A claim says "I am on this case" to colleagues; it is never a lock on the law: anyone
the law and the duties let decide still may, and a colleague may take a claim over.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from caratflow.case import access
from caratflow.case.access import Actor, Permission
from caratflow.jurisdiction.contributions import Plugins
from caratflow.jurisdiction.workflow import Workflow
from caratflow.models import CaseClaim, Event, PendingDecision, Shipment, utcnow

HELD = "held"
MAX_LISTED = 100  # each list of the page; the counts say when there are more


@dataclass(frozen=True)
class Request:
    """A four-eyes request another officer made that this one may confirm."""

    request: PendingDecision
    shipment: Shipment


@dataclass(frozen=True)
class Held:
    shipment: Shipment
    since: datetime  # the decision that held it


def awaiting_my_decision(session: Session, host: Plugins, actor: Actor) -> list[Shipment]:
    """Shipments under control (neither held nor in a final state) where this officer may
    take a decision their duty is for: where an authority splits the decisions between
    bodies, what only another body decides (and what every body may do, such as a
    detention) does not count."""
    if not access.may(actor, Permission.DECIDE):
        return []
    states = host.jurisdiction(host.plugin_names).workflow.states
    settled = sorted({HELD, *(name for name, state in states.items() if state.terminal)})
    query = _within(select(Shipment).where(Shipment.state.notin_(settled)), actor)
    rows = session.scalars(query.options(joinedload(Shipment.authority)).order_by(Shipment.id))
    return [s for s in rows if _mine(host.jurisdiction(s.authority.plugins).workflow, s, actor)][
        :MAX_LISTED
    ]


def _mine(workflow: Workflow, shipment: Shipment, actor: Actor) -> bool:
    every = set(workflow.duties)
    for transition in access.actions_for(workflow, shipment, actor):
        reserved = {d.code for d in workflow.duties_for(transition.action)}
        if not every or (reserved and reserved != every):
            return True
    return False


def requests_for_me(session: Session, host: Plugins, actor: Actor) -> list[Request]:
    """Open four-eyes requests of the actor's authorities made by someone else, on the
    version the requester saw, for an action the actor may take."""
    if not access.may(actor, Permission.DECIDE):
        return []
    query = (
        select(PendingDecision, Shipment)
        .join(Shipment, Shipment.id == PendingDecision.shipment_id)
        .where(PendingDecision.status == "open", PendingDecision.requested_by != actor.name)
        .where(PendingDecision.shipment_version == Shipment.version)
        .options(joinedload(Shipment.authority))
        .order_by(PendingDecision.requested_at)
    )
    found = []
    for request, shipment in session.execute(_within(query, actor)):
        workflow = host.jurisdiction(shipment.authority.plugins).workflow
        if request.action in {t.action for t in access.actions_for(workflow, shipment, actor)}:
            found.append(Request(request, shipment))
    return found[:MAX_LISTED]


def held_cases(session: Session, actor: Actor) -> list[Held]:
    """Held shipments of the actor's authorities, longest held first."""
    held_at = (
        select(Event.shipment_id, Event.at)
        .where(Event.to_state == HELD)
        .order_by(Event.shipment_id, Event.at)
    )
    query = _within(select(Shipment).where(Shipment.state == HELD), actor)
    shipments = {s.id: s for s in session.scalars(query.options(joinedload(Shipment.authority)))}
    since: dict[int, datetime] = {}
    if shipments:
        for shipment_id, at in session.execute(
            held_at.where(Event.shipment_id.in_(list(shipments)))
        ):
            since[shipment_id] = at  # the latest hold, as the events are ordered
    return sorted(
        (Held(s, since.get(s.id, s.presented_at)) for s in shipments.values()),
        key=lambda h: h.since,
    )


# -- claims -----------------------------------------------------------------------------


def claims_on(session: Session, shipment_ids: Iterable[int]) -> dict[int, CaseClaim]:
    ids = sorted(set(shipment_ids))
    if not ids:
        return {}
    rows = session.scalars(select(CaseClaim).where(CaseClaim.shipment_id.in_(ids)))
    return {claim.shipment_id: claim for claim in rows}


def my_claims(session: Session, actor: Actor) -> list[Shipment]:
    query = _within(
        select(Shipment)
        .join(CaseClaim, CaseClaim.shipment_id == Shipment.id)
        .where(CaseClaim.claimed_by == actor.name),
        actor,
    )
    return list(session.scalars(query.order_by(CaseClaim.claimed_at)))[:MAX_LISTED]


def claim(session: Session, shipment: Shipment, actor: Actor) -> CaseClaim:
    """The actor is on this case now; a colleague's claim passes to them, openly."""
    access.require(actor, Permission.DECIDE)
    found = session.get(CaseClaim, shipment.id)
    if found is None:
        found = CaseClaim(shipment_id=shipment.id, claimed_by=actor.name)
        session.add(found)
    else:
        found.claimed_by, found.claimed_at = actor.name, utcnow()
    session.flush()
    return found


def release(session: Session, shipment: Shipment, actor: Actor) -> None:
    """Nobody is on this case any more (the actor's own claim, or a colleague's)."""
    access.require(actor, Permission.DECIDE)
    found = session.get(CaseClaim, shipment.id)
    if found is not None:
        session.delete(found)
        session.flush()


def _within(query, actor: Actor):  # type: ignore[no-untyped-def]
    if actor.authorities is not None:
        query = query.where(Shipment.authority_code.in_(sorted(actor.authorities)))
    return query
