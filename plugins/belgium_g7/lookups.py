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
(``caratflow.exchange.lookups``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caratflow.case import access
from caratflow.case.access import Actor
from caratflow.jurisdiction.lookups import LookupType
from caratflow.ledger import leaves, proofs, sealing
from caratflow.ledger.proofs import InclusionProof
from caratflow.ledger.sealing import SealedEntry
from caratflow.models import Authority, DigitalIdentity, IdentityCut, IdentityKind
from caratflow.plugins.belgium_g7.identities import (
    NUMBER,
    PLUGIN,
    exact_carats,
    identity_record,
    identity_required,
    identity_threshold,
    require_g7,
    visible_row,
)
from caratflow.plugins.belgium_g7.lineage import StoneLineage, lineage_is_clean
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
    sealed_as=leaves.IDENTITY,
    describe=describe_identity,
)


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
        rebuilt = leaves.as_json(identity_record(self.row, self.parents))
        return bool(rebuilt == self.entry.record)

    def as_json(self) -> dict[str, Any]:
        row = self.row
        return {
            "id": row["number"],
            "authority": row["authority_code"],
            "kind": IdentityKind(row["kind"]).value,
            "carats": str(exact_carats(row["carats"])),
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
            "kind": leaves.IDENTITY,
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
    visible = require_g7(session, actor)
    row = visible_row(session, number, visible)
    table, cut = DigitalIdentity.__table__, IdentityCut.__table__
    parents = [
        (n, exact_carats(c))
        for n, c in session.execute(
            select(table.c.number, cut.c.carats)
            .join(cut, cut.c.parent_id == table.c.id)
            .where(cut.c.child_id == row["id"])
        )
    ]
    entry = sealing.find_entry(session, leaves.IDENTITY, row["number"])
    proof = None
    if entry is not None and entry.seq is not None:
        proof = proofs.prove_inclusion(session, entry.seq, with_data=True)
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
