"""The ledger's cost: appending, verifying, and proving at 1,000 vs 1,000,000 leaves.

1. Appending N leaves (default 50,000): the writers' path (``ledger.append_entry``, which
   builds each leaf's canonical JSON and inserts one row, as a decision's transaction
   does) plus the sequencer (leaf hashes, perfect subtrees, seq numbers, one signed head
   per batch), against a baseline of raw INSERTs of the same rows (the same table and
   indexes, leaf data prepared beforehand, no hashing), in the same transactions of
   ``--per-transaction`` rows.
2. Verifying the whole ledger (``ledger.verify_ledger``): entries per second, for
   self-contained leaves and for decisions compared with their event and finding rows.
3. Proofs through the SQL NodeStore on PostgreSQL: inclusion and consistency proofs at
   random positions in a 1,000-leaf and a 1,000,000-leaf log (the latter bulk-loaded with
   COPY); if proofs read O(log n) stored nodes, the time ratio stays near
   log(1e6) / log(1e3) = 2 (one query each, so mostly round trips), not 1000.

Run: /tmp/venv/bin/python bench/bench_ledger.py [--entries 50000] [--backend sqlite]
A new database is created and dropped (PostgreSQL at CARATFLOW_TEST_POSTGRES_URL).
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from _ledger_common import database, fresh, scratch
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, func, insert, select, text

from caratflow.db import session_factory, unit_of_work
from caratflow.ledger import leaves, merkle, sealing, verification
from caratflow.ledger import proofs as ledger_proofs
from caratflow.ledger import sequencer as ledger_sequencer
from caratflow.ledger.signing import sign_tree_head
from caratflow.models import Event, FindingRecord, LedgerEntry, Shipment
from caratflow.testing.databases import BACKENDS

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def record(number: int) -> dict[str, object]:
    """About one decision's worth of canonical JSON (~330 bytes)."""
    return {
        "identity": f"BE-ROUGH-{number:09d}",
        "carats": "12.3400",
        "origin": ["CA", "BW"],
        "control_point": "BE",
        "documents": ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
        "checked_at": START + timedelta(seconds=number),
        "note": "registered at the Antwerp Diamond Office",
    }


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


# -- 1. appending -----------------------------------------------------------------------


def append_raw(engine: Engine, n: int, per_transaction: int) -> float:
    """The baseline: the same rows, leaf data prepared beforehand, one INSERT each."""
    rows = [
        {
            "kind": "bench",
            "record_key": str(number),
            "logged_at": START + timedelta(microseconds=number),
            "leaf_data": leaves.leaf_bytes("bench", str(number), START, record(number)).decode(),
        }
        for number in range(n)
    ]
    sessions = session_factory(engine)
    started = time.perf_counter()
    for first in range(0, n, per_transaction):
        with unit_of_work(sessions) as session:
            for row in rows[first : first + per_transaction]:
                session.execute(insert(LedgerEntry.__table__), row)
    return time.perf_counter() - started


def append_ledger(engine: Engine, n: int, per_transaction: int) -> float:
    sessions = session_factory(engine)
    records = [record(number) for number in range(n)]
    started = time.perf_counter()
    for first in range(0, n, per_transaction):
        with unit_of_work(sessions) as session:
            for number in range(first, min(first + per_transaction, n)):
                sealing.append_entry(
                    session,
                    "bench",
                    str(number),
                    records[number],
                    logged_at=START + timedelta(microseconds=number),
                )
    return time.perf_counter() - started


def sequence(engine: Engine, key: object, batch: int) -> float:
    sessions = session_factory(engine)
    started = time.perf_counter()
    with unit_of_work(sessions) as session:
        ledger_sequencer.sequence_pending(session, key, batch_size=batch)
    return time.perf_counter() - started


# -- 2. verifying -----------------------------------------------------------------------


