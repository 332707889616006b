"""Digital identities of parcels and stones, and their lineage from rough to polished.

LAW.md g7.digital_identity: every rough parcel, and every polished or synthetic stone from
the weight in force (``parameters/identities.toml``), gets a digital identity registered
by the control point that checked it and sealed as a leaf of the ledger, the
tamper-evident platform of the communiqué. LAW.md g7.lineage: a stone is registered with
the parents it was cut from (rough parcels or intermediate stones, any number of cuts
away); it inherits their origin, and the carats cut from a parent never exceed the
parent's.

An identity is one sealed fact: its lineage is given when it is registered (``parents``)
and never changes afterwards, so the leaf that seals the stone also seals where it came
from, and there is never a stone without its lineage.

- ``register_identity`` / ``register_identities``: check, lock the parents, check the
  weight, write the rows and the ledger leaves in the caller's transaction.
- ``lookup``: the record with its inclusion proof, or "pending" until the sequencer ran.
- ``lineage_graph``: ancestors up to the roots and descendants (recursive CTEs).
- ``lineage_is_clean``: every stone traced to rough parcels of documented non-Russian
  origin, the condition the G7 certificate will check.
- Two rules for shipments of polished and synthetic goods whose ``stones`` name their
  digital identity (``[{"id": "GIA-2231", "identity": "BE-GIA-2231", "carats": "0.70"}]``):
  g7.digital_identity (stones from the weight in force carry one) and g7.lineage (their
  lineage is clean).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from caratflow.case import access
from caratflow.case.access import Actor
from caratflow.case.schemas import Carats, CountryCode, field_errors
from caratflow.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from caratflow.law.rules import Case, Finding, LawForbids, Outcome
from caratflow.ledger import leaves, sealing
from caratflow.models import Authority, DigitalIdentity, IdentityCut, IdentityKind
from caratflow.plugins.belgium_g7.fields import Stone
from caratflow.plugins.belgium_g7.rules import PARAMETERS, RULES

PLUGIN = RULES.plugin


REGISTER = "register_identity"  # the action a refused registration names


WHOLE = Decimal(100)


QUANTUM = Decimal("0.0001")  # the scale of the carats columns


MAX_GRAPH_NODES = 500  # each way, so that a parcel cut into thousands of stones stays readable


TRACE_CHUNK = 1_000  # identities per query when tracing many


NUMBER = r"^[A-Z0-9]{1,16}-[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"
"""An identity's ID: its control point's code, a hyphen, and the serial or lot number the
trade knows it by (LAW.md nl.trace.serial_lot), e.g. ``BE-GIA-2231``."""


_NUMBER = re.compile(NUMBER)


# Which identities a registration may name as parents (natural and synthetic never mix).
NATURAL_PARENTS = frozenset({IdentityKind.ROUGH_PARCEL, IdentityKind.INTERMEDIATE})


PARENT_KINDS: Mapping[IdentityKind, frozenset[IdentityKind]] = {
    IdentityKind.ROUGH_PARCEL: frozenset(),
    IdentityKind.INTERMEDIATE: NATURAL_PARENTS,
    IdentityKind.POLISHED: NATURAL_PARENTS,
    IdentityKind.SYNTHETIC: frozenset({IdentityKind.SYNTHETIC}),
}


KIND_WORDS = {
    IdentityKind.ROUGH_PARCEL: "a rough parcel",
    IdentityKind.INTERMEDIATE: "an intermediate stone",
    IdentityKind.POLISHED: "a polished stone",
    IdentityKind.SYNTHETIC: "a synthetic stone",
}


# What a shipment's goods must be registered as, for its stones' identities to match.
KIND_OF_GOODS = {"polished": IdentityKind.POLISHED, "synthetic": IdentityKind.SYNTHETIC}


IdentityNumber = Annotated[str, StringConstraints(pattern=NUMBER)]


Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$"), AfterValidator(str.lower)]


Share = Annotated[Decimal, Field(gt=0, le=100, max_digits=8, decimal_places=4, allow_inf_nan=False)]


class ParentIn(BaseModel):
    """A parent the stone was cut from, and how many of the stone's carats came from it
    (needed only when a stone has several parents)."""

    model_config = ConfigDict(extra="forbid")  # IDs as sent: nothing stripped

    id: IdentityNumber
    carats: Carats | None = None


class IdentityIn(BaseModel):
    """A parcel or stone to register: what the control point checked.

    ``origin`` is for where a lineage starts (a rough parcel, a synthetic's production, or
    a stone imported without its rough): mining countries with their share in percent. A
    stone cut here names its ``parents`` instead, and inherits their origin.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "BE-GIA-2231",
                    "kind": "polished",
                    "carats": "1.02",
                    "documents": [
                        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                    ],
                    "parents": [{"id": "BE-R-7741"}],
                }
            ]
        },
    )

    id: IdentityNumber
    authority: Annotated[str, StringConstraints(min_length=1, max_length=16)] | None = None
    kind: IdentityKind
    carats: Carats
    origin: Annotated[dict[CountryCode, Share], Field(max_length=60)] = Field(
        default_factory=dict, description='percent by country, e.g. {"CA": "60", "BW": "40"}'
    )
    documents: Annotated[list[Sha256], Field(max_length=100)] = Field(
        default_factory=list, description="SHA-256 of each document the control point checked"
    )
    parents: Annotated[list[ParentIn], Field(max_length=100)] = Field(default_factory=list)


