"""Two authorities' nodes talk to each other (issue 10), end to end.

Two real app instances, each served by waitress on its own localhost port, each with its
own PostgreSQL database and its own ledger key: a Belgian node (BE: the eu and
belgium_g7 plugins) and a Dutch one (NL: the eu plugin; the test adds the authority to
its database, as an administrator of an EU node would). BE validates and exports
rough diamonds to the Netherlands; its dispatcher delivers the export message to NL,
which is down for a while and gets it once it is back, once; NL presents the import,
compared with the announcement, and verifies it; its import confirmation goes back to
BE, whose clock awaiting it (``eu.import_confirmation``) is met.

Decisions are taken through the service (BE) and the HTTP API (NL); deliveries by each
node's scheduler ``Worker`` dispatcher on an explicit clock: no sleeping on backoff.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from caratflow import exchange, ledger
from caratflow.config import Settings
from caratflow.db import make_engine, session_factory, unit_of_work, upgrade
from caratflow.deadlines import deadline_of
from caratflow.models import (
    Authority,
    DeadlineStatus,
    ExchangeMessage,
    IssuedDocument,
    OutboxMessage,
    OutboxStatus,
    Role,
    Shipment,
)
from caratflow.outbox import DeliverySettings, add_recipient
from caratflow.plugins.eu.documents import PARAMETERS as EU_DOCUMENTS
from caratflow.provisioning import add_user, create_token, ensure_authorities
from caratflow.reports import run_report
from caratflow.runtime import Runtime
from caratflow.scheduler import Worker
from caratflow.service import Actor
from caratflow.signing import key_id, public_key_pem
from caratflow.testing import (
    Clock,
    LiveServer,
    free_port,
    shipment_payload,
    temporary_database,
    with_ledger_key,
)
from caratflow.web import create_app

pytestmark = pytest.mark.postgres_only

ANTWERP = "FPS Economy, Diamond Office Antwerp"
EXPORTER = "Schupstraat Diamonds NV"
IMPORTER = "Amsterdam Rough BV"
BELGIAN_OFFICER = Actor("officer.be", Role.OFFICER, frozenset({"BE"}), None)  # every duty


class Server(LiveServer):
    """``LiveServer`` on a port of our choosing, so that a node comes back where it was."""

    def __init__(self, app: Any, port: int):
        from waitress.server import create_server

        self.server = create_server(app, host="127.0.0.1", port=port, threads=2)
        self.url = f"http://127.0.0.1:{port}"
        self._thread = threading.Thread(target=self.server.run, name="node", daemon=True)


@dataclass
class Node:
    code: str
    runtime: Runtime
    app: Any
    port: int
    worker: Worker
    clock: Clock

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self) -> Server:
        return Server(self.app, self.port)

    def deliver(self) -> Any:
        """One dispatch of this node's outbox, at its clock."""
        return self.worker.dispatcher.dispatch()

    def public_key(self) -> str:
        return public_key_pem(ledger.signing_key(self.runtime.settings))


@contextmanager
def node(code: str, folder: Path, plugin_host: Any, now: datetime) -> Iterator[Node]:
    """A node of its own: database, instance folder (ledger key), app, worker."""
    folder.mkdir()
    with temporary_database("postgresql", folder) as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            sessions = session_factory(engine)
            with unit_of_work(sessions) as session:
                ensure_authorities(session, plugin_host)
                if code == "NL":  # an EU node the plugins do not ship: its administrator adds it
                    session.add(
                        Authority(
                            code="NL",
                            name="CDIU, Central Import and Export Office, Groningen",
                            country="NL",
                            zone="Europe/Amsterdam",
                            plugins=["eu"],
                        )
                    )
            settings = with_ledger_key(
                Settings.from_env({}, database_url=url, instance_path=folder)
            )
            runtime = Runtime.assemble(settings, engine, sessions, plugin_host)
            clock = Clock(now)
            runtime.shipments.clock = clock
            worker = Worker(runtime, DeliverySettings(timeout=5.0))
            worker.dispatcher.clock = clock
            app = create_app({"TESTING": True}, runtime=runtime)
            yield Node(code, runtime, app, free_port(), worker, clock)
        finally:
            engine.dispose()


def register(at: Node, other: Node, accepts: str) -> None:
    """``at`` registers ``other``'s node, with the key ``other`` printed (peers key)."""
    with unit_of_work(at.runtime.sessions) as session:
        exchange.add_peer(
            session,
            at.code,
            other.code,
            base_url=other.url,
            public_key=other.public_key(),
            accepts=[accepts],
        )


