"""A peer authority's node as the witness of another's ledger (issue 25 point 4), over HTTP on
127.0.0.1: Oslo's node watches Antwerp's (``ledger watch <url>``: the checkpoint, then a
consistency proof from the size it cosigned), cosigns with its own ledger key, and Antwerp
keeps the cosignature and serves it with its checkpoint. A rollback of Antwerp's database
then fails its own ``verify``, and Oslo refuses to cosign the older head.
"""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime

from click.testing import CliRunner
from sqlalchemy import text

from caratflow.case.access import Actor
from caratflow.cli import main
from caratflow.db import unit_of_work
from caratflow.ledger.sequencer import sequence_once
from caratflow.models import Role
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.servers import Node, node

BELGIAN_OFFICER = Actor("officer.be", Role.OFFICER, frozenset({"BE"}), None)  # every duty


def run(at: Node, *args: str, ok: bool = True):
    settings = at.runtime.settings
    env = {
        "CARATFLOW_DATABASE_URL": settings.database_url,
        "CARATFLOW_INSTANCE_PATH": str(settings.instance_path),
    }
    result = CliRunner(env=env).invoke(main, list(args), catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output + result.stderr
    return result


def present_and_sequence(belgium: Node) -> int:
    with unit_of_work(belgium.runtime.sessions) as session:
        belgium.runtime.shipments.present(session, shipment_payload(), BELGIAN_OFFICER)
    return sequence_once(belgium.runtime.sessions, belgium.runtime.settings)


def test_the_peer_node_witnesses_the_ledger_and_catches_a_rollback(tmp_path, plugin_host, backend):
    now = datetime.now(UTC).replace(microsecond=0)
    with (
        node("BE", tmp_path / "be", plugin_host, now, backend=backend) as belgium,
        node("NO", tmp_path / "no", plugin_host, now, backend=backend) as norway,
        belgium.serve(),
    ):
        older = present_and_sequence(belgium)
        log_key = run(belgium, "ledger", "checkpoint", "--verifier-key").stdout.strip()
        state = str(tmp_path / "no" / "witness-of-be.json")
        watch = ("ledger", "watch", belgium.url, "--state", state)
        first = run(norway, *watch, "--log-key", log_key)
        assert f"cosigned size {older} as 127.0.0.1:5000/witness" in first.stderr
        oslo_key = run(norway, *watch, "--verifier-key").stdout.strip()

        newer = present_and_sequence(belgium)
        note = tmp_path / "cosigned.note"
        run(norway, *watch, "--out", str(note))  # the proof from `older` fetched by URL
        kept = run(belgium, "ledger", "cosignatures", "add", str(note), "--witness", oslo_key)
        assert f"cosigned size {newer}" in kept.stdout
        with urllib.request.urlopen(f"{belgium.url}/api/v1/ledger/checkpoint") as answer:
            served = answer.read().decode()
        assert served == note.read_text()  # the checkpoint and Oslo's cosignature
        against = ("ledger", "verify", "--against", f"{belgium.url}/api/v1/ledger/checkpoint")
        assert "every record matches" in run(belgium, *against, "--witness", oslo_key).stdout

        with belgium.runtime.engine.begin() as connection:
            connection.execute(text(f"DELETE FROM ledger_entry WHERE seq >= {older}"))
            connection.execute(text(f"DELETE FROM ledger_tree_head WHERE tree_size > {older}"))
        rolled = run(belgium, "ledger", "verify", ok=False)
        assert f"ROLLED BACK: a witness holds a checkpoint at size {newer}" in rolled.stdout
        refused = run(norway, *watch, ok=False)
        assert refused.exit_code == 1 and "REFUSED: rolled back" in refused.stderr
