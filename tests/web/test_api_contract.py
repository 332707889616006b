"""The API v1 contract as a customs system sees it: real HTTP requests against the app."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from caratflow.models import Role, Shipment
from caratflow.testing.api import act
from caratflow.testing.payloads import DELETE, shipment_payload


def count_shipments(session) -> int:
    return session.scalar(select(func.count()).select_from(Shipment))


def test_health_reports_plugins_and_database(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "database": "reachable",
        "plugins": ["belgium_g7", "eu", "norway", "testlaw"],
    }


def test_presenting_answers_201_with_state_findings_and_actions(client, auth):
    response = client.post("/api/v1/shipments", json=shipment_payload(), headers=auth)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["state"] == "presented"
    assert body["version"] == 1
    assert response.headers["ETag"] == '"1"'
    assert body["certificate"]["carats"] == "123.45"
    assert body["presented_at"] == "2026-11-20T09:15:00+00:00"
    assert {f["rule"] for f in body["findings"]} == {
        "eu.import.certificate",
        "eu.import.container",
        "eu.industry.records",
        "eu.present",
        "eu.verify.method",
        "kp.certificate.fields",
        "kp.no_non_participants",
        "g7.mining_countries",
        "g7.rough.non_russian",
        "g7.scope",
    }
    assert body["available_actions"] == [
        "verify",
        "hold",
        "refuse",
        "request_origin_evidence",
        "place_under_transit",
    ]


def test_no_token_no_entry(client):
    response = client.post("/api/v1/shipments", json=shipment_payload())
    assert response.status_code == 401
    assert response.json["error"] == "Unauthorized"
    bad = client.get("/api/v1/shipments/1", headers={"Authorization": "Bearer cf_nonsense"})
    assert bad.status_code == 401


def test_the_same_idempotency_key_presents_once(client, auth, session):
    headers = auth | {"Idempotency-Key": "broker-42"}
    first = client.post("/api/v1/shipments", json=shipment_payload(), headers=headers)
    again = client.post("/api/v1/shipments", json=shipment_payload(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json["id"] == first.json["id"]
    assert count_shipments(session) == 1


def test_reusing_an_idempotency_key_for_another_shipment_is_a_conflict(client, auth, session):
    headers = auth | {"Idempotency-Key": "broker-43"}
    client.post("/api/v1/shipments", json=shipment_payload(), headers=headers)
    other = client.post(
        "/api/v1/shipments", json=shipment_payload(**{"certificate.parcels": 3}), headers=headers
    )
    assert other.status_code == 409
    assert "already used" in other.json["message"]
    assert count_shipments(session) == 1


def test_an_action_with_a_stale_if_match_is_409_and_a_fresh_one_moves(client, auth):
    created = client.post("/api/v1/shipments", json=shipment_payload(), headers=auth).json
    url = f"/api/v1/shipments/{created['id']}/actions/verify"
    stale = client.post(url, headers=auth | {"If-Match": '"0"'})
    assert stale.status_code == 409
    fresh = client.post(url, headers=auth | {"If-Match": '"1"'})
    assert fresh.status_code == 200, fresh.json
    assert (fresh.json["state"], fresh.headers["ETag"]) == ("verified", '"2"')


def test_a_forbidden_action_is_422_with_the_findings_and_their_articles(client, auth):
    broken = shipment_payload(**{"containers.0.seals_intact": False})
    created = client.post("/api/v1/shipments", json=broken, headers=auth).json
    refused = act(client, f"/api/v1/shipments/{created['id']}/actions/verify", headers=auth)
    assert refused.status_code == 422
    held = [f for f in refused.json["findings"] if f["outcome"] == "hold"]
    assert [(f["rule"], f["basis"]) for f in held] == [
        ("eu.import.container", "Reg. (EC) 2368/2002 Art. 3(b)")
    ]


def test_hold_then_remediate_with_reasons_shows_in_the_history(client, auth):
    created = client.post("/api/v1/shipments", json=shipment_payload(), headers=auth).json
    base = f"/api/v1/shipments/{created['id']}"
    no_reason = act(client, f"{base}/actions/hold", headers=auth)
    assert no_reason.status_code == 422
    act(client, f"{base}/actions/hold", json={"reason": "seal number differs"}, headers=auth)
    done = act(
        client,
        f"{base}/actions/remediate",
        json={
            "reason": "issuing authority corrected the seal record",
            "inputs": {"ground": "caused_by_another_authority"},
        },
        headers=auth,
    )
    assert done.json["state"] == "released"
    events = client.get(f"{base}/history", headers=auth).json["events"]
    assert [(e["action"], e["to_state"]) for e in events] == [
        ("present", "presented"),
        ("hold", "held"),
        ("remediate", "released"),
    ]
    assert events[2]["inputs"] == {"ground": "caused_by_another_authority"}


def test_another_authority_cannot_see_or_touch_a_shipment(client, auth, make_token):
    created = client.post("/api/v1/shipments", json=shipment_payload(), headers=auth).json
    norway = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'NO')}"}
    assert client.get(f"/api/v1/shipments/{created['id']}", headers=norway).status_code == 404
    url = f"/api/v1/shipments/{created['id']}/actions/verify"
    acted = client.post(url, headers=norway | {"If-Match": '"1"'})
    assert acted.status_code == 404
    listed = client.get("/api/v1/shipments", headers=norway).json
    assert listed["items"] == []
    presented = client.post("/api/v1/shipments", json=shipment_payload(), headers=norway)
    assert presented.status_code == 403


def test_the_list_pages_with_a_cursor_and_filters(client, auth):
    ids = [
        client.post("/api/v1/shipments", json=shipment_payload(), headers=auth).json["id"]
        for _ in range(3)
    ]
    first = client.get("/api/v1/shipments?limit=2", headers=auth).json
    assert [s["id"] for s in first["items"]] == ids[:2]
    rest = client.get(f"/api/v1/shipments?limit=2&cursor={first['next_cursor']}", headers=auth).json
    assert ([s["id"] for s in rest["items"]], rest["next_cursor"]) == (ids[2:], None)
    assert client.get("/api/v1/shipments?state=released", headers=auth).json["items"] == []
    assert client.get("/api/v1/shipments?limit=0", headers=auth).status_code == 422


def test_the_completeness_check_records_nothing(client, auth, session):
    russian = shipment_payload(**{"certificate.origin": ["RU", "AO"]})
    response = client.post("/api/v1/shipments/check", json=russian, headers=auth)
    assert response.status_code == 200
    assert response.json["blocking"] is True
    refused = [f for f in response.json["findings"] if f["outcome"] == "refuse"]
    assert [f["rule"] for f in refused] == ["g7.rough.non_russian", "g7.mixed_parcels"]
    assert count_shipments(session) == 0


# Each bad input: (what is changed, the field the error must name). Nothing may be written.
BAD_INPUTS = [
    ({"certificate.issuing_country": "XX"}, "certificate.issuing_country"),
    ({"certificate.issuing_country": "ca"}, "certificate.issuing_country"),
    ({"certificate.origin": ["CA", "Narnia"]}, "certificate.origin.1"),
    ({"certificate.provenance": "CAN"}, "certificate.provenance"),
    ({"certificate.hs_codes": ["7102.39"]}, "$"),
    ({"certificate.hs_codes": ["71.02"]}, "certificate.hs_codes.0"),
    ({"certificate.hs_codes": []}, "certificate.hs_codes"),
    ({"certificate.carats": "-5"}, "certificate.carats"),
    ({"certificate.carats": "0"}, "certificate.carats"),
    ({"certificate.carats": "1.23456"}, "certificate.carats"),
    ({"certificate.carats": "NaN"}, "certificate.carats"),
    ({"certificate.value_usd": "-0.01"}, "certificate.value_usd"),
    ({"certificate.issued_on": "2026-02-30"}, "certificate.issued_on"),
    ({"certificate.parcels": 0}, "certificate.parcels"),
    ({"certificate.parcels": "2"}, "certificate.parcels"),
    ({"certificate.importer": DELETE}, "certificate.importer"),
    ({"certificate.exporter.name": "  "}, "certificate.exporter.name"),
    ({"direction": "smuggle"}, "direction"),
    ({"goods": "ruby"}, "goods"),
    ({"authority": "XX"}, "authority"),
    ({"presented_at": "2026-11-20T10:15:00"}, "presented_at"),
    ({"containers": []}, "containers"),
    ({"containers.0.seals_intact": "yes please"}, "containers.0.seals_intact"),
    ({"certificate.carat": "12"}, "certificate.carat"),
]


@pytest.mark.parametrize(("changes", "field"), BAD_INPUTS, ids=[f for _, f in BAD_INPUTS])
def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(
    client, auth, session, changes, field
):
    response = client.post("/api/v1/shipments", json=shipment_payload(**changes), headers=auth)
    assert response.status_code == 422, response.json
    assert response.json["error"] == "InvalidInput"
    assert field in [e["field"] for e in response.json["errors"]], response.json
    assert count_shipments(session) == 0


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'"a string"', b"null"])
def test_a_body_that_is_not_a_json_object_is_a_clear_4xx(client, auth, body):
    response = client.post(
        "/api/v1/shipments", data=body, headers=auth, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json["errors"] == [{"field": "$", "message": "the body must be a JSON object"}]
