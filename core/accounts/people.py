"""Users as administrators manage them: who they are, their role, the authorities they act
for and the duties they hold, never beyond the administrator's own reach.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from caratflow.accounts.credentials import check_password, hash_password, revoke_tokens_of
from caratflow.accounts.profiles import profile
from caratflow.accounts.provisioning import actor_for, add_user, checked_duties
from caratflow.accounts.signin import end_sessions_of
from caratflow.case import access
from caratflow.case.access import Actor
from caratflow.errors import FieldError, Forbidden, InvalidInput, NotFound
from caratflow.jurisdiction.contributions import Plugins
from caratflow.models import (
    Authority,
    Role,
    User,
)


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
    host: Plugins | None = None,
) -> User:
    access.require(actor, access.Permission.ADMINISTER)
    codes = sorted(set(authorities))
    _grantable(actor, codes)
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
    host: Plugins | None = None,
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
        revoke_tokens_of(session, user)
    session.flush()
    return user


def disable_user(session: Session, actor: Actor, user_id: int) -> User:
    """The user may no longer sign in: their sessions and API tokens end at once."""
    user = managed_user(session, actor, user_id)
    if user.name == actor.name:
        raise Forbidden("administrators cannot demote or disable themselves")
    user.active = False
    end_sessions_of(session, user)
    revoke_tokens_of(session, user)
    session.flush()
    return user


def reset_password(session: Session, actor: Actor, user_id: int, password: str) -> User:
    """A new password ends every session and every API token of the user: whoever held
    the old one keeps nothing it opened (issue 21)."""
    user = managed_user(session, actor, user_id)
    check_password(password)
    user.password_hash = hash_password(password)
    end_sessions_of(session, user)
    revoke_tokens_of(session, user)
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


def managed_user_named(session: Session, actor: Actor, name: str) -> User:
    """``managed_user`` by name (the CLI's way of naming a user)."""
    user_id = session.scalar(select(User.id).where(User.name == name))
    if user_id is None:
        raise NotFound(f"no user named {name!r}")
    return managed_user(session, actor, user_id)


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
