"""`ledger verify` finds any single-row tampering and names the row, on both databases.

Hypothesis builds a random ledger through the real services (decisions with their
findings, issued certificates and a status change, batches of leaves that are their own
records),
sequenced in random batches with some entries left pending; the untampered ledger must
verify. Then one row of any sealed or ledger table is updated (any column), deleted,
inserted, or two rows are swapped (a column's values, or two entries' places in the
log), and the report must fail and name the row.

One gap is by design and excluded: a leaf that is its own record (a kind without a table;
digital identities are compared with their rows since issue 25) has no other copy while
it is pending, so deleting that pending entry leaves nothing to compare with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from caratflow.ledger import sealing, sequencer, signing_keys, verification
from caratflow.models import (
    Base,
    DocumentStatus,
    DocumentStatusChange,
    Event,
    FindingRecord,
    IssuedDocument,
    LedgerEntry,
    LedgerNode,
    LedgerTreeHead,
)
from caratflow.testing.payloads import shipment_payload

TABLES = {
    "event": Event,
    "finding": FindingRecord,
    "ledger_entry": LedgerEntry,
    "ledger_node": LedgerNode,
    "ledger_tree_head": LedgerTreeHead,
    "issued_document": IssuedDocument,
    "document_status_change": DocumentStatusChange,
}
EXPORT = shipment_payload(
    direction="export", **{"certificate.number": "BE1000", "certificate.issuing_country": "BE"}
)


# -- building a random ledger -----------------------------------------------------------


@st.composite
def ledgers(draw: st.DrawFn) -> list[tuple[str, int]]:
    """A plan: what to write, in which order, and where the sequencer runs (batch size)."""
    steps: list[tuple[str, int]] = []
    for _ in range(draw(st.integers(1, 4))):
        steps.append(("shipment", draw(st.integers(0, 2))))  # presented, then 0-2 decisions
    steps += [("identities", draw(st.integers(1, 3))) for _ in range(draw(st.integers(0, 5)))]
    if draw(st.booleans()):
        steps.append(("document", int(draw(st.booleans()))))  # issued, maybe revoked
    steps = draw(st.permutations(steps))
    plan: list[tuple[str, int]] = []
    for step in steps:
        plan.append(step)
        if draw(st.integers(0, 3)) == 0:
            plan.append(("sequence", draw(st.integers(1, 6))))
    if draw(st.integers(0, 3)):
        plan.append(("sequence", draw(st.integers(1, 50))))
    return plan


def build(runtime: Any, session: Any, officer: Any, plan: list[tuple[str, int]]) -> None:
    key = signing_keys.signing_key(runtime.settings)
    service = runtime.shipments
    for number, (step, argument) in enumerate(plan):
        if step == "shipment":
            own = shipment_payload(**{"certificate.number": f"CA{number:06d}"})  # one each
            shipment = service.present(session, own, officer).shipment
            for action in ("verify", "release")[:argument]:
                service.act(session, shipment.id, action, officer)
        elif step == "identities":  # a batch, as a registration seals it: one instant
            sealing.append_entries(
                session,
                "note",  # a kind whose entry is its record
                [
                    (f"ID-{number:04d}-{n}", {"carats": "0.71", "origin": ["BW"], "step": number})
                    for n in range(argument)
                ],
            )
        elif step == "document":
            shipment = service.present(session, EXPORT, officer).shipment
            document = runtime.documents.issue(
                session, shipment, "eu.community_certificate", officer
            )
            if argument:
                runtime.documents.change_status(
                    session, document.number, DocumentStatus.REVOKED, officer, "issued in error"
                )
        else:
            sequencer.sequence_pending(session, key, batch_size=argument)
    session.flush()


# -- tampering --------------------------------------------------------------------------


@dataclass
class Tampering:
    what: str
    expected: list[set[str]]  # each set: the labels any of which names one tampered row


def label(table: str, row: Any) -> set[str]:
    """How the report may name this row (a moved or renamed row by either name)."""
    if table == "ledger_entry":
        names = {f"ledger_entry {row.kind}:{row.record_key}"}
        return names | ({f"ledger_entry seq {row.seq}"} if row.seq is not None else set())
    if table == "ledger_node":
        return {f"ledger_node {row.level}/{row.idx}"}
    if table == "ledger_tree_head":
        return {f"tree_head {row.tree_size}"}
    if table == "issued_document":
        return {f"issued_document {row.number}"}
    return {f"{table} {row.id}"}


def changed(value: Any, column: Any, other_ids: list[int]) -> Any:
    """A different value of the same type, valid for the column's constraints."""
    if column.foreign_keys:
        assume(other_ids)
        return other_ids[0]
    enum = getattr(column.type, "enums", None)
    if enum:
        return next(v for v in enum if v != value)
    if value is None:
        python_type = column.type.python_type
        return {str: "x", int: 7, date: date(2026, 1, 1)}.get(python_type, "x")
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value[:-1] + ("x" if value[-1:] != "x" else "y")
    if isinstance(value, datetime):
        return value + timedelta(microseconds=1)
    if isinstance(value, date):
        return value + timedelta(days=1)
    if isinstance(value, bytes | memoryview):
        raw = bytes(value)
        return bytes([raw[0] ^ 1]) + raw[1:]
    if isinstance(value, dict):
        return {**value, "tampered": True}
    if isinstance(value, list):
        return [*value, "tampered"]
    raise AssertionError(f"no change for {value!r}")


