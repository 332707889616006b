"""Worker processes against one PostgreSQL database and a real SMTP server.

Two ``caratflow worker`` processes sweep the same 2,000 due reminders: each reaches the
SMTP server exactly once. A worker killed with SIGKILL mid-sweep and again mid-delivery
loses nothing and, once restarted, sends nothing twice that the recipient cannot drop
by its Message-ID (at most the batch in flight when it died).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from caratflow.cli import main
from caratflow.db import unit_of_work
from caratflow.deadlines.keeping import calendar_for, open_deadline
from caratflow.deadlines.outbox import DeliverySettings, add_recipient
from caratflow.jurisdiction.clocks import Period, Reminder, declare
from caratflow.law.rules import RuleBook
from caratflow.models import Authority, Deadline, OutboxMessage, OutboxStatus
from caratflow.scheduler import JOB_ID, PERIODIC_TASKS, start_scheduler

REMINDERS = 2000
CARATFLOW = Path(sys.executable).with_name("caratflow")
ADDRESS = "mailto:controle@diamonds.example.be"
SENDER = "deadlines@diamonds.example.be"
TIME_LIMIT = 45  # seconds for any one wait: the whole test stays well under a minute


def rule_with_one_due_reminder():
    """20 working days from a start 10 days ago, a reminder 15 working days before the
    due day: the reminder's time has passed, the due day has not."""
    import caratflow.plugins.eu as eu

    book = RuleBook("eu", Path(eu.__file__).parent / "rules.toml")
    return declare(
        book,
        "eu.confirm.10_days",
        opened_by={"present"},
        period=Period.parse("20 working days"),
        reminders=(Reminder(15),),
    )


def open_reminders(runtime, n: int = REMINDERS) -> None:
    rule = rule_with_one_due_reminder()
    start = datetime.now(UTC) - timedelta(days=10)
    with unit_of_work(runtime.sessions) as session:
        add_recipient(session, "BE", "officers", ADDRESS)
        authority = session.get(Authority, "BE")
        calendar = calendar_for(session, authority)
        for _ in range(n):
            open_deadline(session, rule, authority, start, recorded_at=start, calendar=calendar)


