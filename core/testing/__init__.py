"""pytest plugin with caratflow's fixtures (loaded through the ``pytest11`` entry point).

Every database test runs twice: on an SQLite file and on PostgreSQL
(``CARATFLOW_TEST_POSTGRES_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``;
each run works in a database of its own, created and dropped around it). Without a
reachable PostgreSQL those tests skip, except under ``CI=true``, where they fail.

Each test gets a connection inside a transaction that is rolled back afterwards; the
sessions it opens (the app's included) work in SAVEPOINTs within it. Tests that need
several real connections (row locks, concurrent writers) use ``committed_runtime``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from caratflow.accounts import profiles
from caratflow.accounts.provisioning import create_token, ensure_authorities
from caratflow.case.access import Actor
from caratflow.case.service import ShipmentService
from caratflow.config import Settings
from caratflow.db import make_engine, session_factory, unit_of_work, upgrade
from caratflow.ledger.leaf_keys import bind_leaf_keys
from caratflow.models import Base, Role
from caratflow.pluginhost import PluginHost, load_plugin_host
from caratflow.runtime import Runtime
from caratflow.testing.databases import BACKENDS, temporary_database
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.people import PASSWORD, HttpsClient, Person, add_person, duties_at, sign_in
from caratflow.testing.servers import Clock, SmtpSink, free_port, with_leaf_keys, with_ledger_key

# -- databases --------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgres_only: row locks and concurrent writers; runs on PostgreSQL only"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run ``postgres_only`` tests for the PostgreSQL backend alone (deselect, not skip)."""
    deselected = [
        item
        for item in items
        if item.get_closest_marker("postgres_only")
        and getattr(item, "callspec", None) is not None
        and item.callspec.params.get("backend") == "sqlite"
    ]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        dropped = set(deselected)
        items[:] = [item for item in items if item not in dropped]


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def plugin_host() -> PluginHost:
    """Every installed plugin; override in a conftest to add test plugins."""
    return load_plugin_host()


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with temporary_database(backend, tmp_path_factory.mktemp("db")) as url:
        yield url


@contextmanager
def migrated(database_url: str, plugin_host: PluginHost) -> Iterator[Engine]:
    """An engine on ``database_url``, its schema upgraded from empty through every
    migration, with the authorities of ``plugin_host``; disposed after."""
    engine = make_engine(database_url)
    upgrade(engine)
    with unit_of_work(session_factory(engine)) as session:
        ensure_authorities(session, plugin_host)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def migrated_engine(database_url: str, plugin_host: PluginHost) -> Iterator[Engine]:
    """The schema upgraded from empty through every migration, with the authorities."""
    with migrated(database_url, plugin_host) as engine:
        yield engine


@pytest.fixture
def connection(migrated_engine: Engine) -> Iterator[Connection]:
    with migrated_engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            transaction.rollback()


@pytest.fixture
def sessions(connection: Connection, tmp_path: Path) -> sessionmaker[Session]:
    """Sessions that commit into SAVEPOINTs of the test's outer transaction, with the leaf
    keys of the test's instance folder (the ``runtime``'s too)."""
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    bind_leaf_keys(factory, with_leaf_keys(tmp_path))  # issue 25
    return factory


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        yield session


@pytest.fixture
def runtime(
    migrated_engine: Engine,
    sessions: sessionmaker[Session],
    plugin_host: PluginHost,
    database_url: str,
    tmp_path: Path,
) -> Runtime:
    settings = Settings.from_env({}, database_url=database_url, instance_path=tmp_path)
    settings = with_ledger_key(settings)  # issue 5
    return Runtime.assemble(settings, migrated_engine, sessions, plugin_host)


@pytest.fixture
def committed_runtime(
    migrated_engine: Engine, plugin_host: PluginHost, database_url: str, tmp_path: Path
) -> Iterator[Runtime]:
    """A runtime whose sessions really commit; every row it leaves is deleted after."""
    settings = Settings.from_env({}, database_url=database_url, instance_path=tmp_path)
    settings = with_ledger_key(settings)  # issue 5
    yield Runtime.assemble(settings, migrated_engine, session_factory(migrated_engine), plugin_host)
    with migrated_engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "authority":
                connection.execute(table.delete())


@pytest.fixture
def service(runtime: Runtime) -> ShipmentService:
    return runtime.shipments


@pytest.fixture
def clock(runtime: Runtime) -> Clock:
    """Decisions of this test's ``service`` are taken at ``clock.now`` (set it first)."""
    runtime.shipments.clock = found = Clock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    return found


# -- people -----------------------------------------------------------------------------


# The people of the fixtures hold every duty their authorities' plugins declare, so that
# a scenario about the law need not be about which body decides; the tests of the split
# between bodies (``Duty``) make people of their own.


@pytest.fixture
def officer(session: Session, plugin_host: PluginHost) -> Actor:
    duties = frozenset(duties_at(session, plugin_host, ["BE"]))
    return Actor("officer.be", Role.OFFICER, frozenset({"BE"}), duties)


@pytest.fixture
def make_token(session: Session, plugin_host: PluginHost) -> Callable[..., str]:
    """Create a user and return a bearer token: ``make_token(Role.OFFICER, "BE")``
    (``duties=[...]`` for fewer than all)."""

    def make(role: Role = Role.OFFICER, *authorities: str, **how: Any) -> str:
        user = add_person(session, plugin_host, role, *authorities, **how)
        token = create_token(session, user.name)
        session.commit()
        return token

    return make


@pytest.fixture
def app(runtime: Runtime) -> Any:
    from caratflow.web import create_app

    return create_app({"TESTING": True}, runtime=runtime)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def auth(make_token: Callable[..., str]) -> dict[str, str]:
    """Headers of a Belgian officer."""
    return {"Authorization": f"Bearer {make_token(Role.OFFICER, 'BE')}"}


# -- shipments --------------------------------------------------------------------------


@pytest.fixture
def payload() -> Callable[..., dict[str, Any]]:
    return shipment_payload


# -- a real SMTP server (issue 4: the outbox's e-mail channel) ---------------------------


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    """A real SMTP server on 127.0.0.1 (aiosmtpd, from the ``test`` extra)."""
    from aiosmtpd.controller import Controller

    sink = SmtpSink("127.0.0.1", free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


# -- the ledger's signing key (issue 5) ------------------------------------------------------


# -- a real server (issue 9: browser tests and the web benchmark) -----------------------


# -- nodes of their own (issue 10: authorities' nodes talking to each other) -------------


@pytest.fixture
def make_person(session, plugin_host) -> Callable[..., Person]:
    """``make_person(Role.OFFICER, "BE")``: a user with ``PASSWORD``; admins get TOTP.
    Like ``make_token``'s, they hold every duty of their authorities unless ``duties``."""

    def make(role: Role = Role.OFFICER, *authorities: str, **how: Any) -> Person:
        user = add_person(session, plugin_host, role, *authorities, password=PASSWORD, **how)
        secret = None
        if role == Role.ADMIN:
            secret = profiles.start_totp_enrolment(session, user)
            profiles.profile(session, user).totp_confirmed_at = user.created_at
        session.commit()
        return Person(user, secret)

    return make


@pytest.fixture
def browser(app) -> Callable[..., Any]:
    """``browser(person)``: a fresh test client signed in as ``person`` (HTTPS, as deployed)."""

    def open_for(person: Person | None = None) -> Any:
        app.test_client_class = HttpsClient
        client = app.test_client()
        client.environ_base["HTTP_REFERER"] = "https://localhost/"
        if person is not None:
            response = sign_in(client, person)
            assert response.status_code == 302, response.text
        return client

    return open_for
