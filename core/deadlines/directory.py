"""An authority's directory of addressees (issue 24): who its notices go to, as its
plugins declare them (the Commission, each participant's KP authority, customs), beside
the entries its administrator made, each with its channel (``caratflow.deadlines.outbox``
addresses: ``peer:``, ``mailto:``, ``https://``; ``log:`` for development only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy.orm import Session

from caratflow.deadlines.outbox import channel_of, reachable, recipients
from caratflow.jurisdiction.contributions import Plugins
from caratflow.models import Authority, Recipient

Reach = Literal["reachable", "development only", "missing"]


@dataclass(frozen=True)
class Entry:
    """One audience of an authority: who it is, the law, and where it is reached."""

    authority: str
    audience: str
    name: str
    basis: str = ""
    legal: bool = False
    recipients: list[Recipient] = field(default_factory=list)

    @property
    def reach(self) -> Reach:
        if any(reachable(r.address) for r in self.recipients):
            return "reachable"
        return "development only" if self.recipients else "missing"

    @property
    def channels(self) -> list[str]:
        return [channel_of(r.address) for r in self.recipients]


def directory(session: Session, host: Plugins, authority: Authority) -> list[Entry]:
    """The authority's addressees: those its plugins' law names, then any other audience
    its administrator gave an address (officers, supervisors, a peer)."""
    given: dict[str, list[Recipient]] = {}
    for recipient in recipients(session, authority.code):
        given.setdefault(recipient.audience, []).append(recipient)
    entries = [
        Entry(
            authority.code,
            a.audience,
            next((r.name for r in given.get(a.audience, []) if r.name), a.name),
            a.basis,
            a.legal,
            given.pop(a.audience, []),
        )
        for a in host.addressees(authority.plugins)
    ]
    for audience, found in sorted(given.items()):
        name = next((r.name for r in found if r.name), audience)
        entries.append(Entry(authority.code, audience, name, recipients=found))
    return entries
