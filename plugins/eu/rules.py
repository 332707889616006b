"""Reg. (EC) 2368/2002 as rules of the EU plugin: import (Arts. 3-7), export (Arts. 11-14),
transit (Art. 18), industry and fees (Arts. 17, 19), and the KP minimums of Annex I.

What a decision records (``inputs``) and a presentation carries (``details``) is declared,
typed, in ``fields.py``: the rules read those models (``Model.of(...)``), never a raw key.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from caratflow.deadlines.keeping import calendar_of
from caratflow.law.rules import Case, RuleBook, Verdict, hold, info, passed, refuse, warn
from caratflow.models import DocumentStatus
from caratflow.plugins.eu.documents import COMMUNITY_CERTIFICATE, IMPORT_CONFIRMED_BY
from caratflow.plugins.eu.fields import (
    PARAMETERS,
    Export,
    Import,
    ImportVerification,
    Invoice,
    LawfulImport,
    Transit,
)

HERE = Path(__file__).parent
RULES = RuleBook("eu", HERE / "rules.toml")
COMMUNITY = "EU"
ROUGH = {"rough"}
DETAIN = "the consignment is to be detained (Art. 5(1)(b))"


def parameter(case: Case, name: str) -> Any:
    return PARAMETERS.value(name, case.legal_date)


def participants(case: Case) -> set[str]:
    return set(parameter(case, "kp_participants"))


def community(case: Case) -> set[str]:
    """The Community's one territory (Art. 1): its Member States, the territories one
    entity with it (Greenland since 2014), and the EU itself, the participant whose code its
    certificates carry (``territory.py``)."""
    return {
        COMMUNITY,
        *parameter(case, "member_states"),
        *parameter(case, "one_entity_with_the_union"),
    }


# -- import conditions (Art. 3) ---------------------------------------------------------------


@RULES.rule("eu.import.certificate", directions={"import"}, goods=ROUGH)
def certificate_from_participant(case: Case) -> Iterable[Verdict]:
    """Rough diamonds are imported only with a certificate of a KP participant's authority,
    and one certificate serves one consignment: presented again, anywhere in this
    deployment, it is not the certificate of the second one."""
    certificate = case.shipment.certificate
    country = certificate.issuing_country
    participant = country in participants(case)
    if not participant:
        yield hold(
            f"the certificate was issued in {country}, which is not a Kimberley Process "
            f"participant: {DETAIN}",
            issuing_country=country,
        )
    first = case.registry.first_presentation(country, certificate.number, before=case.shipment.id)
    if first is not None:
        yield hold(
            f"certificate {country} {certificate.number} was already presented for shipment "
            f"{first.shipment_id} at authority {first.authority_code}: a certificate serves "
            f"one consignment; {DETAIN}",
            first_shipment=first.shipment_id,
            first_authority=first.authority_code,
        )
    if participant and first is None:
        yield passed(f"certificate issued by a participant ({country}), presented once")


@RULES.rule("eu.import.container", directions={"import"}, goods=ROUGH)
def containers_sealed(case: Case) -> Verdict:
    """Rough diamonds arrive in tamper-proof containers whose export seals are unbroken."""
    broken = [c.label for c in case.shipment.containers if not c.seals_intact]
    if broken:
        return hold(
            f"seals broken on container(s) {', '.join(broken)}: the consignment is to be "
            "detained (Art. 5(1)(b))",
            containers=broken,
        )
    return passed("every container's seals are intact")


@RULES.rule("eu.import.identifies", directions={"import"}, goods=ROUGH, actions={"verify"})
def certificate_identifies_consignment(case: Case) -> Verdict:
    """The certificate clearly identifies the consignment: parcels and carats match."""
    certificate = case.shipment.certificate
    differences = {}
    counted = case.inputs.get("counted_parcels")
    if counted is not None and str(counted) != str(certificate.parcels):
        differences["parcels"] = {"certificate": certificate.parcels, "found": counted}
    weighed = _decimal(case.inputs.get("weighed_carats"))
    tolerance = Decimal(parameter(case, "weighing_tolerance_carats"))
    if weighed is not None and weighed.is_nan():
        return hold(f"the weighed carats {case.inputs['weighed_carats']!r} cannot be read")
    if weighed is not None and abs(weighed - certificate.carats) > tolerance:
        differences["carats"] = {"certificate": str(certificate.carats), "found": str(weighed)}
    if differences:
        return hold(
            f"the consignment does not match its certificate ({', '.join(differences)}): "
            "to be detained (Art. 5(1)(b))",
            differences=differences,
        )
    return passed("the certificate identifies the consignment")


@RULES.rule("kp.certificate.fields", directions={"import", "transit"}, goods=ROUGH)
def certificate_complete(case: Case) -> Iterable[Verdict]:
    """The certificate carries the KP minimum content, validated by the exporting authority,
    and is in force on the legal date of presentation. A certificate that fails this is a
    presented document: recorded, and the consignment detained (Art. 5(1)(b))."""
    certificate = case.shipment.certificate
    validated = bool(certificate.validating_authority)
    origin_known = bool(certificate.origin) or _mixed(case)
    failures = 0
    if not validated:
        failures += 1
        yield hold(
            f"the certificate shows no validation by the exporting authority (Annex I): {DETAIN}"
        )
    if not origin_known:
        failures += 1
        yield hold(
            f"an unmixed parcel's certificate must state its country of origin (Annex I): {DETAIN}"
        )
    for problem, data in _certificate_dates_and_number(case):
        failures += 1
        yield hold(f"{problem} (Annex I): {DETAIN}", **data)
    if not failures:
        yield passed(
            "KP minimum content present, validated by the exporting authority, in force "
            "on the day of presentation"
        )


def presented_on(case: Case) -> date:
    """The legal date of presentation in the authority's zone: a certificate is judged on
    the day it was presented, whatever day's law a replay applies."""
    return case.shipment.authority.local_date(case.shipment.presented_at)