def worker(database_url: str, smtp, tmp_path: Path, name: str) -> subprocess.Popen:
    env = os.environ | {
        "CARATFLOW_DATABASE_URL": database_url,
        "CARATFLOW_INSTANCE_PATH": str(tmp_path),
        "CARATFLOW_SMTP_HOST": smtp.host,
        "CARATFLOW_SMTP_PORT": str(smtp.port),
        "CARATFLOW_SMTP_FROM": SENDER,
        "CARATFLOW_OUTBOX_LEASE": "5",
    }
    log = (tmp_path / f"{name}.log").open("w")
    return subprocess.Popen(
        [str(CARATFLOW), "-v", "worker", "--interval", "0.2"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + TIME_LIMIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def count(runtime, query) -> int:
    with runtime.sessions() as session:
        return session.scalar(query) or 0


SWEPT = select(func.count()).select_from(Deadline).where(Deadline.reminders_sent == 1)
SENT = (
    select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == OutboxStatus.SENT)
)
QUEUED = select(func.count()).select_from(OutboxMessage)


def expected_message_ids(runtime) -> set[str]:
    with runtime.sessions() as session:
        keys = session.scalars(select(OutboxMessage.key)).all()
    domain = SENDER.rpartition("@")[2]
    return {f"<{hashlib.sha256(k.encode()).hexdigest()[:32]}@{domain}>" for k in keys}


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.postgres_only
@pytest.mark.slow
def test_two_workers_deliver_2000_due_reminders_exactly_once(
    committed_runtime, database_url, smtp_server, tmp_path
):
    workers = [worker(database_url, smtp_server, tmp_path, f"w{n}") for n in (1, 2)]
    try:
        logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
        wait_for(
            lambda: all("scheduler started" in log.read_text() for log in logs),
            "both workers to start",
        )
        open_reminders(committed_runtime)
        wait_for(lambda: len(smtp_server.messages) >= REMINDERS, "2000 e-mails")
        wait_for(lambda: count(committed_runtime, SENT) == REMINDERS, "2000 marked sent")
        time.sleep(1)  # a few more ticks: nothing else may arrive
    finally:
        for process in workers:
            stop(process)
    ids = smtp_server.message_ids()
    assert len(ids) == REMINDERS
    assert set(ids) == expected_message_ids(committed_runtime)
    assert count(committed_runtime, QUEUED) == REMINDERS
    assert count(committed_runtime, SWEPT) == REMINDERS
    sent_by = [_sent_in_log(tmp_path / f"w{n}.log") for n in (1, 2)]
    assert sum(sent_by) == REMINDERS
    assert all(sent_by), f"both workers took a share of the work: {sent_by}"


def _sent_in_log(path: Path) -> int:
    text = path.read_text()
    return sum(int(part.split(",")[0]) for part in text.split("DispatchResult(sent=")[1:])


@pytest.mark.postgres_only
@pytest.mark.slow
def test_a_worker_killed_mid_sweep_and_mid_delivery_loses_nothing_and_duplicates_nothing(
    committed_runtime, database_url, smtp_server, tmp_path
):
    open_reminders(committed_runtime)
    first = worker(database_url, smtp_server, tmp_path, "first")
    try:
        wait_for(lambda: count(committed_runtime, SWEPT) > 0, "the sweep to begin committing")
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        stop(first)
    swept_at_kill = count(committed_runtime, SWEPT)
    delivered_at_first_kill = len(smtp_server.messages)

    second = worker(database_url, smtp_server, tmp_path, "second")
    try:
        wait_for(lambda: len(smtp_server.messages) >= 600, "600 e-mails")
        second.send_signal(signal.SIGKILL)
        second.wait()
    finally:
        stop(second)
    assert count(committed_runtime, SENT) < REMINDERS, "killed while delivering"

    third = worker(database_url, smtp_server, tmp_path, "third")
    try:
        wait_for(lambda: count(committed_runtime, SENT) == REMINDERS, "every message sent")
        time.sleep(1)
    finally:
        stop(third)

    ids = smtp_server.message_ids()
    expected = expected_message_ids(committed_runtime)
    assert len(expected) == REMINDERS, "one outbox row per reminder, none twice"
    assert set(ids) == expected, "nothing lost"
    duplicates = len(ids) - len(set(ids))
    # At least once: only what a worker had sent but not yet marked when it died (one
    # batch at most) can come again, with the same Message-ID for the recipient to drop.
    assert duplicates <= 2 * DeliverySettings().batch, f"{duplicates} duplicates"
    assert count(committed_runtime, SWEPT) == REMINDERS
    print(
        f"first kill: {swept_at_kill} of {REMINDERS} swept, {delivered_at_first_kill} sent; "
        f"duplicates after two kills: {duplicates}"
    )


# ---- the scheduler itself ------------------------------------------------------------------


def test_the_scheduler_runs_one_interval_job_for_every_periodic_task(committed_runtime):
    scheduler = start_scheduler(committed_runtime, timedelta(seconds=60))
    try:
        [job] = scheduler.get_jobs()
        assert job.id == JOB_ID
        assert job.trigger.interval == timedelta(seconds=60)
        assert job.max_instances == 1 and job.coalesce
    finally:
        scheduler.shutdown(wait=True)
    assert [name for name, _ in PERIODIC_TASKS] == [
        "reports",
        "deadlines",
        "digests",
        "outbox",
        "documents",
        "ledger",
    ]


def test_worker_once_sweeps_and_delivers_from_the_command_line(
    committed_runtime, database_url, tmp_path, smtp_server, monkeypatch
):
    open_reminders(committed_runtime, 5)
    monkeypatch.setenv("CARATFLOW_DATABASE_URL", database_url)
    monkeypatch.setenv("CARATFLOW_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("CARATFLOW_SMTP_HOST", smtp_server.host)
    monkeypatch.setenv("CARATFLOW_SMTP_PORT", str(smtp_server.port))
    result = CliRunner().invoke(main, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "deadlines: SweepResult(deadlines=5, reminders=5, missed=0)" in result.output
    assert "outbox: DispatchResult(sent=5, failed=0, retrying=0)" in result.output
    assert len(smtp_server.messages) == 5


def test_a_sweep_asks_as_many_statements_for_forty_deadlines_as_for_three(committed_runtime):
    """Issue 28: after the claim, the sweep writes in sets (the reminders in one INSERT,
    the clocks' new state in one UPDATE), not a statement or two per deadline."""
    from caratflow.deadlines.sweep import sweep
    from caratflow.testing.databases import statements_sent

    open_reminders(committed_runtime, 43)
    counted, queued = [], []
    for n in (3, 40):
        with unit_of_work(committed_runtime.sessions) as session, statements_sent(session) as sent:
            result = sweep(session, limit=n)
        counted.append(len(sent))
        queued.append((result.deadlines, result.reminders))
    assert queued == [(3, 3), (40, 40)]
    assert counted[0] == counted[1], counted
    with unit_of_work(committed_runtime.sessions) as session:
        assert sweep(session).deadlines == 0  # each reminder queued once, nothing due again
        assert count(committed_runtime, select(func.count()).select_from(OutboxMessage)) == 43


def test_a_sweep_with_nothing_missed_seals_nothing_and_needs_no_leaf_key(committed_runtime):
    """The missed clocks' leaves are one INSERT, and none at all when none was missed: a
    session that holds no leaf key (bench/bench_sweep.py's) sweeps reminders alone."""
    from sqlalchemy.orm import Session

    from caratflow.deadlines.sweep import sweep

    open_reminders(committed_runtime, 3)
    with Session(committed_runtime.engine) as session, session.begin():
        result = sweep(session)
    assert (result.deadlines, result.reminders, result.missed) == (3, 3, 0)
