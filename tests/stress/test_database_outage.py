"""The database goes away under a running app and scheduler, and comes back.

Each test has a database on a PostgreSQL server of the stress suite's own
(``private_postgres``), which it stops and starts. While it is down, every API call is
a 503 with a JSON error (never a 500 with a traceback), pages say so in plain HTML, and
the scheduler's periodic tasks fail, log it and go on ticking. Once it is back,
everything works again and nothing acknowledged before, during or after the outage is
lost or recorded twice.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from caratflow.accounts.provisioning import create_token
from caratflow.db import unit_of_work
from caratflow.deadlines.outbox import DeliverySettings, add_recipient
from caratflow.ledger import leaves, sequencer, signing_keys, verification
from caratflow.models import (
    Deadline,
    Event,
    LedgerEntry,
    OutboxMessage,
    OutboxStatus,
    Role,
    Shipment,
)
from caratflow.scheduler import PERIODIC_TASKS, start_scheduler
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.people import add_person
from caratflow.testing.servers import LiveServer
from caratflow.web import create_app

from .conftest import Crew, http, open_due_reminders, wait_for

pytestmark = pytest.mark.slow

TRACEBACK_WORDS = ("Traceback", "sqlalchemy", "psycopg", 'File "')
FIRST = {"If-Match": '"1"'}  # a fresh shipment's version: actions need it (issue 26)


def officer_headers(runtime) -> dict[str, str]:
    with unit_of_work(runtime.sessions) as session:
        add_person(session, runtime.plugins, Role.OFFICER, name="officer.outage")
    with unit_of_work(runtime.sessions) as session:
        return {"Authorization": f"Bearer {create_token(session, 'officer.outage')}"}


def numbered(n: int) -> dict:
    """A compliant presentation with a certificate number of its own."""
    return shipment_payload(**{"certificate.number": f"CA9{n:05d}"})


def assert_clean_503(answer, *, api: bool = True) -> None:
    assert answer.status == 503, (answer.status, answer.text[:300])
    assert not any(word in answer.text for word in TRACEBACK_WORDS), answer.text[:300]
    assert answer.headers.get("retry-after", "").isdigit()
    if api:
        assert answer.content_type.startswith("application/json"), answer.content_type
        assert answer.json["error"] == "DatabaseUnavailable"
        assert "database is unavailable" in answer.json["message"]
    else:
        assert answer.content_type.startswith("text/html"), answer.content_type
        assert "database is unavailable" in answer.text


def test_while_the_database_is_down_the_api_and_pages_answer_503_and_recover(
    private_postgres, private_runtime
):
    auth = officer_headers(private_runtime)
    app = create_app({"TESTING": True}, runtime=private_runtime)
    with LiveServer(app) as server:
        api = f"{server.url}/api/v1"
        before = http("POST", f"{api}/shipments", numbered(1), auth)
        assert before.status == 201, before.text
        shipment = f"{api}/shipments/{before.json['id']}"

        private_postgres.stop("fast")
        try:
            assert_clean_503(http("POST", f"{api}/shipments", numbered(2), auth))
            assert_clean_503(http("POST", f"{api}/shipments/check", numbered(2), auth))
            assert_clean_503(http("GET", f"{api}/shipments", headers=auth))
            assert_clean_503(http("GET", shipment, headers=auth))
            assert_clean_503(http("GET", f"{shipment}/history", headers=auth))
            assert_clean_503(http("POST", f"{shipment}/actions/verify", {}, auth | FIRST))
            assert_clean_503(http("GET", f"{api}/deadlines", headers=auth))
            assert_clean_503(http("GET", f"{api}/ledger/head"))
            assert_clean_503(http("GET", f"{server.url}/verify/CA900001"), api=False)
            health = http("GET", f"{api}/health")
            assert (health.status, health.json["database"]) == (503, "unreachable")
        finally:
            private_postgres.start()

        assert http("GET", f"{api}/health").status == 200
        verified = http("POST", f"{shipment}/actions/verify", {}, auth | FIRST)
        assert verified.json["state"] == "verified"
        after = http("POST", f"{api}/shipments", numbered(3), auth)
        assert after.status == 201, after.text
        listed = http("GET", f"{api}/shipments", headers=auth).json["items"]
        assert [s["certificate"]["number"] for s in listed] == ["CA900001", "CA900003"]


def test_a_database_lost_after_the_answer_is_ready_does_not_turn_it_into_a_500(
    private_postgres, private_runtime
):
    """The database crashes between the view and the end of the request, when only the
    closing of the request's session (a ROLLBACK) is left: the answer stands."""
    auth = officer_headers(private_runtime)
    app = create_app({"TESTING": True}, runtime=private_runtime)
    crash = threading.Event()

    @app.after_request
    def crash_the_database(response):
        if crash.is_set():
            private_postgres.stop("immediate")
        return response

    with LiveServer(app) as server:
        api = f"{server.url}/api/v1"
        assert http("POST", f"{api}/shipments", numbered(1), auth).status == 201
        crash.set()
        try:
            listed = http("GET", f"{api}/shipments", headers=auth)
        finally:
            private_postgres.start()
        assert listed.status == 200, listed.text[:300]
        assert [s["certificate"]["number"] for s in listed.json["items"]] == ["CA900001"]


