"""SIGKILL in the middle of a decision and in the middle of a sweep: all of it, or none.

A process is killed inside its transaction (it stops there on purpose, after writing
everything and before committing) and, again, wherever the kill happens to land while
it works flat out. Each time, every shipment is either exactly as it was
before its decision or exactly as it is once the decision is complete: the event, its
findings, its deadlines, its outbox messages and its ledger entry, together. At the
end every decision is sealed in the ledger once and ``verify_ledger`` finds nothing.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from caratflow.db import unit_of_work
from caratflow.deadlines.outbox import DeliverySettings, enqueue
from caratflow.ledger import leaves, sequencer, signing_keys, verification
from caratflow.models import (
    Deadline,
    Event,
    FindingRecord,
    LedgerEntry,
    OutboxMessage,
    OutboxStatus,
    Shipment,
)
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.servers import SmtpSink, free_port

from .conftest import PATIENCE, open_due_reminders, wait_for

pytestmark = pytest.mark.slow  # on the stress suite's own PostgreSQL (private_runtime)

CHILD = Path(__file__).with_name("child.py")
CARATFLOW = Path(sys.executable).with_name("caratflow")
SHIPMENTS = 30


class Child:
    """``child.py`` (or ``caratflow``) as a process, its output read line by line."""

    def __init__(self, database_url: str, folder: Path, *args: str, program: Path = CHILD):
        env = os.environ | {
            "CARATFLOW_DATABASE_URL": database_url,
            "CARATFLOW_INSTANCE_PATH": str(folder),
        }
        command = [sys.executable, str(program)] if program.suffix == ".py" else [str(program)]
        self.process = subprocess.Popen(
            [*command, *args],
            env=env,
            cwd=folder,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=(folder / "child.log").open("a"),
            text=True,
        )

    def read_line(self) -> str:
        line = self.process.stdout.readline()
        assert line, f"the child ended (exit {self.process.wait()}) without saying anything"
        return line.strip()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait() == -signal.SIGKILL

    def finish(self) -> list[str]:
        out, _ = self.process.communicate(timeout=120)
        assert self.process.returncode == 0, out
        return out.splitlines()


def footprints(runtime) -> dict[int, tuple]:
    """Per shipment, everything a decision writes: state, version, the actions of its
    events, their findings and ledger entries, its deadlines and outbox messages."""
    with runtime.sessions() as session:
        result = {}
        for shipment in session.scalars(select(Shipment).order_by(Shipment.id)):
            event_ids = [str(e.id) for e in shipment.events]

            def count(query) -> int:
                return session.scalar(query) or 0

            result[shipment.id] = (
                shipment.state,
                shipment.version,
                tuple(e.action for e in shipment.events),
                count(
                    select(func.count())
                    .select_from(FindingRecord)
                    .join(Event)
                    .where(Event.shipment_id == shipment.id)
                ),
                count(
                    select(func.count()).where(
                        LedgerEntry.kind == leaves.DECISION, LedgerEntry.record_key.in_(event_ids)
                    )
                ),
                count(select(func.count()).where(Deadline.shipment_id == shipment.id)),
                count(select(func.count()).where(OutboxMessage.shipment_id == shipment.id)),
            )
        return result


def present_shipments(runtime, officer, n: int) -> None:
    with unit_of_work(runtime.sessions) as session:
        for i in range(n):
            payload = shipment_payload(**{"certificate.number": f"CA7{i:05d}"})
            runtime.shipments.present(session, payload, officer)


def assert_ledger_verifies(runtime) -> None:
    sequencer.sequence_once(runtime.sessions, runtime.settings)
    with verification.snapshot(runtime.sessions) as session:
        report = verification.verify_ledger(session, signing_keys.public_key(runtime.settings))
        assert report.ok, [str(d) for d in report.discrepancies]
        assert report.pending == 0
        events = session.scalar(select(func.count()).select_from(Event))
        sealed = session.scalar(select(func.count()).where(LedgerEntry.kind == leaves.DECISION))
        assert sealed == events, "every decision sealed once, and nothing else as a decision"


def test_a_process_killed_while_deciding_leaves_each_decision_whole_or_absent(
    private_runtime, officer, tmp_path
):
    rt = private_runtime
    database_url = rt.settings.database_url
    present_shipments(rt, officer, SHIPMENTS)
    before = footprints(rt)

    # 1. Killed inside the transaction, with the decision written and not committed.
    paused = Child(database_url, tmp_path, "decide", "--pause")
    word, shipment_id = paused.read_line().split()
    assert word == "decided"
    paused.kill()
    assert footprints(rt)[int(shipment_id)] == before[int(shipment_id)], "nothing of it stayed"

    # 2. Killed while deciding (and sequencing) flat out, a few decisions in.
    seen_midway = []
    chance = random.Random(11)
    for _ in range(2):
        busy = Child(database_url, tmp_path, "decide")
        committed = chance.randint(1, 4)
        for _ in range(committed):
            assert busy.read_line().startswith("committed")
        busy.kill()
        seen_midway.append(footprints(rt))

    # 3. A last run decides the rest.
    assert Child(database_url, tmp_path, "decide").finish()[-1] == "done"
    after = footprints(rt)
    assert Counter(state for state, *_ in after.values()) == {
        "verified": SHIPMENTS // 2,
        "held": SHIPMENTS // 2,
    }
    for midway in seen_midway:
        for shipment, seen in midway.items():
            assert seen in (before[shipment], after[shipment]), f"shipment {shipment} half-done"
    # Whole: decisions of one kind left the same footprint, whichever run took them.
    assert len({footprint for sid, footprint in after.items() if sid % 2}) == 1
    assert len({footprint for sid, footprint in after.items() if not sid % 2}) == 1
    assert_ledger_verifies(rt)


def reminder_rows_per_deadline(runtime) -> dict[int, tuple[int, int]]:
    """Per deadline: (reminders it counts as sent, reminder messages queued for it)."""
    with runtime.sessions() as session:
        queued = dict(
            session.execute(
                select(OutboxMessage.deadline_id, func.count())
                .where(OutboxMessage.kind == "reminder")
                .group_by(OutboxMessage.deadline_id)
            ).all()
        )
        return {
            deadline_id: (sent, queued.get(deadline_id, 0))
            for deadline_id, sent in session.execute(select(Deadline.id, Deadline.reminders_sent))
        }


def test_a_process_killed_while_sweeping_queues_each_reminder_whole_or_not_at_all(
    private_runtime, tmp_path
):
    rt = private_runtime
    database_url = rt.settings.database_url
    open_due_reminders(rt, 600)
    untouched = reminder_rows_per_deadline(rt)
    assert set(untouched.values()) == {(0, 0)}

    # 1. Killed inside the sweep's transaction, with every reminder queued, uncommitted.
    paused = Child(database_url, tmp_path, "sweep", "--pause")
    assert paused.read_line() == "swept 600"
    paused.kill()
    assert reminder_rows_per_deadline(rt) == untouched

    # 2. A real worker (batches of 200, one transaction each), killed mid-sweep.
    worker = Child(database_url, tmp_path, "worker", "--interval", "0.2", program=CARATFLOW)
    swept = select(func.count()).where(Deadline.reminders_sent == 1)
    with rt.sessions() as session:
        wait_for(lambda: session.scalar(swept), "the sweep's first batch to commit")
    worker.kill()
    midway = reminder_rows_per_deadline(rt)
    assert set(midway.values()) <= {(0, 0), (1, 1)}, "a reminder half-queued"

    # 3. Once more, to the end: every deadline swept once, every reminder queued once.
    Child(database_url, tmp_path, "worker", "--once", program=CARATFLOW).finish()
    assert set(reminder_rows_per_deadline(rt).values()) == {(1, 1)}
    with rt.sessions() as session:
        keys = session.scalars(select(OutboxMessage.key)).all()
        assert len(keys) == len(set(keys)) == 600


class KillingSink(SmtpSink):
    """A real SMTP server that, while the ``victim`` worker sends it the message after
    ``accept`` ones, kills that worker before answering: the accepted ones are the
    worker's to mark sent; the one under way was never accepted."""

    def __init__(self, host: str, port: int, accept: int):
        super().__init__(host, port)
        self.accept = accept
        self.victim: subprocess.Popen | None = None

    async def handle_DATA(self, server, session, envelope) -> str:
        victim = self.victim
        if victim is not None and len(self.messages) == self.accept:
            self.victim = None
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            return "451 the worker died meanwhile"
        return await super().handle_DATA(server, session, envelope)


