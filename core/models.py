"""The engine's records: SQLAlchemy 2 typed models. Schema changes go through Alembic.

Longer than a module should be, on purpose: this is the one declarative schema of the
database, read as a whole by Alembic's autogenerate and by whoever reviews a migration.
Each wing owns its tables (named in the section banners) but no wing's tables are
defined elsewhere, so the foundation stays one layer that every wing may import.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, backref, mapped_column, relationship

from caratflow.types import Carats, Money, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class Direction(StrEnum):
    IMPORT = "import"
    EXPORT = "export"
    TRANSIT = "transit"


class Goods(StrEnum):
    ROUGH = "rough"
    POLISHED = "polished"
    SYNTHETIC = "synthetic"


class Role(StrEnum):
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"


def _enum(enum: type[StrEnum], name: str) -> Enum:
    """Stored as a short string with a CHECK constraint: portable and readable in SQL."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda e: [m.value for m in e],
    )


class Authority(Base):
    """A controlling authority: its country (and subdivision, for holidays), legal time
    zone, the plugins that apply to it, and what it declared of its own (issue 24): entry
    points and offices, number series per document kind, and the duties of its bodies."""

    __tablename__ = "authority"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    zone: Mapped[str] = mapped_column(String(64))
    subdivision: Mapped[str | None] = mapped_column(String(16))
    plugins: Mapped[list[Any]] = mapped_column(default=list)
    entry_points: Mapped[list[Any]] = mapped_column(default=list)
    offices: Mapped[list[Any]] = mapped_column(default=list)  # [{code, name, address}]
    series: Mapped[dict[str, Any]] = mapped_column(default=dict)  # kind: {prefix, digits, …}
    duties: Mapped[list[Any]] = mapped_column(default=list)  # [{code, name, actions, basis}]

    def local_date(self, instant: datetime) -> date:
        """The date ``instant`` falls on here: the day the law counts, whatever UTC says."""
        return instant.astimezone(ZoneInfo(self.zone)).date()


