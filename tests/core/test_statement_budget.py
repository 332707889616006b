"""A decision asks the database a handful of statements, each once (issue 28): the
shipment and what the rules read in one or two queries, each setting, calendar and
message read once per unit of work, the findings in one INSERT. A count, not a time: a
budget that fails the day a change adds a query per finding, per rule or per trader."""

from __future__ import annotations

from sqlalchemy import select

from caratflow.db import unit_of_work
from caratflow.models import IssuedDocument
from caratflow.testing.databases import statements_sent
from caratflow.testing.payloads import shipment_payload

# Each decision as the API takes it: its own unit of work, in the runtime as wired (its
# documents, deadlines, notices, ledger). What each statement is for, in order:
BUDGET = {
    # authority; the certificate's first presentation (Art. 3(a): one certificate, one
    # consignment); both traders' history; messages announced; savepoint; shipment,
    # certificate, containers, decision, its findings; its search text; traders' tallies;
    # working days; the verification clock (counting its first leaf as it is inserted);
    # the ledger: the decision, the shipment as presented, the clock; release savepoint
    "present": 18,
    # shipment with what the rules read (its decisions and their findings: a hold must be
    # lifted before a way out); four eyes; first presentation; traders' history; working
    # days; messages announced; clocks; the update, decision, findings; the certified copy
    # sealed, not rendered (already issued? its serial, savepoint, insert, release; on
    # PostgreSQL first the number range's lock); the ledger; the clock met (its change
    # and its count of leaves in one update, its reminders withdrawn, its leaf); the
    # notices' recipients and outbox rows (the Art. 8 confirmation, the lawful-import
    # evidence); the ledger
    "verify": 27,
    # shipment; its decisions and their findings (a way out reads the whole record);
    # four eyes; first presentation; the update, decision, findings; working days; clocks;
    # the ledger
    "release": 11,
}
ON_POSTGRESQL = {"verify": 1}  # the number range's advisory lock (``_next_serial``)


def test_each_decision_stays_within_its_statement_budget(committed_runtime, officer):
    runtime = committed_runtime
    with unit_of_work(runtime.sessions) as session:  # a trader with history already
        runtime.shipments.present(
            session, shipment_payload(**{"certificate.number": "CA000001"}), officer
        )
    shipment: dict[str, int] = {}

    def present(session):
        shipment["id"] = runtime.shipments.present(session, shipment_payload(), officer).shipment.id

    steps = {
        "present": present,
        "verify": lambda session: runtime.shipments.act(session, shipment["id"], "verify", officer),
        "release": lambda session: runtime.shipments.act(
            session, shipment["id"], "release", officer
        ),
    }
    counted = {}
    for name, step in steps.items():
        with unit_of_work(runtime.sessions) as session:
            with statements_sent(session) as sent:
                step(session)
            counted[name] = sum(not statement.startswith("BEGIN") for statement, _ in sent)
    print("statements per decision:", counted)
    extra = ON_POSTGRESQL if runtime.engine.dialect.name == "postgresql" else {}
    budget = {name: allowed + extra.get(name, 0) for name, allowed in BUDGET.items()}
    assert all(counted[name] <= budget[name] for name in budget), (counted, budget)
    with unit_of_work(runtime.sessions) as session:  # issue 28: the copy sealed, unrendered
        [copy] = session.scalars(
            select(IssuedDocument).where(IssuedDocument.shipment_id == shipment["id"])
        )
        assert copy.digest and copy.pdf is None
