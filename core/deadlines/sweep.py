"""The sweep: claim the deadlines whose ``next_at`` has come (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), queue their reminders in the outbox, mark the overdue ones missed and
escalate, all in one transaction; any number of workers may run it at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from caratflow.db import unit_of_work
from caratflow.deadlines.outbox import LATE_AFTER, addresses, claim, enqueue
from caratflow.law.calendar import WorkingCalendar
from caratflow.ledger.sealing import seal_deadline
from caratflow.models import (
    Deadline,
    DeadlineStatus,
    OutboxMessage,
    OutboxStatus,
    utcnow,
)

if TYPE_CHECKING:
    pass


from caratflow.deadlines.keeping import calendar_for, fulfil, next_at, reminder_at


def message_sent(session: Session, message: OutboxMessage, at: datetime) -> None:
    """Called by the dispatcher after a delivery: a deadline whose notices have all gone
    to a real address is met."""
    if not message.fulfils_deadline or message.deadline_id is None:
        return
    # Lock the deadline first: two workers delivering its two notices at once then
    # take turns, and the second sees the first one's delivery.
    deadline = session.get(Deadline, message.deadline_id, with_for_update=True)
    waiting = session.scalar(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.deadline_id == message.deadline_id,
            OutboxMessage.fulfils_deadline.is_(True),
            or_(OutboxMessage.status != OutboxStatus.SENT, OutboxMessage.address.like("log:%")),
        )
        .limit(1)
    )
    if waiting is None and deadline is not None:
        fulfil(deadline, at)


@dataclass
class SweepResult:
    deadlines: int = 0
    reminders: int = 0
    missed: int = 0

    def __iadd__(self, other: SweepResult) -> SweepResult:
        self.deadlines += other.deadlines
        self.reminders += other.reminders
        self.missed += other.missed
        return self


def sweep(
    session: Session,
    now: datetime | None = None,
    limit: int = 200,
    late_after: timedelta = LATE_AFTER,
) -> SweepResult:
    """Claim up to ``limit`` open deadlines whose ``next_at`` has come and act on them:
    queue their reminders, mark the overdue ones missed and escalate. One transaction
    (the caller's); rows another worker holds are skipped, not waited for.

    The claim is an UPDATE, so on SQLite it takes the write lock first and a second
    worker waits its turn; on PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets any number run.
    """
    now = now or utcnow()
    due = (
        select(Deadline.id)
        .where(Deadline.status == DeadlineStatus.OPEN, Deadline.next_at <= now)
        .order_by(Deadline.next_at)
        .limit(limit)
    )
    claimed = claim(session, Deadline.__table__.c.id, due)
    result = SweepResult(deadlines=len(claimed))
    if not claimed:
        return result
    calendars: dict[str, WorkingCalendar] = {}
    found: dict[tuple[str, str], list[str]] = {}

    def reach(authority: str, audience: str) -> list[str]:
        key = (authority, audience)
        return found.get(key) or found.setdefault(key, addresses(session, authority, audience))

    rows = session.scalars(select(Deadline).where(Deadline.id.in_(claimed)))
    for deadline in rows:
        code = deadline.authority_code
        calendar = calendars.get(code) or calendars.setdefault(code, calendar_for(session, code))
        _advance(session, deadline, calendar, now, late_after, result, reach)
    session.flush()
    return result


def _advance(
    session: Session,
    deadline: Deadline,
    calendar: WorkingCalendar,
    now: datetime,
    late_after: timedelta,
    result: SweepResult,
    reach: Callable[[str, str], list[str]],
) -> None:
    while deadline.reminders_sent < len(deadline.reminders):
        spec = deadline.reminders[deadline.reminders_sent]
        at = reminder_at(deadline, calendar, spec)
        if at > now:
            break
        index = deadline.reminders_sent
        result.reminders += _notify(
            session,
            deadline,
            calendar,
            key=f"deadline:{deadline.id}:s{deadline.schedule}:reminder:{index}",
            kind="reminder",
            audience=spec["audience"],
            scheduled_for=at,
            late=now - at > late_after,
            to=reach(deadline.authority_code, spec["audience"]),
        )
        deadline.reminders_sent += 1
    if deadline.due_at < now:
        deadline.status = DeadlineStatus.MISSED
        deadline.closed_at = now
        seal_deadline(session, deadline)  # issue 25
        result.missed += 1
        for audience in deadline.escalate_to:
            _notify(
                session,
                deadline,
                calendar,
                key=f"deadline:{deadline.id}:missed",
                kind="escalation",
                audience=audience,
                scheduled_for=deadline.due_at,
                late=now - deadline.due_at > late_after,
                to=reach(deadline.authority_code, audience),
            )
    deadline.next_at = next_at(deadline, calendar)


def _notify(
    session: Session,
    deadline: Deadline,
    calendar: WorkingCalendar,
    *,
    key: str,
    kind: str,
    audience: str,
    scheduled_for: datetime,
    late: bool,
    to: Sequence[str],
) -> int:
    today = calendar.legal_date(scheduled_for)
    left = calendar.working_days_between(today, deadline.due_on)
    what = f"{deadline.rule} ({deadline.basis})"
    about = f"shipment {deadline.shipment_id}" if deadline.shipment_id else deadline.authority_code
    if kind == "escalation":
        subject = f"Missed: {what} for {about} was due {deadline.due_on:%A %d %B %Y}"
    elif left <= 0:
        subject = f"Due today: {what} for {about}"
    else:
        subject = f"Due in {left} working day{'s' * (left != 1)}: {what} for {about}"
    body = (
        f"{subject}.\n\nRule: {deadline.rule}\nBasis: {deadline.basis}\n"
        f"Period: {deadline.period} from {deadline.starts_on:%A %d %B %Y}\n"
        f"Due: end of {deadline.due_on:%A %d %B %Y} ({calendar.zone})\n"
    )
    return enqueue(
        session,
        key=f"{key}:{audience}",
        authority=deadline.authority_code,
        audience=audience,
        kind=kind,
        subject=subject,
        body=body,
        data={
            "deadline": deadline.id,
            "rule": deadline.rule,
            "basis": deadline.basis,
            "due_on": deadline.due_on.isoformat(),
            "working_days_left": left,
        },
        scheduled_for=scheduled_for,
        late=late,
        shipment_id=deadline.shipment_id,
        deadline_id=deadline.id,
        to=to,
    )


def sweep_due(
    sessions: sessionmaker[Session],
    now: datetime | None = None,
    batch: int = 200,
    late_after: timedelta = LATE_AFTER,
) -> SweepResult:
    """Sweep in batches, one transaction each, until nothing is due."""
    total = SweepResult()
    while True:
        with unit_of_work(sessions) as session:
            result = sweep(session, now or utcnow(), batch, late_after)
        total += result
        if result.deadlines < batch:
            return total
