"""The engine's records: SQLAlchemy 2 typed models. Schema changes go through Alembic."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Column,
    Enum,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

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
    """A controlling authority: its country, legal time zone and the plugins that apply to it."""

    __tablename__ = "authority"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    zone: Mapped[str] = mapped_column(String(64))
    subdivision: Mapped[str | None] = mapped_column(String(16))
    plugins: Mapped[list[Any]] = mapped_column(default=list)


user_authority = Table(
    "user_authority",
    Base.metadata,
    Column("user_id", ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    Column("authority_code", ForeignKey("authority.code"), primary_key=True),
)


class User(Base):
    """A person (or an integration) acting for one or more authorities in one role."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    authorities: Mapped[list[Authority]] = relationship(secondary=user_authority)


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored, the token is shown once."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
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


class Shipment(Base):
    """A consignment under control; ``version`` guards against lost updates."""

    __tablename__ = "shipment"
    __table_args__ = (
        UniqueConstraint("authority_code", "idempotency_key"),
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
    exporter_name: Mapped[str] = mapped_column(String(200))
    exporter_address: Mapped[str] = mapped_column(Text)
    importer_name: Mapped[str] = mapped_column(String(200))
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
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipment.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(40))
    seals: Mapped[list[Any]] = mapped_column(default=list)
    seals_intact: Mapped[bool]

    shipment: Mapped[Shipment] = relationship(back_populates="containers")


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
    findings: Mapped[list[FindingRecord]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="FindingRecord.id"
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
