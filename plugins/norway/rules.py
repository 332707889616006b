"""Rules of FOR-2004-02-24-470 (Norway), each citing its § and LAW.md id.

Controls (§11) are recorded as decisions of their own (``control_documents``, …) with
an outcome; the rules read those decisions when the control is completed (``verify``,
which for Norway grants the permit of §12).

What a decision may record (``inputs``): on a control step, its ``outcome`` (``pass`` or
``fail``); on an export's ``verify`` (the authority's validation), ``sealed_by_authority``
(``yes``: the containers are sealed by the authority, the certificate attached, §5 c-d).
What a presentation may carry (``details``): ``advance_notice`` (§8; the reference of the
document control), ``destination``, ``reexport`` and ``import_certificate`` (§5).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from pathlib import Path

from caratflow.jurisdiction.retention import years_after
from caratflow.jurisdiction.texts import Messages, load_catalogue
from caratflow.law.parameters import DatedParameters
from caratflow.law.rules import Case, RuleBook, Verdict, hold, info, passed, refuse, warn
from caratflow.ledger.sealing import reference
from caratflow.models import DocumentStatus, Event
from caratflow.plugins.norway.documents import COMPLETION, KP_CERTIFICATE
from caratflow.plugins.norway.fields import AdvanceNotice

HERE = Path(__file__).parent
PARAMETERS = DatedParameters.in_folder(HERE / "parameters")
RULES = RuleBook("norway", HERE / "rules.toml")
TEXTS = load_catalogue(HERE / "texts.toml")  # issue 23: what a reader sees, in 5 languages
T = Messages(TEXTS)
AUTHORITY = "NO"
CLEARANCE = ("release", "export")  # customs clearance after the permit (§9, §10)


def decisions(case: Case, *actions: str) -> list[Event]:
    return [e for e in case.shipment.events if e.action in actions]


def participants(case: Case) -> set[str]:
    return set(PARAMETERS.value("kp_participants", case.legal_date))


# -- registration and routing --------------------------------------------------------------


@RULES.rule("no.registration", goods={"rough"}, directions={"import", "export"})
def party_registered(case: Case) -> Verdict:
    """The importer or exporter is registered before the goods cross the border (§7)."""
    certificate = case.shipment.certificate
    name = (
        certificate.importer_name
        if case.shipment.direction == "import"
        else (certificate.exporter_name)
    )
    role = "importer" if case.shipment.direction == "import" else "exporter"
    registered = case.registry.party_registered(AUTHORITY, name)
    late = decisions(case, "allow_late_registration")
    if late:
        allowed_on = case.shipment.authority.local_date(late[-1].at)
        return info(
            f"{role} {name} {'registered' if registered else 'registers'} late, allowed on "
            f"{allowed_on:%Y-%m-%d}: {late[-1].reason}",
            registered=registered,
        )
    if registered:
        return passed(f"{role} {name} is registered")
    return refuse(
        f"{role} {name} is not registered with the authority; register first, or allow late "
        "registration if it does not hinder control",
        party=name,
        role=role,
    )


@RULES.rule("no.import.gardermoen", goods={"rough"}, directions={"import"})
def imported_through_gardermoen(case: Case) -> Verdict:
    """Rough diamonds enter only through Oslo Gardermoen and wait in its bonded warehouse."""
    allowed = PARAMETERS.value("import_entry_points", case.legal_date)
    entry = case.shipment.entry_point
    if entry not in allowed:
        return refuse(
            f"imports of rough diamonds must enter through {' or '.join(allowed)} "
            f"(Oslo Lufthavn Gardermoen), not {entry or 'an unnamed entry point'}",
            entry_point=entry,
            allowed=allowed,
        )
    if case.action in COMPLETION | set(CLEARANCE) and not decisions(case, "store_bonded"):
        return hold(
            "the goods must be stored in the bonded warehouse at Gardermoen until "
            "control and customs clearance"
        )
    return passed(f"entered through {entry}")


@RULES.rule(
    "no.import.gardermoen",
    goods={"rough"},
    directions={"import"},
    actions={"remediate"},
    guard=True,
)
def cleared_only_under_permit(case: Case) -> Verdict:
    """Customs clears an import only under the authority's permit (§9): a detained import is
    released by completing its control, never by a remedial release."""
    return refuse(
        "customs clears rough diamonds only under the authority's permit: lift the detention "
        "(resume_control) and complete the control, or refuse the consignment"
    )


# -- import and export conditions ------------------------------------------------------------


@RULES.rule("no.import.conditions", goods={"rough"}, directions={"import"})
def import_conditions(case: Case) -> Iterable[Verdict]:
    """Imports need a participant's certificate, clearly for that consignment alone, in
    sealed tamper-proof containers (§4)."""
    certificate = case.shipment.certificate
    if certificate.issuing_country not in participants(case):
        yield refuse(
            f"the certificate was issued in {certificate.issuing_country}, which is "
            "not a Kimberley Process participant"
        )
    broken = [c.label for c in case.shipment.containers if not c.seals_intact]
    if broken:
        yield hold(f"container(s) {', '.join(broken)} not correctly sealed", containers=broken)
    first = case.registry.first_presentation(
        certificate.issuing_country, certificate.number, before=case.shipment.id
    )
    if first is not None:  # "clearly for that consignment": one certificate, one consignment
        yield hold(
            f"certificate {certificate.issuing_country} {certificate.number} was already "
            f"presented for shipment {first.shipment_id} at authority {first.authority_code}",
            first_shipment=first.shipment_id,
            first_authority=first.authority_code,
        )
    if certificate.issuing_country in participants(case) and not broken and first is None:
        yield passed("certificate of a participant, presented once; containers sealed")


@RULES.rule("no.export.conditions", goods={"rough"}, directions={"export"})
def export_conditions(case: Case) -> Verdict:
    """Exports go only to another participant, sealed by the authority, under the Norwegian
    certificate it issued (§5): validating the export issues it, and nothing leaves
    without it still valid."""
    destination = case.shipment.details.get("destination")
    certificate = case.shipment.certificate
    if not destination:
        return hold("state the destination country (details.destination) of the export")
    if destination == AUTHORITY or destination not in participants(case):
        return refuse(
            f"{destination} is not another Kimberley Process participant", destination=destination
        )
    if certificate.issuing_country != AUTHORITY:
        return refuse(
            "an export from Norway travels under a certificate issued by the "
            f"Norwegian authority, not one issued in {certificate.issuing_country}"
        )
    if case.action in COMPLETION and case.inputs.get("sealed_by_authority") != "yes":
        return hold(
            "the authority seals the containers, the certificate attached so that it cannot "
            "be separated, before it issues the certificate (inputs.sealed_by_authority: yes)"
        )
    if case.action in CLEARANCE:
        return _leaves_under_norwegian_certificate(case, destination)
    return passed(f"export to participant {destination} under a Norwegian certificate")


def _leaves_under_norwegian_certificate(case: Case, destination: str) -> Verdict:
    document = case.registry.document_of(case.shipment.id, KP_CERTIFICATE.kind)
    if document is None:
        return hold("no Norwegian KP certificate was issued for this consignment")
    if document.status != DocumentStatus.VALID:
        return hold(f"Norwegian KP certificate {document.number} was {document.status.value}")
    if document.valid_until is not None and case.decision_date > document.valid_until:
        return hold(
            f"Norwegian KP certificate {document.number} expired on "
            f"{document.valid_until:%d %B %Y}",
            certificate=document.number,
            valid_until=document.valid_until,
        )
    return passed(
        f"leaves for {destination} under Norwegian KP certificate {document.number}",
        certificate=document.number,
    )


@RULES.rule("no.reexport.proof", goods={"rough"}, directions={"export"})
def reexport_proven(case: Case) -> Verdict | None:
    """A re-export proves the goods came from a participant: the import's KP certificate (§5)."""
    if not case.shipment.details.get("reexport"):
        return None
    number = case.shipment.details.get("import_certificate")
    if not number:
        return refuse(
            "a re-export needs the KP certificate that accompanied the import "
            "(details.import_certificate)"
        )
    if not case.registry.cleared_import(AUTHORITY, number, CLEARANCE):
        return refuse(
            f"no import into Norway under certificate {number} was cleared",
            import_certificate=number,
        )
    return passed(f"imported under certificate {number}, cleared in Norway")


