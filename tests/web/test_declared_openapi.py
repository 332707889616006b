"""The OpenAPI document describes every plugin's declared fields, and every request body
with a description and an example a client can send as it is (issue 23)."""

from __future__ import annotations

from caratflow.models import Role


def resolve(document, schema):
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_every_request_body_has_a_description_and_an_example(client):
    document = client.get("/api/v1/openapi.json").json
    bodies = {
        f"{method.upper()} {path}": operation["requestBody"]
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        if "requestBody" in operation
    }
    assert len(bodies) >= 6
    for name, body in bodies.items():
        assert body.get("description"), name
        assert "example" in body["content"]["application/json"], name


def test_the_presentation_declares_each_plugins_fields_with_rule_and_article(client):
    document = client.get("/api/v1/openapi.json").json
    presented = resolve(document, {"$ref": "#/components/schemas/ShipmentIn"})["properties"]
    notice = resolve(document, presented["advance_notice"])
    received = notice["properties"]["received_at"]
    assert (received["format"], received["x-rule"], received["x-article"]) == (
        "date-time",
        "no.advance_notice",
        "FOR-2004-02-24-470 §8",
    )
    assert "plugin norway" in presented["advance_notice"]["description"]
    assert "plugin eu, direction export" in presented["destination"]["description"]
    details = resolve(document, {"$ref": "#/components/schemas/ShipmentOut"})["properties"]
    assert set(details["details"]["properties"]) >= {"advance_notice", "destination"}


def test_each_actions_inputs_are_described_with_their_closed_choices(client):
    document = client.get("/api/v1/openapi.json").json
    inputs = resolve(document, {"$ref": "#/components/schemas/ActionIn"})["properties"]["inputs"]
    by_action = inputs["x-inputs-by-action"]
    assert {"remediate", "control_documents", "record_advance_notice"} <= set(by_action)
    outcome = resolve(document, by_action["control_documents"][0])["properties"]["outcome"]
    assert outcome["enum"] == ["pass", "fail"]
    ground = resolve(document, by_action["remediate"][0])["properties"]["ground"]
    assert ground["x-article"] == "Reg. (EC) 2368/2002 Art. 5(2)"


def test_the_presentation_example_is_accepted_as_it_stands(client, make_token):
    document = client.get("/api/v1/openapi.json").json
    body = document["paths"]["/api/v1/shipments/check"]["post"]["requestBody"]
    example = body["content"]["application/json"]["example"]
    auth = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'NO')}"}
    checked = client.post("/api/v1/shipments/check", json=example, headers=auth)
    assert checked.status_code == 200, checked.json
