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
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
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

from caratflow import access, ledger
from caratflow.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    LawForbids,
    NotFound,
)
from caratflow.law import Case, Finding, Outcome, Verdict, hold, info, passed, refuse
from caratflow.ledger import InclusionProof, SealedEntry
from caratflow.models import Authority, DigitalIdentity, IdentityCut, IdentityKind
from caratflow.plugins.belgium_g7.rules import PARAMETERS, RULES, stones
from caratflow.schemas import Carats, CountryCode, field_errors
from caratflow.service import Actor

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


# ---------------------------------------------------------------------------- input

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

    model_config = ConfigDict(extra="forbid")

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


# ---------------------------------------------------------------------------- parameters


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


# ---------------------------------------------------------------------------- access


def g7_authorities(session: Session, actor: Actor) -> list[Authority]:
    """The authorities the actor acts for that keep G7 digital identities."""
    found = session.scalars(select(Authority).order_by(Authority.code))
    return [a for a in found if PLUGIN in a.plugins and actor.may_act_for(a.code)]


def _require_g7(session: Session, actor: Actor) -> set[str]:
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
                _require_g7(session, actor)  # says why: none of them keeps identities
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


# ---------------------------------------------------------------------------- registering


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
) -> IdentityView:
    """Register one parcel or stone in the caller's transaction; its view, proof pending."""
    [number] = register_identities(session, [payload], actor, now=now, single=True)
    return lookup(session, number, actor)


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
            ledger.record_digital_identities(
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
                _exact(row.carats),
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
            already[parent_id] = _exact(total)
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
        "origin": {country: _share_text(share) for country, share in sorted(item.origin.items())},
        "origin_countries": countries,
        "documents": sorted(set(item.documents)),
        "registered_on": authority.local_date(moment),
        "registered_at": moment,
        "registered_by": actor.name,
    }


def _exact(carats: Any) -> Decimal:
    """Carats at the columns' full scale, however the database reads them back, so that a
    sealed leaf and an answer always write them the same way."""
    return Decimal(carats).quantize(QUANTUM)


def _share_text(share: Decimal) -> str:
    return format(share.normalize(), "f")


def identity_record(row: Mapping[str, Any], parents: Sequence[tuple[str, Decimal]]) -> dict:
    """What the ledger seals of an identity: everything but the officer's name, so that the
    leaf can be shown whole with its proof (the same function rebuilds it from the rows)."""
    return {
        "id": row["number"],
        "kind": IdentityKind(row["kind"]).value,
        "carats": _exact(row["carats"]),
        "origin": dict(row["origin"]),
        "origin_countries": list(row["origin_countries"]),
        "documents": list(row["documents"]),
        "parents": [{"id": number, "carats": _exact(carats)} for number, carats in sorted(parents)],
        "control_point": row["authority_code"],
        "registered_on": row["registered_on"],
    }


# ---------------------------------------------------------------------------- tracing


@dataclass(frozen=True)
class Problem:
    """Why a stone's lineage is not clean: the identity concerned and the rule it fails."""

    identity: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"identity": self.identity, "rule": self.rule, "message": self.message}


@dataclass(frozen=True)
class StoneLineage:
    """One stone traced to where its lineage starts (its roots)."""

    number: str
    found: bool
    roots: tuple[str, ...] = ()
    origin_countries: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    russian: bool = False

    @property
    def clean(self) -> bool:
        return self.found and not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "russian": self.russian,
            "roots": list(self.roots),
            "origin_countries": list(self.origin_countries),
            "problems": [p.as_dict() for p in self.problems],
        }


@dataclass(frozen=True)
class LineageCheck:
    """The lineage of several stones on one legal date; true when every one is clean."""

    on: date
    stones: Mapping[str, StoneLineage] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return all(stone.clean for stone in self.stones.values())

    @property
    def problems(self) -> list[Problem]:
        return [p for stone in self.stones.values() for p in stone.problems]

    @property
    def russian(self) -> list[str]:
        return [number for number, stone in self.stones.items() if stone.russian]


