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

from sqlalchemy import Select, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session, aliased, contains_eager, joinedload, selectinload

from caratflow.case import access, search
from caratflow.case.access import Actor
from caratflow.case.service import PRESENT
from caratflow.case.workbench import HELD
from caratflow.errors import FieldError, InvalidInput
from caratflow.models import Authority, Certificate, Event, Party, Shipment, utcnow


@dataclass(frozen=True)
class ShipmentFilter:
    """What a list asks for; ``None`` means any. Instants are aware datetimes."""

    state: str | None = None
    authority: str | None = None
    goods: str | None = None
    direction: str | None = None
    certificate: str | None = None  # the certificate number, as printed
    text: str | None = None  # the search box: a fragment of what a shipment is found by
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
    sort: str | None = None,
    with_history: bool = False,
    as_rows: bool = False,
) -> Page:
    """One page of shipments; ``cursor`` is the ``next_cursor`` of the previous page.

    ``sort`` is a key of ``SORTS``, ``-`` before it for descending; without it, by id
    (``newest_first`` or oldest). ``with_history`` loads containers and decisions too
    (the API's full records), in one query each for the whole page. ``as_rows``: what a
    list shows, read as rows, no ORM object (issue 28; see ``LISTED``).
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
    if filters.text is not None:
        query = query.where(Shipment.id.in_(search.matching(session, filters.text)))
    query = _sorted(query, sort or ("-id" if newest_first else "id"), cursor)
    # The page's size is written into the statement, not sent as a parameter: with a
    # LIMIT it cannot see, PostgreSQL's generic plan (taken after five runs of one
    # statement) walks the whole table for a rare search fragment (bench_search.py).
    limited = query.limit(literal(limit + 1, literal_execute=True))
    if as_rows:
        rows: list[Any] = [_listed(row) for row in session.execute(limited)]
    else:
        if with_history:
            limited = limited.options(
                selectinload(Shipment.containers),
                selectinload(Shipment.events).selectinload(Event.findings),
            )
        rows = list(session.scalars(limited).unique())
    page = rows[:limit]
    return Page(page, page[-1].id if len(rows) > limit else None)


SORTS: dict[str, tuple[type[Any], str]] = {
    "id": (Shipment, "id"),
    "presented": (Shipment, "presented_at"),
    "certificate": (Certificate, "number"),
    "importer": (Certificate, "importer_name"),
    "exporter": (Certificate, "exporter_name"),
    "direction": (Shipment, "direction"),
    "carats": (Certificate, "carats"),
    "value": (Certificate, "value_usd"),
    "state": (Shipment, "state"),
}
"""The columns a list sorts by; each is never NULL, and the id breaks ties."""


def sort_keys() -> list[str]:
    """Every value ``sort`` takes: each key, ascending and descending."""
    return [k for key in SORTS for k in (key, f"-{key}")]


def _sorted(query: Select[Any], sort: str, cursor: int | None) -> Select[Any]:
    """``query`` in the order ``sort`` asks, from after the shipment ``cursor`` on: a
    keyset on (column, id), so a page costs the same deep in the list as at its top."""
    descending = sort.startswith("-")
    if sort.lstrip("-") not in SORTS:
        raise InvalidInput([FieldError("sort", f"one of {', '.join(sort_keys())}")])
    entity, name = SORTS[sort.lstrip("-")]
    column = getattr(entity, name)
    after = (lambda a, b: a < b) if descending else (lambda a, b: a > b)
    if cursor is not None:
        if entity is Shipment and name == "id":
            query = query.where(after(Shipment.id, cursor))
        else:
            row = aliased(entity)
            key = row.id if entity is Shipment else row.shipment_id
            at = select(getattr(row, name)).where(key == cursor).scalar_subquery()
            query = query.where(
                or_(after(column, at), and_(column == at, after(Shipment.id, cursor)))
            )
    keys = [column] if column is Shipment.id else [column, Shipment.id]
    return query.order_by(*(key.desc() if descending else key for key in keys))


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


def state_counts(
    session: Session, actor: Actor, authorities: list[str] | None = None
) -> dict[str, int]:
    """How many shipments are in each state (one index-only scan), of the actor's
    authorities (those of ``authorities`` among them, if given)."""
    access.require(actor, access.Permission.READ)
    query = select(Shipment.state, func.count()).group_by(Shipment.state)
    query = _within(query, actor, None)
    if authorities is not None:
        query = query.where(Shipment.authority_code.in_(sorted(authorities)))
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


@dataclass
class WeekDecisions:
    week: date  # its Monday, a legal date of the authorities
    decisions: int = 0
    holds: int = 0


WEEKS_CHARTED = 12


def weekly_decisions(
    session: Session, actor: Actor, weeks: int = WEEKS_CHARTED, now: datetime | None = None
) -> list[WeekDecisions]:
    """Decisions taken (every event but the presentation) and holds among them, week by
    week (Monday to Sunday by each decision's legal date), the last ``weeks`` weeks."""
    access.require(actor, access.Permission.READ)
    now = now or utcnow()
    zones = session.scalars(_within(select(Authority.zone), actor, None, Authority.code))
    today = max((now.astimezone(ZoneInfo(z)).date() for z in zones), default=now.date())
    first = today - timedelta(days=today.weekday(), weeks=weeks - 1)
    by_week = {
        first + timedelta(weeks=n): WeekDecisions(first + timedelta(weeks=n)) for n in range(weeks)
    }
    held = func.sum(case((Event.to_state == HELD, 1), else_=0))
    query = (
        select(Event.legal_date, func.count(), held)
        .join(Shipment, Shipment.id == Event.shipment_id)
        .where(Event.legal_date >= first, Event.action != PRESENT)
        .group_by(Event.legal_date)
    )
    for day, decisions, holds in session.execute(_within(query, actor, None)):
        week = by_week.get(day - timedelta(days=day.weekday()))
        if week is not None:
            week.decisions += decisions
            week.holds += int(holds or 0)
    return list(by_week.values())


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
