"""Everything one process needs, built once: settings, database, plugins, services."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from caratflow.config import Settings
from caratflow.db import make_engine, session_factory
from caratflow.pluginhost import PluginHost, load_plugin_host
from caratflow.service import ShipmentService


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    plugins: PluginHost
    shipments: ShipmentService

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
        shipments = ShipmentService(plugins, observers=[])
        return cls(settings, engine, sessions, plugins, shipments)