@RULES.rule(
    "no.export.permit",
    goods={"rough"},
    directions={"export"},
    actions={"export", "remediate"},
    guard=True,
)
def export_permitted(case: Case) -> Verdict:
    """Customs lets the goods out only with the authority's permit (§10): a detained export
    leaves only once its control is completed, never by a remedial release."""
    if case.action == "remediate":
        return refuse(
            "goods leave Norway only under the authority's export permit: lift the detention "
            "(resume_control) and complete the control, or refuse the export"
        )
    granted = decisions(case, *COMPLETION)
    if not granted:
        return hold("no export permit has been granted")
    granted_on = case.shipment.authority.local_date(granted[-1].at)
    return passed(f"permit granted on {granted_on:%Y-%m-%d} by {granted[-1].actor}")


# -- controls (§11) and their completion (§12) -----------------------------------------------


def recorded_control(case: Case, action: str, what: str) -> Verdict | None:
    """The latest outcome of a control step: the one being recorded now, or an earlier one."""
    if case.action == action:
        outcome, day = case.inputs.get("outcome"), case.decision_date
    elif steps := decisions(case, action):
        outcome, day = steps[-1].data.get("outcome"), steps[-1].at.date()
    else:
        return None
    if outcome == "fail":
        return hold(f"{what} failed on {day:%Y-%m-%d}", control=action)
    return passed(f"{what} passed on {day:%Y-%m-%d}")


