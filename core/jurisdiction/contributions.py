"""What the plugins contributed, as the engine reads it: per plugin (``Contributions``),
per set of enabled plugins (``Jurisdiction``), and the read-only ``Plugins`` view every
wing is handed instead of the plugin host itself.

The host (``caratflow.pluginhost``) builds these and implements ``Plugins``; the wings
depend on this module only, so no wing imports the host and the host imports no wing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from caratflow.jurisdiction.fields import Declarations, FieldsRegistrar
from caratflow.jurisdiction.workflow import (
    Workflow,
    WorkflowRegistrar,
)
from caratflow.law.rules import Rule

if TYPE_CHECKING:
    from caratflow.jurisdiction.clocks import DeadlineRule
    from caratflow.jurisdiction.documents import DocumentType
    from caratflow.jurisdiction.lookups import LookupType
    from caratflow.jurisdiction.notices import NoticeRule
    from caratflow.jurisdiction.reports import Report
    from caratflow.jurisdiction.retention import RetentionFacts


@dataclass(frozen=True)
class AuthorityProfile:
    """An authority as a plugin describes it; ``caratflow init`` stores it."""

    code: str
    name: str
    country: str
    zone: str
    subdivision: str | None = None


@dataclass
class Contributions:
    """What one plugin contributed at start-up."""

    workflow: WorkflowRegistrar
    rules: list[Rule] = field(default_factory=list)
    authorities: list[AuthorityProfile] = field(default_factory=list)
    demo: list[Mapping[str, Any]] = field(default_factory=list)
    deadlines: list[DeadlineRule] = field(default_factory=list)  # issue 4
    documents: list[DocumentType] = field(default_factory=list)  # issue 5
    reports: list[Report] = field(default_factory=list)
    notices: list[NoticeRule] = field(default_factory=list)
    lookups: list[LookupType] = field(default_factory=list)  # issue 10: peers may ask these
    fields: FieldsRegistrar | None = None  # issue 23: the typed fields its law needs
    texts: dict[str, dict[str, str]] = field(default_factory=dict)  # issue 23: its catalogue


@dataclass(frozen=True)
class Jurisdiction:
    """The law for one set of enabled plugins: its workflow and its rules."""

    plugins: frozenset[str]
    workflow: Workflow
    rules: tuple[Rule, ...]
    deadlines: tuple[DeadlineRule, ...] = ()  # issue 4: the legal clocks of these plugins
    notices: tuple[NoticeRule, ...] = ()  # what their decisions must tell others
    fields: Declarations = field(
        default_factory=Declarations
    )  # issue 23: what their law asks to be filled in


class Plugins(Protocol):
    """The enabled plugins as a wing sees them: what they declared, and their answers to
    the per-record hooks, always for the plugins one authority enables."""

    @property
    def plugin_names(self) -> list[str]: ...

    def contributions(self, plugin: str) -> Contributions: ...

    def jurisdiction(self, plugins: Iterable[str]) -> Jurisdiction: ...

    def authority_profiles(self) -> dict[str, tuple[AuthorityProfile, list[str]]]: ...

    def demo_payloads(self) -> list[Mapping[str, Any]]: ...

    def texts(self) -> Mapping[str, Mapping[str, str]]: ...

    def document_types(self, plugins: Iterable[str]) -> dict[str, DocumentType]: ...

    def lookup_types(self, plugins: Iterable[str]) -> dict[str, LookupType]: ...

    def validate_party(
        self,
        plugins: Iterable[str],
        authority: str,
        party: Mapping[str, Any],
        report: Callable[[str, str], None],
    ) -> None: ...

    def retention_until(self, plugins: Iterable[str], record: RetentionFacts) -> list[date]: ...
