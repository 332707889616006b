"""Issue 26, point 1: the optional e-mail digest of "My work", through the outbox, once a
day per officer who opted in, at their time of day in their authority's zone."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select

from caratflow.accounts import digest
from caratflow.config import DeliverySettings
from caratflow.db import unit_of_work
from caratflow.deadlines.outbox import Dispatcher
from caratflow.deadlines.sweep import message_sent
from caratflow.errors import InvalidInput
from caratflow.models import OutboxMessage, Role
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.people import add_person

# 7 December 2026: Brussels is UTC+1, so 07:30 there is 06:30 UTC.
BEFORE = datetime(2026, 12, 7, 6, 15, tzinfo=UTC)
AFTER = datetime(2026, 12, 7, 6, 45, tzinfo=UTC)
LINK = "https://diamonds.example.be"


def digests(session) -> list[OutboxMessage]:
    session.expire_all()
    query = select(OutboxMessage).where(OutboxMessage.kind == digest.KIND)
    return list(session.scalars(query.order_by(OutboxMessage.id)))


def test_an_officer_who_opted_in_gets_one_digest_a_day_from_their_time_on(
    session, sessions, plugin_host, make_person, service, officer, smtp_server
):
    shipment = service.present(session, shipment_payload(), officer).shipment
    keen = make_person(Role.OFFICER, "BE", name="keen")
    make_person(Role.OFFICER, "BE", name="quiet")  # never opted in
    digest.subscribe(session, keen.user, "keen@diamonds.example.be", time(7, 30))
    session.commit()

    assert digest.send_digests(sessions, plugin_host, LINK, BEFORE) == 0  # 07:15 in Brussels
    assert digest.send_digests(sessions, plugin_host, LINK, AFTER) == 1
    assert digest.send_digests(sessions, plugin_host, LINK, AFTER + timedelta(hours=3)) == 0
    [message] = digests(session)
    assert (message.address, message.authority_code) == ("mailto:keen@diamonds.example.be", "BE")
    assert "quiet" not in message.audience and message.data["user"] == "keen"
    assert message.subject.startswith("My work, 2026-12-07: ")
    assert "Presentations waiting for your decision (1)" in message.body
    assert f"#{shipment.id} CA123456 (BE, " in message.body
    assert f"{LINK}/work" in message.body

    settings = DeliverySettings(smtp_host="127.0.0.1", smtp_port=smtp_server.port, timeout=5.0)
    Dispatcher(sessions, settings, on_sent=[message_sent], clock=lambda: AFTER).dispatch()
    [email] = smtp_server.messages
    assert email["To"] == "keen@diamonds.example.be"
    assert "CA123456" in email.get_payload(decode=True).decode()

    next_day = AFTER + timedelta(days=1)
    assert digest.send_digests(sessions, plugin_host, LINK, next_day) == 1
    assert [m.data["day"] for m in digests(session)] == ["2026-12-07", "2026-12-08"]


def test_the_time_of_day_is_read_in_the_officers_authoritys_zone(
    session, sessions, plugin_host, make_person, service, officer
):
    service.present(session, shipment_payload(), officer)
    belgian = make_person(Role.OFFICER, "BE", name="belg")
    digest.subscribe(session, belgian.user, "belg@example.org", time(7, 0))
    session.commit()
    # 06:15 UTC: not yet 07:00 in UTC, but 07:15 in Brussels, where the officer works
    assert digest.send_digests(sessions, plugin_host, LINK, BEFORE) == 1
    assert [m.data["day"] for m in digests(session)] == ["2026-12-07"]


def test_an_officer_who_opts_out_gets_none(
    session, sessions, plugin_host, make_person, service, officer
):
    service.present(session, shipment_payload(), officer)
    fickle = make_person(Role.OFFICER, "BE", name="fickle")
    digest.subscribe(session, fickle.user, "fickle@example.org", time(7, 0))
    digest.unsubscribe(session, fickle.user)
    session.commit()
    assert digest.send_digests(sessions, plugin_host, LINK, AFTER) == 0
    assert digests(session) == []


def test_a_day_with_nothing_waiting_sends_nothing(session, sessions, plugin_host, make_person):
    idle = make_person(Role.OFFICER, "BE", name="idle")
    digest.subscribe(session, idle.user, "idle@example.org", time(7, 0))
    session.commit()
    assert digest.send_digests(sessions, plugin_host, LINK, AFTER) == 0
    assert digests(session) == []


def test_a_mistyped_address_is_refused(session, make_person):
    person = make_person(Role.OFFICER, "BE", name="typo")
    with pytest.raises(InvalidInput) as refused:
        digest.subscribe(session, person.user, "typo at example.org", time(7, 0))
    assert refused.value.errors[0].field == "address"


def test_two_workers_at_once_send_one_digest(committed_runtime, officer):
    """Each worker claims the day's row; the second finds it claimed (the row lock on
    PostgreSQL, the write lock on SQLite)."""
    runtime = committed_runtime
    with unit_of_work(runtime.sessions) as session:
        runtime.shipments.present(session, shipment_payload(), officer)
        user = add_person(session, runtime.plugins, Role.OFFICER, "BE", name="raced")
        digest.subscribe(session, user, "raced@example.org", time(7, 0))
    start, counts = threading.Barrier(4), []

    def worker() -> None:
        start.wait()
        counts.append(digest.send_digests(runtime.sessions, runtime.plugins, LINK, AFTER))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(counts) == [0, 0, 0, 1]
    with unit_of_work(runtime.sessions) as session:
        assert len(digests(session)) == 1


def test_the_digest_reads_in_the_language_the_officer_chose(
    session, sessions, plugin_host, make_person, service, officer
):
    """A Flemish officer who chose Dutch on the pages gets the digest in Dutch, its state
    named as the catalogue names it; the same day, an English reader's is in English."""
    from caratflow.accounts import profiles

    service.present(session, shipment_payload(), officer)
    dutch = make_person(Role.OFFICER, "BE", name="an")
    profiles.profile(session, dutch.user).locale = "nl"
    english = make_person(Role.OFFICER, "BE", name="ann")
    for person in (dutch, english):
        digest.subscribe(session, person.user, f"{person.user.name}@diamonds.example.be", time(7))
    session.commit()

    assert digest.send_digests(sessions, plugin_host, LINK, AFTER) == 2
    by_user = {message.data["user"]: message for message in digests(session)}
    nl, en = by_user["an"], by_user["ann"]
    assert nl.subject.startswith("Mijn werk, 2026-12-07: ")
    assert "Aanbiedingen die op uw beslissing wachten (1)" in nl.body
    assert ": aangeboden" in nl.body and ": verstreken" in nl.body  # state, bucket in Dutch
    assert not {"presented", "overdue", "waiting"} & set(nl.body.split())
    assert en.subject.startswith("My work, 2026-12-07: ")
    assert "Presentations waiting for your decision (1)" in en.body
