"""Eight API clients and two workers on the same shipments at once.

Officers' integrations decide over real HTTP (waitress, eight threads) on a handful of
shipments while two ``caratflow worker`` processes sweep due deadlines, deliver the
outbox to a real SMTP server and sequence the ledger. Two conflicting decisions taken
on the same version: exactly one wins, the other is a 409. Whatever the interleaving:
every acknowledged decision is stored, each bumped the version once (no lost update),
each is sealed in the ledger once, and no e-mail reaches the server twice.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import signal
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from caratflow.accounts.provisioning import create_token
from caratflow.db import unit_of_work
from caratflow.deadlines.outbox import add_recipient
from caratflow.ledger import leaves, signing_keys, verification
from caratflow.models import Event, LedgerEntry, OutboxMessage, OutboxStatus, Role, Shipment
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.people import add_person
from caratflow.testing.servers import LiveServer
from caratflow.web import create_app

from .conftest import Crew, http, open_due_reminders, wait_for

pytestmark = pytest.mark.slow  # on the stress suite's own PostgreSQL (private_runtime)

CARATFLOW = Path(sys.executable).with_name("caratflow")
SENDER = "deadlines@diamonds.example.be"
CLIENTS = 8
REQUESTS_PER_CLIENT = 30
REMINDERS = 300
AUDIENCES = ("officers", "supervisors", "commission", "kp-authority:CA")
NORWAY_CONTROLS = ("control_documents", "control_identity", "control_freight_documents")
REASON = {"reason": "seal number differs from the certificate"}


def eu_import(n: int) -> dict:
    """A compliant Belgian import presented a month ago: its confirmation deadline is
    overdue, so the workers escalate it while the officers decide."""
    today = datetime.now(UTC)
    return shipment_payload(
        **{
            "presented_at": (today - timedelta(days=30)).isoformat(),
            "certificate.number": f"CA8{n:05d}",
            "certificate.issued_on": (today - timedelta(days=40)).date().isoformat(),
            "certificate.expires_on": (today + timedelta(days=30)).date().isoformat(),
        }
    )


def norway_import(n: int) -> dict:
    return shipment_payload(
        **{
            "authority": "NO",
            "entry_point": "OSL",
            "certificate.number": f"CA6{n:05d}",
            "certificate.importer.name": "Thune Gullsmed AS",
        }
    )


def worker(database_url: str, smtp, folder: Path, name: str) -> subprocess.Popen:
    env = os.environ | {
        "CARATFLOW_DATABASE_URL": database_url,
        "CARATFLOW_INSTANCE_PATH": str(folder),
        "CARATFLOW_SMTP_HOST": smtp.host,
        "CARATFLOW_SMTP_PORT": str(smtp.port),
        "CARATFLOW_SMTP_FROM": SENDER,
    }
    return subprocess.Popen(
        [str(CARATFLOW), "-v", "worker", "--interval", "0.2"],
        env=env,
        cwd=folder,
        stdout=(folder / f"{name}.log").open("w"),
        stderr=subprocess.STDOUT,
    )


@dataclass(frozen=True)
class Decided:
    shipment: int
    action: str
    if_match: int | None
    version: int


class Clients:
    """What the clients were told: every decision acknowledged (200), and every status."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.decided: list[Decided] = []
        self.statuses: list[int] = []
        self.unexpected: list[str] = []

    def act(self, base: str, auth, shipment: int, action: str, body, if_match: int | None):
        headers = dict(auth) | ({"If-Match": f'"{if_match}"'} if if_match else {})
        url = f"{base}/api/v1/shipments/{shipment}/actions/{action}"
        answer = http("POST", url, body, headers)
        with self.lock:
            self.statuses.append(answer.status)
            if answer.status == 200:
                self.decided.append(Decided(shipment, action, if_match, answer.json["version"]))
            elif answer.status not in (409, 422) or "error" not in answer.json:
                self.unexpected.append(f"{answer.status} {action}: {answer.text[:300]}")
        return answer


