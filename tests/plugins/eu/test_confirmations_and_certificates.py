"""Reg. (EC) 2368/2002 after verification: the import confirmed (Art. 5(1)(a), Art. 8),
customs transit (Art. 4(3)), and the Community certificate from issue to export or
return (Arts. 11, 12(5), Annex IV). Decisions are taken on a test clock in Brussels."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from caratflow.deadlines.keeping import deadline_of
from caratflow.deadlines.sweep import sweep
from caratflow.errors import ActionNotAvailable
from caratflow.law.rules import LawForbids
from caratflow.models import DeadlineStatus, DocumentStatus, IssuedDocument, OutboxMessage
from caratflow.testing.payloads import export_payload, outcomes, shipment_payload

VALIDATED = {"sealed_under_supervision": "yes"}


def present(session, service, officer, payload=None):
    shipment = service.present(session, payload or shipment_payload(), officer).shipment
    session.flush()
    return shipment


def documents(session, shipment, kind) -> list[IssuedDocument]:
    query = select(IssuedDocument).where(
        IssuedDocument.shipment_id == shipment.id, IssuedDocument.kind == kind
    )
    return list(session.scalars(query.order_by(IssuedDocument.id)))


def notices(session, shipment) -> dict[str, OutboxMessage]:
    query = select(OutboxMessage).where(
        OutboxMessage.shipment_id == shipment.id, OutboxMessage.kind == "notice"
    )
    return {m.audience: m for m in session.scalars(query)}


def findings(shipment) -> dict[str, str]:
    return outcomes(shipment.events[-1].findings)


# -- Art. 5(1)(a) and Art. 8: a verified import is confirmed --------------------------------


def test_a_verified_import_is_confirmed_to_the_authority_that_validated_its_certificate(
    session, service, officer
):
    shipment = present(session, service, officer)
    verified = service.act(session, shipment.id, "verify", officer)

    message = notices(session, verified)["kp-authority:CA"]
    assert message.data["rule"] == "eu.import_confirmation"
    assert message.data["basis"] == "Reg. (EC) 2368/2002 Art. 8"
    # Annex I: the certificate's number, parcels, carats, importer and exporter
    assert {k: message.data[k] for k in ("certificate", "parcels", "importer", "exporter")} == {
        "certificate": "CA123456",
        "parcels": 2,
        "importer": "Schupstraat Diamonds NV",
        "exporter": "Arctic Rough Ltd",
    }
    assert message.data["carats"] == "123.45"
    assert "confirms the import" in message.body and "Carats: 123.45" in message.body
    assert findings(verified)["kp.import_confirmation.fields"] == "info"


def test_a_detained_import_is_not_confirmed(session, service, officer):
    shipment = present(session, service, officer)
    held = service.act(session, shipment.id, "hold", officer, reason="papers in doubt")
    assert "kp-authority:CA" not in {
        m.audience
        for m in notices(session, held).values()
        if m.data["rule"] == "eu.import_confirmation"
    }


def test_the_importer_gets_a_certified_copy_when_the_import_is_confirmed(session, service, officer):
    shipment = present(session, service, officer)
    service.act(session, shipment.id, "verify", officer)
    [copy] = documents(session, shipment, "eu.certified_copy")
    assert copy.status == DocumentStatus.VALID
    assert copy.content["rule"] == "eu.confirm.10_days"
    assert re.fullmatch(r"BE-CC-\d{6}", copy.number)


# -- Art. 4(3): customs transit suspends verification ----------------------------------------


def test_customs_transit_suspends_verification_and_its_ten_working_days(
    session, service, officer, clock
):
    # Presented Friday 17 July 2026: due Monday 3 August (21 July is Belgium's National Day).
    payload = shipment_payload(presented_at="2026-07-17T10:00:00+02:00")
    payload["certificate"].update(issued_on="2026-07-10", expires_on="2026-09-10")
    clock.now = datetime(2026, 7, 17, 8, 0, tzinfo=UTC)
    shipment = present(session, service, officer, payload)
    assert deadline_of(shipment, "eu.confirm.10_days").due_on == date(2026, 8, 3)

    clock.now = datetime(2026, 7, 20, 7, 0, tzinfo=UTC)  # Monday 20 July
    in_transit = service.act(
        session, shipment.id, "place_under_transit", officer, reason="T1 26BE000123456789"
    )
    assert in_transit.state == "in_customs_transit"
    assert findings(in_transit)["eu.transit_suspends"] == "info"
    assert deadline_of(in_transit, "eu.confirm.10_days").status == DeadlineStatus.SUSPENDED
    with pytest.raises(ActionNotAvailable):
        service.act(session, shipment.id, "verify", officer)

    clock.now = datetime(2026, 7, 23, 7, 0, tzinfo=UTC)  # Thursday 23 July: it arrives
    arrived = service.act(session, shipment.id, "end_transit", officer)
    deadline = deadline_of(arrived, "eu.confirm.10_days")
    # 22 and 23 July were lost to transit (21 July was closed anyway): two days later.
    assert (deadline.status, deadline.due_on) == (DeadlineStatus.OPEN, date(2026, 8, 5))
    clock.now = datetime(2026, 8, 5, 12, 0, tzinfo=UTC)  # on time only thanks to Art. 4(3)
    verified = service.act(session, shipment.id, "verify", officer)
    assert findings(verified)["eu.confirm.10_days"] == "pass"


# -- Arts. 11 and 12, Annex IV: the Community certificate ------------------------------------


def validated_export(session, service, officer):
    shipment = present(session, service, officer, export_payload())
    return service.act(session, shipment.id, "verify", officer, inputs=VALIDATED)


def test_validating_an_export_issues_an_ec_certificate_valid_two_months(
    session, service, officer, clock
):
    clock.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    shipment = validated_export(session, service, officer)

    [certificate] = documents(session, shipment, "eu.community_certificate")
    assert re.fullmatch(r"EC\d{6}", certificate.number)  # Annex IV
    assert certificate.content["rule"] == "eu.certificate.number"
    assert (certificate.issued_on, certificate.valid_until) == (
        date(2026, 11, 23),
        date(2027, 1, 23),
    )
    deadline = deadline_of(shipment, "eu.export.valid_2_months")
    assert deadline.status == DeadlineStatus.OPEN
    # the day the certificate states, a Saturday: the deadline and its document agree
    assert deadline.due_on == certificate.valid_until == date(2027, 1, 23)

    # The recommended message to the destination's authority names the certificate.
    message = notices(session, shipment)["kp-authority:CA"]
    assert message.data["rule"] == "kp.electronic_messages"
    assert message.data["certificate"] == certificate.number
    assert message.data["carats"] == "123.45" and message.data["importer"]


@pytest.mark.parametrize(
    ("issued", "last_valid"),
    [
        (date(2026, 12, 31), date(2027, 2, 28)),  # a month end: clamped to February's
        (date(2027, 12, 31), date(2028, 2, 29)),  # a leap year
        (date(2026, 9, 14), date(2026, 11, 14)),  # a Saturday
        (date(2027, 8, 31), date(2027, 10, 31)),  # a Sunday
        (date(2027, 10, 25), date(2027, 12, 25)),  # Christmas Day
    ],
)
def test_art_12_5_the_certificates_last_valid_day_is_the_day_its_deadline_falls_due(
    session, service, officer, clock, issued, last_valid
):
    """Issue 22, point 11: where a document states a date, the clock that watches it falls
    due that very day (the period is counted to the day, Reg. 1182/71 Art. 3(4) not
    applied to the date printed on the certificate)."""
    clock.now = datetime(issued.year, issued.month, issued.day, 10, 0, tzinfo=UTC)
    shipment = validated_export(session, service, officer)
    [certificate] = documents(session, shipment, "eu.community_certificate")
    deadline = deadline_of(shipment, "eu.export.valid_2_months")
    assert (certificate.issued_on, certificate.valid_until) == (issued, last_valid)
    assert deadline.due_on == last_valid
    assert deadline.period == "2 months, to the day"


def test_an_export_leaves_under_its_community_certificate(session, service, officer, clock):
    shipment = validated_export(session, service, officer)
    clock.advance(days=3)
    exported = service.act(session, shipment.id, "export", officer)
    assert exported.state == "exported"
    assert findings(exported)["eu.export.conditions"] == "pass"
    assert findings(exported)["eu.export.valid_2_months"] == "pass"
    assert deadline_of(exported, "eu.export.valid_2_months").status == DeadlineStatus.MET


def test_without_a_valid_community_certificate_nothing_leaves_citing_art_11(
    session, service, officer, runtime
):
    shipment = validated_export(session, service, officer)
    [certificate] = documents(session, shipment, "eu.community_certificate")
    runtime.documents.change_status(
        session, certificate.number, DocumentStatus.REVOKED, officer, "issued in error"
    )
    with pytest.raises(LawForbids) as refused:
        service.act(session, shipment.id, "export", officer)
    assert outcomes(refused.value.findings)["eu.export.conditions"] == "hold"


def test_an_ec_certificate_unused_after_two_months_expires_and_is_returned(
    session, service, officer, clock
):
    clock.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    shipment = validated_export(session, service, officer)
    deadline = deadline_of(shipment, "eu.export.valid_2_months")

    # The officers are reminded ten and two working days before it runs out ...
    reminded = sweep(session, datetime(2027, 1, 21, 9, 0, tzinfo=UTC))
    assert reminded.reminders == 2  # the first, late, and the second, on time
    # ... and an unused certificate is escalated once it has run out.
    assert sweep(session, datetime(2027, 1, 26, 9, 0, tzinfo=UTC)).missed == 1
    assert deadline.status == DeadlineStatus.MISSED

    clock.now = datetime(2027, 1, 26, 9, 0, tzinfo=UTC)
    with pytest.raises(LawForbids) as refused:
        service.act(session, shipment.id, "export", officer)
    assert outcomes(refused.value.findings)["eu.export.valid_2_months"] == "refuse"
    assert "expired on 23 January 2027" in str(refused.value)

    returned = service.act(
        session, shipment.id, "return_certificate", officer, reason="not used in time"
    )
    assert returned.state == "certificate_returned"
    [certificate] = documents(session, shipment, "eu.community_certificate")
    assert certificate.status == DocumentStatus.RETURNED
    assert certificate.status_changes[-1].reason == "return_certificate: not used in time"


def test_detaining_a_validated_export_revokes_its_certificate(session, service, officer):
    shipment = validated_export(session, service, officer)
    held = service.act(session, shipment.id, "hold", officer, reason="seal tampered after sealing")
    [certificate] = documents(session, held, "eu.community_certificate")
    assert certificate.status == DocumentStatus.REVOKED
    assert deadline_of(held, "eu.export.valid_2_months").status == DeadlineStatus.CANCELLED
