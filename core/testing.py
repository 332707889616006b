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

import contextlib
import copy
import json
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from caratflow.accounts.provisioning import (
    add_user,
    create_token,
    ensure_authorities,
    offered_duties,
)
from caratflow.case.access import Actor
from caratflow.case.service import ShipmentService
from caratflow.config import Settings
from caratflow.db import make_engine, session_factory, unit_of_work, upgrade
from caratflow.models import Authority, Base, Role, User
from caratflow.pluginhost import PluginHost, load_plugin_host
from caratflow.runtime import Runtime

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


@pytest.fixture(scope="session")
def migrated_engine(database_url: str, plugin_host: PluginHost) -> Iterator[Engine]:
    """The schema upgraded from empty through every migration, with the authorities."""
    engine = make_engine(database_url)
    upgrade(engine)
    with unit_of_work(session_factory(engine)) as session:
        ensure_authorities(session, plugin_host)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(migrated_engine: Engine) -> Iterator[Connection]:
    with migrated_engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            transaction.rollback()


@pytest.fixture
def sessions(connection: Connection) -> sessionmaker[Session]:
    """Sessions that commit into SAVEPOINTs of the test's outer transaction."""
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        yield session


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


@dataclass
class Clock:
    """The instant decisions are taken at, moved by the test: months of traffic, or a
    certificate's expiry, without waiting for them."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock(runtime: Runtime) -> Clock:
    """Decisions of this test's ``service`` are taken at ``clock.now`` (set it first)."""
    runtime.shipments.clock = found = Clock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    return found


# -- people -----------------------------------------------------------------------------


# The people of the fixtures hold every duty their authorities' plugins declare, so that
# a scenario about the law need not be about which body decides; the tests of the split
# between bodies (``Duty``) make people of their own.


def duties_at(session: Session, host: PluginHost, codes: Iterable[str]) -> list[str]:
    """Every duty the plugins of these authorities declare."""
    found = session.scalars(select(Authority).where(Authority.code.in_(list(codes))))
    return sorted(offered_duties(host, found))


def add_person(
    session: Session,
    host: PluginHost,
    role: Role = Role.OFFICER,
    *authorities: str,
    name: str | None = None,
    password: str | None = None,
    duties: Iterable[str] | None = None,
) -> User:
    """A user of ``authorities`` (BE when none) with every duty there unless ``duties``."""
    codes = authorities or ("BE",)
    return add_user(
        session,
        name or f"{role.value}-{uuid.uuid4().hex[:6]}",
        role,
        codes,
        password,
        duties=duties_at(session, host, codes) if duties is None else duties,
        host=host,
    )


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

COMPLIANT_ROUGH_IMPORT: dict[str, Any] = {
    "authority": "BE",
    "direction": "import",
    "goods": "rough",
    "presented_at": "2026-11-20T10:15:00+01:00",
    "entry_point": "BRU",
    "certificate": {
        "number": "CA123456",
        "issuing_country": "CA",
        "issuing_authority": "Natural Resources Canada",
        "validating_authority": "Natural Resources Canada",
        "issued_on": "2026-11-10",
        "expires_on": "2027-01-10",
        "exporter": {"name": "Arctic Rough Ltd", "address": "400 Burrard St, Vancouver"},
        "importer": {"name": "Schupstraat Diamonds NV", "address": "Schupstraat 9, Antwerpen"},
        "parcels": 2,
        "carats": "123.45",
        "value_usd": "456789.00",
        "hs_codes": ["7102.10"],
        "origin": ["CA"],
        "provenance": "CA",
    },
    "containers": [{"id": "C1", "seals": ["S-991"], "seals_intact": True}],
}


def shipment_payload(**changes: Any) -> dict[str, Any]:
    """A compliant Belgian rough import, with dotted-path changes applied.

    ``shipment_payload(**{"certificate.carats": "-1"})``; a value of ``DELETE`` removes
    the field.
    """
    payload = copy.deepcopy(COMPLIANT_ROUGH_IMPORT)
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        target: Any = payload
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if value is DELETE:
            del target[leaf]
        elif isinstance(target, list):
            target[int(leaf)] = value
        else:
            target[leaf] = value
    return payload


DELETE = object()


def export_payload(**changes: Any) -> dict[str, Any]:
    """A Belgian export of rough diamonds to Canada on an Annex V declaration: what an
    application for a Community certificate carries, with dotted-path changes applied
    (``destination`` and ``lawful_import`` too)."""
    payload = shipment_payload(
        **{
            "direction": "export",
            "certificate.number": "EC004211",
            "certificate.issuing_country": "EU",
            "certificate.issuing_authority": "FPS Economy, Diamond Office Antwerp",
            "certificate.exporter.name": "Schupstraat Diamonds NV",
            "destination": "CA",
            "lawful_import": {
                "kind": "annex_v_declaration",
                "organisation": "World Diamond Council",
                "member": "Schupstraat Diamonds NV",
                "signed_on": "2026-11-18",
            },
            **changes,
        }
    )
    return payload


def outcomes(findings: Any) -> dict[str, str]:
    """``{rule: outcome}`` of findings or of their stored records, for terse assertions."""
    return {f.rule: str(f.outcome) for f in findings}


@pytest.fixture
def payload() -> Callable[..., dict[str, Any]]:
    return shipment_payload


# -- a real SMTP server (issue 4: the outbox's e-mail channel) ---------------------------


