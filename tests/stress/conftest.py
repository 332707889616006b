"""What the stress suites share: a PostgreSQL server of their own, HTTP, row counts, patience.

The fault tests stop and restart the database under a running app and scheduler, so
they cannot use the machine's server (other tests and engineers use it); the tests that
commit a lot (killed workers, concurrent clients) use it too, each in a database of its
own, so that their churn does not reach the shared test database, whose planner
statistics other tests depend on (tests/web/test_list_plans.py). ``PrivatePostgres``
runs the machine's own PostgreSQL binaries (``pg_config --bindir``, or
``/usr/lib/postgresql/<version>/bin``; ``CARATFLOW_TEST_PG_BINDIR`` overrides) in a
temporary folder on a free port, with trust authentication on 127.0.0.1 only.

PostgreSQL refuses to run as root, and CI runs the tests as root: then ``initdb`` and
``postgres`` are started as the ``postgres`` system user (``subprocess.Popen(user=...)``;
the Debian package creates that user), in a folder under the system temporary directory
that the user owns. As any other user they simply run as that user.

Without the binaries the fault tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from caratflow.accounts.provisioning import ensure_authorities
from caratflow.config import Settings
from caratflow.db import make_engine, session_factory, unit_of_work, upgrade
from caratflow.deadlines.keeping import calendar_for, open_deadline
from caratflow.jurisdiction.clocks import Period, Reminder, declare
from caratflow.law.rules import RuleBook
from caratflow.models import Authority, Base
from caratflow.pluginhost import PluginHost
from caratflow.runtime import Runtime
from caratflow.testing.servers import with_ledger_key

PATIENCE = 60.0
"""Seconds any one wait may take before a test gives up (a bound, never a measurement)."""

# -- hypothesis: one fixed, derandomized profile for the stress suites -------------------
# CI runs it as it stands; for a longer search on a workstation, raise the counts:
# CARATFLOW_STRESS_EXAMPLES=500 CARATFLOW_STRESS_STEPS=60 pytest tests/stress -k workflow

settings.register_profile(
    "caratflow-stress",
    max_examples=int(os.environ.get("CARATFLOW_STRESS_EXAMPLES", "20")),
    stateful_step_count=int(os.environ.get("CARATFLOW_STRESS_STEPS", "30")),
    derandomize=True,  # the same sequences on every run and machine: CI never flickers
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    print_blob=True,
)
STRESS_PROFILE = settings.get_profile("caratflow-stress")
"""Used by the stress suites explicitly; the rest of the suite keeps its own settings."""


# -- waiting --------------------------------------------------------------------------------


def wait_for(condition: Callable[[], Any], what: str, limit: float = PATIENCE) -> Any:
    """Poll ``condition`` until it is truthy; fail naming ``what`` after ``limit`` seconds."""
    give_up = time.monotonic() + limit
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > give_up:
            raise AssertionError(f"gave up after {limit:.0f} s waiting for {what}")
        time.sleep(0.05)


class Crew:
    """Threads whose first exception fails the test (at ``join`` or ``check``), instead of
    ending as a warning while the test waits in vain."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []
        self.threads: list[threading.Thread] = []

    def start(self, target: Callable[..., Any], *args: Any) -> None:
        def run() -> None:
            try:
                target(*args)
            except BaseException as error:
                self.errors.append(error)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)

    def check(self) -> bool:
        """Raise what a thread raised; True otherwise (to use inside ``wait_for``)."""
        if self.errors:
            raise self.errors[0]
        return True

    def join(self, limit: float = PATIENCE) -> None:
        for thread in self.threads:
            thread.join(limit)
        assert not any(t.is_alive() for t in self.threads), "a thread did not finish"
        self.check()


# -- a PostgreSQL server the tests may stop ---------------------------------------------------


def postgres_bindir() -> Path | None:
    configured = os.environ.get("CARATFLOW_TEST_PG_BINDIR")
    candidates = [configured] if configured else []
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(found.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in filter(None, candidates):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "postgres").exists():
            return Path(folder)
    return None


class Embedded:
    """A deployment that configured nothing but its folder: the embedded SQLite default,
    run with the real ``caratflow`` command (``init``, ``serve``, ``worker``, ...)."""

    COMMAND = Path(sys.executable).with_name("caratflow")

    def __init__(self, folder: Path, **settings: str):
        self.folder = folder
        self.instance = folder / "instance"
        self.database = self.instance / "caratflow.sqlite3"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CARATFLOW_")}
        self.env = env | {"CARATFLOW_INSTANCE_PATH": str(self.instance)} | settings

    def cli(self, *args: str) -> str:
        """Run one command to its end; its standard output."""
        done = subprocess.run(
            [str(self.COMMAND), *args],
            env=self.env,
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=PATIENCE,
            check=True,
        )
        return done.stdout.strip()

    def start(self, *args: str) -> subprocess.Popen:
        """Start a long-running command, its output in ``<folder>/<command>.log``."""
        return subprocess.Popen(
            [str(self.COMMAND), *args],
            env=self.env,
            cwd=self.folder,
            stdout=(self.folder / f"{args[0]}.log").open("a"),
            stderr=subprocess.STDOUT,
        )

    @contextmanager
    def serve(self) -> Iterator[str]:
        """``caratflow serve`` on a free loopback port, its scheduler running; its URL."""
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = self.start("serve", "--host", "127.0.0.1", "--port", str(port))
        try:
            wait_for(lambda: _answers(base), "caratflow serve to answer")
            yield base
        finally:
            server.terminate()
            server.wait(timeout=PATIENCE)


