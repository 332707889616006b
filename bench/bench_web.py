"""Latency of the shipment list and detail, as pages and through the API, at 1,000 and
at 100,000 shipments.

Two PostgreSQL databases, one of each size, each served by its own waitress on
localhost (as in production), each with a signed-in officer, who also holds an API
token (``GET /api/v1/shipments`` with filters and cursors, ``GET …/shipments/{id}``,
as an integration calls them). Requests alternate
between the two in short rounds, so that whatever else the machine does weighs on
both alike; the ratio large/small of p50 and p99 is the result (a page should cost
about the same however many shipments are stored). The load loop is bounded: a fixed
number of requests from a few client threads, after a warm-up.

Rows are written in bulk with SQLAlchemy Core (shipment, certificate, container, two
decisions with three findings each); a few shipments are presented through the real
service first, so that the pages also show real findings and deadlines. ``--explain``
prints the plans of the list page's queries at the large size.

    python bench/bench_web.py [--small 1000] [--large 100000] [--requests 400] [--explain]
"""

from __future__ import annotations

import argparse
import http.client
import logging
import random
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from sqlalchemy import Engine, event, func, insert, select, text

from caratflow.accounts.provisioning import add_user, create_token, ensure_authorities
from caratflow.case.access import Actor
from caratflow.config import Settings
from caratflow.db import unit_of_work, upgrade
from caratflow.models import Certificate, Container, Event, FindingRecord, Role, Shipment
from caratflow.runtime import Runtime
from caratflow.testing.databases import temporary_database
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.servers import LiveServer
from caratflow.web import create_app

PASSWORD = "bench password 1"
BATCH = 5_000
STATES = [("released", 60), ("verified", 15), ("presented", 10), ("held", 10), ("refused", 5)]
COUNTRIES = ["CA", "BW", "ZA", "AO", "NA", "RU", "AE"]
FINDINGS = [
    ("eu.import.certificate", "pass", "Reg. (EC) 2368/2002 Art. 3(a)"),
    ("eu.import.container", "pass", "Reg. (EC) 2368/2002 Art. 3(b)"),
    ("g7.rough.non_russian", "pass", "Reg. (EU) 833/2014 Art. 3p"),
]


# -- data -------------------------------------------------------------------------------


def fill(engine: Engine, start: int, stop: int, seed: int = 7) -> None:
    """Shipments with ids start..stop-1 (80% Belgian), with everything a page shows."""
    rng = random.Random(seed + start)
    states = [s for s, weight in STATES for _ in range(weight)]
    now = datetime.now(UTC)
    with engine.begin() as connection:
        for first in range(start, stop, BATCH):
            ids = range(first, min(first + BATCH, stop))
            shipments, certificates, containers, events, findings = [], [], [], [], []
            for i in ids:
                country = COUNTRIES[i % len(COUNTRIES)]
                state = rng.choice(states)
                presented = now - timedelta(minutes=rng.randrange(0, 60 * 24 * 700))
                day = presented.date()
                shipments.append(
                    {
                        "id": i,
                        "authority_code": "BE" if i % 5 else "NO",
                        "direction": "import",
                        "goods": "rough",
                        "state": state,
                        "version": 1 if state == "presented" else 2,
                        "presented_at": presented,
                        "entry_point": "BRU" if i % 5 else "OSL",
                        "details": {},
                        "created_at": presented,
                        "updated_at": presented,
                    }
                )
                certificates.append(
                    {
                        "id": i,
                        "shipment_id": i,
                        "number": f"{country}{i:08d}",
                        "issuing_country": country,
                        "issuing_authority": f"Kimberley Process authority of {country}",
                        "issued_on": day - timedelta(days=10),
                        "expires_on": day + timedelta(days=50),
                        "exporter_name": f"Exporter {i % 97}",
                        "exporter_address": "1 Mine Road",
                        "importer_name": f"Importer {i % 89} NV",
                        "importer_address": "Schupstraat 9, Antwerpen",
                        "parcels": 1 + i % 4,
                        "carats": Decimal(rng.randrange(100, 500_000)) / 100,
                        "value_usd": Decimal(rng.randrange(10_000, 90_000_000)) / 100,
                        "hs_codes": ["7102.10"],
                        "origin": [country],
                        "provenance": country,
                    }
                )
                containers.append(
                    {
                        "id": i,
                        "shipment_id": i,
                        "label": "C1",
                        "seals": [f"S-{i}"],
                        "seals_intact": state != "held",
                    }
                )
                steps = [("present", None, "presented")]
                if state != "presented":
                    steps.append((_action(state), "presented", state))
                for n, (action, source, dest) in enumerate(steps):
                    event_id = 2 * i + n
                    events.append(
                        {
                            "id": event_id,
                            "shipment_id": i,
                            "action": action,
                            "actor": "bench",
                            "from_state": source,
                            "to_state": dest,
                            "reason": "seal differs" if action in ("hold", "refuse") else None,
                            "legal_date": day,
                            "at": presented + timedelta(hours=n),
                            "data": {},
                        }
                    )
                    findings.extend(
                        {
                            "id": 3 * event_id + k,
                            "event_id": event_id,
                            "rule": rule,
                            "outcome": outcome,
                            "basis": basis,
                            "message": "as the certificate states",
                            "rule_version": date(2003, 1, 1),
                            "data": {},
                        }
                        for k, (rule, outcome, basis) in enumerate(FINDINGS)
                    )
            for model, rows in (
                (Shipment, shipments),
                (Certificate, certificates),
                (Container, containers),
                (Event, events),
                (FindingRecord, findings),
            ):
                connection.execute(insert(model.__table__), rows)
        for table in ("shipment", "certificate", "container", "event", "finding"):
            sequence = f"pg_get_serial_sequence('{table}', 'id')"
            connection.execute(text(f"SELECT setval({sequence}, max(id)) FROM {table}"))
    # Measure a settled database: no autovacuum or checkpoint running behind the load.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
        connection.execute(text("CHECKPOINT"))


