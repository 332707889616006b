"""The EU's legal clocks on an import of rough diamonds (Reg. (EC) 2368/2002).

- ``eu.confirm.10_days`` (Art. 5(1)(a)): a compliant consignment is confirmed on the
  original certificate, with a certified copy to the importer, within 10 working days
  of presentation. Opened on presentation, met by verification, moot once the
  consignment is detained or refused.
- ``eu.notify.1_month`` (Art. 5(3), 14(3)): within one month of finding an import or an
  export non-compliant with the Regulation, the Commission and the participant's
  authority that issued or validated the certificate are told. Opened once per
  consignment, by its detention or its outright refusal (a release after remedy was
  detained first), with both notices queued in the outbox; met when they have been
  delivered. A consignment stopped only by another law's findings (the sanctions on
  Russian diamonds of a KP-compliant parcel) is no KP non-compliance: nothing opens.
- ``eu.export.valid_2_months`` (Art. 12(5)): a Community certificate serves for two
  months from its issue. Opened by the export's validation, which issues it; met by the
  export; otherwise the officers are reminded to export or return it, and a certificate
  neither used nor returned is escalated.

- ``eu.import_confirmation`` (Art. 8, issue 10): the exporting authority waits for the
  importing participant's confirmation of each export of rough diamonds. Opened by the
  export; met when the confirmation arrives from a peer node (``caratflow.exchange``
  meets the clock its message type names: ``eu.import_confirmation``, or
  ``kp.import_confirmation.fields`` as a participant outside the Community, such as
  Norway, sends it under KPCS Section III(b)); otherwise the officers are reminded and the
  supervisors told once the period (a deployment setting) has run out.

Customs transit suspends the confirmation clock (Art. 4(3), ``eu.transit_suspends``).

The periods are dated parameters (``parameters/deadlines.toml``); the legal text is in
``rules.toml``. Each clock also has a rule function, so the decision that meets or
opens it records a finding citing it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy.orm import object_session

from caratflow.case.standing import standing
from caratflow.deadlines.keeping import calendar_of, deadline_of
from caratflow.jurisdiction.clocks import (
    SUPERVISORS,
    Anchor,
    DatedPeriod,
    Period,
    Reminder,
    Unit,
    declare,
)
from caratflow.jurisdiction.notices import Notice
from caratflow.law.registry import ReceivedMessage, Registry
from caratflow.law.rules import Case, Verdict, info, passed, warn
from caratflow.models import Event, Shipment
from caratflow.plugins.eu.documents import COMMUNITY_CERTIFICATE
from caratflow.plugins.eu.documents import PARAMETERS as DOCUMENT_PARAMETERS
from caratflow.plugins.eu.fields import Export
from caratflow.plugins.eu.messages import (
    CONFIRMATIONS,
    IMPORT_CONFIRMATION,
    KP_CONFIRMATION,
    validator_audience,
)
from caratflow.plugins.eu.rules import PARAMETERS, RULES, T

COMMISSION = "commission"


CONFIRMATION = declare(
    RULES,
    "eu.confirm.10_days",
    opened_by={"present"},
    anchor=Anchor.PRESENTATION,
    period=DatedPeriod(PARAMETERS, "confirmation_period"),
    met_by={"verify"},
    cancelled_by={"hold", "refuse"},
    suspended_by={"place_under_transit"},
    resumed_by={"end_transit"},
    goods={"rough"},
    directions={"import"},
    reminders=(Reminder(3), Reminder(0)),
    escalate_to=(SUPERVISORS,),
)


def kp_non_compliance(events: Iterable[Event]) -> bool:
    """Does the record show a non-compliance with the Regulation? It does unless what
    stands forbids the goods under another law only: a hold or refusal of this plugin's
    rules stands, or none at all does (the officer's own ground, a count that differs
    say, detains under Art. 5(1)(b))."""
    ours = {version.id for version in RULES.versions}
    stands = standing(events)
    blocking = {rule for rule, found in stands.items() if any(f.outcome.blocks for f in found)}
    return not blocking or bool(blocking & ours)


def non_compliant_with_the_regulation(shipment: Shipment, event: Event) -> bool:
    """Open the notice's clock at this detention or refusal? Once per consignment (a
    refusal after a detention adds none), and only for a non-compliance with the
    Regulation."""
    return deadline_of(shipment, NOTIFY) is None and kp_non_compliance([*shipment.events, event])


def non_compliance_notices(shipment: Shipment, event: Event) -> list[Notice]:
    """Art. 5(3): one notice to the Commission, one to the authority that issued or
    validated the certificate (for a detained export, Art. 14, the Community authority
    issued it: the Commission alone)."""
    cert = shipment.certificate
    done = "refused" if event.action == "refuse" else "detained"
    subject = (
        f"Non-compliant consignment {done}: KP certificate {cert.number} "
        f"(Reg. (EC) 2368/2002 Art. 5(3))"
    )
    body = (
        f"The {shipment.authority.name} {done} a consignment of rough diamonds "
        f"presented under Kimberley Process certificate {cert.number}, issued by "
        f"{cert.issuing_authority} ({cert.issuing_country}) on {cert.issued_on:%d %B %Y}.\n"
        f"Exporter: {cert.exporter_name}\nImporter: {cert.importer_name}\n"
        f"Parcels: {cert.parcels}; carats: {cert.carats}; value: USD {cert.value_usd}\n"
        f"Ground of the {'refusal' if done == 'refused' else 'detention'}: "
        f"{event.reason or 'not stated'}\n"
    )
    data = {
        "certificate": cert.number,
        "issuing_country": cert.issuing_country,
        "issuing_authority": cert.issuing_authority,
        "detained_on": event.legal_date,
        "reason": event.reason,
    }
    notices = [Notice(COMMISSION, subject, body, data)]
    if shipment.direction == "import":
        notices.append(Notice(validator_audience(shipment), subject, body, data))
    return notices


NOTIFY = "eu.notify.1_month"
NON_COMPLIANCE_NOTICE = declare(
    RULES,
    NOTIFY,
    opened_by={"hold", "refuse"},
    anchor=Anchor.DECISION,
    period=DatedPeriod(PARAMETERS, "non_compliance_notice_period"),
    goods={"rough"},
    directions={"import", "export"},  # Art. 14: an export's detention is told as Art. 5(3)
    reminders=(Reminder(5), Reminder(0)),
    escalate_to=(SUPERVISORS,),
    notices=non_compliance_notices,
    when=non_compliant_with_the_regulation,
)


def certificate_validity(issued_on: date) -> Period:
    """The months a Community certificate serves, to the day its document states: the
    clock falls due on the certificate's own last valid day, a Saturday too (issue 22)."""
    months = DOCUMENT_PARAMETERS.value("community_certificate_validity", issued_on)["months"]
    return Period(months, Unit.MONTHS, to_the_day=True)


