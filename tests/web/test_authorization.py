"""The authorization matrix: every endpoint × every role × own or foreign authority.

Each test signs in (or takes a token) as one role acting for Belgium (own) or for
Norway only (foreign), calls every endpoint against a Belgian shipment, and compares
the exact set of endpoints that let it through with the policy below. Anything not
let through must be refused (401/403/404/422 or a redirect to sign-in), never a 500.
A shipment is presented afresh for every call that decides on one.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from caratflow.models import Role
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.people import form_token

from .test_pages import COUNTER_FORM

ROLES = ["anonymous", "officer", "supervisor", "auditor", "admin"]
SCOPES = {"own": ("BE",), "foreign": ("NO",)}
PASSED = {200, 201, 202, 303}
REFUSED = {302, 401, 403, 404, 409, 422}
IMPORTS = "eu.report.import_monthly"  # a Belgian report

# -- the API (bearer tokens) -------------------------------------------------------------

API: dict[str, tuple[str, str, Any]] = {
    "health": ("GET", "/api/v1/health", None),
    "openapi": ("GET", "/api/v1/openapi.json", None),
    "present": ("POST", "/api/v1/shipments", shipment_payload()),
    "check": ("POST", "/api/v1/shipments/check", shipment_payload()),
    "list": ("GET", "/api/v1/shipments", None),  # passes if it shows the shipment
    "get": ("GET", "/api/v1/shipments/{id}", None),
    "history": ("GET", "/api/v1/shipments/{id}/history", None),
    "verify": ("POST", "/api/v1/shipments/{id}/actions/verify", {}),
    "hold": ("POST", "/api/v1/shipments/{id}/actions/hold", {"reason": "seal differs"}),
    "report": ("GET", f"/api/v1/reports/{IMPORTS}?period=2026-11&authority=BE", None),
}
PUBLIC_API = {"health", "openapi"}
READ_API = PUBLIC_API | {"check", "list", "get", "history", "report"}
API_POLICY = {
    ("anonymous", "own"): PUBLIC_API,
    ("anonymous", "foreign"): PUBLIC_API,
    ("officer", "own"): set(API),
    ("supervisor", "own"): set(API),
    ("admin", "own"): set(API),
    ("auditor", "own"): READ_API,
    # Acting for Norway only: nothing Belgian is seen, presented, checked or decided.
    **{(role, "foreign"): PUBLIC_API for role in ("officer", "supervisor", "auditor", "admin")},
}

# -- the pages (signed-in browsers with CSRF tokens) ---------------------------------------

PAGES: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "dashboard": ("GET", "/", None),
    "shipments": ("GET", "/shipments/", None),  # passes if it shows the shipment
    "detail": ("GET", "/shipments/{id}", None),
    "record": ("GET", "/shipments/{id}/record.json", None),
    "present_form": ("GET", "/shipments/new", None),
    "present": ("POST", "/shipments/new", {**COUNTER_FORM, "present": "1"}),
    "check": ("POST", "/shipments/new", {**COUNTER_FORM, "check": "1"}),
    "precheck": ("POST", "/shipments/check", {"document": json.dumps(shipment_payload())}),
    "verify": ("POST", "/shipments/{id}/actions/verify", {"version": "1"}),
    "hold": ("POST", "/shipments/{id}/actions/hold", {"version": "1", "reason": "seal"}),
    "parties": ("GET", "/parties", None),
    "register_party": (
        "POST",
        "/parties",
        {
            "authority": "BE",
            "name": "Pelikaanstraat Gems NV",
            "address": "Pelikaanstraat 62, Antwerpen",
            "phone": "+32 3 555 00 00",
            "roles": "importer",
        },
    ),
    "workflow": ("GET", "/workflow", None),
    "deadlines": ("GET", "/deadlines", None),
    "reports": ("GET", "/reports", None),
    "report": ("GET", f"/reports?authority=BE&report={IMPORTS}&period=2026-11", None),
    "report_csv": ("GET", f"/reports/{IMPORTS}.csv?authority=BE&period=2026-11", None),
    "security_log": ("GET", "/security-log", None),
    "admin": ("GET", "/admin/", None),
    "four_eyes": ("POST", "/admin/authorities/BE/four-eyes", {"BE-four_eyes": "remediate"}),
}
EVERYONE = {"dashboard", "present_form", "parties", "workflow", "deadlines", "reports"}
SEES_BELGIUM = {"shipments", "detail", "record", "check", "precheck", "report", "report_csv"}
WORKS_FOR_BELGIUM = {"present", "verify", "hold", "register_party"}
PAGE_POLICY = {
    ("anonymous", "own"): set(),
    ("anonymous", "foreign"): set(),
    ("officer", "own"): EVERYONE | SEES_BELGIUM | WORKS_FOR_BELGIUM,
    ("supervisor", "own"): EVERYONE | SEES_BELGIUM | WORKS_FOR_BELGIUM | {"security_log"},
    ("auditor", "own"): EVERYONE | SEES_BELGIUM | {"security_log"},
    ("admin", "own"): set(PAGES),
    ("officer", "foreign"): EVERYONE,
    ("supervisor", "foreign"): EVERYONE | {"security_log"},
    ("auditor", "foreign"): EVERYONE | {"security_log"},
    ("admin", "foreign"): EVERYONE | {"security_log", "admin"},
}
# The register-party form only offers the user's own authorities; the four-eyes
# needs an administrator of that authority.
MATRIX = [(role, scope) for role in ROLES for scope in SCOPES]
DECISIONS = {"verify", "hold"}
CERTIFICATES = itertools.count(200000)


def belgian_shipment(client, headers) -> int:
    """A shipment of its own certificate (one certificate, one consignment: issue 22)."""
    number = f"CA{next(CERTIFICATES):06d}"
    payload = shipment_payload(**{"certificate.number": number})
    response = client.post("/api/v1/shipments", json=payload, headers=headers)
    assert response.status_code == 201
    return response.json["id"]


@pytest.mark.parametrize(("role", "scope"), MATRIX, ids=[f"{r}-{s}" for r, s in MATRIX])
def test_api_matrix(client, make_token, role, scope):
    belgian = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'BE')}"}
    headers = (
        {}
        if role == "anonymous"
        else {"Authorization": f"Bearer {make_token(Role(role), *SCOPES[scope])}"}
    )
    passed, statuses = set(), {}
    shipment = belgian_shipment(client, belgian)
    for name, (method, path, body) in API.items():
        if name in DECISIONS:
            shipment = belgian_shipment(client, belgian)
        sent = headers | {"If-Match": '"1"'} if name in DECISIONS else headers  # a fresh one
        response = client.open(path.format(id=shipment), method=method, json=body, headers=sent)
        statuses[name] = response.status_code
        assert response.is_json, (name, response.status_code)
        through = response.status_code in PASSED
        if name == "list" and through:  # answered, but without the other authority's
            through = shipment in [item["id"] for item in response.json["items"]]
            statuses[name] = "seen" if through else "not seen"
        if through:
            passed.add(name)
        elif statuses[name] != "not seen":
            assert response.status_code in REFUSED, (name, response.status_code, response.json)
    assert passed == API_POLICY[(role, scope)], statuses


@pytest.mark.parametrize(("role", "scope"), MATRIX, ids=[f"{r}-{s}" for r, s in MATRIX])
def test_page_matrix(client, make_token, make_person, browser, role, scope):
    belgian = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'BE')}"}
    person = None if role == "anonymous" else make_person(Role(role), *SCOPES[scope])
    visitor = browser(person)
    token = form_token(browser(make_person(Role.OFFICER, "BE")).get("/").text)
    if person is not None:
        token = form_token(visitor.get("/").text)
    passed, statuses = set(), {}
    shipment = belgian_shipment(client, belgian)
    for name, (method, path, form) in PAGES.items():
        if name in DECISIONS:
            shipment = belgian_shipment(client, belgian)
        url = path.format(id=shipment)
        if method == "GET":
            response = visitor.get(url)
        else:
            response = visitor.post(url, data={"csrf_token": token, **(form or {})})
        statuses[name] = response.status_code
        through = response.status_code in PASSED
        if name == "shipments" and through:
            through = f'href="/shipments/{shipment}"' in response.text
            statuses[name] = "seen" if through else "not seen"
        if through:
            passed.add(name)
        elif statuses[name] != "not seen":
            assert response.status_code in REFUSED | {400}, (name, response.status_code)
    assert passed == PAGE_POLICY[(role, scope)], statuses


def test_refused_access_is_recorded_with_who_and_where(client, make_token, session):
    from sqlalchemy import select

    from caratflow.models import SecurityEvent

    auditor = {"Authorization": f"Bearer {make_token(Role.AUDITOR, 'BE', name='audrey')}"}
    client.post("/api/v1/shipments", json=shipment_payload(), headers=auditor)
    client.get("/api/v1/shipments", headers={"Authorization": "Bearer cf_stolen"})
    refused = list(session.scalars(select(SecurityEvent).order_by(SecurityEvent.id)))
    assert [(e.kind, e.user_name, e.path) for e in refused] == [
        ("access_refused", "audrey", "/api/v1/shipments"),
        ("access_refused", None, "/api/v1/shipments"),
    ]
    assert refused[0].authorities == ["BE"]
    assert refused[0].detail["reason"] == "the auditor role may not present shipments"
