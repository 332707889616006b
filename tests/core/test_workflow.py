"""Every core transition, and every way the engine refuses one.

Uses the ``testlaw`` jurisdiction (authority TT, see conftest): its rule ``test.flag``
returns the outcome a shipment's ``flag`` field asks for.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from caratflow.case.access import Actor
from caratflow.case.service import ShipmentService
from caratflow.errors import ActionNotAvailable, Conflict, Forbidden, NotFound, ReasonRequired
from caratflow.law.rules import LawForbids
from caratflow.models import Event, Role, Shipment
from caratflow.testing.payloads import shipment_payload

TT_OFFICER = Actor("officer.tt", Role.OFFICER, frozenset({"TT"}))


def present(session, service: ShipmentService, flag: str | None = None, **changes: Any) -> Shipment:
    payload = shipment_payload(authority="TT", **changes)
    if flag is not None:
        payload["flag"] = flag
    shipment = service.present(session, payload, TT_OFFICER).shipment
    session.flush()
    return shipment


def act(session, service: ShipmentService, shipment: Shipment, action: str, **kw: Any) -> Shipment:
    return service.act(session, shipment.id, action, TT_OFFICER, **kw)


def test_a_presented_shipment_is_recorded_with_its_findings(session, service):
    shipment = present(session, service, flag="info")
    assert shipment.state == "presented"
    [event] = shipment.events
    assert (event.action, event.from_state, event.to_state) == ("present", None, "presented")
    assert [(f.rule, f.outcome, f.basis) for f in event.findings] == [
        ("test.flag", "info", "Test Code Art. 1 as amended")
    ]


def test_verify_moves_a_clean_shipment_to_verified(session, service):
    shipment = act(session, service, present(session, service), "verify")
    assert shipment.state == "verified"
    assert shipment.version == 2


@pytest.mark.parametrize("flag", ["hold", "refuse"])
def test_a_hold_or_refuse_finding_stops_verification_and_cites_the_rule(session, service, flag):
    shipment = present(session, service, flag=flag)
    with pytest.raises(LawForbids) as refused:
        act(session, service, shipment, "verify")
    assert "test.flag (Test Code Art. 1 as amended)" in str(refused.value)
    assert [f.outcome.value for f in refused.value.findings] == [flag]
    assert shipment.state == "presented"


@pytest.mark.parametrize("flag", ["pass", "info", "warn"])
def test_harmless_findings_do_not_stop_verification(session, service, flag):
    assert act(session, service, present(session, service, flag=flag), "verify").state == "verified"


def test_hold_needs_a_reason(session, service):
    shipment = present(session, service, flag="hold")
    with pytest.raises(ReasonRequired):
        act(session, service, shipment, "hold", reason="   ")
    held = act(session, service, shipment, "hold", reason="seal broken")
    assert held.state == "held"
    assert held.events[-1].reason == "seal broken"
    assert [f.outcome for f in held.events[-1].findings] == ["hold"]


def test_a_verified_shipment_can_still_be_held(session, service):
    shipment = act(session, service, present(session, service), "verify")
    assert act(session, service, shipment, "hold", reason="new information").state == "held"


def test_release_ends_a_verified_import(session, service):
    shipment = act(session, service, present(session, service), "verify")
    released = act(session, service, shipment, "release")
    assert released.state == "released"
    assert service.available_actions(released) == []


def test_export_is_for_exports_and_release_is_not(session, service):
    shipment = act(session, service, present(session, service, direction="export"), "verify")
    assert service.available_actions(shipment) == ["hold", "export", "quarantine"]
    with pytest.raises(ActionNotAvailable):
        act(session, service, shipment, "release")
    assert act(session, service, shipment, "export").state == "exported"


def test_an_import_cannot_be_exported(session, service):
    shipment = act(session, service, present(session, service), "verify")
    with pytest.raises(ActionNotAvailable) as refused:
        act(session, service, shipment, "export")
    assert refused.value.available == ["hold", "release", "quarantine"]


def test_remedial_release_lifts_the_hold_with_a_written_ground_and_its_remedy(session, service):
    shipment = act(session, service, present(session, service, flag="hold"), "hold", reason="x")
    with pytest.raises(ReasonRequired):
        act(session, service, shipment, "remediate")
    remedy = {"remedy": "corrected certificate received"}
    reason = "error of the issuing authority"
    released = act(session, service, shipment, "remediate", reason=reason, inputs=remedy)
    assert released.state == "released"
    assert [f.outcome for f in released.events[-1].findings] == ["hold"]
    [lifted] = released.events[-1].data["lifted"]
    assert (lifted["rule"], lifted["basis"], lifted["evidence"]) == (
        "test.flag",
        "Test Code Art. 2",
        remedy,
    )


@pytest.mark.parametrize("via_hold", [False, True])
def test_refusal_is_final(session, service, via_hold):
    shipment = present(session, service, flag="refuse")
    if via_hold:
        shipment = act(session, service, shipment, "hold", reason="suspicious")
    refused = act(session, service, shipment, "refuse", reason="Russian origin")
    assert refused.state == "refused"
    assert service.available_actions(refused) == []
    with pytest.raises(ActionNotAvailable, match="possible: none"):
        act(session, service, refused, "release")


def test_an_unknown_action_says_what_is_possible(session, service):
    with pytest.raises(ActionNotAvailable, match="possible: verify, hold, refuse"):
        act(session, service, present(session, service), "teleport")


def test_a_plugin_transition_is_guarded_like_a_core_one(session, service):
    shipment = act(session, service, present(session, service, flag="pass"), "verify")
    assert act(session, service, shipment, "quarantine").state == "quarantined"
    assert act(session, service, shipment, "unquarantine").state == "verified"


def test_a_plugin_transition_exists_only_where_the_plugin_is_enabled(session, service, officer):
    belgian = service.present(session, shipment_payload(), officer).shipment
    session.flush()
    assert "quarantine" not in service.jurisdiction_of(belgian).workflow.actions
    assert "request_origin_evidence" in service.available_actions(belgian)


def test_a_stale_version_is_a_conflict(session, service):
    shipment = present(session, service)
    with pytest.raises(Conflict, match="version 1, not 7"):
        act(session, service, shipment, "verify", expected_version=7)
    assert act(session, service, shipment, "verify", expected_version=1).version == 2


def test_an_auditor_reads_but_never_decides(session, service):
    shipment = present(session, service)
    auditor = Actor("auditor", Role.AUDITOR, frozenset({"TT"}))
    assert service.get(session, shipment.id, auditor) is shipment
    with pytest.raises(Forbidden):
        service.act(session, shipment.id, "verify", auditor)
    with pytest.raises(Forbidden):
        service.present(session, shipment_payload(authority="TT"), auditor)


def test_another_authoritys_shipment_is_not_found_and_cannot_be_presented(session, service):
    shipment = present(session, service)
    norwegian = Actor("officer.no", Role.OFFICER, frozenset({"NO"}))
    with pytest.raises(NotFound):
        service.get(session, shipment.id, norwegian)
    with pytest.raises(NotFound):
        service.act(session, shipment.id, "verify", norwegian)
    with pytest.raises(Forbidden):
        service.present(session, shipment_payload(authority="TT"), norwegian)


def test_a_refused_decision_records_nothing(session, service):
    shipment = present(session, service, flag="hold")
    with pytest.raises(LawForbids):
        act(session, service, shipment, "verify")
    assert (
        session.scalar(
            select(func.count()).select_from(Event).where(Event.shipment_id == shipment.id)
        )
        == 1
    )


def test_the_machine_is_built_once_per_plugin_set_and_keeps_no_shipments(
    session, service, plugin_host
):
    first = plugin_host.jurisdiction(["eu", "belgium_g7"])
    assert plugin_host.jurisdiction(["belgium_g7", "eu"]) is first
    for _ in range(3):
        act(session, service, present(session, service), "verify")
    assert plugin_host.jurisdiction(["testlaw"]).workflow.machine.models == []
