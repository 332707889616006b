"""A decision and the sweep on the same deadline at the same moment: no lost update.

The sweep claims due deadlines row by row (``FOR UPDATE SKIP LOCKED``) while decisions
close the deadlines of their shipment. Here the interleaving is forced: the sweep runs,
in its own transaction, between the moment a detention has read its shipment's deadline
and the moment it cancels it. Whatever the order, the outcome must be one that the two
taken one after the other could give: either the deadline was missed (and its
escalation sent) before the detention, or it was cancelled by the detention (and never
escalated). The detention locks the rows it read, so only the second can happen.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from caratflow.db import unit_of_work
from caratflow.deadlines import keeping, sweep
from caratflow.models import Deadline, OutboxMessage
from caratflow.testing.payloads import shipment_payload

# On PostgreSQL (the stress suite's own, private_runtime): SQLite has one writer, so no
# such interleaving can happen there.


def presented_a_month_ago() -> dict:
    today = datetime.now(UTC)
    return shipment_payload(
        **{
            "presented_at": (today - timedelta(days=30)).isoformat(),
            "certificate.issued_on": (today - timedelta(days=40)).date().isoformat(),
            "certificate.expires_on": (today + timedelta(days=30)).date().isoformat(),
        }
    )


def confirmation(runtime, shipment_id: int) -> tuple[str, int]:
    """The status of the shipment's confirmation clock, and the escalations it caused."""
    with runtime.sessions() as session:
        deadline = session.scalars(
            select(Deadline).where(
                Deadline.shipment_id == shipment_id, Deadline.rule == "eu.confirm.10_days"
            )
        ).one()
        escalations = select(func.count()).where(
            OutboxMessage.deadline_id == deadline.id, OutboxMessage.kind == "escalation"
        )
        return str(deadline.status), session.scalar(escalations) or 0


def test_a_detention_racing_the_sweep_leaves_the_deadline_as_one_of_them_after_the_other(
    private_runtime, officer, monkeypatch
):
    rt = private_runtime
    with unit_of_work(rt.sessions) as session:
        shipment_id = rt.shipments.present(session, presented_a_month_ago(), officer).shipment.id
    assert confirmation(rt, shipment_id) == ("open", 0), "overdue, not yet swept"

    cancel = keeping.cancel
    swept = []

    def cancel_after_a_sweep(deadline, *args, **kwargs):
        swept.append(sweep.sweep_due(rt.sessions))  # its own transaction, committed
        cancel(deadline, *args, **kwargs)

    monkeypatch.setattr(keeping, "cancel", cancel_after_a_sweep)
    with unit_of_work(rt.sessions) as session:
        rt.shipments.act(session, shipment_id, "hold", officer, reason="seal S-991 broken")
    # The detention holds the deadline's row from the moment it read it: the sweep that
    # ran in between skipped it (SKIP LOCKED) instead of escalating what is then cancelled.
    assert swept and swept[0].missed == 0, "the sweep ran in between and left the row alone"
    assert confirmation(rt, shipment_id) == ("cancelled", 0)
    assert sweep.sweep_due(rt.sessions).missed == 0  # and nothing is escalated later