def _certificate_dates_and_number(case: Case) -> Iterable[tuple[str, dict[str, Any]]]:
    """What Annex I asks of a certificate's number and dates: the issuing country's ISO
    3166-1 code in the number; valid from its date of issue to its date of expiry, both
    days included (the scheme's own wording; Reg. 1182/71 counts no third country's
    document), on the day of presentation."""
    certificate = case.shipment.certificate
    country = certificate.issuing_country
    prefixes = parameter(case, "certificate_number_prefixes").get(country, [country])
    if not certificate.number.startswith(tuple(prefixes)):
        yield (
            f"the certificate's number {certificate.number} does not carry the ISO 3166-1 "
            f"code of its issuing country ({' or '.join(prefixes)})",
            {"number": certificate.number, "expected_prefix": prefixes},
        )
    issued, expires, day = certificate.issued_on, certificate.expires_on, presented_on(case)
    if expires < issued:
        yield (
            f"the certificate expires on {expires}, before it was issued on {issued}",
            {"issued_on": issued, "expires_on": expires},
        )
    if issued > day:
        yield (
            f"the certificate was issued on {issued}, after its presentation on {day}",
            {"issued_on": issued, "presented_on": day},
        )
    elif expires < day:
        yield (
            f"the certificate expired on {expires}, before its presentation on {day}",
            {"expires_on": expires, "presented_on": day},
        )


# -- presentation and verification (Arts. 4 and 5) --------------------------------------------


@RULES.rule("eu.present", directions={"import"}, goods=ROUGH, actions={"present"})
def presented_where_due(case: Case) -> Verdict:
    """Presented in the Member State of import or of destination (or, lacking an authority
    there, in another one)."""
    country = case.shipment.authority.country
    presented = Import.of(case.shipment.details)
    due = {presented.member_state_of_import, presented.member_state_of_destination} - {None}
    if not due or country in due:
        return passed(f"presented to the Community authority in {country}")
    return warn(
        f"presented in {country}, not in the Member State of import or destination "
        f"({', '.join(sorted(due))}): lawful only where neither has a Community authority",
        due=sorted(due),
    )


