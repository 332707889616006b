"""A database of its own per test run, on SQLite and on PostgreSQL, and helpers that read
what a test sent to it (statements, query plans).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


BACKENDS = ("sqlite", "postgresql")


def postgres_admin_url() -> str:
    return os.environ.get("CARATFLOW_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


@contextmanager
def temporary_database(backend: str, folder: Path) -> Iterator[str]:
    """A new, empty database on ``backend``; dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'caratflow-{uuid.uuid4().hex[:8]}.sqlite3'}"
        return
    admin_url = make_url(postgres_admin_url()).set(drivername="postgresql+psycopg")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        admin.dispose()
        reason = f"PostgreSQL not reachable at {admin_url.render_as_string()}: {error}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (in CI a PostgreSQL test may not skip)")
        pytest.skip(reason)
    name = f"caratflow_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def statements_sent(session: Session) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the session sends meanwhile, with its parameters as the driver gets
    them: to count what a path asks of the database, or to EXPLAIN it."""
    sent: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", keep)
    try:
        yield sent
    finally:
        event.remove(bind, "before_cursor_execute", keep)


def query_plans(session: Session, read: Callable[[Session], object]) -> list[str]:
    """The plan of every SELECT ``read(session)`` sends, on this database; on PostgreSQL
    with sequential scans ruled out, so that a test's few rows do not hide a missing index."""
    with statements_sent(session) as sent:
        read(session)
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    if not sqlite:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
    plans = []
    for statement, parameters in sent:
        if statement.lstrip().upper().startswith("SELECT"):  # not the test's savepoints
            rows = connection.exec_driver_sql(explain + statement, parameters)
            plans.append("\n".join(str(row[-1] if sqlite else row[0]) for row in rows))
    return plans


def tables_read_whole(session: Session, read: Callable[[Session], object]) -> list[str]:
    """Each table a SELECT of ``read(session)`` reads from end to end, as ``"table: SQL"``:
    a sequential scan, or an index walked without a condition. Seen with EXPLAIN on either
    database (on PostgreSQL with sequential scans ruled out, so that a test's few rows do
    not hide a missing index)."""
    with statements_sent(session) as sent:
        read(session)
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    if not sqlite:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    whole = []
    for statement, parameters in sent:
        if not statement.lstrip().upper().startswith("SELECT"):  # not the test's savepoints
            continue
        if sqlite:
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            tables = [
                str(row[-1]).split()[1]
                for row in rows
                if str(row[-1]).startswith("SCAN ") and "CONSTANT ROW" not in str(row[-1])
            ]
        else:
            explain = "EXPLAIN (FORMAT JSON) " + statement
            tables = _scanned(connection.exec_driver_sql(explain, parameters).scalar()[0]["Plan"])
        whole += [f"{table}: {' '.join(statement.split())}" for table in tables]
    return whole


def _scanned(node: dict[str, Any]) -> list[str]:
    """The relations a PostgreSQL plan node and its children read whole."""
    scans = ("Seq Scan", "Index Scan", "Index Only Scan")
    whole = []
    if node["Node Type"] in scans and "Index Cond" not in node and "Relation Name" in node:
        whole.append(node["Relation Name"])
    for child in node.get("Plans", ()):
        whole += _scanned(child)
    return whole