def parse_identity(payload: Any, where: str = "") -> IdentityIn:
    """Validate one identity, or raise ``InvalidInput`` naming every bad field."""
    if not isinstance(payload, Mapping):
        raise InvalidInput([FieldError(where or "$", "an identity must be a JSON object")])
    try:
        parsed = IdentityIn.model_validate(dict(payload))
    except ValidationError as error:
        raise InvalidInput(
            [FieldError(f"{where}{e.field}", e.message) for e in field_errors(error)]
        ) from None
    errors = _lineage_shape(parsed, where)
    if errors:
        raise InvalidInput(errors)
    return parsed


def _lineage_shape(item: IdentityIn, where: str) -> list[FieldError]:
    """What a registration must say about where the goods came from, before any look-up."""
    errors = []
    allowed = PARENT_KINDS[item.kind]
    if item.parents and not allowed:
        errors.append(
            FieldError(f"{where}parents", "a rough parcel is where a lineage starts: no parents")
        )
    if item.parents and item.origin:
        errors.append(
            FieldError(
                f"{where}origin",
                "inherited from the parents (g7.lineage): leave it out when parents are named",
            )
        )
    if not item.parents and not item.origin:
        errors.append(
            FieldError(
                f"{where}origin",
                "required where a lineage starts: the countries of mining (or of production) "
                'with their share in percent, e.g. {"CA": "60", "BW": "40"}',
            )
        )
    if sum(item.origin.values(), Decimal(0)) > WHOLE:
        errors.append(FieldError(f"{where}origin", "the shares add up to more than 100%"))
    named = [p.id for p in item.parents]
    if len(set(named)) != len(named):
        errors.append(FieldError(f"{where}parents", "name each parent once"))
    if item.id in named:
        errors.append(FieldError(f"{where}parents", "an identity is not its own parent"))
    if len(item.parents) > 1:
        for index, parent in enumerate(item.parents):
            if parent.carats is None:
                errors.append(
                    FieldError(
                        f"{where}parents.{index}.carats",
                        "required when a stone has several parents: the carats cut from this one",
                    )
                )
    portions = [p.carats for p in item.parents if p.carats is not None]
    if item.parents and len(portions) == len(item.parents) and sum(portions) != item.carats:
        errors.append(
            FieldError(
                f"{where}parents",
                f"the carats cut from the parents add up to {sum(portions)}, not the "
                f"{item.carats} ct registered",
            )
        )
    return errors


def identity_threshold(on: date) -> Decimal | None:
    """The weight from which polished and synthetic stones carry their own identity on
    ``on``; ``None`` before the G7 system."""
    value = PARAMETERS.value("digital_identity_min_carats", on)
    return None if value == "none" else Decimal(value)


