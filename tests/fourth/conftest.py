"""A fourth jurisdiction, ``fourth`` (authority IS), that declares one field and nothing else
(issue 23): it gets its form, its API schema and its CLI input without a line of ``core/``
or ``web/`` written for it. Its own database, so the shared one keeps its authorities."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.engine import Engine

from caratflow.jurisdiction.contributions import AuthorityProfile
from caratflow.jurisdiction.fields import Declared, FieldsRegistrar, Text, declared
from caratflow.jurisdiction.hookspecs import hookimpl
from caratflow.pluginhost import PluginHost, load_plugin_host
from caratflow.testing import migrated
from caratflow.testing.databases import temporary_database


class LandingPermit(Declared):
    """A landing permit"""

    landing_permit: Text = declared(
        "Landing permit",
        help="The number of the harbour master's landing permit",
        rule="fourth.landing_permit",
        article="Test Act §1",
        required_when={"direction": ("import",)},
        example="LP-2026-7",
    )


class Fourth:
    """The whole plugin: an authority, and the one field its law asks for."""

    @hookimpl
    def caratflow_authorities_register(self, register: Callable[[AuthorityProfile], None]) -> None:
        register(AuthorityProfile("IS", "Test Authority of Iceland", "IS", "Atlantic/Reykjavik"))

    @hookimpl
    def caratflow_fields_register(self, register: FieldsRegistrar) -> None:
        register.presentation(LandingPermit)


@pytest.fixture(scope="session")
def plugin_host() -> PluginHost:
    return load_plugin_host(enabled=["eu"], extra={"fourth": Fourth()})


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with temporary_database(backend, tmp_path_factory.mktemp("fourth")) as url:
        yield url


@pytest.fixture(scope="session")
def migrated_engine(database_url: str, plugin_host: PluginHost) -> Iterator[Engine]:
    """A session fixture of its own, so the shared database's engine is not reused here."""
    with migrated(database_url, plugin_host) as engine:
        yield engine