def _mixed(case: Case) -> bool:
    return Import.of(case.shipment.details).mixed == "yes" or (
        Transit.of(case.shipment.details).mixed == "yes"
    )


def risk_analysis(case: Case) -> dict[str, Any]:
    """Art. 4(5)(b): why this consignment does or does not have every container opened."""
    profile = parameter(case, "risk_profile")
    certificate = case.shipment.certificate
    reasons: list[str] = []
    score = 0
    traders = sorted({certificate.importer_name, certificate.exporter_name})
    histories = case.registry.party_histories(
        case.shipment.authority_code, traders, excluding=case.shipment.id
    )
    for trader in traders:
        history = histories[trader]
        if not history.seen_before:
            score += profile["first_time_trader"]
            reasons.append(f"first shipment of {trader}")
        if history.held:
            score += profile["trader_held_before"]
            reasons.append(f"{trader} had {history.held} consignment(s) detained before")
    if certificate.origin and certificate.provenance not in certificate.origin:
        score += profile["provenance_not_origin"]
        reasons.append(f"provenance {certificate.provenance} is not a country of origin")
    per_carat = certificate.value_usd / certificate.carats
    low, high = Decimal(profile["min_usd_per_carat"]), Decimal(profile["max_usd_per_carat"])
    if not low <= per_carat <= high:
        score += profile["value_per_carat_outside"]
        reasons.append(f"USD {per_carat:.2f} per carat is outside {low}-{high}")
    labels = [c.label for c in case.shipment.containers]
    if score >= profile["open_every_container_from"]:
        selection = labels
    else:
        share = Decimal(profile["sample_share"])
        count = max(1, math.ceil(len(labels) * share))
        selection = sorted(labels, key=lambda label: _lot(case, label))[:count]
    return {
        "score": score,
        "reasons": reasons or ["no risk factor"],
        "open": sorted(selection),
        "open_every_container": selection == labels,
    }


@RULES.rule(
    "eu.verify.method", directions={"import", "export"}, goods=ROUGH, actions={"present", "verify"}
)
def verification_method(case: Case) -> Verdict:
    """Content is verified by opening every container, or those a risk analysis selects."""
    analysis = risk_analysis(case)
    if case.action == "present":
        return info(
            f"risk analysis: score {analysis['score']} "
            f"({'; '.join(analysis['reasons'])}); open {', '.join(analysis['open'])}",
            **analysis,
        )
    verification = ImportVerification.of(case.inputs)
    method = verification.method or "every_container"
    opened = {c.container for c in verification.opened or []}
    if method == "every_container":
        return _every_container(case, opened)
    if analysis["open_every_container"]:
        return hold(
            "the risk analysis requires every container to be opened: "
            f"{'; '.join(analysis['reasons'])}",
            **analysis,
        )
    missing = sorted(set(analysis["open"]) - opened)
    if missing:
        return hold(
            f"the risk analysis selected {', '.join(missing)}, which was not opened", **analysis
        )
    return passed(
        f"risk-based selection opened {', '.join(sorted(opened))} (score {analysis['score']})",
        method=method,
        **analysis,
    )


def _every_container(case: Case, opened: set[str]) -> Verdict:
    """Art. 4(5)(a), 12(2): every container is opened, each one named. A decision that
    names the containers opened and leaves one out has not verified by this method; one
    that names none records the method's own meaning, every container, by name."""
    labels = [c.label for c in case.shipment.containers]
    unknown = sorted(opened - set(labels))
    if unknown:
        return hold(f"no container {', '.join(unknown)} in this consignment", unknown=unknown)
    left = [label for label in labels if opened and label not in opened]
    if left:
        return hold(
            f"every container is to be opened (Art. 4(5)(a)): {', '.join(left)} was not",
            method="every_container",
            not_opened=left,
        )
    return passed(
        f"every container opened (Art. 4(5)(a)): {', '.join(labels)}",
        method="every_container",
        opened=labels,
    )


