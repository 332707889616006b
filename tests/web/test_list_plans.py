"""The shipment list walks an index in the order it shows, and stops after one page.

What keeps the list page as fast with 100,000 shipments as with 1,000 (the figures are
in bench/bench_web.py): for each filter the page offers, PostgreSQL can answer from an
index already in ``id`` order, with no sort of all matching rows. Checked on the real
statements the list sends, with sequential scans ruled out so a tiny test table does
not hide a missing index.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event

from caratflow.case import queries
from caratflow.case.access import Actor
from caratflow.models import Role

OFFICER = Actor("officer", Role.OFFICER, frozenset({"BE"}))


def plan_of(session, filters: queries.ShipmentFilter, **kwargs) -> str:
    sent: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", keep)
    try:
        queries.search_shipments(session, OFFICER, filters, limit=50, **kwargs)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    [(statement, parameters)] = [(s, p) for s, p in sent if "LIMIT" in s]
    connection = session.connection()
    # The tables are tiny and their statistics churned by other tests, so the planner's
    # cheapest plan says nothing about 100k rows: ask instead whether an index serves
    # the query in order. A query no index can order still shows its Sort.
    for method in ("seqscan", "bitmapscan", "sort"):
        connection.exec_driver_sql(f"SET LOCAL enable_{method} = off")
    rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters)
    return "\n".join(row[0] for row in rows)


@pytest.mark.postgres_only
@pytest.mark.parametrize(
    ("filters", "index"),
    [
        (queries.ShipmentFilter(), "ix_shipment_authority_id"),
        (queries.ShipmentFilter(state="held"), "ix_shipment_authority_state_id"),
        (queries.ShipmentFilter(authority="BE"), "ix_shipment_authority_id"),
    ],
    ids=["newest", "by-state", "one-authority"],
)
def test_each_list_walks_an_index_in_order_without_sorting(session, filters, index):
    plan = plan_of(session, filters)
    # On a tiny table, whose statistics other tests churn, the planner may take the
    # authority's index and filter the state on it: also in id order, also no sort.
    walked = {index, "ix_shipment_authority_id"}
    assert any(f"Index Scan Backward using {i} on shipment" in plan for i in walked), plan
    assert "Sort" not in plan, plan


@pytest.mark.postgres_only
def test_a_certificate_search_goes_through_the_certificate_number_index(session):
    plan = plan_of(session, queries.ShipmentFilter(certificate="CA123456"))
    assert "ix_certificate_number" in plan, plan
