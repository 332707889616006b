"""Registering digital identities at national scale: 1,000,000 stones, then one look-up.

1. Registering ``--count`` identities (default 1,000,000) in transactions of ``--batch``
   (default 1,000) through the service (``identities.register_identities``: validation,
   parents locked and weighed, rows, cut rows, one ledger leaf each, the batch's leaves
   in one statement through ``ledger.record_digital_identities``), against a baseline of
   raw INSERTs of the same rows (identity rows, cut rows and ledger entries with their
   leaf data prepared beforehand, executemany, no checks, no hashing), on a fresh
   database each, same transactions. The workload is a cutting works: 1 in 100
   identities is a rough parcel, the other 99 are polished stones (0.50 to 2.00 ct) cut
   from a parcel registered in the batch before (the first batch's stones are imports
   registered with a declared origin). ``--per-leaf`` adds the service as it was before
   the batched ledger append (one INSERT statement built per leaf), for a before and
   after in the same run.
2. Sequencing every pending leaf (``ledger.sequence_pending``: Merkle subtrees, one
   signed tree head per 10,000) and verifying nothing else: leaves per second.
3. Looking one stone up with its inclusion proof and lineage verdict
   (``identities.lookup``), ``--lookups`` random stones, against a raw SELECT of the same
   row by its ID; and tracing 1,000 stones at once (``lineage_is_clean``, what a G7
   certificate for 1,000 stones would ask).

Times exclude building the payloads (as a request's parsing would). Ratios are against
the baseline measured in the same run. On PostgreSQL the tables are analysed while they
grow (``_autovacuum``, where the server runs without the daemon) and before the
look-ups, as autovacuum would soon after a bulk load: with the statistics of the empty
tables, the lineage CTE's plan was measured ~25 times slower at 100,000 identities, and
each batch's check for numbers already taken became a scan of the whole table (a run
slowed to 400 identities/s by 242,000).

Run: nice .venv/bin/python bench/bench_identities.py [--count 1000000] [--backend sqlite]
A new database is created and dropped (PostgreSQL at CARATFLOW_TEST_POSTGRES_URL).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from _autovacuum import autovacuum
from _ledger_common import database, fresh, scratch
from sqlalchemy import Engine, insert, select, text

from caratflow.case.access import Actor
from caratflow.db import session_factory, unit_of_work
from caratflow.ledger import leaves, merkle, proofs, sealing, sequencer
from caratflow.models import DigitalIdentity, IdentityCut, LedgerEntry, Role
from caratflow.plugins.belgium_g7 import identities, lineage
from caratflow.plugins.belgium_g7 import lookups as g7_lookups
from caratflow.testing.databases import BACKENDS

OFFICER = Actor("bench.officer", Role.OFFICER, frozenset({"BE"}))
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
STONES_PER_PARCEL = 99
PARCEL_CARATS = "250.00"  # 99 stones of at most 2.00 ct fit
KP_HASH = hashlib.sha256(b"KP certificate").hexdigest()
GRADING_HASH = hashlib.sha256(b"grading report").hexdigest()


# -- the workload -------------------------------------------------------------------------


def stone_carats(n: int) -> str:
    return str(Decimal(50 + (n * 37) % 151) / 100)  # 0.50 to 2.00 ct, spread evenly


def batches(count: int, size: int) -> Iterator[list[dict[str, Any]]]:
    """``count`` identities in batches: parcels for the next batch, stones cut from the
    parcels of the batch before."""
    per_batch = max(1, size // (STONES_PER_PARCEL + 1))
    previous: list[str] = []
    made = parcels = stones = 0
    while made < count:
        room = min(size, count - made)
        batch = []
        fresh = []
        for _ in range(min(per_batch, room)):
            number = f"BE-R-{parcels:08d}"
            parcels += 1
            fresh.append(number)
            batch.append(
                {
                    "id": number,
                    "kind": "rough_parcel",
                    "carats": PARCEL_CARATS,
                    "origin": {"CA": "60", "BW": "40"},
                    "documents": [KP_HASH],
                }
            )
        for index in range(room - len(batch)):
            number = f"BE-P-{stones:08d}"
            stone: dict[str, Any] = {
                "id": number,
                "kind": "polished",
                "carats": stone_carats(stones),
                "documents": [GRADING_HASH],
            }
            if previous:
                stone["parents"] = [{"id": previous[index % len(previous)]}]
            else:
                stone["origin"] = {"IN": "100"}
            stones += 1
            batch.append(stone)
        made += len(batch)
        previous = fresh
        yield batch


# -- 1. registering -----------------------------------------------------------------------


def register_service(engine: Engine, count: int, size: int) -> float:
    sessions = session_factory(engine)
    spent = 0.0
    for batch in batches(count, size):
        started = time.perf_counter()
        with unit_of_work(sessions) as session:
            identities.register_identities(session, batch, OFFICER, now=START)
        spent += time.perf_counter() - started
    return spent


def seal_one_by_one(
    session: Any, records: Iterable[tuple[str, Mapping[str, Any]]]
) -> list[sealing.LeafRef]:
    """The ledger's append before ``ledger.append_entries``: the same leaves, with one
    INSERT statement built and sent per leaf."""
    refs = []
    for number, record in records:
        moment = datetime.now(UTC)
        data = leaves.leaf_bytes(leaves.IDENTITY, number, moment, record)
        session.execute(
            insert(LedgerEntry.__table__).values(
                kind=leaves.IDENTITY, record_key=number, logged_at=moment, leaf_data=data.decode()
            )
        )
        refs.append(sealing.LeafRef(leaves.IDENTITY, number, merkle.leaf_hash(data), None))
    return refs


def register_per_leaf(engine: Engine, count: int, size: int) -> float:
    """The service with ``seal_one_by_one`` in place of ``record_digital_identities``."""
    batched = sealing.record_digital_identities
    sealing.record_digital_identities = seal_one_by_one
    try:
        return register_service(engine, count, size)
    finally:
        sealing.record_digital_identities = batched


def register_raw(engine: Engine, count: int, size: int) -> float:
    """The baseline: the same rows, prepared, written with executemany and no checks."""
    sessions = session_factory(engine)
    table, cuts, entries = (
        DigitalIdentity.__table__,
        IdentityCut.__table__,
        LedgerEntry.__table__,
    )
    ids: dict[str, int] = {}
    spent = 0.0
    for batch in batches(count, size):
        rows, edges, entries_rows = [], [], []
        for item in batch:
            parents = [p["id"] for p in item.get("parents", [])]
            weight = Decimal(item["carats"]).quantize(identities.QUANTUM)
            row = {
                "number": item["id"],
                "authority_code": "BE",
                "kind": item["kind"],
                "carats": weight,
                "origin": item.get("origin", {}),
                "origin_countries": sorted(item.get("origin", {})) or ["BW", "CA"],
                "documents": item["documents"],
                "registered_on": START.date(),
                "registered_at": START,
                "registered_by": OFFICER.name,
            }
            rows.append(row)
            edges += [(p, item["id"], weight) for p in parents]
            sealed = identities.identity_record(row, [(p, weight) for p in parents])
            entries_rows.append(
                {
                    "kind": leaves.IDENTITY,
                    "record_key": item["id"],
                    "logged_at": START,
                    "leaf_data": leaves.leaf_bytes(
                        leaves.IDENTITY, item["id"], START, sealed
                    ).decode(),
                }
            )
        started = time.perf_counter()
        with unit_of_work(sessions) as session:
            ids.update(
                session.execute(insert(table).returning(table.c.number, table.c.id), rows).all()
            )
            if edges:
                session.execute(
                    insert(cuts),
                    [{"parent_id": ids[p], "child_id": ids[c], "carats": w} for p, c, w in edges],
                )
            session.execute(insert(entries), entries_rows)
        spent += time.perf_counter() - started
    return spent


# -- 2. sequencing ------------------------------------------------------------------------


def sequence(engine: Engine, key: Any) -> tuple[float, int]:
    with unit_of_work(session_factory(engine)) as session:
        started = time.perf_counter()
        head = sequencer.sequence_pending(session, key)
        return time.perf_counter() - started, head.tree_size if head else 0


# -- 3. looking up ------------------------------------------------------------------------


def lookups(engine: Engine, numbers: list[str], certificate: list[str], key: Any) -> dict:
    table = DigitalIdentity.__table__
    with session_factory(engine)() as session:
        g7_lookups.lookup(session, numbers[0], OFFICER)  # warm up caches and the pool
        raw, service = [], []
        for number in numbers:
            started = time.perf_counter()
            session.execute(select(table).where(table.c.number == number)).one()
            raw.append(time.perf_counter() - started)
        for number in numbers:
            started = time.perf_counter()
            view = g7_lookups.lookup(session, number, OFFICER)
            service.append(time.perf_counter() - started)
        answer = view.as_json()
        assert answer["ledger"]["status"] == "sequenced", answer["ledger"]
        assert proofs.check_inclusion(key.public_key(), answer["ledger"]["proof"])
        assert answer["lineage"]["clean"], answer["lineage"]
        started = time.perf_counter()
        check = lineage.lineage_is_clean(session, certificate, START.date())
        traced = time.perf_counter() - started
        assert check, check.problems[:3]
    return {
        "raw_ms": statistics.median(raw) * 1e3,
        "lookup_ms": statistics.median(service) * 1e3,
        "lookup_p95_ms": sorted(service)[int(len(service) * 0.95)] * 1e3,
        "path": len(answer["ledger"]["proof"]["proof"]),
        "trace_1000_ms": traced * 1e3,
        "traced": len(certificate),
    }


def database_bytes(engine: Engine, url: str) -> int:
    if engine.dialect.name == "sqlite":
        return Path(url.removeprefix("sqlite:///")).stat().st_size
    with engine.connect() as connection:
        return connection.execute(
            text(
                "SELECT pg_total_relation_size('digital_identity') + "
                "pg_total_relation_size('identity_cut') + "
                "pg_total_relation_size('ledger_entry') + pg_total_relation_size('ledger_node')"
            )
        ).scalar_one()


# -- the run ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="identities to register")
    parser.add_argument("--batch", type=int, default=1_000, help="identities per transaction")
    parser.add_argument("--backend", choices=BACKENDS, default="sqlite")
    parser.add_argument("--lookups", type=int, default=500)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--per-leaf", action="store_true", help="also run the service with one INSERT per leaf"
    )
    args = parser.parse_args()
    n = args.count

    with (
        scratch() as (folder, key),
        database(args.backend, folder) as (engine, url),
        autovacuum(url),
    ):
        register_raw(engine, 2_000, args.batch)  # warm up both paths
        fresh(engine)
        register_service(engine, 2_000, args.batch)
        fresh(engine)
        raw = per_leaf = None
        if not args.skip_baseline:
            raw = register_raw(engine, n, args.batch)
            print(f"baseline: {n:,} in {raw:.1f} s", flush=True)
            fresh(engine)
            if engine.dialect.name == "postgresql":
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                    c.execute(text("VACUUM ANALYZE"))
        if args.per_leaf:
            per_leaf = register_per_leaf(engine, n, args.batch)
            print(f"per-leaf INSERTs: {n:,} in {per_leaf:.1f} s", flush=True)
            fresh(engine)
        service = register_service(engine, n, args.batch)
        print(f"service: {n:,} in {service:.1f} s", flush=True)
        sequencing, size = sequence(engine, key)
        assert size == n, (size, n)
        if engine.dialect.name == "postgresql":  # as autovacuum soon would after a bulk load
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("ANALYZE"))
        stored = database_bytes(engine, url)
        rng = random.Random(8)
        stones = n - n // (STONES_PER_PARCEL + 1)
        first_cut = args.batch - args.batch // (STONES_PER_PARCEL + 1)  # the first are imports
        wanted = [f"BE-P-{rng.randrange(first_cut, stones):08d}" for _ in range(args.lookups)]
        certificate = [f"BE-P-{rng.randrange(first_cut, stones):08d}" for _ in range(1_000)]
        looked = lookups(engine, wanted, certificate, key)

    print(f"database: {args.backend}; {n:,} identities (1 parcel per {STONES_PER_PARCEL} stones)")
    print(f"in transactions of {args.batch:,}; times exclude building the payloads")
    print(f"{'path':<48} {'seconds':>8} {'identities/s':>13}")
    rows = [
        ("service: register (rows, cuts, leaves, checks)", service),
        ("ledger: sequence every leaf (signed heads)", sequencing),
        ("register + sequencer", service + sequencing),
    ]
    if per_leaf is not None:
        rows.insert(0, ("before: service, one INSERT per leaf", per_leaf))
    if raw is not None:
        rows.insert(0, ("baseline: raw INSERT of the same rows", raw))
    for name, seconds in rows:
        print(f"{name:<48} {seconds:8.1f} {n / seconds:13,.0f}")
    if raw is not None:
        print(
            f"ratio to the baseline: register x{service / raw:.2f}, "
            f"register + sequence x{(service + sequencing) / raw:.2f}"
            + (f", before (one INSERT per leaf) x{per_leaf / raw:.2f}" if per_leaf else "")
        )
    print(f"stored: {stored / 2**20:,.0f} MiB ({stored / n:,.0f} bytes per identity)")
    print(
        f"look-up with proof and lineage verdict: median {looked['lookup_ms']:.2f} ms, "
        f"p95 {looked['lookup_p95_ms']:.2f} ms (raw SELECT by ID {looked['raw_ms']:.3f} ms, "
        f"x{looked['lookup_ms'] / looked['raw_ms']:.0f}); proof path {looked['path']} nodes"
    )
    print(
        f"lineage_is_clean for {looked['traced']:,} stones at once: "
        f"{looked['trace_1000_ms']:.0f} ms"
    )


if __name__ == "__main__":
    main()
