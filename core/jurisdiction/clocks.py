"""Legal clocks as a plugin declares them: a period ("10 working days", "1 month") counted
in the authority's calendar, what opens, meets, suspends or cancels it, and its reminders.
The rows and the sweep that keep them are ``caratflow.deadlines``'.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from caratflow.jurisdiction.notices import NoticeMaker, answers
from caratflow.law.calendar import WorkingCalendar
from caratflow.law.rules import Cites
from caratflow.models import (
    Event,
    Shipment,
)

if TYPE_CHECKING:
    from caratflow.law.parameters import DatedParameters
    from caratflow.law.rules import RuleBook, RuleVersion


OFFICERS = "officers"


SUPERVISORS = "supervisors"


class Unit(StrEnum):
    WORKING_DAYS = "working days"
    CALENDAR_DAYS = "calendar days"
    MONTHS = "months"


_PERIOD = re.compile(
    r"^\s*(\d+)\s+(working days?|calendar days?|days?|(?:calendar )?months?)"
    r"(\s*,\s*to the day)?\s*$",
    re.I,
)
TO_THE_DAY = ", to the day"


@dataclass(frozen=True)
class Period:
    """How long a legal clock runs: "10 working days", "1 month", "30 calendar days".

    Counted from the event's local date (day 0, whatever the hour). A period that ends
    on a closed day ends on the next working day (as Reg. (EEC, Euratom) 1182/71
    Art. 3(4) has it for periods of the Union's law), so a due date is always a day
    the office is open; one ``to_the_day`` ("2 months, to the day") ends on the date it
    falls on, closed or not: the date a document states (a certificate's validity) is the
    date its deadline watches.
    """

    count: int
    unit: Unit
    to_the_day: bool = False

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.match(text)
        if not match:
            raise ValueError(
                f"unreadable period {text!r}: expected e.g. '10 working days', '1 month', "
                "'30 calendar days'"
            )
        count, word, exact = int(match[1]), match[2].lower(), bool(match[3])
        unit = (
            Unit.WORKING_DAYS
            if word.startswith("working")
            else Unit.MONTHS
            if "month" in word
            else Unit.CALENDAR_DAYS
        )
        return cls(count, unit, exact and unit is not Unit.WORKING_DAYS)

    def __str__(self) -> str:
        singular = {"working days": "working day", "calendar days": "calendar day"}
        word = str(self.unit) if self.count != 1 else singular.get(self.unit, "month")
        return f"{self.count} {word}{TO_THE_DAY if self.to_the_day else ''}"

    def due_after(self, calendar: WorkingCalendar, start: date) -> date:
        """The last day of the period that starts on ``start`` (day 0)."""
        if self.unit is Unit.WORKING_DAYS:
            return calendar.add_working_days(start, self.count)
        end = (
            calendar.months_after(start, self.count)
            if self.unit is Unit.MONTHS
            else start + timedelta(days=self.count)
        )
        return end if self.to_the_day else calendar.add_working_days(end, 0)

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

    def counted_by(self, on: date) -> str:
        """The rule that counts the period (calendar months, working days, Reg. 1182/71,
        the KP scheme's wording…), as its parameter states it (``counted_by``)."""
        return str(self.parameters.entry(self.name, on)["counted_by"])


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
    it once delivered. A message a peer's node sends meets the open deadline its type
    names (``caratflow.exchange.messages``), and those that list that type in
    ``met_by_messages``: another jurisdiction's law names its message otherwise.
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
    met_by_messages: frozenset[str] = frozenset()

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
