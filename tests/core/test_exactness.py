"""Carats and money stay exact Decimals; instants come back in UTC; legal dates use the zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from caratflow.case.service import legal_date
from caratflow.models import Certificate
from caratflow.testing.payloads import shipment_payload


@pytest.mark.parametrize("carats", ["0.0001", "123.45", "999999999999.9999"])
def test_carats_round_trip_exactly(session, service, officer, carats):
    presented = service.present(
        session, shipment_payload(**{"certificate.carats": carats}), officer
    )
    session.commit()
    session.expire_all()
    stored = session.scalar(
        select(Certificate.carats).where(Certificate.shipment_id == presented.shipment.id)
    )
    assert isinstance(stored, Decimal)
    assert stored == Decimal(carats)


def test_sums_of_money_are_exact_in_sql(session, service, officer):
    for value in ["0.10", "0.20", "1000000000000000.01"]:
        service.present(session, shipment_payload(**{"certificate.value_usd": value}), officer)
    session.flush()
    total = session.scalar(select(func.sum(Certificate.value_usd)))
    assert total == Decimal("1000000000000000.31")


def test_an_instant_is_stored_and_returned_in_utc(session, service, officer):
    payload = shipment_payload(presented_at="2026-11-20T10:15:00+01:00")
    shipment = service.present(session, payload, officer).shipment
    session.commit()
    session.expire_all()
    assert shipment.presented_at == datetime(2026, 11, 20, 9, 15, tzinfo=UTC)
    assert shipment.presented_at.tzinfo is UTC


def test_the_legal_date_is_the_authoritys_local_date(session, service, officer):
    # 23:30 UTC on New Year's Eve is already 1 January in Brussels: next year's law applies.
    payload = shipment_payload(presented_at="2026-12-31T23:30:00Z")
    shipment = service.present(session, payload, officer).shipment
    assert legal_date(shipment) == date(2027, 1, 1)
    assert shipment.events[0].legal_date == date(2027, 1, 1)
