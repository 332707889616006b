"""The e-mail digest of "My work" (issue 26): opt-in, per officer, once a day.

An officer who opts in names an address and a time of day; from that time on, in the
zone of the officer's authority (the first by code of those they act for), the periodic
task queues one e-mail a day through the outbox with what waits for them. Each day's
digest is claimed by row: an ``UPDATE … WHERE last_sent_on < today`` that only one
worker can win (PostgreSQL re-checks the condition after the other's commit; SQLite
writes one at a time), and the outbox key ``digest:<user>:<day>`` would drop a second
copy anyway. A day the worker was down until after midnight is skipped, not sent late;
a day with nothing waiting and no case claimed sends nothing.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from caratflow.accounts.provisioning import actor_for
from caratflow.accounts.work import Work, my_work
from caratflow.db import unit_of_work
from caratflow.deadlines.outbox import enqueue
from caratflow.errors import FieldError, InvalidInput
from caratflow.jurisdiction.contributions import Plugins
from caratflow.jurisdiction.texts import load_catalogue
from caratflow.models import User, UserProfile, WorkDigest, utcnow

KIND = "digest"  # the outbox kind
WORDS = load_catalogue(Path(__file__).with_name("digest.toml"))
_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")


def digest_of(session: Session, user: User) -> WorkDigest | None:
    return session.get(WorkDigest, user.id)


def subscribe(session: Session, user: User, address: str, send_at: time) -> WorkDigest:
    """Send ``user`` the digest at ``address`` every day at ``send_at`` (local time)."""
    address = address.strip()
    if not _ADDRESS.fullmatch(address):
        raise InvalidInput([FieldError("address", "an e-mail address such as name@example.org")])
    found = session.get(WorkDigest, user.id)
    if found is None:
        found = WorkDigest(user_id=user.id, address=address, send_at=send_at)
        session.add(found)
    else:
        found.address, found.send_at = address, send_at
    session.flush()
    return found


def unsubscribe(session: Session, user: User) -> None:
    found = session.get(WorkDigest, user.id)
    if found is not None:
        session.delete(found)
        session.flush()


def send_digests(
    sessions: sessionmaker[Session], host: Plugins, public_url: str, now: datetime | None = None
) -> int:
    """Queue today's digest of every officer whose time has come; returns how many."""
    now = now or utcnow()
    with unit_of_work(sessions, write=False) as session:
        due = [
            (digest.user_id, today)
            for digest, user in session.execute(
                select(WorkDigest, User)
                .join(User, User.id == WorkDigest.user_id)
                .where(User.active.is_(True))
                .options(selectinload(User.authorities))
            ).all()
            for local in [now.astimezone(ZoneInfo(_zone(user)))]
            for today in [local.date()]
            if local.time() >= digest.send_at and digest.last_sent_on != today
        ]
    sent = 0
    for user_id, today in due:
        with unit_of_work(sessions) as session:
            sent += _send_one(session, host, public_url, user_id, today, now)
    return sent


def _send_one(
    session: Session, host: Plugins, public_url: str, user_id: int, today: date, now: datetime
) -> int:
    claimed = session.execute(
        update(WorkDigest)
        .where(WorkDigest.user_id == user_id)
        .where(or_(WorkDigest.last_sent_on.is_(None), WorkDigest.last_sent_on < today))
        .values(last_sent_on=today)
    ).rowcount
    if not claimed:
        return 0  # another worker's, today
    digest, user = session.get_one(WorkDigest, user_id), session.get_one(User, user_id)
    work = my_work(session, host, actor_for(user), now)
    if not work.count and not work.claimed:
        return 0
    profile = session.get(UserProfile, user.id)
    language = (profile.locale if profile is not None and profile.locale else "en")[:2]
    return enqueue(
        session,
        key=f"{KIND}:{user.name}:{today.isoformat()}",
        authority=authority_of(user),
        audience=f"officer:{user.name}"[:60],
        kind=KIND,
        subject=said("digest.subject", language, day=today.isoformat(), count=work.count),
        body=body(work, f"{public_url}/work", language, host.texts()),
        scheduled_for=now,
        data={"user": user.name, "day": today.isoformat(), "waiting": work.count},
        to=[f"mailto:{digest.address}"],
    )


def said(msgid: str, language: str, **params: Any) -> str:
    """A digest text in ``language`` (English where that language has none)."""
    texts = WORDS[msgid]
    return texts.get(language, texts["en"]).format(**params)


def body(work: Work, link: str, language: str = "en", plugin_texts: Any = None) -> str:
    """The digest as plain text in the officer's language: the start page's sections, each
    with its count; states and actions as the plugins' catalogues name them."""

    def word(text: str) -> str:
        texts = WORDS.get(text) or (plugin_texts or {}).get(text, {})
        return texts.get(language, texts.get("en", text))

    sections = [
        (
            said("digest.requests", language),
            [
                f"{_shipment(r.shipment)}: "
                + said(
                    "digest.requested_by",
                    language,
                    action=word(r.request.action),
                    requester=r.request.requested_by,
                )
                for r in work.requests
            ],
        ),
        (
            said("digest.awaiting", language),
            [f"{_shipment(s)}: {word(s.state)}" for s in work.awaiting],
        ),
        (
            said("digest.due", language),
            [
                f"{v.deadline.rule} ({v.deadline.basis}), "
                + said("digest.due_on", language, day=v.deadline.due_on.isoformat())
                + (f", #{v.deadline.shipment_id}" if v.deadline.shipment_id else "")
                + f": {word(v.bucket)}"
                for v in work.due
            ],
        ),
        (
            said("digest.held", language),
            [
                f"{_shipment(held.shipment)}: "
                + said("digest.target", language, day=due.isoformat())
                for held, due in work.held_too_long
            ],
        ),
        (
            said("digest.claimed", language),
            [f"{_shipment(s)}: {word(s.state)}" for s in work.claimed],
        ),
    ]
    lines = [said("digest.lead", language, count=work.count, link=link), ""]
    for title, items in sections:
        lines.append(f"{title} ({len(items)})")
        lines.extend(f"- {item}" for item in items)
        lines.append("")
    return "\n".join(lines)


def _shipment(shipment) -> str:  # type: ignore[no-untyped-def]
    c = shipment.certificate
    return f"#{shipment.id} {c.number} ({shipment.authority_code}, {c.importer_name})"


def authority_of(user: User) -> str | None:
    """The officer's authority whose zone the time of day is in: the first by code."""
    codes = sorted(a.code for a in user.authorities)
    return codes[0] if codes else None


def _zone(user: User) -> str:
    """The zone of the authority the digest's time of day is read in."""
    first = min(user.authorities, key=lambda a: a.code, default=None)
    return first.zone if first is not None else "UTC"
