"""Sweeping deadlines: cost must follow what is due, not what is stored.

1. The sweep (``caratflow.deadlines.sweep.sweep_due``: claim, queue the reminder, advance)
   over 1,000 due deadlines among 10,000 stored, then among 1,000,000 stored, on
   PostgreSQL. Stored rows are realistic: most finished (met, missed, cancelled; out
   of the partial index), some open and due later. Bulk-loaded with COPY; the sweep of
   the same 1,000 rows is repeated (reset between runs) and the median kept. The ratio
   1M / 10k should be close to 1.
   Against it, what APScheduler 3 does with a job per deadline in its
   ``SQLAlchemyJobStore`` when the same 1,000 fall due among as many stored jobs: fetch
   and unpickle the due jobs (``get_due_jobs``), then remove each date-triggered job
   once it has run (``remove_job``, as the scheduler's ``_process_jobs`` does), on the
   same server. The store holds pending jobs only (APScheduler keeps no finished ones).
2. Scheduling 20,000 deadlines as rows (``open_deadline``: one commit each, and all in
   one transaction, as a row joins its decision's own commit) against 20,000 APScheduler
   3 jobs in a ``SQLAlchemyJobStore`` on the same database (``add_job``, each its own
   commit), same run.

Run: /tmp/venv/bin/python bench/bench_sweep.py [--stored 10000 1000000] [--schedule 20000]
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text
from sqlalchemy.engine import make_url

import caratflow.plugins.eu
from caratflow.accounts.provisioning import ensure_authorities
from caratflow.db import make_engine, session_factory, unit_of_work, upgrade
from caratflow.deadlines.keeping import calendar_for, open_deadline
from caratflow.deadlines.sweep import sweep_due
from caratflow.jurisdiction.clocks import Period, Reminder, declare
from caratflow.law.rules import RuleBook
from caratflow.models import Authority
from caratflow.pluginhost import load_plugin_host
from caratflow.testing.databases import temporary_database

DUE = 1_000
REPEATS = 3
COLUMNS = (
    "authority_code, rule, basis, plugin, period, status, starts_at, starts_on, due_on, "
    "due_at, next_at, reminders, reminders_sent, escalate_to, schedule, suspended_days, "
    "created_at"
)
REMINDER = json.dumps([{"before": 3, "audience": "officers", "at": "08:00"}])


def load(url: str, stored: int, now: datetime) -> None:
    """COPY ``stored`` deadlines: ``DUE`` open and due now, 80% of the rest finished,
    20% open and due in the weeks to come."""
    today = now.date()
    past, future = today - timedelta(days=40), today + timedelta(days=20)
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        with cursor.copy(f"COPY deadline ({COLUMNS}) FROM STDIN") as copy:
            for n in range(stored):
                if n < DUE:  # due: one reminder has come, the due day has not
                    status, next_at, due_on = (
                        "open",
                        now - timedelta(minutes=1),
                        today + timedelta(days=2),
                    )
                elif n % 5:  # finished long ago: not in the sweep's index
                    status, next_at, due_on = ("met", "missed", "cancelled")[n % 3], None, past
                else:  # open, due later
                    status, next_at, due_on = "open", now + timedelta(days=10 + n % 9), future
                due_at = datetime.combine(due_on, datetime.max.time(), UTC)
                copy.write_row(
                    (
                        "BE",
                        "eu.confirm.10_days",
                        "Reg. (EC) 2368/2002 Art. 5(1)(a)",
                        "eu",
                        "10 working days",
                        status,
                        due_at - timedelta(days=14),
                        due_on - timedelta(days=14),
                        due_on,
                        due_at,
                        next_at,
                        REMINDER,
                        0,
                        '["supervisors"]',
                        1,
                        0,
                        due_at - timedelta(days=14),
                    )
                )
        cursor.execute("ANALYZE deadline")


def reset(engine, now: datetime) -> None:
    """Make the same rows due again, and clean up after it: without VACUUM each repeat
    leaves dead tuples behind in the partial index, so later sweeps walk past them."""
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM outbox_message"))
        connection.execute(
            text("UPDATE deadline SET reminders_sent = 0, next_at = :at WHERE id <= :due"),
            {"at": now - timedelta(minutes=1), "due": DUE},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE deadline"))
        connection.execute(text("VACUUM ANALYZE outbox_message"))


def bench_sweep(stored: int, folder: Path) -> float:
    with temporary_database("postgresql", folder) as url:
        engine = make_engine(url)
        upgrade(engine)
        sessions = session_factory(engine)
        with unit_of_work(sessions) as session:
            ensure_authorities(session, load_plugin_host())
        now = datetime.now(UTC)
        started = time.perf_counter()
        load(make_url(url).set(drivername="postgresql").render_as_string(False), stored, now)
        print(f"  loaded {stored:>9,} deadlines in {time.perf_counter() - started:5.1f} s")
        timings = []
        for _ in range(REPEATS):
            reset(engine, now)
            started = time.perf_counter()
            result = sweep_due(sessions, now)
            timings.append(time.perf_counter() - started)
            assert (result.deadlines, result.reminders) == (DUE, DUE), result
        engine.dispose()
    median = statistics.median(timings)
    print(
        f"  sweep of {DUE:,} due among {stored:>9,}: {median * 1000:7.1f} ms (median of {REPEATS})"
    )
    return median


JOB_COPY = "COPY apscheduler_jobs (id, next_run_time, job_state) FROM STDIN"


def copy_jobs(url: str, jobs: list[tuple[str, datetime, dict]], protocol: int) -> None:
    """Write APScheduler jobs as its store does (pickled state), in bulk."""
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        with cursor.copy(JOB_COPY) as copy:
            for job_id, at, state in jobs:
                copy.write_row((job_id, at.timestamp(), pickle.dumps(state, protocol)))
        cursor.execute("ANALYZE apscheduler_jobs")


def bench_job_store(stored: int, folder: Path) -> float:
    """1,000 due jobs among ``stored`` in APScheduler's SQLAlchemyJobStore: fetch, remove."""
    with temporary_database("postgresql", folder) as url:
        store = SQLAlchemyJobStore(url=url, tablename="apscheduler_jobs")
        scheduler = BackgroundScheduler(jobstores={"default": store}, timezone="UTC")
        scheduler.start(paused=True)
        now = datetime.now(UTC)
        template = scheduler.add_job(remind, "date", run_date=now, args=[0], id="template")
        state = template.__getstate__()
        store.remove_job("template")
        raw = make_url(url).set(drivername="postgresql").render_as_string(False)
        started = time.perf_counter()
        jobs = []
        for n in range(stored):
            at = now - timedelta(minutes=1) if n < DUE else now + timedelta(days=10 + n % 9)
            jobs.append((f"d{n}", at, {**state, "id": f"d{n}", "args": (n,), "next_run_time": at}))
        copy_jobs(raw, jobs, store.pickle_protocol)
        del jobs
        print(f"  loaded {stored:>9,} jobs in {time.perf_counter() - started:5.1f} s")
        timings = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            due = store.get_due_jobs(now)
            for job in due:
                store.remove_job(job.id)
            timings.append(time.perf_counter() - started)
            assert len(due) == DUE, len(due)
            again = [(job.id, job.next_run_time, job.__getstate__()) for job in due]
            copy_jobs(raw, again, store.pickle_protocol)  # the same jobs, for the next repeat
        store.remove_all_jobs()  # shutting down wakes the paused scheduler: leave it nothing
        scheduler.shutdown(wait=False)
        store.engine.dispose()
    median = statistics.median(timings)
    print(f"  jobs: {DUE:,} due among {stored:>9,}: {median * 1000:7.1f} ms (median of {REPEATS})")
    return median


