"""My work (issue 26): what waits for one officer, as the start page and the e-mail digest
both show it.

What waits for me: presentations for a decision of my duty, four-eyes requests a
colleague made, deadlines of my authorities due today or overdue, shipments held longer
than their authority's target (a dated parameter of its plugin), and the cases I claimed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from caratflow.case import workbench
from caratflow.case.access import Actor
from caratflow.deadlines.board import DeadlineView, board
from caratflow.deadlines.keeping import calendar_for
from caratflow.jurisdiction.contributions import Plugins
from caratflow.law.calendar import WorkingCalendar
from caratflow.models import CaseClaim, Shipment, utcnow


@dataclass
class Work:
    awaiting: list[Shipment] = field(default_factory=list)
    requests: list[workbench.Request] = field(default_factory=list)
    due: list[DeadlineView] = field(default_factory=list)
    held_too_long: list[tuple[workbench.Held, date]] = field(default_factory=list)
    claimed: list[Shipment] = field(default_factory=list)
    claims: dict[int, CaseClaim] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """What waits for me: the navigation's number (my claims are on the page too)."""
        return len(self.awaiting) + len(self.requests) + len(self.due) + len(self.held_too_long)


def my_work(session: Session, host: Plugins, actor: Actor, now: datetime | None = None) -> Work:
    now = now or utcnow()
    work = Work(
        awaiting=workbench.awaiting_my_decision(session, host, actor),
        requests=workbench.requests_for_me(session, host, actor),
        due=[
            v
            for v in board(session, actor.authorities, now=now, within=0, limit=500)
            if v.bucket in ("overdue", "due soon")  # due soon within 0 days: today
        ][: workbench.MAX_LISTED],
        claimed=workbench.my_claims(session, actor),
    )
    calendars: dict[str, WorkingCalendar] = {}
    profiles = host.authority_profiles()
    for held in workbench.held_cases(session, actor):
        code = held.shipment.authority_code
        target = profiles[code][0].hold_target if code in profiles else None
        if target is None:
            continue
        calendar = calendars.get(code) or calendars.setdefault(code, calendar_for(session, code))
        start = calendar.legal_date(held.since)
        due = target(start).due_after(calendar, start)
        if due < calendar.legal_date(now):
            work.held_too_long.append((held, due))
    shown: list[Any] = [s.id for s in work.awaiting] + [r.shipment.id for r in work.requests]
    shown += [h.shipment.id for h, _due in work.held_too_long]
    work.claims = workbench.claims_on(session, shown)
    return work
