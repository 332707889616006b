"""Legal deadlines as rows: opened, met, cancelled, suspended and missed as decisions happen.

A jurisdiction plugin declares each clock of its law as a ``DeadlineRule`` (hook
``caratflow_deadlines_register``): the LAW.md rule it keeps, which action opens it,
which actions meet, cancel, suspend or resume it, how long it runs and when to remind
whom. The core owns the arithmetic (``caratflow.law.calendar.WorkingCalendar`` in the
authority's zone, with its administrator's closure days) and the rows.

A deadline is a row, not a scheduler job: ``keep_deadlines`` runs in every decision's
transaction (a ``ShipmentService`` observer), and ``sweep`` — run by the one periodic
job of ``caratflow.scheduler`` — claims the rows whose ``next_at`` has come, queues
their reminders in the outbox and marks the overdue ones missed, all in one
transaction. A worker that dies mid-sweep leaves nothing half-done.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, object_session

from caratflow.db import once_per_unit_of_work
from caratflow.deadlines.notices import queue_notice
from caratflow.errors import FieldError, InvalidInput, NotFound
from caratflow.law.calendar import WorkingCalendar
from caratflow.ledger.sealing import seal_deadline
from caratflow.models import (
    Authority,
    ClosureDay,
    Deadline,
    DeadlineStatus,
    Event,
    OutboxMessage,
    OutboxStatus,
    Shipment,
    utcnow,
)

if TYPE_CHECKING:
    from caratflow.jurisdiction.contributions import Jurisdiction


from caratflow.jurisdiction.clocks import Anchor, DeadlineRule, Period

WATCHED = (DeadlineStatus.OPEN, DeadlineStatus.SUSPENDED)


@lru_cache(maxsize=128)
def _calendar(
    country: str, zone: str, subdivision: str | None, closure_days: frozenset[date]
) -> WorkingCalendar:
    # One calendar per distinct set of closure days: it caches its years itself.
    return WorkingCalendar(
        country=country, zone=zone, subdivision=subdivision, closure_days=closure_days
    )


def calendar_for(session: Session, authority: Authority | str) -> WorkingCalendar:
    """The authority's working days: its country's holidays and weekend, in its zone, less
    the closure days its administrator added."""
    if isinstance(authority, str):
        found = session.get(Authority, authority)
        if found is None:
            raise NotFound(f"no authority {authority!r}")
        authority = found
    code = authority.code
    days = once_per_unit_of_work(
        session,
        (ClosureDay.__tablename__, code),
        lambda: frozenset(
            session.scalars(select(ClosureDay.day).where(ClosureDay.authority_code == code))
        ),
    )
    return _calendar(authority.country, authority.zone, authority.subdivision, days)


def calendar_of(authority: Authority) -> WorkingCalendar:
    """``calendar_for`` the session the authority was loaded in: what a rule function
    uses (``calendar_of(case.shipment.authority)``) without touching SQL."""
    session = object_session(authority)
    if session is None:
        return _calendar(authority.country, authority.zone, authority.subdivision, frozenset())
    return calendar_for(session, authority)


def add_closure_day(
    session: Session,
    authority: str,
    day: date,
    reason: str,
    actor: str,
    now: datetime | None = None,
) -> list[Deadline]:
    """Close the office on ``day``; the open deadlines counting across it move on by a
    working day. Returns the deadlines that moved."""
    calendar_for(session, authority)  # the authority exists
    if session.get(ClosureDay, (authority, day)) is not None:
        raise InvalidInput([FieldError("day", f"{day} is already a closure day of {authority}")])
    session.add(
        ClosureDay(authority_code=authority, day=day, reason=reason.strip(), added_by=actor)
    )
    session.flush()
    return _reschedule_authority(session, authority, day, now or utcnow())


def remove_closure_day(
    session: Session, authority: str, day: date, now: datetime | None = None
) -> list[Deadline]:
    """Open the office again on ``day``; deadlines counting across it move back."""
    closure = session.get(ClosureDay, (authority, day))
    if closure is None:
        raise NotFound(f"{day} is not a closure day of {authority}")
    session.delete(closure)
    session.flush()
    return _reschedule_authority(session, authority, day, now or utcnow())


def closure_days(session: Session, authority: str) -> list[ClosureDay]:
    query = select(ClosureDay).where(ClosureDay.authority_code == authority)
    return list(session.scalars(query.order_by(ClosureDay.day)))


def _reschedule_authority(
    session: Session, authority: str, day: date, now: datetime
) -> list[Deadline]:
    calendar = calendar_for(session, authority)
    query = select(Deadline).where(
        Deadline.authority_code == authority,
        Deadline.status.in_(WATCHED),
        Deadline.starts_on < day,
    )
    moved = []
    for deadline in session.scalars(query):
        before = deadline.due_on
        _reschedule(session, deadline, calendar, now)
        if deadline.due_on != before:
            moved.append(deadline)
    return moved


def open_deadline(
    session: Session,
    rule: DeadlineRule,
    authority: Authority,
    starts_at: datetime,
    *,
    shipment: Shipment | None = None,
    event: Event | None = None,
    recorded_at: datetime | None = None,
    calendar: WorkingCalendar | None = None,
) -> Deadline:
    """Open a deadline of ``rule`` counting from ``starts_at`` (an aware instant).

    Reminders whose time had passed when it was recorded are skipped, not sent late:
    nobody missed them. A deadline not tied to a shipment (a monthly report) has none.
    """
    calendar = calendar or calendar_for(session, authority)
    recorded_at = recorded_at or utcnow()
    starts_on = calendar.legal_date(starts_at)
    period = rule.period_on(starts_on)
    due_on = period.due_after(calendar, starts_on)
    reminders = sorted((r.as_json() for r in rule.reminders), key=lambda r: -r["before"])
    deadline = Deadline(
        authority_code=authority.code,
        shipment=shipment,
        rule=rule.id,
        basis=rule.basis,
        plugin=rule.plugin,
        period=str(period),
        status=DeadlineStatus.OPEN,
        starts_at=starts_at,
        starts_on=starts_on,
        due_on=due_on,
        due_at=calendar.end_of_day(due_on),
        reminders=reminders,
        escalate_to=list(rule.escalate_to),
        schedule=1,
        suspended_days=0,
        sealed_changes=1,  # its opening, sealed below: no UPDATE to count it
        opened_by_event_id=event.id if event is not None else None,
        created_at=recorded_at,
    )
    deadline.reminders_sent = _reminders_passed(deadline, calendar, recorded_at)
    deadline.next_at = next_at(deadline, calendar)
    session.add(deadline)
    session.flush()
    seal_deadline(session, deadline, counted=True)  # issue 25: every status it takes is sealed
    if rule.notices is not None and shipment is not None and event is not None:
        for notice in rule.notices(shipment, event):
            queue_notice(
                session,
                notice,
                key=f"deadline:{deadline.id}:notice:{notice.audience}",
                authority=authority.code,
                cites=rule.version,
                at=recorded_at,
                shipment_id=shipment.id,
                deadline_id=deadline.id,
            )
    return deadline


def fulfil(deadline: Deadline, at: datetime, event: Event | None = None) -> None:
    """The obligation was met at ``at``: on time (met), or after the due day (missed,
    with ``met_at`` saying when it was made good)."""
    if deadline.met_at is not None or deadline.status is DeadlineStatus.CANCELLED:
        return
    deadline.met_at = at
    closing = deadline.status in WATCHED
    if closing:
        on_time = deadline.status is DeadlineStatus.SUSPENDED or at <= deadline.due_at
        deadline.status = DeadlineStatus.MET if on_time else DeadlineStatus.MISSED
        _close(deadline, at, event, None)
    _seal(deadline)
    if closing:
        _withdraw_reminders(deadline)


def cancel(deadline: Deadline, at: datetime, event: Event | None = None, note: str = "") -> None:
    """The obligation became moot (e.g. the consignment was detained instead)."""
    if deadline.status in WATCHED:
        deadline.status = DeadlineStatus.CANCELLED
        _close(deadline, at, event, note)
        _seal(deadline)
        _withdraw_reminders(deadline)


def suspend(deadline: Deadline, calendar: WorkingCalendar, at: datetime) -> None:
    """Stop the clock (e.g. verification suspended under customs transit, EU Art. 4(3))."""
    if deadline.status is DeadlineStatus.OPEN:
        deadline.status = DeadlineStatus.SUSPENDED
        deadline.suspended_on = calendar.legal_date(at)
        deadline.next_at = None
        _seal(deadline)


def resume(session: Session, deadline: Deadline, calendar: WorkingCalendar, at: datetime) -> None:
    """Restart the clock; the due day moves on by the working days it stood still."""
    if deadline.status is not DeadlineStatus.SUSPENDED or deadline.suspended_on is None:
        return
    lost = calendar.working_days_between(deadline.suspended_on, calendar.legal_date(at))
    deadline.suspended_days += max(lost, 0)
    deadline.suspended_on = None
    deadline.status = DeadlineStatus.OPEN
    _reschedule(session, deadline, calendar, at)
    seal_deadline(session, deadline)


def _seal(deadline: Deadline) -> None:
    session = object_session(deadline)
    if session is not None and deadline.id is not None:
        seal_deadline(session, deadline)


def _close(deadline: Deadline, at: datetime, event: Event | None, note: str | None) -> None:
    deadline.closed_at = at
    deadline.next_at = None
    deadline.note = note or deadline.note
    if event is not None:
        deadline.closed_by_event_id = event.id


def _withdraw_reminders(deadline: Deadline) -> None:
    """A reminder still waiting in the outbox would only confuse now. After the seal, so
    that the clock's change and its count of leaves go out in one UPDATE (issue 28)."""
    session = object_session(deadline)
    if session is not None and deadline.id is not None:
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.deadline_id == deadline.id,
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.kind == "reminder",
            )
            .values(status=OutboxStatus.CANCELLED),
            execution_options={"synchronize_session": False},
        )


