"""What Norges Gullsmedforbund tells other participants' authorities under the KP scheme its
regulation annexes (FOR-2004-02-24-470 §3, Vedlegg I), and what it does with what they
tell it: an export announced to the destination's authority (Annex II, recommendation 4),
an import's receipt confirmed to the exporting authority (Section III(b)), an announced
certificate compared on arrival. Antwerp's node (BE) is the peer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from caratflow.exchange import messages, peers, sending
from caratflow.ledger.signing import public_key_pem
from caratflow.models import IssuedDocument, OutboxMessage
from caratflow.testing.payloads import outcomes

from .test_norway import (
    NOTICE,
    OFFICER,
    import_payload,
    registered,  # noqa: F401 - the fixture
    verified_import,
)
from .test_permits_and_appeals import notices, validated_export

pytestmark = pytest.mark.usefixtures("registered")
SENT = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
ANTWERP = "FPS Economy, Diamond Office Antwerp"
COMMUNITY_CERTIFICATE = {
    "certificate.number": "EC004211",
    "certificate.issuing_country": "EU",
    "certificate.issuing_authority": ANTWERP,
    "certificate.validating_authority": ANTWERP,
    "certificate.provenance": "EU",
    "advance_notice": {**NOTICE, "certificate_number": "EC004211"},
}


@pytest.fixture
def antwerp(session):
    """BE's node, registered at NO: it may announce its exports."""
    key = Ed25519PrivateKey.generate()
    peers.add_peer(
        session,
        "NO",
        "BE",
        base_url="http://127.0.0.1:9/",
        public_key=public_key_pem(key),
        accepts=["kp.electronic_messages", "eu.import_confirmation"],
    )
    session.commit()
    return key


def announce(session, key: Ed25519PrivateKey, **data: Any) -> None:
    """BE's export message about a Community certificate, as its outbox signs it."""
    outbox = OutboxMessage(
        key="event:5:kp.electronic_messages:kp-authority:NO:0123456789ab",
        authority_code="BE",
        kind="notice",
        audience="kp-authority:NO",
        address="peer:NO",
        subject="Kimberley Process export: certificate EC004211 to NO",
        body="Validated.",
        data={
            "rule": "kp.electronic_messages",
            "certificate": "EC004211",
            "carats": "123.45",
            "parcels": 2,
            "importer": "Thune Gullsmed AS",
            "exporter": "Arctic Rough Ltd",
            "value_usd": "456789.00",
            **data,
        },
        scheduled_for=SENT,
    )
    messages.receive(session, sending.envelope(outbox, "NO", key), now=SENT)


def test_a_validated_export_is_announced_to_the_destinations_authority(session, service):
    shipment = validated_export(session, service)
    [announcement] = notices(session, shipment, "kp-authority:BE")
    issued = session.scalar(
        select(IssuedDocument.number).where(
            IssuedDocument.shipment_id == shipment.id,
            IssuedDocument.kind == "norway.kp_certificate",
        )
    )
    assert announcement.data["rule"] == "kp.electronic_messages"
    assert (
        announcement.data["basis"]
        == "FOR-2004-02-24-470 Vedlegg I (KPCS Annex II, recommendation 4)"
    )
    assert announcement.data["certificate"] == issued  # the certificate it travels under
    assert (announcement.data["carats"], announcement.data["destination"]) == ("123.45", "BE")


def test_an_import_is_confirmed_to_the_authority_whose_node_announced_its_certificate(
    session, service, antwerp
):
    """A Community certificate names the EU, not the Member State that validated it: the
    receipt goes to Antwerp, whose node announced it (Vedlegg I Section III(b))."""
    announce(session, antwerp)
    shipment = verified_import(session, service, **COMMUNITY_CERTIFICATE)
    [confirmation] = notices(session, shipment, "kp-authority:BE")
    assert confirmation.data["rule"] == "kp.import_confirmation.fields"
    assert confirmation.data["basis"] == "FOR-2004-02-24-470 §3 and Vedlegg I (KPCS Section III(b))"
    assert {k: confirmation.data[k] for k in ("certificate", "parcels", "carats")} == {
        "certificate": "EC004211",
        "parcels": 2,
        "carats": "123.45",
    }
    assert (confirmation.data["importer"], confirmation.data["exporter"]) == (
        "Thune Gullsmed AS",
        "Arctic Rough Ltd",
    )


def test_an_unannounced_import_is_confirmed_to_the_issuing_participants_authority(session, service):
    shipment = verified_import(session, service)
    [confirmation] = [
        m for m in notices(session, shipment) if m.data["rule"] == "kp.import_confirmation.fields"
    ]
    assert confirmation.audience == "kp-authority:CA"


def test_a_certificate_that_differs_from_its_announcement_is_held(session, service, antwerp):
    announce(session, antwerp, carats="120.00")
    payload = import_payload(**COMMUNITY_CERTIFICATE)
    [found] = [
        f for f in service.check(session, payload, OFFICER) if f.rule == "kp.electronic_messages"
    ]
    assert (found.outcome, found.data["announced_by"]) == ("hold", "BE")
    [(field, values)] = found.data["differences"].items()
    assert (field, values["announced"], str(values["presented"])) == ("carats", "120.00", "123.45")
    assert "carats announced 120.00, presented 123.45" in found.message
    unannounced = outcomes(service.check(session, import_payload(), OFFICER))
    assert "kp.electronic_messages" not in unannounced