def _answers(base: str) -> bool:
    try:
        return http("GET", f"{base}/api/v1/health", timeout=2).status == 200
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivatePostgres:
    """A PostgreSQL server in a temporary folder that a test may stop and start at will."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.user = "postgres" if os.geteuid() == 0 else None  # PostgreSQL refuses root
        self.folder = Path(tempfile.mkdtemp(prefix="caratflow-private-pg-"))
        if self.user is not None:
            owner = pwd.getpwnam(self.user)
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [str(self.bindir / program), *args],
            user=self.user,
            check=True,
            capture_output=True,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        assert not self.running, "already running"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(self.bindir / "postgres"),
                    *("-D", str(self.data), "-p", str(self.port)),
                    *("-h", "127.0.0.1", "-k", str(self.folder)),
                    *("-c", "max_connections=60"),
                    # A crash here is the server process's, never the machine's: what a
                    # commit wrote is in the operating system's cache either way, so
                    # skipping fsync loses nothing the tests could observe, and saves time.
                    *("-c", "fsync=off"),
                ],
                user=self.user,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._accepts, f"the private PostgreSQL on port {self.port} to start")

    def _accepts(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"PostgreSQL exited: {self.log.read_text()[-2000:]}")
        try:
            psycopg.connect(self.url().replace("+psycopg", ""), connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True

    def stop(self, mode: str = "fast") -> None:
        """``fast``: roll back open transactions and close; ``immediate``: a crash, with
        recovery from the write-ahead log at the next start."""
        if not self.running:
            return
        assert self.process is not None
        self.process.send_signal({"fast": signal.SIGINT, "immediate": signal.SIGQUIT}[mode])
        self.process.wait(timeout=PATIENCE)

    def create_database(self) -> str:
        name = f"stress_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.url().replace("+psycopg", ""), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        self.stop("immediate")  # no shutdown checkpoint: the folder goes anyway
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of the stress suites' own, running; a test that stops it
    starts it again (``database_outage`` does both)."""
    bindir = postgres_bindir()
    if bindir is None:
        reason = "no PostgreSQL binaries (initdb, postgres) on this machine"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (in CI a PostgreSQL test may not skip)")
        pytest.skip(reason)
    server = PrivatePostgres(bindir)
    server.start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def private_runtime(
    private_postgres: PrivatePostgres, plugin_host: PluginHost, tmp_path: Path
) -> Iterator[Runtime]:
    """A runtime on a fresh, migrated database of the private server; really committing."""
    url = private_postgres.create_database()
    engine = make_engine(url)
    upgrade(engine)
    with unit_of_work(session_factory(engine)) as session:
        ensure_authorities(session, plugin_host)
    settings = with_ledger_key(Settings.from_env({}, database_url=url, instance_path=tmp_path))
    yield Runtime.assemble(settings, engine, session_factory(engine), plugin_host)
    if not private_postgres.running:  # a test that failed while the server was down
        private_postgres.start()
    engine.dispose()


# -- HTTP, as an integration speaks it ------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def http(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> Answer:
    """One real HTTP request (urllib); every status is an answer, not an exception."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, found = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, found = error.code, error.read(), error.headers
    return Answer(status, {k.lower(): v for k, v in found.items()}, raw.decode())


# -- what is stored ---------------------------------------------------------------------------


def table_counts(session: Session) -> dict[str, int]:
    """Rows in every table of the schema: what 'writes nothing' is checked against."""
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }


# -- deadlines that are due -------------------------------------------------------------------


def open_due_reminders(runtime, n: int) -> None:
    """``n`` deadlines whose one reminder is due now (started 10 days ago)."""
    import caratflow.plugins.eu as eu

    book = RuleBook("eu", Path(eu.__file__).parent / "rules.toml")
    rule = declare(
        book,
        "eu.confirm.10_days",
        opened_by={"present"},
        period=Period.parse("20 working days"),
        reminders=(Reminder(15),),
    )
    start = datetime.now(UTC) - timedelta(days=10)
    with unit_of_work(runtime.sessions) as session:
        authority = session.get(Authority, "BE")
        calendar = calendar_for(session, authority)
        for _ in range(n):
            open_deadline(session, rule, authority, start, recorded_at=start, calendar=calendar)