def seal_decisions(engine: Engine, n: int) -> None:
    """n decisions (two findings each) written in bulk, then sealed as the observer does."""
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        shipment_id = session.execute(
            insert(Shipment)
            .values(
                authority_code="BE",
                direction="import",
                goods="rough",
                state="presented",
                presented_at=START,
                details={},
            )
            .returning(Shipment.id)
        ).scalar_one()
        events = [
            {
                "shipment_id": shipment_id,
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
        ]
        session.execute(insert(Event), events)
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
    for first in range(0, n, 2_000):
        with unit_of_work(sessions) as session:
            chunk = session.scalars(
                select(Event).where(Event.id.in_(ids[first : first + 2_000])).order_by(Event.id)
            )
            for event in chunk:
                sealing.seal_decision(session, None, event, None)  # type: ignore[arg-type]


def verify(engine: Engine, key: object) -> tuple[float, verification.LedgerReport]:
    with verification.snapshot(session_factory(engine)) as session:
        started = time.perf_counter()
        report = verification.verify_ledger(session, key)
        return time.perf_counter() - started, report


# -- 3. proofs --------------------------------------------------------------------------


def load_log(engine: Engine, size: int, key: object) -> float:
    """A log of ``size`` sequenced entries: leaves and perfect subtrees bulk-loaded with COPY
    (what the sequencer would have written), and one signed head over them."""
    store = merkle.MemoryNodeStore()
    leaf_data = [
        leaves.leaf_bytes("bench", str(n), START, {"n": n, "carats": "0.5100"}) for n in range(size)
    ]
    started = time.perf_counter()
    for first in range(0, size, 100_000):
        hashes = [merkle.leaf_hash(data) for data in leaf_data[first : first + 100_000]]
        store.put_many(merkle.append_many(first, hashes, store))
    root = merkle.root(size, store)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(
            "COPY ledger_entry (kind, record_key, seq, logged_at, leaf_data) FROM STDIN"
        ) as copy:
            for n, data in enumerate(leaf_data):
                copy.write_row(("bench", str(n), n, START, data.decode()))
        with cursor.copy("COPY ledger_node (level, idx, hash) FROM STDIN") as copy:
            for level in range(size.bit_length()):
                for index in range(size >> level):
                    copy.write_row((level, index, store.get(level, index)))
        raw.commit()
    finally:
        raw.close()
    with unit_of_work(session_factory(engine)) as session:
        ledger_sequencer.record_head(session, sign_tree_head(key, size, root, START), None)
        session.execute(text("ANALYZE ledger_node"))
        session.execute(text("ANALYZE ledger_entry"))
    return time.perf_counter() - started


def best_us(action: Callable[[], object], samples: int, rounds: int) -> float:
    best = math.inf
    gc.disable()
    try:
        for _ in range(rounds):
            best = min(best, timed(action))
    finally:
        gc.enable()
    return best / samples * 1e6


def proofs(engine: Engine, size: int, samples: int, rounds: int, rng: random.Random) -> dict:
    sessions = session_factory(engine)
    indexes = [rng.randrange(size) for _ in range(samples)]
    old_sizes = [rng.randrange(1, size + 1) for _ in range(samples)]
    with sessions() as session:
        head = ledger_sequencer.latest_head(session)
        assert head is not None and head.tree_size == size

        def inclusion() -> None:
            for index in indexes:
                ledger_proofs.prove_inclusion(session, index, head)

        def consistency() -> None:
            for old in old_sizes:
                ledger_proofs.prove_consistency(session, old, size)

        inclusion_us = best_us(inclusion, samples, rounds)
        consistency_us = best_us(consistency, samples, rounds)
        key_check = ledger_proofs.prove_inclusion(session, indexes[0], head).to_dict()
        nodes = sum(
            len(ledger_proofs.prove_inclusion(session, i, head).path) for i in indexes[:200]
        )
    return {
        "size": size,
        "inclusion_us": inclusion_us,
        "consistency_us": consistency_us,
        "path_nodes": nodes / min(200, samples),
        "sample": key_check,
    }


# -- the run ----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=50_000, help="leaves to append")
    parser.add_argument("--decisions", type=int, default=20_000, help="decisions to verify")
    parser.add_argument("--per-transaction", type=int, default=500)
    parser.add_argument("--batch", type=int, default=ledger_sequencer.DEFAULT_BATCH)
    parser.add_argument("--backend", choices=BACKENDS, default="postgresql")
    parser.add_argument("--large", type=int, default=1_000_000, help="leaves of the big log")
    parser.add_argument("--samples", type=int, default=2_000, help="proofs timed per size")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with scratch() as (folder, key):
        run(args, folder, key)


def run(args: argparse.Namespace, folder: Path, key: Ed25519PrivateKey) -> None:
    n = args.entries
    with database(args.backend, folder) as (engine, _):
        append_raw(engine, 1_000, args.per_transaction)  # warm up both paths
        fresh(engine)
        append_ledger(engine, 1_000, args.per_transaction)
        fresh(engine)
        raw = append_raw(engine, n, args.per_transaction)
        fresh(engine)
        writers = append_ledger(engine, n, args.per_transaction)
        sequencer = sequence(engine, key, args.batch)
        verify_seconds, report = verify(engine, key.public_key())
        assert report.ok and report.entries == n, report
        fresh(engine)
        seal_decisions(engine, args.decisions)
        sequence(engine, key, args.batch)
        decisions_seconds, decisions_report = verify(engine, key.public_key())
        assert decisions_report.ok and decisions_report.entries == args.decisions

    print(f"database: {args.backend}; {n:,} leaves of ~330 bytes, {args.per_transaction} rows")
    print("per transaction, one INSERT per row (as each decision's transaction seals one)")
    print(f"{'path':<36} {'seconds':>8} {'rows/s':>9}")
    rows = [
        ("raw INSERT, leaf data prepared", raw),
        ("ledger: writers (canonical JSON+INSERT)", writers),
        (f"ledger: sequencer ({n // args.batch or 1} signed heads)", sequencer),
        ("ledger: writers + sequencer", writers + sequencer),
    ]
    for name, seconds in rows:
        print(f"{name:<36} {seconds:8.2f} {n / seconds:9,.0f}")
    print(
        f"ratio ledger / raw INSERT: writers x{writers / raw:.2f}, "
        f"writers + sequencer x{(writers + sequencer) / raw:.2f}"
    )
    print(
        f"verify, self-contained leaves: {n / verify_seconds:,.0f} entries/s "
        f"({verify_seconds:.2f} s for {n:,})"
    )
    print(
        f"verify, decisions against their event and finding rows: "
        f"{args.decisions / decisions_seconds:,.0f} entries/s "
        f"({decisions_seconds:.2f} s for {args.decisions:,})"
    )

    rng = random.Random(9162)
    results = []
    for size in (1_000, args.large):
        with database("postgresql", folder) as (engine, _):
            load_seconds = load_log(engine, size, key)
            result = proofs(engine, size, args.samples, args.rounds, rng)
            with engine.connect() as connection:
                result["bytes"] = connection.execute(
                    text(
                        "SELECT pg_total_relation_size('ledger_node') + "
                        "pg_total_relation_size('ledger_entry')"
                    )
                ).scalar_one()
                result["nodes"] = connection.scalar(
                    select(func.count()).select_from(text("ledger_node"))
                )
            assert ledger_proofs.check_inclusion(key.public_key(), result["sample"])
            result["load_seconds"] = load_seconds
            results.append(result)
    print()
    print(
        f"proofs through the SQL NodeStore on PostgreSQL, {args.samples:,} random proofs per "
        f"size, best of {args.rounds}"
    )
    print(
        f"{'leaves':>10} {'load s':>7} {'MB':>7} {'incl µs':>8} {'cons µs':>8} {'path nodes':>10}"
    )
    for r in results:
        print(
            f"{r['size']:>10,} {r['load_seconds']:7.1f} {r['bytes'] / 2**20:7.1f} "
            f"{r['inclusion_us']:8.0f} {r['consistency_us']:8.0f} {r['path_nodes']:10.1f}"
        )
    small, large = results
    print(
        f"ratio {large['size']:,} / {small['size']:,}: inclusion x"
        f"{large['inclusion_us'] / small['inclusion_us']:.2f}, consistency x"
        f"{large['consistency_us'] / small['consistency_us']:.2f}, path length x"
        f"{large['path_nodes'] / small['path_nodes']:.2f} "
        f"(log ratio {math.log(large['size']) / math.log(small['size']):.2f}; "
        f"linear would be x{large['size'] / small['size']:,.0f})"
    )


if __name__ == "__main__":
    main()
