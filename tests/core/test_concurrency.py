"""Two officers deciding on the same shipment at once: exactly one decision wins."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from caratflow.db import unit_of_work
from caratflow.errors import Conflict
from caratflow.models import Event, Shipment
from caratflow.testing.payloads import shipment_payload

pytestmark = pytest.mark.postgres_only


def test_the_second_of_two_concurrent_decisions_is_a_conflict(committed_runtime, officer):
    rt = committed_runtime
    with unit_of_work(rt.sessions) as session:
        shipment_id = rt.shipments.present(session, shipment_payload(), officer).shipment.id

    first, second = rt.sessions(), rt.sessions()
    with first, second:
        # Both officers hold version 1 on screen before either decides.
        first.begin(), second.begin()
        on_screen = [rt.shipments.get(s, shipment_id, officer) for s in (first, second)]
        assert [s.version for s in on_screen] == [1, 1]
        rt.shipments.act(first, shipment_id, "verify", officer, expected_version=1)
        first.commit()
        with pytest.raises(Conflict, match="changed by someone else"):
            rt.shipments.act(
                second, shipment_id, "hold", officer, expected_version=1, reason="too late"
            )
        second.rollback()

    with rt.sessions() as session:
        shipment = session.get(Shipment, shipment_id)
        assert (shipment.state, shipment.version) == ("verified", 2)
        actions = session.scalars(select(Event.action).where(Event.shipment_id == shipment_id))
        assert list(actions) == ["present", "verify"]


def test_eight_threads_racing_on_one_action_make_one_decision(committed_runtime, officer):
    rt = committed_runtime
    with unit_of_work(rt.sessions) as session:
        shipment_id = rt.shipments.present(session, shipment_payload(), officer).shipment.id
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def decide() -> None:
        with rt.sessions() as session:
            on_screen = rt.shipments.get(session, shipment_id, officer)
            assert on_screen.version == 1
            barrier.wait()
            try:
                rt.shipments.act(session, shipment_id, "verify", officer, expected_version=1)
                session.commit()
                outcomes.append("won")
            except Conflict:
                outcomes.append("conflict")

    threads = [threading.Thread(target=decide) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict"] * 7 + ["won"]
    with rt.sessions() as session:
        verifications = select(func.count()).where(
            Event.shipment_id == shipment_id, Event.action == "verify"
        )
        assert session.scalar(verifications) == 1


def test_a_concurrent_duplicate_idempotency_key_yields_one_shipment(committed_runtime, officer):
    rt = committed_runtime
    barrier = threading.Barrier(4)
    ids: list[int] = []

    def present() -> None:
        with rt.sessions() as session:
            barrier.wait()
            presented = rt.shipments.present(session, shipment_payload(), officer, "same-key")
            session.commit()
            ids.append(presented.shipment.id)

    threads = [threading.Thread(target=present) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ids) == 4 and len(set(ids)) == 1
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Shipment)) == 1
