"""Two app nodes and two workers on a primary with a synchronous standby (issue 27, 1).

Every process is the real ``caratflow`` command, given the libpq multi-host URL: it
finds the primary by itself, and what one node acknowledges the other serves, and the
standby has on disk already.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from caratflow.db import make_engine, replication_state
from caratflow.testing.payloads import shipment_payload

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