CERTIFICATE_USE = declare(
    RULES,
    "eu.export.valid_2_months",
    opened_by={"verify"},
    anchor=Anchor.DECISION,
    period=certificate_validity,
    met_by={"export"},
    cancelled_by={"return_certificate", "hold", "refuse"},
    goods={"rough"},
    directions={"export"},
    reminders=(Reminder(10), Reminder(2)),
    escalate_to=(SUPERVISORS,),
)


def exported_certificates(shipment: Shipment) -> list[str]:
    """The numbers an export is known by abroad: the Community certificate issued for it,
    and the number it was presented under."""
    session = object_session(shipment)
    issued = (
        Registry(session).document_of(shipment.id, COMMUNITY_CERTIFICATE.kind)
        if session is not None and shipment.id is not None
        else None
    )
    numbers = [issued.number] if issued is not None else []
    if shipment.certificate is not None and shipment.certificate.number not in numbers:
        numbers.append(shipment.certificate.number)
    return numbers


def confirmations(shipment: Shipment) -> list[ReceivedMessage]:
    """The import confirmations peers sent about this export (issue 10)."""
    session = object_session(shipment)
    if session is None:
        return []
    numbers = exported_certificates(shipment)
    return Registry(session).received_messages(shipment.authority_code, numbers, CONFIRMATIONS)


