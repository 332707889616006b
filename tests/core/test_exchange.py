"""Signed messages between authorities' nodes (issue 10): what a node refuses, and why;
what it stores once, seals in the ledger and does with what it stored.

The Belgian authority here has one peer, the Norwegian node ("NO": Norges Gullsmedforbund,
a participant outside the Community, issue 24), whose key each test makes; messages are
signed as the Norwegian node's ``PeerChannel`` would sign them. Norway confirms the receipt
of an import under its own law (FOR-2004-02-24-470 Vedlegg I, KPCS Section III(b)):
``kp.import_confirmation.fields``, which meets the Belgian exporter's
``eu.import_confirmation`` clock.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, update

from caratflow.deadlines.keeping import deadline_of
from caratflow.deadlines.outbox import DeliveryError, add_recipient
from caratflow.errors import Conflict, InvalidInput
from caratflow.exchange import messages, peers, sending
from caratflow.law.rules import LawForbids
from caratflow.ledger import sealing, sequencer, signing_keys, verification
from caratflow.ledger.signing import key_id, public_key_pem
from caratflow.models import (
    DeadlineStatus,
    ExchangeMessage,
    IssuedDocument,
    OutboxMessage,
    SecurityEvent,
)
from caratflow.records.reports import run_report
from caratflow.testing.databases import temporary_database
from caratflow.testing.payloads import export_payload as eu_export_payload
from caratflow.testing.payloads import outcomes, shipment_payload

URL = "/api/v1/exchange/messages"
SENT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
VALIDATED = {"sealed_under_supervision": "yes"}
CONFIRMATION = "kp.import_confirmation.fields"  # as Norway's node sends it
IMPORTER = "Thune Gullsmed AS"


@pytest.fixture
def norwegian_peer(register_norwegian):
    """NO, registered by BE: it may send confirmations of receipt and export messages."""
    return register_norwegian(CONFIRMATION, "kp.electronic_messages")


@pytest.fixture
def clocks(plugin_host):
    """What the receiving node's web route passes: the clocks each type meets."""
    return plugin_host.message_clocks(plugin_host.plugin_names)


def signed(
    key: Ed25519PrivateKey,
    *,
    rule: str = CONFIRMATION,
    message_id: str = f"event:7:{CONFIRMATION}:kp-authority:BE:0123456789ab",
    sender: str = "NO",
    to: str = "BE",
    **data: Any,
) -> dict[str, Any]:
    """An envelope as the sending node's outbox would sign it."""
    outbox = OutboxMessage(
        key=message_id,
        authority_code=sender,
        kind="notice",
        audience=f"kp-authority:{to}",
        address=f"peer:{to}",
        subject="Import confirmation: Kimberley Process certificate EC000001",
        body="Confirmed.",
        data={
            "certificate": "EC000001",
            "parcels": 2,
            "carats": "123.45",
            "importer": IMPORTER,
            "exporter": "Schupstraat Diamonds NV",
            "rule": rule,
            "basis": "FOR-2004-02-24-470 §3 and Vedlegg I (KPCS Section III(b))",
            **data,
        },
        scheduled_for=SENT,
    )
    return sending.envelope(outbox, to, key)


def refusals(session) -> list[SecurityEvent]:
    session.expire_all()
    query = select(SecurityEvent).where(SecurityEvent.kind == messages.SECURITY_EVENT)
    return list(session.scalars(query.order_by(SecurityEvent.id)))


def stored(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(ExchangeMessage))


