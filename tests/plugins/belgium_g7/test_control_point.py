"""The Antwerp Diamond Office as a control point: customs and FPS Economy share it, each
taking its own decisions (Reg. (EC) 2368/2002 Art. 19(1); LAW.md g7.rough.non_russian), and
a parcel without documented origin waits for the trader's evidence before it is verified."""

from __future__ import annotations

import hashlib

import pytest

from caratflow.case.access import Actor
from caratflow.errors import Forbidden, InvalidInput
from caratflow.law.rules import LawForbids
from caratflow.models import Role
from caratflow.testing.payloads import documents, outcomes, shares, shipment_payload

CUSTOMS = Actor("douane.antwerpen", Role.OFFICER, frozenset({"BE"}), frozenset({"customs"}))
FPS_ECONOMY = Actor("fod.economie", Role.OFFICER, frozenset({"BE"}), frozenset({"fps_economy"}))
NO_DUTY = Actor("stagiair", Role.OFFICER, frozenset({"BE"}))
DOCUMENTS = documents(
    [
        hashlib.sha256(text).hexdigest()
        for text in (b"mining licence, Catoca, Angola", b"Botswana export permit 2026/1187")
    ]
)


def mixed_parcel_without_mining_countries() -> dict:
    """Rough from a mixed parcel whose certificate lists no country of mining: since
    1 March 2025 that is no documented non-Russian origin (g7.mining_countries)."""
    return shipment_payload(
        **{"certificate.origin": [], "certificate.provenance": "AE"}, mixed="yes"
    )


def present(session, service, payload=None):
    shipment = service.present(session, payload or shipment_payload(), CUSTOMS).shipment
    session.flush()
    return shipment


def test_fps_economy_verifies_and_customs_releases(session, service):
    shipment = present(session, service)
    service.act(session, shipment.id, "verify", FPS_ECONOMY)
    service.act(session, shipment.id, "release", CUSTOMS)
    assert shipment.state == "released"
    assert [(e.action, e.actor) for e in shipment.events][1:] == [
        ("verify", "fod.economie"),
        ("release", "douane.antwerpen"),
    ]


@pytest.mark.parametrize(
    ("actor", "action", "body"),
    [
        (CUSTOMS, "verify", "FPS Economy, Diamond Office (fps_economy"),
        (NO_DUTY, "verify", "FPS Economy, Diamond Office (fps_economy"),
        (CUSTOMS, "request_origin_evidence", "FPS Economy, Diamond Office (fps_economy"),
        (FPS_ECONOMY, "place_under_transit", "Customs, Diamond Office (customs"),
    ],
)
def test_a_decision_of_the_other_body_is_refused_naming_whose_it_is(
    session, service, actor, action, body
):
    shipment = present(session, service)
    with pytest.raises(Forbidden) as refused:
        service.act(session, shipment.id, action, actor, reason="to be sure")
    message = str(refused.value)
    assert body in message and "Reg. (EC) 2368/2002 Art. 19(1)" in message
    assert f"{actor.name} holds {', '.join(sorted(actor.duties)) or 'no duty'}" in message
    assert shipment.state == "presented" and len(shipment.events) == 1


def test_fps_economy_may_not_release_what_it_verified(session, service):
    shipment = present(session, service)
    service.act(session, shipment.id, "verify", FPS_ECONOMY)
    with pytest.raises(Forbidden, match="'release' is a decision for Customs"):
        service.act(session, shipment.id, "release", FPS_ECONOMY)


def test_either_body_may_detain(session, service):
    for actor in (CUSTOMS, FPS_ECONOMY):
        shipment = present(session, service)
        service.act(session, shipment.id, "hold", actor, reason="seal S-991 looks re-glued")
        assert shipment.state == "held"


def test_a_parcel_without_documented_origin_waits_for_evidence_then_is_verified(session, service):
    shipment = present(session, service, mixed_parcel_without_mining_countries())
    with pytest.raises(LawForbids) as forbidden:
        service.act(session, shipment.id, "verify", FPS_ECONOMY)
    assert outcomes(forbidden.value.findings)["g7.mining_countries"] == "hold"

    service.act(
        session,
        shipment.id,
        "request_origin_evidence",
        FPS_ECONOMY,
        reason="the mining countries of the mixed parcel, with the mining licences",
    )
    assert shipment.state == "origin_evidence_requested"

    given = shares({"AO": "60", "BW": "40"})
    with pytest.raises(InvalidInput) as refused:  # the countries alone are no evidence
        service.act(
            session, shipment.id, "verify_origin", FPS_ECONOMY, inputs={"origin_shares": given}
        )
    assert [e.field for e in refused.value.errors] == ["inputs.origin_documents"]
    assert "origin_shares" not in shipment.details  # a refused decision completes nothing

    evidence = {"origin_shares": given, "origin_documents": DOCUMENTS}
    service.act(session, shipment.id, "verify_origin", FPS_ECONOMY, inputs=evidence)
    assert shipment.state == "origin_verified"
    assert shipment.details["origin_shares"] == given
    assert shipment.details["origin_documents"] == DOCUMENTS
    verified_origin = shipment.events[-1]
    assert verified_origin.data == evidence  # sealed with the decision that relied on it
    assert outcomes(verified_origin.findings)["g7.mining_countries"] == "pass"

    service.act(session, shipment.id, "verify", FPS_ECONOMY)
    service.act(session, shipment.id, "release", CUSTOMS)
    assert [e.to_state for e in shipment.events] == [
        "presented",
        "origin_evidence_requested",
        "origin_verified",
        "verified",
        "released",
    ]


