"""Issue 24: ``caratflow doctor`` on a fresh instance lists what a real deployment still
has to configure, and exits non-zero while a legal notice has no addressee."""

from __future__ import annotations

import json

from click.testing import CliRunner

from caratflow.cli import main
from caratflow.cli.doctor import CHECKS
from caratflow.testing.databases import temporary_database
from caratflow.testing.payloads import shipment_payload


def reach_every_legal_addressee(cli):
    cli("directory", "add", "BE", "commission", "mailto:kp@commission.example.eu")
    cli("directory", "add", "NO", "customs", "https://toll.example.no/kp")
    cli("directory", "add", "NO", "customs-investigation", "https://toll.example.no/inv")


def test_doctor_on_a_database_not_set_up_says_to_run_init(cli):
    said = cli("doctor", ok=False)
    assert said.exit_code == 1 and "caratflow init" in said.stdout


def test_doctor_on_a_fresh_instance_lists_what_is_missing_and_fails(cli):
    cli("init")
    said = cli("doctor", ok=False)
    assert said.exit_code == 1 and "a legal notice cannot go" in said.stderr
    assert "MISSING BE: no addressee for commission" in said.stdout
    assert "MISSING NO: no addressee for customs:" in said.stdout
    assert "participants' KP authorities have no addressee" in said.stdout
    assert "MISSING no CARATFLOW_SECRET_KEY" in said.stdout
    assert "MISSING CARATFLOW_PUBLIC_URL" in said.stdout
    reach_every_legal_addressee(cli)
    passed = cli("doctor").stdout  # what is left to set does not block
    assert "no addressee for" not in passed and "MISSING no CARATFLOW_SECRET_KEY" in passed


def test_a_log_address_is_labelled_development_only(cli):
    cli("init")
    reach_every_legal_addressee(cli)
    cli("directory", "add", "BE", "supervisors", "mailto:chef@diamonds.example.be")
    said = cli("directory", "add", "BE", "kp-authority:LY", "log:ly")
    assert "development only" in said.stderr
    cli("directory", "list", "BE", "--missing")


def test_an_undeliverable_notice_keeps_the_doctor_failing_until_its_addressee_is_added(
    cli, tmp_path
):
    cli("init")
    cli("users", "add", "anna", "--role", "officer", "--authority", "BE", "--duty", "fps_economy")
    reach_every_legal_addressee(cli)
    payload = shipment_payload(
        **{"certificate.issuing_country": "LY", "certificate.number": "LY0001"}
    )
    (tmp_path / "ly.json").write_text(json.dumps(payload))
    shipment = json.loads(cli("present", str(tmp_path / "ly.json"), "--as", "anna").stdout)
    cli("act", str(shipment["id"]), "refuse", "--as", "anna", "--reason", "not a participant")
    said = cli("doctor", ok=False)
    assert "undeliverable since" in said.stdout and "kp-authority:LY" in said.stdout
    assert "UNDELIVERABLE: 1 legal notice(s) have no addressee" in cli("deadlines").stdout
    cli("directory", "add", "BE", "kp-authority:LY", "mailto:kp@mines.example.ly")
    assert "no undeliverable notice" in cli("doctor").stdout


def test_other_checks_can_be_added_to_the_doctor():
    assert all(callable(check) for check in CHECKS) and len(CHECKS) >= 4


def test_doctor_prints_the_effective_configuration_without_secrets(backend, tmp_path):
    with temporary_database(backend, tmp_path) as url:
        env = {
            "CARATFLOW_DATABASE_URL": url,
            "CARATFLOW_INSTANCE_PATH": str(tmp_path),
            "CARATFLOW_SMTP_PASSWORD": "hunter2",
            "CARATFLOW_SECRET_KEY": "s3cret-session-key",
            "CARATFLOW_SMTP_HOST": "smtp.diamonds.example.be",
        }
        runner = CliRunner(env=env)
        runner.invoke(main, ["init"], catch_exceptions=False)
        said = runner.invoke(main, ["doctor"], catch_exceptions=False)
    assert "outbox.smtp_host" in said.stdout and "smtp.diamonds.example.be" in said.stdout
    assert "set (hidden)" in said.stdout
    assert "hunter2" not in said.output and "s3cret" not in said.output
    assert "no CARATFLOW_SECRET_KEY" not in said.stdout


def test_a_bad_setting_is_a_clear_error_naming_it(backend, tmp_path):
    env = {"CARATFLOW_INSTANCE_PATH": str(tmp_path), "CARATFLOW_OUTBOX_LEASE": "soon"}
    said = CliRunner(env=env).invoke(main, ["doctor"])
    assert said.exit_code == 1 and "CARATFLOW_OUTBOX_LEASE" in said.stderr


def test_the_doctor_says_who_follows_the_primary(cli, backend):
    """Issue 27: replication as the database sees it; the test server streams to nobody."""
    cli("init")
    said = cli("doctor", ok=False).stdout
    if backend == "sqlite":
        assert "replication: none (the embedded SQLite database)" in said
    else:
        assert "primary with no standby: losing this server loses the database" in said


def test_the_doctor_warns_of_a_key_others_may_read(cli, tmp_path):
    """Issue 25: the instance's keys are for this OS user alone."""
    cli("init")
    assert "keys and database files are this user's alone" in cli("doctor", ok=False).stdout
    key = tmp_path / "ledger-leaf.keys"
    key.chmod(0o644)
    said = cli("doctor", ok=False).stdout
    assert f"{key} is 644: others may read it" in said and f"chmod go-rwx {key}" in said


KP_LIST = """
source = "KP Secretariat, participants' authorities (as an authority downloads it)"
published_on = 2026-11-01

[[addressee]]
audience = "commission"
address = "mailto:kp@commission.example.eu"
name = "European Commission, DG TRADE"

[[addressee]]
audience = "kp-authority:CA"
address = "mailto:kpcs@nrcan.example.ca"
name = "Natural Resources Canada, Kimberley Process Office"
"""


def test_a_published_list_of_kp_authorities_is_imported_whole_with_its_source(cli, tmp_path):
    """Issue 24 point 2: each participant's authority reached as the KP's list says, the
    list's source and date kept in the audit trail; a bad row names itself and nothing of
    the file is written."""
    cli("init")
    bad = tmp_path / "bad.toml"
    bad.write_text(
        KP_LIST
        + '\n[[addressee]]\naudience = "kp-authority:XX"\naddress = "mailto:a@b.example"\n'
        + '\n[[addressee]]\naudience = "kp-authority:BW"\naddress = "fax:+267 123"\n'
    )
    refused = cli("directory", "import", "BE", str(bad), ok=False)
    assert refused.exit_code == 1
    assert "addressee[3].audience" in refused.stderr and "addressee[4].address" in refused.stderr
    assert "#" not in cli("directory", "list", "BE").stdout  # nothing of the file written

    good = tmp_path / "kp.toml"
    good.write_text(KP_LIST)
    said = cli("directory", "import", "BE", str(good))
    assert "2 added, 0 already" in said.stderr and "2026-11-01" in said.stderr
    listed = cli("directory", "list", "BE").stdout
    assert "kp-authority:CA" in listed and "mailto:kpcs@nrcan.example.ca" in listed
    assert "Natural Resources Canada" in listed
    again = cli("directory", "import", "BE", str(good))
    assert "0 added, 2 already" in again.stderr
    assert "MISSING BE: no addressee for commission" not in cli("doctor", ok=False).stdout
