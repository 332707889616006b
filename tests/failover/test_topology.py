"""Two app nodes and two workers on a primary with a synchronous standby (issue 27, 1).

Every process is the real ``caratflow`` command, given the libpq multi-host URL: it
finds the primary by itself, and what one node acknowledges the other serves, and the
standby has on disk already.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from caratflow.accounts.provisioning import create_token, ensure_authorities
from caratflow.config import Settings
from caratflow.db import make_engine, replication_state, session_factory, unit_of_work, upgrade
from caratflow.models import Role
from caratflow.runtime import Runtime
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.people import add_person
from caratflow.testing.servers import with_ledger_key
from caratflow.web import create_app

from .conftest import Cluster, deployment, http, private_cluster, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """One cluster for the module: nothing here stops a server."""
    with private_cluster() as server:
        yield server


def officer_token(app) -> dict[str, str]:
    """An officer of BE with every duty there, and an API token of theirs."""
    app.cli("users", "add", "officer.one", "--role", "officer", "--authority", "BE",
            "--duty", "fps_economy", "--duty", "customs", "--password-stdin",
            input="a long enough password")  # fmt: skip
    token = app.cli("tokens", "create", "officer.one").stdout.strip()
    return {"Authorization": f"Bearer {token}"}


def test_two_nodes_and_two_workers_find_the_primary_through_one_multi_host_url(
    cluster: Cluster, tmp_path
):
    """A presentation on one node, its verification on the other, both on the standby."""
    with deployment(tmp_path, CARATFLOW_DATABASE_URL=cluster.url()) as app:
        app.cli("init")
        auth = officer_token(app)
        first, second = app.serve("node-a", "node-b")
        app.start("worker-a", "worker", "--interval", "0.5")
        app.start("worker-b", "worker", "--interval", "0.5")

        presented = http("POST", f"{first}/api/v1/shipments", shipment_payload(), auth)
        assert presented.status == 201, presented.text
        shipment = f"/api/v1/shipments/{presented.json['id']}"
        verified = http(
            "POST", f"{second}{shipment}/actions/verify", {}, auth | {"If-Match": '"1"'}
        )
        assert verified.status == 200, verified.text
        assert http("GET", f"{first}{shipment}", headers=auth).json["state"] == "verified"
        wait_for(lambda: http("GET", f"{second}/api/v1/ledger/head").status == 200, "a head")

        on_standby = cluster.standby.query(
            f"SELECT state FROM shipment WHERE id = {presented.json['id']}", "caratflow"
        )
        assert on_standby == [("verified",)], "a commit waits for the standby to have it"


def test_the_replication_state_names_the_synchronous_standby_and_the_standby_itself(
    cluster: Cluster,
):
    primary = make_engine(cluster.primary.dsn())
    standby = make_engine(cluster.standby.dsn())
    try:
        seen = replication_state(primary)
        assert (seen.role, seen.synchronous_commit) == ("primary", "on")
        assert seen.synchronous_standby_names == Cluster.STANDBY
        assert [(s.name, s.state, s.sync_state) for s in seen.standbys] == [
            (Cluster.STANDBY, "streaming", "sync")
        ]
        assert replication_state(standby).role == "standby"
    finally:
        primary.dispose()
        standby.dispose()


def test_the_replication_state_of_an_embedded_database_is_none(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'caratflow.sqlite3'}")
    try:
        assert replication_state(engine) is None
    finally:
        engine.dispose()


def api_client(runtime):
    """The app of ``runtime`` and an officer's token for it."""
    with unit_of_work(runtime.sessions) as session:
        add_person(session, runtime.plugins, Role.OFFICER, name="officer.reads")
    with unit_of_work(runtime.sessions) as session:
        token = create_token(session, "officer.reads")
    client = create_app({"TESTING": True}, runtime=runtime).test_client()
    return client, {"Authorization": f"Bearer {token}"}


def present_and_verify(client, auth, number: str) -> dict:
    shipment = shipment_payload(**{"certificate.number": number})
    presented = client.post("/api/v1/shipments", json=shipment, headers=auth)
    assert presented.status_code == 201, presented.get_data(as_text=True)
    path = f"/api/v1/shipments/{presented.json['id']}/actions/verify"
    verified = client.post(path, json={}, headers=auth | {"If-Match": '"1"'})
    assert verified.status_code == 200, verified.get_data(as_text=True)
    return verified.json