def refused_with(
    client, session, caplog, envelope: Any, status: int, reason: str, url: str = URL
) -> dict:
    """Post ``envelope`` to ``url``: refused with ``status`` and ``reason``, logged, in the
    security log, and nothing stored."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="caratflow.exchange"):
        answer = client.post(url, json=envelope)
    assert (answer.status_code, answer.json["reason"]) == (status, reason), answer.json
    assert answer.json["error"] == "MessageRefused" and answer.json["message"]
    [line] = [r.getMessage() for r in caplog.records if r.name.startswith("caratflow.exchange")]
    assert f": {reason} (" in line and "refused message" in line
    event = refusals(session)[-1]
    assert event.detail["reason"] == reason
    assert stored(session) == 0
    return answer.json


# -- refused, each with its reason -------------------------------------------------------


def test_an_unsigned_or_garbled_message_is_refused_as_unsigned(
    client, session, caplog, norwegian_peer, norwegian_key
):
    envelope = signed(norwegian_key)
    del envelope["signature"]
    refused_with(client, session, caplog, envelope, 401, "unsigned")
    garbled = signed(norwegian_key) | {"signature": "not base64 at all"}
    refused_with(client, session, caplog, garbled, 401, "unsigned")
    assert refusals(session)[-1].authorities == ["BE"]  # BE's supervisors see it


def test_a_message_from_an_unknown_sender_is_refused(
    client, session, caplog, norwegian_key, register_norwegian
):
    # No peer registered at all; then one for NO, and a message claiming to be from DE.
    answer = refused_with(client, session, caplog, signed(norwegian_key), 403, "unknown_sender")
    assert "BE has no peer NO" in answer["message"]
    register_norwegian(CONFIRMATION)
    german = signed(norwegian_key, sender="DE")
    refused_with(client, session, caplog, german, 403, "unknown_sender")
    assert refusals(session)[-1].user_name == "peer:DE"


def test_a_tampered_message_is_refused(client, session, caplog, norwegian_peer, norwegian_key):
    envelope = signed(norwegian_key)
    envelope["message"]["data"]["carats"] = "99.00"  # changed on the way
    answer = refused_with(client, session, caplog, envelope, 401, "bad_signature")
    assert "altered after it was signed" in answer["message"]


def test_a_message_signed_with_another_key_is_refused(client, session, caplog, norwegian_peer):
    impostor = Ed25519PrivateKey.generate()
    answer = refused_with(client, session, caplog, signed(impostor), 401, "bad_signature")
    assert f"signed with key {key_id(impostor.public_key())}" in answer["message"]
    assert peers.peer_key_id(norwegian_peer) in answer["message"]


def test_a_type_the_peer_may_not_send_is_refused(
    client, session, caplog, norwegian_peer, norwegian_key
):
    notice = signed(norwegian_key, rule="eu.notify.1_month")
    answer = refused_with(client, session, caplog, notice, 422, "not_accepted")
    assert "does not take 'eu.notify.1_month' from NO" in answer["message"]


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b"{not json", b'{"message": "hello"}', b'{"message": {"from": 1, "to": "BE"}}'],
)
def test_a_body_that_is_no_envelope_is_refused_as_malformed(client, session, body):
    answer = client.post(URL, data=body, content_type="application/json")
    assert (answer.status_code, answer.json["reason"]) == (422, "malformed")
    assert refusals(session)[-1].detail["reason"] == "malformed"


def test_a_replayed_message_is_refused_and_stored_once(
    client, session, caplog, norwegian_peer, norwegian_key
):
    envelope = signed(norwegian_key)
    first = client.post(URL, json=envelope)
    assert first.status_code == 202, first.json
    answer = client.post(URL, json=envelope)
    assert (answer.status_code, answer.json["reason"]) == (409, "replay")
    assert answer.json["same_content"] is True
    assert stored(session) == 1
    assert refusals(session)[-1].detail["reason"] == "replay"


# -- stored once, sealed ---------------------------------------------------------------------


def test_a_message_is_stored_once_and_sealed_in_the_ledger(
    client, session, runtime, norwegian_peer, norwegian_key
):
    answer = client.post(URL, json=signed(norwegian_key))
    assert answer.status_code == 202, answer.json
    assert answer.json["status"] == "received"
    assert (answer.json["from"], answer.json["to"], answer.json["reference"]) == (
        "NO",
        "BE",
        "EC000001",
    )
    [row] = session.scalars(select(ExchangeMessage))
    assert row.key_id == peers.peer_key_id(norwegian_peer) and row.type == CONFIRMATION
    entry = sealing.find_entry(session, messages.EXCHANGE, str(row.id))
    assert entry is not None and entry.leaf_hash.hex() == answer.json["ledger"]["leaf_hash"]
    # The leaf alone proves what NO said: its signed content and the signature.
    assert entry.record["content"]["data"]["carats"] == "123.45"
    assert entry.record["signature"] == row.signature

    key = signing_keys.signing_key(runtime.settings)
    sequencer.sequence_pending(session, key)
    assert verification.verify_ledger(session, key.public_key()).ok


def test_an_edited_stored_message_is_named_by_ledger_verify(
    session, runtime, norwegian_peer, norwegian_key
):
    receipt = messages.receive(session, signed(norwegian_key), now=SENT)
    key = signing_keys.signing_key(runtime.settings)
    sequencer.sequence_pending(session, key)
    content = dict(receipt.message.content) | {"body": "Not confirmed."}
    session.execute(
        update(ExchangeMessage)
        .where(ExchangeMessage.id == receipt.message.id)
        .values(content=content)
    )
    report = verification.verify_ledger(session, key.public_key())
    assert f"exchange_message {receipt.message.id}" in report.rows


def test_receiving_a_message_again_is_a_replay_in_the_core_too(
    session, norwegian_peer, norwegian_key
):
    messages.receive(session, signed(norwegian_key), now=SENT)
    with pytest.raises(messages.Refused) as again:
        messages.receive(session, signed(norwegian_key), now=SENT + timedelta(minutes=5))
    assert again.value.reason == "replay" and again.value.status == 409


# -- what a received message does ------------------------------------------------------------


def export_payload(**changes: Any) -> dict[str, Any]:
    """An export to Norway, whose node confirms it."""
    return eu_export_payload(
        **{"certificate.importer.name": IMPORTER, "destination": "NO", **changes}
    )


def exported(session, service, officer):
    shipment = service.present(session, export_payload(), officer).shipment
    service.act(session, shipment.id, "verify", officer, inputs=VALIDATED)
    shipment = service.act(session, shipment.id, "export", officer)
    number = session.scalar(
        select(IssuedDocument.number).where(IssuedDocument.shipment_id == shipment.id)
    )
    return shipment, number


def test_the_importing_participants_confirmation_meets_the_exporters_deadline(
    session, service, officer, clock, norwegian_peer, norwegian_key, clocks
):
    shipment, number = exported(session, service, officer)
    deadline = deadline_of(shipment, "eu.import_confirmation")
    assert deadline.status == DeadlineStatus.OPEN and deadline.period == "1 month"
    [awaited] = [f for f in shipment.events[-1].findings if f.rule == "eu.import_confirmation"]
    assert awaited.basis == "Reg. (EC) 2368/2002 Art. 8" and "NO's authority" in awaited.message

    receipt = messages.receive(
        session,
        signed(norwegian_key, certificate=number),
        now=clock.now + timedelta(days=3),
        clocks=clocks,
    )
    assert receipt.deadlines_met == [deadline]
    assert deadline.status == DeadlineStatus.MET
    assert deadline.note.startswith(f"met by message event:7:{CONFIRMATION}")


def test_a_confirmation_before_the_export_was_recorded_leaves_nothing_to_await(
    session, service, officer, norwegian_peer, norwegian_key
):
    shipment = service.present(session, export_payload(), officer).shipment
    service.act(session, shipment.id, "verify", officer, inputs=VALIDATED)
    number = session.scalar(
        select(IssuedDocument.number).where(IssuedDocument.shipment_id == shipment.id)
    )
    messages.receive(session, signed(norwegian_key, certificate=number), now=SENT)
    shipment = service.act(session, shipment.id, "export", officer)
    assert deadline_of(shipment, "eu.import_confirmation") is None
    [confirmed] = [f for f in shipment.events[-1].findings if f.rule == "eu.import_confirmation"]
    assert confirmed.data["confirmed_by"] == "NO" and "confirmed already" in confirmed.message


def test_an_unconfirmed_export_reminds_the_officers_and_tells_the_supervisors(
    session, service, officer, clock
):
    from caratflow.deadlines.sweep import sweep

    shipment, _ = exported(session, service, officer)
    deadline = deadline_of(shipment, "eu.import_confirmation")
    assert sweep(session, datetime.combine(deadline.due_on, datetime.min.time(), UTC)).reminders
    assert sweep(session, deadline.due_at + timedelta(minutes=1)).missed == 1
    escalation = session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.deadline_id == deadline.id, OutboxMessage.kind == "escalation"
        )
    )
    assert escalation.audience == "supervisors" and "eu.import_confirmation" in escalation.subject


def test_a_presented_certificate_is_compared_with_the_export_message(
    session, service, officer, norwegian_peer, norwegian_key
):
    announced = signed(
        norwegian_key,
        rule="kp.electronic_messages",
        message_id="event:3:kp.electronic_messages:kp-authority:BE:0123456789ab",
        certificate="NO2026-0042",
        carats="120.00",  # the certificate says 123.45
        parcels=2,
        importer="Schupstraat Diamonds NV",
        exporter="Arctic Rough Ltd",
        value_usd="456789.00",
    )
    messages.receive(session, announced, now=SENT)

    unannounced = service.present(session, shipment_payload(), officer).shipment
    assert "kp.electronic_messages" not in outcomes(unannounced.events[0].findings)

    payload = norwegian_import("NO2026-0042")
    shipment = service.present(session, payload, officer).shipment
    [finding] = [f for f in shipment.events[0].findings if f.rule == "kp.electronic_messages"]
    assert (finding.outcome, finding.basis) == (
        "hold",
        "Reg. (EC) 2368/2002 Annex I, Annex II (recommendations)",
    )
    assert finding.data["differences"] == {"carats": {"announced": "120.00", "presented": "123.45"}}
    assert "carats announced 120.00, presented 123.45" in finding.message
    with pytest.raises(LawForbids, match=r"kp\.electronic_messages"):
        service.act(session, shipment.id, "verify", officer)


def test_an_import_is_confirmed_to_the_authority_whose_node_announced_its_certificate(
    session, service, officer, norwegian_peer, norwegian_key
):
    """eu.import_confirmation: to the authority that validated the certificate, whose node
    announced it; else to the issuing participant's."""

    def confirmed_to(payload: dict[str, Any]) -> list[str]:
        shipment = service.present(session, payload, officer).shipment
        service.act(session, shipment.id, "verify", officer)
        query = select(OutboxMessage.audience).where(OutboxMessage.shipment_id == shipment.id)
        notices = session.scalars(query.where(OutboxMessage.subject.like("Import confirmation%")))
        return list(notices)

    announced = signed(
        norwegian_key,
        rule="kp.electronic_messages",
        message_id="event:9:kp.electronic_messages:kp-authority:BE:0123456789ab",
        certificate="NO2026-0042",
        importer="Schupstraat Diamonds NV",
        exporter="Arctic Rough Ltd",
        value_usd="456789.00",
    )
    messages.receive(session, announced, now=SENT)
    assert confirmed_to(norwegian_import("NO2026-0042")) == ["kp-authority:NO"]
    assert confirmed_to(shipment_payload()) == ["kp-authority:CA"]  # announced by nobody


