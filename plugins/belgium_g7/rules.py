"""Rules of the G7/EU measures on Russian diamonds, at a control point such as Antwerp.

What a presentation may carry for these rules, beside the KP certificate (as extra
fields of the shipment, kept in ``details``): ``transit_countries`` (ISO codes the
goods passed through), ``origin_shares`` (``{"RU": "1", "AO": "99"}``: percent of a
mixed parcel by mining country), ``stones`` (``[{"id": "…", "lot": "…", "carats":
"0.70", "origin": ["RU"]}]`` for polished and synthetic goods) and ``destination``.
A stone may name its digital identity (``"identity": "BE-GIA-2231"``): the rules on
identities and lineage are in ``identities.py``. A trader may claim an exemption from the
ban (``sanctions_exemption``: ``{"ground": …, "evidence": …}``, the grounds dated in
``parameters/scope.toml``) and give the due-diligence statement on polished stones'
origin (``origin_statement``: ``made_by``, ``made_on``, ``reference``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from caratflow.jurisdiction.texts import Messages, load_catalogue
from caratflow.law.parameters import DatedParameters
from caratflow.law.rules import Case, RuleBook, Verdict, hold, passed, refuse, warn

HERE = Path(__file__).parent
PARAMETERS = DatedParameters.in_folder(HERE / "parameters")
RULES = RuleBook("belgium_g7", HERE / "rules.toml")
TEXTS = load_catalogue(HERE / "texts.toml")  # issue 23: what a reader sees, in 5 languages
T = Messages(TEXTS)
WHOLE = Decimal(100)
VERIFY_ORIGIN = "verify_origin"  # the control point's verification of origin evidence
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def sanctioned(case: Case) -> set[str]:
    return set(PARAMETERS.value("sanctioned_countries", case.legal_date))


def shares(case: Case) -> dict[str, Decimal]:
    """A mixed parcel's shares by mining country, in percent; an unreadable share counts as
    a share (so a Russian one still taints) of unknown size."""
    raw = case.details.get("origin_shares") or {}
    if not isinstance(raw, Mapping):  # a share of unknown countries: nothing is documented
        return {"??": Decimal("NaN")}
    return {str(country): _decimal(share, Decimal("NaN")) for country, share in raw.items()}


def mining_countries(case: Case) -> set[str]:
    declared = {c for c, share in shares(case).items() if share.is_nan() or share > 0}
    return set(case.shipment.certificate.origin) | declared


def routed_through(case: Case) -> set[str]:
    """Where the goods came from and passed through: provenance and transit countries."""
    transit = case.details.get("transit_countries") or []
    return {case.shipment.certificate.provenance, *transit}


def stones(case: Case) -> list[Mapping[str, Any]]:
    return list(case.details.get("stones") or [])


def outside_the_ban(case: Case) -> Verdict | None:
    """Art. 3p lists its goods by code: industrial diamonds are outside it."""
    listed = set(PARAMETERS.value("ban_scope_hs_codes", case.legal_date))
    codes = case.shipment.certificate.hs_codes
    if listed & set(codes):
        return None
    return passed(
        f"HS {', '.join(codes)}: not among the goods of Reg. (EU) 833/2014 Art. 3p "
        "(industrial diamonds are outside the ban)"
    )


def unless_exempt(case: Case, refusal: Verdict) -> Verdict:
    """The ban's refusal, unless the trader claims a ground the law in force allows
    (``details.sanctions_exemption``: ``ground`` and ``evidence``): then the claim is
    recorded with its evidence as a warning for the officer to weigh."""
    claim = case.details.get("sanctions_exemption")
    if not claim:
        return refusal
    grounds = PARAMETERS.value("ban_exemptions", case.legal_date)
    ground = claim.get("ground") if isinstance(claim, Mapping) else None
    evidence = claim.get("evidence") if isinstance(claim, Mapping) else None
    if ground not in grounds:
        allowed = ", ".join(sorted(grounds)) or "none"
        why = f"the exemption claimed ({ground!r}) is no ground on {case.legal_date} ({allowed})"
    elif not evidence:
        why = f"the exemption {ground} is claimed without its evidence: {grounds[ground]}"
    else:
        return warn(
            f"exemption claimed: {ground.replace('_', ' ')}, with evidence {evidence!r}; "
            f"the ban would otherwise apply: {refusal.message}",
            exemption=ground,
            evidence=evidence,
        )
    return refuse(f"{refusal.message}; {why}", **refusal.data)


@RULES.rule("g7.scope")
def covered_by_the_g7_system(case: Case) -> Verdict:
    """Rough, polished and synthetic diamonds all come under the G7 control system."""
    goods = case.shipment.goods
    if goods == "synthetic" and not case.shipment.certificate.origin:
        return hold(
            "a synthetic diamond's country of production must be declared "
            "(certificate origin) so that Russian production can be excluded"
        )
    return passed(f"{goods} diamonds: checked under the G7 control and verification system")


@RULES.rule("g7.rough.non_russian", goods={"rough"})
def rough_not_russian(case: Case) -> Verdict:
    """Rough needs documented non-Russian origin, whatever the KP certificate says."""
    if outside := outside_the_ban(case):
        return outside
    if not mining_countries(case):
        return hold(
            "no country of mining is documented: origin evidence is needed before the "
            "parcel can be cleared"
        )
    tainted = sorted(sanctioned(case) & (mining_countries(case) | routed_through(case)))
    if tainted:
        return unless_exempt(
            case,
            refuse(
                f"origin, provenance or transit {', '.join(tainted)} is covered by the ban on "
                "Russian diamonds; a valid Kimberley Process certificate does not clear it",
                countries=tainted,
            ),
        )
    return passed("documented non-Russian origin, provenance and route")


@RULES.rule("g7.russian_ban", goods={"polished", "synthetic"})
def polished_and_synthetic_not_russian(case: Case) -> Verdict:
    """No Russian diamonds: none exported from or through Russia (direct ban), and no
    Russian stones processed elsewhere above the weight in force (indirect ban)."""
    if outside := outside_the_ban(case):
        return outside
    verdict = _russian_ban(case)
    return unless_exempt(case, verdict) if verdict.outcome == "refuse" else verdict


def _russian_ban(case: Case) -> Verdict:
    banned = sanctioned(case)
    if through := sorted(banned & routed_through(case)):
        return refuse(
            f"exported from or through {', '.join(through)}: direct ban", countries=through
        )
    russian_origin = banned & mining_countries(case)
    if not russian_origin:
        return passed("no Russian origin declared")
    if case.shipment.goods == "synthetic":
        return refuse(
            "synthetic diamonds produced in Russia: direct ban", countries=sorted(russian_origin)
        )
    threshold = PARAMETERS.value("indirect_ban_min_carats", case.legal_date)
    if threshold == "none":
        return passed(
            "Russian origin, processed in a third country: the indirect ban was not "
            "yet in force on the legal date"
        )
    weighed = [s for s in stones(case) if banned & set(s.get("origin") or [])]
    if not weighed:
        return hold(
            "Russian origin declared but no stone weights given: the indirect ban "
            f"covers stones of {threshold} ct and above"
        )
    unweighed = [str(s.get("id", "?")) for s in weighed if _decimal(s.get("carats")).is_nan()]
    if unweighed:
        return hold(f"unreadable weight for Russian-origin stone(s) {', '.join(unweighed)}")
    caught = [s for s in weighed if _decimal(s.get("carats")) >= Decimal(threshold)]
    if caught:
        ids = [str(s.get("id", "?")) for s in caught]
        return refuse(
            f"Russian-origin stones of {threshold} ct or more, processed in a third "
            f"country (indirect ban): {', '.join(ids)}",
            stones=ids,
            threshold_carats=threshold,
        )
    return passed(
        f"Russian-origin stones all below {threshold} ct, the indirect ban's weight "
        "on the legal date"
    )


@RULES.rule("g7.mining_countries", goods={"rough", "polished"})
def mining_countries_listed(case: Case) -> Iterable[Verdict]:
    """Every country of mining of a (mixed) parcel is listed, from the dates in force; a
    mixed-origin rough parcel is accepted once verified through the G7 mechanism, and
    polished stones from the weight in force carry a statement on their origin."""
    required = PARAMETERS.value("mining_countries_required_for", case.legal_date)
    if case.shipment.goods not in required or outside_the_ban(case):
        return
    if not mining_countries(case):
        yield hold("the countries of mining are not stated: no documented non-Russian origin")
        return
    given = shares(case)
    if given and (any(v.is_nan() for v in given.values()) or sum(given.values()) != WHOLE):
        yield hold(
            f"the mining countries stated cover {sum(given.values())}% of the parcel, "
            "not all of it: no documented non-Russian origin for the rest",
            covered_percent=sum(given.values()),
        )
        return
    unverified = _mixed_and_unverified(case)
    missing_statement = _origin_statement_missing(case)
    if unverified:
        yield hold(unverified)
    if missing_statement:
        yield hold(missing_statement)
    if not unverified and not missing_statement:
        yield passed(f"countries of mining listed: {', '.join(sorted(mining_countries(case)))}")


def _mixed_and_unverified(case: Case) -> str | None:
    """Reg. (EU) 2025/395: a mixed-origin rough certificate waits for the G7 verification."""
    if case.shipment.goods != "rough":
        return None
    if not PARAMETERS.value("mixed_origin_needs_g7_verification", case.legal_date):
        return None
    mixed = len(mining_countries(case)) > 1 or bool(case.details.get("mixed"))
    verified = case.action == VERIFY_ORIGIN or any(
        e.action == VERIFY_ORIGIN for e in case.shipment.events
    )
    if not mixed or verified:
        return None
    return (
        f"a mixed-origin certificate ({', '.join(sorted(mining_countries(case)))}) is "
        "accepted only once its origin is verified through the G7 mechanism "
        "(request_origin_evidence, then verify_origin)"
    )


def _origin_statement_missing(case: Case) -> str | None:
    """From the date in force, polished stones of the weight in force brought into the
    Union carry the importer's due-diligence statement on their origin
    (``details.origin_statement``)."""
    rule = PARAMETERS.value("origin_statement", case.legal_date)
    if rule == "none" or case.shipment.goods not in rule["goods"]:
        return None
    if case.shipment.direction != "import":
        return None
    weights = [_decimal(s.get("carats")) for s in stones(case)]
    least = Decimal(rule["min_carats"])
    if weights and all(w.is_finite() and w < least for w in weights):
        return None  # every stone weighed, all below the weight
    statement = case.details.get("origin_statement")
    statement = statement if isinstance(statement, Mapping) else {}
    absent = [name for name in rule["fields"] if not statement.get(name)]
    if not absent:
        return None
    return (
        f"polished stones of {least} ct or more need a due-diligence statement on their "
        f"origin (details.origin_statement: {', '.join(absent)} missing)"
    )


@RULES.rule("g7.mixed_parcels", goods={"rough", "polished"})
def mixed_parcel_untainted(case: Case) -> Verdict | None:
    """A mixed parcel with any Russian share is Russian for the ban."""
    if outside_the_ban(case):
        return None
    countries = mining_countries(case)
    if len(countries) < 2:
        return None
    tainted = sorted(sanctioned(case) & countries)
    if tainted:
        portion = {c: str(shares(case).get(c, "unknown")) for c in tainted}
        return unless_exempt(
            case,
            refuse(
                f"mixed parcel with a share from {', '.join(tainted)} "
                f"({', '.join(f'{c}: {p}%' for c, p in portion.items())}): the whole "
                "parcel counts as Russian",
                shares=portion,
            ),
        )
    return passed(f"mixed parcel of {', '.join(sorted(countries))}: no Russian share")


@RULES.rule("g7.rough.non_russian", actions={"verify_origin"})
def origin_documents_attached(case: Case) -> Verdict:
    """Origin evidence is the documents themselves, each named by its SHA-256, so that the
    record proves which papers the control point checked."""
    documents = case.details.get("origin_documents")
    if not documents or not isinstance(documents, list):
        return hold(
            "the evidence documents are not attached: give the SHA-256 of each (origin_documents)"
        )
    unreadable = [str(d)[:80] for d in documents if not (isinstance(d, str) and _SHA256.match(d))]
    if unreadable:
        return hold(f"not a SHA-256: {', '.join(unreadable)}", documents=unreadable)
    if not isinstance(case.details.get("origin_shares"), Mapping):
        return hold("origin_shares must give each country of mining with its percent")
    return passed(f"{len(documents)} evidence document(s) checked", documents=len(documents))


@RULES.rule("nl.trace.serial_lot", goods={"polished", "synthetic"})
def serial_or_lot_numbers(case: Case) -> Iterable[Verdict]:
    """Traceability rests on serial and lot numbers, not physical trackers."""
    listed = stones(case)
    if not listed:
        yield warn(
            "no stones listed with serial or lot numbers: tracing this lot relies on "
            "the certificate alone"
        )
        return
    unnamed = [i for i, s in enumerate(listed) if not (s.get("id") or s.get("lot"))]
    if unnamed:
        yield hold(
            f"{len(unnamed)} stone(s) carry neither a serial nor a lot number", positions=unnamed
        )
    else:
        yield passed(f"{len(listed)} stone(s), each with a serial or lot number")


def _decimal(value: object, unreadable: Decimal = Decimal("NaN")) -> Decimal:
    """A number from the trader's file; NaN when it cannot be read, never a silent zero."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return unreadable
    return number if number.is_finite() else unreadable
