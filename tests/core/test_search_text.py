"""The search text follows every write (issue 26): a changed seal is found by its new
number and no longer by its old one, a removed shipment by nothing."""

from __future__ import annotations

from sqlalchemy import text

from caratflow.case import queries
from caratflow.testing.payloads import shipment_payload


def found(session, officer, fragment: str) -> list[int]:
    page = queries.search_shipments(session, officer, queries.ShipmentFilter(text=fragment))
    return [s.id for s in page.items]


def test_the_search_text_follows_changes_and_removals(runtime, session, officer):
    shipment = runtime.shipments.present(
        session, shipment_payload(**{"containers.0.seals": ["OLD-77001"]}), officer
    ).shipment
    session.flush()
    assert found(session, officer, "old-770") == [shipment.id]
    shipment.containers[0].seals = ["NEW-88002"]
    shipment.details = {**shipment.details, "stones": [{"id": "LATE-STONE-5"}]}
    session.flush()
    assert found(session, officer, "old-770") == []
    assert found(session, officer, "new-880") == [shipment.id]
    assert found(session, officer, "late-stone") == [shipment.id]
    session.delete(shipment)
    session.flush()
    assert found(session, officer, "new-880") == []
    if session.get_bind().dialect.name == "sqlite":  # the FTS5 table agrees with its source
        session.execute(
            text("INSERT INTO shipment_search_fts(shipment_search_fts) VALUES ('integrity-check')")
        )
