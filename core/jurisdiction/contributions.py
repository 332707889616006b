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
    Duty,
    Workflow,
    WorkflowRegistrar,
)
from caratflow.law.rules import Rule
from caratflow.models import Authority

if TYPE_CHECKING:
    from caratflow.jurisdiction.clocks import DatedPeriod, DeadlineRule
    from caratflow.jurisdiction.documents import DocumentType
    from caratflow.jurisdiction.lookups import LookupType
    from caratflow.jurisdiction.notices import Addressee, NoticeRule
    from caratflow.jurisdiction.reports import Report
    from caratflow.jurisdiction.retention import RetentionFacts


@dataclass(frozen=True)
class AuthorityProfile:
    """An authority as a plugin knows it from the law (Annex III, FOR-2004-02-24-470),
    or as a deployment declares it in ``<instance>/authorities.toml``.

    ``subdivision`` picks the holidays of a region (a Rhineland-Palatinate office keeps
    that Land's); ``series`` the number range per document kind (the EC serials the
    Commission allocated); ``duties`` the bodies that split its decisions, replacing what
    its plugins declare when given. ``default`` profiles are the ones ``init`` sets up
    when the deployment declared none (Belgium's demo); the others it offers.
    """

    code: str
    name: str
    country: str
    zone: str
    subdivision: str | None = None
    plugins: tuple[str, ...] = ()
    entry_points: tuple[str, ...] = ()
    offices: tuple[Mapping[str, str], ...] = ()
    series: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    duties: tuple[Mapping[str, Any], ...] = ()
    source: str = ""
    # Issue 26: how long a held shipment may wait for its next decision before the
    # officers' start page lists it as held too long: a service target, kept dated.
    hold_target: DatedPeriod | None = None
    default: bool = True

    @classmethod
    def from_data(cls, data: Mapping[str, Any], **extra: Any) -> AuthorityProfile:
        """From a table of a plugin's data file or of ``authorities.toml``."""
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in {**data, **extra}.items() if k in known}
        for name in ("plugins", "entry_points", "offices", "duties"):
            values[name] = tuple(values.get(name, ()))
        return cls(**values)

    def as_data(self) -> dict[str, Any]:
        """The table ``authorities.toml`` keeps (empty fields left out)."""
        data: dict[str, Any] = {"code": self.code, "name": self.name, "country": self.country}
        if self.subdivision:
            data["subdivision"] = self.subdivision
        data["zone"] = self.zone
        data["plugins"] = list(self.plugins)
        for name in ("entry_points", "offices", "duties"):
            if value := getattr(self, name):
                data[name] = [dict(v) if isinstance(v, Mapping) else v for v in value]
        if self.series:
            data["series"] = {k: dict(v) for k, v in self.series.items()}
        if self.source:
            data["source"] = self.source
        return data


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
    addressees: list[Addressee] = field(default_factory=list)  # issue 24: the directory
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


def authority_jurisdiction(host: Plugins, authority: Authority) -> Jurisdiction:
    """The law at ``authority``: its plugins, and its own duties
    where it declared any (``authorities.toml``), else the ones its plugins declare."""
    declared = [Duty.declared(d) for d in authority.duties or ()]
    return host.jurisdiction(authority.plugins, declared or None)


class Plugins(Protocol):
    """The enabled plugins as a wing sees them: what they declared, and their answers to
    the per-record hooks, always for the plugins one authority enables."""

    @property
    def plugin_names(self) -> list[str]: ...

    def contributions(self, plugin: str) -> Contributions: ...

    def jurisdiction(
        self, plugins: Iterable[str], duties: Iterable[Duty] | None = None
    ) -> Jurisdiction: ...

    def authority_profiles(self) -> dict[str, tuple[AuthorityProfile, list[str]]]: ...

    def demo_payloads(self) -> list[Mapping[str, Any]]: ...

    def addressees(self, plugins: Iterable[str]) -> list[Addressee]: ...

    def declared_fields(self) -> Declarations: ...

    def texts(self) -> Mapping[str, Mapping[str, str]]: ...

    def document_types(self, plugins: Iterable[str]) -> dict[str, DocumentType]: ...

    def lookup_types(self, plugins: Iterable[str]) -> dict[str, LookupType]: ...

    def message_clocks(self, plugins: Iterable[str]) -> dict[str, frozenset[str]]: ...

    def validate_party(
        self,
        plugins: Iterable[str],
        authority: str,
        party: Mapping[str, Any],
        report: Callable[[str, str], None],
    ) -> None: ...

    def retention_until(self, plugins: Iterable[str], record: RetentionFacts) -> list[date]: ...
