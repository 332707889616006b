"""The outbox: written with the decision, delivered at least once through real channels
(a local SMTP server, a local HTTP server, the log), each message named by its key."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from caratflow.deadlines.keeping import deadline_of
from caratflow.deadlines.outbox import DeliverySettings, Dispatcher, add_recipient, enqueue
from caratflow.deadlines.sweep import message_sent
from caratflow.errors import InvalidInput
from caratflow.models import DeadlineStatus, OutboxMessage, OutboxStatus
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.servers import free_port

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


class Clock:
    """The dispatcher's clock, moved by hand so that backoff can be checked exactly."""

    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def queue(session, key: str = "test:1", audience: str = "officers", at: datetime = T0) -> int:
    return enqueue(
        session,
        key=key,
        authority="BE",
        audience=audience,
        kind="reminder",
        subject="Due in 3 working days: eu.confirm.10_days",
        body="Confirm the certificate.",
        scheduled_for=at,
    )


def dispatcher(sessions, clock: Clock, smtp=None, **settings) -> Dispatcher:
    options = {"smtp_host": "127.0.0.1", "smtp_port": smtp.port if smtp else free_port()}
    options |= {"smtp_from": "deadlines@diamonds.example.be", "timeout": 5.0} | settings
    return Dispatcher(sessions, DeliverySettings(**options), on_sent=[message_sent], clock=clock)


