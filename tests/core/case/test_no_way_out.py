"""No way out while the record forbids it (issue 22, point 1), in the engine alone.

The ``testlaw`` jurisdiction (authority TT): ``test.flag`` holds or refuses as a
shipment's ``flag`` asks; its ``rules.toml`` declares that ``remediate`` lifts the
flag's hold (Test Code Art. 2) once the decision records the ``remedy``. Its own
transition ``forward`` lets the goods go from ``held`` and lifts nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from caratflow.case.access import Actor
from caratflow.errors import InvalidInput
from caratflow.law.rules import RecordForbids
from caratflow.models import Event, Role, Shipment
from caratflow.testing.api import act
from caratflow.testing.payloads import shipment_payload

TT_OFFICER = Actor("officer.tt", Role.OFFICER, frozenset({"TT"}))
REMEDY = {"remedy": "the issuing authority corrected the certificate"}


def held(session, service, flag: str) -> Shipment:
    payload = {**shipment_payload(authority="TT"), "flag": flag}
    shipment = service.present(session, payload, TT_OFFICER).shipment
    session.flush()
    return service.act(session, shipment.id, "hold", TT_OFFICER, reason="flagged")


def events(session) -> int:
    return session.scalar(select(func.count()).select_from(Event)) or 0


def test_a_refusal_on_the_record_forbids_a_remedial_release_and_nothing_is_written(
    session, service
):
    shipment = held(session, service, "refuse")
    before = events(session)
    with pytest.raises(RecordForbids) as forbidden:
        service.act(session, shipment.id, "remediate", TT_OFFICER, reason="remedied", inputs=REMEDY)
    assert forbidden.value.status == 409
    assert [(f.rule, f.outcome.value) for f in forbidden.value.findings] == [
        ("test.flag", "refuse")
    ]
    assert "test.flag (Test Code Art. 1 as amended, refuse)" in str(forbidden.value)
    session.refresh(shipment)
    assert (shipment.state, events(session)) == ("held", before)


def test_a_hold_is_lifted_only_by_the_action_its_plugin_declares(session, service):
    shipment = held(session, service, "hold")
    with pytest.raises(RecordForbids, match=r"test\.flag"):
        service.act(session, shipment.id, "forward", TT_OFFICER, reason="sent on", inputs=REMEDY)
    released = service.act(
        session, shipment.id, "remediate", TT_OFFICER, reason="remedied", inputs=REMEDY
    )
    assert released.state == "released"


def test_a_lift_without_the_evidence_it_names_is_refused_naming_the_field(session, service):
    shipment = held(session, service, "hold")
    with pytest.raises(InvalidInput) as invalid:
        service.act(session, shipment.id, "remediate", TT_OFFICER, reason="remedied")
    assert [e.field for e in invalid.value.errors] == ["inputs.remedy"]
    assert "test.flag (Test Code Art. 2)" in str(invalid.value)


def test_what_a_decision_lifted_is_recorded_by_the_engine_never_given(session, service):
    shipment = held(session, service, "refuse")
    forged: dict[str, Any] = {**REMEDY, "lifted": [{"rule": "test.flag"}]}
    with pytest.raises(InvalidInput, match=r"inputs\.lifted"):
        service.act(session, shipment.id, "remediate", TT_OFFICER, reason="x", inputs=forged)


def test_over_http_a_standing_refusal_is_a_409_naming_the_finding_and_its_article(
    client, make_token, session, service
):
    shipment = held(session, service, "refuse")
    session.commit()
    headers = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'TT')}"}
    answer = act(
        client,
        f"/api/v1/shipments/{shipment.id}/actions/remediate",
        json={"reason": "remedied", "inputs": REMEDY},
        headers=headers,
    )
    assert answer.status_code == 409, answer.json
    assert answer.json["error"] == "RecordForbids"
    [finding] = answer.json["findings"]
    assert (finding["rule"], finding["basis"], finding["outcome"]) == (
        "test.flag",
        "Test Code Art. 1 as amended",
        "refuse",
    )
    history = client.get(f"/api/v1/shipments/{shipment.id}/history", headers=headers).json
    assert [e["action"] for e in history["events"]] == ["present", "hold"]