def identity_required(kind: IdentityKind | str, carats: Decimal, on: date) -> bool:
    """Must goods of this kind and weight carry a digital identity on ``on``?

    Every rough parcel does; a polished or synthetic stone from the weight in force; an
    intermediate stone is registered where a lineage needs it, never by duty.
    """
    kind = IdentityKind(kind)
    if kind == IdentityKind.ROUGH_PARCEL:
        return identity_threshold(on) is not None
    if kind == IdentityKind.INTERMEDIATE:
        return False
    threshold = identity_threshold(on)
    return threshold is not None and carats >= threshold


def sanctioned_on(on: date) -> frozenset[str]:
    """The countries whose diamonds are banned on ``on`` (the plugin's dated list)."""
    return frozenset(PARAMETERS.value("sanctioned_countries", on))


def g7_authorities(session: Session, actor: Actor) -> list[Authority]:
    """The authorities the actor acts for that keep G7 digital identities."""
    found = session.scalars(select(Authority).order_by(Authority.code))
    return [a for a in found if PLUGIN in a.plugins and actor.may_act_for(a.code)]


def require_g7(session: Session, actor: Actor) -> set[str]:
    codes = {a.code for a in g7_authorities(session, actor)}
    if not codes:
        raise Forbidden(
            f"{actor.name} acts for no authority that keeps G7 digital identities "
            f"(the {PLUGIN} plugin is not enabled for "
            f"{', '.join(sorted(actor.authorities or ())) or 'any of them'})"
        )
    return codes


def _registering_authority(
    session: Session, code: str | None, actor: Actor, where: str
) -> Authority:
    if code is None:  # the one authority of the actor's that keeps identities, if only one
        keeping = g7_authorities(session, actor) if actor.authorities is not None else []
        if len(keeping) != 1:
            if not keeping and actor.authorities:
                require_g7(session, actor)  # says why: none of them keeps identities
            raise InvalidInput([FieldError(f"{where}authority", "required: name the authority")])
        code = keeping[0].code
    authority = session.get(Authority, code)
    if authority is None:
        raise InvalidInput([FieldError(f"{where}authority", f"unknown authority {code!r}")])
    if not actor.may_act_for(code):
        raise Forbidden(f"{actor.name} does not act for authority {code}")
    if PLUGIN not in authority.plugins:
        raise Forbidden(
            f"authority {code} does not keep G7 digital identities: the {PLUGIN} plugin is "
            "not enabled for it"
        )
    return authority


@dataclass(frozen=True)
class _Parent:
    id: int
    number: str
    authority_code: str
    kind: IdentityKind
    carats: Decimal
    origin_countries: tuple[str, ...]


def register_identity(
    session: Session, payload: Any, actor: Actor, *, now: datetime | None = None
) -> str:
    """Register one parcel or stone in the caller's transaction; its number (its proof is
    pending until the sequencer runs: ``lookups.lookup`` shows it)."""
    [number] = register_identities(session, [payload], actor, now=now, single=True)
    return number


