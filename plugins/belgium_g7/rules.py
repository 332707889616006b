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

from caratflow.jurisdiction.texts import Messages, Text, load_catalogue
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
    return passed(T("g7.outside_the_ban", codes=codes))


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
        allowed = ", ".join(sorted(grounds)) or "—"
        why = T("g7.exemption.no_ground", ground=repr(ground), day=case.legal_date, allowed=allowed)
    elif not evidence:
        why = T("g7.exemption.no_evidence", ground=ground, needed=grounds[ground])
    else:
        return warn(
            T(
                "g7.exemption.claimed",
                ground=ground.replace("_", " "),
                evidence=repr(evidence),
                refusal=refusal.message,
            ),
            exemption=ground,
            evidence=evidence,
        )
    return refuse(T("g7.refused_because", refusal=refusal.message, why=why), **refusal.data)


@RULES.rule("g7.scope")
def covered_by_the_g7_system(case: Case) -> Verdict:
    """Rough, polished and synthetic diamonds all come under the G7 control system."""
    goods = case.shipment.goods
    if goods == "synthetic" and not case.shipment.certificate.origin:
        return hold(T("g7.synthetic.production_country"))
    return passed(T("g7.scope", goods=T(f"g7.goods.{goods}")))


@RULES.rule("g7.rough.non_russian", goods={"rough"})
def rough_not_russian(case: Case) -> Verdict:
    """Rough needs documented non-Russian origin, whatever the KP certificate says."""
    if outside := outside_the_ban(case):
        return outside
    if not mining_countries(case):
        return hold(T("g7.rough.no_mining_country"))
    tainted = sorted(sanctioned(case) & (mining_countries(case) | routed_through(case)))
    if tainted:
        return unless_exempt(
            case,
            refuse(
                T("g7.rough.banned", countries=tainted),
                countries=tainted,
            ),
        )
    return passed(T("g7.rough.clean"))


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
        return refuse(T("g7.direct_ban.through", countries=through), countries=through)
    russian_origin = banned & mining_countries(case)
    if not russian_origin:
        return passed(T("g7.no_russian_origin"))
    if case.shipment.goods == "synthetic":
        return refuse(T("g7.direct_ban.synthetic"), countries=sorted(russian_origin))
    threshold = PARAMETERS.value("indirect_ban_min_carats", case.legal_date)
    if threshold == "none":
        return passed(T("g7.indirect_ban.not_in_force"))
    weighed = [s for s in stones(case) if banned & set(s.get("origin") or [])]
    if not weighed:
        return hold(T("g7.indirect_ban.no_weights", threshold=threshold))
    unweighed = [str(s.get("id", "?")) for s in weighed if _decimal(s.get("carats")).is_nan()]
    if unweighed:
        return hold(T("g7.indirect_ban.unreadable", stones=unweighed))
    caught = [s for s in weighed if _decimal(s.get("carats")) >= Decimal(threshold)]
    if caught:
        ids = [str(s.get("id", "?")) for s in caught]
        return refuse(
            T("g7.indirect_ban.caught", threshold=threshold, stones=ids),
            stones=ids,
            threshold_carats=threshold,
        )
    return passed(T("g7.indirect_ban.below", threshold=threshold))


@RULES.rule("g7.mining_countries", goods={"rough", "polished"})
def mining_countries_listed(case: Case) -> Iterable[Verdict]:
    """Every country of mining of a (mixed) parcel is listed, from the dates in force; a
    mixed-origin rough parcel is accepted once verified through the G7 mechanism, and
    polished stones from the weight in force carry a statement on their origin."""
    required = PARAMETERS.value("mining_countries_required_for", case.legal_date)
    if case.shipment.goods not in required or outside_the_ban(case):
        return
    if not mining_countries(case):
        yield hold(T("g7.mining.not_stated"))
        return
    given = shares(case)
    if given and (any(v.is_nan() for v in given.values()) or sum(given.values()) != WHOLE):
        yield hold(
            T("g7.mining.partial", percent=sum(given.values())),
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
        yield passed(T("g7.mining.listed", countries=sorted(mining_countries(case))))


def _mixed_and_unverified(case: Case) -> Text | None:
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
    return T("g7.mixed.unverified", countries=sorted(mining_countries(case)))


def _origin_statement_missing(case: Case) -> Text | None:
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
    return T("g7.origin_statement.missing", least=least, absent=absent)


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
                T(
                    "g7.mixed.tainted",
                    countries=tainted,
                    shares=", ".join(f"{c}: {p}%" for c, p in portion.items()),
                ),
                shares=portion,
            ),
        )
    return passed(T("g7.mixed.clean", countries=sorted(countries)))


@RULES.rule("g7.rough.non_russian", actions={"verify_origin"})
def origin_documents_attached(case: Case) -> Verdict:
    """Origin evidence is the documents themselves, each named by its SHA-256, so that the
    record proves which papers the control point checked."""
    documents = case.details.get("origin_documents")
    if not documents or not isinstance(documents, list):
        return hold(T("g7.evidence.not_attached"))
    unreadable = [str(d)[:80] for d in documents if not (isinstance(d, str) and _SHA256.match(d))]
    if unreadable:
        return hold(T("g7.evidence.not_sha256", documents=unreadable), documents=unreadable)
    if not isinstance(case.details.get("origin_shares"), Mapping):
        return hold(T("g7.evidence.no_shares"))
    return passed(T("g7.evidence.checked", count=len(documents)), documents=len(documents))


@RULES.rule("nl.trace.serial_lot", goods={"polished", "synthetic"})
def serial_or_lot_numbers(case: Case) -> Iterable[Verdict]:
    """Traceability rests on serial and lot numbers, not physical trackers."""
    listed = stones(case)
    if not listed:
        yield warn(T("g7.trace.no_stones"))
        return
    unnamed = [i for i, s in enumerate(listed) if not (s.get("id") or s.get("lot"))]
    if unnamed:
        yield hold(T("g7.trace.unnamed", count=len(unnamed)), positions=unnamed)
    else:
        yield passed(T("g7.trace.named", count=len(listed)))


def _decimal(value: object, unreadable: Decimal = Decimal("NaN")) -> Decimal:
    """A number from the trader's file; NaN when it cannot be read, never a silent zero."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return unreadable
    return number if number.is_finite() else unreadable