NEED_NO_DATABASE = {"/api/v1/openapi.json", "/api/v1/health", "/api/v1/docs", "/api/v1/docs/<name>"}
CATCH_ALL_WITHOUT_503 = {"identities_api", "exchange_api"}
"""Blueprints whose own ``errorhandler(Exception)`` answers before the app's 503 handler
(Flask asks a blueprint's handlers first); each needs the two lines web/api.py has."""


def api_routes(app, *, of_catch_all_blueprints: bool = False) -> list[tuple[str, str]]:
    """(method, path) of every API route (those of ``CATCH_ALL_WITHOUT_503``, or all the
    others), path variables filled in with a 1."""
    routes = []
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rpartition(".")[0]
        if not rule.rule.startswith("/api/") or rule.rule in NEED_NO_DATABASE:
            continue
        if (blueprint in CATCH_ALL_WITHOUT_503) != of_catch_all_blueprints:
            continue
        path = re.sub(r"<(?:[^:>]+:)?[^>]+>", "1", rule.rule)
        routes += [(method, path) for method in sorted(rule.methods & {"GET", "POST"})]
    return routes


def answers_while_down(private_postgres, runtime, routes) -> dict[str, int]:
    """Each route's status while the database is down; negative unless a clean 503 JSON."""
    auth = officer_headers(runtime)
    client = create_app({"TESTING": True}, runtime=runtime).test_client()
    private_postgres.stop("fast")
    try:
        answers = {}
        for method, path in routes:
            body = {} if method == "POST" else None
            answer = client.open(path, method=method, headers=auth, json=body)
            clean = answer.is_json and answer.json.get("error") == "DatabaseUnavailable"
            answers[f"{method} {path}"] = answer.status_code * (1 if clean else -1)
        return answers
    finally:
        private_postgres.start()


def test_every_api_route_answers_503_while_the_database_is_down(private_postgres, private_runtime):
    routes = api_routes(create_app({"TESTING": True}, runtime=private_runtime))
    assert len(routes) >= 10
    answers = answers_while_down(private_postgres, private_runtime, routes)
    assert {route: status for route, status in answers.items() if status != 503} == {}


def test_the_identity_and_exchange_routes_answer_503_while_the_database_is_down(
    private_postgres, private_runtime
):
    app = create_app({"TESTING": True}, runtime=private_runtime)
    routes = api_routes(app, of_catch_all_blueprints=True)
    assert routes
    answers = answers_while_down(private_postgres, private_runtime, routes)
    assert {route: status for route, status in answers.items() if status != 503} == {}


CRASHES = 3


