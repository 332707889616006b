"""Rules of FOR-2004-02-24-470 (Norway), each citing its § and LAW.md id.

Controls (§11) are recorded as decisions of their own (``control_documents``, …) with
an outcome; the rules read those decisions when the control is completed (``verify``,
which for Norway grants the permit of §12).

What a decision may record (``inputs``): on a control step, its ``outcome`` (``pass`` or
``fail``); on an export's ``verify`` (the authority's validation), ``sealed_by_authority``
(``yes``: the containers are sealed by the authority, the certificate attached, §5 c-d).
What a presentation carries (``details``) is declared, typed, in ``fields.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from pathlib import Path

from caratflow.jurisdiction.retention import years_after
from caratflow.jurisdiction.texts import Joined, Messages, Text, load_catalogue
from caratflow.law.parameters import DatedParameters
from caratflow.law.rules import Case, RuleBook, Verdict, hold, info, passed, refuse, warn
from caratflow.ledger.sealing import reference
from caratflow.models import DocumentStatus, Event
from caratflow.plugins.norway.documents import COMPLETION, KP_CERTIFICATE
from caratflow.plugins.norway.fields import AdvanceNotice, Export

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
    party = T(f"no.party.{role}")
    registered = case.registry.party_registered(AUTHORITY, name)
    late = decisions(case, "allow_late_registration")
    if late:
        allowed_on = case.shipment.authority.local_date(late[-1].at)
        return info(
            T(
                "no.registration.late_registered" if registered else "no.registration.late",
                party=party,
                name=name,
                allowed_on=allowed_on,
                reason=late[-1].reason,
            ),
            registered=registered,
        )
    if registered:
        return passed(T("no.registration.registered", party=party, name=name))
    return refuse(
        T("no.registration.missing", party=party, name=name),
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
            T("no.import.entry", allowed=Joined(" / ", allowed), entry=entry or "—"),
            entry_point=entry,
            allowed=allowed,
        )
    if case.action in COMPLETION | set(CLEARANCE) and not decisions(case, "store_bonded"):
        return hold(T("no.import.bonded_first"))
    return passed(T("no.import.entered", entry=entry))


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
    return refuse(T("no.import.permit_only"))


# -- import and export conditions ------------------------------------------------------------


@RULES.rule("no.import.conditions", goods={"rough"}, directions={"import"})
def import_conditions(case: Case) -> Iterable[Verdict]:
    """Imports need a participant's certificate, clearly for that consignment alone, in
    sealed tamper-proof containers (§4)."""
    certificate = case.shipment.certificate
    if certificate.issuing_country not in participants(case):
        yield refuse(T("no.import.non_participant", country=certificate.issuing_country))
    broken = [c.label for c in case.shipment.containers if not c.seals_intact]
    if broken:
        yield hold(T("no.import.not_sealed", containers=broken), containers=broken)
    first = case.registry.first_presentation(
        certificate.issuing_country, certificate.number, before=case.shipment.id
    )
    if first is not None:  # "clearly for that consignment": one certificate, one consignment
        yield hold(
            T(
                "no.import.presented_before",
                country=certificate.issuing_country,
                number=certificate.number,
                shipment=first.shipment_id,
                authority=first.authority_code,
            ),
            first_shipment=first.shipment_id,
            first_authority=first.authority_code,
        )
    if certificate.issuing_country in participants(case) and not broken and first is None:
        yield passed(T("no.import.conditions_met"))


@RULES.rule("no.export.conditions", goods={"rough"}, directions={"export"})
def export_conditions(case: Case) -> Verdict:
    """Exports go only to another participant, sealed by the authority, under the Norwegian
    certificate it issued (§5): validating the export issues it, and nothing leaves
    without it still valid."""
    destination = Export.of(case.shipment.details).destination
    certificate = case.shipment.certificate
    if not destination:
        return hold(T("no.export.destination_missing"))
    if destination == AUTHORITY or destination not in participants(case):
        return refuse(
            T("no.export.not_participant", destination=destination), destination=destination
        )
    if certificate.issuing_country != AUTHORITY:
        return refuse(T("no.export.foreign_certificate", country=certificate.issuing_country))
    if case.action in COMPLETION and case.inputs.get("sealed_by_authority") != "yes":
        return hold(T("no.export.seal_first"))
    if case.action in CLEARANCE:
        return _leaves_under_norwegian_certificate(case, destination)
    return passed(T("no.export.conditions_met", destination=destination))


def _leaves_under_norwegian_certificate(case: Case, destination: str) -> Verdict:
    document = case.registry.document_of(case.shipment.id, KP_CERTIFICATE.kind)
    if document is None:
        return hold(T("no.export.no_certificate"))
    if document.status != DocumentStatus.VALID:
        return hold(
            T(
                "no.export.certificate_status",
                number=document.number,
                status=T(document.status.value),
            )
        )
    if document.valid_until is not None and case.decision_date > document.valid_until:
        return hold(
            T("no.export.expired", number=document.number, valid_until=document.valid_until),
            certificate=document.number,
            valid_until=document.valid_until,
        )
    return passed(
        T("no.export.leaves", destination=destination, number=document.number),
        certificate=document.number,
    )


@RULES.rule("no.reexport.proof", goods={"rough"}, directions={"export"})
def reexport_proven(case: Case) -> Verdict | None:
    """A re-export proves the goods came from a participant: the import's KP certificate (§5)."""
    export = Export.of(case.shipment.details)
    if export.reexport != "yes":
        return None
    number = export.import_certificate
    if not number:  # required on presentation: only a record from before the declaration
        return refuse(T("no.reexport.certificate_missing"))
    if not case.registry.cleared_import(AUTHORITY, number, CLEARANCE):
        return refuse(
            T("no.reexport.not_cleared", number=number),
            import_certificate=number,
        )
    return passed(T("no.reexport.cleared", number=number))


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
        return refuse(T("no.export.permit_only"))
    granted = decisions(case, *COMPLETION)
    if not granted:
        return hold(T("no.export.no_permit"))
    granted_on = case.shipment.authority.local_date(granted[-1].at)
    return passed(T("no.export.permit", granted_on=granted_on, actor=granted[-1].actor))