@RULES.rule(
    "eu.transit_suspends",
    directions={"import"},
    goods=ROUGH,
    actions={"place_under_transit", "end_transit"},
)
def verification_suspended_in_transit(case: Case) -> Verdict:
    """Under customs transit, verification waits until the consignment reaches the
    authority at its destination; so does the clock of Art. 5(1)(a)."""
    if case.action == "place_under_transit":
        return info(
            "placed under customs transit: verification and the 10 working days of "
            "Art. 5(1)(a) are suspended until the consignment reaches the authority"
        )
    return info("the consignment reached the authority: verification and its clock resume")


@RULES.rule("eu.verify.without_delay", goods=ROUGH, actions={"verify"})
def verified_without_delay(case: Case) -> Verdict:
    """Verification is carried out without delay (counted in the authority's working days,
    its closure days excluded)."""
    calendar = calendar_of(case.shipment.authority)
    presented = calendar.legal_date(case.shipment.presented_at)
    waited = calendar.working_days_between(presented, case.decision_date)
    allowed = parameter(case, "verification_working_days")
    if waited > allowed:
        return warn(
            f"verified {waited} working days after presentation; the service standard "
            f"for 'without delay' is {allowed}",
            working_days=waited,
        )
    return passed(f"verified {waited} working day(s) after presentation")


@RULES.rule("eu.detain", directions={"import"}, goods=ROUGH, actions={"hold"})
def detained(case: Case) -> Verdict:
    """Where Art. 3 is not met, the consignment is detained."""
    return info(
        "consignment detained; it may be released only after remedial action "
        "(Art. 5(2)) and the Commission and issuing authority are told (Art. 5(3))"
    )


@RULES.rule("eu.remedial_release", goods=ROUGH, actions={"remediate"}, guard=True)
def remedial_release_ground(case: Case) -> Verdict:
    """A detained consignment is released after remedial action only on a lawful ground."""
    grounds = parameter(case, "remedial_release_grounds")
    ground = case.inputs.get("ground")
    if ground not in grounds:
        return refuse(
            f"remedial release needs its ground (inputs.ground): one of {', '.join(grounds)}",
            grounds=grounds,
        )
    return passed(f"released after remedial action on the ground: {ground.replace('_', ' ')}")


# -- lawful import before the regulation, and certified stocks (Arts. 6 and 7) ----------------


@RULES.rule("eu.pre_application", directions={"import"}, goods=ROUGH, actions={"present"})
def exported_before_application(case: Case) -> Verdict | None:
    """Goods exported at the latest five days before the regulation applied may be admitted."""
    exported = Import.of(case.shipment.details).exported_on
    if exported is None:
        return None
    applies = parameter(case, "regulation_applies_from")
    latest = applies["date"] - timedelta(days=applies["exported_at_latest_days_before"])
    if exported <= latest:
        return info(
            f"exported on {exported}, at the latest five days before the regulation "
            "applied: a confirmation of lawful import may be issued"
        )
    return None


def lawful_import(case: Case) -> LawfulImport:
    return Export.of(case.shipment.details).lawful_import or LawfulImport()


@RULES.rule("eu.certified_stocks", directions={"export"}, goods=ROUGH)
def lawful_presence(case: Case) -> Verdict | None:
    """Stocks certified, or confirmed lawfully present, count as meeting Art. 3."""
    evidence = lawful_import(case)
    if evidence.kind != "lawful_presence":
        return None
    if not evidence.reference:
        return hold("a lawful-presence confirmation must give its reference")
    return passed(f"lawful presence confirmed ({evidence.reference})")


# -- export (Arts. 11 to 14) ------------------------------------------------------------------


