"""Rules of the G7/EU measures on Russian diamonds, at a control point such as Antwerp.

What a presentation carries for these rules, beside the KP certificate, and what the
origin evidence completes, is declared, typed, in ``fields.py`` (shares by country of
mining, transit countries, the stones one by one, an exemption claimed, the due-diligence
statement); a stone's digital identity is read by the rules in ``identities.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from caratflow.jurisdiction.texts import Messages, Text, load_catalogue
from caratflow.law.rules import Case, RuleBook, Verdict, hold, passed, refuse, warn
from caratflow.plugins.belgium_g7.fields import PARAMETERS, Origin, OriginEvidence, Stone, Stones

HERE = Path(__file__).parent
RULES = RuleBook("belgium_g7", HERE / "rules.toml")
TEXTS = load_catalogue(HERE / "texts.toml")  # issue 23: what a reader sees, in 5 languages
T = Messages(TEXTS)
WHOLE = Decimal(100)
VERIFY_ORIGIN = "verify_origin"  # the control point's verification of origin evidence


def sanctioned(case: Case) -> set[str]:
    return set(PARAMETERS.value("sanctioned_countries", case.legal_date))


def shares(case: Case) -> dict[str, Decimal]:
    """A mixed parcel's shares by mining country, in percent (a country named twice: its
    shares added)."""
    found: dict[str, Decimal] = {}
    for share in Origin.of(case.details).origin_shares or []:
        if share.country is not None and share.percent is not None:
            found[share.country] = found.get(share.country, Decimal(0)) + share.percent
    return found


def mining_countries(case: Case) -> set[str]:
    declared = {c for c, share in shares(case).items() if share > 0}
    return set(case.shipment.certificate.origin) | declared


def routed_through(case: Case) -> set[str]:
    """Where the goods came from and passed through: provenance and transit countries."""
    transit = {p.country for p in Origin.of(case.details).transit_countries or [] if p.country}
    return {case.shipment.certificate.provenance, *transit}


def stones(case: Case) -> list[Stone]:
    return list(Stones.of(case.details).stones or [])


def outside_the_ban(case: Case) -> Verdict | None:
    """Art. 3p lists its goods by code: industrial diamonds are outside it."""
    listed = set(PARAMETERS.value("ban_scope_hs_codes", case.legal_date))
    codes = case.shipment.certificate.hs_codes
    if listed & set(codes):
        return None
    return passed(T("g7.outside_the_ban", codes=codes))


def unless_exempt(case: Case, refusal: Verdict) -> Verdict:
    """The ban's refusal, unless the trader claims a ground the law in force allows
    (``sanctions_exemption``: ``ground`` and ``evidence``): then the claim is recorded
    with its evidence as a warning for the officer to weigh."""
    claim = Origin.of(case.details).sanctions_exemption
    if claim is None:
        return refusal
    grounds = PARAMETERS.value("ban_exemptions", case.legal_date)
    ground, evidence = claim.ground, claim.evidence
    if ground not in grounds:  # a ground of another day: the ban of this one stands
        allowed = ", ".join(sorted(grounds)) or "—"
        why = T("g7.exemption.no_ground", ground=repr(ground), day=case.legal_date, allowed=allowed)
    elif not evidence:
        why = T("g7.exemption.no_evidence", ground=ground, needed=grounds[ground])
    else:
        return warn(
            T(
                "g7.exemption.claimed",
                ground=str(ground).replace("_", " "),
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
    weighed = [s for s in stones(case) if s.origin in banned]
    if not weighed:
        return hold(T("g7.indirect_ban.no_weights", threshold=threshold))
    unweighed = [s.id or "?" for s in weighed if s.carats is None]
    if unweighed:
        return hold(T("g7.indirect_ban.unreadable", stones=unweighed))
    caught = [s for s in weighed if s.carats is not None and s.carats >= Decimal(threshold)]
    if caught:
        ids = [s.id or "?" for s in caught]
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
    if given and sum(given.values()) != WHOLE:
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
    mixed = len(mining_countries(case)) > 1 or Origin.of(case.details).mixed == "yes"
    verified = case.action == VERIFY_ORIGIN or any(
        e.action == VERIFY_ORIGIN for e in case.shipment.events
    )
    if not mixed or verified:
        return None
    return T("g7.mixed.unverified", countries=sorted(mining_countries(case)))


def _origin_statement_missing(case: Case) -> Text | None:
    """From the date in force, polished stones of the weight in force brought into the
    Union carry the importer's due-diligence statement on their origin
    (``origin_statement``)."""
    rule = PARAMETERS.value("origin_statement", case.legal_date)
    if rule == "none" or case.shipment.goods not in rule["goods"]:
        return None
    if case.shipment.direction != "import":
        return None
    weights = [s.carats for s in stones(case)]
    least = Decimal(rule["min_carats"])
    if weights and all(w is not None and w < least for w in weights):
        return None  # every stone weighed, all below the weight
    statement = Stones.of(case.details).origin_statement
    absent = [name for name in rule["fields"] if not getattr(statement, name, None)]
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
    evidence = OriginEvidence.of(case.details)
    documents = evidence.origin_documents or []
    if not documents or not evidence.origin_shares:  # required: a record from before
        return hold(T("g7.evidence.not_attached"))
    return passed(T("g7.evidence.checked", count=len(documents)), documents=len(documents))


@RULES.rule("nl.trace.serial_lot", goods={"polished", "synthetic"})
def serial_or_lot_numbers(case: Case) -> Iterable[Verdict]:
    """Traceability rests on serial and lot numbers, not physical trackers."""
    listed = stones(case)
    if not listed:
        yield warn(T("g7.trace.no_stones"))
        return
    unnamed = [i for i, s in enumerate(listed) if not (s.id or s.lot)]
    if unnamed:
        yield hold(T("g7.trace.unnamed", count=len(unnamed)), positions=unnamed)
    else:
        yield passed(T("g7.trace.named", count=len(listed)))
