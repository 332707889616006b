"""present → verify → release for N shipments: the service against raw SQL, same run.

The baseline does the same writes (shipment, certificate, container, one event and
its findings per decision, the state and version updates) in the same transactions
(one per step, as the API makes them), with hand-written SQL and no rule evaluation.
The ratio is what the engine costs on top of the database.

    python bench/bench_lifecycle.py [--shipments 2000] [--backend sqlite|postgresql]

``--backend postgresql`` creates a database of its own (and drops it) on the server at
CARATFLOW_TEST_POSTGRES_URL; ``--database-url`` uses a given one instead.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from contextlib import nullcontext
from datetime import UTC, date, datetime
from pathlib import Path

from _autovacuum import autovacuum
from sqlalchemy import text

from caratflow.accounts.provisioning import ensure_authorities
from caratflow.case.access import Actor
from caratflow.case.service import ShipmentService
from caratflow.db import make_engine, session_factory, unit_of_work, upgrade
from caratflow.models import Base, Role
from caratflow.pluginhost import load_plugin_host
from caratflow.testing.databases import temporary_database
from caratflow.testing.payloads import shipment_payload

OFFICER = Actor("bench", Role.OFFICER, frozenset({"BE"}), None)  # holds every duty
TRADERS = 300


def run_service(engine, n: int) -> float:
    host = load_plugin_host()
    service, sessions = ShipmentService(host), session_factory(engine)
    # As traffic is: a certificate of its own each, a few hundred traders (the risk
    # analysis reads each trader's history at every presentation and verification).
    payloads = [
        shipment_payload(
            **{
                "certificate.number": f"CA{k:06d}",
                "certificate.importer.name": f"Importer {k % TRADERS}",
            }
        )
        for k in range(n)
    ]
    started = time.perf_counter()
    for payload in payloads:
        with unit_of_work(sessions) as session:
            shipment_id = service.present(session, payload, OFFICER).shipment.id
        for action in ("verify", "release"):
            with unit_of_work(sessions) as session:
                service.act(session, shipment_id, action, OFFICER)
    return time.perf_counter() - started


FINDINGS = [
    ("eu.import.certificate", "pass", "Reg. (EC) 2368/2002 Art. 3(a)", "ok"),
    ("eu.import.container", "pass", "Reg. (EC) 2368/2002 Art. 3(b)", "ok"),
    ("g7.rough.non_russian", "pass", "Reg. (EU) 833/2014 Art. 3p", "ok"),
]


def run_raw_sql(engine, n: int) -> float:
    now, today = datetime.now(UTC), date(2026, 11, 20)
    sqlite = engine.dialect.name == "sqlite"
    at = now.replace(tzinfo=None) if sqlite else now
    carats, value = (1234500, 45678900) if sqlite else ("123.45", "456789.00")

    def record(conn, shipment_id, action, from_state, to_state):
        event_id = conn.execute(
            text(
                "INSERT INTO event (shipment_id, action, actor, from_state, to_state, legal_date,"
                " at, data) VALUES (:s, :a, 'bench', :f, :t, :d, :at, '{}') RETURNING id"
            ),
            {"s": shipment_id, "a": action, "f": from_state, "t": to_state, "d": today, "at": at},
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO finding (event_id, rule, outcome, basis, message, rule_version, data)"
                " VALUES (:e, :r, :o, :b, :m, :v, '{}')"
            ),
            [
                {"e": event_id, "r": r, "o": o, "b": b, "m": m, "v": today}
                for r, o, b, m in FINDINGS
            ],
        )

    started = time.perf_counter()
    for _ in range(n):
        with engine.begin() as conn:
            shipment_id = conn.execute(
                text(
                    "INSERT INTO shipment (authority_code, direction, goods, state, version,"
                    " presented_at, entry_point, details, created_at, updated_at) VALUES"
                    " ('BE', 'import', 'rough', 'presented', 1, :at, 'BRU', '{}', :at, :at)"
                    " RETURNING id"
                ),
                {"at": at},
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO certificate (shipment_id, number, issuing_country,"
                    " issuing_authority, issued_on, expires_on, exporter_name, exporter_address,"
                    " importer_name, importer_address, parcels, carats, value_usd, hs_codes,"
                    " origin, provenance) VALUES (:s, 'CA123456', 'CA', 'NRCan', :d, :d, 'x',"
                    " 'x', 'y', 'y', 2, :c, :v, '[\"7102.10\"]', '[\"CA\"]', 'CA')"
                ),
                {"s": shipment_id, "d": today, "c": carats, "v": value},
            )
            conn.execute(
                text(
                    "INSERT INTO container (shipment_id, label, seals, seals_intact)"
                    " VALUES (:s, 'C1', '[\"S-991\"]', true)"
                ),
                {"s": shipment_id},
            )
            record(conn, shipment_id, "present", None, "presented")
        for version, (action, before, after) in enumerate(
            [("verify", "presented", "verified"), ("release", "verified", "released")], start=1
        ):
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "UPDATE shipment SET state = :t, version = :v2, updated_at = :at"
                        " WHERE id = :s AND version = :v"
                    ),
                    {"t": after, "v2": version + 1, "v": version, "s": shipment_id, "at": at},
                )
                record(conn, shipment_id, action, before, after)
    return time.perf_counter() - started


def fresh(engine) -> None:
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "authority":
                conn.execute(table.delete())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=2000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", help="default: a new database on --backend")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    given = nullcontext(args.database_url) if args.database_url else None
    with given or temporary_database(args.backend, folder) as url:
        run(url, args.shipments)


def run(url: str, n: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with unit_of_work(session_factory(engine)) as session:
        ensure_authorities(session, load_plugin_host())
    with autovacuum(url):
        fresh(engine)
        run_service(engine, 20)  # warm up both paths
        run_raw_sql(engine, 20)
        fresh(engine)
        raw = run_raw_sql(engine, n)
        fresh(engine)
        engine_time = run_service(engine, n)
        fresh(engine)
    engine.dispose()
    print(f"database: {engine.dialect.name}; shipments: {n}; 3 transactions each")
    print(f"{'path':<10} {'seconds':>8} {'lifecycles/s':>13} {'ms/lifecycle':>13}")
    for name, seconds in (("raw SQL", raw), ("service", engine_time)):
        print(f"{name:<10} {seconds:8.2f} {n / seconds:13.0f} {1000 * seconds / n:13.2f}")
    print(f"ratio service / raw SQL: {engine_time / raw:.2f}")


if __name__ == "__main__":
    main()
