"""A bounded load test: officers and integrations at a peak, against gunicorn + PostgreSQL.

    pip install -e '.[bench]'
    python bench/load.py [--minutes 10] [--officers 50] [--integrations 5]

The Antwerp Diamond Office at a peak (issue 11): 50 officers, half FPS Economy and half
customs, each signed in to the pages and holding an API token, and 5 customs or trade
systems presenting shipments through the API. Officers look at the dashboard and the
list, open a shipment, and decide: FPS Economy verifies what is presented (or detains
one in twenty), customs releases what is verified. Integrations present a new shipment
(each with its Idempotency-Key) and pre-check another. Everyone pauses between steps as
people and batch jobs do (a few seconds, exponentially distributed).

The app runs under gunicorn (2 workers × 8 threads, the process count of this 2-core
machine) on a fresh PostgreSQL database, with ``caratflow worker`` beside it sweeping
deadlines and sequencing the ledger, as in production.

What it reports: requests per second, the error rate (5xx, or no answer at all; a 409
lost race or a 422 the law gives are answers, counted apart), p50/p95/p99 per operation,
and that nothing was lost: every decision the app acknowledged (201 or 200) is in the
database, every event has its ledger leaf, and ``caratflow ledger verify`` passes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from _autovacuum import autovacuum
from sqlalchemy import func, select

from caratflow.accounts.provisioning import add_user, create_token, ensure_authorities
from caratflow.db import make_engine, session_factory, unit_of_work, upgrade
from caratflow.ledger import leaves
from caratflow.models import Event, LedgerEntry, Role, Shipment
from caratflow.pluginhost import load_plugin_host
from caratflow.testing.databases import temporary_database
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.servers import free_port

PASSWORD = "load test passphrase"
DUTIES = ("fps_economy", "customs")
ANSWERS = {200, 201, 202, 302, 303, 409, 422}  # answers, even when the law or a race says no


@dataclass
class Tally:
    """Every request's operation, status and latency; the decisions acknowledged."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    acknowledged: dict[int, int] = field(default_factory=dict)  # shipment -> highest version

    def note(self, operation: str, status: int, seconds: float) -> None:
        with self.lock:
            self.latencies[operation].append(seconds)
            self.statuses[operation][status] += 1

    def decided(self, shipment: dict[str, Any]) -> None:
        with self.lock:
            known = self.acknowledged.get(shipment["id"], 0)
            self.acknowledged[shipment["id"]] = max(known, shipment["version"])


class Client:
    """One person or system: its own cookies (a browser) and its bearer token."""

    def __init__(self, base: str, token: str, tally: Tally):
        self.base, self.token, self.tally = base, token, tally
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), NoRedirect()
        )

    def call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        api: bool = True,
    ) -> tuple[int, Any]:
        sent = dict(headers or {})
        data = None
        if json_body is not None:
            data, sent["Content-Type"] = json.dumps(json_body).encode(), "application/json"
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if api:
            sent["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.base + path, data, sent, method=method)
        started = time.perf_counter()
        try:
            with self.opener.open(request, timeout=60) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        except OSError:
            status, raw = 0, b""  # no answer at all
        self.tally.note(operation, status, time.perf_counter() - started)
        if raw[:1] in (b"{", b"["):
            return status, json.loads(raw)
        return status, raw.decode("utf-8", "replace")

    def sign_in(self, name: str) -> None:
        _, page = self.call("sign-in page", "GET", "/login", api=False)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        status, _ = self.call(
            "sign in",
            "POST",
            "/login",
            form={"csrf_token": token, "name": name, "password": PASSWORD},
            api=False,
        )
        if status != 302:
            raise SystemExit(f"{name} could not sign in: {status}")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:  # a redirect is an answer to measure
        return None


def pause(mean: float, until: float) -> bool:
    time.sleep(min(random.expovariate(1 / mean), max(0.0, until - time.monotonic())))
    return time.monotonic() < until


def officer(client: Client, duty: str, until: float) -> None:
    wanted, action = ("presented", "verify") if duty == "fps_economy" else ("verified", "release")
    while pause(5.0, until):
        step = random.random()
        if step < 0.25:
            client.call("page: dashboard", "GET", "/", api=False)
            continue
        if step < 0.4:
            client.call("page: shipments", "GET", f"/shipments/?state={wanted}", api=False)
            continue
        status, page = client.call(
            "api: list", "GET", f"/api/v1/shipments?state={wanted}&authority=BE&limit=20"
        )
        if status != 200 or not page["items"]:
            continue
        chosen = random.choice(page["items"])
        if step < 0.55:
            client.call("page: shipment", "GET", f"/shipments/{chosen['id']}", api=False)
        status, shipment = client.call("api: get", "GET", f"/api/v1/shipments/{chosen['id']}")
        if status != 200:
            continue
        decision, body = action, {}
        if duty == "fps_economy" and random.random() < 0.05:
            decision, body = "hold", {"reason": "seal S-991 looks re-glued"}
        status, answer = client.call(
            f"api: {decision}",
            "POST",
            f"/api/v1/shipments/{chosen['id']}/actions/{decision}",
            json_body=body,
            headers={"If-Match": f'"{shipment["version"]}"'},
        )
        if status == 200:
            client.tally.decided(answer)


def integration(client: Client, number: int, until: float) -> None:
    sequence = 0
    while pause(2.0, until):
        sequence += 1
        today = datetime.now(UTC)
        payload = shipment_payload(
            **{
                "presented_at": today.isoformat(),
                "certificate.number": f"CA{number}{sequence:06d}",
                "certificate.issued_on": (today - timedelta(days=10)).date().isoformat(),
                "certificate.expires_on": (today + timedelta(days=60)).date().isoformat(),
                "certificate.importer.name": f"Importer {random.randrange(200)}",
            }
        )
        if random.random() < 0.3:
            client.call("api: check", "POST", "/api/v1/shipments/check", json_body=payload)
        status, answer = client.call(
            "api: present",
            "POST",
            "/api/v1/shipments",
            json_body=payload,
            headers={"Idempotency-Key": f"load-{number}-{sequence}"},
        )
        if status == 201:
            client.tally.decided(answer)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(tally: Tally, seconds: float) -> tuple[int, int]:
    total = sum(sum(s.values()) for s in tally.statuses.values())
    errors = sum(n for s in tally.statuses.values() for code, n in s.items() if code not in ANSWERS)
    print(f"{total} requests in {seconds:.0f} s: {total / seconds:.1f} requests/s")
    print(f"{'operation':<20} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  statuses")
    for operation in sorted(tally.latencies):
        ms = [v * 1000 for v in tally.latencies[operation]]
        codes = ", ".join(f"{c}: {n}" for c, n in sorted(tally.statuses[operation].items()))
        print(
            f"{operation:<20} {len(ms):>7} {statistics.median(ms):>8.1f} "
            f"{percentile(ms, 0.95):>8.1f} {percentile(ms, 0.99):>8.1f}  {codes}"
        )
    every = [v * 1000 for values in tally.latencies.values() for v in values]
    print(
        f"all requests: p50 {statistics.median(every):.1f} ms, p99 {percentile(every, 0.99):.1f} ms"
    )
    print(f"error rate: {errors / total:.4%} ({errors} of {total}: 5xx or no answer)")
    return total, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--officers", type=int, default=50)
    parser.add_argument("--integrations", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="caratflow-load-"))
    with temporary_database("postgresql", folder) as url:
        run(args, folder, url)


