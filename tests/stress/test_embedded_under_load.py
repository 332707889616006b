"""Eight officers on the embedded default: ``caratflow serve`` on its own SQLite file.

The real command (waitress, its scheduler running) and a ``caratflow worker`` ticking
twice a second on the same file, as an authority without PostgreSQL runs them; eight API
clients present shipments and decide on them for ``CARATFLOW_LOAD_SECONDS`` (60 by
default, loopback only). On a deferred ``BEGIN`` most of these answers were ``503
database is locked`` (issue 21). Now: no 5xx at all, every acknowledged presentation is
stored, every acknowledged decision is in the ledger exactly once.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from caratflow.testing.payloads import presented_now

from .conftest import PATIENCE, Embedded, http

pytestmark = pytest.mark.slow

CLIENTS = 8
SECONDS = float(os.environ.get("CARATFLOW_LOAD_SECONDS", "60"))
"""How long the clients keep at it; a bound on the test's length, never a measurement."""


def embedded_import(client: int, n: int) -> dict:
    """A compliant Belgian import presented now, with a certificate of its own."""
    return presented_now(**{"certificate.number": f"CA{client}{n:06d}"})


class Officer:
    """One client: present, verify, release, again; what the server acknowledged."""

    def __init__(self, base: str, number: int, token: str, until: float):
        self.base, self.number, self.until = base, number, until
        self.auth = {"Authorization": f"Bearer {token}"}
        self.statuses: Counter[int] = Counter()
        self.presented: list[int] = []
        self.decided: list[tuple[int, int]] = []  # (shipment, version) acknowledged
        self.unexpected: list[str] = []

    def ask(self, method: str, path: str, body: dict | None = None, version: int | None = None):
        headers = self.auth | ({"If-Match": f'"{version}"'} if version else {})
        answer = http(method, f"{self.base}{path}", body, headers, timeout=PATIENCE)
        self.statuses[answer.status] += 1
        return answer

    def run(self) -> None:
        n = 0
        while time.monotonic() < self.until:
            n += 1
            answer = self.ask("POST", "/api/v1/shipments", embedded_import(self.number, n))
            if answer.status != 201:
                self.unexpected.append(f"present {answer.status}: {answer.text[:200]}")
                continue
            shipment = answer.json["id"]
            self.presented.append(shipment)
            for action in ("verify", "release"):
                path = f"/api/v1/shipments/{shipment}/actions/{action}"
                answer = self.ask("POST", path, {}, version=answer.json["version"])
                if answer.status != 200:
                    self.unexpected.append(f"{action} {answer.status}: {answer.text[:200]}")
                    break
                self.decided.append((shipment, answer.json["version"]))


def test_eight_officers_on_the_embedded_default_get_no_5xx_and_lose_nothing(tmp_path):
    deployment = Embedded(tmp_path)
    deployment.cli("init")
    tokens = []
    for n in range(CLIENTS):
        add = ("users", "add", f"officer{n}", "--role", "officer", "--authority", "BE")
        deployment.cli(*add, "--duty", "fps_economy", "--duty", "customs")
        tokens.append(deployment.cli("tokens", "create", f"officer{n}"))
    with deployment.serve() as base:
        worker = deployment.start("worker", "--interval", "0.5")
        until = time.monotonic() + SECONDS
        officers = [Officer(base, n, token, until) for n, token in enumerate(tokens)]
        threads = [threading.Thread(target=o.run) for o in officers]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(SECONDS + 2 * PATIENCE)
        elapsed = time.monotonic() - started
        worker.terminate()
        worker.wait(timeout=PATIENCE)

    statuses = sum((o.statuses for o in officers), Counter())
    answers = sum(statuses.values())
    errors = sum(count for status, count in statuses.items() if status >= 500)
    print(
        f"\n{answers} answers in {elapsed:.0f} s ({answers / elapsed:.1f}/s): "
        f"{dict(statuses)}; 5xx {errors / answers:.1%}"
    )
    assert errors == 0, dict(statuses)
    assert [u for o in officers for u in o.unexpected] == []
    presented = [s for o in officers for s in o.presented]
    decided = [d for o in officers for d in o.decided]
    assert presented and decided
    assert_all_stored_and_sealed_once(deployment.database, presented, decided)


EVENT_VERSIONS = """
    SELECT id, shipment_id, ROW_NUMBER() OVER (PARTITION BY shipment_id ORDER BY id) AS version
    FROM event
"""


def assert_all_stored_and_sealed_once(
    database: Path, presented: list[int], decided: list[tuple[int, int]]
) -> None:
    """Read the file afresh: each acknowledged shipment and decision is there, and each
    decision is one ledger entry (the ledger keys a decision by its event's id)."""
    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        shipments = set(connection.scalars(text("SELECT id FROM shipment")))
        events = {  # a shipment's n-th event made its version n (its presentation is 1)
            (row.shipment_id, row.version): row.id
            for row in connection.execute(text(EVENT_VERSIONS))
        }
        sealed = Counter(
            connection.scalars(text("SELECT record_key FROM ledger_entry WHERE kind = 'decision'"))
        )
    engine.dispose()
    assert set(presented) <= shipments, "an acknowledged presentation is missing"
    missing = [d for d in decided if d not in events]
    assert missing == [], "an acknowledged decision is missing"
    assert all(sealed[str(events[d])] == 1 for d in decided), "a decision not sealed once"
    assert all(count == 1 for count in sealed.values())