@RULES.rule("eu.export.issue", directions={"export"}, goods=ROUGH)
def export_certificate_may_issue(case: Case) -> Iterable[Verdict]:
    """A Community certificate issues only on conclusive evidence of lawful import, to a
    participant, in a tamper-proof container."""
    evidence = lawful_import(case)
    kind = evidence.kind
    if kind == "confirmed_import":
        number = evidence.certificate or ""
        clearing = (*sorted(IMPORT_CONFIRMED_BY), "release")
        if case.registry.cleared_import(case.shipment.authority_code, number, clearing):
            yield passed(f"lawful import shown: certificate {number} was confirmed here")
        else:
            yield hold(f"no verified import under certificate {number} is on record")
    elif kind not in {"annex_v_declaration", "lawful_presence"}:
        yield hold("no conclusive evidence of lawful import (lawful_import)")
    if not case.shipment.containers or not all(c.seals for c in case.shipment.containers):
        yield hold("every container must be tamper-proof and sealed")


@RULES.rule("eu.export.wdc_declaration", directions={"export"}, goods=ROUGH)
def industry_declaration(case: Case) -> Verdict | None:
    """A signed declaration by a member of an Annex V organisation may evidence lawful import."""
    evidence = lawful_import(case)
    if evidence.kind != "annex_v_declaration":
        return None
    organisation = evidence.organisation
    if organisation not in parameter(case, "annex_v_organisations"):
        return hold(f"{organisation or 'no organisation'} is not an Annex V organisation")
    if not evidence.member or not evidence.signed_on:
        return hold("the declaration must name the signing member and its date")
    return passed(f"declaration of {evidence.member} ({organisation}), signed {evidence.signed_on}")


@RULES.rule("kp.no_non_participants", directions={"export"}, goods=ROUGH)
def destination_participates(case: Case) -> Verdict | None:
    """No rough diamonds go to a country outside the Kimberley Process."""
    destination = Export.of(case.shipment.details).destination
    if not destination:
        return hold("state the destination country (destination)")
    if destination in community(case):
        return None  # no export at all (territory.py), and no question of participation
    if destination not in participants(case):
        return refuse(
            f"{destination} is not a Kimberley Process participant", destination=destination
        )
    return passed(f"destination {destination} is a participant")


@RULES.rule("kp.no_non_participants", directions={"import"}, goods=ROUGH)
def provenance_participates(case: Case) -> Verdict:
    """No rough diamonds come from a country outside the Kimberley Process: the country of
    provenance (the last participant that exported the parcel) must be a participant on
    the legal date, not only the country that issued the certificate."""
    provenance = case.shipment.certificate.provenance
    if provenance not in participants(case):
        return hold(
            f"the country of provenance {provenance} is not a Kimberley Process participant "
            f"on {case.legal_date}: no trade with non-participants; {DETAIN}",
            provenance=provenance,
        )
    return passed(f"provenance {provenance} is a participant")


@RULES.rule("eu.export.validate", directions={"export"}, goods=ROUGH, actions={"verify"})
def export_validated(case: Case) -> Verdict:
    """The certificate is validated only after checking content and sealing under supervision."""
    if case.inputs.get("sealed_under_supervision") != "yes":
        return hold(
            "the containers must be sealed under the authority's supervision before "
            "the certificate is validated (inputs.sealed_under_supervision: yes)"
        )
    return passed("content checked and containers sealed under supervision")


@RULES.rule("eu.export.conditions", directions={"export"}, goods=ROUGH, actions={"export"})
def leaves_under_community_certificate(case: Case) -> Iterable[Verdict]:
    """Rough diamonds leave only with a Community certificate issued and validated by a
    Community authority, in a tamper-proof container."""
    document = case.registry.document_of(case.shipment.id, COMMUNITY_CERTIFICATE.kind)
    if document is None:
        yield hold("no Community certificate was issued and validated for this consignment")
    elif document.status != DocumentStatus.VALID:
        yield hold(f"Community certificate {document.number} was {document.status.value}")
    broken = [c.label for c in case.shipment.containers if not c.seals_intact]
    if broken:
        yield hold(f"seals broken on container(s) {', '.join(broken)} since validation")
    if document is not None and document.status == DocumentStatus.VALID and not broken:
        yield passed(f"leaves under Community certificate {document.number}, seals intact")


