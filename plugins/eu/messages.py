"""What a Community authority tells other Kimberley Process authorities, as outbox notices.

- ``eu.import_confirmation`` (Art. 8): a verified import is confirmed to the authority
  of the participant that validated its certificate, naming what Annex I asks
  (``kp.import_confirmation.fields``).
- ``kp.electronic_messages`` (Annexes I and II, recommended): on validating a Community
  certificate, the importing participant's authority is told what is coming.

The fields are dated parameters (``parameters/kimberley.toml``); the audiences are
``kp-authority:<country>``, reached at the addresses the administrator configured (a
``peer:<CODE>`` address sends them signed to that authority's caratflow node, issue 10).
What goes back to the authority that validated a certificate goes to the one whose node
announced it, where one did (``validator_audience``): Member States share the code EU.

Received from a peer, an export message is compared with the certificate presented here
(``kp.electronic_messages`` at presentation and verification): any difference holds the
consignment, with both values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import object_session

from caratflow.jurisdiction.notices import Notice, declare_notice
from caratflow.jurisdiction.texts import Joined
from caratflow.law.registry import Registry
from caratflow.law.rules import Case, Verdict, hold, info, passed
from caratflow.models import Certificate, Event, Shipment
from caratflow.plugins.eu.documents import COMMUNITY_CERTIFICATE, IMPORT_CONFIRMED_BY
from caratflow.plugins.eu.fields import Export
from caratflow.plugins.eu.rules import PARAMETERS, RULES, T
from caratflow.records.documents import valid_number

IMPORT = {"import"}
EXPORT = {"export"}
ROUGH = {"rough"}
_FIELDS = "import_confirmation_fields"


def kp_authority(country: str) -> str:
    """The outbox audience of a participant's Kimberley Process authority."""
    return f"kp-authority:{country}"


def validator_audience(shipment: Shipment) -> str:
    """The audience of the authority that validated the shipment's certificate (Art. 8,
    Art. 5(3)): the authority whose node announced it (kp.electronic_messages), if one
    did, else the issuing participant's. A Community certificate names the EU, not the
    Member State that validated it: with several Member States' nodes, its announcement
    says which."""
    cert = shipment.certificate
    session = object_session(shipment)
    if session is not None:
        announced = Registry(session).received_messages(
            shipment.authority_code, [cert.number], EXPORT_MESSAGE
        )
        if announced:
            return kp_authority(announced[-1].peer)
    return kp_authority(cert.issuing_country)


# What the messages between KP authorities may name of a certificate, by field name (the
# parameters choose which; the comparison on arrival reads the same fields).
CERTIFICATE_FIELDS: Mapping[str, Callable[[Certificate], Any]] = {
    "certificate": lambda c: c.number,
    "parcels": lambda c: c.parcels,
    "carats": lambda c: c.carats,
    "value_usd": lambda c: c.value_usd,
    "origin": lambda c: list(c.origin),
    "provenance": lambda c: c.provenance,
    "importer": lambda c: c.importer_name,
    "exporter": lambda c: c.exporter_name,
}


def certificate_fields(certificate: Certificate, names: Iterable[str]) -> dict[str, Any]:
    return {name: CERTIFICATE_FIELDS[name](certificate) for name in names}


def confirmation_fields(shipment: Shipment, on: date) -> dict[str, Any]:
    """The import confirmation's content: the fields Annex I names, in force ``on``."""
    return certificate_fields(shipment.certificate, PARAMETERS.value(_FIELDS, on))


@RULES.rule(
    "kp.import_confirmation.fields", directions=IMPORT, goods=ROUGH, actions=IMPORT_CONFIRMED_BY
)
def confirmation_names_the_consignment(case: Case) -> Verdict:
    """The import confirmation names the certificate, parcels, carats, importer and exporter."""
    fields = confirmation_fields(case.shipment, case.legal_date)
    missing = [name for name, value in fields.items() if value in (None, "")]
    if missing:
        return hold(T("eu.confirmation.incomplete", missing=Joined(", ", map(T, missing))))
    authority = case.shipment.certificate.validating_authority
    return info(T("eu.confirmation.sent", authority=authority), **fields)


def import_confirmation(shipment: Shipment, event: Event) -> Iterable[Notice]:
    """Art. 8: confirm the import to the authority that validated the certificate."""
    cert = shipment.certificate
    fields = confirmation_fields(shipment, event.legal_date)
    yield Notice(
        validator_audience(shipment),
        f"Import confirmation: Kimberley Process certificate {cert.number}",
        f"{shipment.authority.name} confirms the import into the European Union of the "
        f"consignment of rough diamonds under Kimberley Process certificate {cert.number}, "
        f"validated by {cert.validating_authority} ({cert.issuing_country}), verified on "
        f"{event.legal_date:%d %B %Y}.\n{_lines(fields)}\n",
        {**fields, "confirmed_on": event.legal_date},
    )