def norwegian_import(number: str) -> dict[str, Any]:
    """An import into the Community under a Norwegian KP certificate."""
    return shipment_payload(
        **{
            "certificate.number": number,
            "certificate.issuing_country": "NO",
            "certificate.issuing_authority": "Norges Gullsmedforbund",
            "certificate.validating_authority": "Norges Gullsmedforbund",
            "certificate.provenance": "NO",
        }
    )


def test_a_certificate_as_announced_passes(
    session, service, officer, norwegian_peer, norwegian_key
):
    announced = signed(
        norwegian_key,
        rule="kp.electronic_messages",
        certificate="CA123456",
        carats="123.450",  # the same amount, written otherwise
        importer="schupstraat  diamonds nv",
        exporter="Arctic Rough Ltd",
    )
    messages.receive(session, announced, now=SENT)
    shipment = service.present(session, shipment_payload(), officer).shipment
    assert outcomes(shipment.events[0].findings)["kp.electronic_messages"] == "pass"


def test_the_reconciliation_matches_exports_and_imports_with_what_peers_said(
    session, service, officer, plugin_host, norwegian_peer, norwegian_key
):
    _, number = exported(session, service, officer)
    _, other = exported(session, service, officer)
    messages.receive(session, signed(norwegian_key, certificate=number, carats="120.00"), now=SENT)
    service.present(session, shipment_payload(), officer)
    session.flush()
    result = run_report(session, plugin_host, "kp.electronic_messages", "BE", "2026-11", officer)
    rows = {(r["direction"], r["certificate_number"]): r for r in result.rows}
    assert rows[("export", number)]["status"] == "differs"
    assert rows[("export", number)]["differences"] == "carats confirmed 120.00, exported 123.45"
    assert rows[("export", other)]["status"] == "unconfirmed"
    assert rows[("import", "CA123456")]["status"] == "not announced"
    assert result.report.version.basis.startswith("Reg. (EC) 2368/2002 Annex I")


