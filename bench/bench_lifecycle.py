"""present → verify → release: the engine as the API runs it against raw SQL doing the same
writes, interleaved in rounds, at 1,000 and at 100,000 stored shipments.

The engine is ``Runtime.assemble``'s: the shipment service with every observer the API
wires in (documents, deadlines, notices, ledger), one unit of work per decision. The
baseline writes the same rows in the same transactions with hand-written SQL and no
rule, no rendering and no read: the shipment, its certificate and containers, each
decision with as many findings as the engine recorded for it, the traders' tallies, the
verification clock opened and met, the certified copy as a decision seals it (its
digest; its PDF is rendered after the commit, issue 28), the notice's outbox row and a
ledger entry per decision and per document.

The two run in rounds, alternately first, so that load from elsewhere on the machine
falls on both; each figure is the median of the rounds' medians, with the spread of
the rounds (min–max). History is stored first with bulk SQL (``INSERT … SELECT`` over
a recursive counter: 100,000 shipments in seconds), realistic traders: a few hundred
importers and fifty exporters, hundreds of shipments each, one in fifty held.

    python bench/bench_lifecycle.py [--stored 1000,100000] [--rounds 7] [--per-round 30]
                                    [--backend sqlite|postgresql]

``--backend postgresql`` creates a database of its own (and drops it) on the server at
CARATFLOW_TEST_POSTGRES_URL; ``--database-url`` uses a given one instead.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, date, datetime
from pathlib import Path

from _autovacuum import autovacuum
from sqlalchemy import event, func, select, text

from caratflow.accounts.provisioning import ensure_authorities
from caratflow.case import history
from caratflow.case.access import Actor
from caratflow.config import Settings
from caratflow.db import make_engine, session_factory, unit_of_work, upgrade
from caratflow.models import Event, FindingRecord, IssuedDocument, Role
from caratflow.pluginhost import load_plugin_host
from caratflow.runtime import Runtime
from caratflow.testing.databases import temporary_database
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.servers import with_ledger_key

OFFICER = Actor("bench", Role.OFFICER, frozenset({"BE"}), None)  # holds every duty
IMPORTERS, EXPORTERS = 300, 50
STEPS = ("present", "verify", "release")


# -- the stored history ------------------------------------------------------------------

COUNTER = "WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < :count) "
SEED = [
    COUNTER + "INSERT INTO shipment (authority_code, direction, goods, state, version,"
    " presented_at, entry_point, details, created_at, updated_at)"
    " SELECT 'BE', 'import', 'rough', 'released', 3, :at, 'BRU', '{}', :at, :at FROM n",
    "INSERT INTO certificate (shipment_id, number, issuing_country, issuing_authority,"
    " issued_on, expires_on, exporter_name, exporter_address, importer_name,"
    " importer_address, parcels, carats, value_usd, hs_codes, origin, provenance)"
    " SELECT id, 'SEED' || id, 'CA', 'NRCan', :day, :day, 'Exporter ' || (id % :exporters),"
    " '-', 'Importer ' || (id % :importers), '-', 2, :carats, :value, '[\"7102.10\"]',"
    " '[\"CA\"]', 'CA' FROM shipment WHERE id > :after",
    "INSERT INTO container (shipment_id, label, seals, seals_intact)"
    " SELECT id, 'C1', '[\"S-1\"]', true FROM shipment WHERE id > :after",
    *(
        "INSERT INTO event (shipment_id, action, actor, from_state, to_state, legal_date, at,"
        f" data) SELECT id, {action}, 'seed', {before}, {after}, :day, :at, '{{}}' FROM shipment"
        f" WHERE id > :after{only}"
        for action, before, after, only in (
            ("'present'", "NULL", "'presented'", ""),
            (
                "CASE WHEN id % 50 = 0 THEN 'hold' ELSE 'verify' END",
                "'presented'",
                "CASE WHEN id % 50 = 0 THEN 'held' ELSE 'verified' END",
                "",
            ),
            ("'release'", "'verified'", "'released'", " AND id % 50 <> 0"),
        )
    ),
    "INSERT INTO finding (event_id, rule, outcome, basis, message, rule_version, data)"
    " SELECT event.id, 'eu.import.certificate', 'pass', 'Art. 3', 'ok', :day, '{}' FROM event"
    " WHERE event.shipment_id > :after",
    "INSERT INTO deadline (authority_code, shipment_id, rule, basis, plugin, period, status,"
    " starts_at, starts_on, due_on, due_at, reminders, reminders_sent, escalate_to, schedule,"
    " suspended_days, created_at)"
    " SELECT 'BE', id, 'eu.verify.without_delay', 'Art. 4', 'eu', 'P3D', 'met', :at, :day,"
    " :day, :at, '[]', 0, '[]', 1, 0, :at FROM shipment WHERE id > :after",
]


def store_history(engine, up_to: int) -> float:
    """Bring the stored shipments up to ``up_to`` with bulk SQL; the seconds it took."""
    sqlite = engine.dialect.name == "sqlite"
    at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    values = {
        "at": at.replace(tzinfo=None) if sqlite else at,
        "day": date(2026, 1, 5),
        "carats": 1234500 if sqlite else "123.45",
        "value": 45678900 if sqlite else "456789.00",
        "importers": IMPORTERS,
        "exporters": EXPORTERS,
    }
    started = time.perf_counter()
    with unit_of_work(session_factory(engine)) as session:
        after = session.scalar(text("SELECT coalesce(max(id), 0) FROM shipment"))
        stored = session.scalar(text("SELECT count(*) FROM shipment"))
        if stored >= up_to:
            return 0.0
        for statement in SEED:
            session.execute(text(statement), values | {"count": up_to - stored, "after": after})
        history.recount(session)  # the traders' tallies, as decisions would have kept them
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))
    return time.perf_counter() - started


# -- the two paths -----------------------------------------------------------------------


class Statements:
    """Counts what the engine sends, per step (BEGIN aside)."""

    def __init__(self, engine):
        self.counts: Counter[str] = Counter()
        self.step: str | None = None
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, *_):
        if self.step is not None and not statement.startswith("BEGIN"):
            self.counts[self.step] += 1


class EnginePath:
    def __init__(self, runtime: Runtime, statements: Statements):
        self.runtime, self.statements, self.made = runtime, statements, 0

    def lifecycle(self) -> dict[str, float]:
        k = self.made = self.made + 1
        payload = shipment_payload(
            **{
                "certificate.number": f"CA{k:07d}",
                "certificate.importer.name": f"Importer {k % IMPORTERS}",
                "certificate.exporter.name": f"Exporter {k % EXPORTERS}",
            }
        )
        service, sessions, times = self.runtime.shipments, self.runtime.sessions, {}
        for step in STEPS:
            self.statements.step = step
            started = time.perf_counter()
            with unit_of_work(sessions) as session:
                if step == "present":
                    shipment_id = service.present(session, payload, OFFICER).shipment.id
                else:
                    service.act(session, shipment_id, step, OFFICER)
            times[step] = time.perf_counter() - started
            self.statements.step = None
        return times


class RawPath:
    """The engine's writes, hand-written (see the module's docstring)."""

    def __init__(self, engine, findings: dict[str, int]):
        self.engine, self.findings = engine, findings
        self.made = 0
        sqlite = engine.dialect.name == "sqlite"
        now = datetime.now(UTC)
        self.at, self.today = (now.replace(tzinfo=None) if sqlite else now), date(2026, 11, 20)
        self.carats, self.value = (1234500, 45678900) if sqlite else ("123.45", "456789.00")

    def lifecycle(self) -> dict[str, float]:
        self.made += 1
        times = {}
        for step in STEPS:
            started = time.perf_counter()
            with self.engine.begin() as conn:
                getattr(self, step)(conn)
            times[step] = time.perf_counter() - started
        return times

    def _sql(self, conn, statement: str, values: dict | list) -> object:
        return conn.execute(text(statement), values)

    def _decision(self, conn, action: str, before: str | None, after: str) -> None:
        event_id = self._sql(
            conn,
            "INSERT INTO event (shipment_id, action, actor, from_state, to_state, legal_date,"
            " at, data) VALUES (:s, :a, 'bench', :f, :t, :d, :at, '{}') RETURNING id",
            {"s": self.shipment, "a": action, "f": before, "t": after, "d": self.today}
            | {"at": self.at},
        ).scalar_one()
        self._sql(
            conn,
            "INSERT INTO finding (event_id, rule, outcome, basis, message, rule_version, data)"
            " VALUES (:e, :r, 'pass', 'Reg. (EC) 2368/2002 Art. 3', 'ok', :v, '{}')",
            [
                {"e": event_id, "r": f"rule.{n}", "v": self.today}
                for n in range(self.findings[action])
            ],
        )
        self._ledger(conn, "decision", f"{event_id}")

    def _ledger(self, conn, kind: str, key: str) -> None:
        self._sql(
            conn,
            "INSERT INTO ledger_entry (kind, record_key, logged_at, leaf_data)"
            " VALUES (:k, :r, :at, :l)",
            {"k": kind, "r": key, "at": self.at, "l": "x" * 400},
        )

    def present(self, conn) -> None:
        k = self.made
        self.shipment = self._sql(
            conn,
            "INSERT INTO shipment (authority_code, direction, goods, state, version,"
            " presented_at, entry_point, details, created_at, updated_at) VALUES"
            " ('BE', 'import', 'rough', 'presented', 1, :at, 'BRU', '{}', :at, :at) RETURNING id",
            {"at": self.at},
        ).scalar_one()
        importer, exporter = f"Importer {k % IMPORTERS}", f"Exporter {k % EXPORTERS}"
        self._sql(
            conn,
            "INSERT INTO certificate (shipment_id, number, issuing_country, issuing_authority,"
            " issued_on, expires_on, exporter_name, exporter_address, importer_name,"
            " importer_address, parcels, carats, value_usd, hs_codes, origin, provenance)"
            " VALUES (:s, :n, 'CA', 'NRCan', :d, :d, :e, 'x', :i, 'y', 2, :c, :v,"
            " '[\"7102.10\"]', '[\"CA\"]', 'CA')",
            {"s": self.shipment, "n": f"RAW{k:07d}", "d": self.today, "c": self.carats}
            | {"v": self.value, "e": exporter, "i": importer},
        )
        self._sql(
            conn,
            "INSERT INTO container (shipment_id, label, seals, seals_intact)"
            " VALUES (:s, 'C1', '[\"S-991\"]', true)",
            {"s": self.shipment},
        )
        self._decision(conn, "present", None, "presented")
        self._sql(
            conn,
            "INSERT INTO trader_tally (authority_code, name, shipments, held)"
            " VALUES ('BE', :i, 1, 0), ('BE', :e, 1, 0) ON CONFLICT (authority_code, name)"
            " DO UPDATE SET shipments = trader_tally.shipments + 1",
            {"i": importer, "e": exporter},
        )
        self.deadline = self._sql(
            conn,
            "INSERT INTO deadline (authority_code, shipment_id, rule, basis, plugin, period,"
            " status, starts_at, starts_on, due_on, due_at, next_at, reminders, reminders_sent,"
            " escalate_to, schedule, suspended_days, created_at) VALUES ('BE', :s,"
            " 'eu.verify.without_delay', 'Art. 4', 'eu', 'P3D', 'open', :at, :d, :d, :at, :at,"
            " '[]', 0, '[]', 1, 0, :at) RETURNING id",
            {"s": self.shipment, "at": self.at, "d": self.today},
        ).scalar_one()

    def verify(self, conn) -> None:
        self._update(conn, "verified", 1)
        self._decision(conn, "verify", "presented", "verified")
        number = f"RAW-CC-{self.made:07d}"
        self._sql(
            conn,
            "INSERT INTO issued_document (number, kind, serial, authority_code, shipment_id,"
            " issued_at, issued_on, actor, content, status, digest, key_id) VALUES"
            " (:n, 'bench.copy', :serial, 'BE', :s, :at, :d, 'bench', '{}', 'valid', :digest,"
            " 'k')",
            {"n": number, "serial": self.made, "s": self.shipment, "at": self.at}
            | {"d": self.today, "digest": "0" * 64},
        )
        self._ledger(conn, "document", number)
        self._sql(
            conn,
            "UPDATE deadline SET status = 'met', next_at = NULL, met_at = :at, closed_at = :at"
            " WHERE id = :id",
            {"id": self.deadline, "at": self.at},
        )
        self._sql(
            conn,
            "INSERT INTO outbox_message (key, authority_code, shipment_id, fulfils_deadline,"
            " kind, audience, address, subject, body, data, status, scheduled_for, late,"
            " attempts, next_attempt_at, created_at) VALUES (:k, 'BE', :s, false, 'notice',"
            " 'importer', 'log:', 'Verified', 'body', '{}', 'pending', :at, false, 0, :at, :at)",
            {"k": f"raw-{self.made}", "s": self.shipment, "at": self.at},
        )

    def release(self, conn) -> None:
        self._update(conn, "released", 2)
        self._decision(conn, "release", "verified", "released")

    def _update(self, conn, state: str, version: int) -> None:
        self._sql(
            conn,
            "UPDATE shipment SET state = :t, version = :v2, updated_at = :at"
            " WHERE id = :s AND version = :v",
            {"t": state, "v2": version + 1, "v": version, "s": self.shipment, "at": self.at},
        )


# -- measuring ---------------------------------------------------------------------------


def rounds(
    paths: dict[str, Callable[[], dict[str, float]]], count: int, per_round: int
) -> dict[str, list[dict[str, float]]]:
    """Each round runs ``per_round`` lifecycles of each path, the paths alternately first;
    returns, per path, each round's median per step and for the whole lifecycle."""
    found: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
    names = list(paths)
    for number in range(count):
        for name in names if number % 2 == 0 else reversed(names):
            runs = [paths[name]() for _ in range(per_round)]
            medians = {step: statistics.median(r[step] for r in runs) for step in STEPS}
            medians["lifecycle"] = statistics.median(sum(r.values()) for r in runs)
            found[name].append(medians)
    return found


