"""The register of importers and exporters an authority keeps (e.g. Norway §7)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from caratflow.case.access import Actor
from caratflow.case.schemas import field_errors
from caratflow.errors import Conflict, FieldError, Forbidden, InvalidInput
from caratflow.jurisdiction.contributions import Plugins
from caratflow.models import Authority, Party, Role

PARTY_ROLES = ("importer", "exporter")
# Who may read a person's identity number in full (ASVS: need to know).
SEES_PERSONAL_DATA = frozenset({Role.SUPERVISOR, Role.ADMIN})

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Digits = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9 ]{6,20}$")]


class PartyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    authority: Line
    name: Line
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    phone: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()-]{5,30}$")]
    roles: Annotated[list[str], Field(min_length=1)]
    organisation_number: Digits | None = None
    national_id: Digits | None = None


def register_party(
    session: Session, host: Plugins, fields: Mapping[str, Any], actor: Actor
) -> Party:
    """Register an importer or exporter, after the authority's plugins have checked it."""
    try:
        data = PartyIn.model_validate(dict(fields))
    except ValidationError as error:
        raise InvalidInput(field_errors(error)) from None
    problems = [
        FieldError("roles", f"unknown role {role!r}; expected {' or '.join(PARTY_ROLES)}")
        for role in data.roles
        if role not in PARTY_ROLES
    ]
    authority = session.get(Authority, data.authority)
    if authority is None:
        raise InvalidInput([FieldError("authority", f"unknown authority {data.authority!r}")])
    if not actor.may_act_for(authority.code) or actor.role == Role.AUDITOR:
        raise Forbidden(f"{actor.name} may not register parties for {authority.code}")
    clean = data.model_dump()
    for key in ("organisation_number", "national_id"):
        if clean[key]:
            clean[key] = clean[key].replace(" ", "")
    host.validate_party(
        authority.plugins,
        authority.code,
        clean,
        lambda field, message: problems.append(FieldError(field, message)),
    )
    if problems:
        raise InvalidInput(problems)
    known = select(Party.id).where(Party.authority_code == authority.code, Party.name == data.name)
    if session.scalar(known) is not None:
        raise Conflict(f"{data.name!r} is registered with {authority.code} already")
    party = Party(
        authority_code=authority.code,
        name=clean["name"],
        address=clean["address"],
        phone=clean["phone"],
        roles=sorted(set(clean["roles"])),
        organisation_number=clean["organisation_number"],
        national_id=clean["national_id"],
        registered_by=actor.name,
    )
    session.add(party)
    session.flush()
    return party


def party_json(party: Party, viewer: Actor) -> dict[str, Any]:
    """A party as shown to ``viewer``: a person's identity number only to those who need it."""
    national_id = party.national_id
    if national_id and viewer.role not in SEES_PERSONAL_DATA:
        national_id = mask(national_id)
    return {
        "id": party.id,
        "authority": party.authority_code,
        "name": party.name,
        "address": party.address,
        "phone": party.phone,
        "roles": party.roles,
        "organisation_number": party.organisation_number,
        "national_id": national_id,
        "registered_at": party.registered_at.isoformat(),
    }


def mask(value: str) -> str:
    """Everything but the last two characters hidden."""
    return "*" * max(len(value) - 2, 0) + value[-2:]
