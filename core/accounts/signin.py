"""Signing people in and keeping them honest: sessions, throttling, TOTP, security events.

OWASP ASVS level 2 is the bar (DESIGN.md "Web"). A browser session is a row whose
token only the cookie knows (the row keeps its SHA-256): signing out, an idle
timeout, a password reset or disabling the user ends it at once. Failed sign-ins are
security events, and the throttle counts them, so it holds across processes and
restarts. Administrators sign in with a second factor (TOTP, RFC 6238), each code
good once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from caratflow.accounts.audit import EventKind
from caratflow.accounts.credentials import hash_password, password_matches
from caratflow.models import (
    Role,
    SecurityEvent,
    User,
    WebSession,
    utcnow,
)

# Compared against when the name is unknown, so an unknown name takes as long as a
# wrong password (no user enumeration by timing).
_DUMMY_HASH = hash_password(secrets.token_hex(16))


# How often a live session's last-seen time is written: the idle timeout's resolution.
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class Throttle:
    """At most ``per_name`` failed sign-ins for one name, ``per_address`` from one
    address, within ``window``; then the door stays shut until the window moves on.

    Never global. An address is allowed many more failures than an account: a whole
    office may sign in through one proxy (issue 21), so its colleagues' typos must not
    shut out a correct password, while one address spraying guesses over many names is
    still stopped. Re-authentication failures count as sign-in failures of the account.
    """

    per_name: int = 5
    per_address: int = 100
    window: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=15)  # ASVS 3.3.2
    absolute: timedelta = timedelta(hours=12)
    fresh: timedelta = timedelta(minutes=5)  # re-authentication before sensitive actions


def throttled(
    session: Session, name: str, remote_addr: str | None, throttle: Throttle, now: datetime
) -> bool:
    """Too many recent failures for this name or from this address?"""
    since = now - throttle.window
    failed = (SecurityEvent.kind == EventKind.SIGN_IN_FAILED) & (SecurityEvent.at >= since)
    by_name = select(func.count()).where(failed, SecurityEvent.user_name == name)
    if (session.scalar(by_name) or 0) >= throttle.per_name:
        return True
    if remote_addr is None:
        return False
    by_address = select(func.count()).where(failed, SecurityEvent.remote_addr == remote_addr)
    return (session.scalar(by_address) or 0) >= throttle.per_address


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The active user with this name and password, or ``None`` (in the same time)."""
    user = session.scalar(
        select(User).where(User.name == name).options(selectinload(User.authorities))
    )
    stored = user.password_hash if user is not None and user.active else None
    matches = password_matches(stored or _DUMMY_HASH, password)
    return user if matches and stored else None


def needs_second_factor(user: User) -> bool:
    """Administrators sign in with TOTP (DESIGN.md "Web")."""
    return user.role == Role.ADMIN


def open_session(
    session: Session, user: User, remote_addr: str | None, user_agent: str | None
) -> str:
    """A new session for the user; returns the token for the cookie (shown once)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        WebSession(
            digest=_digest(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            reauthenticated_at=now,
            remote_addr=remote_addr,
            user_agent=(user_agent or "")[:200] or None,
        )
    )
    session.flush()
    return token


@dataclass(frozen=True)
class Resumed:
    web_session: WebSession | None
    user: User | None
    expired: bool = False  # the token was good but the session timed out: it is ended now
    touched: bool = False  # its last-seen time moved on

    @property
    def changed(self) -> bool:
        """Something to commit."""
        return self.expired or self.touched


def resume_session(
    session: Session, token: str, policy: SessionPolicy, now: datetime | None = None
) -> Resumed:
    """The live session behind a cookie's token; ends it when it timed out."""
    now = now or utcnow()
    found = session.scalar(
        select(WebSession)
        .where(WebSession.digest == _digest(token), WebSession.ended_at.is_(None))
        .options(selectinload(WebSession.user).selectinload(User.authorities))
    )
    if found is None or not found.user.active:
        return Resumed(None, None)
    if now - found.last_seen_at > policy.idle or now - found.created_at > policy.absolute:
        found.ended_at = now
        return Resumed(None, found.user, expired=True)
    if now - found.last_seen_at > TOUCH_EVERY:
        found.last_seen_at = now
        return Resumed(found, found.user, touched=True)
    return Resumed(found, found.user)


def end_session(session: Session, token: str) -> None:
    found = session.scalar(select(WebSession).where(WebSession.digest == _digest(token)))
    if found is not None and found.ended_at is None:
        found.ended_at = utcnow()


def end_sessions_of(session: Session, user: User) -> None:
    """Sign the user out everywhere (password reset, role change, disabled)."""
    now = utcnow()
    for web_session in session.scalars(
        select(WebSession).where(WebSession.user_id == user.id, WebSession.ended_at.is_(None))
    ):
        web_session.ended_at = now


def reauthenticate(session: Session, web_session: WebSession, password: str) -> bool:
    if not password_matches(web_session.user.password_hash, password):
        return False
    web_session.reauthenticated_at = utcnow()
    return True


def is_fresh(web_session: WebSession, policy: SessionPolicy, now: datetime | None = None) -> bool:
    return (now or utcnow()) - web_session.reauthenticated_at <= policy.fresh


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