user_authority = Table(
    "user_authority",
    Base.metadata,
    Column("user_id", ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    Column("authority_code", ForeignKey("authority.code"), primary_key=True),
)


class User(Base):
    """A person (or an integration) acting for one or more authorities in one role,
    holding the duties (codes a plugin declares, e.g. customs) their body carries there."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    duties: Mapped[list[Any]] = mapped_column(default=list)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    authorities: Mapped[list[Authority]] = relationship(secondary=user_authority)


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored, the token is shown once."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]  # issue 21: every token ends (CARATFLOW_TOKEN_DAYS)
    revoked_at: Mapped[datetime | None]
    user: Mapped[User] = relationship()


class Party(Base):
    """A registered importer or exporter (Norway §7 registers them before shipping).

    ``national_id`` is personal data (a person's identity number): shown masked, and in
    full only to the roles that need it.
    """

    __tablename__ = "party"
    __table_args__ = (UniqueConstraint("authority_code", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    authority_code: Mapped[str] = mapped_column(ForeignKey("authority.code"))
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(Text, default="")
    phone: Mapped[str | None] = mapped_column(String(40))
    organisation_number: Mapped[str | None] = mapped_column(String(40))
    national_id: Mapped[str | None] = mapped_column(String(40))
    roles: Mapped[list[Any]] = mapped_column(default=list)
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    registered_by: Mapped[str] = mapped_column(String(120), default="")


class TraderTally(Base):
    """How many of an authority's shipments name a trader (as importer or exporter), and
    how many of those were ever held: kept with each presentation, first detention and
    purge, so that the risk analysis reads one row however long the trader's history
    (issue 28; it walked every shipment of the trader before)."""

    __tablename__ = "trader_tally"

    authority_code: Mapped[str] = mapped_column(ForeignKey("authority.code"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    shipments: Mapped[int] = mapped_column(default=0)
    held: Mapped[int] = mapped_column(default=0)


class Shipment(Base):
    """A consignment under control; ``version`` guards against lost updates."""

    __tablename__ = "shipment"
    __table_args__ = (
        # issue 21: a key is the account's own; another account's is never replayed to it
        UniqueConstraint("authority_code", "idempotency_owner", "idempotency_key"),
        Index("ix_shipment_authority_state", "authority_code", "state"),
        Index("ix_shipment_authority_presented", "authority_code", "presented_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    authority_code: Mapped[str] = mapped_column(ForeignKey("authority.code"))
    direction: Mapped[Direction] = mapped_column(_enum(Direction, "direction"))
    goods: Mapped[Goods] = mapped_column(_enum(Goods, "goods"))
    state: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(default=1)
    presented_at: Mapped[datetime]
    entry_point: Mapped[str | None] = mapped_column(String(40))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    idempotency_owner: Mapped[str | None] = mapped_column(String(120))
    request_digest: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    authority: Mapped[Authority] = relationship()
    certificate: Mapped[Certificate] = relationship(
        back_populates="shipment", cascade="all, delete-orphan", uselist=False
    )
    containers: Mapped[list[Container]] = relationship(
        back_populates="shipment", cascade="all, delete-orphan", order_by="Container.id"
    )
    events: Mapped[list[Event]] = relationship(
        back_populates="shipment", cascade="all, delete-orphan", order_by="Event.id"
    )

    __mapper_args__: ClassVar = {"version_id_col": version}


class Certificate(Base):
    """The KP certificate that travels with the goods (LAW.md kp.certificate.fields)."""

    __tablename__ = "certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(
        ForeignKey("shipment.id", ondelete="CASCADE"), unique=True
    )
    number: Mapped[str] = mapped_column(String(40), index=True)
    issuing_country: Mapped[str] = mapped_column(String(2))
    issuing_authority: Mapped[str] = mapped_column(String(200))
    validating_authority: Mapped[str | None] = mapped_column(String(200))
    issued_on: Mapped[date]
    expires_on: Mapped[date]
    exporter_name: Mapped[str] = mapped_column(String(200), index=True)
    exporter_address: Mapped[str] = mapped_column(Text)
    importer_name: Mapped[str] = mapped_column(String(200), index=True)
    importer_address: Mapped[str] = mapped_column(Text)
    parcels: Mapped[int]
    carats: Mapped[Decimal] = mapped_column(Carats())
    value_usd: Mapped[Decimal] = mapped_column(Money())
    hs_codes: Mapped[list[Any]] = mapped_column(default=list)
    origin: Mapped[list[Any]] = mapped_column(default=list)
    provenance: Mapped[str] = mapped_column(String(2))

    shipment: Mapped[Shipment] = relationship(back_populates="certificate")


class Container(Base):
    """A tamper-proof container and the seals applied on export."""

    __tablename__ = "container"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(
        ForeignKey("shipment.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(40))
    seals: Mapped[list[Any]] = mapped_column(default=list)
    seals_intact: Mapped[bool]

    shipment: Mapped[Shipment] = relationship(back_populates="containers")


class ShipmentSearch(Base):
    """What the search box finds a shipment by, as one lower-case text (issue 26): the
    certificate's number and traders, the containers and seals, the identifiers declared.

    Kept by ``caratflow.case.search`` on every write; indexed by the database's own text
    search (PostgreSQL: a GIN trigram index; SQLite: an FTS5 trigram table kept by
    triggers), which migration 0053 creates outside these models.
    """

    __tablename__ = "shipment_search"

    shipment_id: Mapped[int] = mapped_column(
        ForeignKey("shipment.id", ondelete="CASCADE"), primary_key=True
    )
    document: Mapped[str] = mapped_column(Text)


class Event(Base):
    """A decision: who did what, when, from which state to which, why, and on what findings."""

    __tablename__ = "event"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(
        ForeignKey("shipment.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(120))
    from_state: Mapped[str | None] = mapped_column(String(40))
    to_state: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    legal_date: Mapped[date]
    at: Mapped[datetime] = mapped_column(default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    shipment: Mapped[Shipment] = relationship(back_populates="events")
    findings: Mapped[list[FindingRecord]] = relationship(  # with their decisions, in one query
        back_populates="event",
        cascade="all, delete-orphan",
        order_by="FindingRecord.id",
        lazy="selectin",
    )


class FindingRecord(Base):
    """A finding as recorded with its decision, citing the rule version that was in force."""

    __tablename__ = "finding"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(80))
    outcome: Mapped[str] = mapped_column(String(16))
    basis: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    rule_version: Mapped[date]
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # issue 23: the message's catalogue id and parameters, so each reader gets it in their
    # language; ``message`` (English) stays what the ledger seals. None: recorded as text.
    message_id: Mapped[str | None] = mapped_column(String(120), default=None)
    message_params: Mapped[dict[str, Any] | None] = mapped_column(default=None)

    event: Mapped[Event] = relationship(back_populates="findings")


class PurgeRecord(Base):
    """What a purge deleted, when, by whom and why: the tombstone of a shipment's records."""

    __tablename__ = "purge_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(unique=True)
    authority_code: Mapped[str] = mapped_column(ForeignKey("authority.code"))
    certificate_number: Mapped[str] = mapped_column(String(40))
    kept_until: Mapped[date]
    actor: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text)
    purged_at: Mapped[datetime] = mapped_column(default=utcnow)


class LegalHold(Base):
    """A legal hold on a shipment's records (an investigation, an appeal, a court order),
    or, with ``lifts``, the lifting of one: sealed, never changed (issue 25). While a hold
    stands, nothing purges the shipment, whatever its retention period says."""

    __tablename__ = "legal_hold"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int | None] = mapped_column(
        ForeignKey("shipment.id", ondelete="SET NULL"), index=True
    )
    authority_code: Mapped[str] = mapped_column(ForeignKey("authority.code"))
    kind: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    lifts: Mapped[int | None] = mapped_column(ForeignKey("legal_hold.id"), unique=True)


