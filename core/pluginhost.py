"""Loads the jurisdiction plugins and is the engine's only way of calling their hooks.

The host sits beside the wings, not below them: it imports only the plugin API
(``caratflow.jurisdiction``) and the law, and the wings read it through the
``jurisdiction.contributions.Plugins`` protocol it implements. ``caratflow.runtime``
hands it to them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from functools import cache
from importlib.metadata import entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any

import click
import pluggy

from caratflow.jurisdiction import hookspecs
from caratflow.jurisdiction.workflow import (
    CORE_STATES,
    CORE_TRANSITIONS,
    Duty,
    Workflow,
    WorkflowRegistrar,
)

if TYPE_CHECKING:
    from caratflow.jurisdiction.documents import DocumentType
    from caratflow.jurisdiction.lookups import LookupType
    from caratflow.jurisdiction.notices import Addressee
    from caratflow.jurisdiction.retention import RetentionFacts


from caratflow.jurisdiction.contributions import AuthorityProfile, Contributions, Jurisdiction
from caratflow.jurisdiction.fields import Declarations, FieldsRegistrar

ENTRY_POINT_GROUP = "caratflow.plugins"


class UnknownPlugin(LookupError):
    pass


_FILLABLE = ("subdivision", "entry_points", "offices", "series", "duties", "source", "hold_target")


def _richness(profile: AuthorityProfile) -> int:
    return sum(1 for f in _FILLABLE if getattr(profile, f))


def installed_plugins() -> dict[str, str]:
    """Plugin names from the entry-point group, with the module each points to."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_plugin_host(
    enabled: Sequence[str] | None = None,
    extra: Mapping[str, ModuleType | object] | None = None,
) -> PluginHost:
    """A plugin host with the installed plugins named in ``enabled`` (all when ``None``).

    ``extra`` registers further plugin objects by name (tests, embedded deployments).
    """
    installed = installed_plugins()
    if enabled is not None:
        unknown = sorted(set(enabled) - set(installed) - set(extra or {}))
        if unknown:
            raise UnknownPlugin(
                f"unknown plugin(s) {', '.join(unknown)}; installed: {', '.join(sorted(installed))}"
            )
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    for name in installed:
        if enabled is not None and name not in enabled:
            manager.set_blocked(name)
    manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for name, plugin in (extra or {}).items():
        manager.register(plugin, name=name)
    manager.check_pending()  # a misspelled hook implementation fails here, not silently
    return PluginHost(manager)


