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
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from caratflow.case import access
from caratflow.case.access import Actor
from caratflow.deadlines import keeping
from caratflow.deadlines.notices import queue_notice
from caratflow.errors import FieldError, Forbidden, InvalidInput, NotFound
from caratflow.jurisdiction.contributions import Plugins
from caratflow.jurisdiction.notices import Notice
from caratflow.jurisdiction.reports import Period, Report, ReportInput, ShipmentRow
from caratflow.law.registry import DocumentOnRecord
from caratflow.models import (
    Authority,
    Certificate,
    Deadline,
    Event,
    IssuedDocument,
    Shipment,
    utcnow,
)
from caratflow.types import jsonable


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
            writer.writerow({k: csv_cell(v) for k, v in row.items()})
        return out.getvalue()


def reports_of(host: Plugins, plugins: Iterable[str]) -> dict[str, Report]:
    return {r.name: r for name in plugins for r in host.contributions(name).reports}


def run_report(
    session: Session,
    host: Plugins,
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
    shipments = _shipment_rows(session, authority, in_period)
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
    source = ReportInput(authority, period, shipments, documents, session)
    rows = [dict(row) for row in report.build(source)]
    return ReportResult(report, authority.code, period, rows)


def _shipment_rows(
    session: Session, authority: Authority, in_period: tuple[Any, ...]
) -> list[ShipmentRow]:
    """The period's shipments with their certificates (one query) and their decisions (a
    second), as rows (issue 28: no ORM object per shipment, certificate or event)."""
    events: dict[int, list[Any]] = defaultdict(list)
    for event in session.execute(
        select(Event.shipment_id, Event.action, Event.at)
        .where(Event.shipment_id.in_(select(Shipment.id).where(*in_period)))
        .order_by(Event.id)
    ):
        events[event.shipment_id].append(event)
    certificate = Certificate.__table__
    found = session.execute(
        select(
            Shipment.id,
            Shipment.direction,
            Shipment.goods,
            Shipment.state,
            Shipment.details,
            Shipment.presented_at,
            *(column.label(f"certificate_{column.name}") for column in certificate.c),
        )
        .join(certificate, certificate.c.shipment_id == Shipment.id)
        .where(*in_period)
        .order_by(Shipment.presented_at, Shipment.id)
    )
    prefix = "certificate_"
    return [
        ShipmentRow(
            id=row.id,
            authority=authority,
            direction=row.direction,
            goods=row.goods,
            state=row.state,
            details=row.details or {},
            presented_at=row.presented_at,
            certificate=SimpleNamespace(
                **{
                    k.removeprefix(prefix): v
                    for k, v in row._mapping.items()
                    if k.startswith(prefix)
                }
            ),
            events=events.get(row.id, []),
        )
        for row in found
    ]


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a list joined by ``;``, and a text that a
    spreadsheet would run as a formula (``=HYPERLINK(…)``, ``@SUM(…)``) behind a single
    quote (OWASP, "CSV Injection"; issue 21). A plain number is a number, not a formula."""
    text = ";".join(map(str, value)) if isinstance(value, list) else value
    if isinstance(text, str) and text.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (OWASP's list)."""
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


@dataclass(frozen=True)
class Submission:
    result: ReportResult
    deadline: Deadline | None
    queued: int  # messages queued now; 0 when this period was submitted already


def open_report_deadlines(session: Session, host: Plugins, now: datetime | None = None) -> int:
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
    host: Plugins,
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
    return keeping.open_deadline(session, rule, authority, starts_at, recorded_at=now), True
