"""Issue 24, point 2: a directory of addressees. A legal notice nobody can be reached for
is undeliverable, not sent: it waits, its supervisors are told, and it goes out (meeting
its deadline) once an addressee is added; ``log:`` is for development only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from caratflow.deadlines.directory import directory
from caratflow.deadlines.keeping import deadline_of
from caratflow.deadlines.outbox import (
    DeliverySettings,
    Dispatcher,
    add_recipient,
    outbox_counts,
    undeliverable,
)
from caratflow.deadlines.sweep import message_sent
from caratflow.models import Authority, DeadlineStatus, OutboxMessage, OutboxStatus
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.servers import Clock

NON_PARTICIPANT = {"certificate.issuing_country": "LY", "certificate.number": "LY0001"}
COMMISSION = "mailto:kp-notices@commission.example.eu"


def refused_non_participant(session, service, officer):
    """Art. 5(3): an import under a non-participant's certificate, refused outright."""
    shipment = service.present(session, shipment_payload(**NON_PARTICIPANT), officer).shipment
    return service.act(session, shipment.id, "refuse", officer, reason="not a participant")


def messages(session, shipment, kind: str) -> dict[str, OutboxMessage]:
    session.expire_all()
    query = select(OutboxMessage).where(
        OutboxMessage.shipment_id == shipment.id, OutboxMessage.kind == kind
    )
    return {m.audience: m for m in session.scalars(query)}


def dispatch(sessions, smtp_server, at: datetime):
    settings = DeliverySettings(smtp_host=smtp_server.host, smtp_port=smtp_server.port, timeout=5.0)
    return Dispatcher(sessions, settings, on_sent=[message_sent], clock=Clock(at)).dispatch()


def test_a_notice_without_an_addressee_is_undeliverable_and_its_supervisors_are_told(
    session, sessions, service, officer, clock, smtp_server
):
    add_recipient(session, "BE", "supervisors", "mailto:chef@diamonds.example.be")
    refused = refused_non_participant(session, service, officer)
    notices = messages(session, refused, "notice")
    assert {a: m.status for a, m in notices.items()} == {
        "commission": OutboxStatus.UNDELIVERABLE,
        "kp-authority:LY": OutboxStatus.UNDELIVERABLE,
    }
    assert "no addressee for commission" in notices["commission"].last_error
    alerts = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.shipment_id == refused.id, OutboxMessage.kind == "undeliverable"
        )
    ).all()
    assert {a.audience for a in alerts} == {"supervisors"} and len(alerts) == 2
    [alert] = [a for a in alerts if "no addressee for commission" in a.body]
    assert alert.subject.startswith("Undeliverable: ") and "Art. 5(3)" in alert.body
    assert "caratflow directory add BE commission" in alert.body
    session.commit()

    dispatch(sessions, smtp_server, clock.now)
    assert [m["To"] for m in smtp_server.messages] == ["chef@diamonds.example.be"] * 2
    assert outbox_counts(session, ["BE"])["undeliverable"] == 2  # never "sent"
    assert deadline_of(refused, "eu.notify.1_month").status == DeadlineStatus.OPEN


def test_adding_the_addressee_sends_the_waiting_notice_and_meets_its_deadline(
    session, sessions, service, officer, clock, smtp_server
):
    refused = refused_non_participant(session, service, officer)
    add_recipient(session, "BE", "commission", COMMISSION, "European Commission, DG TRADE")
    add_recipient(session, "BE", "kp-authority:LY", "mailto:kp@mines.example.ly")
    assert undeliverable(session, ["BE"]) == []
    session.commit()

    dispatch(sessions, smtp_server, clock.now)
    sent = sorted(m["To"] for m in smtp_server.messages if "Non-compliant" in m["Subject"])
    assert sent == ["kp-notices@commission.example.eu", "kp@mines.example.ly"]
    session.expire_all()
    assert deadline_of(refused, "eu.notify.1_month").status == DeadlineStatus.MET


def test_a_log_address_is_for_development_only_and_no_legal_notice_counts_as_sent_there(
    session, service, officer
):
    add_recipient(session, "BE", "commission", "log:commission")
    refused = refused_non_participant(session, service, officer)
    assert messages(session, refused, "notice")["commission"].status == (OutboxStatus.UNDELIVERABLE)
    entries = {
        e.audience: e for e in directory(session, service.host, session.get(Authority, "BE"))
    }
    assert entries["commission"].reach == "development only"
    assert entries["commission"].channels == ["log (development only)"]


def test_the_directory_lists_who_the_law_names_and_how_each_is_reached(
    session, service, plugin_host
):
    belgium, norway = session.get(Authority, "BE"), session.get(Authority, "NO")
    add_recipient(session, "BE", "commission", COMMISSION, "European Commission, DG TRADE")
    add_recipient(session, "BE", "officers", "mailto:controle@diamonds.example.be")
    entries = {e.audience: e for e in directory(session, plugin_host, belgium)}
    assert entries["commission"].reach == "reachable"
    assert entries["commission"].name == "European Commission, DG TRADE"
    assert entries["commission"].channels == ["e-mail"] and entries["commission"].legal
    assert entries["kp-authority:CA"].reach == "missing"  # every participant, as data
    assert "Canada" in entries["kp-authority:CA"].name
    assert not entries["officers"].legal
    norwegian = {e.audience: e for e in directory(session, plugin_host, norway)}
    assert set(norwegian) == {"customs", "customs-investigation"}
    assert "§12" in norwegian["customs"].basis
