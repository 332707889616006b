"""caratflow.jurisdiction.contributions: TODO docstring."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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


@dataclass(frozen=True)
class Jurisdiction:
    """The law for one set of enabled plugins: its workflow and its rules."""

    plugins: frozenset[str]
    workflow: Workflow
    rules: tuple[Rule, ...]
    deadlines: tuple[DeadlineRule, ...] = ()  # issue 4: the legal clocks of these plugins
    notices: tuple[NoticeRule, ...] = ()  # what their decisions must tell others
