"""The G7 certificate for exports of polished diamonds to G7 markets, declared as data.

LAW.md g7.polished.certificate: a condition for exporting polished diamonds to G7
consumer markets. This first declaration covers the document itself (wording, numbering,
the goods and their declared origin, the stones' digital identities); validating the
export issues it, once ``certificate.py``'s rule has found every stone's lineage clean.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from caratflow.jurisdiction.documents import (
    DocumentContext,
    DocumentType,
    Field,
    Numbering,
    Wording,
    certificate_fields,
)
from caratflow.jurisdiction.hookspecs import hookimpl
from caratflow.law.parameters import DatedParameters
from caratflow.models import Authority, Direction, Shipment
from caratflow.plugins.belgium_g7.certificate import (
    CERTIFIED_GOODS,
    G7_CERTIFICATE_KIND,
    bound_for_a_g7_market,
    identities_listed,
)
from caratflow.plugins.belgium_g7.fields import Destination

PARAMETERS = DatedParameters(Path(__file__).parent / "parameters" / "documents.toml")


def _refuses(shipment: Shipment) -> str | None:
    if shipment.direction != Direction.EXPORT or shipment.goods not in CERTIFIED_GOODS:
        return "issued for exports of polished diamonds only"
    if not bound_for_a_g7_market(shipment, shipment.authority.local_date(shipment.presented_at)):
        destination = Destination.of(shipment.details).destination or "the destination"
        return f"{destination} is not a G7 market"
    return None


def _content(context: DocumentContext) -> list[Field]:
    """The goods and parties, and the digital identity of every stone it covers."""
    listed = identities_listed(context.shipment)
    return [
        *certificate_fields(context),
        Field("identities", "Digital identities of the stones", ", ".join(listed), public=True),
    ]


def _numbering(authority: Authority, day: date) -> Numbering:
    return Numbering.from_data(PARAMETERS.value("g7_certificate_serials", day)[authority.code])


G7_CERTIFICATE = DocumentType(
    kind=G7_CERTIFICATE_KIND,
    rule="g7.polished.certificate",
    basis="G7/EU measures on Russian diamonds: Reg. (EU) 833/2014 Art. 3p; Belgian communiqué "
    "of 29 March 2024",
    wording=lambda day: Wording.from_data(PARAMETERS.value("g7_certificate_wording", day)),
    numbering=_numbering,
    content=_content,
    refuses=_refuses,
    required=lambda day: PARAMETERS.value("g7_certificate_minimum_content", day),
    issued_by=frozenset({"verify"}),  # validation, once every stone's lineage is clean
    revoked_by=frozenset({"hold", "refuse"}),
)


@hookimpl
def caratflow_documents_register(register: Callable[[DocumentType], None]) -> None:
    register(G7_CERTIFICATE)