class SmtpSink:
    """Every message a real local SMTP server (aiosmtpd) accepted, in arrival order."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.messages: list[Any] = []  # email.message.Message
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        with self._lock:
            return [m["Message-ID"] for m in self.messages]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


def with_ledger_key(settings: Settings) -> Settings:
    """The settings with a signing key of their own instance folder, created as
    ``caratflow init`` does (never a key in the working directory)."""
    from dataclasses import replace

    from caratflow.ledger.signing_keys import ensure_signing_key

    path = settings.instance_path / "ledger-ed25519.pem"
    ensure_signing_key(path)
    return replace(settings, signing_key_path=path)


# -- a real server (issue 9: browser tests and the web benchmark) -----------------------


class LiveServer:
    """A WSGI app served by waitress on a free localhost port, in a background thread.

    ``with LiveServer(app) as server: server.url``. Waitress is what production runs
    (README), so a browser test meets the same server, headers and threads.
    """

    def __init__(self, app: Any, threads: int = 4, port: int = 0):
        from waitress.server import create_server

        self.server = create_server(app, host="127.0.0.1", port=port, threads=threads)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self._thread = threading.Thread(target=self.server.run, name="live-server", daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        server = self.server

        def close_everything() -> None:  # runs in the server's own loop thread
            for channel in list(server._map.values()):
                channel.close()  # the trigger too: the map is empty, the loop ends

        with contextlib.suppress(OSError):  # the loop closed its trigger and channels already
            server.trigger.pull_trigger(close_everything)
        self._thread.join(timeout=10)
        server.task_dispatcher.shutdown()


# -- nodes of their own (issue 10: authorities' nodes talking to each other) -------------


@dataclass
class Node:
    """One authority's caratflow node: its own database, instance folder and ledger key,
    app and worker, on a port of its own (so that it comes back where it was), with the
    clock its decisions and deliveries run on."""

    code: str
    runtime: Runtime
    app: Any
    port: int
    worker: Any  # caratflow.scheduler.Worker
    clock: Clock

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self) -> LiveServer:
        """``with node.serve(): ...``: up, on its port, until the block ends."""
        return LiveServer(self.app, threads=2, port=self.port)

    def deliver(self) -> Any:
        """One dispatch of this node's outbox, at its clock."""
        return self.worker.dispatcher.dispatch()

    def private_key(self) -> Any:
        from caratflow.ledger.signing_keys import signing_key

        return signing_key(self.runtime.settings)

    def public_key(self) -> str:
        """What ``caratflow peers key`` prints there."""
        from caratflow.ledger.signing import public_key_pem

        return public_key_pem(self.private_key())

    def register(self, other: Node, *accepts: str) -> None:
        """Register ``other``'s node, with the key it printed (``caratflow peers key``)."""
        self.add_peer(other.code, other.url, other.public_key(), *accepts)

    def add_peer(self, code: str, url: str, public_key: str, *accepts: str) -> None:
        """``caratflow peers add``: another authority's node, or a system such as a
        customs endpoint, and the message types taken from it."""
        from caratflow.exchange.peers import add_peer

        with unit_of_work(self.runtime.sessions) as session:
            add_peer(session, self.code, code, base_url=url, public_key=public_key, accepts=accepts)

    def route(self, audience: str, peer: str) -> None:
        """``caratflow deadlines add-recipient <code> <audience> peer:<peer>``."""
        from caratflow.deadlines.outbox import add_recipient

        with unit_of_work(self.runtime.sessions) as session:
            add_recipient(session, self.code, audience, f"peer:{peer}")

    def sequence(self) -> None:
        """``caratflow ledger sequence``: what was sealed gets its place and a signed head."""
        from caratflow.ledger.sequencer import sequence_pending

        with unit_of_work(self.runtime.sessions) as session:
            sequence_pending(session, self.private_key())


@contextmanager
def node(
    code: str, folder: Path, plugin_host: PluginHost, now: datetime, *also: Any
) -> Iterator[Node]:
    """A node of its own on PostgreSQL, its authorities created as ``caratflow init`` does,
    and ``also`` added (an ``Authority`` the plugins do not ship, as its administrator would)."""
    from caratflow.deadlines.outbox import DeliverySettings
    from caratflow.scheduler import Worker
    from caratflow.web import create_app

    folder.mkdir()
    with temporary_database("postgresql", folder) as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            sessions = session_factory(engine)
            with unit_of_work(sessions) as session:
                ensure_authorities(session, plugin_host)
                session.add_all(also)
            settings = with_ledger_key(
                Settings.from_env({}, database_url=url, instance_path=folder)
            )
            runtime = Runtime.assemble(settings, engine, sessions, plugin_host)
            clock = Clock(now)
            runtime.shipments.clock = clock
            worker = Worker(runtime, DeliverySettings(timeout=5.0))
            worker.dispatcher.clock = clock
            app = create_app({"TESTING": True}, runtime=runtime)
            yield Node(code, runtime, app, free_port(), worker, clock)
        finally:
            engine.dispose()


class JsonEndpoint:
    """Another system's JSON endpoint on localhost (a customs system, a man in the middle):
    ``respond(path, body)`` gives each POST's ``(status, answer)``. ``with endpoint:``
    serves it; ``up()`` and ``down()`` stop and restart it on the same port."""

    def __init__(self, respond: Callable[[str, Any], tuple[int, Any]]):
        from http.server import BaseHTTPRequestHandler

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, answer = respond(self.path, body)
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self._handler = Handler
        self._server: Any = None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        from http.server import ThreadingHTTPServer

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> JsonEndpoint:
        self.up()
        return self

    def __exit__(self, *_: object) -> None:
        self.down()
