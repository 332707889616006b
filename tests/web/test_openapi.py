"""The OpenAPI document is generated from the code, and the API keeps to it.

schemathesis reads the served document and throws generated requests (valid and
invalid) at every operation: no answer may be a server error, and every answer must
match the document (status, content type, headers, body schema). The run is bounded
(``MAX_EXAMPLES`` per operation) so that CI stays fast.
"""

from __future__ import annotations

import re
from pathlib import Path
from tempfile import mkdtemp

import schemathesis
from flask import Blueprint
from hypothesis import HealthCheck, assume, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from caratflow.config import Settings
from caratflow.faces import operation
from caratflow.runtime import Runtime
from caratflow.web import create_app
from caratflow.web.apimodels import HealthOut
from caratflow.web.openapi import document

MAX_EXAMPLES = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def test_every_api_route_is_in_the_document(app, client):
    served = client.get("/api/v1/openapi.json").json
    assert served["openapi"] == "3.1.0"
    routes = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert len(routes) >= 8
    for rule, method in routes:
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)
        described = served["paths"][path][method.lower()]
        assert described["responses"], (path, method)
    action = served["paths"]["/api/v1/shipments/{shipment_id}/actions/{action}"]["post"]
    assert set(action["responses"]) >= {"200", "202", "401", "403", "404", "409", "422"}
    assert {p["name"] for p in action["parameters"]} == {"shipment_id", "action", "If-Match"}
    schemas = served["components"]["schemas"]
    assert "ShipmentIn" in schemas and "ShipmentOut" in schemas and "ErrorOut" in schemas


def test_a_new_route_appears_in_the_document_with_what_it_declares(app):
    """Nothing is hand-maintained: describe a view, and the document says so."""
    extra = Blueprint("extra", __name__, url_prefix="/api/v1")

    @extra.get("/echo/<id:item>")
    @operation(summary="An example", tag="test", responses={200: ("fine", HealthOut)})
    def echo(item: int) -> str:
        return str(item)

    @extra.get("/bare")
    def bare() -> str:
        return ""

    app.register_blueprint(extra)
    with app.app_context():
        doc = document(app)
    echo_doc = doc["paths"]["/api/v1/echo/{item}"]["get"]
    assert echo_doc["summary"] == "An example"
    assert echo_doc["parameters"][0]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 2**31 - 1,
    }
    assert echo_doc["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/HealthOut"
    }
    assert "not described yet" in doc["paths"]["/api/v1/bare"]["get"]["summary"]


def served_document() -> dict:
    """The document as a client downloads it (it needs no database, only the code)."""
    settings = Settings.from_env({}, database_url="sqlite://", instance_path=Path(mkdtemp()))
    app = create_app({"TESTING": True}, runtime=Runtime.start(settings))
    return app.test_client().get("/api/v1/openapi.json").json


schema = schemathesis.openapi.from_dict(served_document())


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_keeps_to_its_document(case, app, auth):
    # A parameter whose value is an empty list is not sent at all: there is nothing to
    # refuse, though schemathesis counts it as an unknown one (e.g. ``{"": []}``).
    assume(not any(value == [] for value in (case.query or {}).values()))
    case.call_and_validate(app=app, headers=auth, checks=CHECKS)
