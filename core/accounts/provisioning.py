"""Setting a deployment up: authorities from the plugins, users, tokens, demo data."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from caratflow.accounts import authorities
from caratflow.accounts.credentials import check_password, hash_password, issue_token
from caratflow.case.access import Actor
from caratflow.case.parties import register_party
from caratflow.case.service import ShipmentService
from caratflow.config import Settings
from caratflow.errors import Conflict, FieldError, InvalidInput, NotFound
from caratflow.jurisdiction.contributions import Plugins, authority_jurisdiction
from caratflow.jurisdiction.workflow import Duty
from caratflow.models import Authority, Role, Shipment, User

log = logging.getLogger(__name__)
SYSTEM = Actor("caratflow", Role.ADMIN, None, None)


def ensure_authorities(
    session: Session, host: Plugins, instance_path: Path | None = None
) -> list[str]:
    """Bring the authorities in line with ``<instance>/authorities.toml`` or, where the
    deployment declares none (or no instance is given), with the plugins' default
    profiles. Returns the codes created; repeating it changes nothing."""
    declared = authorities.declared(instance_path, host) if instance_path else None
    return authorities.apply(session, authorities.defaults(host) if declared is None else declared)


def add_user(
    session: Session,
    name: str,
    role: Role,
    authorities: Iterable[str],
    password: str | None = None,
    *,
    duties: Iterable[str] = (),
    host: Plugins | None = None,
) -> User:
    """Add a user; ``duties`` are checked against what ``host``'s plugins declare for
    the user's authorities, a password against the one policy."""
    if password is not None:
        check_password(password)
    codes = sorted(set(authorities))
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise Conflict(f"a user named {name!r} exists already")
    found = list(session.scalars(select(Authority).where(Authority.code.in_(codes))))
    missing = sorted(set(codes) - {a.code for a in found})
    if missing:
        raise InvalidInput([FieldError("authority", f"unknown authority {', '.join(missing)}")])
    if not found and role != Role.ADMIN:
        raise InvalidInput([FieldError("authority", "a user acts for at least one authority")])
    user = User(
        name=name,
        role=role,
        authorities=found,
        duties=checked_duties(host, found, duties),
        password_hash=hash_password(password) if password else None,
    )
    session.add(user)
    session.flush()
    return user


def offered_duties(host: Plugins, authorities: Iterable[Authority]) -> dict[str, Duty]:
    """The duties the enabled plugins of these authorities declare, by code."""
    return {
        code: duty
        for authority in authorities
        for code, duty in authority_jurisdiction(host, authority).workflow.duties.items()
    }


def checked_duties(
    host: Plugins | None, authorities: Iterable[Authority], duties: Iterable[str]
) -> list[str]:
    """``duties``, sorted, once each is known to a plugin of one of ``authorities``."""
    wanted = sorted(set(duties))
    if not wanted:
        return []
    if host is None:
        raise ValueError("duties are checked against the plugins: pass the plugin host")
    offered = offered_duties(host, authorities)
    if unknown := [d for d in wanted if d not in offered]:
        known = ", ".join(sorted(offered)) or "none"
        raise InvalidInput(
            [
                FieldError(
                    "duty", f"no duty {', '.join(unknown)} at these authorities; known: {known}"
                )
            ]
        )
    return wanted


def create_token(
    session: Session, user_name: str, lifetime: timedelta = timedelta(days=Settings.token_days)
) -> str:
    """A new API token for the user, working for ``lifetime``; only its digest is stored."""
    user = session.scalar(select(User).where(User.name == user_name))
    if user is None:
        raise NotFound(f"no user named {user_name!r}")
    return issue_token(session, user, lifetime)[0]


def actor_for(user: User) -> Actor:
    return Actor(
        user.name, user.role, frozenset(a.code for a in user.authorities), frozenset(user.duties)
    )


def load_demo(session: Session, host: Plugins, shipments: ShipmentService) -> int:
    """Present the plugins' demo shipments of the authorities set up into an empty
    database; returns how many."""
    if session.scalar(select(func.count()).select_from(Shipment)):
        return 0
    loaded = 0
    present = set(session.scalars(select(Authority.code)))
    for payload in host.demo_payloads():
        if payload.get("authority") not in present:
            continue  # a demo of an authority this deployment does not run
        for party in payload.get("demo_parties", []):
            register_party(session, host, party, SYSTEM)
        presentation = shipments.present(session, _without_demo_keys(payload), SYSTEM)
        for step in payload.get("demo_actions", []):
            shipments.act(
                session,
                presentation.shipment.id,
                step["action"],
                SYSTEM,
                reason=step.get("reason"),
                inputs=step.get("inputs"),
            )
        loaded += 1
    log.info("loaded %d demo shipments", loaded)
    return loaded


def _without_demo_keys(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if not k.startswith("demo_")}