class PluginHost:
    """A typed facade over pluggy: one method per use, hooks always called by keyword."""

    def __init__(self, manager: pluggy.PluginManager):
        self._manager = manager
        self._contributions = {name: self._collect(name) for name in self.plugin_names}

    @property
    def plugin_names(self) -> list[str]:
        # A blocked plugin stays in pluggy's list with ``None`` in its place.
        return sorted(name for name, plugin in self._manager.list_name_plugin() if plugin)

    def contributions(self, plugin: str) -> Contributions:
        try:
            return self._contributions[plugin]
        except KeyError:
            raise UnknownPlugin(f"plugin {plugin!r} is not enabled") from None

    def jurisdiction(
        self, plugins: Iterable[str], duties: Iterable[Duty] | None = None
    ) -> Jurisdiction:
        """The workflow and rules of ``plugins``, built once per process per plugin set;
        ``duties`` an authority declares replace those the plugins declare (issue 24)."""
        chosen = frozenset(plugins) & frozenset(self.plugin_names)
        return self._jurisdiction(chosen, None if duties is None else tuple(duties))

    @cache  # noqa: B019 - one host per process; the cache is the point
    def _jurisdiction(
        self, plugins: frozenset[str], duties: tuple[Duty, ...] | None
    ) -> Jurisdiction:
        chosen = [self._contributions[name] for name in sorted(plugins)]
        workflow = Workflow(
            [*CORE_STATES, *(s for c in chosen for s in c.workflow.states)],
            [*CORE_TRANSITIONS, *(t for c in chosen for t in c.workflow.transitions)],
            [d for c in chosen for d in c.workflow.duties] if duties is None else duties,
        )
        return Jurisdiction(
            plugins,
            workflow,
            tuple(r for c in chosen for r in c.rules),
            tuple(d for c in chosen for d in c.deadlines),
            tuple(n for c in chosen for n in c.notices),
            Declarations(tuple(s for c in chosen if c.fields for s in c.fields.sets)),
        )

    # -- per-record questions, answered by one authority's plugins ------------------------

    def validate_party(
        self,
        plugins: Iterable[str],
        authority: str,
        party: Mapping[str, Any],
        report: Callable[[str, str], None],
    ) -> None:
        """``caratflow_party_validate``: each enabled plugin reports what it refuses."""
        hook = self._hook_for("caratflow_party_validate", frozenset(plugins))
        hook(authority=authority, party=party, report=report)

    def retention_until(self, plugins: Iterable[str], record: RetentionFacts) -> list[date]:
        """``caratflow_retention_until``: the dates the enabled plugins keep a record until."""
        hook = self._hook_for("caratflow_retention_until", frozenset(plugins))
        return [d for d in hook(record=record) if d is not None]

    # -- faces: what the enabled plugins serve beside core ----------------------------------

    def extend_web(self, register: Callable[..., None]) -> None:
        """``caratflow_web_extend``: each enabled plugin's blueprints, to ``register``."""
        self._manager.hook.caratflow_web_extend(register=register)

    def extend_cli(self, register: Callable[[click.Command], None]) -> None:
        """``caratflow_cli_extend``: each enabled plugin's commands, to ``register``."""
        self._manager.hook.caratflow_cli_extend(register=register)

    @cache  # noqa: B019 - one host per process; a handful of plugin sets
    def _hook_for(self, hook: str, plugins: frozenset[str]) -> pluggy.HookCaller:
        others = [p for n, p in self._manager.list_name_plugin() if p and n not in plugins]
        return self._manager.subset_hook_caller(hook, others)

    def authority_profiles(self) -> dict[str, tuple[AuthorityProfile, list[str]]]:
        """Every authority a plugin knows, with the enabled plugins that apply to it: the
        registering plugin and those its profile names. Where several plugins describe
        one authority (Belgium: ``eu`` and ``belgium_g7``) the fullest profile keeps its
        particulars and the others fill what it leaves empty."""
        profiles: dict[str, tuple[AuthorityProfile, list[str]]] = {}
        enabled = set(self.plugin_names)
        described = [(n, p) for n, c in self._contributions.items() for p in c.authorities]
        for name, profile in sorted(described, key=lambda pair: -_richness(pair[1])):
            plugins = sorted({name, *profile.plugins} & enabled)
            if profile.code not in profiles:
                profiles[profile.code] = (profile, plugins)
                continue
            known, applying = profiles[profile.code]
            filled = {f: getattr(profile, f) for f in _FILLABLE if not getattr(known, f)}
            profiles[profile.code] = (
                replace(known, **filled),
                sorted({*applying, *plugins}),
            )
        return {
            code: (replace(p, plugins=tuple(plugins)), plugins)
            for code, (p, plugins) in profiles.items()
        }

    def addressees(self, plugins: Iterable[str]) -> list[Addressee]:
        """Who the notices of the enabled ``plugins`` go to, one entry per audience."""
        enabled = sorted(frozenset(plugins) & frozenset(self.plugin_names))
        found = {a.audience: a for n in enabled for a in self._contributions[n].addressees}
        return list(found.values())

    def demo_payloads(self) -> list[Mapping[str, Any]]:
        return [p for c in self._contributions.values() for p in c.demo]

    @cache  # noqa: B019 - one host per process
    def declared_fields(self) -> Declarations:
        """Every enabled plugin's field sets: the API document describes them all in one
        presentation body, so a field of another authority's law is typed as well."""
        sets = (s for c in self._contributions.values() if c.fields for s in c.fields.sets)
        return Declarations(tuple(sets))

    @cache  # noqa: B019 - one host per process
    def texts(self) -> Mapping[str, Mapping[str, str]]:
        """Every enabled plugin's message catalogue, merged (issue 23)."""
        merged: dict[str, dict[str, str]] = {}
        for name in self.plugin_names:
            for msgid, texts in self._contributions[name].texts.items():
                merged.setdefault(msgid, {}).update(texts)
        return merged

    def _collect(self, plugin: str) -> Contributions:
        others = [p for n, p in self._manager.list_name_plugin() if p and n != plugin]
        hook = self._manager.subset_hook_caller
        found = Contributions(workflow=WorkflowRegistrar(plugin))
        hook("caratflow_workflow_extend", others)(register=found.workflow)
        hook("caratflow_rules_register", others)(register=found.rules.append)
        hook("caratflow_authorities_register", others)(register=found.authorities.append)
        hook("caratflow_demo_register", others)(register=found.demo.append)
        hook("caratflow_deadlines_register", others)(register=found.deadlines.append)
        hook("caratflow_reports_register", others)(register=found.reports.append)
        hook("caratflow_notices_register", others)(register=found.notices.append)
        hook("caratflow_lookups_register", others)(register=found.lookups.append)
        hook("caratflow_addressees_register", others)(register=found.addressees.append)
        found.fields = FieldsRegistrar(plugin)
        hook("caratflow_fields_register", others)(register=found.fields)
        hook("caratflow_texts_register", others)(register=found.texts.update)
        for cited in (*found.deadlines, *found.notices, *found.lookups):
            if cited.plugin != plugin:
                raise ValueError(
                    f"plugin {plugin!r} registered {cited.version.id} of {cited.plugin!r}"
                )
        for rule in found.rules:
            if rule.plugin != plugin:
                raise ValueError(f"plugin {plugin!r} registered rule {rule.id} of {rule.plugin!r}")
        hook("caratflow_documents_register", others)(register=found.documents.append)  # issue 5
        for document in found.documents:
            if document.plugin != plugin:
                raise ValueError(f"plugin {plugin!r} registered document {document.kind!r}")
        return found

    # -- documents (issue 5) ------------------------------------------------------------

    def document_types(self, plugins: Iterable[str]) -> dict[str, DocumentType]:
        """The documents the enabled ``plugins`` declare, by kind."""
        enabled = frozenset(plugins) & frozenset(self.plugin_names)
        return {d.kind: d for name in sorted(enabled) for d in self._contributions[name].documents}

    # -- look-ups between authorities (issue 10) ----------------------------------------

    def message_clocks(self, plugins: Iterable[str]) -> dict[str, frozenset[str]]:
        """Which deadlines of the enabled ``plugins`` a peer's message meets, by message
        type, beyond the one its type names (``DeadlineRule.met_by_messages``)."""
        enabled = frozenset(plugins) & frozenset(self.plugin_names)
        clocks: dict[str, set[str]] = {}
        for name in sorted(enabled):
            for deadline in self._contributions[name].deadlines:
                for kind in deadline.met_by_messages:
                    clocks.setdefault(kind, set()).add(deadline.id)
        return {kind: frozenset(ids) for kind, ids in clocks.items()}

    def lookup_types(self, plugins: Iterable[str]) -> dict[str, LookupType]:
        """What peers may ask an authority that enables ``plugins``, by type."""
        enabled = frozenset(plugins) & frozenset(self.plugin_names)
        return {k.type: k for name in sorted(enabled) for k in self._contributions[name].lookups}
