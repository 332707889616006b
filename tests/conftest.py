"""Test set-up: the built-in plugins plus ``testlaw``, a made-up jurisdiction (authority TT).

``testlaw`` exercises the engine without any real law: its one rule, ``test.flag``,
returns whatever outcome a shipment's ``flag`` field asks for, and was amended on
2026-01-01 (before, a ``warn`` flag was a hold), so replays have something to show.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from caratflow.cli import main
from caratflow.jurisdiction.contributions import AuthorityProfile
from caratflow.jurisdiction.fields import Choice, Declared, FieldsRegistrar, declared
from caratflow.jurisdiction.hookspecs import hookimpl
from caratflow.jurisdiction.workflow import WorkflowRegistrar
from caratflow.law.rules import Case, Outcome, Rule, RuleBook, Verdict
from caratflow.pluginhost import PluginHost, load_plugin_host
from caratflow.testing.databases import temporary_database

TESTLAW = RuleBook("testlaw", Path(__file__).parent / "testlaw" / "rules.toml")


class Flagged(Declared):
    """The outcome a test shipment asks of ``test.flag``"""

    flag: Choice = declared(
        "Flag",
        help="The outcome test.flag returns",
        rule="test.flag",
        article="Test Code Art. 1",
        choices=[o.value for o in Outcome],
        example="pass",
    )


@TESTLAW.rule("test.flag", label="original")
def flag_before_2026(case: Case) -> Verdict | None:
    """Until 2026 the flag 'warn' meant a hold."""
    flag = Flagged.of(case.shipment.details).flag
    if flag is None:
        return None
    outcome = Outcome.HOLD if flag == "warn" else Outcome(flag)
    return Verdict(outcome, f"flagged {flag}")


@TESTLAW.rule("test.flag", label="amended")
def flag_since_2026(case: Case) -> Verdict | None:
    """The flag's outcome, as asked for."""
    flag = Flagged.of(case.shipment.details).flag
    return None if flag is None else Verdict(Outcome(flag), f"flagged {flag}")


class TestLaw:
    """The ``testlaw`` plugin, registered as an object rather than an entry point."""

    @hookimpl
    def caratflow_rules_register(self, register: Callable[[Rule], None]) -> None:
        for rule in TESTLAW:
            register(rule)

    @hookimpl
    def caratflow_fields_register(self, register: FieldsRegistrar) -> None:
        register.presentation(Flagged)

    @hookimpl
    def caratflow_authorities_register(self, register: Callable[[AuthorityProfile], None]) -> None:
        register(AuthorityProfile("TT", "Test Authority", "NL", "Europe/Amsterdam"))

    @hookimpl
    def caratflow_workflow_extend(self, register: WorkflowRegistrar) -> None:
        register.state("quarantined", description="set aside for a second look")
        register.transition("quarantine", "verified", "quarantined", requires_clean=True)
        register.transition("unquarantine", "quarantined", "verified")
        # A way out of the plugin's own, which no lift names (issue 22).
        register.state("forwarded", terminal=True, lets_go=True, description="sent on")
        register.transition("forward", "held", "forwarded", requires_reason=True)


@pytest.fixture(scope="session")
def plugin_host() -> PluginHost:
    return load_plugin_host(extra={"testlaw": TestLaw()})


@pytest.fixture
def cli(backend, tmp_path):
    """``cli(*args, input=None, ok=True)``: the ``caratflow`` command on a database and an
    instance folder of the test's own; ``ok`` asserts it exited 0."""
    with temporary_database(backend, tmp_path) as url:
        env = {"CARATFLOW_DATABASE_URL": url, "CARATFLOW_INSTANCE_PATH": str(tmp_path)}
        runner = CliRunner(env=env)

        def run(*args: str, input: str | None = None, ok: bool = True):
            result = runner.invoke(main, list(args), input=input, catch_exceptions=False)
            if ok:
                assert result.exit_code == 0, result.output + result.stderr
            return result

        run.env, run.url = env, url  # type: ignore[attr-defined]
        yield run
