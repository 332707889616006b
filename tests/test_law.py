"""Law as data: every rule cites LAW.md with its basis and dates; every parameter has a source."""

from __future__ import annotations

import re
from pathlib import Path

from caratflow.law.parameters import DatedParameters
from caratflow.pluginhost import load_plugin_host

ROOT = Path(__file__).resolve().parents[1]
LAW = ROOT / "docs" / "LAW.md"  # the project's copy of the digest: a clone carries what it reads


def law_ids() -> set[str]:
    return set(re.findall(r"^\| ((?:eu|kp|no|g7|nl)\.[a-z0-9_.]+) \|", LAW.read_text(), re.M))


def test_every_registered_rule_is_a_rule_of_law_md_with_a_basis():
    ids = law_ids()
    assert len(ids) > 50
    host = load_plugin_host()
    for plugin in host.plugin_names:
        for rule in host.contributions(plugin).rules:
            assert rule.id in ids, f"{plugin}: {rule.id} is not a LAW.md rule id"
            assert rule.basis and rule.version.source
            assert rule.summary, f"{rule.id}: the rule function needs a docstring"


def cited_by(plugin: str) -> set[tuple[str, str]]:
    """(id, label) of every rules.toml entry a rule, clock, report, notice, look-up or document
    cites."""
    found = load_plugin_host().contributions(plugin)
    citing = [*found.rules, *found.deadlines, *found.reports, *found.notices, *found.lookups]
    module = __import__(f"caratflow.plugins.{plugin}.rules", fromlist=["RULES"])
    documents = {module.RULES.version(d.rule) for d in found.documents}
    return {(v.id, v.label) for v in (*(c.version for c in citing), *documents)}


def test_every_rule_text_in_rules_toml_is_used_by_a_rule_a_deadline_a_report_or_a_notice():
    for plugin in load_plugin_host().plugin_names:
        module = __import__(f"caratflow.plugins.{plugin}.rules", fromlist=["RULES"])
        listed = {(v.id, v.label) for v in module.RULES.versions}
        assert listed == cited_by(plugin), plugin


def test_the_eu_plugin_encodes_every_eu_rule_of_law_md_or_says_why_not():
    from caratflow.plugins.eu.scope import OUT_OF_SCOPE

    eu_rules = {i for i in law_ids() if i.startswith(("eu.", "kp."))}
    encoded = {rule_id for rule_id, _ in cited_by("eu")}
    assert eu_rules - encoded == set(OUT_OF_SCOPE)


def test_every_dated_parameter_has_a_source_and_a_start():
    for folder in (ROOT / "plugins").glob("*/parameters"):
        parameters = DatedParameters(*folder.glob("*.toml"))
        assert parameters.names(), folder
