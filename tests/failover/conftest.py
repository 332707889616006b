"""A primary, its synchronous standby, and caratflow running on them as in production.

``Cluster`` runs the machine's PostgreSQL binaries (``initdb``, ``pg_basebackup -R``,
``pg_ctl``) in a temporary folder: a primary on a free loopback port with
``synchronous_standby_names`` naming the standby and ``synchronous_commit = on``, so a
commit is acknowledged only once the standby has it on disk; and that standby,
streaming, readable (``hot_standby``). The standby is given neither setting: once
promoted it stands alone and must not wait for a standby it does not have.

``Deployment`` runs the real ``caratflow`` command against both with the libpq
multi-host URL (``postgresql://…@h:p1,h:p2/db?target_session_attrs=read-write``): two
``serve`` nodes and two ``worker`` processes, sharing one ledger key, e-mailing a local
SMTP server. Every server, process and folder is gone at the end.

PostgreSQL refuses to run as root, and CI runs the tests as root: the binaries then run
as the ``postgres`` system user, in a folder it owns. Without the binaries the suite
skips, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from caratflow.testing.servers import free_port

# the stress suite's PostgreSQL finder, HTTP and patience, shared rather than copied
from ..stress.conftest import PATIENCE, Crew, http, postgres_bindir, wait_for  # noqa: TID252

__all__ = ["Crew", "http", "wait_for"]

CARATFLOW = Path(sys.executable).with_name("caratflow")
DATABASE = "caratflow"


class Instance:
    """One PostgreSQL server (a data folder and a port), driven with ``pg_ctl``."""

    def __init__(self, cluster: Cluster, name: str, *settings: str):
        self.cluster, self.name, self.settings = cluster, name, settings
        self.data = cluster.folder / name
        self.port = free_port()

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = [f"-p {self.port}", "-h 127.0.0.1", f"-k {self.cluster.folder}"]
        # A crash here is the server process's, never the machine's: what a commit wrote
        # is in the operating system's cache either way, so fsync=off loses nothing the
        # tests could observe and saves the shared machine's disk.
        options += [f"-c {s}" for s in ("fsync=off", "max_connections=80", *self.settings)]
        log = self.cluster.folder / f"{self.name}.log"
        self.cluster.run(
            "pg_ctl", "-D", str(self.data), "-l", str(log), "-w", "-o", " ".join(options), "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """``immediate``: the server dies as in a crash, no checkpoint, its clients cut off."""
        self.cluster.run("pg_ctl", "-D", str(self.data), "-m", mode, "stop", check=False)

    def promote(self) -> None:
        """A standby becomes a primary (``pg_ctl promote`` waits until it accepts writes)."""
        self.cluster.run("pg_ctl", "-D", str(self.data), "-w", "promote")

    def query(self, sql: str, database: str = "postgres") -> list[tuple]:
        with psycopg.connect(self.dsn(database), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql)
            return cursor.fetchall() if cursor.description else []

    def log(self) -> str:
        path = self.cluster.folder / f"{self.name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


class Cluster:
    """A primary and its synchronous streaming standby, in a temporary folder."""

    STANDBY = "standby"  # its application_name, which synchronous_standby_names names

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.user = "postgres" if os.geteuid() == 0 else None  # PostgreSQL refuses root
        self.folder = Path(tempfile.mkdtemp(prefix="caratflow-failover-"))
        if self.user is not None:
            owner = pwd.getpwnam(self.user)
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        self.primary = Instance(
            self,
            "primary",
            f"synchronous_standby_names={self.STANDBY}",
            "synchronous_commit=on",
        )
        self.standby = Instance(self, "standby", f"cluster_name={self.STANDBY}", "hot_standby=on")
        self.others: list[Instance] = []

    def run(self, program: str, *args: str, check: bool = True) -> None:
        done = subprocess.run(
            [str(self.bindir / program), *args],
            user=self.user,
            capture_output=True,
            text=True,
            timeout=PATIENCE,
        )
        if check and done.returncode:
            raise AssertionError(f"{program} failed: {done.stderr or done.stdout}")

    def initdb(self, instance: Instance) -> None:
        self.run("initdb", "-D", str(instance.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def fresh(self, name: str) -> Instance:
        """Another server, new and empty, beside the two (to restore a backup into)."""
        instance = Instance(self, name)
        self.others.append(instance)
        self.initdb(instance)
        instance.start()
        return instance

    def build(self) -> None:
        """initdb the primary, start it, clone the standby from it and start that."""
        self.initdb(self.primary)
        self.primary.start()
        self.run(
            "pg_basebackup",
            *("-D", str(self.standby.data), "-h", "127.0.0.1", "-p", str(self.primary.port)),
            *("-U", "postgres", "-R", "-X", "stream", "--checkpoint=fast"),
        )
        self.standby.start()
        wait_for(self.standby_is_synchronous, "the standby to stream synchronously")
        self.primary.query(f'CREATE DATABASE "{DATABASE}"')

    def standby_is_synchronous(self) -> bool:
        rows = self.primary.query(
            "SELECT sync_state FROM pg_stat_replication WHERE application_name = "
            f"'{self.STANDBY}' AND state = 'streaming'"
        )
        return rows == [("sync",)]

    def url(self, database: str = DATABASE) -> str:
        """The libpq multi-host URL: whichever of the two accepts writes."""
        hosts = f"127.0.0.1:{self.primary.port},127.0.0.1:{self.standby.port}"
        return f"postgresql://postgres@{hosts}/{database}?target_session_attrs=read-write"

    def dump(self, instance: Instance, database: str) -> Path:
        """``pg_dump`` of one database, in the custom format ``pg_restore`` reads."""
        path = self.folder / f"{database}.dump"
        self.run("pg_dump", "-Fc", "-h", "127.0.0.1", "-p", str(instance.port), "-U", "postgres",
                 "-f", str(path), database)  # fmt: skip
        return path

    def restore(self, dump: Path, instance: Instance, database: str) -> None:
        """Into a new, empty database of ``instance``; any error fails."""
        instance.query(f'CREATE DATABASE "{database}"')
        self.run("pg_restore", "--exit-on-error", "-h", "127.0.0.1", "-p", str(instance.port),
                 "-U", "postgres", "-d", database, str(dump))  # fmt: skip

    def caught_up(self) -> bool:
        """The standby has applied everything the primary wrote so far."""
        (written,) = self.primary.query("SELECT pg_current_wal_lsn()")[0]
        (replayed,) = self.standby.query(f"SELECT pg_last_wal_replay_lsn() >= '{written}'::pg_lsn")[
            0
        ]
        return bool(replayed)

    def destroy(self) -> None:
        for instance in (self.primary, self.standby, *self.others):
            instance.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    """A primary and a synchronous standby of the caller's own, torn down at the end."""
    bindir = postgres_bindir()
    if bindir is None:
        reason = "no PostgreSQL binaries (initdb, pg_basebackup, pg_ctl) on this machine"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (in CI a PostgreSQL test may not skip)")
        pytest.skip(reason)
    server = Cluster(bindir)
    try:
        server.build()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A cluster of this test's own (one that fails over may not be shared)."""
    with private_cluster() as server:
        yield server


