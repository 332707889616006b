"""The rules that read the identities: stones from the weight in force carry a digital
identity (g7.digital_identity), and their lineage is clean (g7.lineage).
"""

from __future__ import annotations

from sqlalchemy import select

from caratflow.jurisdiction.texts import Joined
from caratflow.law.rules import Case, Verdict, hold, info, passed, refuse
from caratflow.models import DigitalIdentity, IdentityKind
from caratflow.plugins.belgium_g7.identities import (
    KIND_OF_GOODS,
    identity_of,
    identity_threshold,
    session_of,
    stone_label,
)
from caratflow.plugins.belgium_g7.lineage import lineage_is_clean
from caratflow.plugins.belgium_g7.rules import RULES, T, stones


@RULES.rule("g7.digital_identity", goods={"polished", "synthetic"})
def stones_carry_a_digital_identity(case: Case) -> Verdict | None:
    """Polished and synthetic stones from the weight in force carry a registered digital
    identity: leaving the control point without one is held, arriving is a reminder."""
    threshold = identity_threshold(case.legal_date)
    if threshold is None:
        return None
    due = []
    for stone in stones(case):
        weight = stone.carats
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
            missing.append(stone_label(stone))
        elif (
            IdentityKind(row.kind) != KIND_OF_GOODS[case.shipment.goods]
            or row.carats != stone.carats
        ):
            unlike.append(
                T(
                    "g7.identity.registered_as",
                    stone=stone_label(stone),
                    kind=row.kind,
                    carats=row.carats,
                )
            )
    if not missing and not unlike:
        return passed(T("g7.identity.all", count=len(due), threshold=threshold))
    said = []
    if missing:
        said.append(T("g7.identity.missing", stones=missing))
    if unlike:
        said.append(T("g7.identity.unlike", stones=Joined(", ", unlike)))
    data = {
        "missing": missing,
        "unlike": [str(u) for u in unlike],
        "threshold_carats": str(threshold),
    }
    if case.shipment.direction == "export":
        return hold(
            T("g7.identity.export_needs", threshold=threshold, said=Joined("; ", said)),
            **data,
        )
    return info(
        T("g7.identity.import_needs", threshold=threshold, said=Joined("; ", said)),
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
            T("g7.identity.cut_from_russian", stones=russian),
            stones=russian,
        )
    untraced = [stone for stone in known if not stone.clean]
    if untraced:
        reasons = Joined(
            "; ",
            (
                T("g7.identity.stone_problem", number=s.number, problem=s.problems[0].message)
                for s in untraced
            ),
        )
        data = {"stones": [s.number for s in untraced]}
        if case.shipment.direction == "export":
            return hold(T("g7.identity.untraced", reasons=reasons), **data)
        return info(T("g7.identity.untraced", reasons=reasons), **data)
    countries = sorted({c for stone in known for c in stone.origin_countries})
    return passed(T("g7.identity.traced", count=len(known), countries=countries))
