"""What Norges Gullsmedforbund must tell Tollvesenet (FOR-2004-02-24-470 §12), as outbox notices.

- ``no.control.mark`` (§12 second paragraph): completing the control (``verify``) grants
  the import or export permit, and Tollvesenet is told, so that customs can check the
  permit before it clears the goods (§9, §10). Audience ``customs``; the fields are dated
  parameters (``parameters/notices.toml``).
- ``no.control.suspicion`` (§12 third paragraph): a supervisor's recorded decision
  (``notify_customs_suspicion``) reports a suspected offence. It goes to a separate
  audience, ``customs-investigation``, never to the clearance offices: it names who
  decided and the written grounds, which are for investigators alone.

And what it tells other participants' authorities, as the KP scheme it applies (§3,
Vedlegg I) has it, the audiences ``kp-authority:<country>`` (``peer:<CODE>`` addresses
send them signed to that authority's caratflow node, issue 10):

- ``kp.electronic_messages`` (Annex II, recommendation 4): validating an export (issuing
  the Norwegian KP certificate) tells the destination's authority what is coming.
- ``kp.import_confirmation.fields`` (Section III(b)): completing the control of an import
  confirms its receipt to the exporting authority, the one whose node announced the
  certificate where one did (a Community certificate names the EU, not the Member State
  that validated it), else the issuing participant's.

An announcement received from a peer is compared with the certificate presented here
(``kp.electronic_messages`` at presentation and at the completed control).

The audiences reach the addresses the administrator configured for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import object_session

from caratflow.jurisdiction.notices import Notice, declare_notice
from caratflow.jurisdiction.texts import Joined
from caratflow.law.registry import Registry
from caratflow.law.rules import Case, Verdict, hold, passed
from caratflow.models import Certificate, Event, Shipment
from caratflow.plugins.norway.documents import CONTROLLED_COPY, KP_CERTIFICATE
from caratflow.plugins.norway.fields import Export
from caratflow.plugins.norway.rules import (
    COMPLETION,
    CUSTOMS,
    CUSTOMS_INVESTIGATION,
    PARAMETERS,
    RULES,
    T,
)
from caratflow.records.documents import valid_number

ROUGH = {"rough"}
PERMITTED = {"import": "import into Norway", "export": "export from Norway"}


def permit_fields(shipment: Shipment, event: Event) -> dict[str, Any]:
    """What the permit notice names for the shipment's direction, as the parameters say."""
    cert = shipment.certificate
    direction = str(shipment.direction)
    # an export travels under the certificate the authority has just issued (§5)
    issued = valid_number(shipment, KP_CERTIFICATE.kind) if direction == "export" else None
    known: Mapping[str, Any] = {
        "certificate": issued or cert.number,
        "controlled_copy": valid_number(shipment, CONTROLLED_COPY.kind),
        "destination": Export.of(shipment.details).destination,
        "importer": cert.importer_name,
        "exporter": cert.exporter_name,
        "carats": cert.carats,
        "parcels": cert.parcels,
        "permit_granted_on": shipment.authority.local_date(event.at),
    }
    names = PARAMETERS.value("customs_permit_notice_fields", event.legal_date)[direction]
    return {name: known[name] for name in names}


def permit_granted(shipment: Shipment, event: Event) -> Iterable[Notice]:
    """§12: Tollvesenet is told the permit is granted, with what it checks at clearance."""
    fields = permit_fields(shipment, event)
    what = PERMITTED[str(shipment.direction)]
    number = fields.get("certificate", shipment.certificate.number)
    granted_on = shipment.authority.local_date(event.at)
    yield Notice(
        CUSTOMS,
        f"Tillatelse gitt / Permit granted: {what}, KP certificate {number}",
        f"{shipment.authority.name} has completed the control of this consignment of rough "
        f"diamonds and grants the permit for its {what} on {granted_on:%d %B %Y} "
        f"(FOR-2004-02-24-470 §12). Customs may clear it against this permit.\n"
        f"{_lines(fields)}\n",
        {**fields, "direction": str(shipment.direction), "shipment": shipment.id},
    )


def suspicion_reported(shipment: Shipment, event: Event) -> Iterable[Notice]:
    """§12: a suspected offence, reported to Tollvesenet's investigators and to no one else."""
    cert = shipment.certificate
    decided_at = event.at.astimezone(ZoneInfo(shipment.authority.zone))
    yield Notice(
        CUSTOMS_INVESTIGATION,
        f"Varsel om mistanke om straffbart forhold / Suspected offence: KP certificate "
        f"{cert.number}",
        f"RESTRICTED: for Tollvesenet's investigators only.\n"
        f"{shipment.authority.name} reports a suspicion of a criminal offence concerning the "
        f"{shipment.direction} of rough diamonds under KP certificate {cert.number} "
        f"(shipment {shipment.id}), as FOR-2004-02-24-470 §12 third paragraph requires.\n"
        f"Decided by: {event.actor}\n"
        f"Decided at: {decided_at:%Y-%m-%d %H:%M %Z}\n"
        f"Grounds: {event.reason}\n",
        {
            "restricted": True,
            "certificate": cert.number,
            "shipment": shipment.id,
            "direction": str(shipment.direction),
            "decided_by": event.actor,
            "decided_at": event.at,
            "grounds": event.reason,
        },
    )


# -- other participants' authorities (Vedlegg I) -------------------------------------------

ANNOUNCEMENT = "kp.electronic_messages"
CONFIRMATION = "kp.import_confirmation.fields"

CERTIFICATE_FIELDS = {
    "parcels": lambda c: c.parcels,
    "carats": lambda c: c.carats,
    "value_usd": lambda c: c.value_usd,
    "origin": lambda c: list(c.origin),
    "provenance": lambda c: c.provenance,
    "importer": lambda c: c.importer_name,
    "exporter": lambda c: c.exporter_name,
}
_COMPARED = ("carats", "parcels", "importer", "exporter", "value_usd")


