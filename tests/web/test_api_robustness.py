"""Bad input of every kind is a clear 4xx JSON answer, never a 500, and writes nothing.

The field-by-field cases live in test_api_contract.py; these are the ones that slip
past a schema: characters no database stores, numbers JSON should not carry, dates at
the ends of the calendar, oversized headers, ids beyond an integer column.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from caratflow.models import Shipment
from caratflow.testing.payloads import shipment_payload

NASTY_FIELDS = [
    ({"presented_at": "0001-01-01T00:30:00+01:00"}, "presented_at"),
    ({"presented_at": "9999-12-20T10:00:00+00:00"}, "presented_at"),
    ({"certificate.carats": "1e400"}, "certificate.carats"),
    ({"certificate.carats": "99999999999999999999"}, "certificate.carats"),
    ({"certificate.parcels": 10**30}, "certificate.parcels"),
    ({"entry_point": "x" * 41}, "entry_point"),
    ({"certificate.exporter.name": "a\u0000b"}, "certificate.exporter.name"),
    ({"certificate.importer.name": "\ud800"}, "certificate.importer.name"),
    ({"note": {"inner": ["\u0000"]}}, "note.inner.0"),
]


def shipments(session) -> int:
    return session.scalar(select(func.count()).select_from(Shipment))


@pytest.mark.parametrize(("changes", "field"), NASTY_FIELDS, ids=[f for _, f in NASTY_FIELDS])
def test_a_field_no_database_can_hold_is_a_422_naming_it(client, auth, session, changes, field):
    response = client.post("/api/v1/shipments", json=shipment_payload(**changes), headers=auth)
    assert response.status_code == 422, response.json
    assert field in [e["field"] for e in response.json["errors"]]
    assert shipments(session) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"authority": NaN}', "authority"),  # named since issue 21
        (b'{"a": Infinity}', "a"),
        (b"[" * 100_000 + b"]" * 100_000, "$"),
        (b"\xff\xfe", "$"),
    ],
    ids=["NaN", "Infinity", "nested-too-deep", "not-utf8"],
)
def test_what_is_not_plain_json_is_a_422(client, auth, session, body, field):
    response = client.post(
        "/api/v1/shipments", data=body, content_type="application/json", headers=auth
    )
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == field
    assert shipments(session) == 0


def test_an_idempotency_key_too_long_to_store_is_a_422(client, auth, session):
    headers = auth | {"Idempotency-Key": "k" * 201}
    response = client.post("/api/v1/shipments", json=shipment_payload(), headers=headers)
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "Idempotency-Key"
    assert shipments(session) == 0


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/shipments/99999999999999999999", 404),
        ("GET", "/api/v1/shipments/0", 404),
        ("GET", "/api/v1/shipments?certificate=%00", 400),
        ("GET", "/api/v1/shipments?cursor=", 422),
        ("GET", "/api/v1/shipments?cursor=99999999999", 422),
        ("GET", "/api/v1/shipments?presented_from=20261120", 422),
        ("GET", "/api/v1/shipments?goods=ruby", 422),
        ("GET", "/api/v1/nothing-here", 404),
        ("DELETE", "/api/v1/shipments", 405),
        ("POST", "/api/v1/shipments/1/actions/verify?x=%00", 400),
    ],
)
def test_odd_requests_get_json_errors(client, auth, method, path, status):
    response = client.open(path, method=method, headers=auth)
    assert response.status_code == status
    assert response.is_json and response.json["message"]


@pytest.mark.parametrize(
    "path",
    ["/api/v1/shipments?stat=held", "/api/v1/deadlines?within=2&authorty=BE"],
)
def test_a_misspelt_query_parameter_is_a_422_naming_it_not_ignored(client, auth, path):
    response = client.get(path, headers=auth)
    assert response.status_code == 422
    [error] = response.json["errors"]
    misspelt = path.rsplit("&", 1)[-1].split("?")[-1].split("=")[0]
    assert error["field"] == misspelt
    assert "which takes: " in error["message"]


def test_a_stale_if_match_that_is_no_number_is_a_409(client, auth):
    created = client.post("/api/v1/shipments", json=shipment_payload(), headers=auth).json
    url = f"/api/v1/shipments/{created['id']}/actions/verify"
    for tag in ('"abc"', '"99999999999999"', "*"):
        response = client.post(url, headers=auth | {"If-Match": tag})
        assert response.status_code == 409, tag
