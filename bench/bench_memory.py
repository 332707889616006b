"""Memory per 100,000 shipments loaded: ORM objects against the same rows as plain tuples.

What a process holds once it has loaded ``--shipments`` shipments (default 100,000)
with their certificate and containers, as a report or a hand-over bundle walks them:
the ORM (``Shipment`` with ``selectinload`` of ``certificate`` and ``containers``, in one
session, identity map and all) against a baseline of the same columns fetched with
SQLAlchemy Core as row tuples, same database, same run. Measured with ``tracemalloc``
(Python allocations still alive after the load, the rows kept referenced), each in a
fresh child process so neither inherits the other's heap; the ratio ORM / tuples is the
result, with KiB per shipment beside it. Rows are written in bulk as bench_web.py
writes them (PostgreSQL, a new database, dropped afterwards).

    python bench/bench_memory.py [--shipments 100000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from bench_web import fill
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from caratflow.accounts.provisioning import ensure_authorities
from caratflow.db import make_engine, upgrade
from caratflow.models import Certificate, Container, Shipment
from caratflow.pluginhost import load_plugin_host
from caratflow.testing.databases import temporary_database


def load_orm(url: str) -> tuple[int, int]:
    """Bytes still allocated once every shipment is loaded as objects, and their count."""
    engine = make_engine(url)
    tracemalloc.start()
    with Session(engine) as session:
        query = select(Shipment).options(
            selectinload(Shipment.certificate), selectinload(Shipment.containers)
        )
        shipments = list(session.scalars(query))
        held = tracemalloc.get_traced_memory()[0]
        count = len(shipments)
    tracemalloc.stop()
    engine.dispose()
    return held, count


def load_tuples(url: str) -> tuple[int, int]:
    """The same columns as row tuples (Core): the baseline."""
    engine = make_engine(url)
    tracemalloc.start()
    with engine.connect() as connection:
        shipments = connection.execute(select(*Shipment.__table__.columns)).all()
        certificates = connection.execute(select(*Certificate.__table__.columns)).all()
        containers = connection.execute(select(*Container.__table__.columns)).all()
        held = tracemalloc.get_traced_memory()[0]
        count = len(shipments)
    tracemalloc.stop()
    del certificates, containers
    engine.dispose()
    return held, count


def child(how: str, url: str) -> tuple[int, int]:
    """Run one load in a fresh interpreter; returns (bytes held, shipments)."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", how, url],
        capture_output=True,
        text=True,
        check=True,
    )
    held, count = done.stdout.split()
    return int(held), int(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=100_000)
    parser.add_argument("--child", nargs=2, metavar=("HOW", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        how, url = args.child
        held, count = (load_orm if how == "orm" else load_tuples)(url)
        print(held, count)
        return
    with (
        tempfile.TemporaryDirectory() as folder,
        temporary_database("postgresql", Path(folder)) as url,
    ):
        engine = make_engine(url)
        upgrade(engine)
        with Session(engine) as session, session.begin():
            ensure_authorities(session, load_plugin_host())
        started = time.perf_counter()
        fill(engine, 1, args.shipments + 1)
        engine.dispose()
        print(f"{args.shipments:,} shipments written in {time.perf_counter() - started:.1f} s")
        results = {how: child(how, url) for how in ("tuples", "orm")}
    print(f"{'loaded as':12} {'MiB held':>10} {'KiB per shipment':>17}")
    for how, (held, count) in results.items():
        assert count == args.shipments, (how, count)
        print(f"{how:12} {held / 2**20:10.1f} {held / count / 1024:17.2f}")
    orm, tuples = results["orm"][0], results["tuples"][0]
    per_100k = orm / args.shipments * 100_000 / 2**20
    print(f"ORM: {per_100k:.0f} MiB per 100,000 shipments loaded")
    print(f"ratio ORM / tuples: {orm / tuples:.2f}")


if __name__ == "__main__":
    main()
