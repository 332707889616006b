"""Periodic reports the law asks for (monthly to the Commission, quarterly KP statistics,
annual to a ministry): plugins say what each holds, the engine finds the records and
serves them as JSON or CSV.

A period is a month (``2026-11``), a quarter (``2026-Q3``) or a year (``2026``) of the
authority's own calendar: November in Brussels starts at midnight Brussels time.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from caratflow import access, deadlines
from caratflow.errors import FieldError, Forbidden, InvalidInput, NotFound
from caratflow.law import RuleVersion, jsonable
from caratflow.models import Authority, Deadline, IssuedDocument, Shipment, utcnow
from caratflow.notices import Notice, queue_notice
from caratflow.pluginhost import PluginHost
from caratflow.registry import DocumentOnRecord
from caratflow.service import Actor

PERIOD_KINDS = ("month", "quarter", "year")
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


@dataclass(frozen=True)
class ReportInput:
    """What a report's builder sees: the authority, the period and its shipments."""

    authority: Authority
    period: Period
    shipments: Sequence[Shipment]  # presented within the period, certificate and events loaded
    # The latest document of each kind issued for them, by (shipment id, kind).
    documents: Mapping[tuple[int, str], DocumentOnRecord] = field(default_factory=dict)


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
    due: Callable[[date], deadlines.Period] | None = None  # counted from the period's end
    reminders: tuple[deadlines.Reminder, ...] = (deadlines.Reminder(5), deadlines.Reminder(0))

    @property
    def name(self) -> str:
        return self.version.id

    @cached_property
    def deadline(self) -> deadlines.DeadlineRule | None:
        """The clock of its submission, opened once each period has ended."""
        if self.due is None:
            return None
        return deadlines.DeadlineRule(
            self.version, self.plugin, frozenset(), self.due, reminders=self.reminders
        )


@dataclass(frozen=True)
class ReportResult:
    report: Report
    authority: str
    period: Period
    rows: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {
            "report": self.report.name,
            "title": self.report.title,
            "basis": self.report.version.basis,
            "authority": self.authority,
            "period": self.period.label,
            "from": self.period.start.isoformat(),
            "until": self.period.end.isoformat(),
            "columns": list(self.report.columns),
            "rows": jsonable(self.rows),
        }

    def as_csv(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=self.report.columns, lineterminator="\n")
        writer.writeheader()
        for row in jsonable(self.rows):
            writer.writerow({k: _cell(v) for k, v in row.items()})
        return out.getvalue()


def reports_of(host: PluginHost, plugins: Iterable[str]) -> dict[str, Report]:
    return {r.name: r for name in plugins for r in host.contributions(name).reports}


def run_report(
    session: Session,
    host: PluginHost,
    name: str,
    authority_code: str,
    period_text: str,
    actor: Actor,
) -> ReportResult:
    """Build report ``name`` of one authority for one period; reading only."""
    authority = session.get(Authority, authority_code)
    if authority is None:
        raise InvalidInput([FieldError("authority", f"unknown authority {authority_code!r}")])
    if not actor.may_act_for(authority.code):
        raise Forbidden(f"{actor.name} does not act for authority {authority.code}")
    available = reports_of(host, authority.plugins)
    if name not in available:
        known = ", ".join(sorted(available)) or "none"
        raise NotFound(f"no report {name!r} for {authority.code} (available: {known})")
    report = available[name]
    period = Period.parse(period_text, report.period)
    start, end = period.instants(authority.zone)
    in_period = (
        Shipment.authority_code == authority.code,
        Shipment.presented_at >= start,
        Shipment.presented_at < end,
    )
    shipments = session.scalars(
        select(Shipment)
        .where(*in_period)
        .options(joinedload(Shipment.certificate), selectinload(Shipment.events))
        .order_by(Shipment.presented_at, Shipment.id)
    ).all()
    documents = {
        (row.shipment_id, row.kind): DocumentOnRecord(row.number, row.status, row.valid_until)
        for row in session.execute(
            select(
                IssuedDocument.shipment_id,
                IssuedDocument.kind,
                IssuedDocument.number,
                IssuedDocument.status,
                IssuedDocument.valid_until,
            )
            .where(IssuedDocument.shipment_id.in_(select(Shipment.id).where(*in_period)))
            .order_by(IssuedDocument.id)
        )
    }
    source = ReportInput(authority, period, shipments, documents)
    rows = [dict(row) for row in report.build(source)]
    return ReportResult(report, authority.code, period, rows)


def _cell(value: Any) -> Any:
    return ";".join(map(str, value)) if isinstance(value, list) else value


# -- submission: a deadline per period, met when the report is delivered ------------------


@dataclass(frozen=True)
class Submission:
    result: ReportResult
    deadline: Deadline | None
    queued: int  # messages queued now; 0 when this period was submitted already


def open_report_deadlines(session: Session, host: PluginHost, now: datetime | None = None) -> int:
    """Open the submission deadline of every report whose period has ended; a periodic
    task, so idempotent. Returns how many it opened."""
    now = now or utcnow()
    opened = 0
    for authority in session.scalars(select(Authority).order_by(Authority.code)):
        for report in reports_of(host, authority.plugins).values():
            if report.deadline is not None:
                period = Period.last_ended(authority.local_date(now), report.period)
                opened += _report_deadline(session, report, authority, period, now)[1]
    return opened


def submit_report(
    session: Session,
    host: PluginHost,
    name: str,
    authority_code: str,
    period_text: str,
    actor: Actor,
    now: datetime | None = None,
) -> Submission:
    """Queue report ``name`` for its recipient; its deadline is met once it is delivered.
    Submitting the same period again queues nothing more."""
    access.require(actor, access.Permission.DECIDE)
    result = run_report(session, host, name, authority_code, period_text, actor)
    report, now = result.report, now or utcnow()
    if report.recipient is None:
        raise InvalidInput([FieldError("report", f"{name} is kept, not sent to anyone")])
    authority = session.get_one(Authority, result.authority)
    if authority.local_date(now) < result.period.end:
        raise InvalidInput(
            [FieldError("period", f"{result.period.label} has not ended: submit it afterwards")]
        )
    deadline = None
    if report.deadline is not None:
        deadline = _report_deadline(session, report, authority, result.period, now)[0]
    notice = Notice(
        report.recipient,
        f"{report.title}: {authority.name}, {result.period.label}",
        result.as_csv(),
        {"report": name, "period": result.period.label, "rows": len(result.rows)},
    )
    queued = queue_notice(
        session,
        notice,
        key=f"report:{authority.code}:{name}:{result.period.label}",
        authority=authority.code,
        cites=report.version,
        at=now,
        deadline_id=deadline.id if deadline is not None else None,
    )
    return Submission(result, deadline, queued)


def _report_deadline(
    session: Session, report: Report, authority: Authority, period: Period, now: datetime
) -> tuple[Deadline, bool]:
    rule = report.deadline
    assert rule is not None
    # A no-op UPDATE: PostgreSQL locks the authority's row, SQLite takes its write lock,
    # so two workers opening the same period take turns and the second finds the first's.
    session.execute(
        update(Authority).where(Authority.code == authority.code).values(code=Authority.code)
    )
    starts_at = period.instants(authority.zone)[1]
    found = session.scalar(
        select(Deadline).where(
            Deadline.authority_code == authority.code,
            Deadline.rule == rule.id,
            Deadline.shipment_id.is_(None),
            Deadline.starts_at == starts_at,
        )
    )
    if found is not None:
        return found, False
    return deadlines.open_deadline(session, rule, authority, starts_at, recorded_at=now), True
