"""Four eyes: where an authority asks for it, a remedial release or an export is taken
only when a second officer confirms it, whichever door the request comes through."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from caratflow.case import foureyes
from caratflow.case.access import Actor
from caratflow.case.foureyes import SecondOfficerRequired
from caratflow.errors import Conflict, InvalidInput
from caratflow.models import PendingDecision, Role
from caratflow.testing.api import act
from caratflow.testing.payloads import shipment_payload

REMEDY = {
    "reason": "issuing authority corrected its record",
    "inputs": {"ground": "caused_by_another_authority"},
}


@pytest.fixture
def four_eyes_in_belgium(session):
    foureyes.set_four_eyes(session, "BE", ["remediate", "export"], by="admin")
    session.commit()


def held_shipment(client, headers) -> str:
    created = client.post("/api/v1/shipments", json=shipment_payload(), headers=headers).json
    base = f"/api/v1/shipments/{created['id']}"
    act(client, f"{base}/actions/hold", json={"reason": "seal differs"}, headers=headers)
    return base


def officer(make_token, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(Role.OFFICER, 'BE', name=name)}"}


def test_the_first_officer_requests_and_the_second_decides(
    client, make_token, four_eyes_in_belgium
):
    first, second = officer(make_token, "first"), officer(make_token, "second")
    base = held_shipment(client, first)
    asked = act(client, f"{base}/actions/remediate", json=REMEDY, headers=first)
    assert asked.status_code == 202, asked.json
    assert asked.json["pending_decision"]["requested_by"] == "first"
    assert asked.json["shipment"]["state"] == "held"
    again = act(client, f"{base}/actions/remediate", json=REMEDY, headers=first)
    assert again.status_code == 409
    assert "cannot confirm your own" in again.json["message"]
    confirmed = act(client, f"{base}/actions/remediate", headers=second)
    assert confirmed.status_code == 200, confirmed.json
    assert confirmed.json["state"] == "released"
    last = client.get(f"{base}/history", headers=second).json["events"][-1]
    assert (last["actor"], last["reason"]) == ("second", REMEDY["reason"])
    assert last["inputs"]["four_eyes"]["requested_by"] == "first"
    assert last["inputs"]["ground"] == "caused_by_another_authority"


def test_a_request_the_law_would_refuse_is_not_recorded(
    client, make_token, session, four_eyes_in_belgium
):
    first = officer(make_token, "first")
    base = held_shipment(client, first)
    refused = act(client, f"{base}/actions/remediate", json={"reason": "no ground"}, headers=first)
    assert refused.status_code == 422  # eu.remedial_release: a ground of Art. 5(2) is needed
    assert session.scalars(select(PendingDecision)).all() == []


def test_a_change_after_the_request_makes_it_stale(session, service):
    """The second officer confirms what the first one saw, or nothing."""
    foureyes.set_four_eyes(session, "TT", ["export"], by="admin")
    first = Actor("first", Role.OFFICER, frozenset({"TT"}))
    second = Actor("second", Role.OFFICER, frozenset({"TT"}))
    payload = shipment_payload(authority="TT", direction="export")
    shipment = service.present(session, payload, first).shipment
    service.act(session, shipment.id, "verify", first)
    request = service.decide(session, shipment.id, "export", first)
    assert isinstance(request, PendingDecision) and request.shipment_version == 2
    service.act(session, shipment.id, "quarantine", first)  # testlaw: a second look...
    service.act(session, shipment.id, "unquarantine", first)  # ...and back: version 4
    with pytest.raises(Conflict, match="version 4, not 2"):
        service.confirm_request(session, request.id, second)
    fresh = service.decide(session, shipment.id, "export", second)
    assert isinstance(fresh, PendingDecision)  # a new request, not a confirmation
    assert request.status == "superseded"
    exported = service.confirm_request(session, fresh.id, first)
    assert exported.state == "exported"


def test_the_cli_and_every_other_caller_meet_the_same_rule(session, service, four_eyes_in_belgium):
    actor = Actor("cli:root", Role.ADMIN, None, None)
    shipment = service.present(session, shipment_payload(), actor).shipment
    service.act(session, shipment.id, "hold", actor, reason="seal")
    with pytest.raises(SecondOfficerRequired, match="second officer"):
        service.act(session, shipment.id, "remediate", actor, reason="r", inputs=REMEDY["inputs"])


def test_only_remediate_and_export_can_be_put_under_four_eyes(session):
    with pytest.raises(InvalidInput, match="verify"):
        foureyes.set_four_eyes(session, "BE", ["verify"], by="admin")


def test_an_authority_without_four_eyes_decides_at_once(client, make_token):
    first = officer(make_token, "first")
    base = held_shipment(client, first)
    done = act(client, f"{base}/actions/remediate", json=REMEDY, headers=first)
    assert done.status_code == 200
    assert done.json["state"] == "released"


@pytest.mark.parametrize("four_eyes", [False, True], ids=["alone", "under four eyes"])
def test_an_officer_cannot_sign_a_decision_with_a_colleagues_name(
    client, make_token, session, four_eyes
):
    """Issue 21: sending ``inputs.four_eyes`` made one officer's decision read as
    requested by one colleague and confirmed by another. The server owns that field."""
    if four_eyes:
        foureyes.set_four_eyes(session, "BE", ["remediate"], by="admin")
        session.commit()
    alone = officer(make_token, "alone")
    base = held_shipment(client, alone)
    forged = {
        **REMEDY,
        "inputs": {
            **REMEDY["inputs"],
            "four_eyes": {"requested_by": "colleague", "confirmed_by": "alone"},
        },
    }
    refused = act(client, f"{base}/actions/remediate", json=forged, headers=alone)
    assert refused.status_code == 422, refused.json
    assert [e["field"] for e in refused.json["errors"]] == ["inputs.four_eyes"]
    assert client.get(base, headers=alone).json["state"] == "held"
    events = client.get(f"{base}/history", headers=alone).json["events"]
    assert [e["action"] for e in events] == ["present", "hold"]
    assert session.scalars(select(PendingDecision)).all() == []
