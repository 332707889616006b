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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyotp
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from caratflow import access
from caratflow.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from caratflow.models import (
    ApiToken,
    Authority,
    Role,
    SecurityEvent,
    User,
    UserProfile,
    WebSession,
    utcnow,
)
from caratflow.pluginhost import PluginHost
from caratflow.provisioning import actor_for, add_user, checked_duties
from caratflow.security import hash_password, password_matches
from caratflow.service import Actor

# Compared against when the name is unknown, so an unknown name takes as long as a
# wrong password (no user enumeration by timing).
_DUMMY_HASH = hash_password(secrets.token_hex(16))
PASSWORD_MIN, PASSWORD_MAX = 12, 128  # ASVS 2.1.1, 2.1.2
TOTP_ISSUER = "caratflow"
# How often a live session's last-seen time is written: the idle timeout's resolution.
TOUCH_EVERY = timedelta(seconds=60)
LOG_SCAN_PAGE, LOG_SCAN_PAGES = 500, 20


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


@dataclass(frozen=True)
class Throttle:
    """At most ``per_name`` failed sign-ins for one name, ``per_address`` from one
    address, within ``window``; then the door stays shut until the window moves on."""

    per_name: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=15)  # ASVS 3.3.2
    absolute: timedelta = timedelta(hours=12)
    fresh: timedelta = timedelta(minutes=5)  # re-authentication before sensitive actions


# -- security events --------------------------------------------------------------------


def record(
    session: Session,
    kind: str,
    *,
    user: User | None = None,
    user_name: str | None = None,
    remote_addr: str | None = None,
    path: str | None = None,
    authorities: Iterable[str] | None = None,
    **detail: Any,
) -> SecurityEvent:
    """Write one security event (the caller commits it); ``authorities`` are those it
    concerns (by default the user's), whose supervisors and auditors will see it."""
    if authorities is None:
        authorities = [a.code for a in user.authorities] if user is not None else []
    event = SecurityEvent(
        kind=kind,
        user_name=(user.name if user is not None else user_name or None),
        remote_addr=remote_addr,
        path=(path or "")[:300] or None,
        authorities=sorted(set(authorities)),
        detail={k: v for k, v in detail.items() if v is not None},
    )
    session.add(event)
    session.flush()
    return event


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


# -- signing in -------------------------------------------------------------------------


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


# -- profile: language and second factor ------------------------------------------------


def profile(session: Session, user: User) -> UserProfile:
    """The user's profile, made at first need (two first sign-ins at once make one)."""
    found = session.get(UserProfile, user.id)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            found = UserProfile(user_id=user.id)
            session.add(found)
    except IntegrityError:  # another request made it first
        found = session.get(UserProfile, user.id, populate_existing=True)
        assert found is not None
    return found


def set_locale(session: Session, user: User, locale: str) -> None:
    profile(session, user).locale = locale


def start_totp_enrolment(session: Session, user: User) -> str:
    """A new secret for the user to scan (replaces an unconfirmed one)."""
    found = profile(session, user)
    if found.totp_confirmed_at is not None:
        raise Conflict(f"{user.name} has a second factor already")
    found.totp_secret = pyotp.random_base32()
    session.flush()
    return found.totp_secret


def provisioning_uri(secret: str, user_name: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user_name, issuer_name=TOTP_ISSUER)


def has_second_factor(session: Session, user: User) -> bool:
    found = session.get(UserProfile, user.id)
    return found is not None and found.totp_confirmed_at is not None


def second_factor_matches(
    session: Session, user: User, code: str, now: datetime | None = None
) -> bool:
    """Check a TOTP code (one step of clock drift allowed); a code is good only once.

    The first good code confirms an enrolment.
    """
    found = session.get(UserProfile, user.id)
    code = "".join(code.split())
    if found is None or not found.totp_secret or not code.isdigit():
        return False
    totp = pyotp.TOTP(found.totp_secret)
    moment = now or utcnow()
    for drift in (0, -1, 1):
        at = moment + timedelta(seconds=drift * totp.interval)
        step = totp.timecode(at)
        if secrets.compare_digest(totp.at(at), code):
            if found.totp_last_step is not None and step <= found.totp_last_step:
                return False  # replayed
            found.totp_last_step = step
            if found.totp_confirmed_at is None:
                found.totp_confirmed_at = moment
            return True
    return False


