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


def test_every_plugins_presentation_and_inputs_are_described_none_left_untyped(client):
    """Issue 23: the EU transit and invoice, Norway's re-export, the G7 stones, shares and
    origin evidence, and the containers opened under Art. 4(5) are in the contract, typed;
    a presentation takes no field beyond them."""
    document = client.get("/api/v1/openapi.json").json
    shipment_in = resolve(document, {"$ref": "#/components/schemas/ShipmentIn"})
    assert shipment_in["additionalProperties"] is False
    presented = shipment_in["properties"]
    assert {
        "transit_declared",
        "invoice_warranty",
        "reexport",
        "import_certificate",
        "origin_shares",
        "transit_countries",
        "sanctions_exemption",
        "stones",
        "origin_statement",
    } <= set(presented)
    assert presented["transit_declared"]["enum"] == ["yes", "no"]
    assert presented["transit_declared"]["x-article"] == "Reg. (EC) 2368/2002 Art. 18"
    stone = resolve(document, presented["stones"]["items"])["properties"]
    assert stone["carats"]["x-unit"] == "ct" and stone["origin"]["x-rule"] == "g7.russian_ban"
    for plugin in ("eu", "norway", "belgium_g7"):
        assert f"plugin {plugin}" in presented["destination"]["description"], plugin
    by_action = resolve(document, {"$ref": "#/components/schemas/ActionIn"})["properties"][
        "inputs"
    ]["x-inputs-by-action"]
    verify = [resolve(document, ref)["properties"] for ref in by_action["verify"]]
    opened = next(v["opened"] for v in verify if "opened" in v)
    assert opened["x-required-when"] == {"method": ["risk_selection"]}
    evidence = resolve(document, by_action["verify_origin"][0])["properties"]
    assert evidence["origin_documents"]["x-required-when"] == "always"