def lineage_is_clean(
    session: Session,
    identity_ids: Iterable[str],
    on: date,
    *,
    authority: str | None = None,
    as_of: datetime | None = None,
) -> LineageCheck:
    """Is every stone traced to rough parcels of documented non-Russian origin on ``on``?

    The answer is true or false (``bool(check)``) and says why per stone. A stone is clean
    when it is registered (at ``authority``, if named) and every root of its lineage is a
    rough parcel (a synthetic: its production record) whose mining countries are stated in
    full, backed by at least one document, and none of them sanctioned on ``on``. Any
    Russian share anywhere up the lineage makes the stone Russian (LAW.md g7.lineage,
    g7.mixed_parcels). ``as_of`` ignores stones registered after that instant (a replayed
    decision sees the register as it stood; parents are always registered before).
    """
    wanted = list(dict.fromkeys(identity_ids))
    sanctioned = sanctioned_on(on)
    table = DigitalIdentity.__table__
    starts: dict[str, Any] = {}
    for first in range(0, len(wanted), TRACE_CHUNK):
        chosen = [table.c.number.in_(wanted[first : first + TRACE_CHUNK])]
        if authority is not None:
            chosen.append(table.c.authority_code == authority)
        if as_of is not None:
            chosen.append(table.c.registered_at <= as_of)
        for row in session.execute(select(table.c.id, table.c.number, table.c.kind).where(*chosen)):
            starts[row.number] = row
    above = _walk_up(session, [row.id for row in starts.values()])
    root_ids = sorted({node for nodes in above.values() for node in nodes})
    found: dict[int, Any] = {}
    for first in range(0, len(root_ids), TRACE_CHUNK):
        for row in session.execute(
            select(
                table.c.id, table.c.number, table.c.kind, table.c.origin, table.c.documents
            ).where(table.c.id.in_(root_ids[first : first + TRACE_CHUNK]))
        ):
            found[row.id] = row
    roots = {
        start: sorted((found[node] for node in nodes), key=lambda r: r.number)
        for start, nodes in above.items()
    }
    traced = {}
    for number in wanted:
        start = starts.get(number)
        if start is None:
            problem = Problem(number, "g7.digital_identity", f"no digital identity {number}")
            traced[number] = StoneLineage(number, found=False, problems=(problem,))
        else:
            traced[number] = _judge(start, roots[start.id], sanctioned)
    return LineageCheck(on, traced)


def _walk_up(session: Session, stones: Sequence[int]) -> dict[int, set[int]]:
    """The roots above each stone (a stone without parents is its own root).

    Walked one cut at a time, each step one indexed look-up of the parents of the whole
    frontier, so the cost follows the lineages traced, not the register's size. (A single
    recursive CTE over many stones was measured on PostgreSQL at 1,000 stones among
    300,000 identities: the planner, misjudging the work table's size, merged against the
    whole child index at every step and hashed every identity to find the roots, 0.4 s
    and growing with the register; one stone's graph, in ``lineage_graph``, stays a CTE.)
    """
    cut = IdentityCut.__table__
    reaches: dict[int, set[int]] = {stone: {stone} for stone in stones}  # node -> its stones
    roots: dict[int, set[int]] = {stone: set() for stone in stones}
    frontier = set(stones)
    while frontier:
        ordered = sorted(frontier)
        parents: dict[int, list[int]] = defaultdict(list)
        for first in range(0, len(ordered), TRACE_CHUNK):
            for parent_id, child_id in session.execute(
                select(cut.c.parent_id, cut.c.child_id).where(
                    cut.c.child_id.in_(ordered[first : first + TRACE_CHUNK])
                )
            ):
                parents[child_id].append(parent_id)
        following: set[int] = set()
        for node in ordered:
            if not parents[node]:
                for stone in reaches[node]:
                    roots[stone].add(node)
            for parent in parents[node]:
                known = reaches.setdefault(parent, set())
                if not reaches[node] <= known:  # new stones below it (or a first visit)
                    known.update(reaches[node])
                    following.add(parent)
        frontier = following
    return roots