def route(at: Node, audience: str, peer: str) -> None:
    with unit_of_work(at.runtime.sessions) as session:
        add_recipient(session, at.code, audience, f"peer:{peer}")


def call(url: str, token: str, body: Any) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def peer_messages(node: Node) -> list[OutboxMessage]:
    with node.runtime.sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.address.like("peer:%"))
        return list(session.scalars(query.order_by(OutboxMessage.id)))


def received(node: Node) -> int:
    with node.runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(ExchangeMessage))


def ledger_verifies(node: Node) -> bool:
    key = ledger.signing_key(node.runtime.settings)
    with unit_of_work(node.runtime.sessions) as session:
        ledger.sequence_pending(session, key)
    with ledger.snapshot(node.runtime.sessions) as session:
        return ledger.verify_ledger(session, key.public_key()).ok


@pytest.fixture
def dutch_numbers(monkeypatch):
    """The Dutch node's number range for the importer's certified copy (a deployment
    setting of its own, as Belgium's is in the eu plugin's documents.toml)."""
    ranges = EU_DOCUMENTS.value("certified_copy_serials", datetime.now(UTC).date())
    monkeypatch.setitem(ranges, "NL", {"prefix": "NL-CC-", "digits": 6, "first": 1, "last": 999})


def test_an_export_is_announced_compared_confirmed_and_closed_across_two_nodes(
    tmp_path, plugin_host, dutch_numbers
):
    now = datetime.now(UTC).replace(microsecond=0)
    with (
        node("BE", tmp_path / "be", plugin_host, now) as belgium,
        node("NL", tmp_path / "nl", plugin_host, now) as netherlands,
    ):
        # Each node signs with its own key and registers the other's.
        assert belgium.public_key() != netherlands.public_key()
        register(belgium, netherlands, "eu.import_confirmation")
        register(netherlands, belgium, "kp.electronic_messages")
        route(belgium, "kp-authority:NL", "NL")  # the destination's KP authority
        # A Community certificate names the EU, not the Member State that validated it:
        # the Dutch administrator routes the EU's confirmations to the Belgian node.
        route(netherlands, "kp-authority:EU", "BE")

        # -- Antwerp validates and exports; the announcement is queued for NL ----------------
        service = belgium.runtime.shipments
        with unit_of_work(belgium.runtime.sessions) as session:
            payload = shipment_payload(
                **{
                    "direction": "export",
                    "presented_at": now.isoformat(),
                    "certificate.number": "EC004211",
                    "certificate.issuing_country": "EU",
                    "certificate.issuing_authority": ANTWERP,
                    "certificate.exporter.name": EXPORTER,
                    "certificate.importer.name": IMPORTER,
                }
            )
            payload["destination"] = "NL"
            payload["lawful_import"] = {
                "kind": "annex_v_declaration",
                "organisation": "World Diamond Council",
                "member": EXPORTER,
                "signed_on": "2026-11-18",
            }
            export = service.present(session, payload, BELGIAN_OFFICER).shipment
            service.act(
                session,
                export.id,
                "verify",
                BELGIAN_OFFICER,
                inputs={"sealed_under_supervision": "yes"},
            )
            service.act(session, export.id, "export", BELGIAN_OFFICER)
            export_id = export.id
            certificate = session.scalar(
                select(IssuedDocument).where(IssuedDocument.shipment_id == export_id)
            )
            number, issued_on, valid_until = (
                certificate.number,
                certificate.issued_on,
                certificate.valid_until,
            )
            awaited = deadline_of(session.get(Shipment, export_id), "eu.import_confirmation")
            assert awaited.status == DeadlineStatus.OPEN

        with netherlands.serve() as up:  # NL answers, then goes down
            health = urllib.request.urlopen(f"{up.url}/api/v1/health", timeout=10)
            assert health.status == 200
            health.close()

        # -- NL is down: the announcement waits, and goes once NL is back ---------------------
        first = belgium.deliver()
        assert first.retrying == 1
        [announcement] = peer_messages(belgium)
        assert announcement.status == OutboxStatus.PENDING
        assert "peer NL unreachable" in announcement.last_error
        assert announcement.data["rule"] == "kp.electronic_messages"

        with netherlands.serve():
            belgium.clock.advance(seconds=10)  # not yet: the backoff still runs
            assert belgium.deliver().sent == 0
            belgium.clock.advance(minutes=1)
            assert belgium.deliver().sent == 1
            [announcement] = peer_messages(belgium)
            assert announcement.status == OutboxStatus.SENT
            assert received(netherlands) == 1

            # The answer got lost and BE sends it again: NL says "replay", BE counts it
            # delivered, and NL still holds it once.
            with unit_of_work(belgium.runtime.sessions) as session:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == announcement.id)
                    .values(status=OutboxStatus.PENDING, next_attempt_at=belgium.clock.now)
                )
            assert belgium.deliver().sent == 1
            assert received(netherlands) == 1

            # -- Groningen presents the import: compared with the announcement ---------------
            with unit_of_work(netherlands.runtime.sessions) as session:
                add_user(session, "officer.nl", Role.OFFICER, ["NL"])
                token = create_token(session, "officer.nl")
            arriving = shipment_payload(
                **{
                    "authority": "NL",
                    "presented_at": now.isoformat(),
                    "entry_point": "AMS",
                    "certificate.number": number,
                    "certificate.issuing_country": "EU",
                    "certificate.issuing_authority": ANTWERP,
                    "certificate.validating_authority": ANTWERP,
                    "certificate.issued_on": issued_on.isoformat(),
                    "certificate.expires_on": valid_until.isoformat(),
                    "certificate.exporter.name": EXPORTER,
                    "certificate.importer.name": IMPORTER,
                }
            )
            api = f"{netherlands.url}/api/v1/shipments"
            tampered = json.loads(json.dumps(arriving))
            tampered["certificate"]["carats"] = "120.00"
            status, checked = call(f"{api}/check", token, tampered)
            assert status == 200, checked
            [mismatch] = [f for f in checked["findings"] if f["rule"] == "kp.electronic_messages"]
            assert mismatch["outcome"] == "hold"
            assert mismatch["data"]["differences"]["carats"] == {
                "announced": "123.45",
                "presented": "120.00",
            }

            status, presented = call(api, token, arriving)
            assert status == 201, presented
            [compared] = [f for f in presented["findings"] if f["rule"] == "kp.electronic_messages"]
            assert (compared["outcome"], compared["data"]["announced_by"]) == ("pass", "BE")

            status, verified = call(f"{api}/{presented['id']}/actions/verify", token, {})
            assert status == 200, verified

        # -- NL's confirmation goes back to BE and closes the item there --------------------
        with belgium.serve():
            netherlands.clock.now = datetime.now(UTC)
            assert netherlands.deliver().sent >= 1
            [confirmation] = peer_messages(netherlands)
            assert confirmation.status == OutboxStatus.SENT, confirmation.last_error
            assert confirmation.data["rule"] == "eu.import_confirmation"

        with belgium.runtime.sessions() as session:
            awaited = deadline_of(session.get(Shipment, export_id), "eu.import_confirmation")
            assert awaited.status == DeadlineStatus.MET
            assert "from NL" in awaited.note
            [stored] = session.scalars(select(ExchangeMessage))
            assert (stored.peer_code, stored.reference, stored.type) == (
                "NL",
                number,
                "eu.import_confirmation",
            )
            dutch_key = ledger.signing_key(netherlands.runtime.settings).public_key()
            assert stored.key_id == key_id(dutch_key)  # NL signed it, with its own key

        # Each side reconciles what it did with what the other said.
        month = now.astimezone(ZoneInfo("Europe/Brussels")).strftime("%Y-%m")
        with belgium.runtime.sessions() as session:
            exports = run_report(
                session, plugin_host, "kp.electronic_messages", "BE", month, BELGIAN_OFFICER
            )
            [row] = [r for r in exports.rows if r["certificate_number"] == number]
            assert (row["direction"], row["status"], row["peer"]) == ("export", "confirmed", "NL")
        with netherlands.runtime.sessions() as session:
            dutch = Actor("officer.nl", Role.OFFICER, frozenset({"NL"}))
            imports = run_report(session, plugin_host, "kp.electronic_messages", "NL", month, dutch)
            assert [(r["direction"], r["status"]) for r in imports.rows] == [
                ("import", "announced")
            ]

        # Each node sealed what it received; both ledgers verify with their own keys.
        assert ledger_verifies(belgium) and ledger_verifies(netherlands)
