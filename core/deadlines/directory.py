"""An authority's directory of addressees (issue 24): who its notices go to, as its
plugins declare them (the Commission, each participant's KP authority, customs), beside
the entries its administrator made, each with its channel (``caratflow.deadlines.outbox``
addresses: ``peer:``, ``mailto:``, ``https://``; ``log:`` for development only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from sqlalchemy.orm import Session

from caratflow.deadlines.outbox import add_recipient, channel_of, reachable, recipients
from caratflow.errors import FieldError, InvalidInput
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


@dataclass(frozen=True)
class Imported:
    """What ``import_addressees`` did: entries added, entries already there, and the list
    they came from."""

    added: int
    already: int
    source: str
    published_on: date


def import_addressees(
    session: Session, host: Plugins, authority: Authority, listed: Mapping[str, Any]
) -> Imported:
    """Reach the addressees of a published list: the KP Secretariat's list of participants'
    authorities, the Commission's contact, customs offices (issue 24). The list says where
    it comes from (``source``) and when it was published (``published_on``); each
    ``[[addressee]]`` names an ``audience`` the authority's law addresses, an ``address``
    and a ``name``. All or nothing: every bad row is named (``addressee[3].address``) and
    nothing is written; rows already in the directory are left as they are."""
    errors: list[FieldError] = []
    source, published_on = listed.get("source"), listed.get("published_on")
    if not isinstance(source, str) or not source.strip():
        errors.append(FieldError("source", "say where the list comes from"))
    if not isinstance(published_on, date):
        errors.append(FieldError("published_on", "the date the list was published (YYYY-MM-DD)"))
    rows = listed.get("addressee")
    if not isinstance(rows, list) or not rows:
        errors.append(FieldError("addressee", "no [[addressee]] rows"))
        rows = []
    known = {entry.audience for entry in directory(session, host, authority)}
    given = {(r.audience, r.address) for r in recipients(session, authority.code)}
    added = already = 0
    for n, row in enumerate(rows, start=1):
        where = f"addressee[{n}]"
        if not isinstance(row, Mapping):
            errors.append(FieldError(where, "a table of audience, address and name"))
            continue
        audience, address = row.get("audience"), row.get("address")
        if audience not in known:
            errors.append(
                FieldError(f"{where}.audience", f"{audience!r} is no addressee of {authority.code}")
            )
            continue
        if (audience, address) in given:
            already += 1
            continue
        try:  # nothing is written before it validates; a later error rolls all back
            add_recipient(session, authority.code, audience, str(address), str(row.get("name", "")))
        except InvalidInput as refused:
            errors.extend(FieldError(f"{where}.{e.field}", e.message) for e in refused.errors)
            continue
        given.add((audience, address))
        added += 1
    if errors:
        raise InvalidInput(errors)
    return Imported(added, already, str(source).strip(), published_on)  # type: ignore[arg-type]
