"""What the screens and the API list: shipments, counts and totals, for the actor's authorities.

Every query here takes the actor and keeps to its authorities, like the service does
for single records: a user sees only what the authorities they act for hold. Lists
page by keyset (``id`` below or above a cursor) along an index, so a page costs the
same with a thousand shipments as with a hundred thousand.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, contains_eager, joinedload, selectinload

from caratflow.case import access
from caratflow.case.access import Actor
from caratflow.models import Authority, Certificate, Event, Party, Shipment, utcnow


@dataclass(frozen=True)
class ShipmentFilter:
    """What a list asks for; ``None`` means any. Instants are aware datetimes."""

    state: str | None = None
    authority: str | None = None
    goods: str | None = None
    direction: str | None = None
    certificate: str | None = None  # the certificate number, as printed
    presented_from: datetime | None = None
    presented_before: datetime | None = None


@dataclass(frozen=True)
class Page:
    items: list[Any]  # Shipment objects, or ``list_rows``' rows
    next_cursor: int | None


def search_shipments(
    session: Session,
    actor: Actor,
    filters: ShipmentFilter,
    *,
    cursor: int | None = None,
    limit: int = 50,
    newest_first: bool = True,
    with_history: bool = False,
    as_rows: bool = False,
) -> Page:
    """One page of shipments; ``cursor`` is the ``next_cursor`` of the previous page.

    ``with_history`` loads containers and decisions too (the API's full records),
    in one query each for the whole page. ``as_rows``: what a list shows, read as rows,
    no ORM object (issue 28; see ``LISTED``).
    """
    access.require(actor, access.Permission.READ)
    if as_rows:
        query = select(*LISTED).join(Certificate, Certificate.shipment_id == Shipment.id)
        query = query.join(Authority, Authority.code == Shipment.authority_code)
    else:
        query = (
            select(Shipment)
            .join(Certificate, Certificate.shipment_id == Shipment.id)
            .options(contains_eager(Shipment.certificate), joinedload(Shipment.authority))
        )
    query = _within(query, actor, filters.authority)
    for name in ("state", "goods", "direction"):
        value = getattr(filters, name)
        if value:
            query = query.where(getattr(Shipment, name) == value)
    if filters.certificate:
        query = query.where(Certificate.number == normalise_certificate(filters.certificate))
    if filters.presented_from is not None:
        query = query.where(Shipment.presented_at >= filters.presented_from)
    if filters.presented_before is not None:
        query = query.where(Shipment.presented_at < filters.presented_before)
    if newest_first:
        query = query.order_by(Shipment.id.desc())
        if cursor is not None:
            query = query.where(Shipment.id < cursor)
    else:
        query = query.order_by(Shipment.id)
        if cursor is not None:
            query = query.where(Shipment.id > cursor)
    if as_rows:
        rows: list[Any] = [_listed(row) for row in session.execute(query.limit(limit + 1))]
    else:
        if with_history:
            query = query.options(
                selectinload(Shipment.containers),
                selectinload(Shipment.events).selectinload(Event.findings),
            )
        rows = list(session.scalars(query.limit(limit + 1)).unique())
    page = rows[:limit]
    return Page(page, page[-1].id if len(rows) > limit else None)


LISTED = (
    Shipment.id,
    Shipment.presented_at,
    Shipment.authority_code,
    Shipment.entry_point,
    Shipment.goods,
    Shipment.direction,
    Shipment.state,
    Authority.zone.label("authority_zone"),
    *(
        getattr(Certificate, name).label(f"certificate_{name}")
        for name in (
            "number",
            "issuing_country",
            "importer_name",
            "exporter_name",
            "carats",
            "value_usd",
        )
    ),
)
"""The columns a list of shipments shows (the shipments page)."""


def _listed(row: Any) -> SimpleNamespace:
    """A listed row shaped as the page reads a shipment: ``s.certificate.number``,
    ``s.authority.zone``."""
    values = dict(row._mapping)
    certificate = {
        k.removeprefix("certificate_"): values.pop(k)
        for k in list(values)
        if k.startswith("certificate_")
    }
    authority = SimpleNamespace(code=values["authority_code"], zone=values.pop("authority_zone"))
    return SimpleNamespace(
        **values, certificate=SimpleNamespace(**certificate), authority=authority
    )


def normalise_certificate(number: str) -> str:
    """Certificate numbers as the schema stores them: upper case, no spaces."""
    return "".join(number.split()).upper()


def state_counts(session: Session, actor: Actor) -> dict[str, int]:
    """How many shipments are in each state (one index-only scan)."""
    access.require(actor, access.Permission.READ)
    query = select(Shipment.state, func.count()).group_by(Shipment.state)
    query = _within(query, actor, None)
    return {state: count for state, count in session.execute(query)}


@dataclass
class DayVolume:
    day: date
    shipments: int = 0
    carats: Decimal = Decimal(0)
    value_usd: Decimal = Decimal(0)


@dataclass
class MonthVolume:
    """Shipments presented this month, by day in each authority's own zone."""

    month: date
    days: list[DayVolume] = field(default_factory=list)

    @property
    def shipments(self) -> int:
        return sum(d.shipments for d in self.days)

    @property
    def carats(self) -> Decimal:
        return sum((d.carats for d in self.days), Decimal(0))

    @property
    def value_usd(self) -> Decimal:
        return sum((d.value_usd for d in self.days), Decimal(0))


def month_volume(session: Session, actor: Actor, now: datetime | None = None) -> MonthVolume:
    """This month's presentations: count, carats and declared value (USD), day by day."""
    access.require(actor, access.Permission.READ)
    now = now or utcnow()
    by_day: dict[date, DayVolume] = {}
    month: date | None = None
    for authority in session.scalars(_within(select(Authority), actor, None, Authority.code)):
        zone = ZoneInfo(authority.zone)
        local = now.astimezone(zone).date()
        first = local.replace(day=1)
        following = (first.replace(day=28) + _FOUR_DAYS).replace(day=1)
        month = month or first
        start = datetime.combine(first, time(), zone).astimezone(UTC)
        end = datetime.combine(following, time(), zone).astimezone(UTC)
        rows = session.execute(
            select(Shipment.presented_at, Certificate.carats, Certificate.value_usd)
            .join(Certificate, Certificate.shipment_id == Shipment.id)
            .where(
                Shipment.authority_code == authority.code,
                Shipment.presented_at >= start,
                Shipment.presented_at < end,
            )
        )
        for presented_at, carats, value in rows:
            day = presented_at.astimezone(zone).date()
            entry = by_day.setdefault(day, DayVolume(day))
            entry.shipments += 1
            entry.carats += carats
            entry.value_usd += value
    month = month or now.date().replace(day=1)
    days = [by_day.get(d, DayVolume(d)) for d in _days_of(month)]
    return MonthVolume(month, days)


def parties(session: Session, actor: Actor, authority: str | None = None) -> list[Party]:
    """Registered importers and exporters of the actor's authorities, by name."""
    access.require(actor, access.Permission.READ)
    query = _within(select(Party), actor, authority, Party.authority_code)
    return list(session.scalars(query.order_by(Party.authority_code, Party.name)))


def plugin_sets(session: Session, actor: Actor) -> dict[frozenset[str], list[str]]:
    """Each distinct set of enabled plugins among the actor's authorities, with their codes."""
    found: dict[frozenset[str], list[str]] = defaultdict(list)
    for authority in session.scalars(_within(select(Authority), actor, None, Authority.code)):
        found[frozenset(authority.plugins)].append(authority.code)
    return dict(found)


_FOUR_DAYS = timedelta(days=4)  # from the 28th, always into the next month


def _days_of(month: date) -> list[date]:
    following = (month.replace(day=28) + _FOUR_DAYS).replace(day=1)
    return [date.fromordinal(n) for n in range(month.toordinal(), following.toordinal())]


def _within(
    query: Select[Any], actor: Actor, authority: str | None, column: Any = None
) -> Select[Any]:
    """Keep ``query`` to the actor's authorities (and to ``authority``, if asked)."""
    column = Shipment.authority_code if column is None else column
    if authority:
        query = query.where(column == authority)
    if actor.authorities is not None:
        query = query.where(column.in_(sorted(actor.authorities)))
    return query