AWAITED_CONFIRMATION = declare(
    RULES,
    IMPORT_CONFIRMATION,
    opened_by={"export"},
    anchor=Anchor.DECISION,
    period=DatedPeriod(PARAMETERS, "import_confirmation_period"),
    goods={"rough"},
    directions={"export"},
    reminders=(Reminder(5), Reminder(0)),
    escalate_to=(SUPERVISORS,),
    met_by_messages=frozenset({KP_CONFIRMATION}),  # the importing participant's own name
    # A confirmation that came before the export was recorded leaves nothing to wait for.
    when=lambda shipment, event: not confirmations(shipment),
)

DEADLINES = (CONFIRMATION, NON_COMPLIANCE_NOTICE, CERTIFICATE_USE, AWAITED_CONFIRMATION)


@RULES.rule("eu.confirm.10_days", actions={"verify"}, goods={"rough"}, directions={"import"})
def confirmed_within_ten_working_days(case: Case) -> Verdict | None:
    """A compliant import is confirmed within 10 working days of its presentation."""
    deadline = deadline_of(case.shipment, CONFIRMATION.id)
    if deadline is None:  # presented before the clock was kept
        return None
    if case.at > deadline.due_at:
        return warn(
            T(
                "eu.confirm.late",
                period=T.period(deadline.period),
                starts_on=deadline.starts_on,
                due=deadline.due_on,
            ),
            due_on=deadline.due_on,
        )
    return passed(
        T("eu.confirm.in_time", period=T.period(deadline.period), due=deadline.due_on),
        due_on=deadline.due_on,
    )


@RULES.rule("eu.notify.1_month", actions={"hold", "refuse"}, goods={"rough"})
def non_compliance_to_be_notified(case: Case) -> Verdict | None:
    """Within one month of finding a consignment non-compliant, the Commission and the
    certificate's issuing authority are informed of the non-compliance."""
    if deadline_of(case.shipment, NOTIFY) is not None:
        return None  # told already, at its detention
    if not kp_non_compliance(case.shipment.events):
        return info(T("eu.notify.not_kp"))
    calendar = calendar_of(case.shipment.authority)
    period = NON_COMPLIANCE_NOTICE.period_on(case.legal_date)
    due_on = period.due_after(calendar, calendar.legal_date(case.at))
    cert = case.shipment.certificate
    told = (
        T(
            "eu.notify.commission_and",
            authority=cert.issuing_authority,
            country=cert.issuing_country,
        )
        if case.shipment.direction == "import"
        else T("eu.notify.commission")
    )
    return info(
        T("eu.notify.due", told=told, due_on=due_on),
        due_on=due_on,
    )


@RULES.rule(IMPORT_CONFIRMATION, actions={"export"}, goods={"rough"}, directions={"export"})
def import_confirmation_awaited(case: Case) -> Verdict:
    """The importing participant's authority confirms the import to the exporting
    authority (Art. 8): once exported, the confirmation is awaited."""
    received = confirmations(case.shipment)
    if received:
        first = received[0]
        return info(
            T("eu.confirmation.received", peer=first.peer),
            confirmed_by=first.peer,
            message_id=first.message_id,
        )
    calendar = calendar_of(case.shipment.authority)
    period = AWAITED_CONFIRMATION.period_on(case.legal_date)
    due_on = period.due_after(calendar, calendar.legal_date(case.at))
    destination = Export.of(case.shipment.details).destination or "—"
    return info(
        T("eu.confirmation.awaited", destination=destination, due_on=due_on),
        due_on=due_on,
    )