# --------------------------------------------------------------------------------------
# Deadlines and the outbox (issue 4; logic in caratflow.deadlines and caratflow.deadlines.outbox).
# A deadline is a row, not a scheduler job: one sweep claims the due ones through a
# partial index on the open rows alone, so its cost follows what is due, not what is
# stored. Outbox messages are written in the transaction of what caused them.
# --------------------------------------------------------------------------------------

OPEN_DEADLINE = text("status = 'open'")
PENDING_MESSAGE = text("status = 'pending'")


class DeadlineStatus(StrEnum):
    OPEN = "open"
    SUSPENDED = "suspended"  # the law stopped the clock (e.g. EU Art. 4(3), customs transit)
    MET = "met"
    MISSED = "missed"  # due passed first; ``met_at`` tells if it was fulfilled late
    CANCELLED = "cancelled"


class ClosureDay(Base):
    """A day an authority's administrator closed the office: not a working day."""

    __tablename__ = "closure_day"

    authority_code: Mapped[str] = mapped_column(ForeignKey("authority.code"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    added_by: Mapped[str] = mapped_column(String(120))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class Recipient(Base):
    """An entry of an authority's directory of addressees (issue 24): who ``name`` is, the
    audience it answers for (``commission``, ``kp-authority:CA``, ``customs``, …), and its
    channel as an address: ``peer:`` (a caratflow node), ``mailto:``, ``https://``, or
    ``log:`` (development only: nobody receives it)."""

    __tablename__ = "recipient"
    __table_args__ = (UniqueConstraint("authority_code", "audience", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    authority_code: Mapped[str] = mapped_column(ForeignKey("authority.code"))
    audience: Mapped[str] = mapped_column(String(60))
    address: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class Deadline(Base):
    """A legal clock: opened by a decision, met, cancelled, suspended or missed.

    ``next_at`` is when the sweep must look at the row again (the next reminder, or the
    end of the due day); only open rows are in its index.
    """

    __tablename__ = "deadline"
    __table_args__ = (
        Index(
            "ix_deadline_sweep",
            "next_at",
            postgresql_where=OPEN_DEADLINE,
            sqlite_where=OPEN_DEADLINE,
        ),
        Index("ix_deadline_board", "authority_code", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    authority_code: Mapped[str] = mapped_column(ForeignKey("authority.code"))
    shipment_id: Mapped[int | None] = mapped_column(
        ForeignKey("shipment.id", ondelete="CASCADE"), index=True
    )
    rule: Mapped[str] = mapped_column(String(80))
    basis: Mapped[str] = mapped_column(String(200))
    plugin: Mapped[str] = mapped_column(String(60))
    period: Mapped[str] = mapped_column(String(40))
    status: Mapped[DeadlineStatus] = mapped_column(
        _enum(DeadlineStatus, "deadline_status"), default=DeadlineStatus.OPEN
    )
    starts_at: Mapped[datetime]
    starts_on: Mapped[date]
    due_on: Mapped[date]
    due_at: Mapped[datetime]
    next_at: Mapped[datetime | None]
    reminders: Mapped[list[Any]] = mapped_column(default=list)
    reminders_sent: Mapped[int] = mapped_column(default=0)
    escalate_to: Mapped[list[Any]] = mapped_column(default=list)
    schedule: Mapped[int] = mapped_column(default=1)  # +1 each time the due date moves
    sealed_changes: Mapped[int] = mapped_column(default=0)  # its leaves so far (issue 28)
    suspended_on: Mapped[date | None]
    suspended_days: Mapped[int] = mapped_column(default=0)
    opened_by_event_id: Mapped[int | None] = mapped_column(
        ForeignKey("event.id", ondelete="SET NULL"), index=True
    )
    closed_by_event_id: Mapped[int | None] = mapped_column(
        ForeignKey("event.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    met_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)

    shipment: Mapped[Shipment | None] = relationship(
        backref=backref("deadlines", order_by="Deadline.id", passive_deletes=True)
    )


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the last retry
    CANCELLED = "cancelled"  # a reminder whose deadline closed before it went out
    # issue 24: a legal notice with no addressee in the directory; never sent to the log,
    # it waits (red on the board, its supervisors told) until an addressee is added
    UNDELIVERABLE = "undeliverable"


class OutboxMessage(Base):
    """A message to deliver at least once; ``key`` lets its recipient drop a duplicate.

    Claiming a message moves ``next_attempt_at`` one lease ahead, so a worker that dies
    while sending gives it back when the lease runs out.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (
        Index(
            "ix_outbox_message_dispatch",
            "next_attempt_at",
            postgresql_where=PENDING_MESSAGE,
            sqlite_where=PENDING_MESSAGE,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    authority_code: Mapped[str | None] = mapped_column(ForeignKey("authority.code"))
    shipment_id: Mapped[int | None] = mapped_column(
        ForeignKey("shipment.id", ondelete="SET NULL"), index=True
    )
    deadline_id: Mapped[int | None] = mapped_column(
        ForeignKey("deadline.id", ondelete="SET NULL"), index=True
    )
    fulfils_deadline: Mapped[bool] = mapped_column(default=False)
    kind: Mapped[str] = mapped_column(String(20))
    audience: Mapped[str] = mapped_column(String(60))
    address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[OutboxStatus] = mapped_column(
        _enum(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    scheduled_for: Mapped[datetime]
    late: Mapped[bool] = mapped_column(default=False)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


# --------------------------------------------------------------------------------------
# Web sign-in and access (issue 9; logic in caratflow.accounts and caratflow.case.foureyes).
# Browser sessions live server-side so that signing out, an idle timeout or disabling a
# user ends them at once; sign-ins and refused access are recorded as security events
# (to be sealed in the ledger); administrators' TOTP secrets and each user's language
# sit in a profile; an authority may ask a second officer to confirm some decisions.
# --------------------------------------------------------------------------------------


class WebSession(Base):
    """A signed-in browser session: the cookie carries a token, the row only its digest."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    reauthenticated_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User] = relationship()


class SecurityEvent(Base):
    """A sign-in, a failed one, a sign-out, a refused access: who, from where, when.

    ``authorities`` are those of the user concerned, so that each authority's
    supervisors and auditors see their own; the throttle counts recent failures by
    name and by address through the two indexes.
    """

    __tablename__ = "security_event"
    __table_args__ = (
        Index("ix_security_event_kind_user_at", "kind", "user_name", "at"),
        Index("ix_security_event_kind_addr_at", "kind", "remote_addr", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    user_name: Mapped[str | None] = mapped_column(String(120))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str | None] = mapped_column(String(300))
    authorities: Mapped[list[Any]] = mapped_column(default=list)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # issue 21: repeated anonymous refusals from one address are one row, counted
    count: Mapped[int] = mapped_column(default=1, server_default="1")
    last_at: Mapped[datetime | None]


class UserProfile(Base):
    """What a person chose (language) and what signs them in (their TOTP secret)."""

    __tablename__ = "user_profile"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    locale: Mapped[str | None] = mapped_column(String(16))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_confirmed_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]  # a code is good once: ASVS 2.8.4


class AuthoritySetting(Base):
    """An authority's own choices: which decisions need a second officer (four eyes)."""

    __tablename__ = "authority_setting"

    authority_code: Mapped[str] = mapped_column(ForeignKey("authority.code"), primary_key=True)
    four_eyes: Mapped[list[Any]] = mapped_column(default=list)
    changed_by: Mapped[str] = mapped_column(String(120), default="")
    changed_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PendingDecision(Base):
    """A decision one officer asked for that waits for a second officer's confirmation."""

    __tablename__ = "pending_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(
        ForeignKey("shipment.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    shipment_version: Mapped[int]  # what the requester saw; a later change makes it stale
    requested_by: Mapped[str] = mapped_column(String(120))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="open")
    closed_by: Mapped[str | None] = mapped_column(String(120))
    closed_at: Mapped[datetime | None]


class CaseClaim(Base):
    """An officer saying "I am on this case" (issue 26): shown to colleagues, never a lock
    on the law (anyone the law lets decide still may); released by the officer, or taken
    over by a colleague, openly."""

    __tablename__ = "case_claim"

    shipment_id: Mapped[int] = mapped_column(
        ForeignKey("shipment.id", ondelete="CASCADE"), primary_key=True
    )
    claimed_by: Mapped[str] = mapped_column(String(120), index=True)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkDigest(Base):
    """An officer's opt-in to a daily e-mail of "My work" (issue 26): to which address, at
    what time of day in the zone of the officer's authority, and the last legal day it
    went, which the sender claims by row so that each day's goes exactly once."""

    __tablename__ = "work_digest"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    address: Mapped[str] = mapped_column(String(320))  # an e-mail address
    send_at: Mapped[time]  # local time of day
    last_sent_on: Mapped[date | None]


# The shipment list pages newest first within an authority, optionally by state: both
# walk an index in order and stop after one page, however many rows are stored.
Index("ix_shipment_authority_id", Shipment.authority_code, Shipment.id)
# The dashboard's decisions per week read the last weeks' events by their legal date.
Index("ix_event_legal_date", Event.legal_date)
Index("ix_shipment_authority_state_id", Shipment.authority_code, Shipment.state, Shipment.id)


# --------------------------------------------------------------------------------------
# The ledger and the documents an authority issues (issue 5; logic in caratflow.ledger
# and caratflow.records.documents). A ledger entry seals one record (a decision, an issued
# document, a status change, a digital identity) in the transaction that writes it; the
# sequencer later gives it its place in the Merkle tree (``seq``), stores the tree's
# perfect subtrees and signs a tree head, so writers never queue on one row.
# --------------------------------------------------------------------------------------

PENDING_ENTRY = text("seq IS NULL")


class LedgerEntry(Base):
    """One leaf: the canonical JSON of a sealed record, and its place once sequenced.

    The key is the record it seals (``kind``, ``record_key``): a record is sealed once.
    ``leaf_data`` holds the exact bytes hashed (RFC 9162 leaf = SHA-256(0x00 ‖ data)).
    """

    __tablename__ = "ledger_entry"
    __table_args__ = (
        Index(
            "ix_ledger_entry_pending",
            "logged_at",
            postgresql_where=PENDING_ENTRY,
            sqlite_where=PENDING_ENTRY,
        ),
    )

    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    record_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    logged_at: Mapped[datetime] = mapped_column(default=utcnow)
    leaf_data: Mapped[str] = mapped_column(Text)
    # issue 25: HMAC-SHA256 of the leaf with a key the database does not hold, and its id
    key_id: Mapped[str | None] = mapped_column(String(16))
    mac: Mapped[str | None] = mapped_column(String(64))


class LedgerNode(Base):
    """The hash of a perfect subtree of 2^level leaves; written once, never changed."""

    __tablename__ = "ledger_node"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerTreeHead(Base):
    """A signed tree head (caratflow.ledger.signing.SignedTreeHead), one per sequencing batch.

    ``previous_size`` chains each head to the one before, so a deleted head is noticed.
    """

    __tablename__ = "ledger_tree_head"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    previous_size: Mapped[int | None] = mapped_column(BigInteger)
    root_hash: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(String(100))


class DocumentStatus(StrEnum):
    """What became of an issued document; "expired" is not stored, it follows from the date."""

    VALID = "valid"
    RETURNED = "returned"  # e.g. an unused EU certificate, Reg. (EC) 2368/2002 Art. 12(5)
    REVOKED = "revoked"


class IssuedDocument(Base):
    """A certificate or certified copy an authority issued: what it says, sealed, and its PDF.

    ``content`` is what the plugin declared (title, statement, fields) with the issuer and
    the check address; ``digest`` is the SHA-256 of the document's canonical form (number,
    dates, signer, content), sealed with the decision that issued it. ``pdf`` is rendered
    from that form after the decision commits (issue 28: by the worker, or at the first
    download) and cached; ``signature`` is the detached Ed25519 signature of ``pdf``.
    Documents issued before the digest existed have no ``digest`` and were rendered at once.
    """

    __tablename__ = "issued_document"
    __table_args__ = (UniqueConstraint("kind", "authority_code", "serial"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(80))
    serial: Mapped[int] = mapped_column(BigInteger)
    authority_code: Mapped[str] = mapped_column(ForeignKey("authority.code"))
    shipment_id: Mapped[int | None] = mapped_column(  # NULL once the shipment is purged
        ForeignKey("shipment.id", ondelete="SET NULL"), index=True
    )
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_on: Mapped[date]
    valid_until: Mapped[date | None]
    actor: Mapped[str] = mapped_column(String(120))
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[DocumentStatus] = mapped_column(
        _enum(DocumentStatus, "document_status"), default=DocumentStatus.VALID
    )
    digest: Mapped[str | None] = mapped_column(String(64))
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str | None] = mapped_column(String(100))

    authority: Mapped[Authority] = relationship()
    status_changes: Mapped[list[DocumentStatusChange]] = relationship(
        back_populates="document",
        cascade="all, delete-orphan",
        order_by="DocumentStatusChange.id",
        passive_deletes=True,
    )


class DocumentStatusChange(Base):
    """A document returned or revoked: who, when, why (each one sealed in the ledger)."""

    __tablename__ = "document_status_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("issued_document.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[DocumentStatus] = mapped_column(_enum(DocumentStatus, "document_status"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text)

    document: Mapped[IssuedDocument] = relationship(back_populates="status_changes")


# --------------------------------------------------------------------------------------
# Digital identities of diamonds and their lineage (issue 8; logic in
# caratflow.plugins.belgium_g7.identities, LAW.md g7.digital_identity and g7.lineage).
# The ledger leaf of an identity is its authoritative record; these rows index it so
# that lineage walks (a recursive CTE over ``identity_cut``) and the weight check (the
# parent row locked, its cuts summed) run in SQL. Identities are never edited.
# --------------------------------------------------------------------------------------


class IdentityKind(StrEnum):
    ROUGH_PARCEL = "rough_parcel"  # where a lineage starts: mining countries with shares
    INTERMEDIATE = "intermediate"  # sawn or part-cut rough, between a parcel and a stone
    POLISHED = "polished"
    SYNTHETIC = "synthetic"  # its origin is the country of production


class DigitalIdentity(Base):
    """A parcel's or a stone's digital identity, as the control point registered it.

    ``number`` is the public ID (it starts with the authority's code, so authorities never
    collide); ``origin`` holds the declared shares of a lineage's start (``{"CA": "60"}``,
    percent), ``origin_countries`` the declared or inherited countries.
    """

    __tablename__ = "digital_identity"
    __table_args__ = (CheckConstraint("carats > 0", name="carats_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(100), unique=True)
    authority_code: Mapped[str] = mapped_column(ForeignKey("authority.code"))
    kind: Mapped[IdentityKind] = mapped_column(_enum(IdentityKind, "identity_kind"))
    carats: Mapped[Decimal] = mapped_column(Carats())
    origin: Mapped[dict[str, Any]] = mapped_column(default=dict)
    origin_countries: Mapped[list[Any]] = mapped_column(default=list)
    documents: Mapped[list[Any]] = mapped_column(default=list)  # SHA-256 hex digests
    registered_on: Mapped[date]  # the legal date, in the authority's zone
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    registered_by: Mapped[str] = mapped_column(String(120))


class IdentityCut(Base):
    """One edge of a lineage: ``carats`` of the child were cut from the parent.

    The carats of all cuts from one parent never exceed the parent's (LAW.md g7.lineage);
    the primary key serves the walk down and the sum, the child index the walk up.
    """

    __tablename__ = "identity_cut"
    __table_args__ = (
        CheckConstraint("carats > 0", name="carats_positive"),
        CheckConstraint("parent_id <> child_id", name="not_its_own_parent"),
    )

    parent_id: Mapped[int] = mapped_column(ForeignKey("digital_identity.id"), primary_key=True)
    child_id: Mapped[int] = mapped_column(
        ForeignKey("digital_identity.id"), primary_key=True, index=True
    )
    carats: Mapped[Decimal] = mapped_column(Carats())


# --------------------------------------------------------------------------------------
# Exchange between authorities (issue 10; logic in caratflow.exchange). A peer is another
# authority's caratflow node as this authority registered it: where to reach it, the
# Ed25519 key its messages must carry, the message types it may send here. A received
# message is stored once per (receiving authority, peer, message id), with the signed
# content as it arrived, and sealed in the ledger in the same transaction.
# --------------------------------------------------------------------------------------


class Peer(Base):
    """Another authority's node, registered by this one (``caratflow peers add``)."""

    __tablename__ = "peer"
    __table_args__ = (UniqueConstraint("authority_code", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    authority_code: Mapped[str] = mapped_column(ForeignKey("authority.code"))
    code: Mapped[str] = mapped_column(String(16))  # the remote authority's code
    name: Mapped[str] = mapped_column(String(200))
    base_url: Mapped[str] = mapped_column(String(300))
    public_key: Mapped[str] = mapped_column(Text)  # SubjectPublicKeyInfo PEM, Ed25519
    accepts: Mapped[list[Any]] = mapped_column(default=list)  # message types taken from it
    added_by: Mapped[str] = mapped_column(String(120), default="")
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExchangeMessage(Base):
    """A message a peer sent this authority, as signed; ``reference`` is the certificate
    number it concerns, if any, so that rules and reports find it."""

    __tablename__ = "exchange_message"
    __table_args__ = (
        UniqueConstraint("authority_code", "peer_code", "message_id"),
        Index("ix_exchange_message_reference", "authority_code", "reference"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    authority_code: Mapped[str] = mapped_column(ForeignKey("authority.code"))
    peer_code: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(80))
    reference: Mapped[str | None] = mapped_column(String(40))
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