def rows(session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_queueing_the_same_key_again_writes_nothing(session):
    assert queue(session) == 1
    assert queue(session) == 0
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_an_audience_nobody_configured_is_told_through_the_log(session, sessions, caplog):
    queue(session)
    session.commit()
    with caplog.at_level(logging.WARNING, logger="caratflow.deadlines.outbox"):
        assert dispatcher(sessions, Clock()).dispatch().sent == 1
    assert "reminder for officers: Due in 3 working days" in caplog.text
    [message] = rows(session)
    assert (message.status, message.address) == (OutboxStatus.SENT, "log:officers")


def test_an_email_reaches_a_real_smtp_server_named_by_its_key(session, sessions, smtp_server):
    add_recipient(session, "BE", "officers", "mailto:controle@diamonds.example.be")
    queue(session)
    session.commit()
    result = dispatcher(sessions, Clock(), smtp_server).dispatch()
    assert result.sent == 1
    [email] = smtp_server.messages
    [message] = rows(session)
    assert email["To"] == "controle@diamonds.example.be"
    assert email["Subject"] == "Due in 3 working days: eu.confirm.10_days"
    assert email["X-Caratflow-Key"] == message.key
    assert email["Message-ID"].endswith("@diamonds.example.be>")
    assert (message.status, message.sent_at, message.attempts) == (OutboxStatus.SENT, T0, 1)
    assert dispatcher(sessions, Clock(T0 + timedelta(hours=1)), smtp_server).dispatch().sent == 0
    assert len(smtp_server.messages) == 1


def test_a_message_that_goes_out_after_downtime_is_marked_late(session, sessions, smtp_server):
    add_recipient(session, "BE", "officers", "mailto:controle@diamonds.example.be")
    queue(session)
    session.commit()
    dispatcher(sessions, Clock(T0 + timedelta(hours=30)), smtp_server).dispatch()
    [email] = smtp_server.messages
    assert email["Subject"] == "[late] Due in 3 working days: eu.confirm.10_days"
    assert "goes out late" in email.get_payload()
    assert rows(session)[0].late


def test_an_unreachable_smtp_server_is_retried_later_and_nothing_is_lost(
    session, sessions, smtp_server
):
    add_recipient(session, "BE", "officers", "mailto:controle@diamonds.example.be")
    queue(session)
    session.commit()
    clock = Clock()
    down = dispatcher(sessions, clock, retry_base=timedelta(seconds=30))
    assert down.dispatch().retrying == 1
    [message] = rows(session)
    assert message.status == OutboxStatus.PENDING
    assert message.next_attempt_at == T0 + timedelta(seconds=30)
    assert "SMTP 127.0.0.1" in message.last_error
    clock.now = T0 + timedelta(seconds=30)
    assert dispatcher(sessions, clock, smtp_server).dispatch().sent == 1
    assert len(smtp_server.messages) == 1


def test_a_worker_that_dies_mid_delivery_gives_its_messages_back_after_the_lease(
    session, sessions, smtp_server
):
    add_recipient(session, "BE", "officers", "mailto:controle@diamonds.example.be")
    for n in range(3):
        queue(session, key=f"test:{n}")
    session.commit()
    lease = timedelta(minutes=5)
    dead = dispatcher(sessions, Clock(), smtp_server, lease=lease)
    assert len(dead.claim()) == 3  # ...and the process dies before sending anything
    other = dispatcher(sessions, Clock(T0 + lease - timedelta(seconds=1)), smtp_server, lease=lease)
    assert other.dispatch().sent == 0  # claimed by the dead worker, not to be duplicated
    later = dispatcher(sessions, Clock(T0 + lease), smtp_server, lease=lease)
    assert later.dispatch().sent == 3
    assert [m.attempts for m in rows(session)] == [2, 2, 2]


# ---- webhooks -------------------------------------------------------------------------


class Webhook:
    """A real HTTP server answering with the next status of ``script`` (then 200)."""

    def __init__(self, script: list[int]):
        self.script = list(script)
        self.requests: list[tuple[dict[str, str], dict]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                sink.requests.append((dict(self.headers), json.loads(self.rfile.read(length))))
                status = sink.script.pop(0) if sink.script else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/caratflow"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook_server():
    servers: list[Webhook] = []

    def start(script: list[int]) -> Webhook:
        servers.append(Webhook(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_a_webhook_is_retried_with_exponential_backoff_under_one_key(
    session, sessions, webhook_server
):
    hook = webhook_server([503, 502])
    add_recipient(session, "BE", "officers", hook.url)
    queue(session)
    session.commit()
    clock = Clock()
    worker = dispatcher(sessions, clock, retry_base=timedelta(seconds=10))
    assert worker.dispatch().retrying == 1
    assert rows(session)[0].next_attempt_at == T0 + timedelta(seconds=10)
    clock.now = T0 + timedelta(seconds=9)
    assert worker.dispatch().retrying == 0  # not yet
    clock.now = T0 + timedelta(seconds=10)
    assert worker.dispatch().retrying == 1
    assert rows(session)[0].next_attempt_at == clock.now + timedelta(seconds=20)  # doubled
    assert "502" in rows(session)[0].last_error
    clock.now += timedelta(seconds=20)
    assert worker.dispatch().sent == 1
    keys = {headers["Idempotency-Key"] for headers, _ in hook.requests}
    assert len(hook.requests) == 3 and keys == {rows(session)[0].key}
    assert hook.requests[-1][1]["subject"] == "Due in 3 working days: eu.confirm.10_days"


def test_a_webhook_that_never_answers_well_fails_for_good_after_the_last_attempt(
    session, sessions, webhook_server
):
    hook = webhook_server([500] * 10)
    add_recipient(session, "BE", "officers", hook.url)
    queue(session)
    session.commit()
    clock = Clock()
    worker = dispatcher(sessions, clock, retry_base=timedelta(seconds=1), max_attempts=3)
    for _ in range(3):
        worker.dispatch()
        clock.now += timedelta(minutes=1)
    [message] = rows(session)
    assert (message.status, message.attempts) == (OutboxStatus.FAILED, 3)
    assert worker.dispatch().sent == 0 and len(hook.requests) == 3


def test_backoff_doubles_up_to_its_cap():
    settings = DeliverySettings(retry_base=timedelta(seconds=30), retry_cap=timedelta(minutes=5))
    waits = [settings.backoff(n).total_seconds() for n in range(1, 7)]
    assert waits == [30, 60, 120, 240, 300, 300]


@pytest.mark.parametrize("address", ["ftp://x", "controle@diamonds.be", "mailto:", "sms:+32"])
def test_an_address_without_a_known_channel_is_refused(session, address):
    with pytest.raises(InvalidInput, match="address"):
        add_recipient(session, "BE", "officers", address)


# ---- EU Art. 5(3): the notice is the obligation -----------------------------------------


def test_the_art_5_3_notices_meet_the_deadline_once_delivered(
    session, sessions, service, officer, smtp_server, webhook_server
):
    hook = webhook_server([])
    add_recipient(session, "BE", "commission", "mailto:kp-notices@commission.example.eu")
    add_recipient(session, "BE", "kp-authority:CA", hook.url)
    shipment = service.present(session, shipment_payload(), officer).shipment
    service.act(session, shipment.id, "hold", officer, reason="seal S-991 broken")
    session.commit()
    notice = deadline_of(shipment, "eu.notify.1_month")
    assert notice.status == DeadlineStatus.OPEN
    assert dispatcher(sessions, Clock(datetime.now(UTC)), smtp_server).dispatch().sent == 2
    session.expire_all()
    assert notice.status == DeadlineStatus.MET
    [email] = smtp_server.messages
    assert "KP certificate CA123456" in email["Subject"]
    assert "Ground of the detention: seal S-991 broken" in email.get_payload()
    assert hook.requests[0][1]["data"]["certificate"] == "CA123456"


def test_a_notice_that_only_reached_the_log_leaves_the_deadline_open(
    session, sessions, service, officer
):
    shipment = service.present(session, shipment_payload(), officer).shipment
    service.act(session, shipment.id, "hold", officer, reason="seal S-991 broken")
    session.commit()
    assert dispatcher(sessions, Clock(datetime.now(UTC))).dispatch().sent == 2
    session.expire_all()
    assert deadline_of(shipment, "eu.notify.1_month").status == DeadlineStatus.OPEN