# -- controls (§11) and their completion (§12) -----------------------------------------------


def recorded_control(case: Case, action: str) -> Verdict | None:
    """The latest outcome of a control step: the one being recorded now, or an earlier one."""
    if case.action == action:
        outcome, day = case.inputs.get("outcome"), case.decision_date
    elif steps := decisions(case, action):
        outcome, day = steps[-1].data.get("outcome"), steps[-1].at.date()
    else:
        return None
    if outcome == "fail":
        return hold(T("no.control.failed", what=T(action), day=day), control=action)
    return passed(T("no.control.passed", what=T(action), day=day))


@RULES.rule("no.control.document", goods={"rough"}, directions={"import"})
def document_control(case: Case) -> Iterable[Verdict]:
    """Every import: the certificate matches the advance notice, field by field (§11)."""
    given = AdvanceNotice.read(case.details.get("advance_notice"))
    if given is None:
        yield hold(T("no.control.no_notice"))
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
            T("no.control.differs", fields=Joined(", ", map(T, differing))),
            differences=differing,
        )
    if case.action in COMPLETION:
        recorded = recorded_control(case, "control_documents")
        yield recorded or hold(T("no.control.not_recorded", what=T("control_documents")))


@RULES.rule("no.control.identity", goods={"rough"})
def identity_control(case: Case) -> Iterable[Verdict]:
    """Every shipment: seals unbroken, container untouched, markings match (§11)."""
    broken = [c.label for c in case.shipment.containers if not c.seals_intact]
    if broken:
        yield hold(T("no.control.seals_broken", containers=broken), containers=broken)
    if case.action in COMPLETION:
        recorded = recorded_control(case, "control_identity")
        yield recorded or hold(T("no.control.not_recorded", what=T("control_identity")))


