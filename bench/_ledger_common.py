"""What the ledger benchmarks (``bench_ledger.py``, ``bench_identities.py``) set up alike.

A scratch folder with a signing key, removed afterwards; a new database on the chosen
backend, migrated and provisioned with the authorities, dropped afterwards; and a way
to empty it between two timed paths, so that each starts from the same empty tables.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from caratflow.accounts.provisioning import ensure_authorities
from caratflow.db import make_engine, session_factory, unit_of_work, upgrade
from caratflow.ledger.signing import generate_key
from caratflow.models import Base
from caratflow.pluginhost import load_plugin_host
from caratflow.testing.databases import temporary_database


@contextmanager
def scratch() -> Iterator[tuple[Path, Ed25519PrivateKey]]:
    """A folder for the databases and the key that signs their tree heads."""
    folder = Path(tempfile.mkdtemp())
    try:
        yield folder, generate_key(folder / "bench.pem")
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # an SQLite file of a million rows


@contextmanager
def database(backend: str, folder: Path) -> Iterator[tuple[Engine, str]]:
    """A new database with the schema and the authorities: its engine and URL."""
    with temporary_database(backend, folder) as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            with unit_of_work(session_factory(engine)) as session:
                ensure_authorities(session, load_plugin_host())
            yield engine, url
        finally:
            engine.dispose()


def fresh(engine: Engine) -> None:
    """Empty every table but the authorities."""
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "authority":
                connection.execute(table.delete())
