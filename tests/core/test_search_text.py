"""The search text follows every write (issue 26): a changed seal is found by its new
number and no longer by its old one, a removed shipment by nothing."""

from __future__ import annotations

from sqlalchemy import event, text

from caratflow.case import queries, search
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


def test_a_search_reads_the_text_index_not_every_shipment(session, officer):
    """What keeps a search among 100,000 shipments fast (bench/bench_search.py): the
    fragment is looked up in the text index, and only the shipments it names are read."""
    sent: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", keep)
    try:
        found(session, officer, "hoveniers")
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    [(statement, parameters)] = [(s, p) for s, p in sent if "LIMIT" in s]
    connection = session.connection()
    if engine.dialect.name == "sqlite":
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        plan = "\n".join(row[3] for row in rows)
        assert "SCAN shipment_search_fts VIRTUAL TABLE INDEX" in plan, plan
        scans = [line for line in plan.splitlines() if line.startswith("SCAN ")]
        assert scans == ["SCAN shipment_search_fts VIRTUAL TABLE INDEX 0:M0"], plan  # keyed
        return
    # On a tiny table PostgreSQL rightly walks the few shipments there are; what counts
    # is that the fragment, as the statement writes it, can be looked up in the index.
    lookup = search.matching(session, "hoveniers").compile(
        engine, compile_kwargs={"literal_binds": True}
    )
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    rows = connection.exec_driver_sql("EXPLAIN " + str(lookup).replace("%", "%%"))
    plan = "\n".join(row[0] for row in rows)
    assert "Bitmap Index Scan on ix_shipment_search_trigrams" in plan, plan
    assert "LIKE '%%hoveniers%%'" in statement  # written into the statement, not a parameter