class Deployment:
    """The ``caratflow`` command as an authority runs it, with the environment it is given."""

    def __init__(self, folder: Path, **settings: str):
        self.folder = folder
        env = {k: v for k, v in os.environ.items() if not k.startswith("CARATFLOW_")}
        self.env = env | {
            "CARATFLOW_INSTANCE_PATH": str(folder / "instance"),
            "CARATFLOW_SIGNING_KEY": str(folder / "ledger-ed25519.pem"),  # every node's
            "CARATFLOW_LEAF_KEYS": str(folder / "ledger-leaf.keys"),  # every writer's (issue 25)
            "CARATFLOW_SECRET_KEY": "failover-test-secret",
            **settings,
        }
        self.processes: list[subprocess.Popen] = []

    def cli(
        self, *args: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """One command to its end."""
        done = subprocess.run(
            [str(CARATFLOW), *args],
            env=self.env,
            cwd=self.folder,
            input=input,
            capture_output=True,
            text=True,
            timeout=PATIENCE,
        )
        if check and done.returncode:
            raise AssertionError(f"caratflow {' '.join(args)}: {done.stderr[-2000:]}")
        return done

    def start(self, name: str, *args: str) -> subprocess.Popen:
        """A long-running command, its output in ``<folder>/<name>.log``."""
        process = subprocess.Popen(
            [str(CARATFLOW), *args],
            env=self.env | {"CARATFLOW_INSTANCE_PATH": str(self.folder / name)},
            cwd=self.folder,
            stdout=(self.folder / f"{name}.log").open("a"),
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def serve(self, *names: str) -> list[str]:
        """``caratflow serve`` for each name, on free loopback ports, answering; the URLs."""
        urls = []
        for name in names:
            port = free_port()
            self.start(name, "serve", "--host", "127.0.0.1", "--port", str(port))
            urls.append(f"http://127.0.0.1:{port}")
        for name, url in zip(names, urls, strict=True):
            wait_for(lambda url=url: _healthy(url), f"{name} to answer")
        return urls

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=PATIENCE)
            except subprocess.TimeoutExpired:
                process.kill()


def _healthy(base: str) -> bool:
    try:
        return http("GET", f"{base}/api/v1/health", timeout=2).status == 200
    except OSError:
        return False


@contextmanager
def deployment(folder: Path, **settings: str) -> Iterator[Deployment]:
    running = Deployment(folder, **settings)
    try:
        yield running
    finally:
        running.stop()
