"""The documents Norges Gullsmedforbund issues under FOR-2004-02-24-470, declared as data.

- ``norway.kp_certificate`` (§5-§6, LAW.md no.export.conditions): the Norwegian KP
  certificate for exports of rough diamonds to another participant, bilingual as Annex I
  allows (Norwegian with the English translation), with the KP minimum content (LAW.md
  kp.certificate.fields). The export's validation and sealing (``verify``) issues it: the
  decision on issuing it is the one §6 lets the exporter appeal.
- ``norway.controlled_copy`` (§12 first paragraph, LAW.md no.control.mark): completing
  the control of an import (``verify``) marks its certificate as controlled and keeps a
  copy. The copy is the authority's own signed, sealed record of the certificate and of
  the day the control was completed; its number is the control mark written on the
  original, and its QR code lets customs check it.

A detention or refusal revokes either one still valid: the permit it stands for is
withdrawn. Wording, number series and validity are dated values in
``parameters/documents.toml``.
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
    format_country,
)
from caratflow.jurisdiction.hookspecs import hookimpl
from caratflow.law.calendar import WorkingCalendar
from caratflow.law.parameters import DatedParameters
from caratflow.models import Authority, Direction, Goods, Shipment

PARAMETERS = DatedParameters(Path(__file__).parent / "parameters" / "documents.toml")
COMPLETION = frozenset({"verify"})  # the control completed, the permit granted (§12)
WITHDRAWN = frozenset({"hold", "refuse"})  # the permit no longer stands


def _fields(context: DocumentContext) -> list[Field]:
    labels = PARAMETERS.value("kp_certificate_wording", context.issued_on)["labels"]
    return certificate_fields(context, labels)


def _controlled_copy_fields(context: DocumentContext) -> list[Field]:
    """The original certificate as presented, and the day its control was completed."""
    labels = PARAMETERS.value("controlled_copy_wording", context.issued_on)["labels"]
    cert = context.shipment.certificate
    return [
        Field("original_number", labels["original_number"], cert.number, public=True),
        Field(
            "original_issuer",
            labels["original_issuer"],
            f"{cert.issuing_authority}, {format_country(cert.issuing_country)}",
            public=True,
        ),
        Field(
            "original_dates",
            labels["original_dates"],
            f"{cert.issued_on.isoformat()} / {cert.expires_on.isoformat()}",
            public=True,
        ),
        Field("controlled_on", labels["controlled_on"], context.issued_on.isoformat(), True),
        *_fields(context),
    ]


def _refuse_unless(direction: Direction, why: str) -> Callable[[Shipment], str | None]:
    def refuses(shipment: Shipment) -> str | None:
        if shipment.direction != direction or shipment.goods != Goods.ROUGH:
            return why
        return None

    return refuses


def _serials(parameter: str) -> Callable[[Authority, date], Numbering]:
    def numbering(authority: Authority, day: date) -> Numbering:
        return Numbering.from_data(PARAMETERS.value(parameter, day)[authority.code])

    return numbering


def _wording(parameter: str) -> Callable[[date], Wording]:
    return lambda day: Wording.from_data(PARAMETERS.value(parameter, day))


def _valid_until(issued_on: date) -> date:
    months = PARAMETERS.value("kp_certificate_validity", issued_on)["months"]
    return WorkingCalendar.months_after(issued_on, months)


KP_CERTIFICATE = DocumentType(
    kind="norway.kp_certificate",
    rule="no.export.conditions",
    basis="FOR-2004-02-24-470 §5 and §6; KP minimum content: vedlegg I til vedlegg I, A",
    wording=_wording("kp_certificate_wording"),
    numbering=_serials("kp_certificate_serials"),
    content=_fields,
    validity=_valid_until,
    refuses=_refuse_unless(Direction.EXPORT, "issued for exports of rough diamonds only (§5)"),
    required=lambda day: PARAMETERS.value("kp_certificate_minimum_content", day),
    issued_by=COMPLETION,
    revoked_by=WITHDRAWN,
)
CONTROLLED_COPY = DocumentType(
    kind="norway.controlled_copy",
    rule="no.control.mark",
    basis="FOR-2004-02-24-470 §12 first paragraph",
    wording=_wording("controlled_copy_wording"),
    numbering=_serials("controlled_copy_serials"),
    content=_controlled_copy_fields,
    refuses=_refuse_unless(
        Direction.IMPORT,
        "kept for imports of rough diamonds only: an export's own "
        "certificate is issued and kept by the authority (§5, §12)",
    ),
    required=lambda day: PARAMETERS.value("controlled_copy_minimum_content", day),
    issued_by=COMPLETION,
    revoked_by=WITHDRAWN,
)


@hookimpl
def caratflow_documents_register(register: Callable[[DocumentType], None]) -> None:
    register(KP_CERTIFICATE)
    register(CONTROLLED_COPY)
