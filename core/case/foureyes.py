"""Four eyes: decisions an authority wants confirmed by a second officer.

An authority lists in its settings which of ``FOUR_EYES_ACTIONS`` one officer may only
*request*; the decision is taken when a different officer confirms it, and is recorded
with both names. ``ShipmentService`` enforces it, calling this module (never the
reverse), so neither the API, a forged form nor the CLI can take such a decision alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caratflow.case.access import FOUR_EYES_ACTIONS
from caratflow.db import once_per_unit_of_work
from caratflow.errors import (
    CaratflowError,
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
)
from caratflow.models import AuthoritySetting, PendingDecision, Role, Shipment, utcnow
from caratflow.types import jsonable

if TYPE_CHECKING:
    from caratflow.case.access import Actor

OPEN, CONFIRMED, WITHDRAWN, SUPERSEDED = "open", "confirmed", "withdrawn", "superseded"
# The inputs' key under which a decision records who asked and who confirmed: the
# server's alone (issue 21: an officer sending it could sign as a colleague).
ATTRIBUTION = "four_eyes"


class SecondOfficerRequired(CaratflowError):
    """The authority wants a second officer to confirm this decision."""

    status = 409

    def __init__(self, action: str, authority: str):
        self.action = action
        super().__init__(
            f"at {authority}, '{action}' is confirmed by a second officer: request it, "
            "then another officer confirms it"
        )


def four_eyes_actions(session: Session, authority_code: str) -> frozenset[str]:
    """The decisions the authority wants four eyes on; read once per unit of work."""

    def load() -> frozenset[str]:
        setting = session.get(AuthoritySetting, authority_code)
        return frozenset(setting.four_eyes) if setting is not None else frozenset()

    return once_per_unit_of_work(session, (AuthoritySetting.__tablename__, authority_code), load)


def set_four_eyes(session: Session, authority_code: str, actions: list[str], by: str) -> None:
    """Choose the authority's four-eyes decisions (callers check the administrator)."""
    unknown = sorted(set(actions) - set(FOUR_EYES_ACTIONS))
    if unknown:
        allowed = ", ".join(FOUR_EYES_ACTIONS)
        raise InvalidInput([FieldError("four_eyes", f"{', '.join(unknown)}: not one of {allowed}")])
    setting = session.get(AuthoritySetting, authority_code)
    if setting is None:
        setting = AuthoritySetting(authority_code=authority_code)
        session.add(setting)
    setting.four_eyes = sorted(set(actions))
    setting.changed_by = by
    session.flush()


def open_requests(session: Session, shipment: Shipment) -> list[PendingDecision]:
    query = select(PendingDecision).where(
        PendingDecision.shipment_id == shipment.id, PendingDecision.status == OPEN
    )
    return list(session.scalars(query.order_by(PendingDecision.id)))


# -- called by ShipmentService.act --------------------------------------------------------


def take_open_request(
    session: Session, shipment: Shipment, action: str, actor: Actor
) -> PendingDecision | None:
    """The colleague's request this decision confirms, or ``None`` (nothing to confirm).

    Marks it confirmed in the caller's transaction: it stands or falls with the decision.
    """
    if action not in four_eyes_actions(session, shipment.authority_code):
        return None
    current = [
        r
        for r in open_requests(session, shipment)
        if r.action == action and r.shipment_version == shipment.version
    ]
    if not current:
        return None
    request = current[0]
    if request.requested_by == actor.name:
        raise Conflict(f"'{action}' waits for a second officer; you cannot confirm your own")
    request.status, request.closed_by, request.closed_at = CONFIRMED, actor.name, utcnow()
    return request


def refuse_client_attribution(inputs: Mapping[str, Any] | None) -> None:
    """Who asked and who confirmed is set from the signed-in officers, never sent."""
    if inputs and ATTRIBUTION in inputs:
        raise InvalidInput(
            [FieldError(f"inputs.{ATTRIBUTION}", "is set by the server, never sent")]
        )


def confirmed_inputs(request: PendingDecision) -> dict[str, Any]:
    """The request's inputs, plus who asked and who confirmed, as the decision records them."""
    return {
        **request.inputs,
        ATTRIBUTION: {
            "requested_by": request.requested_by,
            "requested_at": request.requested_at.isoformat(),
            "confirmed_by": request.closed_by,
        },
    }


def refuse_single_officer(session: Session, shipment: Shipment, action: str) -> None:
    if action in four_eyes_actions(session, shipment.authority_code):
        raise SecondOfficerRequired(action, shipment.authority_code)


def record_request(
    session: Session,
    shipment: Shipment,
    action: str,
    actor: Actor,
    reason: str | None,
    inputs: Mapping[str, Any] | None,
) -> PendingDecision:
    """Record ``actor``'s request for a second officer's ``action``; an earlier open
    request for the same action is superseded by it."""
    for earlier in open_requests(session, shipment):
        if earlier.action == action:
            earlier.status, earlier.closed_by, earlier.closed_at = SUPERSEDED, actor.name, utcnow()
    request = PendingDecision(
        shipment_id=shipment.id,
        action=action,
        reason=(reason or "").strip() or None,
        inputs=jsonable(dict(inputs or {})),
        shipment_version=shipment.version,
        requested_by=actor.name,
    )
    session.add(request)
    session.flush()
    return request


def open_request(session: Session, request_id: int) -> PendingDecision:
    """The open request ``request_id`` (the caller checks the shipment is visible)."""
    request = session.get(PendingDecision, request_id)
    if request is None:
        raise NotFound(f"no request {request_id}")
    if request.status != OPEN:
        raise Conflict(f"request {request_id} is {request.status} already")
    return request


def withdraw(session: Session, request: PendingDecision, actor: Actor) -> PendingDecision:
    """The requester (or a supervisor) withdraws an open request."""
    if actor.name != request.requested_by and actor.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise Forbidden("only the requester or a supervisor may withdraw a request")
    request.status, request.closed_by, request.closed_at = WITHDRAWN, actor.name, utcnow()
    session.flush()
    return request
