"""The ``caratflow`` command as an operator uses it, on a fresh database of each backend."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from caratflow.cli import main
from caratflow.db import make_engine
from caratflow.testing.payloads import shares, shipment_payload


def test_init_is_safe_to_repeat(cli):
    assert "authorities created: BE, NO" in cli("init").stderr
    assert "authorities created: none" in cli("init").stderr


def test_users_and_a_token_that_is_printed_alone(cli):
    cli("init")
    cli(
        "users",
        "add",
        "anna",
        "--role",
        "officer",
        "--authority",
        "BE",
        "--password-stdin",
        input="correct horse battery staple\n",
    )
    token = cli("tokens", "create", "anna").stdout
    assert token.startswith("cf_") and token.count("\n") == 1 and len(token.strip()) > 40
    duplicate = cli("users", "add", "anna", "--role", "officer", "--authority", "BE", ok=False)
    assert duplicate.exit_code == 1 and "exists already" in duplicate.stderr
    unknown = cli("users", "add", "bob", "--role", "officer", "--authority", "XX", ok=False)
    assert "unknown authority XX" in unknown.stderr


def test_a_user_holds_the_duties_their_authoritys_plugins_declare(cli):
    cli("init")
    added = cli(
        "users", "add", "jan", "--role", "officer", "--authority", "BE", "--duty", "customs"
    )
    assert "user jan (officer, customs) added" in added.stderr
    unknown = cli(
        "users",
        "add",
        "piet",
        "--role",
        "officer",
        "--authority",
        "BE",
        "--duty",
        "police",
        ok=False,
    )
    assert unknown.exit_code == 1
    assert "no duty police at these authorities; known: customs, fps_economy" in unknown.stderr
    elsewhere = cli(
        "users",
        "add",
        "ola",
        "--role",
        "officer",
        "--authority",
        "NO",
        "--duty",
        "customs",
        ok=False,
    )
    assert "no duty customs at these authorities; known: none" in elsewhere.stderr


def officer(cli, name: str = "anna", authority: str = "BE", *duties: str) -> tuple[str, str]:
    """A user to decide as (issue 23: the CLI acts as a named user, never as root); at
    Antwerp, of both bodies unless ``duties`` says which."""
    if authority == "BE" and not duties:
        duties = ("fps_economy", "customs")
    given = [arg for duty in duties for arg in ("--duty", duty)]
    cli("users", "add", name, "--role", "officer", "--authority", authority, *given)
    return ("--as", name)


def test_present_act_and_replay_from_the_terminal(cli, tmp_path):
    cli("init")
    anna = officer(cli)
    file = tmp_path / "shipment.json"
    file.write_text(json.dumps(shipment_payload(**{"certificate.origin": ["RU"]})))
    shown = json.loads(cli("present", str(file), *anna).stdout)
    assert shown["state"] == "presented"
    refused = cli("act", str(shown["id"]), "verify", *anna, ok=False)
    assert refused.exit_code == 1 and "g7.rough.non_russian" in refused.stderr
    cli("act", str(shown["id"]), "refuse", "--reason", "Russian origin", *anna)
    replay = cli("replay", str(shown["id"]), "--as-of", "2023-06-01").stdout
    assert "g7.rough.non_russian: refuse -> not assessed" in replay
    assert "2 of 2 decisions would differ under the law of 2023-06-01" in replay


def test_a_monthly_report_from_the_terminal(cli, tmp_path):
    cli("init")
    file = tmp_path / "shipment.json"
    file.write_text(json.dumps(shipment_payload()))
    cli("present", str(file), *officer(cli))
    csv = cli(
        "report",
        "eu.report.import_monthly",
        "--authority",
        "BE",
        "--period",
        "2026-11",
        "--format",
        "csv",
    ).stdout
    header, row = csv.splitlines()
    assert header.startswith("certificate_number,issuing_authority,")
    assert row.startswith("CA123456,")
    wrong = cli(
        "report", "eu.report.import_monthly", "--authority", "BE", "--period", "Nov", ok=False
    )
    assert wrong.exit_code == 1 and "a month such as 2026-11" in wrong.stderr
    october = ("report", "eu.report.import_monthly", "--authority", "BE", "--period", "2026-10")
    assert "queued for commission" in cli(*october, "--submit").stderr
    assert "submitted before" in cli(*october, "--submit").stderr


def test_purge_lists_what_is_kept_and_refuses_an_early_deletion(cli, tmp_path):
    cli("init")
    file = tmp_path / "shipment.json"
    file.write_text(json.dumps(shipment_payload()))
    anna = officer(cli)
    shipment = json.loads(cli("present", str(file), *anna).stdout)["id"]
    cli("act", str(shipment), "verify", *anna)
    cli("act", str(shipment), "release", *anna)
    listed = cli("purge").stdout
    assert f"{shipment:>8} BE   kept      until 2029-11-20" in listed
    early = cli("purge", "--shipment", str(shipment), "--reason", "x", ok=False)
    assert early.exit_code == 1 and "must be kept until 2029-11-20" in early.stderr
    assert str(shipment) in cli("purge").stdout


def test_a_purge_goes_by_the_legal_clock_never_by_a_future_on(cli, tmp_path):
    """Issue 25: ``--on 2099-01-01`` purged records the law keeps until 2029; the legal
    clock is today's date in the authority's zone, and a future ``--on`` is refused."""
    cli("init")
    anna = officer(cli)
    file = tmp_path / "shipment.json"
    file.write_text(json.dumps(shipment_payload()))
    shipment = json.loads(cli("present", str(file), *anna).stdout)["id"]
    cli("act", str(shipment), "verify", *anna)
    cli("act", str(shipment), "release", *anna)
    future = cli(
        "purge", "--on", "2099-01-01", "--shipment", str(shipment), "--reason", "x", ok=False
    )
    assert future.exit_code == 2 and "--on" in future.stderr and "legal clock" in future.stderr
    listed = cli("purge", "--on", "2099-01-01", ok=False)
    assert listed.exit_code == 2 and "is after today" in listed.stderr
    assert f"{shipment:>8} BE   kept      until 2029-11-20" in cli("purge").stdout


def test_a_purge_shows_what_goes_and_refuses_a_shipment_under_a_legal_hold(cli, tmp_path):
    cli("init")
    anna = officer(cli)
    file = tmp_path / "shipment.json"
    file.write_text(
        json.dumps(
            shipment_payload(
                **{
                    "presented_at": "2022-03-01T10:15:00+01:00",
                    "certificate.issued_on": "2022-02-20",
                    "certificate.expires_on": "2022-04-20",
                }
            )
        )
    )
    shipment = json.loads(cli("present", str(file), *anna).stdout)["id"]
    cli("act", str(shipment), "verify", *anna)
    cli("act", str(shipment), "release", *anna)
    assert f"{shipment:>8} BE   purgeable until 2025-03-01" in cli("purge").stdout
    trial = cli("purge", "--shipment", str(shipment), "--reason", "three years", "--dry-run")
    assert f"would purge shipment {shipment}" in trial.stdout
    assert "kept until 2025-03-01" in trial.stdout
    assert f"{shipment:>8} BE   purgeable" in cli("purge").stdout  # nothing went

    placed = cli(
        "legal-hold",
        "place",
        str(shipment),
        "--kind",
        "appeal",
        "--reference",
        "RvS 2026/123",
        "--reason",
        "the importer appealed the refusal",
    ).stdout
    hold = placed.split()[2]
    assert (
        f"{shipment:>8} BE   held      by appeal RvS 2026/123 (hold {hold})" in cli("purge").stdout
    )
    held = cli("purge", "--shipment", str(shipment), "--reason", "three years", ok=False)
    assert held.exit_code == 1 and "under a legal hold: appeal RvS 2026/123" in held.stderr
    wrong = cli(
        "legal-hold",
        "place",
        str(shipment),
        "--kind",
        "rumour",
        "--reference",
        "x",
        "--reason",
        "y",
        ok=False,
    )
    assert wrong.exit_code == 2 and "--kind" in wrong.stderr

    cli("legal-hold", "lift", hold, "--reason", "the appeal was dismissed")
    cli("purge", "--shipment", str(shipment), "--reason", "three years")
    assert f"{shipment:>8}" not in cli("purge").stdout
    cli("ledger", "sequence")
    assert "every record matches its leaf" in cli("ledger", "verify").stdout


def test_a_file_that_is_not_json_is_a_clear_error(cli, tmp_path):
    cli("init")
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    result = cli("present", str(bad), "--as", "anyone", ok=False)
    assert result.exit_code == 1 and "not valid JSON" in result.stderr


def test_act_without_a_user_is_refused_and_without_the_duty_is_refused_naming_it(cli, tmp_path):
    cli("init")
    file = tmp_path / "shipment.json"
    file.write_text(json.dumps(shipment_payload()))
    shipment = json.loads(cli("present", str(file), *officer(cli)).stdout)["id"]
    nobody = cli("act", str(shipment), "verify", ok=False)
    assert nobody.exit_code == 2 and "Missing option '--as'" in nobody.stderr
    stranger = cli("act", str(shipment), "verify", "--as", "root", ok=False)
    assert stranger.exit_code == 1 and "no active user named 'root'" in stranger.stderr
    customs = officer(cli, "kees", "BE", "customs")
    refused = cli("act", str(shipment), "verify", *customs, ok=False)
    assert refused.exit_code == 1
    assert "verify" in refused.stderr and "fps_economy" in refused.stderr


def test_act_with_as_and_input_decides_as_that_user_and_the_ledger_records_them(cli, tmp_path):
    cli("init")
    ola = officer(cli, "ola", "NO")
    file = tmp_path / "shipment.json"
    payload = shipment_payload(
        authority="NO", entry_point="OSL", presented_at="2026-11-17T08:30:00+01:00"
    )
    file.write_text(json.dumps(payload))
    notice = (
        "--input",
        "advance_notice.received_at=2026-11-13T14:05:00+01:00",
        "--input",
        "advance_notice.dispatch_on=soon",
    )
    bad = cli("present", str(file), *ola, *notice, ok=False)
    assert bad.exit_code == 1 and "advance_notice.dispatch_on" in bad.stderr
    shown = json.loads(
        cli("present", str(file), *ola, *notice[:3], "advance_notice.dispatch_on=2026-11-16").stdout
    )
    assert {f["rule"]: f["outcome"] for f in shown["findings"]}["no.advance_notice"] == "pass"
    shipment = str(shown["id"])
    missing = cli("act", shipment, "control_documents", *ola, ok=False)
    assert missing.exit_code == 1 and "inputs.outcome: Outcome is required here" in missing.stderr
    cli("act", shipment, "control_documents", *ola, "--input", "outcome=pass")
    engine = make_engine(cli.env["CARATFLOW_DATABASE_URL"])
    with engine.connect() as connection:
        leaves = [
            row[0] for row in connection.exec_driver_sql("SELECT leaf_data FROM ledger_entry")
        ]
    engine.dispose()
    sealed = [leaf for leaf in leaves if '"action":"control_documents"' in leaf]
    assert len(sealed) == 1 and '"actor":"ola"' in sealed[0] and '"outcome":"pass"' in sealed[0]


def test_stones_and_the_containers_opened_are_given_row_by_row_with_input(cli, tmp_path):
    """The CLI takes the declared rows as ``name.row.field=value`` (issue 23): a G7 stone
    on presentation, and under Art. 4(5)(b) the containers opened, which a risk-based
    verification cannot leave out."""
    cli("init")
    anna = officer(cli)
    file = tmp_path / "shipment.json"
    file.write_text(json.dumps(shipment_payload()))
    stone = ("--input", "stones.0.id=GIA-1", "--input", "stones.0.carats=about half")
    bad = cli("present", str(file), *anna, *stone, ok=False)
    assert bad.exit_code == 1 and "stones.0.carats" in bad.stderr
    shipment = str(json.loads(cli("present", str(file), *anna).stdout)["id"])
    risk = ("--input", "method=risk_selection")
    refused = cli("act", shipment, "verify", *anna, *risk, ok=False)
    assert refused.exit_code == 1
    assert "inputs.opened: Containers opened is required here" in refused.stderr
    opened = ("--input", "opened.0.container=C1", "--input", "opened.1.container=C2")
    forbidden = cli("act", shipment, "verify", *anna, *risk, *opened, ok=False)
    assert "the risk analysis requires every container to be opened" in forbidden.stderr


def test_an_unknown_plugin_in_the_configuration_is_a_clear_error(tmp_path):
    runner = CliRunner(
        env={"CARATFLOW_PLUGINS": "eu,atlantis", "CARATFLOW_INSTANCE_PATH": str(tmp_path)}
    )
    result = runner.invoke(main, ["init"])
    assert result.exit_code == 1 and "unknown plugin(s) atlantis" in result.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_demo_starts_on_an_empty_embedded_database(tmp_path):
    port = free_port()
    env = {**os.environ, "CARATFLOW_INSTANCE_PATH": str(tmp_path)}
    env.pop("CARATFLOW_DATABASE_URL", None)
    caratflow = Path(sys.executable).with_name("caratflow")
    server = subprocess.Popen(
        [str(caratflow), "serve", "--demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health") as r:
                    health = json.load(r)
                break
            except OSError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "server did not answer within 30 s"
                time.sleep(0.2)
        assert health["status"] == "ok"
        assert (tmp_path / "caratflow.sqlite3").exists()
        run = {"env": env, "capture_output": True, "text": True, "check": True}
        subprocess.run(
            [
                str(caratflow),
                "users",
                "add",
                "audit",
                "--role",
                "auditor",
                "--authority",
                "BE",
                "--authority",
                "NO",
            ],
            **run,
        )
        token = subprocess.run([str(caratflow), "tokens", "create", "audit"], **run).stdout
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/shipments",
            headers={"Authorization": f"Bearer {token.strip()}"},
        )
        with urllib.request.urlopen(request) as r:
            shipments = json.load(r)["items"]
        assert {(s["authority"], s["state"]) for s in shipments} == {
            ("BE", "released"),
            ("BE", "held"),
            ("BE", "presented"),
            ("BE", "refused"),
            ("BE", "exported"),  # to Norway (issue 24 point 4: the pair of the exchange)
            ("NO", "released"),
            ("NO", "refused"),
            ("NO", "verified"),  # Norway's export to Antwerp, controlled, not yet gone
        }
    finally:
        server.terminate()
        server.wait(timeout=10)
    # issue 28: a full collection walks what requests make, not the whole start-up heap
    assert "start-up objects kept out of the garbage collector" in server.stdout.read()


def test_the_worker_keeps_its_start_up_objects_out_of_the_garbage_collector(tmp_path):
    env = {**os.environ, "CARATFLOW_INSTANCE_PATH": str(tmp_path)}
    env.pop("CARATFLOW_DATABASE_URL", None)
    caratflow = Path(sys.executable).with_name("caratflow")
    subprocess.run([str(caratflow), "init"], env=env, capture_output=True, check=True)
    worker = subprocess.Popen(
        [str(caratflow), "-v", "worker", "--interval", "60"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for line in worker.stdout:  # the first tick runs at once; then the worker waits
            if "start-up objects kept out of the garbage collector" in line:
                frozen = int(line.split(":")[-1].split()[0])
                break
        else:
            raise AssertionError("the worker never said it froze its start-up objects")
    finally:
        worker.terminate()
        worker.wait(timeout=10)
    assert frozen > 10_000  # modules, plugins, law: what a collection need not walk again


@pytest.fixture
def usual_umask():
    """The umask of most shells (022), under which files used to come out 0644."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_init_keeps_the_database_and_the_key_to_their_os_user(tmp_path, usual_umask):
    instance = tmp_path / "instance"
    runner = CliRunner(env={"CARATFLOW_INSTANCE_PATH": str(instance)})
    result = runner.invoke(main, ["init"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    database = instance / "caratflow.sqlite3"
    with sqlite3.connect(database) as reader:  # the WAL and shared memory exist while open
        reader.execute("SELECT count(*) FROM authority").fetchone()
        files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
        modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in files}
    assert modes == dict.fromkeys(modes, 0o600)
    assert stat.S_IMODE((instance / "ledger-ed25519.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700


def test_a_database_readable_by_others_is_made_private(tmp_path, usual_umask):
    database = tmp_path / "caratflow.sqlite3"
    database.touch(mode=0o644)
    make_engine(f"sqlite:///{database}").dispose()
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


# -- accounts (issue 21) ------------------------------------------------------------------


def add_anna(cli, password: str = "correct horse battery staple", ok: bool = True):
    return cli(
        "users",
        "add",
        "anna",
        "--role",
        "officer",
        "--authority",
        "BE",
        "--password-stdin",
        input=password + "\n",
        ok=ok,
    )


@pytest.fixture
def api(cli):
    """The web app on the CLI's database: ``api(token)`` is the status of a GET."""
    from caratflow.config import Settings
    from caratflow.runtime import Runtime
    from caratflow.web import create_app

    cli("init")
    runtime = Runtime.start(Settings.from_env(cli.env))
    client = create_app({"TESTING": True}, runtime=runtime).test_client()

    def status(token: str) -> int:
        headers = {"Authorization": f"Bearer {token.strip()}"}
        return client.get("/api/v1/shipments", headers=headers).status_code

    yield status
    runtime.engine.dispose()


def test_the_cli_holds_passwords_to_the_webs_policy(cli):
    cli("init")
    short = add_anna(cli, "12345", ok=False)
    assert short.exit_code == 1 and "12 to 128 characters" in short.stderr
    assert "anna" not in cli("users", "list").stdout
    add_anna(cli)
    reset = cli("users", "reset-password", "anna", "--password-stdin", input="short\n", ok=False)
    assert reset.exit_code == 1 and "12 to 128 characters" in reset.stderr


def test_users_are_listed_disabled_and_given_a_new_password_with_an_audit_row(cli, api):
    add_anna(cli)
    token = cli("tokens", "create", "anna").stdout
    assert api(token) == 200
    listed = cli("users", "list").stdout
    assert [line.split()[:4] for line in listed.splitlines()] == [
        ["anna", "officer", "BE", "active"]
    ]
    cli("users", "reset-password", "anna", "--password-stdin", input="a new long passphrase\n")
    assert api(token) == 401  # a reset ends the tokens made with the old password
    token = cli("tokens", "create", "anna").stdout
    assert "disabled" in cli("users", "disable", "anna").stderr
    assert api(token) == 401
    assert cli("users", "list").stdout.split()[:4] == ["anna", "officer", "BE", "disabled"]
    missing = cli("users", "disable", "nobody", ok=False)
    assert missing.exit_code == 1 and "no user named 'nobody'" in missing.stderr
    assert audit_rows(cli.env) == [
        "added user anna",
        "reset the password of anna",
        "disabled user anna",
    ]


def test_tokens_are_listed_and_revoked_one_by_one(cli, api):
    add_anna(cli)
    first, second = (cli("tokens", "create", "anna").stdout for _ in range(2))
    rows = [line.split() for line in cli("tokens", "list").stdout.splitlines()]
    assert [(r[0], r[1], r[-1]) for r in rows] == [("1", "anna", "live"), ("2", "anna", "live")]
    cli("tokens", "revoke", "1")
    assert (api(first), api(second)) == (401, 200)
    assert cli("tokens", "list").stdout.splitlines()[0].split()[-3] == "revoked"
    unknown = cli("tokens", "revoke", "99", ok=False)
    assert unknown.exit_code == 1 and "no token 99" in unknown.stderr
    assert audit_rows(cli.env)[-1] == "revoked API token 1 of anna"


def test_a_token_lives_as_long_as_configured(cli, api):
    add_anna(cli)
    cli.env["CARATFLOW_TOKEN_DAYS"] = "7"
    cli("tokens", "create", "anna")
    [row] = cli("tokens", "list").stdout.splitlines()
    _, _, made, _, until, _, state = row.split()
    from datetime import date

    assert (date.fromisoformat(until) - date.fromisoformat(made)).days == 7 and state == "live"


def audit_rows(env: dict[str, str]) -> list[str]:
    from sqlalchemy import create_engine, select

    from caratflow.models import SecurityEvent

    engine = create_engine(env["CARATFLOW_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            query = select(SecurityEvent.detail).where(SecurityEvent.kind == "user_changed")
            return [
                row.detail["what"] for row in connection.execute(query.order_by(SecurityEvent.id))
            ]
    finally:
        engine.dispose()


def _dated(presented: str, **changes):
    """A presentation on ``presented``, its certificate in force that day."""
    year = int(presented[:4])
    return shipment_payload(
        **{
            "presented_at": f"{presented}T10:00:00+01:00",
            "certificate.issued_on": f"{presented[:8]}01",
            "certificate.expires_on": f"{year + 1}-01-31",
            **changes,
        }
    )


RUSSIAN_ROUGH = {
    "certificate.issuing_country": "RU",
    "certificate.origin": ["RU"],
    "certificate.provenance": "RU",
}
POLISHED = {
    "goods": "polished",
    "certificate.hs_codes": ["7102.39"],
    "certificate.issuing_country": "IN",
    "certificate.provenance": "IN",
}
# Each dated change of issue 22: a case decided before it, the day after, what differs.
DATED_CHANGES = [
    (  # the direct ban, 1 January 2024
        _dated("2023-12-20", **RUSSIAN_ROUGH, **{"certificate.number": "RU0001"}),
        "2024-01-02",
        "g7.rough.non_russian: not assessed -> refuse",
    ),
    (  # the indirect ban from 1.0 ct, 1 March 2024 (Art. 3p(3))
        _dated(
            "2024-02-20",
            **POLISHED,
            **{"certificate.number": "IN0001", "certificate.origin": ["RU"]},
            stones=[{"id": "R0", "carats": "1.20", "origin": "RU"}],
        ),
        "2024-03-01",
        "g7.russian_ban: pass -> refuse",
    ),
    (  # the indirect ban from 0.5 ct, 1 September 2024
        _dated(
            "2024-08-20",
            **POLISHED,
            **{"certificate.number": "IN0002", "certificate.origin": ["RU"]},
            stones=[{"id": "R1", "carats": "0.70", "origin": "RU"}],
        ),
        "2024-09-01",
        "g7.russian_ban: pass -> refuse",
    ),
    (  # the 14th package's exemptions, 25 June 2024
        _dated(
            "2024-05-06",
            **RUSSIAN_ROUGH,
            **{"certificate.number": "RU0003"},
            sanctions_exemption={"ground": "temporary_import_fair", "evidence": "ATA carnet 77"},
        ),
        "2024-07-01",
        "g7.rough.non_russian: refuse -> warn",
    ),
    (  # Uzbekistan admitted, November 2024
        _dated(
            "2024-10-01",
            **{
                "certificate.number": "UZ0004",
                "certificate.issuing_country": "UZ",
                "certificate.origin": ["UZ"],
                "certificate.provenance": "UZ",
            },
        ),
        "2024-11-08",
        "eu.import.certificate: hold -> pass",
    ),
    (  # Reg. (EU) 2025/395: mixed-origin rough, 1 March 2025
        _dated(
            "2025-02-27",
            **{"certificate.number": "CA0005", "certificate.origin": ["BW", "CA"]},
            origin_shares=shares({"BW": "50", "CA": "50"}),
        ),
        "2025-03-03",
        "g7.mining_countries: not assessed -> hold",
    ),
    (  # the due-diligence statement on polished stones, 1 January 2026
        _dated(
            "2025-12-15",
            **POLISHED,
            **{"certificate.number": "IN0006", "certificate.origin": ["BW"]},
            stones=[{"id": "P1", "carats": "0.62", "origin": "BW"}],
        ),
        "2026-01-12",
        "g7.mining_countries: not assessed -> hold",  # the statement is missing
    ),
]


def test_replay_as_of_shows_each_dated_change_of_issue_22(cli, tmp_path):
    cli("init")
    anna = officer(cli)
    for n, (payload, as_of, difference) in enumerate(DATED_CHANGES):
        file = tmp_path / f"shipment-{n}.json"
        file.write_text(json.dumps(payload))
        shown = json.loads(cli("present", str(file), *anna).stdout)
        replay = cli("replay", str(shown["id"]), "--as-of", as_of).stdout
        assert difference in replay, (payload["certificate"]["number"], replay)
        same_day = cli("replay", str(shown["id"]), "--as-of", payload["presented_at"][:10])
        assert "0 of 1 decisions would differ" in same_day.stdout