def test_evidence_of_a_russian_share_refuses_the_origin_and_leaves_the_record_as_it_was(
    session, service
):
    shipment = present(session, service, mixed_parcel_without_mining_countries())
    service.act(
        session, shipment.id, "request_origin_evidence", FPS_ECONOMY, reason="mining countries"
    )
    tainted = {"origin_shares": shares({"AO": "99", "RU": "1"}), "origin_documents": DOCUMENTS}
    with pytest.raises(LawForbids) as forbidden:
        service.act(session, shipment.id, "verify_origin", FPS_ECONOMY, inputs=tainted)
    assert outcomes(forbidden.value.findings)["g7.mixed_parcels"] == "refuse"
    assert "origin_shares" not in shipment.details
    service.act(session, shipment.id, "refuse", FPS_ECONOMY, reason="1% Russian share (Art. 3p)")
    assert shipment.state == "refused"


@pytest.mark.parametrize(
    ("evidence", "named"),
    [
        (
            {"origin_shares": shares({"AO": "100"}), "origin_documents": documents(["nope"])},
            "inputs.origin_documents.0.sha256",
        ),
        ({"origin_shares": ["AO"], "origin_documents": DOCUMENTS}, "inputs.origin_shares.0"),
        (
            {"origin_shares": shares({"AO": "100"}), "origin_documents": "one"},
            "inputs.origin_documents",
        ),
    ],
)
def test_malformed_evidence_is_a_422_naming_the_field_and_changes_nothing(
    session, service, evidence, named
):
    shipment = present(session, service, mixed_parcel_without_mining_countries())
    service.act(session, shipment.id, "request_origin_evidence", FPS_ECONOMY, reason="origin")
    with pytest.raises(InvalidInput) as refused:
        service.act(session, shipment.id, "verify_origin", FPS_ECONOMY, inputs=evidence)
    assert named in [e.field for e in refused.value.errors]
    assert shipment.state == "origin_evidence_requested"


def test_every_action_a_duty_reserves_is_a_decision_of_the_belgian_workflow(plugin_host):
    workflow = plugin_host.jurisdiction(["eu", "belgium_g7"]).workflow
    assert set(workflow.duties) == {"customs", "fps_economy"}
    for duty in workflow.duties.values():
        assert duty.actions <= set(workflow.actions), duty.code
    unreserved = {a for a in workflow.actions if not workflow.duties_for(a)}
    assert unreserved == {"hold"}  # every other decision belongs to one body


def test_norway_declares_no_duty_so_every_officer_decides(plugin_host):
    assert plugin_host.jurisdiction(["norway"]).workflow.duties == {}


# -- over HTTP and in the pages --------------------------------------------------------------


def test_the_api_refuses_the_other_bodys_decision_with_a_403_and_writes_nothing(client, make_token):
    customs = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'BE', duties=['customs'])}"}
    fps = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'BE', duties=['fps_economy'])}"}
    created = client.post("/api/v1/shipments", json=shipment_payload(), headers=customs).json
    url = f"/api/v1/shipments/{created['id']}/actions"
    refused = client.post(f"{url}/verify", json={}, headers={**customs, "If-Match": '"1"'})
    assert refused.status_code == 403
    assert "'verify' is a decision for FPS Economy" in refused.json["message"]
    assert client.get(f"/api/v1/shipments/{created['id']}", headers=customs).json["version"] == 1
    verified = client.post(f"{url}/verify", json={}, headers={**fps, "If-Match": '"1"'})
    assert verified.status_code == 200, verified.json
    released = client.post(f"{url}/release", json={}, headers={**customs, "If-Match": '"2"'})
    assert (released.status_code, released.json["state"]) == (200, "released")


def test_evidence_is_sent_as_the_decisions_inputs_over_the_api(client, make_token):
    fps = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'BE', duties=['fps_economy'])}"}
    payload = mixed_parcel_without_mining_countries()
    created = client.post("/api/v1/shipments", json=payload, headers=fps).json
    url = f"/api/v1/shipments/{created['id']}/actions"
    asked = client.post(
        f"{url}/request_origin_evidence",
        json={"reason": "mining countries"},
        headers={**fps, "If-Match": '"1"'},
    )
    assert asked.json["state"] == "origin_evidence_requested"
    evidence = {"origin_shares": shares({"AO": "60", "BW": "40"}), "origin_documents": DOCUMENTS}
    verified = client.post(
        f"{url}/verify_origin", json={"inputs": evidence}, headers={**fps, "If-Match": '"2"'}
    )
    assert (verified.status_code, verified.json["state"]) == (200, "origin_verified")
    history = client.get(f"/api/v1/shipments/{created['id']}/history", headers=fps).json
    assert history["events"][-1]["inputs"] == evidence
