"""The security log: sign-ins, refusals and administrative changes, as the auditors of an
authority read them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from caratflow.case import access
from caratflow.case.access import Actor
from caratflow.ledger.registers import seal_changed
from caratflow.models import (
    SecurityEvent,
    User,
    utcnow,
)

LOG_SCAN_PAGE, LOG_SCAN_PAGES = 500, 20
# Refusals of requests without valid credentials are counted in one row per address
# for this long (issue 21: 11,200 of them in 45 s had pushed every real event out).
ANONYMOUS_WINDOW = timedelta(minutes=10)


class EventKind:
    """The security events recorded (strings, so the ledger can seal them as they are)."""

    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_IN_THROTTLED = "sign_in_throttled"
    SECOND_FACTOR_FAILED = "second_factor_failed"
    SECOND_FACTOR_ENROLLED = "second_factor_enrolled"
    SIGN_OUT = "sign_out"
    SESSION_EXPIRED = "session_expired"
    REAUTHENTICATED = "reauthenticated"
    ACCESS_REFUSED = "access_refused"
    CSRF_REFUSED = "csrf_refused"
    USER_CHANGED = "user_changed"
    SETTING_CHANGED = "setting_changed"


def record(
    session: Session,
    kind: str,
    *,
    user: User | None = None,
    user_name: str | None = None,
    remote_addr: str | None = None,
    path: str | None = None,
    authorities: Iterable[str] | None = None,
    last_at: datetime | None = None,
    **detail: Any,
) -> SecurityEvent:
    """Write one security event (the caller commits it); ``authorities`` are those it
    concerns (by default the user's), whose supervisors and auditors will see it. The
    flush seals it (``ledger.registers``)."""
    if authorities is None:
        authorities = [a.code for a in user.authorities] if user is not None else []
    event = SecurityEvent(
        kind=kind,
        user_name=(user.name if user is not None else user_name or None),
        remote_addr=remote_addr,
        path=(path or "")[:300] or None,
        authorities=sorted(set(authorities)),
        detail={k: v for k, v in detail.items() if v is not None},
        last_at=last_at,
    )
    session.add(event)
    session.flush()
    return event


def record_anonymous_refusal(
    session: Session,
    *,
    remote_addr: str | None,
    path: str | None,
    reason: str,
    now: datetime | None = None,
) -> None:
    """Count a request refused for want of credentials: the address's open row of this
    window is counted up (``count``, ``last_at``), else a row is opened. The count is
    added in the database, so concurrent refusals lose none."""
    now = now or utcnow()
    by_address = (
        SecurityEvent.remote_addr == remote_addr
        if remote_addr is not None
        else SecurityEvent.remote_addr.is_(None)
    )
    open_row = session.scalar(
        select(SecurityEvent.id)
        .where(
            SecurityEvent.kind == EventKind.ACCESS_REFUSED,
            by_address,
            SecurityEvent.at >= now - ANONYMOUS_WINDOW,
            SecurityEvent.user_name.is_(None),
        )
        .order_by(SecurityEvent.id.desc())
        .limit(1)
    )
    if open_row is None:
        record(
            session,
            EventKind.ACCESS_REFUSED,
            remote_addr=remote_addr,
            path=path,
            authorities=[],
            last_at=now,
            reason=reason,
        )
        return
    counted = session.execute(
        update(SecurityEvent)
        .where(SecurityEvent.id == open_row)
        .values(count=SecurityEvent.count + 1, last_at=now)
        .returning(*SecurityEvent.__table__.c)
    ).all()
    seal_changed(session, SecurityEvent, counted)  # the count as it now stands, sealed


def record_change(
    session: Session,
    by: str,
    what: str,
    *,
    user: User | None = None,
    authorities: Iterable[str] | None = None,
) -> SecurityEvent:
    """An administrator's change (from a page or the CLI), visible to the authorities it
    concerns: those named, else the changed user's."""
    if authorities is None and user is not None:
        authorities = [a.code for a in user.authorities]
    return record(
        session,
        EventKind.USER_CHANGED if user is not None else EventKind.SETTING_CHANGED,
        user_name=by,
        authorities=authorities or [],
        what=what,
        subject=user.name if user is not None else None,
    )


def security_log(
    session: Session, actor: Actor, *, before: int | None = None, limit: int = 100
) -> list[SecurityEvent]:
    """Recent events concerning the actor's authorities (all of them for a global admin)."""
    access.require(actor, access.Permission.AUDIT)
    found: list[SecurityEvent] = []
    # Events carry a JSON list of authorities: filter page by page, newest first, and
    # look at a bounded number of rows per call.
    for _ in range(LOG_SCAN_PAGES):
        query = select(SecurityEvent).order_by(SecurityEvent.id.desc()).limit(LOG_SCAN_PAGE)
        if before is not None:
            query = query.where(SecurityEvent.id < before)
        page = list(session.scalars(query))
        for event in page:
            if actor.authorities is None or set(event.authorities) & actor.authorities:
                found.append(event)
                if len(found) == limit:
                    return found
        if len(page) < LOG_SCAN_PAGE:
            break
        before = page[-1].id
    return found