# -- administering users ----------------------------------------------------------------


def visible_users(session: Session, actor: Actor) -> list[User]:
    """The users an administrator manages: those acting only for the admin's authorities."""
    access.require(actor, access.Permission.ADMINISTER)
    users = session.scalars(
        select(User).options(selectinload(User.authorities)).order_by(User.name)
    )
    return [u for u in users if _manages(actor, u)]


def visible_authorities(session: Session, actor: Actor) -> list[Authority]:
    authorities = session.scalars(select(Authority).order_by(Authority.code))
    return [a for a in authorities if actor.may_act_for(a.code)]


def create_user(
    session: Session,
    actor: Actor,
    name: str,
    role: Role,
    authorities: Iterable[str],
    password: str | None,
    *,
    duties: Iterable[str] = (),
    host: PluginHost | None = None,
) -> User:
    access.require(actor, access.Permission.ADMINISTER)
    codes = sorted(set(authorities))
    _grantable(actor, codes)
    if password is not None:
        check_password(password)
    name = name.strip()
    if not name or len(name) > 120:
        raise InvalidInput([FieldError("name", "a name of 1 to 120 characters")])
    return add_user(session, name, role, codes, password, duties=duties, host=host)


def update_user(
    session: Session,
    actor: Actor,
    user_id: int,
    *,
    role: Role,
    authorities: Iterable[str],
    active: bool,
    duties: Iterable[str] = (),
    host: PluginHost | None = None,
) -> User:
    """Change a user's role, authorities, duties or whether they may sign in; ends their
    sessions."""
    user = managed_user(session, actor, user_id)
    codes = sorted(set(authorities))
    _grantable(actor, codes)
    if user.name == actor.name and (role != user.role or not active):
        raise Forbidden("administrators cannot demote or disable themselves")
    if not codes and role != Role.ADMIN:
        raise InvalidInput([FieldError("authority", "a user acts for at least one authority")])
    user.role = role
    user.active = active
    user.authorities = list(session.scalars(select(Authority).where(Authority.code.in_(codes))))
    user.duties = checked_duties(host, user.authorities, duties)
    end_sessions_of(session, user)
    if not active:
        for token in session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        ):
            token.revoked_at = utcnow()
    session.flush()
    return user


def reset_password(session: Session, actor: Actor, user_id: int, password: str) -> User:
    user = managed_user(session, actor, user_id)
    check_password(password)
    user.password_hash = hash_password(password)
    end_sessions_of(session, user)
    session.flush()
    return user


def reset_second_factor(session: Session, actor: Actor, user_id: int) -> User:
    """Forget a lost authenticator; the user enrols a new one at the next sign-in."""
    user = managed_user(session, actor, user_id)
    found = profile(session, user)
    found.totp_secret, found.totp_confirmed_at, found.totp_last_step = None, None, None
    end_sessions_of(session, user)
    session.flush()
    return user


def check_password(password: str) -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidInput([FieldError("password", f"{PASSWORD_MIN} to {PASSWORD_MAX} characters")])


def managed_user(session: Session, actor: Actor, user_id: int) -> User:
    """A user this administrator manages (another's is simply not found)."""
    access.require(actor, access.Permission.ADMINISTER)
    user = session.get(User, user_id)
    if user is None or not _manages(actor, user):
        raise NotFound(f"no user {user_id}")
    return user


def _manages(actor: Actor, user: User) -> bool:
    if actor.authorities is None:
        return True
    codes = actor_for(user).authorities or frozenset()
    return bool(codes) and codes <= actor.authorities


def _grantable(actor: Actor, codes: list[str]) -> None:
    if actor.authorities is not None and not set(codes) <= actor.authorities:
        outside = ", ".join(sorted(set(codes) - actor.authorities))
        raise Forbidden(f"{actor.name} does not administer authority {outside}")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
