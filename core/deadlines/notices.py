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

from caratflow.deadlines.outbox import enqueue
from caratflow.models import Event, Shipment

if TYPE_CHECKING:
    from caratflow.jurisdiction.contributions import Jurisdiction
    from caratflow.law.rules import RuleVersion


from caratflow.jurisdiction.notices import Notice

NOTICE = "notice"  # the outbox kind of every notice


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
    belongs to a deadline meets it once delivered."""
    return enqueue(
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
    )
