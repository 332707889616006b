"""The reads every decision makes go through an index, so a decision costs the same in
the first week and in the tenth year of records."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import insert, text

from caratflow.law.registry import PartyHistory, Registry
from caratflow.models import Certificate, Direction, Event, Goods, Shipment
from caratflow.testing.databases import query_plans
from caratflow.testing.payloads import shipment_payload


def a_register_of(session, traders: int, each: int) -> None:
    """Past shipments at BE, ``each`` per trader, as the planner would meet them in a
    year of records: many traders, few shipments each, a detention now and then (its
    statistics analysed)."""
    at, day = datetime(2026, 1, 5, 9, 0, tzinfo=UTC), date(2026, 1, 5)
    rows = [
        {
            "authority_code": "BE",
            "direction": Direction.IMPORT,
            "goods": Goods.ROUGH,
            "state": "released",
            "presented_at": at,
            "details": {},
        }
        for _ in range(traders * each)
    ]
    ids = session.scalars(insert(Shipment).returning(Shipment.id), rows).all()
    session.execute(
        insert(Certificate),
        [
            {
                "shipment_id": shipment_id,
                "number": f"CA{shipment_id:06d}",
                "issuing_country": "CA",
                "issuing_authority": "Natural Resources Canada",
                "issued_on": day,
                "expires_on": day,
                "exporter_name": f"Exporter {n % traders}",
                "exporter_address": "-",
                "importer_name": f"Importer {n % traders}",
                "importer_address": "-",
                "parcels": 1,
                "carats": Decimal("1.5"),
                "value_usd": Decimal("150"),
                "provenance": "CA",
            }
            for n, shipment_id in enumerate(ids)
        ],
    )
    decisions = [("present", None, "presented"), ("verify", "presented", "verified")]
    session.execute(
        insert(Event),
        [
            {
                "shipment_id": shipment_id,
                "at": at,
                "action": "hold" if n % 50 == 0 and action == "verify" else action,
                "actor": "officer.be",
                "from_state": before,
                "to_state": after,
                "legal_date": day,
                "data": {},
            }
            for n, shipment_id in enumerate(ids)
            for action, before, after in decisions
        ],
    )
    session.execute(text("ANALYZE"))


def test_a_traders_history_is_read_through_the_certificates_name_indexes(session):
    # eu.verify.method: the risk analysis asks of both traders at every presentation.
    a_register_of(session, traders=500, each=4)
    plans = query_plans(
        session,
        lambda s: Registry(s).party_history("BE", "Schupstraat Diamonds NV", excluding=1),
    )
    assert len(plans) == 2  # seen before, and how often held
    for plan in plans:
        assert "ix_certificate_importer_name" in plan, plan
        assert "ix_certificate_exporter_name" in plan, plan
        assert "SCAN certificate" not in plan and "Seq Scan on certificate" not in plan, plan


def test_a_traders_history_says_whether_they_came_before_and_how_often_held(
    session, service, officer
):
    name = "Schupstraat Diamonds NV"  # the importer of shipment_payload()
    registry = Registry(session)
    assert registry.party_history("BE", name) == PartyHistory(seen_before=False, held=0)
    first = service.present(session, shipment_payload(), officer).shipment
    second = service.present(
        session, shipment_payload(**{"certificate.number": "CA654321"}), officer
    ).shipment
    service.act(session, first.id, "hold", officer, reason="seal broken")
    before = registry.party_history("BE", name, excluding=second.id)
    assert before == PartyHistory(seen_before=True, held=1)
    # A shipment's own detention is not its history.
    own = registry.party_history("BE", name, excluding=first.id)
    assert own == PartyHistory(seen_before=True, held=0)
    assert registry.party_history("NO", name) == PartyHistory(seen_before=False, held=0)
