"""Legal deadlines as rows: opened, met, cancelled, suspended and missed as decisions happen.

A jurisdiction plugin declares each clock of its law as a ``DeadlineRule`` (hook
``caratflow_deadlines_register``): the LAW.md rule it keeps, which action opens it,
which actions meet, cancel, suspend or resume it, how long it runs and when to remind
whom. The core owns the arithmetic (``caratflow.calendar.WorkingCalendar`` in the
authority's zone, with its administrator's closure days) and the rows.

A deadline is a row, not a scheduler job: ``keep_deadlines`` runs in every decision's
transaction (a ``ShipmentService`` observer), and ``sweep`` — run by the one periodic
job of ``caratflow.scheduler`` — claims the rows whose ``next_at`` has come, queues
their reminders in the outbox and marks the overdue ones missed, all in one
transaction. A worker that dies mid-sweep leaves nothing half-done.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, object_session, sessionmaker

from caratflow.calendar import WorkingCalendar
from caratflow.db import unit_of_work
from caratflow.errors import FieldError, InvalidInput, NotFound
from caratflow.law import Cites
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
from caratflow.notices import NoticeMaker, answers, queue_notice
from caratflow.outbox import LATE_AFTER, addresses, claim, enqueue

if TYPE_CHECKING:
    from caratflow.law import DatedParameters, RuleBook, RuleVersion
    from caratflow.pluginhost import Jurisdiction

OFFICERS = "officers"
SUPERVISORS = "supervisors"

WATCHED = (DeadlineStatus.OPEN, DeadlineStatus.SUSPENDED)


# -- periods ----------------------------------------------------------------------------


class Unit(StrEnum):
    WORKING_DAYS = "working days"
    CALENDAR_DAYS = "calendar days"
    MONTHS = "months"


_PERIOD = re.compile(
    r"^\s*(\d+)\s+(working days?|calendar days?|days?|(?:calendar )?months?)\s*$", re.I
)


@dataclass(frozen=True)
class Period:
    """How long a legal clock runs: "10 working days", "1 month", "30 calendar days".

    Counted from the event's local date (day 0, whatever the hour). A period that ends
    on a closed day ends on the next working day (as Reg. (EEC, Euratom) 1182/71
    Art. 3(4) has it for periods of the Union's law), so a due date is always a day
    the office is open.
    """

    count: int
    unit: Unit

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.match(text)
        if not match:
            raise ValueError(
                f"unreadable period {text!r}: expected e.g. '10 working days', '1 month', "
                "'30 calendar days'"
            )
        count, word = int(match[1]), match[2].lower()
        unit = (
            Unit.WORKING_DAYS
            if word.startswith("working")
            else Unit.MONTHS
            if "month" in word
            else Unit.CALENDAR_DAYS
        )
        return cls(count, unit)

    def __str__(self) -> str:
        singular = {"working days": "working day", "calendar days": "calendar day"}
        word = str(self.unit) if self.count != 1 else singular.get(self.unit, "month")
        return f"{self.count} {word}"

    def due_after(self, calendar: WorkingCalendar, start: date) -> date:
        """The last day of the period that starts on ``start`` (day 0)."""
        if self.unit is Unit.WORKING_DAYS:
            return calendar.add_working_days(start, self.count)
        end = (
            calendar.months_after(start, self.count)
            if self.unit is Unit.MONTHS
            else start + timedelta(days=self.count)
        )
        return calendar.add_working_days(end, 0)

    def latest_before(self, calendar: WorkingCalendar, day: date) -> date:
        """The last date on which something due "at least <period> before ``day``" is on
        time (e.g. an advance notice before dispatch)."""
        if self.unit is Unit.WORKING_DAYS:
            return calendar.subtract_working_days(day, self.count)
        if self.unit is Unit.MONTHS:
            return calendar.months_after(day, -self.count)
        return day - timedelta(days=self.count)


@dataclass(frozen=True)
class DatedPeriod:
    """A period kept as a dated legal parameter (``value = "10 working days"``), so a
    change of law adds a dated value and past cases keep theirs."""

    parameters: DatedParameters
    name: str

    def __call__(self, on: date) -> Period:
        return Period.parse(self.parameters.value(self.name, on))

    def source(self, on: date) -> str:
        return str(self.parameters.entry(self.name, on)["source"])


# -- declarations ---------------------------------------------------------------------


class Anchor(StrEnum):
    """The instant a clock starts from."""

    PRESENTATION = "presentation"  # the shipment's presentation (e.g. EU Art. 5(1)(a))
    DECISION = "decision"  # the decision that opens it (e.g. a detention, Art. 5(3))


@dataclass(frozen=True)
class Reminder:
    """Remind ``audience`` ``before`` working days before the due day (0: on the day),
    at ``at`` local time."""

    before: int
    audience: str = OFFICERS
    at: time = time(8, 0)

    def as_json(self) -> dict[str, Any]:
        return {"before": self.before, "audience": self.audience, "at": self.at.isoformat()}


@dataclass(frozen=True)
class DeadlineRule(Cites):
    """One legal clock, declared by a plugin as data.

    ``period`` is a ``Period`` or, for a period kept as a dated parameter, a function of
    the legal date giving one. ``goods`` and ``directions`` of ``None`` mean "all";
    ``when`` narrows further. ``notices`` are queued when the deadline opens and meet
    it once delivered.
    """

    version: RuleVersion
    plugin: str
    opened_by: frozenset[str]
    period: Period | Callable[[date], Period]
    anchor: Anchor = Anchor.DECISION
    met_by: frozenset[str] = frozenset()
    cancelled_by: frozenset[str] = frozenset()
    suspended_by: frozenset[str] = frozenset()
    resumed_by: frozenset[str] = frozenset()
    reminders: tuple[Reminder, ...] = ()
    escalate_to: tuple[str, ...] = (SUPERVISORS,)
    goods: frozenset[str] | None = None
    directions: frozenset[str] | None = None
    when: Callable[[Shipment, Event], bool] | None = None
    notices: NoticeMaker | None = None

    def period_on(self, day: date) -> Period:
        return self.period if isinstance(self.period, Period) else self.period(day)

    def opens(self, shipment: Shipment, event: Event) -> bool:
        return answers(self, self.opened_by, shipment, event)


def declare(
    book: RuleBook,
    rule_id: str,
    *,
    opened_by: Iterable[str],
    period: Period | Callable[[date], Period],
    label: str = "original",
    met_by: Iterable[str] = (),
    cancelled_by: Iterable[str] = (),
    suspended_by: Iterable[str] = (),
    resumed_by: Iterable[str] = (),
    goods: Iterable[str] | None = None,
    directions: Iterable[str] | None = None,
    **options: Any,
) -> DeadlineRule:
    """A ``DeadlineRule`` whose legal text (id, basis, dates) is the ``[[rule]]`` of
    ``rules.toml`` that ``book`` reads, like a rule function's."""
    versions = [v for v in book.versions if (v.id, v.label) == (rule_id, label)]
    if not versions:
        raise LookupError(f"{book.plugin}: deadline {rule_id!r} ({label}) is not in rules.toml")
    return DeadlineRule(
        version=versions[0],
        plugin=book.plugin,
        opened_by=frozenset(opened_by),
        period=period,
        met_by=frozenset(met_by),
        cancelled_by=frozenset(cancelled_by),
        suspended_by=frozenset(suspended_by),
        resumed_by=frozenset(resumed_by),
        goods=None if goods is None else frozenset(goods),
        directions=None if directions is None else frozenset(directions),
        **options,
    )


# -- calendars ------------------------------------------------------------------------


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
    days = frozenset(
        session.scalars(select(ClosureDay.day).where(ClosureDay.authority_code == authority.code))
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


# -- the rows -------------------------------------------------------------------------


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
        opened_by_event_id=event.id if event is not None else None,
        created_at=recorded_at,
    )
    deadline.reminders_sent = _reminders_passed(deadline, calendar, recorded_at)
    deadline.next_at = _next_at(deadline, calendar)
    session.add(deadline)
    session.flush()
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
    if deadline.status in WATCHED:
        on_time = deadline.status is DeadlineStatus.SUSPENDED or at <= deadline.due_at
        deadline.status = DeadlineStatus.MET if on_time else DeadlineStatus.MISSED
        _close(deadline, at, event, None)


def cancel(deadline: Deadline, at: datetime, event: Event | None = None, note: str = "") -> None:
    """The obligation became moot (e.g. the consignment was detained instead)."""
    if deadline.status in WATCHED:
        deadline.status = DeadlineStatus.CANCELLED
        _close(deadline, at, event, note)


def suspend(deadline: Deadline, calendar: WorkingCalendar, at: datetime) -> None:
    """Stop the clock (e.g. verification suspended under customs transit, EU Art. 4(3))."""
    if deadline.status is DeadlineStatus.OPEN:
        deadline.status = DeadlineStatus.SUSPENDED
        deadline.suspended_on = calendar.legal_date(at)
        deadline.next_at = None


def resume(session: Session, deadline: Deadline, calendar: WorkingCalendar, at: datetime) -> None:
    """Restart the clock; the due day moves on by the working days it stood still."""
    if deadline.status is not DeadlineStatus.SUSPENDED or deadline.suspended_on is None:
        return
    lost = calendar.working_days_between(deadline.suspended_on, calendar.legal_date(at))
    deadline.suspended_days += max(lost, 0)
    deadline.suspended_on = None
    deadline.status = DeadlineStatus.OPEN
    _reschedule(session, deadline, calendar, at)


def _close(deadline: Deadline, at: datetime, event: Event | None, note: str | None) -> None:
    deadline.closed_at = at
    deadline.next_at = None
    deadline.note = note or deadline.note
    if event is not None:
        deadline.closed_by_event_id = event.id
    session = object_session(deadline)
    if session is not None and deadline.id is not None:
        # A reminder still waiting in the outbox would only confuse now.
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
    deadline.next_at = _next_at(deadline, calendar)


def reminder_at(deadline: Deadline, calendar: WorkingCalendar, spec: Mapping[str, Any]) -> datetime:
    day = calendar.subtract_working_days(deadline.due_on, int(spec["before"]))
    local = datetime.combine(day, time.fromisoformat(spec["at"]), tzinfo=ZoneInfo(calendar.zone))
    return min(local.astimezone(UTC), deadline.due_at)


def _reminders_passed(deadline: Deadline, calendar: WorkingCalendar, now: datetime) -> int:
    return sum(1 for spec in deadline.reminders if reminder_at(deadline, calendar, spec) <= now)


def _next_at(deadline: Deadline, calendar: WorkingCalendar) -> datetime | None:
    if deadline.status is not DeadlineStatus.OPEN:
        return None
    if deadline.reminders_sent < len(deadline.reminders):
        return reminder_at(deadline, calendar, deadline.reminders[deadline.reminders_sent])
    return deadline.due_at


# -- reacting to decisions --------------------------------------------------------------


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


# -- the sweep --------------------------------------------------------------------------


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
    deadline.next_at = _next_at(deadline, calendar)


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


# -- what the board shows -----------------------------------------------------------------


Bucket = Literal["overdue", "due soon", "later", "suspended", "closed"]


@dataclass(frozen=True)
class DeadlineView:
    """A deadline as an officer sees it on the board: how many working days are left."""

    deadline: Deadline
    working_days_left: int
    bucket: Bucket


def board(
    session: Session,
    authorities: Iterable[str] | None = None,
    *,
    now: datetime | None = None,
    within: int = 3,
    statuses: Sequence[DeadlineStatus] | None = None,
    limit: int = 500,
    after_id: int = 0,
) -> list[DeadlineView]:
    """The deadlines an officer must watch, soonest first: running ones and missed ones
    not yet made good (or those of ``statuses``); "due soon" is within ``within``
    working days of today in the authority's own calendar."""
    now = now or utcnow()
    query = select(Deadline).where(Deadline.id > after_id)
    if statuses is None:
        query = query.where(
            or_(
                Deadline.status.in_(WATCHED),
                (Deadline.status == DeadlineStatus.MISSED) & Deadline.met_at.is_(None),
            )
        )
    else:
        query = query.where(Deadline.status.in_(statuses))
    if authorities is not None:
        query = query.where(Deadline.authority_code.in_(list(authorities)))
    rows = list(session.scalars(query.order_by(Deadline.due_at, Deadline.id).limit(limit)))
    calendars: dict[str, WorkingCalendar] = {}
    views = []
    for deadline in rows:
        code = deadline.authority_code
        calendar = calendars.get(code) or calendars.setdefault(code, calendar_for(session, code))
        left = calendar.working_days_between(calendar.legal_date(now), deadline.due_on)
        views.append(DeadlineView(deadline, left, _bucket(deadline, left, now, within)))
    return views


def _bucket(deadline: Deadline, left: int, now: datetime, within: int) -> Bucket:
    if deadline.status is DeadlineStatus.SUSPENDED:
        return "suspended"
    if deadline.status not in WATCHED and not (
        deadline.status is DeadlineStatus.MISSED and deadline.met_at is None
    ):
        return "closed"
    if deadline.status is DeadlineStatus.MISSED or deadline.due_at < now:
        return "overdue"
    return "due soon" if left <= within else "later"
