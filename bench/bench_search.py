"""The search box at 1,000 and at 100,000 shipments, on SQLite and PostgreSQL (issue 26).

For each backend two databases, one of each size, are filled with set-based INSERT …
SELECT statements (a recursive counter: no row passes through Python or the service),
their search texts included, so the triggers and indexes of migration 0053 are those
a deployment has. Then the search the page and the API run (``queries.search_shipments``
with ``q``, as a Belgian officer: 80% of the shipments are Belgium's) is timed in
alternation, one search on each in turn, so that whatever else the machine does weighs
on both alike.

What is searched is what an officer types: a fragment of a certificate number, of an
importer's or exporter's name, of a seal, and a fragment found nowhere. Each trader
has about twenty shipments at either size (there are more traders in the larger
database, as there are more traders behind more shipments), so a search finds about
as many shipments at both sizes and the ratio shows what the index costs as the table
grows. Target: p99 at 100k ≤ 1.5 × p99 at 1k.

    python bench/bench_search.py [--small 1000] [--large 100000] [--searches 300] [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from caratflow.accounts.provisioning import ensure_authorities
from caratflow.case import queries
from caratflow.case.access import Actor
from caratflow.config import Settings
from caratflow.db import unit_of_work, upgrade
from caratflow.models import Role
from caratflow.runtime import Runtime
from caratflow.testing.databases import temporary_database

SHIPMENTS_PER_TRADER = 20
SYLLABLES = [
    "an", "ber", "cor", "dal", "em", "fon", "gar", "hel", "ix", "jun", "kor", "lum",
    "mar", "nor", "ost", "pel", "quin", "ros", "sal", "tor", "ul", "ven", "wes", "zan",
]  # fmt: skip
LEGAL_FORMS = ["NV", "BV", "BVBA", "Ltd", "SA", "GmbH", "AS", "Sarl"]
"""Traders' names are three syllables, a legal form and a number ("Pelanber NV 123"):
varied as names are, so their trigrams are not all shared by every row (a corpus where
every name says "Trading House" would be a worse case than any register)."""

OTHERS = len(SYLLABLES) ** 3 // 2  # exporters' numbers: their stems are no importer's

# The SQL of each dialect that the statements below need (a JSON value from a text, a
# timestamp some minutes after another, amounts as each stores them).
DIALECT = {
    "sqlite": {
        "json": "{}",
        "instant": "datetime('2026-01-01', '+' || (n.i % 500000) || ' minutes')",
        "carats": "(1000000 + n.i % 997 * 10000)",  # stored in ten-thousandths
        "value": "(5000000 + n.i % 991 * 100)",  # stored in cents
        "true": "1",
    },
    "postgresql": {
        "json": "CAST({} AS JSON)",
        "instant": "TIMESTAMPTZ '2026-01-01 00:00:00+00' + n.i % 500000 * INTERVAL '1 minute'",
        "carats": "(100 + n.i % 997)",
        "value": "(50000 + n.i % 991)",
        "true": "TRUE",
    },
}


def trader(column: str, offset: int) -> str:
    """SQL naming trader ``n.i / 20 + offset`` from three syllables and its number."""
    k = len(SYLLABLES)
    cases = " ".join(f"WHEN {i} THEN '{s}'" for i, s in enumerate(SYLLABLES))
    number = f"(n.i / {SHIPMENTS_PER_TRADER} + {offset})"
    parts = [f"CASE {number} / {k**p} % {k} {cases} END" for p in (0, 1, 2)]
    forms = " ".join(f"WHEN {i} THEN ' {f} '" for i, f in enumerate(LEGAL_FORMS))
    form = f"CASE {number} % {len(LEGAL_FORMS)} {forms} END"
    return f"{' || '.join(parts)} || {form} || {number} AS {column}"


def fill(engine: Engine, size: int) -> None:
    """``size`` shipments, each with its certificate, a container with a seal and its
    search text, in four INSERT … SELECT statements."""
    d = DIALECT[engine.dialect.name]
    hs, origin, empty = (d["json"].format(v) for v in ("'[\"7102.10\"]'", "'[\"CA\"]'", "'{}'"))
    seals = d["json"].format("'[\"S-' || (5000000 + n.i) || '\"]'")
    counter = f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {size})"
    statements = [
        f"""INSERT INTO shipment (id, authority_code, direction, goods, state, version,
            presented_at, entry_point, details, created_at, updated_at)
        {counter}
        SELECT n.i, CASE WHEN n.i % 5 = 0 THEN 'NO' ELSE 'BE' END, 'import', 'rough',
            CASE n.i % 4 WHEN 0 THEN 'presented' WHEN 1 THEN 'verified' ELSE 'released' END,
            1, {d["instant"]}, 'BRU', {empty}, {d["instant"]}, {d["instant"]}
        FROM n""",
        f"""INSERT INTO certificate (id, shipment_id, number, issuing_country,
            issuing_authority, issued_on, expires_on, exporter_name, exporter_address,
            importer_name, importer_address, parcels, carats, value_usd, hs_codes, origin,
            provenance)
        {counter}
        SELECT n.i, n.i, 'CA' || (1000000 + n.i), 'CA', 'Natural Resources Canada',
            '2026-01-01', '2027-01-01', exporter, 'Vancouver', importer, 'Antwerpen', 2,
            {d["carats"]}, {d["value"]}, {hs},
            {origin}, 'CA'
        FROM (SELECT n.i, {trader("exporter", OTHERS)}, {trader("importer", 0)} FROM n) n""",
        f"""INSERT INTO container (id, shipment_id, label, seals, seals_intact)
        {counter}
        SELECT n.i, n.i, 'C1', {seals}, {d["true"]}
        FROM n""",
        """INSERT INTO shipment_search (shipment_id, document)
        SELECT c.shipment_id, lower(c.number || ' ' || c.importer_name || ' '
            || c.exporter_name || ' ' || k.label || ' s-' || (5000000 + c.shipment_id))
        FROM certificate c JOIN container k ON k.shipment_id = c.shipment_id""",
    ]
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
        if engine.dialect.name == "postgresql":
            for table in ("shipment", "certificate", "container", "shipment_search"):
                connection.execute(text(f"ANALYZE {table}"))
        else:
            connection.execute(text("ANALYZE"))


KINDS = ("certificate", "importer", "exporter", "seal", "nowhere")


def searches(size: int, count: int, rng: random.Random) -> list[tuple[str, str]]:
    """What officers type, drawn from what this database holds (and a miss): the last six
    digits of a certificate number, the distinctive part of an importer's or exporter's
    name (its three syllables, less the first letter), a seal's digits."""
    k = len(SYLLABLES)

    def stem(number: int) -> str:
        return "".join(SYLLABLES[number // k**p % k] for p in (0, 1, 2))[1:]

    typed = []
    for _ in range(count):
        i = rng.randrange(1, size + 1)
        kind = rng.choice(KINDS)
        if kind == "certificate":
            text = str(1_000_000 + i)[1:]
        elif kind in ("importer", "exporter"):
            text = stem(i // SHIPMENTS_PER_TRADER + (OTHERS if kind == "exporter" else 0))
        elif kind == "seal":
            text = str(5_000_000 + i)
        else:
            text = "no such trader"
        typed.append((kind, text))
    return typed


@contextmanager
def database(backend: str, size: int, folder: Path) -> Iterator[Runtime]:
    folder.mkdir()
    with temporary_database(backend, folder) as url:
        settings = Settings.from_env({}, database_url=url, instance_path=folder, secret_key="b")
        runtime = Runtime.start(settings)
        try:
            upgrade(runtime.engine)
            with unit_of_work(runtime.sessions) as session:
                ensure_authorities(session, runtime.plugins)
            started = time.perf_counter()
            fill(runtime.engine, size)
            print(f"{backend}: {size:,} shipments written in {time.perf_counter() - started:.1f} s")
            yield runtime
        finally:
            runtime.engine.dispose()


OFFICER = Actor("bench", Role.OFFICER, frozenset({"BE"}))


def timed(session: Session, typed: str) -> float:
    started = time.perf_counter()
    page = queries.search_shipments(session, OFFICER, _asked(typed))
    for shipment in page.items:  # what the page shows of each
        shipment.certificate.importer_name  # noqa: B018
    elapsed = time.perf_counter() - started
    session.rollback()
    return elapsed * 1000


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(backend: str, small: int, large: int, count: int, rounds: int) -> None:
    rng = random.Random(26)
    with (
        tempfile.TemporaryDirectory() as folder,
        database(backend, small, Path(folder) / "small") as low,
        database(backend, large, Path(folder) / "large") as high,
    ):
        sizes = {"small": (low, small), "large": (high, large)}
        times: dict[str, list[tuple[str, float]]] = {"small": [], "large": []}
        found: dict[str, list[int]] = {"small": [], "large": []}
        for round_ in range(rounds + 1):  # the first round warms the caches
            with low.sessions() as a, high.sessions() as b:
                sessions = {"small": a, "large": b}
                typed = {name: searches(size, count, rng) for name, (_r, size) in sizes.items()}
                for pair in zip(typed["small"], typed["large"], strict=True):
                    for name, (kind, t) in zip(sessions, pair, strict=True):  # alternating
                        elapsed = timed(sessions[name], t)
                        if round_:
                            times[name].append((kind, elapsed))
                if round_:
                    for name, session in sessions.items():
                        found[name] += [
                            len(queries.search_shipments(session, OFFICER, _asked(t)).items)
                            for _kind, t in typed[name][:20]
                        ]
    print(f"\n{backend}: search, {len(times['small'])} searches each (ms)")
    print(f"{'':17} {small:>8,} {large:>8,}")
    for label, fraction in (("p50", 0.5), ("p99", 0.99)):
        a = percentile([t for _k, t in times["small"]], fraction)
        b = percentile([t for _k, t in times["large"]], fraction)
        print(f"{backend:10} search {label} {a:8.2f} {b:8.2f}   ratio {b / a:5.2f}")
    for kind in KINDS:
        a = percentile([t for k, t in times["small"] if k == kind], 0.99)
        b = percentile([t for k, t in times["large"] if k == kind], 0.99)
        print(f"  p99 of {kind:11} {a:8.2f} {b:8.2f}   ({b / a:4.2f}x)")
    per = {k: statistics.mean(v) for k, v in found.items()}
    print(f"(found per search: {per['small']:.1f} at {small:,}, {per['large']:.1f} at {large:,})")


def _asked(typed: str) -> queries.ShipmentFilter:
    return queries.ShipmentFilter(text=typed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--searches", type=int, default=300, help="per database and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        run(backend, args.small, args.large, args.searches, args.rounds)


if __name__ == "__main__":
    main()
