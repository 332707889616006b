"""Plugin discovery, enabling a subset, and catching a misspelled hook."""

from __future__ import annotations

import pluggy
import pytest

from caratflow.config import Settings
from caratflow.jurisdiction.hookspecs import hookimpl
from caratflow.pluginhost import UnknownPlugin, installed_plugins, load_plugin_host
from caratflow.testing.payloads import shipment_payload

BUILT_IN = {"eu", "norway", "belgium_g7"}


def test_the_built_in_plugins_register_through_the_entry_point_group():
    assert installed_plugins() == {
        "eu": "caratflow.plugins.eu",
        "norway": "caratflow.plugins.norway",
        "belgium_g7": "caratflow.plugins.belgium_g7",
    }
    assert set(load_plugin_host().plugin_names) == BUILT_IN


def test_a_deployment_enables_a_subset_by_configuration():
    settings = Settings.from_env({"CARATFLOW_PLUGINS": " eu , belgium_g7 "})
    assert settings.plugins == ("eu", "belgium_g7")
    host = load_plugin_host(settings.plugins)
    assert host.plugin_names == ["belgium_g7", "eu"]
    profiles = host.authority_profiles()
    assert {code for code, (p, _) in profiles.items() if p.default} == {"BE"}
    assert {"CZ", "DE", "PT"} <= set(profiles)  # Annex III, offered (issue 24)


def test_every_plugin_contributes_at_least_one_rule_with_its_basis():
    host = load_plugin_host()
    for name in BUILT_IN:
        rules = host.contributions(name).rules
        assert rules, name
        assert all(rule.basis and rule.plugin == name for rule in rules)


def test_an_unknown_plugin_name_is_refused_with_the_installed_ones():
    with pytest.raises(
        UnknownPlugin, match=r"unknown plugin.*atlantis.*installed: belgium_g7, eu, norway"
    ):
        load_plugin_host(["eu", "atlantis"])


def test_a_misspelled_hook_implementation_fails_at_start_up():
    class Careless:
        @hookimpl
        def caratflow_rules_registr(self, register):  # missing 'e'
            pass

    with pytest.raises(pluggy.PluginValidationError, match="caratflow_rules_registr"):
        load_plugin_host(["eu"], extra={"careless": Careless()})


def test_a_disabled_plugins_rules_do_not_apply(session, plugin_host, officer):
    from caratflow.case.service import ShipmentService

    russian = shipment_payload(**{"certificate.origin": ["RU"]})
    with_g7 = ShipmentService(plugin_host).check(session, russian, officer)
    eu_only = ShipmentService(load_plugin_host(["eu"])).check(session, russian, officer)
    assert "g7.rough.non_russian" in {f.rule for f in with_g7}
    assert "g7.rough.non_russian" not in {f.rule for f in eu_only}
