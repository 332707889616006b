"""The sweep: claim the deadlines whose ``next_at`` has come (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), queue their reminders in the outbox, mark the overdue ones missed and
escalate, all in one transaction; any number of workers may run it at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from caratflow.db import unit_of_work
from caratflow.deadlines.keeping import calendar_for, fulfil, reminder_at, upcoming
from caratflow.deadlines.outbox import LATE_AFTER, addresses, claim, outbox_rows, write_outbox
from caratflow.law.calendar import WorkingCalendar
from caratflow.ledger.sealing import seal_deadlines
from caratflow.models import (
    Deadline,
    DeadlineStatus,
    OutboxMessage,
    OutboxStatus,
    utcnow,
)


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
    After the claim, a handful of statements whatever the number claimed (issue 28): the
    claimed rows read as rows, their reminders and escalations in one INSERT (each key
    once ever: exactly once), their new state in one UPDATE, the missed ones' leaves in
    one INSERT.
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
    table = Deadline.__table__
    rows = session.execute(select(table).where(table.c.id.in_(claimed))).all()
    calendars: dict[str, WorkingCalendar] = {}
    found: dict[tuple[str, str], list[str]] = {}
    messages: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    for row in rows:
        code = row.authority_code
        calendar = calendars.get(code) or calendars.setdefault(code, calendar_for(session, code))

        def reach(audience: str, code: str = code) -> list[str]:
            key = (code, audience)
            return found.get(key) or found.setdefault(key, addresses(session, code, audience))

        changes.append(_advance(row, calendar, now, late_after, messages, reach))
    written = write_outbox(session, messages)
    result.reminders = written.count("reminder")
    session.execute(
        update(table)
        .where(table.c.id == bindparam("deadline_id"))
        .values({name: bindparam(name) for name in _CHANGED}),
        changes,
    )
    missed = [{**row._asdict(), **change} for row, change in zip(rows, changes, strict=True)]
    missed = [row for row in missed if row["status"] is DeadlineStatus.MISSED]
    seal_deadlines(session, missed)  # issue 25
    result.missed = len(missed)
    for held in list(session.identity_map.values()):  # the session's copies are stale now
        if isinstance(held, Deadline) and held.id in claimed:
            session.expire(held)
    return result


_CHANGED = ("reminders_sent", "next_at", "status", "closed_at", "sealed_changes")


def _advance(
    deadline: Row[Any],
    calendar: WorkingCalendar,
    now: datetime,
    late_after: timedelta,
    messages: list[dict[str, Any]],
    reach: Callable[[str], list[str]],
) -> dict[str, Any]:
    """Queue the claimed clock's reminders that have come and, when its due day is over,
    its escalations; return its new state (``_CHANGED``)."""
    sent = deadline.reminders_sent
    while sent < len(deadline.reminders):
        spec = deadline.reminders[sent]
        at = reminder_at(deadline, calendar, spec)
        if at > now:
            break
        messages += _notices(
            deadline,
            calendar,
            key=f"deadline:{deadline.id}:s{deadline.schedule}:reminder:{sent}",
            kind="reminder",
            audience=spec["audience"],
            scheduled_for=at,
            late=now - at > late_after,
            to=reach(spec["audience"]),
        )
        sent += 1
    change = {
        "deadline_id": deadline.id,
        "reminders_sent": sent,
        "next_at": upcoming(deadline, calendar, sent),
        "status": deadline.status,
        "closed_at": deadline.closed_at,
        "sealed_changes": deadline.sealed_changes,
    }
    if deadline.due_at < now:
        change |= {"status": DeadlineStatus.MISSED, "closed_at": now, "next_at": None}
        change["sealed_changes"] += 1
        for audience in deadline.escalate_to:
            messages += _notices(
                deadline,
                calendar,
                key=f"deadline:{deadline.id}:missed",
                kind="escalation",
                audience=audience,
                scheduled_for=deadline.due_at,
                late=now - deadline.due_at > late_after,
                to=reach(audience),
            )
    return change


def _notices(
    deadline: Row[Any],
    calendar: WorkingCalendar,
    *,
    key: str,
    kind: str,
    audience: str,
    scheduled_for: datetime,
    late: bool,
    to: Sequence[str],
) -> list[dict[str, Any]]:
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
    return outbox_rows(
        f"{key}:{audience}",
        deadline.authority_code,
        audience,
        to,
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
