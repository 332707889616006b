"""Passwords and API tokens: what is stored can never be used to sign in.

One password policy for every face (the web's forms, the CLI, provisioning). A token
works until it expires or is revoked: one by one (``caratflow tokens revoke``), or all of
a user's at once when their password is reset or they are disabled.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from caratflow.errors import FieldError, InvalidInput, NotFound
from caratflow.models import ApiToken, User, utcnow

# Argon2id, memory-hard as OWASP ASVS level 2 asks, with the parameters of OWASP's
# Password Storage Cheat Sheet (m=19 MiB, t=2, p=1): ~50 ms a check on two cores, where
# the library's default (64 MiB, 4 lanes) took ~650 ms per sign-in. A hash carries its
# own parameters, so hashes made before still verify.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
TOKEN_PREFIX = "cf_"
PASSWORD_MIN, PASSWORD_MAX = 12, 128  # ASVS 2.1.1, 2.1.2


def check_password(password: str) -> None:
    """Refuse a password outside the policy (the same for the web and the CLI)."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidInput([FieldError("password", f"{PASSWORD_MIN} to {PASSWORD_MAX} characters")])


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(stored_hash: str | None, password: str) -> bool:
    if not stored_hash:
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> tuple[str, str]:
    """A fresh bearer token and the digest that is stored in its place."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, lifetime: timedelta) -> tuple[str, ApiToken]:
    """A new token for ``user``, working for ``lifetime``; the token itself is shown once."""
    token, digest = new_token()
    now = utcnow()
    row = ApiToken(user=user, digest=digest, created_at=now, expires_at=now + lifetime)
    session.add(row)
    session.flush()
    return token, row


def user_for_token(session: Session, token: str, now: datetime | None = None) -> User | None:
    """The active user whose unexpired, unrevoked token this is."""
    found = session.scalar(
        select(ApiToken).where(
            ApiToken.digest == token_digest(token),
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > (now or utcnow()),
        )
    )
    if found is None or not found.user.active:
        return None
    return found.user


def tokens(session: Session) -> list[ApiToken]:
    """Every token, with its user, oldest first (what ``caratflow tokens list`` shows)."""
    query = select(ApiToken).options(joinedload(ApiToken.user)).order_by(ApiToken.id)
    return list(session.scalars(query))


def revoke_token(session: Session, token_id: int) -> ApiToken:
    found = session.get(ApiToken, token_id)
    if found is None:
        raise NotFound(f"no token {token_id}")
    _revoke([found])
    session.flush()
    return found


def revoke_tokens_of(session: Session, user: User) -> int:
    """End every live token of ``user`` (password reset, disabled); returns how many."""
    live = list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        )
    )
    _revoke(live)
    session.flush()
    return len(live)


def _revoke(found: Iterable[ApiToken]) -> None:
    now = utcnow()
    for token in found:
        if token.revoked_at is None:
            token.revoked_at = now
