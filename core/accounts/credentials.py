"""Passwords and API tokens: what is stored can never be used to sign in."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from caratflow.models import ApiToken, User

# Argon2id, memory-hard as OWASP ASVS level 2 asks, with the parameters of OWASP's
# Password Storage Cheat Sheet (m=19 MiB, t=2, p=1): ~50 ms a check on two cores, where
# the library's default (64 MiB, 4 lanes) took ~650 ms per sign-in. A hash carries its
# own parameters, so hashes made before still verify.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
TOKEN_PREFIX = "cf_"


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


def user_for_token(session: Session, token: str) -> User | None:
    found = session.scalar(
        select(ApiToken).where(
            ApiToken.digest == token_digest(token), ApiToken.revoked_at.is_(None)
        )
    )
    if found is None or not found.user.active:
        return None
    return found.user