def protected(table: str, row: Any) -> bool:
    """Rows with a second copy to compare with (see the module docstring)."""
    return not (table == "ledger_entry" and row.kind == "note" and row.seq is None)


def tamper(session: Any, data: st.DataObject) -> Tampering:
    tables = {name: model.__table__ for name, model in TABLES.items()}
    populated = [
        n for n, t in tables.items() if session.scalar(select(func.count()).select_from(t))
    ]
    name = data.draw(st.sampled_from(populated), label="table")
    table = tables[name]
    key = list(table.primary_key.columns)
    rows = session.execute(select(table).order_by(*key)).all()
    row = data.draw(st.sampled_from(rows), label="row")
    where = [column == getattr(row, column.name) for column in key]
    operation = data.draw(st.sampled_from(["update", "delete", "insert", "swap"]), label="op")
    note(f"{operation} {name} {row}")

    if operation == "update":
        assume(protected(name, row))
        column = data.draw(st.sampled_from(list(table.columns)), label="column")
        others = _other_ids(session, column, getattr(row, column.name))
        value = changed(getattr(row, column.name), column, others)
        if name == "ledger_entry" and column.name == "seq":
            value = data.draw(st.sampled_from([None, 10_000, 2**40]), label="seq")
            assume(value != row.seq)
        session.execute(update(table).where(*where).values({column.name: value}))
        renamed = replaced(row, column.name, value)
        return Tampering(f"{name}.{column.name}", [label(name, row) | label(name, renamed)])

    if operation == "delete":
        assume(protected(name, row))
        session.execute(delete(table).where(*where))
        return Tampering(f"delete {name}", [label(name, row)])

    if operation == "insert":
        copy = row._asdict()
        if name == "ledger_entry":
            copy["record_key"] += "9"
            copy["seq"] = data.draw(st.sampled_from([None, "next"]), label="seq")
            if copy["seq"] == "next":
                copy["seq"] = (session.scalar(select(func.max(table.c.seq))) or 0) + 1
            assume(copy["kind"] != "note" or copy["seq"] is not None)
        elif name == "ledger_node":
            top = session.scalar(select(func.max(table.c.level)))
            copy["level"], copy["idx"] = data.draw(
                st.sampled_from([(0, 10**6), (top + 1, 0), (row.level, row.idx + 10**6)])
            )
        elif name == "ledger_tree_head":
            copy["tree_size"] += 10**6
        else:
            copy["id"] = session.scalar(select(func.max(table.c.id))) + 100
            if name == "issued_document":
                copy["number"] += "X"
                copy["serial"] += 10**6
        session.execute(insert(table).values(copy))
        return Tampering(f"insert {name}", [label(name, SimpleRow(copy))])

    # swap: two rows exchange a column's values (or two entries their places in the log)
    assume(len(rows) > 1)
    other = data.draw(st.sampled_from([r for r in rows if r != row]), label="other row")
    assume(protected(name, row) and protected(name, other))
    if name == "ledger_node":
        assume(other.level == row.level)  # a node and its own parent: only the lower is named
    columns = [c for c in table.columns if c not in key or name == "ledger_entry"]
    column = data.draw(st.sampled_from(columns), label="column")
    if name == "ledger_entry":
        column = table.c.seq if data.draw(st.booleans(), label="reorder") else column
        assume(column.name != "kind" or row.kind != other.kind)
    first, second = getattr(row, column.name), getattr(other, column.name)
    assume(first != second)
    other_where = [c == getattr(other, c.name) for c in key]
    if column.primary_key or column.unique:  # park one value first: no transient duplicate
        parked = -1 if column.type.python_type is int else "parked"
        session.execute(update(table).where(*where).values({column.name: parked}))
        where = [c == (parked if c is column else getattr(row, c.name)) for c in key]
    session.execute(update(table).where(*other_where).values({column.name: first}))
    session.execute(update(table).where(*where).values({column.name: second}))
    return Tampering(
        f"swap {name}.{column.name}",
        [
            label(name, row) | label(name, replaced(row, column.name, second)),
            label(name, other) | label(name, replaced(other, column.name, first)),
        ],
    )