def remind(deadline_number: int) -> None:
    """What an APScheduler job per deadline would run."""


def bench_scheduling(count: int, folder: Path) -> tuple[float, float]:
    with temporary_database("postgresql", folder) as url:
        engine = make_engine(url)
        upgrade(engine)
        sessions = session_factory(engine)
        host = load_plugin_host()
        with unit_of_work(sessions) as session:
            ensure_authorities(session, host)
        rule = declare(
            RuleBook("eu", Path(caratflow.plugins.eu.__file__).parent / "rules.toml"),
            "eu.confirm.10_days",
            opened_by={"present"},
            period=Period.parse("10 working days"),
            reminders=(Reminder(3), Reminder(0)),
        )
        start = datetime.now(UTC)
        with unit_of_work(sessions) as session:  # a decision has both at hand already
            authority = session.get(Authority, "BE")
            calendar = calendar_for(session, authority)
        started = time.perf_counter()
        for n in range(count):
            with unit_of_work(sessions) as session:
                authority = session.merge(authority, load=False)
                at = start + timedelta(minutes=n)
                open_deadline(session, rule, authority, at, calendar=calendar)
        as_rows = time.perf_counter() - started
        # What a decision really adds: the row joins the decision's own commit.
        started = time.perf_counter()
        with unit_of_work(sessions) as session:
            authority = session.merge(authority, load=False)
            for n in range(count):
                at = start + timedelta(minutes=n)
                open_deadline(session, rule, authority, at, calendar=calendar)
        in_decision = time.perf_counter() - started

        scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=url, tablename="apscheduler_jobs")},
            timezone="UTC",
        )
        scheduler.start(paused=True)
        started = time.perf_counter()
        for n in range(count):
            scheduler.add_job(
                remind, "date", run_date=start + timedelta(days=14, minutes=n), args=[n], id=f"d{n}"
            )
        as_jobs = time.perf_counter() - started
        scheduler.shutdown(wait=False)
        engine.dispose()
    print(f"  {count:,} deadlines as rows, one commit each:   {as_rows:6.1f} s")
    print(f"  {count:,} deadlines as rows in their decisions: {in_decision:6.1f} s")
    print(f"  {count:,} deadlines as APScheduler jobs:      {as_jobs:6.1f} s")
    return as_rows, in_decision, as_jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, nargs=2, default=[10_000, 1_000_000])
    parser.add_argument("--schedule", type=int, default=20_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    print(f"1. sweep {DUE:,} due deadlines (PostgreSQL, partial index on the open rows)")
    small, large = (bench_sweep(n, folder) for n in args.stored)
    print(f"   ratio {args.stored[1]:,} / {args.stored[0]:,} stored: {large / small:.2f}")
    print(f"   the same {DUE:,} due as APScheduler jobs (SQLAlchemyJobStore, PostgreSQL)")
    jobs_small, jobs_large = (bench_job_store(n, folder) for n in args.stored)
    few, many = args.stored
    print(f"   ratio jobs {many:,} / {few:,} stored: {jobs_large / jobs_small:.2f}")
    for stored, rows, jobs in ((few, small, jobs_small), (many, large, jobs_large)):
        print(f"   ratio sweep / job store at {stored:,} stored: {rows / jobs:.2f}")
    if not args.schedule:
        return
    print(f"2. schedule {args.schedule:,} deadlines (PostgreSQL, one commit each)")
    rows, in_decision, jobs = bench_scheduling(args.schedule, folder)
    print(f"   ratio APScheduler jobs / rows (one commit each): {jobs / rows:.2f}")
    print(f"   ratio APScheduler jobs / rows (in the decision's commit): {jobs / in_decision:.2f}")


if __name__ == "__main__":
    main()
