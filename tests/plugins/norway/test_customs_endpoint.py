"""Tollvesenet told by a signed message, not by e-mail (FOR-2004-02-24-470 §12; issue 10).

A Norwegian node (its own PostgreSQL database and ledger key, its worker on a clock)
completes the control of an import, which grants the permit (``no.control.mark``); the
notice for the audience ``customs`` goes to Tollvesenet's clearance system, registered
as a peer that sends nothing back (``caratflow peers add TOLL --url … --public-key …`` with
no ``--accepts``) and mapped to the audience (``deadlines add-recipient NO customs
peer:TOLL``). That system is a real HTTP server on localhost standing in for customs: it
checks each envelope with the node's public key alone and answers 202. A report of a
suspected offence (``no.control.suspicion``) goes to the investigators' endpoint only.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import select

from caratflow.db import unit_of_work
from caratflow.exchange.messages import MESSAGE_CONTEXT, PATH
from caratflow.ledger.signing import canonical_json, public_key_pem
from caratflow.models import OutboxMessage, OutboxStatus
from caratflow.testing.servers import JsonEndpoint, node

from .test_norway import SUPERVISOR, register, verified_import
from .test_norway import import_payload as norwegian_import

pytestmark = pytest.mark.postgres_only

NOW = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)  # Gardermoen, the morning of presentation
GROUNDS = "seal numbers reused from a consignment refused in June"


class CustomsEndpoint(JsonEndpoint):
    """Tollvesenet's system, as far as caratflow meets it: POST ``<base>/api/v1/exchange/
    messages``, an envelope it accepts only when it verifies with the node's key."""

    def __init__(self, node_public_key_pem: str):
        key = load_pem_public_key(node_public_key_pem.encode())
        self.received: list[tuple[str, dict[str, Any]]] = []  # (path, message), verified

        def take(path: str, envelope: Any) -> tuple[int, Any]:
            message = envelope["message"]
            try:
                key.verify(
                    base64.b64decode(envelope["signature"]),
                    MESSAGE_CONTEXT + canonical_json(message),
                )
            except InvalidSignature:
                return 401, {"reason": "bad_signature"}
            if any(m["id"] == message["id"] for _, m in self.received):
                return 409, {"reason": "replay", "same_content": True}
            self.received.append((path, message))
            return 202, {"received": message["id"]}

        super().__init__(take)


@pytest.fixture
def norway(tmp_path, plugin_host):
    """The Norwegian node, with Tollvesenet's clearance and investigation endpoints
    registered and mapped to their audiences; the importer and exporter registered (§7)."""
    with node("NO", tmp_path / "no", plugin_host, NOW) as found:
        customs = CustomsEndpoint(found.public_key())
        customs_key = public_key_pem(Ed25519PrivateKey.generate())  # customs signs nothing here
        found.add_peer("TOLL", customs.url, customs_key)  # receives only: no --accepts
        found.add_peer("TOLLINV", f"{customs.url}/investigation", customs_key)
        found.route("customs", "TOLL")
        found.route("customs-investigation", "TOLLINV")
        with unit_of_work(found.runtime.sessions) as session:
            for name in ("Thune Gullsmed AS", "Nordic Rough AS"):
                register(session, found.runtime, name)
        yield found, customs
        customs.down()


def peer_messages(at) -> list[OutboxMessage]:
    with at.runtime.sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.address.like("peer:%"))
        return list(session.scalars(query.order_by(OutboxMessage.id)))


def test_the_permit_reaches_customs_signed_once_after_customs_comes_back(norway):
    at, customs = norway
    with unit_of_work(at.runtime.sessions) as session:
        shipment_id = verified_import(session, at.runtime.shipments).id  # the permit granted

    at.deliver()  # customs' system is down: the notice waits for a retry
    [waiting] = peer_messages(at)
    assert (waiting.address, waiting.status, waiting.attempts) == ("peer:TOLL", "pending", 1)
    assert "unreachable" in waiting.last_error and customs.received == []

    customs.up()
    at.clock.advance(minutes=10)  # past the backoff
    at.deliver()
    at.clock.advance(hours=2)
    at.deliver()  # nothing left to send: delivered once
    [(path, message)] = customs.received
    assert path == PATH
    assert (message["type"], message["from"], message["to"]) == ("no.control.mark", "NO", "TOLL")
    assert message["data"]["certificate"] == "CA123456"
    assert message["data"]["basis"] == "FOR-2004-02-24-470 §12 first and second paragraphs"
    assert "Permit granted: import into Norway" in message["subject"]
    [sent] = peer_messages(at)
    assert (sent.status, sent.shipment_id) == (OutboxStatus.SENT, shipment_id)


def test_a_suspicion_goes_to_the_investigators_endpoint_only(norway):
    at, customs = norway
    customs.up()
    with unit_of_work(at.runtime.sessions) as session:
        service = at.runtime.shipments
        shipment = service.present(session, norwegian_import(), SUPERVISOR).shipment
        service.act(session, shipment.id, "notify_customs_suspicion", SUPERVISOR, reason=GROUNDS)
    at.deliver()
    [(path, message)] = customs.received
    assert path == f"/investigation{PATH}"
    assert (message["type"], message["to"]) == ("no.control.suspicion", "TOLLINV")
    assert message["data"]["grounds"] == GROUNDS


def test_customs_takes_nothing_it_cannot_verify_with_the_nodes_key(norway):
    """The stand-in's check is real: signed by the node, an envelope still fails against
    another key, and the node keeps the notice to send again."""
    at, _ = norway
    elsewhere = CustomsEndpoint(public_key_pem(Ed25519PrivateKey.generate()))
    elsewhere.up()
    try:
        at.add_peer("TOLL2", elsewhere.url, public_key_pem(Ed25519PrivateKey.generate()))
        at.route("customs", "TOLL2")
        with unit_of_work(at.runtime.sessions) as session:
            verified_import(session, at.runtime.shipments)
        at.deliver()
        assert elsewhere.received == []
        refused = [m for m in peer_messages(at) if m.address == "peer:TOLL2"]
        assert [(m.status, "401 bad_signature" in m.last_error) for m in refused] == [
            (OutboxStatus.PENDING, True)
        ]
    finally:
        elsewhere.down()