def export_message(shipment: Shipment, event: Event) -> Iterable[Notice]:
    """Tell the destination's authority what a validated Community certificate covers."""
    names = PARAMETERS.value("export_message_fields", event.legal_date)
    fields = certificate_fields(shipment.certificate, names)
    if "certificate" in fields:  # the Community certificate the validation just issued
        issued = valid_number(shipment, COMMUNITY_CERTIFICATE.kind)
        fields["certificate"] = issued or fields["certificate"]
    destination = Export.of(shipment.details).destination
    yield Notice(
        kp_authority(destination),
        f"Kimberley Process export: certificate {fields.get('certificate', '')} to {destination}",
        f"{shipment.authority.name} validated a Community certificate for rough diamonds "
        f"bound for {destination} on {event.legal_date:%d %B %Y}.\n{_lines(fields)}\n",
        {**fields, "destination": destination, "validated_on": event.legal_date},
    )


def _lines(fields: Mapping[str, Any]) -> str:
    return "\n".join(
        f"{name.replace('_', ' ').capitalize()}: {value}" for name, value in fields.items()
    )


NOTICES = (
    declare_notice(
        RULES,
        "eu.import_confirmation",
        sent_by=IMPORT_CONFIRMED_BY,
        notices=import_confirmation,
        goods=ROUGH,
        directions=IMPORT,
    ),
    declare_notice(
        RULES,
        "kp.electronic_messages",
        sent_by={"verify"},
        notices=export_message,
        goods=ROUGH,
        directions=EXPORT,
    ),
)


# -- what another authority said, compared with the certificate (issue 10) -------------------

EXPORT_MESSAGE = "kp.electronic_messages"
IMPORT_CONFIRMATION = "eu.import_confirmation"
KP_CONFIRMATION = "kp.import_confirmation.fields"
"""The confirmation of receipt as a participant outside the Community sends it under its
own law (KPCS Section III(b); Norway's node): an EU export is confirmed from outside."""
CONFIRMATIONS = (IMPORT_CONFIRMATION, KP_CONFIRMATION)

_COMPARED = ("carats", "parcels", "importer", "exporter", "value_usd")


def differences(
    certificate: Certificate,
    said: Mapping[str, Any],
    theirs: str = "announced",
    ours: str = "presented",
) -> dict[str, dict[str, Any]]:
    """Where another authority's message and the certificate disagree, with both values
    (only the fields the message carries: an older message may name fewer)."""
    found = {}
    for name in _COMPARED:
        here = CERTIFICATE_FIELDS[name](certificate)
        if name in said and not _same(said[name], here):
            found[name] = {theirs: said[name], ours: here}
    return found


def _same(said: Any, here: Any) -> bool:
    """Amounts compare as exact numbers, names whatever their spacing and case."""
    if isinstance(here, Decimal | int):
        try:
            return Decimal(str(said)) == Decimal(here)
        except (InvalidOperation, ValueError):
            return False
    return " ".join(str(said).split()).casefold() == " ".join(str(here).split()).casefold()


def describe(found: Mapping[str, Mapping[str, Any]]) -> str:
    """``carats announced 123.45, presented 120.00; parcels …``"""
    return "; ".join(
        f"{name} " + ", ".join(f"{label} {value}" for label, value in values.items())
        for name, values in found.items()
    )


@RULES.rule(EXPORT_MESSAGE, directions=IMPORT, goods=ROUGH, actions={"present", "verify"})
def presented_as_announced(case: Case) -> Verdict | None:
    """The certificate presented says what the exporting authority's electronic message
    announced: carats, parcels, importer, exporter and value. Without a message, nothing
    to compare."""
    certificate = case.shipment.certificate
    announced = case.registry.received_messages(
        case.shipment.authority_code, [certificate.number], EXPORT_MESSAGE
    )
    if not announced:
        return None
    latest = announced[-1]
    source = {"announced_by": latest.peer, "message_id": latest.message_id}
    found = differences(certificate, latest.data)
    if found:
        return hold(
            T(
                "eu.announced.differs",
                number=certificate.number,
                peer=latest.peer,
                said=Joined(
                    "; ",
                    (
                        T("eu.announced.difference", field=T(name), **values)
                        for name, values in found.items()
                    ),
                ),
            ),
            **source,
            differences=found,
        )
    return passed(
        T(
            "eu.announced.same",
            number=certificate.number,
            peer=latest.peer,
            on=case.shipment.authority.local_date(latest.received_at),
        ),
        **source,
    )
