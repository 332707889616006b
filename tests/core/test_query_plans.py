"""The reads every decision makes go through an index, so a decision costs the same in
the first week and in the tenth year of records (issue 28)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import PrimaryKeyConstraint, UniqueConstraint, insert, select, text

from caratflow.case import history
from caratflow.law.registry import PartyHistory, Registry
from caratflow.models import (
    Base,
    Certificate,
    Container,
    Deadline,
    DeadlineStatus,
    Direction,
    Event,
    FindingRecord,
    Goods,
    Shipment,
    TraderTally,
)
from caratflow.testing.databases import query_plans, tables_read_whole
from caratflow.testing.payloads import shipment_payload


def a_register_of(session, traders: int, each: int) -> None:
    """Past shipments at BE, ``each`` per trader, as the planner would meet them in a
    year of records: many traders, few shipments each, a detention now and then, their
    containers, findings and clocks (its statistics analysed)."""
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
    session.execute(
        insert(Container),
        [
            {"shipment_id": shipment_id, "label": label, "seals": [], "seals_intact": True}
            for shipment_id in ids
            for label in ("C1", "C2")
        ],
    )
    events = session.scalars(select(Event.id).where(Event.shipment_id.in_(ids))).all()
    finding = {"rule": "eu.certificate", "outcome": "pass", "basis": "Art. 3", "message": "-"}
    session.execute(
        insert(FindingRecord),
        [{"event_id": event_id, "rule_version": day, **finding} for event_id in events],
    )
    clock = {"rule": "eu.clock", "basis": "Art. 4", "plugin": "eu", "period": "P1D"}
    days = {"starts_at": at, "starts_on": day, "due_on": day, "due_at": at}
    session.execute(
        insert(Deadline),
        [
            {"authority_code": "BE", "shipment_id": shipment_id, "status": DeadlineStatus.MET}
            | clock
            | days
            for shipment_id in ids
        ],
    )
    history.recount(session)
    if session.get_bind().dialect.name == "postgresql":  # SQLite, knowing sizes, would
        session.execute(text("ANALYZE"))  # scan a test's tiny tables, and tell us nothing


def test_a_traders_history_is_one_row_read_however_long_the_history(session):
    # eu.verify.method: the risk analysis asks of both traders at every presentation; a
    # trader with 1,100 shipments costs what a newcomer costs (issue 28).
    a_register_of(session, traders=300, each=1)
    a_register_of(session, traders=2, each=1100)

    def read(s):
        return Registry(s).party_histories("BE", ["Importer 0", "Exporter 1"], excluding=1)

    [plan] = query_plans(session, read)  # both traders at once: seen before, how often held
    assert "trader_tally" in plan, plan
    assert "ix_certificate_importer_name" not in plan, plan  # no walk of the history
    assert tables_read_whole(session, read) == []


def test_the_tallies_kept_with_decisions_are_those_counted_from_the_records(
    session, service, officer
):
    first = service.present(session, shipment_payload(), officer).shipment
    service.present(session, shipment_payload(**{"certificate.number": "CA654321"}), officer)
    service.act(session, first.id, "hold", officer, reason="seal broken")
    service.act(session, first.id, "refuse", officer, reason="no certificate after all")
    same = {
        "certificate.number": "CA111111",
        "certificate.exporter.name": "Schupstraat Diamonds NV",
    }
    service.present(session, shipment_payload(**same), officer)  # importer = exporter: once
    kept = tallies(session)
    history.recount(session)
    assert tallies(session) == kept
    assert kept[("BE", "Schupstraat Diamonds NV")] == (3, 1)


def tallies(session) -> dict[tuple[str, str], tuple[int, int]]:
    rows = session.execute(
        select(
            TraderTally.authority_code, TraderTally.name, TraderTally.shipments, TraderTally.held
        )
    )
    return {(code, name): (shipments, held) for code, name, shipments, held in rows}


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


def test_no_read_of_a_lifecycle_walks_a_whole_table(session, service, officer, client, auth):
    # Seen with EXPLAIN on both databases, with a register behind the decisions: present,
    # the API's get and history, verify, release (issue 28: the containers were scanned).
    a_register_of(session, traders=50, each=4)
    shipment = {}

    def present(s):
        shipment["id"] = service.present(s, shipment_payload(), officer).shipment.id

    steps = [
        present,
        lambda s: client.get(f"/api/v1/shipments/{shipment['id']}", headers=auth),
        lambda s: client.get(f"/api/v1/shipments/{shipment['id']}/history", headers=auth),
        lambda s: service.act(s, shipment["id"], "verify", officer),
        lambda s: service.act(s, shipment["id"], "release", officer),
    ]
    for step in steps:
        session.expire_all()
        assert tables_read_whole(session, step) == []


def test_every_foreign_key_leads_an_index_but_those_to_the_authorities():
    # PostgreSQL indexes no foreign key of itself: a decision or a page that follows one,
    # or a delete that cascades along it, would read the whole table. The authorities are
    # a handful of rows, never deleted; what a page filters by authority has its own index.
    unindexed = []
    for table in Base.metadata.sorted_tables:
        leading = {index.columns[0].name for index in table.indexes if index.columns}
        leading |= {
            next(iter(c.columns)).name
            for c in table.constraints
            if isinstance(c, PrimaryKeyConstraint | UniqueConstraint) and c.columns
        }
        unindexed += [
            f"{table.name}.{fk.columns[0].name}"
            for fk in table.foreign_key_constraints
            if fk.referred_table.name != "authority" and fk.columns[0].name not in leading
        ]
    assert unindexed == []