def test_a_dump_restored_into_a_fresh_instance_needs_no_migration_and_its_ledger_verifies(
    cluster: Cluster, tmp_path, plugin_host
):
    cluster.primary.query('CREATE DATABASE "production"')
    with deployment(tmp_path, CARATFLOW_DATABASE_URL=cluster.url("production")) as app:
        assert "Running upgrade" in app.cli("-v", "init").stderr  # a new database: migrated
        settings = Settings.from_env(app.env, instance_path=tmp_path / "instance")
        runtime = Runtime.start(settings, plugin_host)
        try:
            client, auth = api_client(runtime)
            for n in range(3):
                present_and_verify(client, auth, f"CA8{n:05d}")
        finally:
            runtime.engine.dispose()
        app.cli("ledger", "sequence")
        shipments = cluster.primary.query("SELECT id, state FROM shipment", "production")

    dump = cluster.dump(cluster.primary, "production")
    fresh = cluster.fresh("restored")
    cluster.restore(dump, fresh, "caratflow")
    with deployment(tmp_path, CARATFLOW_DATABASE_URL=fresh.dsn("caratflow")) as restored:
        init = restored.cli("-v", "init")
        assert "Running upgrade" not in init.stderr, init.stderr
        assert "authorities created: none" in init.stderr
        verified = restored.cli("ledger", "verify", check=False)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    assert fresh.query("SELECT id, state FROM shipment", "caratflow") == shipments


def test_reports_lists_and_the_public_check_read_the_replica_and_match_after_it_catches_up(
    cluster: Cluster, tmp_path, plugin_host
):
    """The replica's replay is paused: what the primary has since is not in what the
    reading node answers, until the replica has caught up; then it answers the same."""
    cluster.primary.query('CREATE DATABASE "reads"')
    on_primary = Settings.from_env(
        {}, database_url=cluster.url("reads"), instance_path=tmp_path / "instance"
    )
    engine = make_engine(on_primary.database_url)
    upgrade(engine)
    writing = Runtime.assemble(
        with_ledger_key(on_primary), engine, session_factory(engine), plugin_host
    )
    with unit_of_work(writing.sessions) as session:
        ensure_authorities(session, plugin_host)
    reading = Runtime.assemble(
        replace(writing.settings, read_database_url=cluster.standby.dsn("reads")),
        engine,
        writing.sessions,
        plugin_host,
    )
    writer, auth = api_client(writing)
    reader = create_app({"TESTING": True}, runtime=reading).test_client()
    period = shipment_payload()["presented_at"][:7]
    report = f"/api/v1/reports/eu.report.import_monthly?authority=BE&period={period}"
    try:
        present_and_verify(writer, auth, "CA700001")
        wait_for(cluster.caught_up, "the replica to catch up")
        cluster.standby.query("SELECT pg_wal_replay_pause()")
        try:
            number = present_and_verify(writer, auth, "CA700002")["certificate"]["number"]
            listed = reader.get("/api/v1/shipments", headers=auth).json["items"]
            assert [s["certificate"]["number"] for s in listed] == ["CA700001"]
            assert reader.get(report, headers=auth).json != writer.get(report, headers=auth).json
        finally:
            cluster.standby.query("SELECT pg_wal_replay_resume()")
        wait_for(cluster.caught_up, "the replica to catch up")
        assert reader.get(report, headers=auth).json == writer.get(report, headers=auth).json
        listed = reader.get("/api/v1/shipments", headers=auth).json["items"]
        assert [s["certificate"]["number"] for s in listed] == ["CA700001", "CA700002"]
        documents = cluster.primary.query("SELECT number FROM issued_document", "reads")
        assert documents, "a verification issues the importer's certified copy"
        for (document,) in documents:
            checked = reader.get(f"/verify/{document}.json")
            assert checked.status_code == 200 and checked.json["genuine"], checked.json
    finally:
        reading.read_sessions.kw["bind"].dispose()
        engine.dispose()
    assert number == "CA700002"
