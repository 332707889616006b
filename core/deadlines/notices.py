"""Messages the law makes the authority send, queued in the outbox with the decision.

Some decisions oblige the authority to tell someone else: the import confirmation to
the authority that validated the certificate (EU Art. 8), the permit granted and a
suspected offence to customs (Norway §12). A plugin declares each as a ``NoticeRule``
(hook ``caratflow_notices_register``): which decision sends it, to which audience, with
which text and data. ``send_notices`` — a ``ShipmentService`` observer — queues them in
the decision's own transaction, so a decision and its notices are written together or
not at all, and the outbox delivers them with retries.

A notice that must go out within a period belongs to a deadline instead
(``caratflow.deadlines.DeadlineRule.notices``), whose reminders keep asking for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from caratflow.deadlines.outbox import configured, enqueue, reachable
from caratflow.jurisdiction.clocks import SUPERVISORS
from caratflow.models import Event, OutboxStatus, Shipment

if TYPE_CHECKING:
    from caratflow.jurisdiction.contributions import Jurisdiction
    from caratflow.law.rules import RuleVersion


from caratflow.jurisdiction.notices import Notice

NOTICE = "notice"  # the outbox kind of every notice
UNDELIVERABLE_ALERT = "undeliverable"  # what the supervisors get when a notice cannot go


def send_notices(
    session: Session, shipment: Shipment, event: Event, jurisdiction: Jurisdiction
) -> None:
    """The decision observer (wired in ``Runtime.assemble``): queue what the law says to send."""
    for rule in jurisdiction.notices:
        if rule.sends(shipment, event):
            for notice in rule.notices(shipment, event):
                queue_notice(
                    session,
                    notice,
                    key=f"event:{event.id}:{rule.id}:{notice.audience}",
                    authority=shipment.authority_code,
                    cites=rule.version,
                    at=event.at,
                    shipment_id=shipment.id,
                )


def queue_notice(
    session: Session,
    notice: Notice,
    *,
    key: str,
    authority: str,
    cites: RuleVersion,
    at: datetime,
    shipment_id: int | None = None,
    deadline_id: int | None = None,
) -> int:
    """Queue ``notice`` for delivery, naming the rule and basis that require it; one that
    belongs to a deadline meets it once delivered.

    Where the directory has no addressee for its audience that anyone reads (``log:`` is
    for development only), the notice is not sent and never counts as sent (issue 24):
    it is kept ``undeliverable`` and the authority's supervisors are told at once;
    adding an addressee sends it."""
    to = [a for a in configured(session, authority, notice.audience) if reachable(a)]
    missing = None if to else f"no addressee for {notice.audience} in {authority}'s directory"
    queued = enqueue(
        session,
        key=key,
        authority=authority,
        audience=notice.audience,
        kind=NOTICE,
        subject=notice.subject,
        body=notice.body,
        data={**notice.data, "rule": cites.id, "basis": cites.basis},
        scheduled_for=at,
        shipment_id=shipment_id,
        deadline_id=deadline_id,
        fulfils_deadline=deadline_id is not None,
        to=to or [""],
        status=OutboxStatus.PENDING if to else OutboxStatus.UNDELIVERABLE,
        last_error=missing,
    )
    if missing and queued:
        enqueue(
            session,
            key=f"{key}:undeliverable",
            authority=authority,
            audience=SUPERVISORS,
            kind=UNDELIVERABLE_ALERT,
            subject=f"Undeliverable: {notice.subject}",
            body=(
                f"The notice below, required by {cites.id} ({cites.basis}), cannot be sent: "
                f"{missing}. Add one (caratflow directory add {authority} {notice.audience} "
                "ADDRESS, or the directory page); it goes out then.\n\n" + notice.body
            ),
            data={"rule": cites.id, "basis": cites.basis, "audience": notice.audience},
            scheduled_for=at,
            shipment_id=shipment_id,
            deadline_id=deadline_id,
        )
    return queued