def summary(values: list[float]) -> str:
    """The median of the rounds in ms, with their spread."""
    ms = [1000 * v for v in values]
    return f"{statistics.median(ms):7.2f} ({min(ms):.2f}-{max(ms):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", default="1000,100000", help="stored shipments, each size")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-round", type=int, default=30)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", help="default: a new database on --backend")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    sizes = [int(size) for size in args.stored.split(",")]
    given = nullcontext(args.database_url) if args.database_url else None
    with given or temporary_database(args.backend, folder) as url:
        run(url, folder, sizes, args.rounds, args.per_round)


def run(url: str, folder: Path, sizes: list[int], count: int, per_round: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    host = load_plugin_host()
    settings = with_ledger_key(Settings.from_env({}, database_url=url, instance_path=folder))
    runtime = Runtime.assemble(settings, engine, session_factory(engine), host)
    with unit_of_work(runtime.sessions) as session:
        ensure_authorities(session, host)
    statements = Statements(engine)
    engine_path = EnginePath(runtime, statements)
    with autovacuum(url):
        engine_path.lifecycle()  # warm up; what the engine writes sets the baseline's rows
        with unit_of_work(runtime.sessions) as session:
            recorded = session.execute(
                select(Event.action, func.count(FindingRecord.id))
                .join(FindingRecord)
                .group_by(Event.action)
            ).all()
            rendered = session.scalar(select(func.count()).where(IssuedDocument.pdf.is_not(None)))
        raw_path = RawPath(engine, dict(recorded))
        raw_path.lifecycle()
        print(f"database: {engine.dialect.name}; {count} rounds of {per_round} lifecycles each")
        print(
            f"findings per decision: {dict(recorded)}; certified copies rendered within their"
            f" decision: {rendered} (issue 28: sealed there, rendered after the commit)"
        )
        results = {}
        for size in sizes:
            seeded = store_history(engine, size)
            statements.counts.clear()
            found = rounds(
                {"raw SQL": raw_path.lifecycle, "engine": engine_path.lifecycle}, count, per_round
            )
            decisions = engine_path.made - 1
            per_decision = {step: statements.counts[step] / (count * per_round) for step in STEPS}
            results[size] = found
            print(f"\nstored shipments: {size:,} (seeded in {seeded:.1f} s)")
            print(f"{'ms, median of rounds (spread)':<30} {'raw SQL':>22} {'engine':>22}")
            for step in (*STEPS, "lifecycle"):
                raw = summary([r[step] for r in found["raw SQL"]])
                ours = summary([r[step] for r in found["engine"]])
                print(f"{step:<30} {raw:>22} {ours:>22}")
            ratios = [
                e["lifecycle"] / r["lifecycle"]
                for e, r in zip(found["engine"], found["raw SQL"], strict=True)
            ]
            print(
                f"ratio engine / raw SQL at {size:,}: {statistics.median(ratios):.2f}"
                f" (rounds {min(ratios):.2f}-{max(ratios):.2f})"
            )
            print(
                "statements per decision: "
                + ", ".join(f"{step} {per_decision[step]:.1f}" for step in STEPS)
                + f" ({decisions} lifecycles so far)"
            )
        if len(sizes) > 1:
            small, large = results[sizes[0]], results[sizes[-1]]
            growth = {
                step: statistics.median(r[step] for r in large["engine"])
                / statistics.median(r[step] for r in small["engine"])
                for step in STEPS
            }
            print(
                f"\nratio {sizes[-1]:,} / {sizes[0]:,} stored: "
                + ", ".join(f"{step} x{growth[step]:.2f}" for step in STEPS)
            )
    engine.dispose()


if __name__ == "__main__":
    main()
