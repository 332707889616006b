"""The reports Reg. (EC) 2368/2002 requires: monthly to the Commission (Arts. 10, 15) and
the KP statistics by quarter (Annex III); and the authority's own monthly reconciliation
of what it exchanged with other authorities' nodes (Art. 8, Annexes I-II; issue 10)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from caratflow.jurisdiction.clocks import DatedPeriod
from caratflow.jurisdiction.reports import Report, ReportInput, ShipmentRow
from caratflow.law.registry import ReceivedMessage, Registry
from caratflow.plugins.eu.deadlines import COMMISSION
from caratflow.plugins.eu.documents import COMMUNITY_CERTIFICATE
from caratflow.plugins.eu.fields import Export
from caratflow.plugins.eu.messages import (
    CONFIRMATIONS,
    EXPORT_MESSAGE,
    describe,
    differences,
)
from caratflow.plugins.eu.rules import PARAMETERS, RULES

ROUGH = "rough"
KP_STATISTICS = "kp-statistics"  # the KP Working Group on Statistics, through the Commission
# Goods that did not cross the border: refused, or their certificate returned unused.
NEVER_PASSED = {"refused", "certificate_returned"}


def _verified_on(shipment: ShipmentRow) -> date | None:
    """The legal date of the latest verification (a date: each face writes it its way)."""
    authority = shipment.authority
    dates = [authority.local_date(e.at) for e in shipment.events if e.action == "verify"]
    return dates[-1] if dates else None


def _of(source: ReportInput, direction: str) -> Iterator[ShipmentRow]:
    return (s for s in source.shipments if s.goods == ROUGH and s.direction == direction)


def import_rows(source: ReportInput) -> Iterator[Mapping[str, Any]]:
    """Art. 10(1)(a)-(k): every certificate presented, detained ones included."""
    for shipment in _of(source, "import"):
        c = shipment.certificate
        yield {
            "certificate_number": c.number,
            "issuing_authority": c.issuing_authority,
            "validating_authority": c.validating_authority or "",
            "issued_on": c.issued_on,
            "expires_on": c.expires_on,
            "provenance": c.provenance,
            "origin": list(c.origin),
            "hs_codes": list(c.hs_codes),
            "carats": c.carats,
            "value_usd": c.value_usd,
            "verifying_authority": source.authority.name,
            "verified_on": _verified_on(shipment) or "",
        }


def export_rows(source: ReportInput) -> Iterator[Mapping[str, Any]]:
    """Art. 15(1): every Community certificate validated, with carats and value; its number
    and expiry are those of the certificate the authority issued."""
    for shipment in _of(source, "export"):
        validated = _verified_on(shipment)
        if validated is None:
            continue
        c = shipment.certificate
        issued = source.documents.get((shipment.id, COMMUNITY_CERTIFICATE.kind))
        yield {
            "certificate_number": issued.number if issued else c.number,
            "issuing_authority": c.issuing_authority,
            "validated_on": validated,
            "expires_on": issued.valid_until if issued else c.expires_on,
            "destination": Export.of(shipment.details).destination or "",
            "provenance": c.provenance,
            "origin": list(c.origin),
            "hs_codes": list(c.hs_codes),
            "carats": c.carats,
            "value_usd": c.value_usd,
        }


def statistics_rows(source: ReportInput) -> Iterator[Mapping[str, Any]]:
    """Annex III: trade by origin or provenance, HS code, carats and value."""
    totals: dict[tuple[str, str, str, str], list[Decimal]] = defaultdict(
        lambda: [Decimal(0), Decimal(0), Decimal(0)]
    )
    for shipment in source.shipments:
        if shipment.goods != ROUGH or shipment.state in NEVER_PASSED:
            continue
        c = shipment.certificate
        origin = "+".join(sorted(c.origin)) or "unknown"
        for hs_code in c.hs_codes:
            share = Decimal(len(c.hs_codes))
            row = totals[(shipment.direction.value, origin, c.provenance, hs_code)]
            row[0] += 1
            row[1] += c.carats / share
            row[2] += c.value_usd / share
    for (direction, origin, provenance, hs_code), (count, carats, value) in sorted(totals.items()):
        yield {
            "direction": direction,
            "origin": origin,
            "provenance": provenance,
            "hs_code": hs_code,
            "shipments": int(count),
            "carats": carats.quantize(Decimal("0.01")),
            "value_usd": value.quantize(Decimal("0.01")),
        }


def reconciliation_rows(source: ReportInput) -> Iterator[Mapping[str, Any]]:
    """Each Community certificate validated against the import confirmations received
    (confirmed / unconfirmed / differs), each import presented against the export
    messages received (announced / not announced / differs), with the differences."""
    session = source.session
    if session is None or not source.shipments:
        return
    registry, authority = Registry(session), source.authority.code
    for shipment in _of(source, "export"):
        if not any(e.action == "export" for e in shipment.events):
            continue  # validated but not (yet) gone: nobody abroad has it to confirm
        c = shipment.certificate
        issued = source.documents.get((shipment.id, COMMUNITY_CERTIFICATE.kind))
        number = issued.number if issued else c.number
        heard = registry.received_messages(authority, [number, c.number], CONFIRMATIONS)
        yield _reconciled(
            "export",
            number,
            Export.of(shipment.details).destination or "",
            heard,
            lambda said, c=c: differences(c, said, "confirmed", "exported"),
            ("confirmed", "unconfirmed"),
        )
    for shipment in _of(source, "import"):
        c = shipment.certificate
        heard = registry.received_messages(authority, [c.number], EXPORT_MESSAGE)
        yield _reconciled(
            "import",
            c.number,
            c.issuing_country,
            heard,
            lambda said, c=c: differences(c, said, "announced", "presented"),
            ("announced", "not announced"),
        )


def _reconciled(
    direction: str,
    number: str,
    counterpart: str,
    heard: Sequence[ReceivedMessage],
    compare: Callable[[Mapping[str, Any]], Mapping[str, Mapping[str, Any]]],
    words: tuple[str, str],
) -> Mapping[str, Any]:
    latest = heard[-1] if heard else None
    found = compare(latest.data) if latest is not None else {}
    status = "differs" if found else words[0] if latest is not None else words[1]
    return {
        "direction": direction,
        "certificate_number": number,
        "counterpart": counterpart,
        "status": status,
        "peer": latest.peer if latest else "",
        "message": latest.message_id if latest else "",
        "received_at": latest.received_at if latest else "",
        "differences": describe(found),
    }


REPORTS = (
    Report(
        RULES.version("eu.report.import_monthly"),
        "Monthly report on import certificates presented",
        "month",
        (
            "certificate_number",
            "issuing_authority",
            "validating_authority",
            "issued_on",
            "expires_on",
            "provenance",
            "origin",
            "hs_codes",
            "carats",
            "value_usd",
            "verifying_authority",
            "verified_on",
        ),
        import_rows,
        "eu",
        recipient=COMMISSION,
        due=DatedPeriod(PARAMETERS, "monthly_report_period"),
    ),
    Report(
        RULES.version("eu.report.export_monthly"),
        "Monthly report on Community certificates issued",
        "month",
        (
            "certificate_number",
            "issuing_authority",
            "validated_on",
            "expires_on",
            "destination",
            "provenance",
            "origin",
            "hs_codes",
            "carats",
            "value_usd",
        ),
        export_rows,
        "eu",
        recipient=COMMISSION,
        due=DatedPeriod(PARAMETERS, "monthly_report_period"),
    ),
    Report(
        RULES.version("kp.statistics"),
        "Kimberley Process trade statistics",
        "quarter",
        ("direction", "origin", "provenance", "hs_code", "shipments", "carats", "value_usd"),
        statistics_rows,
        "eu",
        recipient=KP_STATISTICS,
        due=DatedPeriod(PARAMETERS, "statistics_period"),
    ),
    # Cites Annex II's "record all of it in a database" (kp.electronic_messages); the
    # confirmations of Art. 8 are reconciled in the same rows.
    Report(
        RULES.version(EXPORT_MESSAGE),
        "Reconciliation of import confirmations and export messages with other authorities",
        "month",
        (
            "direction",
            "certificate_number",
            "counterpart",
            "status",
            "peer",
            "message",
            "received_at",
            "differences",
        ),
        reconciliation_rows,
        "eu",
    ),
)
