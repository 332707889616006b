"""The demo's people: who to sign in as after ``caratflow serve --demo``.

For each authority the enabled plugins serve, two officers holding every duty there (a
second officer confirms a four-eyes request) and a supervisor; one administrator of them
all (who sets up an authenticator at the first sign-in, as every administrator does).
They share one password, generated per run and shown on the console, never stored in
clear: a demo that ran before gets a new one, and whoever held the old one is signed out.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from caratflow.accounts.people import reset_password
from caratflow.accounts.provisioning import SYSTEM, add_user, ensure_authorities, offered_duties
from caratflow.jurisdiction.contributions import Plugins
from caratflow.models import Authority, Role, User


@dataclass(frozen=True)
class DemoUser:
    name: str
    role: Role
    authorities: tuple[str, ...]
    duties: tuple[str, ...] = ()

    def describe(self) -> str:
        where = ", ".join(self.authorities) or "every authority"
        held = f"; duties {', '.join(self.duties)}" if self.duties else ""
        return f"{self.name:16} {self.role.value:10} {where}{held}"


def new_password() -> str:
    """Sixteen URL-safe characters: within the password policy (12 to 128)."""
    return secrets.token_urlsafe(12)


def demo_people(session: Session, host: Plugins) -> list[DemoUser]:
    """Who the demo signs in as, for the deployment's authorities (``authorities.toml``,
    else the plugins' default profiles): never for one a plugin merely offers."""
    codes = list(session.scalars(select(Authority.code).order_by(Authority.code)))
    if not codes:
        ensure_authorities(session, host)
        codes = list(session.scalars(select(Authority.code).order_by(Authority.code)))
    people = []
    for code in codes:
        authority = session.get(Authority, code)
        duties = tuple(sorted(offered_duties(host, [authority]))) if authority else ()
        prefix = code.lower()
        people += [
            DemoUser(f"{prefix}-officer-1", Role.OFFICER, (code,), duties),
            DemoUser(f"{prefix}-officer-2", Role.OFFICER, (code,), duties),
            DemoUser(f"{prefix}-supervisor", Role.SUPERVISOR, (code,), duties),
        ]
    people.append(DemoUser("demo-admin", Role.ADMIN, tuple(codes)))
    return people


def ensure_demo_users(session: Session, host: Plugins, password: str) -> list[DemoUser]:
    """Create the demo's people, or give those of an earlier run ``password``."""
    people = demo_people(session, host)
    for person in people:
        user_id = session.scalar(select(User.id).where(User.name == person.name))
        if user_id is None:
            add_user(
                session,
                person.name,
                person.role,
                person.authorities,
                password,
                duties=person.duties,
                host=host,
            )
        else:
            reset_password(session, SYSTEM, user_id, password)
    session.flush()
    return people