def _judge(stone: Any, roots: Sequence[Any], sanctioned: frozenset[str]) -> StoneLineage:
    """A stone's lineage against the law: what its roots document, and where from."""
    synthetic = IdentityKind(stone.kind) == IdentityKind.SYNTHETIC
    problems: list[Problem] = []
    countries: set[str] = set()
    russian = False
    for root in roots:
        kind = IdentityKind(root.kind)
        shares = {c: Decimal(s) for c, s in root.origin.items()}
        countries |= set(shares)
        if not synthetic and kind != IdentityKind.ROUGH_PARCEL:
            problems.append(
                Problem(
                    root.number,
                    "g7.lineage",
                    f"{root.number} is {KIND_WORDS[kind]} registered without the rough it was "
                    "cut from: its origin is declared, not traced to a rough parcel",
                )
            )
        total = sum(shares.values(), Decimal(0))
        if total != WHOLE:
            problems.append(
                Problem(
                    root.number,
                    "g7.scope" if synthetic else "g7.mining_countries",
                    f"the countries of {'production' if synthetic else 'mining'} stated for "
                    f"{root.number} cover {_share_text(total)}% of it: no documented origin "
                    "for the rest",
                )
            )
        if not root.documents:
            problems.append(
                Problem(
                    root.number,
                    "g7.scope" if synthetic else "g7.rough.non_russian",
                    f"no document supports the origin of {root.number}",
                )
            )
        tainted = sorted(sanctioned & set(shares))
        if tainted:
            russian = True
            portion = ", ".join(f"{c} {_share_text(shares[c])}%" for c in tainted)
            problems.append(
                Problem(
                    root.number,
                    "g7.russian_ban" if synthetic else "g7.lineage",
                    f"{root.number} has a share from {portion}: every stone cut from it is of "
                    "that origin (a mixed parcel with any Russian share is Russian)",
                )
            )
    return StoneLineage(
        stone.number,
        found=True,
        roots=tuple(r.number for r in roots),
        origin_countries=tuple(sorted(countries)),
        problems=tuple(problems),
        russian=russian,
    )


# ---------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class IdentityView:
    """An identity as the API and the pages show it: the row, its sealed leaf, its proof."""

    row: Mapping[str, Any]
    parents: list[tuple[str, Decimal]]
    entry: SealedEntry | None
    proof: InclusionProof | None
    lineage: StoneLineage  # as judged on ``on``
    on: date
    required: bool  # must it carry an identity (the weight in force when registered)?
    threshold: Decimal | None

    @property
    def number(self) -> str:
        return str(self.row["number"])

    @property
    def matches_ledger(self) -> bool:
        """Does the row still say what its leaf sealed? (A changed row is tampering.)"""
        if self.entry is None:
            return False
        rebuilt = ledger.as_json(identity_record(self.row, self.parents))
        return bool(rebuilt == self.entry.record)

    def as_json(self) -> dict[str, Any]:
        row = self.row
        return {
            "id": row["number"],
            "authority": row["authority_code"],
            "kind": IdentityKind(row["kind"]).value,
            "carats": str(_exact(row["carats"])),
            "origin": dict(row["origin"]),
            "origin_countries": list(row["origin_countries"]),
            "documents": list(row["documents"]),
            "parents": [{"id": n, "carats": str(c)} for n, c in sorted(self.parents)],
            "registered_on": row["registered_on"].isoformat(),
            "registered_at": row["registered_at"].isoformat(),
            "identity_required": self.required,
            "threshold_carats": None if self.threshold is None else str(self.threshold),
            "lineage": {"on": self.on.isoformat(), **self.lineage.as_dict()},
            "ledger": self.ledger_json(),
        }

    def ledger_json(self) -> dict[str, Any]:
        if self.entry is None:
            return {
                "status": "missing",
                "message": "no ledger entry seals this identity: run 'caratflow ledger verify'",
                "matches_record": False,
            }
        body: dict[str, Any] = {
            "kind": ledger.IDENTITY,
            "key": self.entry.key,
            "leaf_hash": self.entry.leaf_hash.hex(),
            "seq": self.entry.seq,
            "matches_record": self.matches_ledger,
        }
        if self.proof is None:
            return body | {
                "status": "pending",
                "message": "registered and sealed; the ledger sequencer has not yet given it "
                "its place in the tree, so there is no inclusion proof yet: ask again shortly",
                "proof": None,
            }
        return body | {
            "status": "sequenced",
            "message": "included in the signed tree head below",
            "proof": self.proof.to_dict(),
        }


