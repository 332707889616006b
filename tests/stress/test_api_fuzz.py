"""schemathesis over the API, as every role, against shipments that exist.

``tests/web/test_openapi.py`` fuzzes each operation as a Belgian officer on an empty
database, where every id is unknown and most answers are 404s. Here the database holds
Belgian and Norwegian shipments in several states and a sequenced ledger; generated
shipment ids, actions, report names and ledger positions are steered onto real ones
(invalid ones are left as generated), and from one example to the next the caller is an
officer of both authorities, a Belgian auditor, a Norwegian supervisor or an
administrator of both. Every GET and every POST on a record is fuzzed so, on PostgreSQL:
no answer may be a 5xx, and each must keep to the document (status, content type,
headers, body). Examples are few and derandomized.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from tempfile import mkdtemp

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from caratflow.case.access import Actor
from caratflow.config import Settings
from caratflow.ledger import sequencer
from caratflow.models import Role
from caratflow.runtime import Runtime
from caratflow.testing.payloads import shipment_payload
from caratflow.web import create_app

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 20
REPORTS = ["eu.report.import_monthly", "eu.report.export_monthly", "kp.statistics"]
ACTIONS = ["verify", "hold", "release", "remediate", "refuse", "store_bonded", "export"]
PUBLIC = ("/api/v1/ledger/", "/verify/")  # no token needed: anyone may audit or check

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def served_document() -> dict:
    """The document as a client downloads it (it needs no database, only the code)."""
    settings_ = Settings.from_env({}, database_url="sqlite://", instance_path=Path(mkdtemp()))
    app = create_app({"TESTING": True}, runtime=Runtime.start(settings_))
    return app.test_client().get("/api/v1/openapi.json").json


schema = schemathesis.openapi.from_dict(served_document())


@pytest.fixture
def shipments_in_every_state(runtime, session) -> list[int]:
    """Belgian and Norwegian shipments presented, verified, held, released and bonded; the
    ledger sequenced, so that proofs exist."""
    service = runtime.shipments
    officer = Actor("officer.fuzz", Role.OFFICER, frozenset({"BE", "NO"}), None)
    ids = []
    steps = [
        ("BE", []),
        ("BE", [("verify", None)]),
        ("BE", [("hold", "seal S-991 broken")]),
        ("BE", [("verify", None), ("release", None)]),
        ("NO", []),
        ("NO", [("store_bonded", None)]),
    ]
    for n, (authority, actions) in enumerate(steps):
        changes = {"authority": authority, "certificate.number": f"CA5{n:05d}"}
        if authority == "NO":
            changes |= {"entry_point": "OSL"}
        shipment = service.present(session, shipment_payload(**changes), officer).shipment
        for action, reason in actions:
            service.act(session, shipment.id, action, officer, reason=reason)
        ids.append(shipment.id)
    session.commit()
    sequencer.sequence_once(runtime.sessions, runtime.settings)
    return ids


def steer(case, ids: list[int], actions: list[str]) -> None:
    """Turn valid generated ids, actions and report names into ones that exist, keeping
    what the generator made invalid on purpose (so that negative cases stay negative)."""
    parameters = dict(case.path_parameters or {})
    shipment = parameters.get("shipment_id")
    if isinstance(shipment, str) and shipment.isascii() and shipment.isdigit():
        shipment = int(shipment)  # the coverage phase writes path integers as text
    if isinstance(shipment, int) and not isinstance(shipment, bool) and 1 <= shipment < 2**31:
        parameters["shipment_id"] = ids[shipment % len(ids)]
    action = parameters.get("action")
    if isinstance(action, str) and action and "/" not in action:
        pick = zlib.crc32(action.encode("utf-8", "surrogatepass"))
        if pick % 4:  # one in four keeps its made-up name
            parameters["action"] = actions[pick % len(actions)]
    report = parameters.get("report")
    if isinstance(report, str) and report and "/" not in report:
        parameters["report"] = REPORTS[zlib.crc32(report.encode("utf-8", "surrogatepass")) % 3]
    seq = parameters.get("seq")
    if isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0:
        parameters["seq"] = seq % (len(ids) + 2)  # the last one is beyond the tree
    if parameters != case.path_parameters:
        case.path_parameters = parameters
    # A made-up If-Match is always stale: drop it half the time, so that decisions happen.
    stale = case.headers and "If-Match" in case.headers and isinstance(action, str)
    if stale and zlib.crc32(action.encode("utf-8", "surrogatepass")) % 2:
        case.headers = {k: v for k, v in case.headers.items() if k.lower() != "if-match"}
    period = (case.query or {}).get("period")
    if isinstance(period, str) and "\x00" not in period and len(repr(period)) % 2:
        case.query = {**case.query, "period": "2026-11"}


PEOPLE = [
    (Role.OFFICER, ("BE", "NO")),
    (Role.AUDITOR, ("BE",)),
    (Role.SUPERVISOR, ("NO",)),
    (Role.ADMIN, ("BE", "NO")),
]

# Operations that read or change stored records: every GET, and every POST on a record.
# (Presenting and checking a new shipment are fuzzed by tests/web/test_openapi.py and
# test_bad_input.py; they need no stored data.)
on_records = schema.include(
    lambda ctx: ctx.operation.method.upper() == "GET" or "{" in ctx.operation.path
)


@pytest.fixture
def people(make_token) -> list[dict[str, str]]:
    return [{"Authorization": f"Bearer {make_token(role, *where)}"} for role, where in PEOPLE]


@pytest.mark.postgres_only  # the stricter engine (integer ranges, NUL, encodings); both
# engines are fuzzed on an empty database by tests/web/test_openapi.py
@on_records.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_every_role_on_real_shipments_gets_documented_answers_and_no_5xx(
    case, app, people, shipments_in_every_state
):
    steer(case, shipments_in_every_state, ACTIONS)
    # Who asks varies from example to example, the same way on every run.
    asking = zlib.crc32(repr((case.path_parameters, case.query, case.body)).encode())
    case.call_and_validate(app=app, headers=people[asking % len(people)], checks=CHECKS)


def test_every_operation_is_described():
    document = schema.raw_schema
    undescribed = [
        (method, path)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        if "not described" in operation["summary"]
    ]
    assert not undescribed


def test_the_public_ledger_and_verify_endpoints_are_documented_as_public():
    document = schema.raw_schema
    public = [
        (path, method)
        for path, methods in document["paths"].items()
        if path.startswith(PUBLIC)
        for method in methods
    ]
    assert public, "the ledger API and the public check are in the document"
    for path, method in public:
        assert document["paths"][path][method].get("security") == [], (method, path)


def test_every_operation_with_query_parameters_documents_the_400_for_a_nul():
    """web/security.py refuses a NUL in any query parameter, before any view runs."""
    document = schema.raw_schema
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if any(p["in"] == "query" for p in operation.get("parameters", [])):
                assert "400" in operation["responses"], (method, path)
