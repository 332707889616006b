"""The one periodic job: sweep due deadlines, then deliver the outbox.

APScheduler 3 runs a single interval job in a ``BackgroundScheduler`` (memory job
store): deadlines are rows, never scheduler jobs (DESIGN.md, "Deadlines and
reminders"). The job runs the ``PERIODIC_TASKS`` below in order; each claims its rows
in the database, so any number of processes (``caratflow worker``, ``caratflow
serve``) may run it at once. To add periodic work, add a
task to ``PERIODIC_TASKS``: a function of the runtime and the scheduler's context.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from caratflow.accounts import digest
from caratflow.db import unit_of_work
from caratflow.deadlines import sweep
from caratflow.deadlines.outbox import DeliverySettings, Dispatcher, default_channels
from caratflow.exchange import peers, sending
from caratflow.ledger import sequencer, signing_keys
from caratflow.models import utcnow
from caratflow.records import documents, reports
from caratflow.runtime import Runtime, freeze_start_up

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = timedelta(seconds=30)
JOB_ID = "caratflow-periodic"


@dataclass
class Worker:
    """What the periodic tasks share in one process: the runtime and the dispatcher."""

    runtime: Runtime
    delivery: DeliverySettings | None = None  # the runtime's settings' unless given
    dispatcher: Dispatcher = field(init=False)

    def __post_init__(self) -> None:
        if self.delivery is None:
            self.delivery = self.runtime.settings.delivery
        channels = default_channels(self.delivery)
        channels[peers.SCHEME] = sending.PeerChannel(  # issue 10: signed, to a peer node
            self.runtime.sessions,
            lambda: signing_keys.signing_key(self.runtime.settings),
            self.delivery.timeout,
        )
        self.dispatcher = Dispatcher(
            self.runtime.sessions, self.delivery, channels, on_sent=[sweep.message_sent]
        )


def sweep_deadlines(worker: Worker) -> Any:
    """Queue due reminders, mark missed deadlines, escalate (issue 4)."""
    return sweep.sweep_due(worker.runtime.sessions, late_after=worker.delivery.late_after)


def deliver_outbox(worker: Worker) -> Any:
    """Send what the sweep and the decisions queued."""
    return worker.dispatcher.dispatch()


def open_report_deadlines(worker: Worker) -> Any:
    """Start the submission clock of each report whose period has just ended."""
    with unit_of_work(worker.runtime.sessions) as session:
        return reports.open_report_deadlines(session, worker.runtime.plugins)


def send_work_digests(worker: Worker) -> Any:
    """Queue the daily e-mail of "My work" of each officer whose time has come (issue 26)."""
    runtime = worker.runtime
    return digest.send_digests(runtime.sessions, runtime.plugins, runtime.settings.public_url)


def render_documents(worker: Worker) -> Any:
    """Render the PDFs of the documents decisions sealed (issue 28: off their path)."""
    return documents.render_pending(worker.runtime.sessions, worker.runtime.documents)


PeriodicTask = Callable[[Worker], Any]
PERIODIC_TASKS: list[tuple[str, PeriodicTask]] = [
    ("reports", open_report_deadlines),
    ("deadlines", sweep_deadlines),
    ("digests", send_work_digests),
    ("outbox", deliver_outbox),
    ("documents", render_documents),
    (
        "ledger",
        lambda w: sequencer.sequence_once(w.runtime.sessions, w.runtime.settings),
    ),  # issue 5
]
"""Run in this order at every tick."""


def run_periodic_tasks(worker: Worker) -> dict[str, Any]:
    """One tick: every task once; one task's failure is logged and does not stop the next."""
    results: dict[str, Any] = {}
    for name, task in PERIODIC_TASKS:
        try:
            results[name] = task(worker)
        except Exception:
            log.exception("periodic task %r failed; it runs again at the next tick", name)
            results[name] = None
        else:
            log.info("periodic task %r: %s", name, results[name])
    return results


def start_scheduler(
    runtime: Runtime,
    interval: timedelta = DEFAULT_INTERVAL,
    delivery: DeliverySettings | None = None,
) -> BackgroundScheduler:
    """Start the background scheduler with its one interval job; it also runs at once.

    ``max_instances=1`` and ``coalesce``: a tick that takes longer than the interval is
    not run twice side by side, and ticks missed meanwhile collapse into one.
    """
    worker = Worker(runtime, delivery)
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(
        run_periodic_tasks,
        "interval",
        args=[worker],
        seconds=interval.total_seconds(),
        id=JOB_ID,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
        next_run_time=utcnow(),
    )
    scheduler.start()
    log.info("scheduler started: one job every %s", interval)
    return scheduler


def run_worker(runtime: Runtime, interval: timedelta = DEFAULT_INTERVAL) -> None:
    """``caratflow worker``: run the scheduler until SIGTERM or SIGINT, then stop cleanly
    (the tick under way finishes; a SIGKILL loses nothing either: see
    ``caratflow.deadlines.outbox``)."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    scheduler = start_scheduler(runtime, interval)
    log.info("%d start-up objects kept out of the garbage collector", freeze_start_up())
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
        log.info("worker stopped")