def _reschedule(
    session: Session, deadline: Deadline, calendar: WorkingCalendar, now: datetime
) -> None:
    """Recompute the due day (after a suspension or a new closure day) and what's next."""
    due_on = Period.parse(deadline.period).due_after(calendar, deadline.starts_on)
    if deadline.suspended_days:
        due_on = calendar.add_working_days(due_on, deadline.suspended_days)
    if due_on != deadline.due_on:
        deadline.due_on = due_on
        deadline.due_at = calendar.end_of_day(due_on)
        deadline.schedule += 1
        deadline.reminders_sent = _reminders_passed(deadline, calendar, now)
        if deadline.id is not None:
            seal_deadline(session, deadline)
    deadline.next_at = next_at(deadline, calendar)


def reminder_at(deadline: Deadline, calendar: WorkingCalendar, spec: Mapping[str, Any]) -> datetime:
    day = calendar.subtract_working_days(deadline.due_on, int(spec["before"]))
    local = datetime.combine(day, time.fromisoformat(spec["at"]), tzinfo=ZoneInfo(calendar.zone))
    return min(local.astimezone(UTC), deadline.due_at)


def _reminders_passed(deadline: Deadline, calendar: WorkingCalendar, now: datetime) -> int:
    return sum(1 for spec in deadline.reminders if reminder_at(deadline, calendar, spec) <= now)