# -- peers and sending --------------------------------------------------------------------


def test_a_peer_needs_an_ed25519_key_a_url_and_what_it_may_send(session, norwegian_key):
    with pytest.raises(InvalidInput) as bad:
        peers.add_peer(
            session, "BE", "n!", base_url="ftp://x", public_key="nonsense", accepts=["No Type!"]
        )
    assert {e.field for e in bad.value.errors} == {"code", "url", "public_key", "accepts"}
    receiving_only = peers.add_peer(  # a system that takes messages and sends none
        session,
        "BE",
        "CUSTOMS",
        base_url="https://customs.example.be/kp",
        public_key=public_key_pem(norwegian_key),
        accepts=[],
    )
    assert receiving_only.accepts == []
    peers.add_peer(
        session,
        "BE",
        "no",
        base_url="https://kp.example.no",
        public_key=public_key_pem(norwegian_key),
        accepts=[CONFIRMATION],
    )
    with pytest.raises(Conflict):
        peers.add_peer(
            session,
            "BE",
            "NO",
            base_url="https://kp.example.no",
            public_key=public_key_pem(norwegian_key),
            accepts=[CONFIRMATION],
        )


def test_an_audience_goes_to_a_peer_only_once_it_is_registered(session, norwegian_key):
    with pytest.raises(InvalidInput, match="BE has no peer 'NO'"):
        add_recipient(session, "BE", "kp-authority:NO", "peer:NO")
    peers.add_peer(
        session,
        "BE",
        "NO",
        base_url="https://kp.example.no",
        public_key=public_key_pem(norwegian_key),
        accepts=[CONFIRMATION],
    )
    assert add_recipient(session, "BE", "kp-authority:NO", "peer:NO").address == "peer:NO"