@RULES.rule("no.control.document", goods={"rough"}, directions={"import"})
def document_control(case: Case) -> Iterable[Verdict]:
    """Every import: the certificate matches the advance notice, field by field (§11)."""
    given = AdvanceNotice.read(case.details.get("advance_notice"))
    if given is None:
        yield hold(
            "no advance notice (§8) is on record: the certificate has nothing to be "
            "compared with (advance_notice)"
        )
    notice = given.model_dump(exclude_none=True) if given else {}
    certificate = case.shipment.certificate
    announced = {
        "certificate_number": certificate.number,
        "parcels": certificate.parcels,
        "carats": certificate.carats,
        "exporter": certificate.exporter_name,
        "importer": certificate.importer_name,
    }
    differing = {
        field: {"announced": str(notice[field]), "presented": str(value)}
        for field, value in announced.items()
        if field in notice and _normalised(notice[field]) != _normalised(value)
    }
    if differing:
        yield hold(
            f"the certificate differs from the advance notice in {', '.join(differing)}",
            differences=differing,
        )
    if case.action in COMPLETION:
        recorded = recorded_control(case, "control_documents", "document control")
        yield recorded or hold("the document control has not been recorded")


@RULES.rule("no.control.identity", goods={"rough"})
def identity_control(case: Case) -> Iterable[Verdict]:
    """Every shipment: seals unbroken, container untouched, markings match (§11)."""
    broken = [c.label for c in case.shipment.containers if not c.seals_intact]
    if broken:
        yield hold(f"seals broken on {', '.join(broken)}", containers=broken)
    if case.action in COMPLETION:
        recorded = recorded_control(case, "control_identity", "identity control")
        yield recorded or hold("the identity control has not been recorded")


@RULES.rule("no.control.physical", goods={"rough"})
def physical_control(case: Case) -> Verdict | None:
    """The authority examines the diamonds themselves where it finds reason (§11)."""
    return recorded_control(case, "control_physical", "physical control")


@RULES.rule("no.control.freight_docs", goods={"rough"})
def freight_documents_control(case: Case) -> Verdict | None:
    """The authority may check every freight document (§11)."""
    return recorded_control(case, "control_freight_documents", "freight document control")


CUSTOMS = "customs"  # the outbox audience of Tollvesenet's clearance offices
CUSTOMS_INVESTIGATION = "customs-investigation"  # Tollvesenet's investigators only


@RULES.rule("no.control.mark", goods={"rough"}, actions=COMPLETION)
def control_marked(case: Case) -> Verdict:
    """On completion: mark the certificate controlled, keep a copy, tell Tollvesenet (§12)."""
    number = case.shipment.certificate.number
    if case.shipment.direction == "import":
        kept = f"certificate {number} marked as controlled by the controlled copy kept with it"
    else:
        kept = "the Norwegian KP certificate issued with this permit is kept by the authority"
    return info(
        f"{kept}; Tollvesenet is told the {case.shipment.direction} permit is granted",
        notify="Tollvesenet",
        audience=CUSTOMS,
    )


