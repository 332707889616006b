"""Reports as a plugin declares them: the rule that requires one, its period (a month, a
quarter, a year of the authority's own calendar), columns and rows. ``caratflow.records
.reports`` runs and submits them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from caratflow.errors import FieldError, InvalidInput
from caratflow.jurisdiction import clocks
from caratflow.law.registry import DocumentOnRecord
from caratflow.law.rules import RuleVersion
from caratflow.models import Authority

PERIOD_KINDS = ("month", "quarter", "year")
MIN_YEAR, MAX_YEAR = 2, 9998
"""Years whose periods, their local midnights in any zone and the day after them all lie
within the calendar that ``datetime`` can count (years 1 to 9999): year 0 is no year,
9999-12 ends in year 10000, and midnight of 0001-01-01 east of Greenwich is in year 0."""


_PATTERNS = {
    "month": re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"),
    "quarter": re.compile(r"^(\d{4})-Q([1-4])$"),
    "year": re.compile(r"^(\d{4})$"),
}


@dataclass(frozen=True)
class Period:
    kind: str
    start: date  # first day
    end: date  # first day after
    label: str

    @classmethod
    def parse(cls, text: str, kind: str) -> Period:
        match = _PATTERNS[kind].match(text.strip())
        if match is None:
            example = {"month": "2026-11", "quarter": "2026-Q3", "year": "2026"}[kind]
            raise InvalidInput([FieldError("period", f"a {kind} such as {example}")])
        year = int(match.group(1))
        if not MIN_YEAR <= year <= MAX_YEAR:
            message = f"a year from {MIN_YEAR} to {MAX_YEAR}"
            raise InvalidInput([FieldError("period", message)])
        if kind == "year":
            return cls(kind, date(year, 1, 1), date(year + 1, 1, 1), text)
        first_month = int(match.group(2)) if kind == "month" else 3 * int(match.group(2)) - 2
        months = 1 if kind == "month" else 3
        start = date(year, first_month, 1)
        end_month = first_month + months
        end = date(year + (end_month > 12), (end_month - 1) % 12 + 1, 1)
        return cls(kind, start, end, text)

    @classmethod
    def containing(cls, day: date, kind: str) -> Period:
        quarter = (day.month - 1) // 3 + 1
        label = {
            "month": f"{day:%Y-%m}",
            "quarter": f"{day.year}-Q{quarter}",
            "year": f"{day.year}",
        }
        return cls.parse(label[kind], kind)

    @classmethod
    def last_ended(cls, day: date, kind: str) -> Period:
        """The latest period of ``kind`` that was over by ``day``."""
        return cls.containing(cls.containing(day, kind).start - timedelta(days=1), kind)

    def instants(self, zone: str) -> tuple[datetime, datetime]:
        """The period as UTC instants, its bounds at local midnight in ``zone``."""
        tz = ZoneInfo(zone)
        return tuple(  # type: ignore[return-value]
            datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)
            for day in (self.start, self.end)
        )


@dataclass(frozen=True, slots=True)
class ShipmentRow:
    """A shipment as a report reads it: its columns, its certificate's row and its
    decisions' (``action``, ``at``) rows, read as rows, not ORM objects (issue 28: a
    report of a year lists tens of thousands)."""

    id: int
    authority: Authority
    direction: Any
    goods: str
    state: str
    details: Mapping[str, Any]
    presented_at: datetime
    certificate: Any  # the certificate's row: its columns as attributes
    events: Sequence[Any]  # each decision's row, in order: ``action``, ``at``


@dataclass(frozen=True)
class ReportInput:
    """What a report's builder sees: the authority, the period and its shipments."""

    authority: Authority
    period: Period
    shipments: Sequence[ShipmentRow]  # presented within the period
    # The latest document of each kind issued for them, by (shipment id, kind).
    documents: Mapping[tuple[int, str], DocumentOnRecord] = field(default_factory=dict)
    session: Session | None = None  # for a builder that asks the registry


@dataclass(frozen=True)
class Report:
    """A report the law requires, citing the rule that requires it."""

    version: RuleVersion
    title: str
    period: str  # one of PERIOD_KINDS
    columns: tuple[str, ...]
    build: Callable[[ReportInput], Iterable[Mapping[str, Any]]]
    plugin: str
    recipient: str | None = None  # the outbox audience it is submitted to
    due: Callable[[date], clocks.Period] | None = None  # counted from the period's end
    reminders: tuple[clocks.Reminder, ...] = (clocks.Reminder(5), clocks.Reminder(0))

    @property
    def name(self) -> str:
        return self.version.id

    @cached_property
    def deadline(self) -> clocks.DeadlineRule | None:
        """The clock of its submission, opened once each period has ended."""
        if self.due is None:
            return None
        return clocks.DeadlineRule(
            self.version, self.plugin, frozenset(), self.due, reminders=self.reminders
        )
