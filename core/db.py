"""Engines, sessions and schema upgrades. The only place that knows database dialects."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600
"""The instance folder and what it keeps (the database with its WAL and shared-memory
files, the ledger's key) are this OS user's alone: they hold password hashes, TOTP
secrets and the signing key (issue 21)."""


def make_private_folder(path: Path) -> None:
    """Create ``path`` (and any missing parents) as a folder only this OS user may enter;
    an existing folder is left as its owner set it."""
    path.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)


def make_private_file(path: Path) -> None:
    """Create ``path`` empty for this OS user alone, or take group and others' access
    away from an existing one (a database created before issue 21 was 0644)."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        path.chmod(mode & ~0o077)


def parse_url(url: str) -> URL:
    """``url`` as SQLAlchemy takes it, libpq's multi-host form included (issue 27).

    ``postgresql://user@db1:5432,db2:5432/caratflow?target_session_attrs=read-write``
    is how PostgreSQL's own clients name a primary and its standbys; SQLAlchemy reads
    one host and port, and takes several as ``?host=db1:5432&host=db2:5432`` instead,
    which psycopg hands to libpq as the same list: libpq tries each in turn and keeps
    the first that ``target_session_attrs`` accepts (``read-write``: the primary).
    """
    parts = urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if not parts.scheme.startswith("postgresql") or "," not in hosts:
        return make_url(url)
    listed = "&".join(f"host={host}" for host in hosts.split(","))
    query = f"{listed}&{parts.query}" if parts.query else listed
    return make_url(f"{parts.scheme}://{userinfo}{at}{parts.path}?{query}")


_MEMO = "caratflow.memo"


def once_per_unit_of_work(session: Session, key: tuple[str, Any], load: Callable[[], T]) -> T:
    """``load()`` once per transaction of ``session``, as ``key`` = (table, what): a
    setting or calendar every decision reads is read once however many steps ask (issue
    28). Forgotten when the transaction ends, and when the session flushes a change to
    that table."""
    root = session.get_transaction()
    memo = session.info.get(_MEMO)
    if memo is None or memo[0] is not root:
        memo = session.info[_MEMO] = (root, {})
    if key not in memo[1]:
        memo[1][key] = load()
    return cast(T, memo[1][key])


@event.listens_for(Session, "after_flush")
def _forget_what_changed(session: Session, _context: Any) -> None:
    memo = session.info.get(_MEMO)
    if memo:
        changed = {
            getattr(row, "__tablename__", None)
            for row in (*session.new, *session.dirty, *session.deleted)
        }
        for key in [key for key in memo[1] if key[0] in changed]:
            del memo[1][key]


def insert_or_update(session: Session, table: Any) -> Any:
    """An INSERT of ``table`` that can say ON CONFLICT (``on_conflict_do_update``), in the
    session's dialect: a counter kept by concurrent decisions needs it (issue 28)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def exposed(paths: Iterable[Path]) -> list[tuple[Path, int]]:
    """Those of ``paths`` that exist and that group or others may use, with their modes
    (what ``caratflow doctor`` warns about, issue 25): a key or a database anyone on the
    machine can read is no secret."""
    found = []
    for path in dict.fromkeys(paths):
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            continue
        if mode & 0o077:
            found.append((path, mode))
    return found


def sqlite_files(url: str) -> list[Path]:
    """The files of an SQLite database (with its WAL and shared memory); none for a server."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return []
    database = Path(parsed.database)
    return [
        database,
        database.with_name(database.name + "-wal"),
        database.with_name(database.name + "-shm"),
    ]


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with real transactions on SQLite too (SAVEPOINTs, rollback of DDL)."""
    parsed = parse_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername.startswith("postgresql"):
        url = parsed.render_as_string(hide_password=False)
    if parsed.drivername.startswith("sqlite"):
        if parsed.database and parsed.database != ":memory:":
            # SQLite gives the -wal and -shm files the database file's permissions.
            make_private_folder(Path(parsed.database).parent)
            make_private_file(Path(parsed.database))
        engine = create_engine(url, connect_args={"timeout": 30}, **_QUIET, **kwargs)
        _give_sqlite_real_transactions(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **_QUIET, **kwargs)


_QUIET = {"hide_parameters": True}
"""No statement's parameters in a log line or an error's message: they carry personal
numbers and password hashes (issue 21)."""


def _give_sqlite_real_transactions(engine: Engine) -> None:
    # pysqlite opens transactions lazily and never for SAVEPOINT; take over, as the
    # SQLAlchemy documentation recommends, and switch foreign keys on.
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        writes = connection.get_execution_options().get(_WRITES, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


_WRITES = "caratflow_writes"
"""Execution option of the sessions that will write: on SQLite their transactions take the
write lock at ``BEGIN``. A deferred transaction that read first cannot take it later
while another writer holds it or has committed since (SQLITE_BUSY at once, which
``busy_timeout`` does not wait out); an immediate one waits its turn instead (issue 21).
PostgreSQL ignores the option."""


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def open_session(factory: sessionmaker[Session], *, write: bool = True) -> Session:
    """A session of ``factory``; ``write=False`` for one that only reads, which on SQLite
    then runs beside a writer instead of waiting for it."""
    bind = factory.kw.get("bind")
    if not write or not isinstance(bind, Engine):  # a Connection's transaction has begun
        return factory()
    return factory(bind=bind.execution_options(**{_WRITES: True}))


@contextmanager
def unit_of_work(factory: sessionmaker[Session], *, write: bool = True) -> Iterator[Session]:
    """One transaction: everything inside is committed together, or nothing is.

    ``write=False`` for a unit that only reads (see ``open_session``).
    """
    with open_session(factory, write=write) as session, session.begin():
        yield session


def alembic_config(connection: Any) -> Config:
    config = Config()
    config.set_main_option("script_location", "caratflow:migrations")
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema; safe to repeat."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def schema_is_current(engine: Engine) -> bool:
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
        heads = ScriptDirectory.from_config(alembic_config(connection)).get_heads()
        return set(current) == set(heads)


@dataclass(frozen=True)
class Standby:
    """A standby streaming from this primary, as ``pg_stat_replication`` shows it."""

    name: str  # its application_name
    state: str  # streaming, catchup, ...
    sync_state: str  # sync: a commit here waits for it; async: it may lag behind
    replay_lag_bytes: int  # WAL written here that it has not applied yet


@dataclass(frozen=True)
class ReplicationState:
    """Whether this database is a primary or a standby and, on a primary, who follows it.

    For ``caratflow doctor`` (issue 27): a primary whose ``synchronous_standby_names``
    names nobody streaming acknowledges commits that a failover may lose."""

    role: str  # "primary" or "standby"
    synchronous_standby_names: str
    synchronous_commit: str
    standbys: tuple[Standby, ...] = ()


def replication_state(engine: Engine) -> ReplicationState | None:
    """What PostgreSQL says of replication here (``pg_is_in_recovery``,
    ``pg_stat_replication``); ``None`` on SQLite, which has none."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        in_recovery = connection.scalar(text("SELECT pg_is_in_recovery()"))
        names = connection.scalar(text("SHOW synchronous_standby_names"))
        commit = connection.scalar(text("SHOW synchronous_commit"))
        standbys = (
            ()
            if in_recovery
            else tuple(
                Standby(row.application_name, row.state, row.sync_state, int(row.lag or 0))
                for row in connection.execute(
                    text(
                        "SELECT application_name, state, sync_state,"
                        " pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) AS lag"
                        " FROM pg_stat_replication ORDER BY application_name"
                    )
                )
            )
        )
    return ReplicationState("standby" if in_recovery else "primary", names, commit, standbys)