def run(args: argparse.Namespace, folder: Path, url: str) -> None:
    env = {
        **os.environ,
        "CARATFLOW_DATABASE_URL": url,
        "CARATFLOW_INSTANCE_PATH": str(folder),
        "CARATFLOW_SECRET_KEY": "load-test",
        "CARATFLOW_SESSION_COOKIE_SECURE": "false",
        "CARATFLOW_IDLE_MINUTES": "60",
    }
    caratflow = [sys.executable, "-m", "caratflow.cli"]
    subprocess.run([*caratflow, "init"], env=env, check=True, capture_output=True)
    engine = make_engine(url)
    host = load_plugin_host()
    sessions = session_factory(engine)
    upgrade(engine)
    tokens = {}
    with unit_of_work(sessions) as session:
        ensure_authorities(session, host)
        people = [(f"officer{n}", [DUTIES[n % 2]]) for n in range(args.officers)]
        people += [(f"integration{n}", []) for n in range(args.integrations)]
        for name, duties in people:
            add_user(session, name, Role.OFFICER, ["BE"], PASSWORD, duties=duties, host=host)
    with unit_of_work(sessions) as session:
        tokens = {name: create_token(session, name) for name, _ in people}

    port = free_port()
    log = (folder / "server.log").open("w")  # gunicorn's and the worker's own lines
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "--workers", str(args.workers)),
            *("--threads", "8", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"),
            "caratflow.web:create_app()",
        ],
        env=env,
        stdout=log,
        stderr=log,
    )
    worker = subprocess.Popen(
        [*caratflow, "worker", "--interval", "5"], env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    with autovacuum(url):  # this machine's server runs without it
        try:
            wait_for(base)
            tally = Tally()
            until = time.monotonic() + args.minutes * 60
            threads = []
            for n, (name, duties) in enumerate(people):
                client = Client(base, tokens[name], tally)
                if duties:
                    client.sign_in(name)
                    target, extra = officer, (duties[0],)
                else:
                    target, extra = integration, (n,)
                threads.append(threading.Thread(target=target, args=(client, *extra, until)))
            started = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
        finally:
            server.terminate()
            server.wait(30)
    time.sleep(6)  # one more sweep: the worker sequences what the last requests sealed
    worker.terminate()
    worker.wait(30)
    report(tally, elapsed)
    lost = check_nothing_lost(sessions, tally)
    verified = subprocess.run([*caratflow, "ledger", "verify"], env=env, capture_output=True)
    print(f"ledger verify: exit {verified.returncode}")
    engine.dispose()
    if lost or verified.returncode:
        raise SystemExit(1)


def check_nothing_lost(sessions: Any, tally: Tally) -> int:
    """Every acknowledged decision is stored (version n means n decisions), and every
    stored decision has its ledger leaf."""
    with sessions() as session:
        versions = dict(session.execute(select(Shipment.id, Shipment.version)).all())
        events = session.scalar(select(func.count()).select_from(Event))
        sealed = session.scalar(select(func.count()).where(LedgerEntry.kind == leaves.DECISION))
        unsequenced = session.scalar(
            select(func.count()).where(
                LedgerEntry.kind == leaves.DECISION, LedgerEntry.seq.is_(None)
            )
        )
    lost = [s for s, v in tally.acknowledged.items() if versions.get(s, 0) < v]
    acknowledged = sum(tally.acknowledged.values())
    print(
        f"decisions acknowledged: {acknowledged} on {len(tally.acknowledged)} shipments; "
        f"events stored: {events}; ledger leaves: {sealed} ({unsequenced} not yet sequenced)"
    )
    print(f"lost: {len(lost)} acknowledged decisions missing; events without a leaf: ", end="")
    print(events - sealed)
    return len(lost) + abs(events - sealed)


def wait_for(base: str) -> None:
    for _ in range(120):
        try:
            with urllib.request.urlopen(base + "/api/v1/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("gunicorn did not come up")


if __name__ == "__main__":
    main()
