"""Two authorities' nodes talk to each other (issue 10), end to end, as the law has them
(issue 24 point 4): Antwerp (BE: the eu and belgium_g7 plugins) and Norges Gullsmedforbund
(NO: the norway plugin). A movement between two Member States is neither an import nor an
export (Reg. (EC) 2368/2002 Art. 1): the Community's partner is a participant outside it.

Two real app instances, each served by waitress on its own localhost port, each with its
own database (both on SQLite, then both on PostgreSQL) and its own ledger key.

- Antwerp exports to Norway: its dispatcher delivers the export message to NO, which is
  down for a while and gets it once it is back, once; NO presents the import at
  Gardermoen, compared with the announcement, controls it and grants the permit; its
  confirmation of receipt (FOR-2004-02-24-470 Vedlegg I, KPCS Section III(b)) goes back to
  BE, whose clock awaiting it (``eu.import_confirmation``) is met.
- Norway exports to Antwerp: NO validates its KP certificate and announces it; BE
  presents the import, compared with the announcement, verifies it and confirms it to
  NO (Art. 8), whose node keeps the confirmation of its export.

Decisions are taken through the service and the HTTP API; deliveries by each node's
scheduler ``Worker`` dispatcher on an explicit clock: no sleeping on backoff.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from caratflow.accounts.provisioning import add_user, create_token
from caratflow.case.access import Actor
from caratflow.case.parties import register_party
from caratflow.db import unit_of_work
from caratflow.deadlines.keeping import deadline_of
from caratflow.ledger import signing_keys, verification
from caratflow.ledger.signing import key_id
from caratflow.models import (
    DeadlineStatus,
    ExchangeMessage,
    IssuedDocument,
    OutboxMessage,
    OutboxStatus,
    Role,
    Shipment,
)
from caratflow.records.reports import run_report
from caratflow.testing.payloads import shipment_payload, valid_today
from caratflow.testing.servers import Node, node

ANTWERP = "FPS Economy, Diamond Office Antwerp"
NORWAY = "Norges Gullsmedforbund"
ANTWERP_TRADER = "Schupstraat Diamonds NV"
OSLO_TRADER = "Thune Gullsmed AS"
BELGIAN_OFFICER = Actor("officer.be", Role.OFFICER, frozenset({"BE"}), None)  # every duty
NORWEGIAN_OFFICER = Actor("officer.no", Role.OFFICER, frozenset({"NO"}))
ANNOUNCEMENT, RECEIPT = "kp.electronic_messages", "kp.import_confirmation.fields"
ART_8 = "eu.import_confirmation"
PASS = {"outcome": "pass"}


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


def peer_messages(node: Node, rule: str) -> list[OutboxMessage]:
    with node.runtime.sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.address.like("peer:%"))
        found = session.scalars(query.order_by(OutboxMessage.id))
        return [m for m in found if m.data.get("rule") == rule]


def received(node: Node, kind: str | None = None) -> list[ExchangeMessage]:
    with node.runtime.sessions() as session:
        query = select(ExchangeMessage).order_by(ExchangeMessage.id)
        return [m for m in session.scalars(query) if kind is None or m.type == kind]


def ledger_verifies(node: Node) -> bool:
    node.sequence()
    with verification.snapshot(node.runtime.sessions) as session:
        return verification.verify_ledger(session, node.private_key().public_key()).ok


def advance_notice(now: datetime, **said: Any) -> dict[str, Any]:
    """The §8 notice on the set form, received a week before a dispatch today."""
    oslo = now.astimezone(ZoneInfo("Europe/Oslo"))
    return {
        "received_at": (oslo - timedelta(days=7)).isoformat(),
        "dispatch_on": oslo.date().isoformat(),
        **said,
    }


@contextmanager
def antwerp_and_oslo(tmp_path, plugin_host, backend, now) -> Iterator[tuple[Node, Node]]:
    """The two nodes, each knowing the other, and the Norwegian traders registered (§7)."""
    with (
        node("BE", tmp_path / "be", plugin_host, now, backend=backend) as belgium,
        node("NO", tmp_path / "no", plugin_host, now, backend=backend) as norway,
    ):
        # Each node signs with its own key and registers the other's, with what it takes.
        assert belgium.public_key() != norway.public_key()
        belgium.register(norway, ANNOUNCEMENT, RECEIPT)
        norway.register(belgium, ANNOUNCEMENT, ART_8)
        belgium.route("kp-authority:NO", "NO")
        norway.route("kp-authority:BE", "BE")
        with unit_of_work(norway.runtime.sessions) as session:
            for name, role in ((OSLO_TRADER, "importer"), ("Nordic Rough AS", "exporter")):
                register_party(
                    session,
                    norway.runtime.plugins,
                    {
                        "authority": "NO",
                        "name": name,
                        "address": "Karl Johans gate 31, 0159 Oslo",
                        "phone": "+47 22 42 50 10",
                        "roles": [role],
                        "organisation_number": "923609016",
                    },
                    NORWEGIAN_OFFICER,
                )
        yield belgium, norway


def test_antwerp_exports_to_norway_whose_node_controls_the_import_and_confirms_it(
    tmp_path, plugin_host, backend
):
    now = datetime.now(UTC).replace(microsecond=0)
    with antwerp_and_oslo(tmp_path, plugin_host, backend, now) as (belgium, norway):
        # -- Antwerp validates and exports; the announcement is queued for NO ----------------
        service = belgium.runtime.shipments
        with unit_of_work(belgium.runtime.sessions) as session:
            payload = shipment_payload(
                **{
                    "direction": "export",
                    "presented_at": now.isoformat(),
                    **valid_today(now),
                    "certificate.number": "EC004211",
                    "certificate.issuing_country": "EU",
                    "certificate.issuing_authority": ANTWERP,
                    "certificate.exporter.name": ANTWERP_TRADER,
                    "certificate.importer.name": OSLO_TRADER,
                }
            )
            payload["destination"] = "NO"
            payload["lawful_import"] = {
                "kind": "annex_v_declaration",
                "organisation": "World Diamond Council",
                "member": ANTWERP_TRADER,
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
            awaited = deadline_of(session.get(Shipment, export_id), ART_8)
            assert awaited.status == DeadlineStatus.OPEN

        # -- NO is down: the announcement waits, and goes once NO is back ---------------------
        first = belgium.deliver()
        assert first.retrying == 1
        [announcement] = peer_messages(belgium, ANNOUNCEMENT)
        assert announcement.status == OutboxStatus.PENDING
        assert "peer NO unreachable" in announcement.last_error
        assert announcement.data["destination"] == "NO"

        with norway.serve():
            belgium.clock.advance(seconds=10)  # not yet: the backoff still runs
            assert belgium.deliver().sent == 0
            belgium.clock.advance(minutes=1)
            assert belgium.deliver().sent == 1
            [announcement] = peer_messages(belgium, ANNOUNCEMENT)
            assert announcement.status == OutboxStatus.SENT
            assert len(received(norway)) == 1

            # The answer got lost and BE sends it again: NO says "replay", BE counts it
            # delivered, and NO still holds it once.
            with unit_of_work(belgium.runtime.sessions) as session:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == announcement.id)
                    .values(status=OutboxStatus.PENDING, next_attempt_at=belgium.clock.now)
                )
            assert belgium.deliver().sent == 1
            assert len(received(norway)) == 1

            # -- Gardermoen: presented, compared with the announcement, controlled ------------
            with unit_of_work(norway.runtime.sessions) as session:
                add_user(session, "officer.no", Role.OFFICER, ["NO"])
                token = create_token(session, "officer.no")
            arriving = shipment_payload(
                **{
                    "authority": "NO",
                    "presented_at": now.isoformat(),
                    **valid_today(now),
                    "entry_point": "OSL",
                    "certificate.number": number,
                    "certificate.issuing_country": "EU",
                    "certificate.issuing_authority": ANTWERP,
                    "certificate.validating_authority": ANTWERP,
                    "certificate.issued_on": issued_on.isoformat(),
                    "certificate.expires_on": valid_until.isoformat(),
                    "certificate.exporter.name": ANTWERP_TRADER,
                    "certificate.importer.name": OSLO_TRADER,
                    "certificate.provenance": "EU",
                }
            )
            arriving["advance_notice"] = advance_notice(
                now,
                certificate_number=number,
                parcels=2,
                carats="123.45",
                exporter=ANTWERP_TRADER,
                importer=OSLO_TRADER,
            )
            api = f"{norway.url}/api/v1/shipments"
            tampered = json.loads(json.dumps(arriving))
            tampered["certificate"]["carats"] = "120.00"
            status, checked = call(f"{api}/check", token, tampered)
            assert status == 200, checked
            [mismatch] = [f for f in checked["findings"] if f["rule"] == ANNOUNCEMENT]
            assert mismatch["outcome"] == "hold"
            assert mismatch["data"]["differences"]["carats"] == {
                "announced": "123.45",
                "presented": "120.00",
            }

            status, presented = call(api, token, arriving)
            assert status == 201, presented
            [compared] = [f for f in presented["findings"] if f["rule"] == ANNOUNCEMENT]
            assert (compared["outcome"], compared["data"]["announced_by"]) == ("pass", "BE")
            answer = presented
            for action, inputs in [
                ("store_bonded", {}),
                ("control_documents", PASS),
                ("control_identity", PASS),
                ("verify", {}),
            ]:
                url = f"{api}/{presented['id']}/actions/{action}"
                body = {"inputs": inputs} if inputs else {}
                status, answer = call(url, token, body, If_Match=f'"{answer["version"]}"')
                assert status == 200, (action, answer)
            assert answer["state"] == "verified"

        # -- NO's confirmation of receipt goes back to BE and closes the item there ---------
        with belgium.serve():
            norway.clock.now = datetime.now(UTC)
            norway.deliver()
            [confirmation] = peer_messages(norway, RECEIPT)
            assert confirmation.status == OutboxStatus.SENT, confirmation.last_error
            assert confirmation.audience == "kp-authority:BE"  # the node that announced it
            assert confirmation.data["certificate"] == number

        with belgium.runtime.sessions() as session:
            awaited = deadline_of(session.get(Shipment, export_id), ART_8)
            assert awaited.status == DeadlineStatus.MET
            assert "from NO" in awaited.note
            [stored] = session.scalars(select(ExchangeMessage))
            assert (stored.peer_code, stored.reference, stored.type) == ("NO", number, RECEIPT)
            norwegian_key = signing_keys.signing_key(norway.runtime.settings).public_key()
            assert stored.key_id == key_id(norwegian_key)  # NO signed it, with its own key

        # BE reconciles what it did with what NO said.
        month = now.astimezone(ZoneInfo("Europe/Brussels")).strftime("%Y-%m")
        with belgium.runtime.sessions() as session:
            exports = run_report(session, plugin_host, ANNOUNCEMENT, "BE", month, BELGIAN_OFFICER)
            [row] = [r for r in exports.rows if r["certificate_number"] == number]
            assert (row["direction"], row["status"], row["peer"]) == ("export", "confirmed", "NO")

        # Each node sealed what it received; both ledgers verify with their own keys.
        assert ledger_verifies(belgium) and ledger_verifies(norway)


def test_norway_exports_to_antwerp_whose_node_verifies_the_import_and_confirms_it(
    tmp_path, plugin_host, backend
):
    now = datetime.now(UTC).replace(microsecond=0)
    with antwerp_and_oslo(tmp_path, plugin_host, backend, now) as (belgium, norway):
        # -- Norway validates its KP certificate; the announcement is queued for BE ----------
        service = norway.runtime.shipments
        with unit_of_work(norway.runtime.sessions) as session:
            payload = shipment_payload(
                **{
                    "authority": "NO",
                    "direction": "export",
                    "presented_at": now.isoformat(),
                    **valid_today(now),
                    "entry_point": "OSL",
                    "certificate.number": "NO2026-0042",
                    "certificate.issuing_country": "NO",
                    "certificate.issuing_authority": NORWAY,
                    "certificate.validating_authority": NORWAY,
                    "certificate.exporter.name": "Nordic Rough AS",
                    "certificate.importer.name": ANTWERP_TRADER,
                    "certificate.provenance": "NO",
                }
            )
            payload["destination"] = "BE"
            payload["advance_notice"] = advance_notice(now)
            export = service.present(session, payload, NORWEGIAN_OFFICER).shipment
            for action, inputs in [
                ("control_documents", PASS),
                ("control_identity", PASS),
                ("verify", {"sealed_by_authority": "yes"}),
                ("export", {}),
            ]:
                service.act(session, export.id, action, NORWEGIAN_OFFICER, inputs=inputs)
            number = session.scalar(
                select(IssuedDocument.number).where(
                    IssuedDocument.shipment_id == export.id,
                    IssuedDocument.kind == "norway.kp_certificate",
                )
            )
            assert number.startswith("NO")

        with belgium.serve():
            norway.deliver()
            [announcement] = peer_messages(norway, ANNOUNCEMENT)
            assert announcement.status == OutboxStatus.SENT, announcement.last_error
            assert announcement.audience == "kp-authority:BE"
        [arrived] = received(belgium, ANNOUNCEMENT)
        assert (arrived.peer_code, arrived.reference) == ("NO", number)

        # -- Antwerp presents the import under the Norwegian certificate and verifies it -----
        service = belgium.runtime.shipments
        with unit_of_work(belgium.runtime.sessions) as session:
            arriving = shipment_payload(
                **{
                    "presented_at": now.isoformat(),
                    **valid_today(now),
                    "certificate.number": number,
                    "certificate.issuing_country": "NO",
                    "certificate.issuing_authority": NORWAY,
                    "certificate.validating_authority": NORWAY,
                    "certificate.exporter.name": "Nordic Rough AS",
                    "certificate.importer.name": ANTWERP_TRADER,
                    "certificate.provenance": "NO",
                }
            )
            shipment = service.present(session, arriving, BELGIAN_OFFICER).shipment
            [compared] = [f for f in shipment.events[0].findings if f.rule == ANNOUNCEMENT]
            assert (compared.outcome, compared.data["announced_by"]) == ("pass", "NO")
            verified = service.act(session, shipment.id, "verify", BELGIAN_OFFICER)
            assert verified.state == "verified"

        # -- BE's Art. 8 confirmation goes to NO's node, which keeps it ----------------------
        with norway.serve():
            belgium.clock.now = datetime.now(UTC)
            belgium.deliver()
            [confirmation] = peer_messages(belgium, ART_8)
            assert confirmation.status == OutboxStatus.SENT, confirmation.last_error
            assert confirmation.audience == "kp-authority:NO"
        [kept] = received(norway, ART_8)
        assert (kept.peer_code, kept.authority_code, kept.reference) == ("BE", "NO", number)
        assert kept.content["data"]["importer"] == ANTWERP_TRADER

        with norway.runtime.sessions() as session:
            count = select(func.count()).select_from(ExchangeMessage)
            assert session.scalar(count) == 1
        assert ledger_verifies(belgium) and ledger_verifies(norway)
