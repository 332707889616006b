"""A user's profile: the language of their pages and their second factor (TOTP)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import pyotp
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from caratflow.errors import Conflict
from caratflow.models import (
    User,
    UserProfile,
    utcnow,
)


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


TOTP_ISSUER = "caratflow"


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