def register_identities(
    session: Session,
    payloads: Sequence[Any],
    actor: Actor,
    *,
    now: datetime | None = None,
    single: bool = False,
) -> list[str]:
    """Register a batch of identities, all or none, in the caller's transaction.

    Each gets a row (and a row per parent it was cut from) and its ledger leaf. Parents
    must be registered before (an earlier batch or call); they are locked (``FOR UPDATE``
    on PostgreSQL; SQLite has one writer, taken first) so that two registrations against
    one parent cannot both pass the weight check. Raises ``InvalidInput`` (422, every bad
    field), ``Forbidden`` (403), ``Conflict`` (409: an ID registered already) or
    ``LawForbids`` (422, g7.lineage: more carats cut from a parent than it had).
    """
    access.require(actor, access.Permission.DECIDE)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    items: list[tuple[IdentityIn, Authority]] = []
    errors: list[FieldError] = []
    authorities: dict[str | None, Authority] = {}
    for index, payload in enumerate(payloads):
        where = "" if single else f"{index}."
        try:
            item = parse_identity(payload, where)
        except InvalidInput as invalid:
            errors.extend(invalid.errors)
            continue
        if item.authority not in authorities:
            authorities[item.authority] = _registering_authority(
                session, item.authority, actor, where
            )
        authority = authorities[item.authority]
        if not item.id.startswith(f"{authority.code}-"):
            errors.append(
                FieldError(
                    f"{where}id", f"must start with the control point's code: {authority.code}-"
                )
            )
        items.append((item, authority))
    numbers = [item.id for item, _ in items]
    if len(set(numbers)) != len(numbers):
        errors.append(FieldError("$", "the same ID is given twice"))
    if errors:
        raise InvalidInput(errors)
    _refuse_registered(session, numbers)

    parents = _lock_parents(session, {p.id for item, _ in items for p in item.parents})
    errors = _parent_errors(items, parents, single)
    if errors:
        raise InvalidInput(errors)
    _conserve_weight(session, items, parents)

    rows = [_row(item, authority, parents, actor, moment) for item, authority in items]
    table = DigitalIdentity.__table__
    try:
        with session.begin_nested():
            ids = dict(
                session.execute(insert(table).returning(table.c.number, table.c.id), rows).all()
            )
            cuts = [
                {
                    "parent_id": parents[p.id].id,
                    "child_id": ids[item.id],
                    "carats": _portion(item, p),
                }
                for item, _ in items
                for p in item.parents
            ]
            if cuts:
                session.execute(insert(IdentityCut.__table__), cuts)
            sealing.record_digital_identities(
                session,
                [
                    (
                        item.id,
                        identity_record(row, [(p.id, _portion(item, p)) for p in item.parents]),
                    )
                    for row, (item, _) in zip(rows, items, strict=True)
                ],
            )
    except IntegrityError:
        raise Conflict(
            "one of these IDs was registered meanwhile: a digital identity is registered once"
        ) from None
    return numbers


def _refuse_registered(session: Session, numbers: Sequence[str]) -> None:
    taken: list[str] = []
    for first in range(0, len(numbers), TRACE_CHUNK):
        chunk = numbers[first : first + TRACE_CHUNK]
        taken += session.scalars(
            select(DigitalIdentity.number).where(DigitalIdentity.number.in_(chunk))
        )
    if taken:
        raise Conflict(
            f"{', '.join(sorted(taken)[:10])} registered already: a digital identity is "
            "registered once and never changes (g7.digital_identity)"
        )


def _lock_parents(session: Session, numbers: Iterable[str]) -> dict[str, _Parent]:
    """The parents, locked against concurrent cuts until the transaction ends."""
    wanted = sorted(numbers)
    if not wanted:
        return {}
    if session.get_bind().dialect.name == "sqlite":
        # Take SQLite's one write lock before reading, so no writer slips in between.
        session.execute(text("UPDATE digital_identity SET id = id WHERE 0 = 1"))
    table = DigitalIdentity.__table__
    found: dict[str, _Parent] = {}
    for first in range(0, len(wanted), TRACE_CHUNK):
        rows = session.execute(
            select(
                table.c.id,
                table.c.number,
                table.c.authority_code,
                table.c.kind,
                table.c.carats,
                table.c.origin_countries,
            )
            .where(table.c.number.in_(wanted[first : first + TRACE_CHUNK]))
            .order_by(table.c.id)  # one order for every writer: no deadlock between them
            .with_for_update()
        )
        for row in rows:
            found[row.number] = _Parent(
                row.id,
                row.number,
                row.authority_code,
                IdentityKind(row.kind),
                exact_carats(row.carats),
                tuple(row.origin_countries),
            )
    return found


def _parent_errors(
    items: Sequence[tuple[IdentityIn, Authority]], parents: Mapping[str, _Parent], single: bool
) -> list[FieldError]:
    errors = []
    for index, (item, authority) in enumerate(items):
        where = "" if single else f"{index}."
        for position, named in enumerate(item.parents):
            parent = parents.get(named.id)
            if parent is None or parent.authority_code != authority.code:
                errors.append(
                    FieldError(
                        f"{where}parents.{position}.id",
                        f"no digital identity {named.id} at {authority.code}: register the "
                        "parent first",
                    )
                )
            elif parent.kind not in PARENT_KINDS[item.kind]:
                allowed = " or ".join(sorted(KIND_WORDS[k] for k in PARENT_KINDS[item.kind]))
                errors.append(
                    FieldError(
                        f"{where}parents.{position}.id",
                        f"{named.id} is {KIND_WORDS[parent.kind]}: {KIND_WORDS[item.kind]} is "
                        f"cut from {allowed}",
                    )
                )
    return errors