def _action(state: str) -> str:
    return {"released": "verify", "verified": "verify", "held": "hold", "refused": "refuse"}[state]


# -- the load loop ----------------------------------------------------------------------


KINDS = ("list", "detail", "api-list", "api-get")


class Browser:
    """A signed-in officer over plain HTTP (the session cookie handled by hand); under
    ``/api/`` the officer's bearer token speaks instead."""

    def __init__(self, url: str, name: str, token: str = ""):
        parts = urlsplit(url)
        self.token = token
        self.host, self.port = parts.hostname, parts.port
        self.cookie = ""
        page = self.get("/login")[1]
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        status, _ = self.post("/login", {"name": name, "password": PASSWORD, "csrf_token": token})
        assert status == 302, f"sign-in failed ({status})"

    def get(self, path: str) -> tuple[int, str]:
        return self._request("GET", path)

    def post(self, path: str, form: dict[str, str]) -> tuple[int, str]:
        return self._request("POST", path, urlencode(form))

    def _request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        api = path.startswith("/api/")
        headers = {"Authorization": f"Bearer {self.token}"} if api else {"Cookie": self.cookie}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        text_ = response.read().decode()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie" and not api:
                self.cookie = value.split(";", 1)[0]
        connection.close()
        return response.status, text_


def measure(url: str, paths: list[str], clients: int, token: str = "") -> list[float]:
    """Milliseconds per request, ``paths`` shared out among ``clients`` threads."""
    latencies: list[float] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def work(share: list[str]) -> None:
        try:
            run(share)
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    def run(share: list[str]) -> None:
        browser = Browser(url, "bench", token)
        mine = []
        for path in share:
            started = time.perf_counter()
            status, _ = browser.get(path)
            mine.append((time.perf_counter() - started) * 1000)
            assert status == 200, (path, status)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=work, args=(paths[n::clients],)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return latencies


def page_paths(engine: Engine, requests: int, rng: random.Random) -> dict[str, list[str]]:
    with engine.connect() as connection:
        top = connection.scalar(select(func.max(Shipment.id)))
        numbers = connection.scalars(
            select(Certificate.number)
            .join(Shipment)
            .where(Shipment.authority_code == "BE")
            .order_by(func.random())
            .limit(50)
        ).all()
        belgian = connection.scalars(
            select(Shipment.id)
            .where(Shipment.authority_code == "BE")
            .order_by(func.random())
            .limit(200)
        ).all()
    lists = [
        "/shipments/",
        "/shipments/?state=held",
        "/shipments/?state=presented&goods=rough",
        f"/shipments/?certificate={rng.choice(numbers)}",
        f"/shipments/?cursor={rng.randrange(1, top)}",
    ]
    api_lists = [
        "/api/v1/shipments",
        "/api/v1/shipments?state=held",
        "/api/v1/shipments?state=presented&goods=rough",
        f"/api/v1/shipments?authority=BE&cursor={rng.randrange(1, top)}",
    ]
    return {
        "list": [rng.choice(lists) for _ in range(requests)],
        "detail": [f"/shipments/{rng.choice(belgian)}" for _ in range(requests)],
        "api-list": [rng.choice(api_lists) for _ in range(requests)],
        "api-get": [f"/api/v1/shipments/{rng.choice(belgian)}" for _ in range(requests)],
    }


