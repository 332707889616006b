"""A process for the fault tests to kill with SIGKILL: it decides, seals or sweeps.

``python child.py decide [--pause]``: take decisions on the presented BE shipments one
transaction each (odd ids verified, even ones held), sequencing the ledger every few
decisions; with ``--pause`` it stops inside the first transaction, after everything is
written and before the commit, prints ``decided <id>`` and waits for a line on stdin.

``python child.py sweep --pause``: claim the due deadlines and queue their reminders in
one transaction, print ``swept <n>`` and wait, uncommitted.

It reads ``CARATFLOW_DATABASE_URL`` and ``CARATFLOW_INSTANCE_PATH`` as the CLI does, and
prints ``committed <id>`` after each commit so the test knows how far it got.
"""

from __future__ import annotations

import sys

from sqlalchemy import select

from caratflow.case.access import Actor
from caratflow.db import unit_of_work
from caratflow.deadlines import sweep as deadline_sweep
from caratflow.ledger import sequencer
from caratflow.models import Role, Shipment
from caratflow.runtime import Runtime

OFFICER = Actor("officer.child", Role.OFFICER, frozenset({"BE"}), None)  # every duty
SEQUENCE_EVERY = 5


def say(line: str) -> None:
    print(line, flush=True)


def decide(runtime: Runtime, pause: bool) -> None:
    decided = 0
    while True:
        with unit_of_work(runtime.sessions) as session:
            next_one = (
                select(Shipment.id)
                .where(Shipment.state == "presented", Shipment.authority_code == "BE")
                .order_by(Shipment.id)
                .limit(1)
            )
            shipment_id = session.scalar(next_one)
            if shipment_id is None:
                break
            if shipment_id % 2:
                runtime.shipments.act(session, shipment_id, "verify", OFFICER)
            else:
                reason = "seal broken on arrival"
                runtime.shipments.act(session, shipment_id, "hold", OFFICER, reason=reason)
            session.flush()
            if pause:
                say(f"decided {shipment_id}")
                sys.stdin.readline()  # the test kills this process here
        say(f"committed {shipment_id}")
        decided += 1
        if decided % SEQUENCE_EVERY == 0:
            sequencer.sequence_once(runtime.sessions, runtime.settings)
    say("done")


def sweep(runtime: Runtime) -> None:
    with unit_of_work(runtime.sessions) as session:
        result = deadline_sweep.sweep(session, limit=10_000)
        session.flush()
        say(f"swept {result.deadlines}")
        sys.stdin.readline()  # the test kills this process here


if __name__ == "__main__":
    command, *options = sys.argv[1:]
    runtime = Runtime.start()
    if command == "decide":
        decide(runtime, pause="--pause" in options)
    elif command == "sweep":
        sweep(runtime)
    else:
        raise SystemExit(f"unknown command {command!r}")