def test_eight_clients_and_two_workers_lose_nothing_and_send_nothing_twice(
    private_runtime, smtp_server, tmp_path
):
    rt = private_runtime
    database_url = rt.settings.database_url
    with unit_of_work(rt.sessions) as session:
        for audience in AUDIENCES:
            address = f"mailto:{audience.replace(':', '-')}@diamonds.example.be"
            add_recipient(session, "BE", audience, address)
        for n in range(CLIENTS):
            add_person(session, rt.plugins, Role.OFFICER, "BE", "NO", name=f"officer{n}")
    with unit_of_work(rt.sessions) as session:
        auths = [
            {"Authorization": f"Bearer {create_token(session, f'officer{n}')}"}
            for n in range(CLIENTS)
        ]
    open_due_reminders(rt, REMINDERS)
    clients = Clients()
    app = create_app({"TESTING": True}, runtime=rt)
    workers = [worker(database_url, smtp_server, tmp_path, f"w{n}") for n in (1, 2)]
    try:
        with LiveServer(app, threads=CLIENTS) as server:
            base = server.url
            eu = [present(base, auths[0], eu_import(n)) for n in range(4)]
            norway = [present(base, auths[0], norway_import(n)) for n in range(4)]

            # 1. Pairs of conflicting decisions on the version both clients saw.
            pairs = [(s, ("verify", {}), ("hold", REASON)) for s in eu] + [
                (s, ("control_documents", PASS), ("control_identity", PASS)) for s in norway
            ]
            for shipment, first, second in pairs:
                outcomes = race(clients, base, auths, shipment, first, second)
                assert sorted(outcomes) == [200, 409], (shipment, first[0], second[0], outcomes)

            # 2. Eight clients deciding at random on the same shipments, half with If-Match.
            def storm(n: int) -> None:
                chance = random.Random(n)
                for _ in range(REQUESTS_PER_CLIENT):
                    # Norway's controls keep a shipment where it is, so it stays contested;
                    # one Belgian shipment goes through its whole life meanwhile.
                    shipment = chance.choice([*norway, eu[0]])
                    seen = http("GET", f"{base}/api/v1/shipments/{shipment}", headers=auths[n])
                    wanted = NORWAY_CONTROLS if shipment in norway else BODIES
                    choices = [a for a in seen.json["available_actions"] if a in wanted]
                    if not choices:
                        continue
                    action = chance.choice(choices)
                    version = seen.json["version"]  # issue 26: no action without If-Match
                    clients.act(base, auths[n], shipment, action, BODIES[action], version)

            crew = Crew()
            for n in range(CLIENTS):
                crew.start(storm, n)
            crew.join()

        # 3. The workers finish what the decisions and the sweep queued.
        wait_for(lambda: pending_messages(rt) == 0, "the outbox to be delivered")
        wait_for(lambda: pending_entries(rt) == 0, "the ledger to be sequenced")
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)

    statuses = Counter(clients.statuses)
    print(f"answers {dict(statuses)}; e-mails {len(smtp_server.messages)}")
    assert clients.unexpected == [], "only 200, 409 and 422 answers, each with a JSON error"
    assert 409 in clients.statuses and len(clients.decided) > len(pairs)
    assert_no_lost_update(rt, clients.decided)
    assert_every_decision_sealed_once(rt)
    assert_each_email_sent_once(rt, smtp_server)


PASS = {"inputs": {"outcome": "pass"}}
BODIES = {
    **dict.fromkeys(NORWAY_CONTROLS, PASS),
    "verify": {},
    "release": {},
    "hold": REASON,
    "remediate": REASON,
    "refuse": REASON,
}


def race(clients: Clients, base: str, auths, shipment: int, *choices) -> list[int]:
    """Two officers send their decisions at the same moment, both on version 1."""
    barrier = threading.Barrier(len(choices))
    statuses: list[int] = []

    def decide(n: int, action: str, body) -> None:
        barrier.wait()
        statuses.append(clients.act(base, auths[n], shipment, action, body, if_match=1).status)

    crew = Crew()
    for n, choice in enumerate(choices):
        crew.start(decide, n, *choice)
    crew.join()
    return statuses


def present(base: str, auth, payload) -> int:
    answer = http("POST", f"{base}/api/v1/shipments", payload, auth)
    assert answer.status == 201, answer.text
    return answer.json["id"]


def pending_messages(runtime) -> int:
    with runtime.sessions() as session:
        query = select(func.count()).where(OutboxMessage.status == OutboxStatus.PENDING)
        return session.scalar(query) or 0


def pending_entries(runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).where(LedgerEntry.seq.is_(None))) or 0


def assert_no_lost_update(runtime, decided: list[Decided]) -> None:
    """Each acknowledged decision is one stored event, one version further than the last,
    taken from the state the previous one left."""
    by_shipment: dict[int, list[Decided]] = defaultdict(list)
    for decision in decided:
        by_shipment[decision.shipment].append(decision)
        if decision.if_match is not None:
            assert decision.version == decision.if_match + 1
    with runtime.sessions() as session:
        for shipment in session.scalars(select(Shipment)):
            events = shipment.events
            acknowledged = by_shipment[shipment.id]
            assert len(events) == shipment.version == len(acknowledged) + 1, shipment.id
            assert sorted(d.version for d in acknowledged) == list(range(2, shipment.version + 1))
            assert [e.action for e in events[1:]] == [
                d.action for d in sorted(acknowledged, key=lambda d: d.version)
            ]
            for earlier, later in itertools.pairwise(events):
                assert later.from_state == earlier.to_state, (shipment.id, later.action)
            assert shipment.state == events[-1].to_state


def assert_every_decision_sealed_once(runtime) -> None:
    with verification.snapshot(runtime.sessions) as session:
        report = verification.verify_ledger(session, signing_keys.public_key(runtime.settings))
        assert report.ok, [str(d) for d in report.discrepancies]
        sealed = session.scalars(
            select(LedgerEntry.record_key).where(LedgerEntry.kind == leaves.DECISION)
        ).all()
        events = session.scalars(select(Event.id)).all()
        assert sorted(sealed) == sorted(str(e) for e in events)


def assert_each_email_sent_once(runtime, smtp) -> None:
    with runtime.sessions() as session:
        keys = session.scalars(
            select(OutboxMessage.key).where(
                OutboxMessage.status == OutboxStatus.SENT,
                OutboxMessage.address.like("mailto:%"),
            )
        ).all()
    domain = SENDER.rpartition("@")[2]
    expected = {f"<{hashlib.sha256(k.encode()).hexdigest()[:32]}@{domain}>" for k in keys}
    ids = smtp.message_ids()
    assert len(ids) == len(set(ids)), "an e-mail reached the server twice"
    assert set(ids) == expected and len(expected) >= REMINDERS
