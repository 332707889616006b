"""The G7 certificate for exports of polished diamonds to G7 markets, declared as data.

LAW.md g7.polished.certificate: a condition for exporting polished diamonds to G7
consumer markets. This first declaration covers the document itself (wording, numbering,
the goods and their declared origin); when it may be issued — a clean lineage for every
stone — is the plugin's rules' to decide before calling ``runtime.documents.issue``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from caratflow.documents import DocumentType, Numbering, Wording, certificate_fields
from caratflow.hookspecs import hookimpl
from caratflow.law import DatedParameters
from caratflow.models import Authority, Direction, Goods, Shipment

PARAMETERS = DatedParameters(Path(__file__).parent / "parameters" / "documents.toml")


def _refuses(shipment: Shipment) -> str | None:
    if shipment.direction != Direction.EXPORT or shipment.goods != Goods.POLISHED:
        return "issued for exports of polished diamonds only"
    return None


def _numbering(authority: Authority, day: date) -> Numbering:
    return Numbering.from_data(PARAMETERS.value("g7_certificate_serials", day)[authority.code])


G7_CERTIFICATE = DocumentType(
    kind="belgium_g7.g7_certificate",
    rule="g7.polished.certificate",
    basis="G7/EU measures on Russian diamonds: Reg. (EU) 833/2014 Art. 3p; Belgian communiqué "
    "of 29 March 2024",
    wording=lambda day: Wording.from_data(PARAMETERS.value("g7_certificate_wording", day)),
    numbering=_numbering,
    content=certificate_fields,
    refuses=_refuses,
    required=lambda day: PARAMETERS.value("g7_certificate_minimum_content", day),
)


@hookimpl
def caratflow_documents_register(register: Callable[[DocumentType], None]) -> None:
    register(G7_CERTIFICATE)
