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
from caratflow.jurisdiction.texts import Joined, Messages, Text, load_catalogue
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
TEXTS = load_catalogue(HERE / "texts.toml")  # issue 23: what a reader sees, in 5 languages
T = Messages(TEXTS)
COMMUNITY = "EU"
ROUGH = {"rough"}
DETAIN = T("eu.to_be_detained")


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
            T("eu.issued_by_non_participant", country=country, detain=DETAIN),
            issuing_country=country,
        )
    first = case.registry.first_presentation(country, certificate.number, before=case.shipment.id)
    if first is not None:
        yield hold(
            T(
                "eu.certificate_presented_before",
                country=country,
                number=certificate.number,
                shipment=first.shipment_id,
                authority=first.authority_code,
                detain=DETAIN,
            ),
            first_shipment=first.shipment_id,
            first_authority=first.authority_code,
        )
    if participant and first is None:
        yield passed(T("eu.certificate_of_participant", country=country))


@RULES.rule("eu.import.container", directions={"import"}, goods=ROUGH)
def containers_sealed(case: Case) -> Verdict:
    """Rough diamonds arrive in tamper-proof containers whose export seals are unbroken."""
    broken = [c.label for c in case.shipment.containers if not c.seals_intact]
    if broken:
        return hold(
            T("eu.seals_broken", containers=broken, detain=DETAIN),
            containers=broken,
        )
    return passed(T("eu.seals_intact"))


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
        return hold(T("eu.carats_unreadable", carats=repr(case.inputs["weighed_carats"])))
    if weighed is not None and abs(weighed - certificate.carats) > tolerance:
        differences["carats"] = {"certificate": str(certificate.carats), "found": str(weighed)}
    if differences:
        return hold(
            T("eu.consignment_differs", differences=Joined(", ", map(T, differences))),
            differences=differences,
        )
    return passed(T("eu.certificate_identifies"))


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
        yield hold(T("eu.not_validated", detain=DETAIN))
    if not origin_known:
        failures += 1
        yield hold(T("eu.origin_missing", detain=DETAIN))
    for problem, data in _certificate_dates_and_number(case):
        failures += 1
        yield hold(T("eu.annex_i", problem=problem, detain=DETAIN), **data)
    if not failures:
        yield passed(T("eu.certificate_complete"))


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
            T(
                "eu.number_without_country",
                number=certificate.number,
                prefixes=Joined(" / ", prefixes),
            ),
            {"number": certificate.number, "expected_prefix": prefixes},
        )
    issued, expires, day = certificate.issued_on, certificate.expires_on, presented_on(case)
    if expires < issued:
        yield (
            T("eu.expires_before_issue", expires=expires, issued=issued),
            {"issued_on": issued, "expires_on": expires},
        )
    if issued > day:
        yield (
            T("eu.issued_after_presentation", issued=issued, day=day),
            {"issued_on": issued, "presented_on": day},
        )
    elif expires < day:
        yield (
            T("eu.expired_before_presentation", expires=expires, day=day),
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
        return passed(T("eu.presented_where_due", country=country))
    return warn(
        T("eu.presented_elsewhere", country=country, due=sorted(due)),
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
    reasons: list[Text] = []
    score = 0
    traders = sorted({certificate.importer_name, certificate.exporter_name})
    histories = case.registry.party_histories(
        case.shipment.authority_code, traders, excluding=case.shipment.id
    )
    for trader in traders:
        history = histories[trader]
        if not history.seen_before:
            score += profile["first_time_trader"]
            reasons.append(T("eu.risk.first_shipment", trader=trader))
        if history.held:
            score += profile["trader_held_before"]
            reasons.append(T("eu.risk.held_before", trader=trader, held=history.held))
    if certificate.origin and certificate.provenance not in certificate.origin:
        score += profile["provenance_not_origin"]
        reasons.append(T("eu.risk.provenance", provenance=certificate.provenance))
    per_carat = certificate.value_usd / certificate.carats
    low, high = Decimal(profile["min_usd_per_carat"]), Decimal(profile["max_usd_per_carat"])
    if not low <= per_carat <= high:
        score += profile["value_per_carat_outside"]
        reasons.append(T("eu.risk.value", per_carat=f"{per_carat:.2f}", low=low, high=high))
    labels = [c.label for c in case.shipment.containers]
    if score >= profile["open_every_container_from"]:
        selection = labels
    else:
        share = Decimal(profile["sample_share"])
        count = max(1, math.ceil(len(labels) * share))
        selection = sorted(labels, key=lambda label: _lot(case, label))[:count]
    return {
        "score": score,
        "reasons": reasons or [T("eu.risk.none")],
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
            T(
                "eu.risk.analysis",
                score=analysis["score"],
                reasons=Joined("; ", analysis["reasons"]),
                open=analysis["open"],
            ),
            **analysis,
        )
    verification = ImportVerification.of(case.inputs)
    method = verification.method or "every_container"
    opened = {c.container for c in verification.opened or []}
    if method == "every_container":
        return _every_container(case, opened)
    if analysis["open_every_container"]:
        return hold(
            T("eu.risk.open_every", reasons=Joined("; ", analysis["reasons"])),
            **analysis,
        )
    missing = sorted(set(analysis["open"]) - opened)
    if missing:
        return hold(T("eu.risk.not_opened", containers=missing), **analysis)
    return passed(
        T("eu.risk.opened", containers=sorted(opened), score=analysis["score"]),
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
        return hold(T("eu.no_such_container", containers=unknown), unknown=unknown)
    left = [label for label in labels if opened and label not in opened]
    if left:
        return hold(
            T("eu.every_container.not_opened", containers=left),
            method="every_container",
            not_opened=left,
        )
    return passed(
        T("eu.every_container.opened", containers=labels),
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
        return info(T("eu.transit.suspends"))
    return info(T("eu.transit.resumes"))


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
            T("eu.verified_late", waited=waited, allowed=allowed),
            working_days=waited,
        )
    return passed(T("eu.verified_after", waited=waited))


@RULES.rule("eu.detain", directions={"import"}, goods=ROUGH, actions={"hold"})
def detained(case: Case) -> Verdict:
    """Where Art. 3 is not met, the consignment is detained."""
    return info(T("eu.detained"))


@RULES.rule("eu.remedial_release", goods=ROUGH, actions={"remediate"}, guard=True)
def remedial_release_ground(case: Case) -> Verdict:
    """A detained consignment is released after remedial action only on a lawful ground."""
    grounds = parameter(case, "remedial_release_grounds")
    ground = case.inputs.get("ground")
    if ground not in grounds:
        return refuse(
            T("eu.remedial.ground_needed", grounds=grounds),
            grounds=grounds,
        )
    return passed(T("eu.remedial.released", ground=T(ground)))


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
        return info(T("eu.exported_before_application", exported=exported))
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
        return hold(T("eu.lawful_presence.reference"))
    return passed(T("eu.lawful_presence.confirmed", reference=evidence.reference))


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
            yield passed(T("eu.lawful_import.confirmed", number=number))
        else:
            yield hold(T("eu.lawful_import.none_on_record", number=number))
    elif kind not in {"annex_v_declaration", "lawful_presence"}:
        yield hold(T("eu.lawful_import.missing"))
    if not case.shipment.containers or not all(c.seals for c in case.shipment.containers):
        yield hold(T("eu.containers_unsealed"))


@RULES.rule("eu.export.wdc_declaration", directions={"export"}, goods=ROUGH)
def industry_declaration(case: Case) -> Verdict | None:
    """A signed declaration by a member of an Annex V organisation may evidence lawful import."""
    evidence = lawful_import(case)
    if evidence.kind != "annex_v_declaration":
        return None
    organisation = evidence.organisation
    if organisation not in parameter(case, "annex_v_organisations"):
        return hold(T("eu.wdc.not_annex_v", organisation=organisation or "—"))
    if not evidence.member or not evidence.signed_on:
        return hold(T("eu.wdc.incomplete"))
    return passed(
        T(
            "eu.wdc.declared",
            member=evidence.member,
            organisation=organisation,
            signed_on=evidence.signed_on,
        )
    )


@RULES.rule("kp.no_non_participants", directions={"export"}, goods=ROUGH)
def destination_participates(case: Case) -> Verdict | None:
    """No rough diamonds go to a country outside the Kimberley Process."""
    destination = Export.of(case.shipment.details).destination
    if not destination:
        return hold(T("eu.destination_missing"))
    if destination in community(case):
        return None  # no export at all (territory.py), and no question of participation
    if destination not in participants(case):
        return refuse(
            T("eu.destination_not_participant", destination=destination),
            destination=destination,
        )
    return passed(T("eu.destination_participant", destination=destination))


@RULES.rule("kp.no_non_participants", directions={"import"}, goods=ROUGH)
def provenance_participates(case: Case) -> Verdict:
    """No rough diamonds come from a country outside the Kimberley Process: the country of
    provenance (the last participant that exported the parcel) must be a participant on
    the legal date, not only the country that issued the certificate."""
    provenance = case.shipment.certificate.provenance
    if provenance not in participants(case):
        return hold(
            T(
                "eu.provenance_not_participant",
                provenance=provenance,
                day=case.legal_date,
                detain=DETAIN,
            ),
            provenance=provenance,
        )
    return passed(T("eu.provenance_participant", provenance=provenance))


@RULES.rule("eu.export.validate", directions={"export"}, goods=ROUGH, actions={"verify"})
def export_validated(case: Case) -> Verdict:
    """The certificate is validated only after checking content and sealing under supervision."""
    if case.inputs.get("sealed_under_supervision") != "yes":
        return hold(T("eu.export.seal_under_supervision"))
    return passed(T("eu.export.validated"))


@RULES.rule("eu.export.conditions", directions={"export"}, goods=ROUGH, actions={"export"})
def leaves_under_community_certificate(case: Case) -> Iterable[Verdict]:
    """Rough diamonds leave only with a Community certificate issued and validated by a
    Community authority, in a tamper-proof container."""
    document = case.registry.document_of(case.shipment.id, COMMUNITY_CERTIFICATE.kind)
    if document is None:
        yield hold(T("eu.export.no_certificate"))
    elif document.status != DocumentStatus.VALID:
        yield hold(
            T(
                "eu.export.certificate_status",
                number=document.number,
                status=T(document.status.value),
            )
        )
    broken = [c.label for c in case.shipment.containers if not c.seals_intact]
    if broken:
        yield hold(T("eu.export.seals_broken", containers=broken))
    if document is not None and document.status == DocumentStatus.VALID and not broken:
        yield passed(T("eu.export.leaves", number=document.number))


@RULES.rule("eu.export.valid_2_months", directions={"export"}, goods=ROUGH, actions={"export"})
def certificate_still_valid(case: Case) -> Verdict | None:
    """A Community certificate serves for export at most two months from its issue; an
    unused one goes back to the authority that issued it."""
    document = case.registry.document_of(case.shipment.id, COMMUNITY_CERTIFICATE.kind)
    if document is None or document.valid_until is None:
        return None
    if case.decision_date > document.valid_until:
        return refuse(
            T("eu.export.expired", number=document.number, valid_until=document.valid_until),
            certificate=document.number,
            valid_until=document.valid_until,
        )
    return passed(T("eu.export.valid", number=document.number, valid_until=document.valid_until))


@RULES.rule("eu.export.detain", directions={"export"}, goods=ROUGH, actions={"hold"})
def export_detained(case: Case) -> Verdict:
    """An export not meeting Arts. 11-13 is detained, as Art. 5(2)-(3) provide."""
    return info(T("eu.export.detained"))


# -- transit, traders and fees (Arts. 17 to 19) -----------------------------------------------


@RULES.rule("eu.transit", directions={"transit"}, goods=ROUGH)
def transit_exempt(case: Case) -> Verdict:
    """Transit is exempt only for goods that pass through the Community to a participant
    outside it, in an untampered container, under a certificate that shows the transit."""
    broken = [c.label for c in case.shipment.containers if not c.seals_intact]
    if broken:
        return hold(T("eu.transit.seals_broken", containers=broken))
    transit = Transit.of(case.shipment.details)
    destination = transit.destination
    if not destination:
        return hold(T("eu.transit.destination_missing"))
    if destination in community(case):  # Art. 1: one territory, its Member States dated
        return hold(
            T("eu.transit.not_through", destination=destination),
            destination=destination,
        )
    if destination not in participants(case):
        return hold(
            T("eu.transit.not_participant", destination=destination),
            destination=destination,
        )
    if transit.transit_declared != "yes":
        return hold(T("eu.transit.not_declared"))
    return passed(T("eu.transit.exempt", destination=destination))


@RULES.rule(
    "eu.industry.records", directions={"import", "export"}, goods=ROUGH, actions={"present"}
)
def invoice_warranty(case: Case) -> Verdict:
    """Traders' invoices carry the KP warranty statement, and traders keep records 3 years."""
    if Invoice.of(case.shipment.details).invoice_warranty == "no":
        return warn(T("eu.invoice.no_warranty"))
    return passed(T("eu.invoice.warranty"))


@RULES.rule("eu.fees", goods=ROUGH, actions={"verify"})
def fee_within_cost(case: Case) -> Verdict:
    """Fees may not exceed the cost of the service."""
    fees = parameter(case, "fees")
    fee, cost = Decimal(fees["fee_eur"]), Decimal(fees["cost_eur"])
    if fee > cost:
        return warn(
            T("eu.fee.above_cost", fee=fee, cost=cost),
            fee_eur=fee,
            cost_eur=cost,
        )
    return info(T("eu.fee.charged", fee=fee), fee_eur=fee)


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