def lookup(session: Session, number: str, actor: Actor, *, on: date | None = None) -> IdentityView:
    """The identity with its leaf and, once sequenced, its inclusion proof.

    Another authority's identity is simply not found (authority isolation).
    """
    access.require(actor, access.Permission.READ)
    visible = _require_g7(session, actor)
    row = _visible_row(session, number, visible)
    table, cut = DigitalIdentity.__table__, IdentityCut.__table__
    parents = [
        (n, _exact(c))
        for n, c in session.execute(
            select(table.c.number, cut.c.carats)
            .join(cut, cut.c.parent_id == table.c.id)
            .where(cut.c.child_id == row["id"])
        )
    ]
    entry = ledger.find_entry(session, ledger.IDENTITY, row["number"])
    proof = None
    if entry is not None and entry.seq is not None:
        proof = ledger.prove_inclusion(session, entry.seq, with_data=True)
    authority = session.get(Authority, row["authority_code"])
    assert authority is not None
    day = on or authority.local_date(datetime.now(UTC))
    check = lineage_is_clean(session, [row["number"]], day, authority=row["authority_code"])
    return IdentityView(
        row=row,
        parents=parents,
        entry=entry,
        proof=proof,
        lineage=check.stones[row["number"]],
        on=day,
        required=identity_required(row["kind"], row["carats"], row["registered_on"]),
        threshold=identity_threshold(row["registered_on"]),
    )


def _visible_row(session: Session, number: str, visible: set[str]) -> Mapping[str, Any]:
    if not isinstance(number, str) or not _NUMBER.match(number):
        raise NotFound(f"no digital identity {number!r}")
    table = DigitalIdentity.__table__
    row = session.execute(select(table).where(table.c.number == number)).mappings().one_or_none()
    if row is None or row["authority_code"] not in visible:
        raise NotFound(f"no digital identity {number}")
    return row


# ---------------------------------------------------------------------------- the graph


@dataclass(frozen=True)
class GraphNode:
    number: str
    kind: IdentityKind
    carats: Decimal
    origin: Mapping[str, str]
    origin_countries: tuple[str, ...]
    relation: str  # self, ancestor or descendant
    layer: int  # cuts from the earliest root shown: 0 for a rough parcel

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.number,
            "kind": self.kind.value,
            "carats": str(self.carats),
            "origin": dict(self.origin),
            "origin_countries": list(self.origin_countries),
            "relation": self.relation,
            "layer": self.layer,
        }


@dataclass(frozen=True)
class GraphEdge:
    parent: str
    child: str
    carats: Decimal

    def as_dict(self) -> dict[str, str]:
        return {"parent": self.parent, "child": self.child, "carats": str(self.carats)}


@dataclass(frozen=True)
class LineageGraph:
    """A stone's lineage: every ancestor up to the roots, every descendant, and the cuts."""

    number: str
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    truncated: bool
    lineage: StoneLineage
    on: date

    def path_to_roots(self) -> list[list[str]]:
        """Every path from the stone up to a root, stone first (what "two cuts away" means)."""
        parents: dict[str, list[str]] = defaultdict(list)
        for edge in self.edges:
            parents[edge.child].append(edge.parent)

        def paths(number: str) -> list[list[str]]:
            above = sorted(parents.get(number, []))
            if not above:
                return [[number]]
            return [[number, *rest] for parent in above for rest in paths(parent)]

        return paths(self.number)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.number,
            "nodes": [n.as_dict() for n in self.nodes],
            "edges": [e.as_dict() for e in self.edges],
            "roots": list(self.lineage.roots),
            "truncated": self.truncated,
            "lineage": {"on": self.on.isoformat(), **self.lineage.as_dict()},
        }