@RULES.rule("eu.export.valid_2_months", directions={"export"}, goods=ROUGH, actions={"export"})
def certificate_still_valid(case: Case) -> Verdict | None:
    """A Community certificate serves for export at most two months from its issue; an
    unused one goes back to the authority that issued it."""
    document = case.registry.document_of(case.shipment.id, COMMUNITY_CERTIFICATE.kind)
    if document is None or document.valid_until is None:
        return None
    if case.decision_date > document.valid_until:
        return refuse(
            f"Community certificate {document.number} expired on "
            f"{document.valid_until:%d %B %Y}: it may not be used and is to be returned to "
            "the issuing authority (return_certificate)",
            certificate=document.number,
            valid_until=document.valid_until,
        )
    return passed(
        f"Community certificate {document.number} valid until {document.valid_until:%d %B %Y}"
    )


@RULES.rule("eu.export.detain", directions={"export"}, goods=ROUGH, actions={"hold"})
def export_detained(case: Case) -> Verdict:
    """An export not meeting Arts. 11-13 is detained, as Art. 5(2)-(3) provide."""
    return info("export consignment detained; remedial release and notice as Art. 5(2)-(3)")


# -- transit, traders and fees (Arts. 17 to 19) -----------------------------------------------


@RULES.rule("eu.transit", directions={"transit"}, goods=ROUGH)
def transit_exempt(case: Case) -> Verdict:
    """Transit is exempt only for goods that pass through the Community to a participant
    outside it, in an untampered container, under a certificate that shows the transit."""
    broken = [c.label for c in case.shipment.containers if not c.seals_intact]
    if broken:
        return hold(f"in transit with broken seals on {', '.join(broken)}")
    transit = Transit.of(case.shipment.details)
    destination = transit.destination
    if not destination:
        return hold("state the destination beyond the Community (destination)")
    if destination in community(case):  # Art. 1: one territory, its Member States dated
        return hold(
            f"goods bound for {destination} do not only pass through the Community: not a transit",
            destination=destination,
        )
    if destination not in participants(case):
        return hold(
            f"transit to {destination}, which is not a Kimberley Process participant, is not "
            "exempt: no trade with non-participants",
            destination=destination,
        )
    if transit.transit_declared != "yes":
        return hold("the certificate does not clearly state the transit (transit_declared)")
    return passed(f"transit to {destination} exempt: recorded, not verified")


@RULES.rule(
    "eu.industry.records", directions={"import", "export"}, goods=ROUGH, actions={"present"}
)
def invoice_warranty(case: Case) -> Verdict:
    """Traders' invoices carry the KP warranty statement, and traders keep records 3 years."""
    if Invoice.of(case.shipment.details).invoice_warranty == "no":
        return warn("the invoice does not carry the KP warranty statement")
    return passed("invoice warranty not in question")


@RULES.rule("eu.fees", goods=ROUGH, actions={"verify"})
def fee_within_cost(case: Case) -> Verdict:
    """Fees may not exceed the cost of the service."""
    fees = parameter(case, "fees")
    fee, cost = Decimal(fees["fee_eur"]), Decimal(fees["cost_eur"])
    if fee > cost:
        return warn(
            f"the fee (EUR {fee}) exceeds the cost of the service (EUR {cost})",
            fee_eur=fee,
            cost_eur=cost,
        )
    return info(f"verification fee EUR {fee}", fee_eur=fee)


def _lot(case: Case, label: str) -> str:
    """A reproducible draw: the same consignment always selects the same containers."""
    seed = f"{case.shipment.certificate.number}/{label}"
    return hashlib.sha256(seed.encode()).hexdigest()


def _decimal(value: object) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal("NaN")
