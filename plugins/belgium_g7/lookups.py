"""What a G7 control point's node tells another about a digital identity it registered
(LAW.md g7.digital_identity: the platform; nl.trace.serial_lot: traceability by serial and
lot numbers through information exchange between authorities).

The look-up ``g7.digital_identity`` names an identity by its number
(``{"identity": "NL-GIA-2231"}``). The answer carries the identity's sealed leaf whole —
kind, carats, declared or inherited origin, the parents it was cut from, the digests of
the documents checked, the control point and day of registration, and no person's name
(``identities.identity_record``) — because its inclusion proof needs every byte; and,
vouched for by the answering node's signature, the lineage verdict on the day it
answers, in the fields ``parameters/exchange.toml`` lists. Only the answering authority's
own identities are found. How it is asked, signed, answered and checked is core's
(``caratflow.lookups``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caratflow import ledger
from caratflow.lookups import LookupType
from caratflow.models import DigitalIdentity
from caratflow.plugins.belgium_g7.identities import NUMBER, PLUGIN, lineage_is_clean
from caratflow.plugins.belgium_g7.rules import PARAMETERS, RULES


def describe_identity(
    session: Session, authority: str, number: str, on: date
) -> Mapping[str, Any] | None:
    """What ``authority`` says today of its identity ``number`` beside the sealed record:
    its lineage verdict on ``on``; ``None`` when it registered no such identity."""
    table = DigitalIdentity.__table__
    registered = session.scalar(
        select(table.c.id).where(table.c.number == number, table.c.authority_code == authority)
    )
    if registered is None:
        return None
    stone = lineage_is_clean(session, [number], on, authority=authority).stones[number]
    verdict = {"on": on, **stone.as_dict()}
    return {"lineage": {name: verdict[name] for name in disclosed(on)}}


def disclosed(on: date) -> list[str]:
    """The fields of the lineage verdict a peer control point is told (dated parameter)."""
    return list(PARAMETERS.value("identity_lookup_discloses", on))


IDENTITY_LOOKUP = LookupType(
    version=RULES.version("g7.digital_identity"),
    plugin=PLUGIN,
    about="identity",
    pattern=NUMBER,
    sealed_as=ledger.IDENTITY,
    describe=describe_identity,
)
