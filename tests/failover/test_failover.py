"""The primary dies under load and its synchronous standby takes over (issue 27, point 2).

Officers' integrations present shipments and verify them, round robin over two
``caratflow serve`` nodes, while two workers sweep reminders that are due and mail them.
The primary is stopped hard (``pg_ctl -m immediate``: a crash, its clients cut off) in
the middle of it, and the standby is promoted after ``DECIDING`` seconds, the time an
operator or a failover manager (Patroni) takes. Nothing is restarted: the nodes and
workers find the new primary through the multi-host URL by themselves.

While there is no primary every answer is a 503 with ``Retry-After``, never a 500; an
integration sends the same request again (an ``Idempotency-Key`` for a presentation, the
``If-Match`` it decided on for a decision). Afterwards every presentation and decision a
client saw acknowledged is there exactly once, the ledger verifies and only grew from its
last signed head before the crash, every reminder went out once, and the sweep goes on.
The figures are printed (``pytest -s``) and recorded in the README's production section.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select

from caratflow.accounts.provisioning import create_token
from caratflow.config import Settings
from caratflow.db import unit_of_work
from caratflow.deadlines.outbox import add_recipient
from caratflow.ledger import leaves
from caratflow.ledger.proofs import check_consistency
from caratflow.ledger.signing import load_public_key
from caratflow.models import (
    Deadline,
    Event,
    LedgerEntry,
    OutboxMessage,
    OutboxStatus,
    Role,
    Shipment,
)
from caratflow.runtime import Runtime
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.people import add_person
from caratflow.testing.servers import SmtpSink, free_port

from ..stress.conftest import open_due_reminders  # noqa: TID252
from .conftest import Cluster, Crew, deployment, http, wait_for

pytestmark = pytest.mark.slow

CLIENTS = 4
BEFORE, AFTER = 12, 12  # decisions acknowledged before the crash, and after the promotion
REMINDERS, LATER_REMINDERS = 60, 10  # due at the crash; due after the promotion
DECIDING = 2.0  # seconds between the crash and the promotion
ADDRESS = "mailto:controle@diamonds.example.be"
DUE = (Deadline.rule == "eu.confirm.10_days") & Deadline.shipment_id.is_(None)
"""The clocks open_due_reminders opens (a verification opens its own, of a shipment)."""
SMTP_SECONDS = 0.05  # a mail server's time per message: reminders are on their way at the crash


class SlowSmtpSink(SmtpSink):
    async def handle_DATA(self, server, session, envelope) -> str:
        await asyncio.sleep(SMTP_SECONDS)
        return await super().handle_DATA(server, session, envelope)


@dataclass
class Call:
    started: float
    seconds: float
    status: int


@dataclass
class Load:
    """Integrations presenting and verifying, and everything they saw."""

    nodes: list[str]
    auth: dict[str, str]
    calls: list[Call] = field(default_factory=list)
    presented: dict[str, int] = field(default_factory=dict)  # Idempotency-Key: shipment id
    verified: set[int] = field(default_factory=set)
    unclean: list[str] = field(default_factory=list)  # anything but a retryable 503
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    turn: itertools.count = field(default_factory=itertools.count)

    def send(self, method: str, path: str, body=None, headers=None):
        """One request to the next node (the proxy's round robin); 503s waited out."""
        while True:
            node = self.nodes[next(self.turn) % len(self.nodes)]
            started = time.monotonic()
            answer = http(method, f"{node}/api/v1{path}", body, self.auth | (headers or {}))
            with self.lock:
                self.calls.append(Call(started, time.monotonic() - started, answer.status))
            if answer.status != 503:
                return answer
            if not answer.headers.get("retry-after", "").isdigit():
                self.unclean.append(f"503 without Retry-After: {answer.text[:200]}")
            if answer.json.get("error") != "DatabaseUnavailable":
                self.unclean.append(f"503 of another kind: {answer.text[:200]}")
            time.sleep(0.1)  # Retry-After says 5; a test has less patience

    def integration(self, client: int) -> None:
        for n in itertools.count(1):
            if self.stop.is_set():
                return
            key = f"c{client}-{n}"
            payload = shipment_payload(**{"certificate.number": f"CA{client + 1}{n:05d}"})
            answer = self.send("POST", "/shipments", payload, {"Idempotency-Key": key})
            if answer.status not in (200, 201):
                self.unclean.append(f"present {key}: {answer.status} {answer.text[:200]}")
                return
            shipment, version = answer.json["id"], answer.json["version"]
            with self.lock:
                self.presented[key] = shipment
            path = f"/shipments/{shipment}"
            answer = self.send("POST", f"{path}/actions/verify", {}, {"If-Match": f'"{version}"'})
            if answer.status == 409:  # sent again after its commit: the first one was taken
                stale = answer
                answer = self.send("GET", path)  # (no one else decides on this shipment)
                if answer.json["state"] != "verified":
                    self.unclean.append(
                        f"verify {shipment}: {stale.text[:200]} {answer.text[:200]}"
                    )
                    return
            if answer.status != 200:
                self.unclean.append(f"verify {shipment}: {answer.status} {answer.text[:200]}")
                return
            with self.lock:
                self.verified.add(shipment)

    def acknowledged_after(self, moment: float) -> int:
        with self.lock:
            return sum(c.status in (200, 201) and c.started > moment for c in self.calls)


def p99(calls: list[Call]) -> float:
    seconds = sorted(c.seconds for c in calls)
    return statistics.quantiles(seconds, n=100)[98] if len(seconds) > 1 else seconds[0]


def test_a_crash_of_the_primary_under_load_loses_and_repeats_no_acknowledged_decision(
    cluster: Cluster, tmp_path, plugin_host
):
    sink = SlowSmtpSink("127.0.0.1", free_port())
    from aiosmtpd.controller import Controller

    smtp = Controller(sink, hostname=sink.host, port=sink.port)
    smtp.start()
    settings = {
        "CARATFLOW_DATABASE_URL": cluster.url(),
        "CARATFLOW_SMTP_HOST": sink.host,
        "CARATFLOW_SMTP_PORT": str(sink.port),
        "CARATFLOW_OUTBOX_LEASE": "5",  # a claim lost in the crash comes back soon
        "CARATFLOW_OUTBOX_RETRY_BASE": "1",
    }
    with deployment(tmp_path, **settings) as app:
        app.cli("init")
        tester = Runtime.start(Settings.from_env(app.env), plugin_host)  # the nodes' keys
        with unit_of_work(tester.sessions) as session:
            add_person(session, tester.plugins, Role.OFFICER, name="officer.failover")
            add_recipient(session, "BE", "officers", ADDRESS)
        with unit_of_work(tester.sessions) as session:
            auth = {"Authorization": f"Bearer {create_token(session, 'officer.failover')}"}
        nodes = app.serve("node-a", "node-b")
        for worker in ("worker-a", "worker-b"):
            app.start(worker, "worker", "--interval", "0.5")

        load = Load(nodes, auth)
        crew = Crew()
        for client in range(CLIENTS):
            crew.start(load.integration, client)
        try:
            wait_for(lambda: crew.check() and len(load.verified) >= BEFORE, "decisions before")
            open_due_reminders(tester, REMINDERS)
            wait_for(lambda: len(sink.messages) >= 5, "the reminders on their way")
            tester.engine.dispose()
            head_before = http("GET", f"{nodes[0]}/api/v1/ledger/head").json["tree_head"]
            crashed = time.monotonic()
            cluster.primary.stop("immediate")
            time.sleep(DECIDING)
            cluster.standby.promote()
            promoted = time.monotonic()
            wait_for(lambda: crew.check() and load.acknowledged_after(crashed), "a primary again")
            back = min(c.started + c.seconds for c in load.calls if c.status in (200, 201)
                       and c.started > crashed)  # fmt: skip
            done = len(load.verified) + AFTER
            wait_for(lambda: crew.check() and len(load.verified) >= done, "decisions after")
            open_due_reminders(tester, LATER_REMINDERS)  # the sweep goes on
            wait_for(lambda: sent(tester) == REMINDERS + LATER_REMINDERS, "every reminder sent")
        finally:
            load.stop.set()
            crew.join()
            smtp.stop()

        assert load.unclean == [], load.unclean
        statuses = Counter(c.status for c in load.calls)
        assert not [s for s in statuses if s >= 500 and s != 503], statuses
        assert statuses[503], "the clients saw the failover"

        with tester.sessions() as session:
            keys = Counter(session.scalars(select(Shipment.idempotency_key)))
            lost = [k for k in load.presented if keys[k] == 0]
            twice = [k for k in load.presented if keys[k] > 1]
            decisions = Counter(
                session.scalars(select(Event.shipment_id).where(Event.action == "verify"))
            )
            lost += [s for s in load.verified if decisions[s] == 0]
            twice += [s for s, times in decisions.items() if times > 1]
            reminded = Counter(session.scalars(select(Deadline.reminders_sent).where(DUE)))
            mailed = session.scalar(
                select(func.count()).where(
                    OutboxMessage.address == ADDRESS, OutboxMessage.status == OutboxStatus.SENT
                )
            )
        copies = Counter(sink.message_ids())
        window = [c for c in load.calls if crashed - 5 <= c.started <= back + 5]
        print(
            f"\nfailover: {len(load.presented)} presentations and {len(load.verified)} "
            f"decisions acknowledged, {len(lost)} lost, {len(twice)} duplicated; "
            f"{back - crashed:.1f} s without a primary (promoted after {promoted - crashed:.1f} s);"
            f" {statuses[503]} answers 503, none 500; p99 latency {p99(window):.3f} s around "
            f"the failover ({len(window)} requests), {p99(load.calls):.3f} s overall (median "
            f"{statistics.median(c.seconds for c in load.calls):.3f} s, {len(load.calls)} "
            "requests); "
            f"{len(copies)} reminders mailed once each, {sum(copies.values()) - len(copies)} "
            "copies delivered again under the same Message-ID"
        )
        assert (lost, twice) == ([], []), "every acknowledged decision is there once"
        assert reminded == {1: REMINDERS + LATER_REMINDERS}, "each reminder swept once"
        assert len(copies) == mailed, "one message per reminder, each with its Message-ID"
        assert sum(copies.values()) - len(copies) <= 4, "at most one unmarked per dispatcher"

        app.cli("ledger", "sequence")
        app.cli("ledger", "verify")  # exits 0, or cli() fails the test
        head = http("GET", f"{nodes[1]}/api/v1/ledger/head").json
        proof = http(
            "GET", f"{nodes[1]}/api/v1/ledger/consistency?from={head_before['tree_size']}"
        ).json
        assert proof["from_head"] == head_before, "the head signed before the crash is kept"
        key = load_public_key(head["public_key"])
        assert check_consistency(key, head_before, proof["to_head"], proof["proof"])
        with tester.sessions() as session:
            sealed = select(func.count()).where(LedgerEntry.kind == leaves.DECISION)
            assert session.scalar(sealed) == session.scalar(select(func.count()).select_from(Event))
        tester.engine.dispose()


def sent(runtime: Runtime) -> int:
    """Deadlines whose reminder was swept and mailed (0 while no primary answers)."""
    try:
        with runtime.sessions() as session:
            swept = session.scalar(select(func.count()).where(DUE, Deadline.reminders_sent == 1))
            pending = session.scalar(
                select(func.count()).where(
                    OutboxMessage.address == ADDRESS, OutboxMessage.status != OutboxStatus.SENT
                )
            )
            return swept if pending == 0 else 0
    except Exception:
        return 0
