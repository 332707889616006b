"""Replaying a recorded case under the law of another date shows what would differ."""

from __future__ import annotations

from datetime import date

from caratflow.case.access import Actor
from caratflow.models import Role
from caratflow.testing.payloads import shipment_payload

TT = Actor("officer.tt", Role.OFFICER, frozenset({"TT"}))


def test_findings_record_the_rule_version_in_force_on_the_legal_date(session, service):
    before = service.present(
        session,
        shipment_payload(authority="TT", presented_at="2025-12-31T12:00:00+01:00", flag="warn"),
        TT,
    ).shipment
    after = service.present(
        session,
        shipment_payload(authority="TT", presented_at="2026-01-02T12:00:00+01:00", flag="warn"),
        TT,
    ).shipment
    [old] = before.events[0].findings
    [new] = after.events[0].findings
    assert (old.outcome, old.basis, old.rule_version) == (
        "hold",
        "Test Code Art. 1",
        date(2020, 1, 1),
    )
    assert (new.outcome, new.basis, new.rule_version) == (
        "warn",
        "Test Code Art. 1 as amended",
        date(2026, 1, 1),
    )


def test_a_replay_under_older_law_shows_the_difference_and_changes_nothing(session, service):
    shipment = service.present(session, shipment_payload(authority="TT", flag="warn"), TT).shipment
    service.act(session, shipment.id, "verify", TT)
    lines = service.replay(session, shipment.id, date(2025, 6, 1), TT)
    assert [(line.event.action, line.differences) for line in lines] == [
        ("present", ["test.flag: warn -> hold"]),
        ("verify", ["test.flag: warn -> hold"]),
    ]
    assert service.replay(session, shipment.id, date(2026, 6, 1), TT)[0].differences == []
    assert (shipment.state, shipment.version) == ("verified", 2)


def test_a_rule_not_yet_in_force_is_reported_as_not_assessed(session, service, officer):
    russian = shipment_payload(**{"certificate.origin": ["RU"]})
    shipment = service.present(session, russian, officer).shipment
    [line] = service.replay(session, shipment.id, date(2023, 6, 1), officer)
    assert line.differences == [
        "g7.mining_countries: pass -> not assessed",
        "g7.rough.non_russian: refuse -> not assessed",
        "g7.scope: pass -> not assessed",
    ]
