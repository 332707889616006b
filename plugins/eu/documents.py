"""The documents a Community authority issues under Reg. (EC) 2368/2002, as data.

- ``eu.community_certificate``: the Community certificate for exports of rough diamonds
  (Art. 11-12, Annex IV): numbered "EC" + six digits from the Member State's range,
  valid two months from issue (LAW.md eu.certificate.number, eu.export.valid_2_months).
- ``eu.certified_copy``: the certified, forgery-proof copy of a confirmed import
  certificate given to the importer (Art. 5(1)(a), LAW.md eu.confirm.10_days).

Both show the KP minimum content of Annex I (LAW.md kp.certificate.fields). Wording,
serial ranges and the validity period are dated values in ``parameters/documents.toml``.
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


def _certified_copy_fields(context: DocumentContext) -> list[Field]:
    shipment = context.shipment
    cert = shipment.certificate
    presented_on = context.authority.local_date(shipment.presented_at)
    issuer = f"{cert.issuing_authority}, {format_country(cert.issuing_country)}"
    if cert.validating_authority and cert.validating_authority != cert.issuing_authority:
        issuer += f"; validated by {cert.validating_authority}"
    return [
        Field("original_number", "Original certificate No.", cert.number, public=True),
        Field("original_issuer", "Original issued by", issuer, public=True),
        Field(
            "original_dates",
            "Original issued / expires",
            f"{cert.issued_on.isoformat()} / {cert.expires_on.isoformat()}",
            public=True,
        ),
        Field("presented_on", "Presented to the authority on", presented_on.isoformat(), True),
        *certificate_fields(context),
    ]


def _serials(parameter: str) -> Callable[[Authority, date], Numbering]:
    def numbering(authority: Authority, day: date) -> Numbering:
        return Numbering.from_data(PARAMETERS.value(parameter, day)[authority.code])

    return numbering


def _languages(authority: Authority, issued_on: date) -> tuple[str, ...]:
    """English and the Member State's language (Annex IV), as the dated data says."""
    by_country = PARAMETERS.value("document_languages", issued_on)
    return tuple(by_country.get(authority.country, by_country["default"]))


def _refuse_unless(direction: Direction, goods: Goods) -> Callable[[Shipment], str | None]:
    def refuses(shipment: Shipment) -> str | None:
        if shipment.direction != direction or shipment.goods != goods:
            return (
                f"issued for the {direction.value} of {goods.value} diamonds only, not for the "
                f"{shipment.direction.value} of {shipment.goods.value} diamonds"
            )
        return None

    return refuses


def _two_months(issued_on: date) -> date:
    """The last valid day: the same date two months on (a period in months ends on the day
    with the same date, Reg. (EEC, Euratom) No 1182/71 Art. 3(2)(c)), clamped to the
    month's end."""
    months = PARAMETERS.value("community_certificate_validity", issued_on)["months"]
    return WorkingCalendar.months_after(issued_on, months)


def _wording(parameter: str) -> Callable[[date], Wording]:
    return lambda day: Wording.from_data(PARAMETERS.value(parameter, day))


def _kp_minimum_content(day: date) -> list[str]:
    return PARAMETERS.value("kp_certificate_minimum_content", day)


# An export's validation (``verify``, Art. 12(2)) issues its certificate; an import's
# verification confirms it (Art. 5(1)(a)) and issues the importer's certified copy. A
# detention revokes a document still valid; an unused certificate is returned (Art. 12(5)).
DETAINED = frozenset({"hold", "refuse"})
IMPORT_CONFIRMED_BY = frozenset({"verify", "remediate"})
"""The decisions that confirm an import: its verification (Art. 5(1)(a)) and its release
after remedial action, which then continues the confirmation procedure (Art. 5(2)): the
certified copy, the Art. 8 confirmation, lawful-import evidence for an export (Art.
12(1)(a))."""

COMMUNITY_CERTIFICATE = DocumentType(
    kind="eu.community_certificate",
    rule="eu.certificate.number",
    basis="Reg. (EC) 2368/2002 Art. 11, 12 and Annex IV; KP minimum content: Annex I",
    wording=_wording("community_certificate_wording"),
    numbering=_serials("community_certificate_serials"),
    content=certificate_fields,
    validity=_two_months,
    refuses=_refuse_unless(Direction.EXPORT, Goods.ROUGH),
    required=_kp_minimum_content,
    languages=_languages,
    issued_by=frozenset({"verify"}),
    returned_by=frozenset({"return_certificate"}),
    revoked_by=DETAINED,
)
CERTIFIED_COPY = DocumentType(
    kind="eu.certified_copy",
    rule="eu.confirm.10_days",
    basis="Reg. (EC) 2368/2002 Art. 5(1)(a); KP minimum content: Annex I",
    wording=_wording("certified_copy_wording"),
    numbering=_serials("certified_copy_serials"),
    content=_certified_copy_fields,
    refuses=_refuse_unless(Direction.IMPORT, Goods.ROUGH),
    required=_kp_minimum_content,
    languages=_languages,
    issued_by=IMPORT_CONFIRMED_BY,
    revoked_by=DETAINED,
)


@hookimpl
def caratflow_documents_register(register: Callable[[DocumentType], None]) -> None:
    register(COMMUNITY_CERTIFICATE)
    register(CERTIFIED_COPY)