def _conserve_weight(
    session: Session, items: Sequence[tuple[IdentityIn, Authority]], parents: Mapping[str, _Parent]
) -> None:
    """LAW.md g7.lineage: what is cut from a parent never weighs more than the parent."""
    if not parents:
        return
    cut = IdentityCut.__table__
    by_id = {p.id: p for p in parents.values()}
    already: dict[int, Decimal] = defaultdict(Decimal)
    ids = sorted(by_id)
    for first in range(0, len(ids), TRACE_CHUNK):
        sums = session.execute(
            select(cut.c.parent_id, func.sum(cut.c.carats))
            .where(cut.c.parent_id.in_(ids[first : first + TRACE_CHUNK]))
            .group_by(cut.c.parent_id)
        )
        for parent_id, total in sums:
            already[parent_id] = exact_carats(total)
    version = RULES.version("g7.lineage")
    refusals = []
    for item, _ in items:
        for named in item.parents:
            parent = parents[named.id]
            portion = _portion(item, named)
            if already[parent.id] + portion > parent.carats:
                refusals.append(
                    Finding(
                        version.id,
                        Outcome.REFUSE,
                        version.basis,
                        f"{item.id} ({portion} ct) would bring the carats cut from {parent.number} "
                        f"to {already[parent.id] + portion} ct, more than its {parent.carats} ct: "
                        "polished carats can never exceed the rough they came from",
                        version.effective_from,
                        {
                            "parent": parent.number,
                            "parent_carats": str(parent.carats),
                            "already_cut": str(already[parent.id]),
                            "requested": str(portion),
                        },
                    )
                )
            already[parent.id] += portion
    if refusals:
        raise LawForbids(REGISTER, refusals)


def _portion(item: IdentityIn, parent: ParentIn) -> Decimal:
    return (parent.carats if parent.carats is not None else item.carats).quantize(QUANTUM)


def _row(
    item: IdentityIn,
    authority: Authority,
    parents: Mapping[str, _Parent],
    actor: Actor,
    moment: datetime,
) -> dict[str, Any]:
    if item.parents:  # inherited: each parent holds its own declared or inherited countries
        countries = sorted({c for p in item.parents for c in parents[p.id].origin_countries})
    else:
        countries = sorted(item.origin)
    return {
        "number": item.id,
        "authority_code": authority.code,
        "kind": item.kind,
        "carats": item.carats.quantize(QUANTUM),
        "origin": {country: share_text(share) for country, share in sorted(item.origin.items())},
        "origin_countries": countries,
        "documents": sorted(set(item.documents)),
        "registered_on": authority.local_date(moment),
        "registered_at": moment,
        "registered_by": actor.name,
    }


exact_carats = leaves.exact_carats


def share_text(share: Decimal) -> str:
    return format(share.normalize(), "f")


identity_record = leaves.sealed_identity
"""What the ledger seals of an identity (``caratflow.ledger.leaves``, where verify rebuilds it)."""


def session_of(case: Case) -> Session:
    """The unit of work the case is assessed in (the authority row is always loaded in it)."""
    session = object_session(case.shipment) or object_session(case.shipment.authority)
    if session is None:
        raise RuntimeError("a G7 identity rule needs the shipment's session")
    return session


def identity_of(stone: Stone) -> str | None:
    named = stone.identity
    return named if named and _NUMBER.match(named) else None


def stone_label(stone: Stone) -> str:
    return stone.identity or stone.id or stone.lot or "?"


def visible_row(session: Session, number: str, visible: set[str]) -> Mapping[str, Any]:
    if not isinstance(number, str) or not _NUMBER.match(number):
        raise NotFound(f"no digital identity {number!r}")
    table = DigitalIdentity.__table__
    row = session.execute(select(table).where(table.c.number == number)).mappings().one_or_none()
    if row is None or row["authority_code"] not in visible:
        raise NotFound(f"no digital identity {number}")
    return row
