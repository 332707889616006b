"""Everything one process needs, built once: settings, database, plugins, services."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from caratflow.case.service import ShipmentService
from caratflow.config import Settings
from caratflow.db import exposed, make_engine, session_factory, sqlite_files
from caratflow.deadlines.keeping import keep_deadlines
from caratflow.deadlines.notices import send_notices
from caratflow.ledger import registers
from caratflow.ledger.leaf_keys import bind_leaf_keys
from caratflow.ledger.sealing import seal_decision
from caratflow.pluginhost import PluginHost, load_plugin_host
from caratflow.records.documents import DocumentService


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    plugins: PluginHost
    shipments: ShipmentService
    documents: DocumentService  # issue 5: certificates, signed and sealed
    # issue 27: where what only reads may read (CARATFLOW_READ_DATABASE_URL, a replica)
    read_sessions: sessionmaker[Session] | None = None

    @classmethod
    def start(cls, settings: Settings | None = None, plugins: PluginHost | None = None) -> Runtime:
        """The runtime of a process, from its settings (the environment by default)."""
        settings = settings or Settings.from_env()
        engine = make_engine(settings.database_url)
        host = plugins or load_plugin_host(settings.plugins)
        return cls.assemble(settings, engine, session_factory(engine), host)

    @classmethod
    def assemble(
        cls,
        settings: Settings,
        engine: Engine,
        sessions: sessionmaker[Session],
        plugins: PluginHost,
    ) -> Runtime:
        """Wire the services together; the one place that decides who observes decisions."""
        # A decision first issues its documents, so that its deadlines and notices can
        # name them; the ledger seals the decision last, as the others left it.
        bind_leaf_keys(sessions, settings.leaf_keys_path)  # issue 25: only we write leaves
        registers.listen()  # issue 25: parties, users, duties, … sealed as they change
        documents = DocumentService(plugins, settings)
        shipments = ShipmentService(
            plugins, observers=[documents.on_decision, keep_deadlines, send_notices, seal_decision]
        )
        reads = settings.read_database_url
        read_sessions = session_factory(make_engine(reads)) if reads else None
        return cls(settings, engine, sessions, plugins, shipments, documents, read_sessions)


def freeze_start_up() -> int:
    """Keep what start-up made (modules, plugins, the app and its templates) out of the
    garbage collector's sight, and say how many objects that is: a full collection then
    walks only what requests make (issue 28: the 115-158 ms pauses, one per ~1,100
    requests, fell to 7-18 ms). Called once a long-running process is wired, before it
    serves."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def exposed_secrets(settings: Settings) -> list[tuple[Path, int]]:
    """The instance folder, keys and database files that group or others may use, with
    their modes: ``caratflow doctor`` warns about each (issue 25)."""
    paths = [settings.instance_path, settings.signing_key_path, settings.leaf_keys_path]
    paths += sqlite_files(settings.database_url)
    return exposed(path for path in paths if path is not None)