def test_a_worker_killed_mid_batch_sends_no_accepted_message_again(private_runtime, tmp_path):
    from aiosmtpd.controller import Controller

    rt = private_runtime
    batch = DeliverySettings().batch
    with unit_of_work(rt.sessions) as session:
        for n in range(batch):
            enqueue(
                session,
                key=f"kill-test:{n}",
                authority="BE",
                audience="officers",
                kind="reminder",
                subject=f"reminder {n}",
                body="a deadline is near",
                scheduled_for=datetime.now(UTC) - timedelta(minutes=1),
                to=["mailto:officers@diamonds.example.be"],
            )
    sink = KillingSink("127.0.0.1", free_port(), accept=3)
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    env = os.environ | {
        "CARATFLOW_DATABASE_URL": rt.settings.database_url,
        "CARATFLOW_INSTANCE_PATH": str(tmp_path),
        "CARATFLOW_SMTP_HOST": sink.host,
        "CARATFLOW_SMTP_PORT": str(sink.port),
        "CARATFLOW_OUTBOX_LEASE": "2",
    }
    command = [str(CARATFLOW), "worker", "--interval", "0.2"]
    log = (tmp_path / "worker.log").open("a")
    try:
        sink.victim = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        killed = sink.victim
        assert killed.wait(timeout=PATIENCE) == -signal.SIGKILL
        successor = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: len(sink.messages) >= batch, "the outbox to be delivered")
            wait_for(lambda: pending(rt) == 0, "every message to be marked sent")
        finally:
            successor.terminate()
            successor.wait(timeout=PATIENCE)
    finally:
        controller.stop()
    ids = sink.message_ids()
    assert len(ids) == batch and len(set(ids)) == batch, Counter(ids).most_common(3)


def pending(runtime) -> int:
    with runtime.sessions() as session:
        query = select(func.count()).where(OutboxMessage.status != OutboxStatus.SENT)
        return session.scalar(query) or 0