@RULES.rule("no.control.physical", goods={"rough"})
def physical_control(case: Case) -> Verdict | None:
    """The authority examines the diamonds themselves where it finds reason (§11)."""
    return recorded_control(case, "control_physical")


@RULES.rule("no.control.freight_docs", goods={"rough"})
def freight_documents_control(case: Case) -> Verdict | None:
    """The authority may check every freight document (§11)."""
    return recorded_control(case, "control_freight_documents")


CUSTOMS = "customs"  # the outbox audience of Tollvesenet's clearance offices
CUSTOMS_INVESTIGATION = "customs-investigation"  # Tollvesenet's investigators only


@RULES.rule("no.control.mark", goods={"rough"}, actions=COMPLETION)
def control_marked(case: Case) -> Verdict:
    """On completion: mark the certificate controlled, keep a copy, tell Tollvesenet (§12)."""
    number = case.shipment.certificate.number
    if case.shipment.direction == "import":
        kept = T("no.control.marked", number=number)
    else:
        kept = T("no.control.kept")
    return info(
        T("no.control.told", kept=kept, permit=T(f"no.permit.{case.shipment.direction}")),
        notify="Tollvesenet",
        audience=CUSTOMS,
    )


@RULES.rule("no.control.suspicion", goods={"rough"}, actions={"notify_customs_suspicion"})
def suspicion_reported(case: Case) -> Verdict:
    """On suspicion of a crime the authority must notify Tollvesenet (§12)."""
    return info(
        T("no.control.suspicion"),
        notify="Tollvesenet",
        audience=CUSTOMS_INVESTIGATION,
    )


# -- appeals to Utenriksdepartementet (§6, §12) ----------------------------------------------

APPEAL_ACTIONS = {"lodge_appeal", "forward_appeal", "uphold_appeal", "overturn_appeal"}


@RULES.rule("no.control.appeal", goods={"rough"}, directions={"import"}, actions=APPEAL_ACTIONS)
def control_appeal(case: Case) -> Verdict:
    """A control decision may be appealed to Utenriksdepartementet (§12)."""
    return _appeal(case, T("no.appeal.control_decision"))


@RULES.rule("no.certificate.appeal", goods={"rough"}, directions={"export"}, actions=APPEAL_ACTIONS)
def certificate_appeal(case: Case) -> Verdict:
    """Decisions on issuing a Norwegian certificate may be appealed to the ministry (§6)."""
    return _appeal(case, T("no.appeal.certificate_decision"))


def _appeal(case: Case, decision: Text) -> Verdict:
    """Each step of an appeal names the decision appealed and where the ledger sealed it."""
    refusals = decisions(case, "refuse")
    appealed = (
        T("no.appeal.of", day=case.shipment.authority.local_date(refusals[-1].at))
        if refusals
        else ""
    )
    step = T(f"no.appeal.step.{case.action}")
    references = {"appealed": _decision_reference(case, refusals[-1]) if refusals else None}
    if case.action != "lodge_appeal" and (lodged := decisions(case, "lodge_appeal")):
        references["lodged"] = _decision_reference(case, lodged[-1])
    return info(T("no.appeal.said", step=step, decision=decision, appealed=appealed), **references)


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
            T("no.fee.above_cost", fee=fee, ceiling=ceiling),
            fee_nok=fee,
            average_cost_nok=ceiling,
        )
    return info(T("no.fee.charged", fee=fee, ceiling=ceiling), fee_nok=fee)


@RULES.rule("no.retain.10y", goods={"rough"}, actions=set(CLEARANCE))
def retention_announced(case: Case) -> Verdict:
    """Every document is kept at least 10 years from customs clearance (§13)."""
    cleared = case.decision_date
    until = keep_until(cleared, case.legal_date)
    return info(
        T("no.retention", until=until, cleared=cleared),
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