@RULES.rule("no.control.suspicion", goods={"rough"}, actions={"notify_customs_suspicion"})
def suspicion_reported(case: Case) -> Verdict:
    """On suspicion of a crime the authority must notify Tollvesenet (§12)."""
    return info(
        "Tollvesenet notified of a suspected offence, in a restricted notice to its investigators",
        notify="Tollvesenet",
        audience=CUSTOMS_INVESTIGATION,
    )


# -- appeals to Utenriksdepartementet (§6, §12) ----------------------------------------------

APPEAL_ACTIONS = {"lodge_appeal", "forward_appeal", "uphold_appeal", "overturn_appeal"}


@RULES.rule("no.control.appeal", goods={"rough"}, directions={"import"}, actions=APPEAL_ACTIONS)
def control_appeal(case: Case) -> Verdict:
    """A control decision may be appealed to Utenriksdepartementet (§12)."""
    return _appeal(case, "the control decision")


@RULES.rule("no.certificate.appeal", goods={"rough"}, directions={"export"}, actions=APPEAL_ACTIONS)
def certificate_appeal(case: Case) -> Verdict:
    """Decisions on issuing a Norwegian certificate may be appealed to the ministry (§6)."""
    return _appeal(case, "the decision on the Norwegian certificate")


def _appeal(case: Case, decision: str) -> Verdict:
    """Each step of an appeal names the decision appealed and where the ledger sealed it."""
    refusals = decisions(case, "refuse")
    appealed = (
        f" of {case.shipment.authority.local_date(refusals[-1].at):%Y-%m-%d}" if refusals else ""
    )
    step = {
        "lodge_appeal": "appeal lodged against",
        "forward_appeal": "appeal forwarded to Utenriksdepartementet against",
        "uphold_appeal": "Utenriksdepartementet upheld",
        "overturn_appeal": "Utenriksdepartementet overturned",
    }[case.action]
    references = {"appealed": _decision_reference(case, refusals[-1]) if refusals else None}
    if case.action != "lodge_appeal" and (lodged := decisions(case, "lodge_appeal")):
        references["lodged"] = _decision_reference(case, lodged[-1])
    return info(f"{step} {decision}{appealed}", **references)


def _decision_reference(case: Case, event: Event) -> dict[str, object]:
    """A recorded decision as an appeal cites it: what, when, by whom, why, and its ledger leaf."""
    return {
        "decision": event.id,
        "action": event.action,
        "on": case.shipment.authority.local_date(event.at),
        "by": event.actor,
        "reason": event.reason,
        "ledger": reference(event),
    }


# -- fees and retention (§3, §13) ------------------------------------------------------------


@RULES.rule("no.authority.fees", goods={"rough"}, actions=COMPLETION)
def control_fee(case: Case) -> Verdict:
    """The fee for a control may not exceed the authority's average cost (§3)."""
    fee = Decimal(PARAMETERS.value("control_fee_nok", case.legal_date))
    ceiling = Decimal(PARAMETERS.value("average_control_cost_nok", case.legal_date))
    if fee > ceiling:
        return warn(
            f"the fee schedule (NOK {fee}) exceeds the average cost (NOK {ceiling}); "
            "§3 forbids charging it",
            fee_nok=fee,
            average_cost_nok=ceiling,
        )
    return info(f"control fee NOK {fee} (average cost NOK {ceiling})", fee_nok=fee)


@RULES.rule("no.retain.10y", goods={"rough"}, actions=set(CLEARANCE))
def retention_announced(case: Case) -> Verdict:
    """Every document is kept at least 10 years from customs clearance (§13)."""
    cleared = case.decision_date
    until = keep_until(cleared, case.legal_date)
    return info(
        f"documents kept until at least {until:%Y-%m-%d} (10 years from clearance "
        f"on {cleared:%Y-%m-%d})",
        keep_until=until,
    )


def keep_until(cleared_on: date, legal_date: date) -> date:
    """The first day the documents may go: ten years after clearance, never a day early."""
    return years_after(cleared_on, PARAMETERS.value("retention_years", legal_date))


def _normalised(value: object) -> str:
    text = str(value).strip().casefold()
    try:
        return str(Decimal(text).normalize())
    except ArithmeticError:
        return text
