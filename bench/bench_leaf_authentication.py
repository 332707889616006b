"""What authenticating each leaf costs (issue 25): per decision sealed, and in verify's rate.

Both against today's path in the same run, on the same database and rows:

1. Sealing N decisions (two findings each) as the decision observer does
   (``sealing.seal_decision``, one INSERT per decision in transactions of
   ``--per-transaction``): with the leaf HMAC, and without it (the keyring replaced by one
   that writes no key id and no HMAC, as the ledger did before issue 25).
2. ``verify_ledger`` over those decisions, sequenced: checking every leaf's HMAC, and
   with a keyring that takes every leaf as authentic without computing anything.

Run: python bench/bench_leaf_authentication.py [--decisions 20000] [--backend sqlite]
A new database is created and dropped (PostgreSQL at CARATFLOW_TEST_POSTGRES_URL).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

from _ledger_common import database, fresh, scratch
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.orm import selectinload

from caratflow.db import session_factory, unit_of_work
from caratflow.ledger import leaf_keys, sealing, verification
from caratflow.ledger import sequencer as ledger_sequencer
from caratflow.models import Event, FindingRecord, LedgerEntry, LedgerNode, LedgerTreeHead, Shipment
from caratflow.testing.databases import BACKENDS

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


class Unauthenticated(leaf_keys.LeafKeys):
    """Today's ledger: no key id, no HMAC written, every leaf taken as the application's."""

    def authenticate(self, data: bytes) -> tuple[str, str]:
        return None, None  # type: ignore[return-value]

    def authentic(self, data: bytes, key_id: str | None, mac: str | None) -> bool:
        return True


@contextmanager
def without_authentication() -> Iterator[None]:
    """Seal and verify as before issue 25 (the keyring swapped where it is looked up)."""
    stub = Unauthenticated({}, "")
    modules = (sealing, verification, ledger_sequencer)
    saved = [module.session_leaf_keys for module in modules]
    for module in modules:
        module.session_leaf_keys = lambda session: stub
    try:
        yield
    finally:
        for module, original in zip(modules, saved, strict=True):
            module.session_leaf_keys = original


def write_decisions(engine: Engine, n: int) -> list[int]:
    """n decisions with two findings each, in bulk (what the observer is handed)."""
    with unit_of_work(session_factory(engine)) as session:
        shipment = session.execute(
            insert(Shipment)
            .values(
                authority_code="BE",
                direction="import",
                goods="rough",
                state="verified",
                presented_at=START,
                details={},
            )
            .returning(Shipment.id)
        ).scalar_one()
        session.execute(
            insert(Event),
            [
                {
                    "shipment_id": shipment,
                    "action": "verify",
                    "actor": "officer.be",
                    "from_state": "presented",
                    "to_state": "verified",
                    "reason": None,
                    "legal_date": date(2026, 11, 20),
                    "at": START + timedelta(seconds=number),
                    "data": {"risk": "low", "opened": ["C1"]},
                }
                for number in range(n)
            ],
        )
        ids = list(session.scalars(select(Event.id).order_by(Event.id)))
        session.execute(
            insert(FindingRecord),
            [
                {
                    "event_id": event_id,
                    "rule": rule,
                    "outcome": "pass",
                    "basis": "Reg. (EC) 2368/2002 Art. 3",
                    "message": "in order",
                    "rule_version": date(2003, 1, 1),
                    "data": {},
                }
                for event_id in ids
                for rule in ("eu.import.certificate", "eu.import.container")
            ],
        )
    return ids


def seal(engine: Engine, sessions, ids: list[int], per_transaction: int) -> float:
    """Seconds to seal every decision, one observer call each."""
    with sessions() as reader:
        query = select(Event).options(selectinload(Event.findings)).where(Event.id.in_(ids))
        events = list(reader.scalars(query.order_by(Event.id)))  # findings loaded, not timed
        reader.expunge_all()
    started = time.perf_counter()
    for first in range(0, len(events), per_transaction):
        with unit_of_work(sessions) as session:
            for event in events[first : first + per_transaction]:
                sealing.seal_decision(session, None, event, None)  # type: ignore[arg-type]
    return time.perf_counter() - started


def unseal(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in (LedgerEntry, LedgerNode, LedgerTreeHead):
            connection.execute(delete(table))


def verify(sessions, key) -> float:
    with verification.snapshot(sessions) as session:
        started = time.perf_counter()
        report = verification.verify_ledger(session, key)
        seconds = time.perf_counter() - started
    assert report.ok, report.discrepancies[:3]
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--per-transaction", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="best of, each path")
    parser.add_argument("--backend", choices=BACKENDS, default="postgresql")
    args = parser.parse_args()
    n = args.decisions
    with scratch() as (folder, key), database(args.backend, folder) as (engine, _):
        keys = folder / "ledger-leaf.keys"
        leaf_keys.ensure_leaf_keys(keys)
        sessions = session_factory(engine)
        leaf_keys.bind_leaf_keys(sessions, keys)
        fresh(engine)
        ids = write_decisions(engine, n)
        timings: dict[str, list[float]] = {"seal": [], "seal0": [], "verify": [], "verify0": []}
        for _ in range(args.rounds):
            for authenticated in (False, True):
                unseal(engine)
                if authenticated:
                    timings["seal"].append(seal(engine, sessions, ids, args.per_transaction))
                else:
                    with without_authentication():
                        timings["seal0"].append(seal(engine, sessions, ids, args.per_transaction))
                if authenticated:
                    with unit_of_work(sessions) as session:
                        ledger_sequencer.sequence_pending(session, key)
                    timings["verify"].append(verify(sessions, key.public_key()))
                else:
                    with without_authentication():
                        with unit_of_work(sessions) as session:
                            ledger_sequencer.sequence_pending(session, key)
                        timings["verify0"].append(verify(sessions, key.public_key()))
    best = {name: min(values) for name, values in timings.items()}
    print(f"database: {args.backend}; {n:,} decisions, {args.per_transaction} per transaction")
    print(f"{'path':<44} {'seconds':>8} {'µs/decision':>12}")
    for name, label in (
        ("seal0", "sealing, today's (no leaf authentication)"),
        ("seal", "sealing, each leaf authenticated (HMAC)"),
    ):
        print(f"{label:<44} {best[name]:8.2f} {best[name] / n * 1e6:12.1f}")
    print(
        f"ratio sealing a decision, authenticated / today's: x{best['seal'] / best['seal0']:.3f} "
        f"({(best['seal'] - best['seal0']) / n * 1e6:+.1f} µs per decision)"
    )
    print(f"{'path':<44} {'seconds':>8} {'entries/s':>12}")
    for name, label in (
        ("verify0", "verify, today's (no leaf authentication)"),
        ("verify", "verify, every leaf's HMAC checked"),
    ):
        print(f"{label:<44} {best[name]:8.2f} {n / best[name]:12,.0f}")
    print(f"ratio verify's rate, authenticated / today's: x{best['verify0'] / best['verify']:.3f}")


if __name__ == "__main__":
    main()