@contextmanager
def captured_sql(engine: Engine) -> Iterator[list[tuple[str, object]]]:
    seen: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "FROM shipment" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", keep)


def explain(engine: Engine, url: str) -> None:
    """Print the plans of the list page's queries, as the page sent them."""
    with captured_sql(engine) as seen:
        browser = Browser(url, "bench")
        for path in ("/shipments/", "/shipments/?state=held", "/shipments/?certificate=CA00000007"):
            browser.get(path)
    with engine.connect() as connection:
        for statement, parameters in seen:
            if "LIMIT" not in statement:
                continue
            plan = connection.exec_driver_sql("EXPLAIN ANALYZE " + statement, parameters)
            lines = [row[0] for row in plan]
            print("   ", next(line for line in lines if "Execution Time" in line).strip())
            for line in lines[:6]:
                print("      ", line)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@contextmanager
def deployment(size: int) -> Iterator[tuple[Runtime, LiveServer, str]]:
    """A database of ``size`` shipments of its own, served by its own waitress."""
    with (
        tempfile.TemporaryDirectory() as folder,
        temporary_database("postgresql", Path(folder)) as database_url,
    ):
        settings = Settings.from_env(
            {}, database_url=database_url, instance_path=Path(folder), secret_key="bench"
        )
        runtime = Runtime.start(settings)
        upgrade(runtime.engine)
        with unit_of_work(runtime.sessions) as session:
            ensure_authorities(session, runtime.plugins)
            add_user(session, "bench", Role.OFFICER, ["BE"], PASSWORD)
            token = create_token(session, "bench")
            officer = Actor("bench", Role.OFFICER, frozenset({"BE"}))
            for n in range(10):  # a few real ones: findings, deadlines, events from the engine
                runtime.shipments.present(
                    session, shipment_payload(**{"certificate.number": f"CA9{n:07d}"}), officer
                )
        started = time.perf_counter()
        first = 1_000_000  # bulk rows get ids of their own, above the service's
        fill(runtime.engine, first, first + size)
        print(f"{size:,} shipments written in {time.perf_counter() - started:.1f} s")
        app = create_app({"IDLE_MINUTES": 60}, runtime=runtime)
        try:
            with LiveServer(app, threads=4) as server:
                yield runtime, server, token
        finally:
            runtime.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=400, help="per page kind and size")
    parser.add_argument("--rounds", type=int, default=8, help="alternations small/large")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    rng = random.Random(1)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # clients queue: on purpose

    sizes = (args.small, args.large)
    results: dict[tuple[str, int], list[float]] = {
        (kind, size): [] for kind in KINDS for size in sizes
    }
    with deployment(args.small) as small, deployment(args.large) as large:
        servers = dict(zip(sizes, (small, large), strict=True))
        paths = {
            size: page_paths(rt.engine, args.requests, rng) for size, (rt, *_) in servers.items()
        }
        for size, (_, server, token) in servers.items():  # warm up: templates, caches, pools
            for kind in KINDS:
                measure(server.url, paths[size][kind][:40], args.clients, token)
        # Alternate small and large in short rounds, so that whatever else the machine
        # does at the time weighs on both alike.
        share = max(args.requests // args.rounds, 1)
        for n in range(args.rounds):
            for size, (_, server, token) in servers.items():
                for kind in KINDS:
                    chunk = paths[size][kind][n * share : (n + 1) * share]
                    results[(kind, size)] += measure(server.url, chunk, args.clients, token)
        if args.explain:
            runtime, server, _ = servers[args.large]
            print(f"plans of the list page's queries at {args.large:,} shipments:")
            explain(runtime.engine, server.url)

    print()
    print(
        f"{'what':8} {'':4} {args.small:>10,} {args.large:>10,}   large/small   (ms; "
        f"{share * args.rounds} requests per cell from {args.clients} clients, "
        f"{args.rounds} alternating rounds)"
    )
    for kind in KINDS:
        for name, fraction in (("p50", 0.50), ("p99", 0.99)):
            low = percentile(results[(kind, args.small)], fraction)
            high = percentile(results[(kind, args.large)], fraction)
            print(f"{kind:8} {name:4} {low:10.1f} {high:10.1f}   ratio {high / low:5.2f}")
    mean = statistics.mean(results[("list", args.large)])
    print(f"(list mean at {args.large:,}: {mean:.1f} ms)")


if __name__ == "__main__":
    main()
