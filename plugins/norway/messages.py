"""What Norges Gullsmedforbund must tell Tollvesenet (FOR-2004-02-24-470 §12), as outbox notices.

- ``no.control.mark`` (§12 second paragraph): completing the control (``verify``) grants
  the import or export permit, and Tollvesenet is told, so that customs can check the
  permit before it clears the goods (§9, §10). Audience ``customs``; the fields are dated
  parameters (``parameters/notices.toml``).
- ``no.control.suspicion`` (§12 third paragraph): a supervisor's recorded decision
  (``notify_customs_suspicion``) reports a suspected offence. It goes to a separate
  audience, ``customs-investigation``, never to the clearance offices: it names who
  decided and the written grounds, which are for investigators alone.

The audiences reach the addresses the administrator configured for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from caratflow.jurisdiction.notices import Notice, declare_notice
from caratflow.models import Event, Shipment
from caratflow.plugins.norway.documents import CONTROLLED_COPY, KP_CERTIFICATE
from caratflow.plugins.norway.rules import (
    COMPLETION,
    CUSTOMS,
    CUSTOMS_INVESTIGATION,
    PARAMETERS,
    RULES,
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
        "destination": shipment.details.get("destination"),
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
)
