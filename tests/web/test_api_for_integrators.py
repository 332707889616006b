"""Issue 26, point 6: an API an integrator can read and cannot misuse by accident.

Every request body comes with a description and an example the API itself accepts; a
201 says where the new record lives; a filter outside its enumeration is refused as an
unknown parameter is; an action without ``If-Match`` is a 428 (RFC 6585), as the
contract says, so nobody decides on a version they never saw.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from caratflow.case.schemas import PRESENTATION_EXAMPLE
from caratflow.faces import Operation
from caratflow.testing.payloads import shipment_payload
from caratflow.web.openapi import body_example


def described_operations(app) -> list[tuple[str, Operation]]:
    return [
        (rule.rule, op)
        for rule in app.url_map.iter_rules()
        if (op := getattr(app.view_functions[rule.endpoint], "__openapi__", None)) is not None
    ]


def test_every_request_body_has_a_description_and_an_example(client):
    served = client.get("/api/v1/openapi.json").json
    bodies = {
        (path, method): described["requestBody"]
        for path, methods in served["paths"].items()
        for method, described in methods.items()
        if "requestBody" in described
    }
    assert len(bodies) >= 5  # present, check, act, submit, exchange (and the G7 identities)
    for where, body in bodies.items():
        assert len(body["description"]) > 20, where
        assert body["content"]["application/json"]["example"], where


def test_every_body_example_is_one_its_model_accepts(app):
    examples = [(path, op) for path, op in described_operations(app) if op.body is not None]
    assert examples
    for path, op in examples:
        body: type[BaseModel] = op.body  # type: ignore[assignment]
        assert body.model_validate(body_example(op)), path  # raises, naming the field


def test_the_presentation_example_is_presented_as_it_stands(client, auth):
    presented = client.post("/api/v1/shipments", json=PRESENTATION_EXAMPLE, headers=auth)
    assert presented.status_code == 201, presented.json
    assert presented.json["certificate"]["importer"]["name"] == "Hoveniersstraat Trading BV"


def test_a_presentation_answers_201_with_the_location_of_the_shipment(client, auth):
    created = client.post("/api/v1/shipments", json=shipment_payload(), headers=auth)
    assert created.status_code == 201
    location = created.headers["Location"]
    assert location.endswith(f"/api/v1/shipments/{created.json['id']}")
    followed = client.get(location, headers=auth)
    assert (followed.status_code, followed.json["id"]) == (200, created.json["id"])
    replayed = client.post(
        "/api/v1/shipments", json=shipment_payload(), headers=auth | {"Idempotency-Key": "k1"}
    )
    again = client.post(
        "/api/v1/shipments", json=shipment_payload(), headers=auth | {"Idempotency-Key": "k1"}
    )
    assert again.status_code == 200
    assert again.headers["Location"] == replayed.headers["Location"]


def test_every_201_in_the_document_declares_its_location(client):
    served = client.get("/api/v1/openapi.json").json
    created = [
        (path, method, described["responses"]["201"])
        for path, methods in served["paths"].items()
        for method, described in methods.items()
        if "201" in described["responses"]
    ]
    assert created
    for path, method, answer in created:
        assert "Location" in answer.get("headers", {}), (path, method)


@pytest.mark.parametrize(
    ("query", "field"),
    [("state=stuck", "state"), ("goods=gold", "goods"), ("direction=sideways", "direction")],
)
def test_a_filter_value_outside_its_enumeration_is_a_422_naming_the_values(
    client, auth, query, field
):
    refused = client.get(f"/api/v1/shipments?{query}", headers=auth)
    assert refused.status_code == 422, refused.json
    [error] = refused.json["errors"]
    assert error["field"] == field
    assert error["message"].startswith("one of ")


def test_the_states_of_every_enabled_plugin_are_the_state_filters_enumeration(client, auth):
    served = client.get("/api/v1/openapi.json").json
    [state] = [
        p for p in served["paths"]["/api/v1/shipments"]["get"]["parameters"] if p["name"] == "state"
    ]
    allowed = state["schema"]["enum"]
    assert {"presented", "verified", "held", "released"} <= set(allowed)
    assert "appeal_lodged" in allowed  # a Norwegian state: every enabled plugin's
    for value in allowed:
        assert client.get(f"/api/v1/shipments?state={value}", headers=auth).status_code == 200


def test_an_action_without_if_match_is_428_and_changes_nothing(client, auth):
    created = client.post("/api/v1/shipments", json=shipment_payload(), headers=auth).json
    url = f"/api/v1/shipments/{created['id']}/actions/verify"
    refused = client.post(url, headers=auth)
    assert refused.status_code == 428
    assert "If-Match" in refused.json["message"]
    after = client.get(f"/api/v1/shipments/{created['id']}", headers=auth)
    assert (after.json["state"], after.headers["ETag"]) == ("presented", '"1"')


def test_the_document_says_if_match_is_required_on_actions(client):
    served = client.get("/api/v1/openapi.json").json
    action = served["paths"]["/api/v1/shipments/{shipment_id}/actions/{action}"]["post"]
    [if_match] = [p for p in action["parameters"] if p["name"] == "If-Match"]
    assert if_match["required"] is True
    assert "428" in action["responses"]


def test_the_docs_page_is_served_with_the_viewer_from_the_package(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert "/api/v1/openapi.json" in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from elsewhere
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        served = client.get(f"/api/v1/docs/{asset}")
        assert served.status_code == 200 and len(served.data) > 10_000, asset
    assert client.get("/api/v1/docs/../../pyproject.toml").status_code == 404
    assert client.get("/api/v1/docs/LICENSE").status_code == 404


@pytest.mark.parametrize(
    ("field", "value"),
    [("presented_at", 0), ("certificate.issued_on", 20_000), ("presented_at", True)],
)
def test_a_date_given_as_a_number_is_refused_not_read_as_seconds_since_1970(
    client, auth, field, value
):
    """Found by the fuzzer once the example gave it a valid body to start from."""
    refused = client.post(
        "/api/v1/shipments", json=shipment_payload(**{field: value}), headers=auth
    )
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json["errors"]] == [field]