def lineage_graph(
    session: Session, number: str, actor: Actor, *, on: date | None = None
) -> LineageGraph:
    """Ancestors to the roots and descendants of one identity, by two recursive CTEs.

    Each side stops at ``MAX_GRAPH_NODES`` (``truncated`` says so): a parcel cut into
    thousands of stones still answers at once.
    """
    access.require(actor, access.Permission.READ)
    row = _visible_row(session, number, _require_g7(session, actor))
    table, cut = DigitalIdentity.__table__, IdentityCut.__table__

    up = select(table.c.id.label("node")).where(table.c.id == row["id"]).cte("up", recursive=True)
    up = up.union(select(cut.c.parent_id).join(up, cut.c.child_id == up.c.node))
    down = (
        select(table.c.id.label("node")).where(table.c.id == row["id"]).cte("down", recursive=True)
    )
    down = down.union(select(cut.c.child_id).join(down, cut.c.parent_id == down.c.node))
    limit = MAX_GRAPH_NODES + 1
    ancestors = list(session.scalars(select(up.c.node).order_by(up.c.node).limit(limit)))
    descendants = list(session.scalars(select(down.c.node).order_by(down.c.node).limit(limit)))
    truncated = len(ancestors) > MAX_GRAPH_NODES or len(descendants) > MAX_GRAPH_NODES
    ancestors, descendants = ancestors[:MAX_GRAPH_NODES], descendants[:MAX_GRAPH_NODES]
    shown = set(ancestors) | set(descendants) | {row["id"]}

    rows = {}
    for first in range(0, len(shown), TRACE_CHUNK):
        chunk = sorted(shown)[first : first + TRACE_CHUNK]
        for found in session.execute(select(table).where(table.c.id.in_(chunk))).mappings():
            rows[found["id"]] = found
    edges = []
    ordered, above_or_self, below_or_self = sorted(shown), set(ancestors), set(descendants)
    for first in range(0, len(ordered), TRACE_CHUNK):
        chunk = ordered[first : first + TRACE_CHUNK]
        for parent_id, child_id, carats in session.execute(
            select(cut.c.parent_id, cut.c.child_id, cut.c.carats).where(cut.c.child_id.in_(chunk))
        ):
            if parent_id in shown and (child_id in above_or_self or parent_id in below_or_self):
                edges.append(
                    GraphEdge(rows[parent_id]["number"], rows[child_id]["number"], _exact(carats))
                )
    edges.sort(key=lambda e: (e.parent, e.child))
    layers = _layers([r["number"] for r in rows.values()], edges)
    above = set(ancestors) - {row["id"]}
    nodes = [
        GraphNode(
            found["number"],
            IdentityKind(found["kind"]),
            _exact(found["carats"]),
            dict(found["origin"]),
            tuple(found["origin_countries"]),
            "self" if node == row["id"] else "ancestor" if node in above else "descendant",
            layers[found["number"]],
        )
        for node, found in sorted(rows.items(), key=lambda kv: kv[1]["number"])
    ]
    nodes.sort(key=lambda n: (n.layer, n.number))
    authority = session.get(Authority, row["authority_code"])
    assert authority is not None
    day = on or authority.local_date(datetime.now(UTC))
    check = lineage_is_clean(session, [row["number"]], day, authority=row["authority_code"])
    return LineageGraph(row["number"], nodes, edges, truncated, check.stones[row["number"]], day)


def _layers(numbers: Sequence[str], edges: Sequence[GraphEdge]) -> dict[str, int]:
    """Each node's longest distance (in cuts) from a root of the graph shown."""
    layer = dict.fromkeys(numbers, 0)
    for _ in numbers:  # relax; a lineage is acyclic, so this ends within len(numbers) passes
        changed = False
        for edge in edges:
            if layer[edge.child] < layer[edge.parent] + 1:
                layer[edge.child] = layer[edge.parent] + 1
                changed = True
        if not changed:
            break
    return layer


# ---------------------------------------------------------------------------- rules


def session_of(case: Case) -> Session:
    """The unit of work the case is assessed in (the authority row is always loaded in it)."""
    session = object_session(case.shipment) or object_session(case.shipment.authority)
    if session is None:
        raise RuntimeError("a G7 identity rule needs the shipment's session")
    return session