def test_a_message_for_an_unknown_or_unreachable_peer_waits_for_a_retry(
    sessions, runtime, register_norwegian
):
    channel = sending.PeerChannel(
        sessions, lambda: signing_keys.signing_key(runtime.settings), timeout=2.0
    )
    message = OutboxMessage(
        key="k1",
        authority_code="BE",
        kind="notice",
        address="peer:NO",
        subject="s",
        body="b",
        data={"rule": "kp.electronic_messages"},
        scheduled_for=SENT,
    )
    with pytest.raises(DeliveryError, match="BE has no peer 'NO'"):
        channel.send(message, False)
    register_norwegian(CONFIRMATION)  # at the discard port: nobody listens
    with pytest.raises(DeliveryError, match="peer NO unreachable"):
        channel.send(message, False)


def test_the_envelope_is_the_same_bytes_on_every_retry(norwegian_key):
    assert signed(norwegian_key) == signed(norwegian_key)
    envelope = signed(norwegian_key)
    assert envelope["message"]["created_at"] == "2026-11-23T09:00:00Z"
    assert envelope["message"]["type"] == CONFIRMATION
    assert envelope["key_id"] == key_id(norwegian_key.public_key())


def test_peers_are_registered_and_listed_from_the_command_line(backend, tmp_path, norwegian_key):
    from caratflow.cli import main

    key_file = tmp_path / "no.pem"
    key_file.write_text(public_key_pem(norwegian_key))
    with temporary_database(backend, tmp_path) as url:
        env = {"CARATFLOW_DATABASE_URL": url, "CARATFLOW_INSTANCE_PATH": str(tmp_path)}
        runner = CliRunner(env=env)

        def run(*args: str) -> Any:
            result = runner.invoke(main, list(args), catch_exceptions=False)
            assert result.exit_code == 0, result.output
            return result

        run("init")
        added = run(
            "peers",
            "add",
            "--authority",
            "BE",
            "--code",
            "NO",
            "--url",
            "http://127.0.0.1:8081/",
            "--public-key",
            str(key_file),
            "--accepts",
            f"{CONFIRMATION},kp.electronic_messages",
        )
        assert key_id(norwegian_key.public_key()) in added.stdout
        listed = run("peers", "list").stdout
        assert "BE   NO     http://127.0.0.1:8081" in listed
        assert f"accepts kp.electronic_messages, {CONFIRMATION}" in listed
        own = run("peers", "key")
        assert own.stdout.startswith("-----BEGIN PUBLIC KEY-----")
        assert own.stderr.startswith("key id ")
        run("deadlines", "add-recipient", "BE", "kp-authority:NO", "peer:NO")