def kp_authority(country: str) -> str:
    """The outbox audience of a participant's Kimberley Process authority."""
    return f"kp-authority:{country}"


def certificate_fields(certificate: Certificate, number: str, names: Iterable[str]) -> dict:
    known = {"certificate": number}
    return {n: known[n] if n in known else CERTIFICATE_FIELDS[n](certificate) for n in names}


def announcements(shipment: Shipment) -> list[Any]:
    """What peers' nodes announced about the certificate presented (oldest first)."""
    session = object_session(shipment)
    if session is None:
        return []
    number = shipment.certificate.number
    return Registry(session).received_messages(shipment.authority_code, [number], ANNOUNCEMENT)


def receipt_confirmed(shipment: Shipment, event: Event) -> Iterable[Notice]:
    """Section III(b): the receipt is confirmed to the exporting authority, naming the
    certificate, parcels, carats, importer and exporter."""
    cert = shipment.certificate
    names = PARAMETERS.value("import_confirmation_fields", event.legal_date)
    fields = certificate_fields(cert, cert.number, names)
    announced = announcements(shipment)
    audience = kp_authority(announced[-1].peer if announced else cert.issuing_country)
    received_on = shipment.authority.local_date(event.at)
    yield Notice(
        audience,
        f"Import confirmation: Kimberley Process certificate {cert.number}",
        f"{shipment.authority.name} confirms the receipt in Norway of the consignment of "
        f"rough diamonds under Kimberley Process certificate {cert.number}, validated by "
        f"{cert.validating_authority or cert.issuing_authority} ({cert.issuing_country}), "
        f"controlled on {received_on:%d %B %Y} (FOR-2004-02-24-470 §3, Vedlegg I Section "
        f"III(b)).\n{_lines(fields)}\n",
        {**fields, "confirmed_on": received_on},
    )


def export_announced(shipment: Shipment, event: Event) -> Iterable[Notice]:
    """Annex II: the destination's authority is told what the Norwegian certificate covers."""
    names = PARAMETERS.value("export_message_fields", event.legal_date)
    number = valid_number(shipment, KP_CERTIFICATE.kind) or shipment.certificate.number
    fields = certificate_fields(shipment.certificate, number, names)
    destination = Export.of(shipment.details).destination
    validated_on = shipment.authority.local_date(event.at)
    yield Notice(
        kp_authority(destination),
        f"Kimberley Process export: certificate {number} to {destination}",
        f"{shipment.authority.name} issued Kimberley Process certificate {number} for rough "
        f"diamonds bound for {destination} on {validated_on:%d %B %Y}.\n{_lines(fields)}\n",
        {**fields, "destination": destination, "validated_on": validated_on},
    )


def differences(certificate: Certificate, said: Mapping[str, Any]) -> dict[str, dict]:
    """Where the announcement and the certificate presented disagree, with both values."""
    found = {}
    for name in _COMPARED:
        here = CERTIFICATE_FIELDS[name](certificate)
        if name in said and not _same(said[name], here):
            found[name] = {"announced": said[name], "presented": here}
    return found


def _same(said: Any, here: Any) -> bool:
    """Amounts compare as exact numbers, names whatever their spacing and case."""
    if isinstance(here, Decimal | int):
        try:
            return Decimal(str(said)) == Decimal(here)
        except (InvalidOperation, ValueError):
            return False
    return " ".join(str(said).split()).casefold() == " ".join(str(here).split()).casefold()


@RULES.rule(ANNOUNCEMENT, directions={"import"}, goods=ROUGH, actions={"present", *COMPLETION})
def presented_as_announced(case: Case) -> Verdict | None:
    """The certificate presented says what the exporting authority's electronic message
    announced (carats, parcels, importer, exporter, value); without one, nothing to compare."""
    number = case.shipment.certificate.number
    announced = case.registry.received_messages(
        case.shipment.authority_code, [number], ANNOUNCEMENT
    )
    if not announced:
        return None
    latest = announced[-1]
    source = {"announced_by": latest.peer, "message_id": latest.message_id}
    found = differences(case.shipment.certificate, latest.data)
    if found:
        said = Joined(
            "; ",
            (
                T(
                    "no.announced.difference",
                    field=T(name),
                    announced=v["announced"],
                    presented=v["presented"],
                )
                for name, v in found.items()
            ),
        )
        return hold(
            T("no.announced.differs", number=number, peer=latest.peer, said=said),
            **source,
            differences=found,
        )
    return passed(T("no.announced.same", number=number, peer=latest.peer), **source)


def _lines(fields: Mapping[str, Any]) -> str:
    return "\n".join(
        f"{name.replace('_', ' ').capitalize()}: {value}"
        for name, value in fields.items()
        if value not in (None, "")
    )


NOTICES = (
    declare_notice(
        RULES,
        "no.control.mark",
        sent_by=COMPLETION,
        notices=permit_granted,
        goods=ROUGH,
        directions=set(PERMITTED),
    ),
    declare_notice(
        RULES,
        "no.control.suspicion",
        sent_by={"notify_customs_suspicion"},
        notices=suspicion_reported,
        goods=ROUGH,
    ),
    declare_notice(
        RULES,
        CONFIRMATION,
        sent_by=COMPLETION,
        notices=receipt_confirmed,
        goods=ROUGH,
        directions={"import"},
    ),
    declare_notice(
        RULES,
        ANNOUNCEMENT,
        sent_by=COMPLETION,
        notices=export_announced,
        goods=ROUGH,
        directions={"export"},
    ),
)
