"""The Norwegian KP certificate (FOR-2004-02-24-470 §5-§6), declared as data.

Issued by Norges Gullsmedforbund for exports of rough diamonds to another participant
(LAW.md no.export.conditions), bilingual as Annex I allows (Norwegian with the English
translation), with the KP minimum content (LAW.md kp.certificate.fields). Wording, labels,
number series and validity are dated values in ``parameters/documents.toml``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from caratflow.calendar import WorkingCalendar
from caratflow.documents import (
    DocumentContext,
    DocumentType,
    Field,
    Numbering,
    Wording,
    certificate_fields,
)
from caratflow.hookspecs import hookimpl
from caratflow.law import DatedParameters
from caratflow.models import Authority, Direction, Goods, Shipment

PARAMETERS = DatedParameters(Path(__file__).parent / "parameters" / "documents.toml")


def _fields(context: DocumentContext) -> list[Field]:
    labels = PARAMETERS.value("kp_certificate_wording", context.issued_on)["labels"]
    return certificate_fields(context, labels)


def _refuses(shipment: Shipment) -> str | None:
    if shipment.direction != Direction.EXPORT or shipment.goods != Goods.ROUGH:
        return "issued for exports of rough diamonds only (§5)"
    return None


def _numbering(authority: Authority, day: date) -> Numbering:
    return Numbering.from_data(PARAMETERS.value("kp_certificate_serials", day)[authority.code])


def _valid_until(issued_on: date) -> date:
    months = PARAMETERS.value("kp_certificate_validity", issued_on)["months"]
    return WorkingCalendar.months_after(issued_on, months)


KP_CERTIFICATE = DocumentType(
    kind="norway.kp_certificate",
    rule="no.export.conditions",
    basis="FOR-2004-02-24-470 §5 and §6; KP minimum content: vedlegg I til vedlegg I, A",
    wording=lambda day: Wording.from_data(PARAMETERS.value("kp_certificate_wording", day)),
    numbering=_numbering,
    content=_fields,
    validity=_valid_until,
    refuses=_refuses,
    required=lambda day: PARAMETERS.value("kp_certificate_minimum_content", day),
)


@hookimpl
def caratflow_documents_register(register: Callable[[DocumentType], None]) -> None:
    register(KP_CERTIFICATE)