def test_a_crash_of_the_database_under_load_loses_no_acknowledged_presentation(
    private_postgres, private_runtime
):
    """An integration presents shipments one after another, each under an Idempotency-Key,
    while the database crashes three times (immediate shutdown, recovery from its log). It sends
    a presentation answered 503 again, with the same key, until it is answered: 201, or
    200 where the commit had happened but its answer was lost. Every acknowledged
    presentation is kept, and none is recorded twice."""
    auth = officer_headers(private_runtime)
    app = create_app({"TESTING": True}, runtime=private_runtime)
    answers: dict[int, list[int]] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def present(api: str, n: int):
        return http("POST", f"{api}/shipments", numbered(n), auth | {"Idempotency-Key": f"k{n}"})

    def integration(api: str) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            while True:
                answer = present(api, n)
                with lock:
                    answers.setdefault(n, []).append(answer.status)
                if answer.status != 503:
                    break
                assert_clean_503(answer)
                if stop.is_set():
                    return
                time.sleep(0.05)  # then the same presentation again
            assert answer.status == 201 or (answer.status == 200 and 503 in answers[n]), (
                answer.status,
                answer.text[:300],
            )

    def count(status: int) -> int:
        with lock:
            return sum(statuses.count(status) for statuses in answers.values())

    def more(status: int, n: int):
        """A condition: ``n`` more answers of ``status`` than now (and no thread failed)."""
        target = count(status) + n
        return lambda: client.check() and count(status) >= target

    with LiveServer(app) as server:
        api = f"{server.url}/api/v1"
        client = Crew()
        client.start(integration, api)
        try:
            for _ in range(CRASHES):  # each lands at another point of a presentation
                wait_for(more(201, 5), "five presented")
                private_postgres.stop("immediate")
                wait_for(more(503, 2), "two refusals while it is down")
                private_postgres.start()
            wait_for(more(201, 5), "five presented after it all")
        finally:
            stop.set()
            if not private_postgres.running:
                private_postgres.start()
        client.join()
        for n, statuses in answers.items():  # the one cut short when the client stopped
            if statuses[-1] == 503:
                statuses.append(present(api, n).status)

    assert all(statuses[-1] in (200, 201) for statuses in answers.values()), answers
    refused = sum(503 in statuses for statuses in answers.values())
    replayed = sum(statuses[-1] == 200 for statuses in answers.values())
    assert refused, "the client saw the outage"
    print(
        f"{len(answers)} presentations, {refused} answered 503 at first, {replayed} of those "
        "had been recorded before their answer was lost"
    )
    with private_runtime.sessions() as session:
        keys = session.scalars(select(Shipment.idempotency_key)).all()
        assert sorted(keys) == sorted(f"k{n}" for n in answers), "one shipment per key"
        presentations = Counter(
            session.scalars(select(Event.shipment_id).where(Event.action == "present"))
        )
        assert len(presentations) == len(answers) and set(presentations.values()) == {1}
    assert_every_decision_sealed_once(private_runtime)


def assert_every_decision_sealed_once(runtime) -> None:
    sequencer.sequence_once(runtime.sessions, runtime.settings)
    with verification.snapshot(runtime.sessions) as session:
        report = verification.verify_ledger(session, signing_keys.public_key(runtime.settings))
        assert report.ok, [str(d) for d in report.discrepancies]
        assert report.pending == 0
        sealed = session.scalar(select(func.count()).where(LedgerEntry.kind == leaves.DECISION))
        assert sealed == session.scalar(select(func.count()).select_from(Event))


# -- the scheduler ---------------------------------------------------------------------------

REMINDERS = 40
ADDRESS = "mailto:controle@diamonds.example.be"


def test_the_scheduler_keeps_ticking_through_an_outage_and_sends_every_reminder_once(
    private_postgres, private_runtime, smtp_server, caplog
):
    with unit_of_work(private_runtime.sessions) as session:
        add_recipient(session, "BE", "officers", ADDRESS)
    open_due_reminders(private_runtime, REMINDERS)
    delivery = DeliverySettings(smtp_host=smtp_server.host, smtp_port=smtp_server.port)
    caplog.set_level(logging.INFO, logger="caratflow.scheduler")

    def ticks(outcome: str) -> int:
        return sum(f"periodic task 'outbox'{outcome}" in r.getMessage() for r in caplog.records)

    private_postgres.stop("fast")
    scheduler = start_scheduler(private_runtime, timedelta(seconds=0.2), delivery)
    try:
        wait_for(lambda: ticks(" failed") >= 3, "three ticks failing while the database is down")
        messages = [r.getMessage() for r in caplog.records]
        failed = {m.split("'")[1] for m in messages if m.endswith("at the next tick")}
        assert failed == {name for name, _ in PERIODIC_TASKS}, "each task failed on its own"
        assert smtp_server.messages == []
        private_postgres.start()
        wait_for(lambda: len(smtp_server.messages) >= REMINDERS, f"{REMINDERS} reminders")
        wait_for(lambda: marked_sent(private_runtime) == REMINDERS, "every one marked sent")
        done = ticks(": DispatchResult")
        wait_for(lambda: ticks(": DispatchResult") >= done + 3, "three more ticks")
    finally:
        scheduler.shutdown(wait=True)
        if not private_postgres.running:
            private_postgres.start()
    ids = smtp_server.message_ids()
    assert len(ids) == len(set(ids)) == REMINDERS, "each reminder reached the server once"
    with private_runtime.sessions() as session:
        swept = select(func.count()).where(Deadline.reminders_sent == 1)
        assert session.scalar(swept) == REMINDERS


def marked_sent(runtime) -> int:
    """The reminders marked sent (the reports task may escalate a report overdue today)."""
    with runtime.sessions() as session:
        query = select(func.count()).where(
            OutboxMessage.status == OutboxStatus.SENT, OutboxMessage.address == ADDRESS
        )
        return session.scalar(query) or 0
