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
import urllib.request
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from caratflow.accounts.provisioning import add_user, create_token
from caratflow.case.access import Actor
from caratflow.db import unit_of_work
from caratflow.deadlines.keeping import deadline_of
from caratflow.ledger import signing_keys, verification
from caratflow.ledger.signing import key_id
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
from caratflow.plugins.eu.documents import PARAMETERS as EU_DOCUMENTS
from caratflow.records.reports import run_report
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.servers import Node, node

pytestmark = pytest.mark.postgres_only

ANTWERP = "FPS Economy, Diamond Office Antwerp"
EXPORTER = "Schupstraat Diamonds NV"
IMPORTER = "Amsterdam Rough BV"
BELGIAN_OFFICER = Actor("officer.be", Role.OFFICER, frozenset({"BE"}), None)  # every duty


def dutch_authority(*plugins: str) -> Authority:
    """An EU node's authority the plugins do not ship: its administrator adds it."""
    return Authority(
        code="NL",
        name="CDIU, Central Import and Export Office, Groningen",
        country="NL",
        zone="Europe/Amsterdam",
        plugins=list(plugins or ["eu"]),
    )


def call(url: str, token: str, body: Any, **headers: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        | {name.replace("_", "-"): value for name, value in headers.items()},
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
    node.sequence()
    with verification.snapshot(node.runtime.sessions) as session:
        return verification.verify_ledger(session, node.private_key().public_key()).ok


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
        node("NL", tmp_path / "nl", plugin_host, now, dutch_authority()) as netherlands,
    ):
        # Each node signs with its own key and registers the other's.
        assert belgium.public_key() != netherlands.public_key()
        belgium.register(netherlands, "eu.import_confirmation")
        netherlands.register(belgium, "kp.electronic_messages")
        belgium.route("kp-authority:NL", "NL")  # the destination's KP authority
        # A Community certificate names the EU, not the Member State that validated it:
        # NL confirms to the authority whose node announced it, which is BE's.
        netherlands.route("kp-authority:BE", "BE")

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

            url = f"{api}/{presented['id']}/actions/verify"
            status, verified = call(url, token, {}, If_Match=f'"{presented["version"]}"')
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
            dutch_key = signing_keys.signing_key(netherlands.runtime.settings).public_key()
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