def replaced(row: Any, name: str, value: Any) -> SimpleRow:
    return SimpleRow({**row._asdict(), name: value})


class SimpleRow:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def _other_ids(session: Any, column: Any, current: Any) -> list[int]:
    if not column.foreign_keys:
        return []
    target = next(iter(column.foreign_keys)).column
    return [v for v in session.scalars(select(target).order_by(target)) if v != current]


# -- the property -----------------------------------------------------------------------


@settings(
    max_examples=60,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: note() tells all
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=ledgers(), data=st.data())
def test_any_single_row_tampering_is_found_and_the_row_named(
    runtime, connection, officer, plan, data
):
    key = signing_keys.signing_key(runtime.settings).public_key()
    example = connection.begin_nested()
    try:
        with runtime.sessions() as session:
            build(runtime, session, officer, plan)
            before = verification.verify_ledger(session, key)
            assert before.ok, [str(d) for d in before.discrepancies]
            try:
                with session.begin_nested():
                    tampering = tamper(session, data)
            except IntegrityError:
                assume(False)  # the database itself refused this change
            report = verification.verify_ledger(session, key)
            note("\n".join(str(d) for d in report.discrepancies))
            assert not report.ok, f"{tampering.what} went unnoticed"
            for names in tampering.expected:
                assert names & report.rows, f"{tampering.what}: {names} not named"
    finally:
        example.rollback()


def test_every_table_the_ledger_protects_is_covered_by_the_property():
    sealed = {"event", "finding", "issued_document", "document_status_change"}
    assert sealed | {"ledger_entry", "ledger_node", "ledger_tree_head"} == set(TABLES)
    assert set(TABLES) <= set(Base.metadata.tables)


@pytest.mark.parametrize("column", ["to_state", "reason", "at", "data"])
def test_an_edited_decision_is_named_with_what_changed(runtime, session, officer, column):
    key = signing_keys.signing_key(runtime.settings)
    shipment = runtime.shipments.present(session, shipment_payload(), officer).shipment
    sequencer.sequence_pending(session, key)
    event = session.scalar(select(Event).where(Event.shipment_id == shipment.id))
    value = changed(getattr(event, column), Event.__table__.c[column], [])
    session.execute(update(Event).where(Event.id == event.id).values({column: value}))
    report = verification.verify_ledger(session, key.public_key())
    found, *also = report.discrepancies
    assert found.rows == (f"event {event.id}",) and found.problem == "modified"
    # the shipment's state no longer agrees with its last decision (issue 25)
    assert [d.rows for d in also] == (
        [(f"shipment {shipment.id}",)] if column == "to_state" else []
    )
    assert f"event {event.id} {column}: sealed" in found.message


def test_a_deadline_entry_edited_into_unreadable_data_is_named_not_a_crash(
    runtime, session, officer
):
    """A deadline's latest leaf is also read to check the deadline's row (issue 25): an
    insider who garbles its data gets the entry named, not a verify that stops with a
    JSON error."""
    key = signing_keys.signing_key(runtime.settings)
    shipment = runtime.shipments.present(session, shipment_payload(), officer).shipment
    runtime.shipments.act(session, shipment.id, "verify", officer)
    sequencer.sequence_pending(session, key)
    entry = session.scalars(
        select(LedgerEntry).where(LedgerEntry.kind == "deadline").order_by(LedgerEntry.seq)
    ).first()
    assert entry is not None, "the verification opened a deadline, whose change is sealed"
    garbled = entry.leaf_data[: len(entry.leaf_data) // 2]
    session.execute(
        update(LedgerEntry)
        .where(LedgerEntry.kind == entry.kind, LedgerEntry.record_key == entry.record_key)
        .values(leaf_data=garbled)
    )
    report = verification.verify_ledger(session, key.public_key())
    assert not report.ok
    named = {row for d in report.discrepancies for row in d.rows}
    assert f"ledger_entry deadline:{entry.record_key}" in named
