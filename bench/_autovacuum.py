"""Autovacuum for the benchmarks whose tables grow while they are measured.

This machine's PostgreSQL runs with ``autovacuum = off``; a production server runs with
it on. Without it a table that grows from empty during a run never gets statistics,
and the planner keeps guessing from the size of its files: in ``bench_lifecycle.py`` a
lifecycle went from 22 ms to 103 ms within 600 shipments, as a trader's history, read at
every presentation, was joined by nested loops over whole tables. Measured that way,
the figures would be of a server nobody runs.

``autovacuum(url)`` does what the autovacuum daemon would, from a thread beside the
measured work: every ``naptime`` seconds it vacuums and analyzes each table past the
daemon's default thresholds (50 rows plus 20 % changed for a vacuum, 10 % for an
analyze). The nap is shorter than the daemon's default minute because a benchmark lives
minutes, not months. Where the server runs autovacuum itself, or on SQLite, it does
nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from caratflow.db import make_engine

DUE = text(
    "SELECT relname, n_dead_tup > 50 + 0.2 * n_live_tup AS vacuum FROM pg_stat_user_tables"
    " WHERE n_dead_tup > 50 + 0.2 * n_live_tup OR n_mod_since_analyze > 50 + 0.1 * n_live_tup"
)


@contextmanager
def autovacuum(url: str, *, naptime: float = 10.0) -> Iterator[None]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            daemon_runs = engine.dialect.name != "postgresql" or (
                connection.execute(text("SHOW autovacuum")).scalar() == "on"
            )
        if daemon_runs:
            yield
            return
        stop = threading.Event()
        thread = threading.Thread(target=_run, args=(engine, naptime, stop), daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
    finally:
        engine.dispose()


def _run(engine, naptime: float, stop: threading.Event) -> None:
    while not stop.wait(naptime):
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for table, vacuum in connection.execute(DUE).all():
                verb = "VACUUM ANALYZE" if vacuum else "ANALYZE"
                connection.execute(text(f'{verb} "{table}"'))
