"""The deadline board: every watched clock an actor may see, by how soon it falls due in
working days (overdue, due soon, open), with cursor pagination.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from caratflow.law.calendar import WorkingCalendar
from caratflow.models import (
    Deadline,
    DeadlineStatus,
    utcnow,
)

if TYPE_CHECKING:
    pass


from caratflow.deadlines.keeping import WATCHED, calendar_for

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