def _weight(value: object) -> Decimal | None:
    """A stone's weight from the trader's file; ``None`` when it cannot be read."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def identity_of(stone: Mapping[str, Any]) -> str | None:
    named = stone.get("identity")
    return named if isinstance(named, str) and _NUMBER.match(named) else None


def _label(stone: Mapping[str, Any]) -> str:
    return str(stone.get("identity") or stone.get("id") or stone.get("lot") or "?")


@RULES.rule("g7.digital_identity", goods={"polished", "synthetic"})
def stones_carry_a_digital_identity(case: Case) -> Verdict | None:
    """Polished and synthetic stones from the weight in force carry a registered digital
    identity: leaving the control point without one is held, arriving is a reminder."""
    threshold = identity_threshold(case.legal_date)
    if threshold is None:
        return None
    due = []
    for stone in stones(case):
        weight = _weight(stone.get("carats"))
        if weight is None or weight >= threshold:  # an unreadable weight may be above it
            due.append(stone)
    if not due:
        return None
    named = [n for n in (identity_of(s) for s in due) if n is not None]
    table = DigitalIdentity.__table__
    registered = {
        row.number: row
        for row in session_of(case).execute(
            select(table.c.number, table.c.kind, table.c.carats).where(
                table.c.number.in_(named),
                table.c.authority_code == case.shipment.authority_code,
                table.c.registered_at <= case.at,  # a replay sees the register of its day
            )
        )
    }
    missing, unlike = [], []
    for stone in due:
        row = registered.get(identity_of(stone) or "")
        if row is None:
            missing.append(_label(stone))
        elif IdentityKind(row.kind) != KIND_OF_GOODS[case.shipment.goods] or row.carats != _weight(
            stone.get("carats")
        ):
            unlike.append(f"{_label(stone)} (registered as {row.kind}, {row.carats} ct)")
    if not missing and not unlike:
        return passed(
            f"{len(due)} stone(s) of {threshold} ct or more, each with its digital identity"
        )
    said = []
    if missing:
        said.append(f"no digital identity for {', '.join(missing)}")
    if unlike:
        said.append(f"the identity does not match the stone for {', '.join(unlike)}")
    data = {"missing": missing, "unlike": unlike, "threshold_carats": str(threshold)}
    if case.shipment.direction == "export":
        return hold(
            f"stones of {threshold} ct or more leave only with a digital identity registered "
            f"at the control point: {'; '.join(said)}",
            **data,
        )
    return info(
        f"stones of {threshold} ct or more need a digital identity once checked: {'; '.join(said)}",
        **data,
    )


@RULES.rule("g7.lineage", goods={"polished", "synthetic"})
def stones_inherit_the_origin_of_their_rough(case: Case) -> Verdict | None:
    """A polished stone inherits the origin of the rough it was cut from: one cut from a
    parcel with a Russian share is Russian; one not traced to documented rough is held
    at export."""
    named = [n for n in (identity_of(s) for s in stones(case)) if n is not None]
    if not named:
        return None
    check = lineage_is_clean(
        session_of(case),
        named,
        case.legal_date,
        authority=case.shipment.authority_code,
        as_of=case.at,
    )
    known = [stone for stone in check.stones.values() if stone.found]
    if not known:
        return None  # g7.digital_identity names what is not registered
    russian = [stone.number for stone in known if stone.russian]
    if russian:
        return refuse(
            f"cut from rough with a share of sanctioned origin, so of that origin themselves: "
            f"{', '.join(russian)}",
            stones=russian,
        )
    untraced = [stone for stone in known if not stone.clean]
    if untraced:
        reasons = "; ".join(f"{s.number}: {s.problems[0].message}" for s in untraced)
        data = {"stones": [s.number for s in untraced]}
        if case.shipment.direction == "export":
            return hold(f"lineage not traced to documented rough: {reasons}", **data)
        return info(f"lineage not traced to documented rough: {reasons}", **data)
    countries = sorted({c for stone in known for c in stone.origin_countries})
    return passed(
        f"{len(known)} stone(s) traced to rough of documented non-Russian origin "
        f"({', '.join(countries)})"
    )