def next_at(deadline: Deadline, calendar: WorkingCalendar) -> datetime | None:
    if deadline.status is not DeadlineStatus.OPEN:
        return None
    return upcoming(deadline, calendar, deadline.reminders_sent)


def upcoming(deadline: Any, calendar: WorkingCalendar, reminders_sent: int) -> datetime:
    """When an open clock that sent ``reminders_sent`` reminders needs looking at next:
    its next reminder, or the end of its due day."""
    if reminders_sent < len(deadline.reminders):
        return reminder_at(deadline, calendar, deadline.reminders[reminders_sent])
    return deadline.due_at


def keep_deadlines(
    session: Session, shipment: Shipment, event: Event, jurisdiction: Jurisdiction
) -> None:
    """The decision observer: close, cancel, suspend or resume this shipment's deadlines
    as ``event`` requires, then open the ones it starts. Runs in the decision's own
    transaction, so a deadline exists exactly when its decision does."""
    rules = {rule.id: rule for rule in jurisdiction.deadlines}
    if not rules:
        return
    calendar = calendar_for(session, shipment.authority)
    existing = _watched(session, shipment) if event.from_state is not None else []
    at = event.at
    for deadline in existing:
        rule = rules.get(deadline.rule)
        if rule is None:
            continue
        if event.action in rule.met_by:
            fulfil(deadline, at, event)
        elif event.action in rule.cancelled_by:
            cancel(deadline, at, event, f"moot after '{event.action}'")
        elif event.action in rule.suspended_by:
            suspend(deadline, calendar, at)
        elif event.action in rule.resumed_by:
            resume(session, deadline, calendar, at)
    still_running = {d.rule for d in existing if d.status in WATCHED}
    for rule in jurisdiction.deadlines:
        if rule.id not in still_running and rule.opens(shipment, event):
            starts_at = shipment.presented_at if rule.anchor is Anchor.PRESENTATION else at
            open_deadline(
                session,
                rule,
                shipment.authority,
                starts_at,
                shipment=shipment,
                event=event,
                recorded_at=at,
                calendar=calendar,
            )


def _watched(session: Session, shipment: Shipment) -> list[Deadline]:
    """Deadlines a decision may still change: running, or missed and not yet made good.

    Locked and read afresh: a sweep marking one missed meanwhile is waited for and seen,
    not overwritten (on SQLite the decision already holds the write lock)."""
    query = select(Deadline).where(
        Deadline.shipment_id == shipment.id,
        or_(
            Deadline.status.in_(WATCHED),
            (Deadline.status == DeadlineStatus.MISSED) & Deadline.met_at.is_(None),
        ),
    )
    query = query.order_by(Deadline.id).with_for_update()
    return list(session.scalars(query.execution_options(populate_existing=True)))


def deadline_of(shipment: Shipment, rule_id: str) -> Deadline | None:
    """The shipment's latest deadline of ``rule_id``, for a rule function to read."""
    session = object_session(shipment)
    if session is None or shipment.id is None:
        return None
    query = select(Deadline).where(Deadline.shipment_id == shipment.id, Deadline.rule == rule_id)
    return session.scalars(query.order_by(Deadline.id.desc()).limit(1)).first()
