"""A corpus of malformed presentations and decisions, each refused cleanly and harmlessly.

``bad_inputs.json`` lists them (wrong ISO codes, impossible carats, NaN and Infinity,
dates in the wrong order, wrong types, Unicode tricks, SQL and HTML, bodies too large
for the server); each is posted over HTTP as an integration would and must come back as
a 4xx JSON error that names the field at fault, with not one row written in any table.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from caratflow.models import Role
from caratflow.testing.payloads import DELETE, shipment_payload

from .conftest import table_counts

CORPUS = json.loads(Path(__file__).with_name("bad_inputs.json").read_text("utf-8"))


def expand(value: Any) -> Any:
    """The corpus's shorthand: ``{"$repeat": [v, n]}`` is ``v`` n times (a string or a list),
    ``"$delete"`` removes the field."""
    if isinstance(value, dict) and set(value) == {"$repeat"}:
        item, times = value["$repeat"]
        return item * times if isinstance(item, str) else [copy.deepcopy(item)] * times
    if isinstance(value, dict):
        return {k: expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v) for v in value]
    return DELETE if value == "$delete" else value


def request_body(case: dict[str, Any]) -> bytes:
    if "raw_hex" in case:
        return bytes.fromhex(case["raw_hex"])
    if "raw" in case:
        raw = case["raw"]
        text = "".join(expand(raw)) if isinstance(raw, list) else raw
        return text.encode("utf-8", "surrogatepass")
    if "body" in case:
        document = expand(case["body"])
    else:
        document = shipment_payload(**expand(case["changes"]))
    return json.dumps(document).encode("utf-8", "surrogatepass")


def cases(kind: str) -> list[Any]:
    return [
        pytest.param(
            case,
            id=case["name"],
            marks=[pytest.mark.xfail(strict=True, reason=case["xfail"])] if "xfail" in case else [],
        )
        for case in CORPUS[kind]
    ]


def assert_refused_as_the_corpus_says(response, case: dict[str, Any]) -> None:
    assert response.status_code == case.get("status", 422), response.get_data(as_text=True)[:500]
    assert response.is_json, response.content_type
    body = response.json
    assert body["error"] and body["message"], body
    if "field" in case:
        named = [error["field"] for error in body.get("errors", [])]
        wanted = case["field"]
        if wanted.endswith(".*"):  # somewhere inside it (how deep, the answer says)
            named = [n[: len(wanted) - 2] for n in named if n.startswith(wanted[:-1])]
            wanted = wanted[:-2]
        assert wanted in named, (named, body["message"])
    if "says" in case:
        assert case["says"] in body["message"], body["message"]


@pytest.mark.parametrize("case", cases("presentations"))
def test_a_malformed_presentation_is_refused_naming_the_problem_and_writes_nothing(
    client, auth, session, case
):
    before = table_counts(session)
    response = client.post(
        "/api/v1/shipments", data=request_body(case), content_type="application/json", headers=auth
    )
    assert_refused_as_the_corpus_says(response, case)
    assert table_counts(session) == before


def test_the_completeness_check_refuses_the_same_corpus_the_same_way(client, auth, session):
    """``/shipments/check`` reads a presentation as ``/shipments`` does (one loop, not one
    test per case: the per-case report is the test above)."""
    before = table_counts(session)
    wrong = {}
    for case in CORPUS["presentations"]:
        if "xfail" in case:
            continue
        response = client.post(
            "/api/v1/shipments/check",
            data=request_body(case),
            content_type="application/json",
            headers=auth,
        )
        try:
            assert_refused_as_the_corpus_says(response, case)
        except AssertionError as error:
            wrong[case["name"]] = str(error)[:200]
    assert wrong == {}
    assert table_counts(session) == before


@pytest.mark.parametrize("case", cases("decisions"))
def test_a_malformed_decision_is_refused_naming_the_problem_and_writes_nothing(
    client, auth, session, case
):
    presented = client.post("/api/v1/shipments", json=shipment_payload(), headers=auth)
    assert presented.status_code == 201
    before = table_counts(session)
    response = client.post(
        f"/api/v1/shipments/{presented.json['id']}/actions/{case['action']}",
        data=request_body(case),
        content_type="application/json",
        headers=auth,
    )
    assert_refused_as_the_corpus_says(response, case)
    assert table_counts(session) == before


def test_the_corpus_covers_every_kind_of_trick_the_issue_names():
    """A corpus that quietly shrank would prove less: keep each family represented."""
    names = " ".join(c["name"] for kind in ("presentations", "decisions") for c in CORPUS[kind])
    for family in (
        "ISO",
        "negative",
        "zero",
        "NaN",
        "Infinity",
        "expires before issued",
        "over the request size limit",
        "a string",
        "zero-width",
        "RTL override",
        "NUL",
        "lone surrogate",
        "SQL",
        "HTML",
    ):
        assert family in names, family


# -- what is text is kept as text ---------------------------------------------------------

INJECTIONS = {
    "certificate.exporter.name": "Robert'); DROP TABLE shipment; --",
    "certificate.importer.name": "<script>alert('importer')</script>",
    "certificate.importer.address": "1' OR '1'='1",
    "entry_point": "<img src=x onerror=alert(1)>",
    "note": "'; DELETE FROM ledger_entry; --",
}


def test_sql_and_html_in_free_text_are_stored_and_returned_verbatim(client, make_token, session):
    """Names and addresses may contain quotes and angle brackets: they are data, kept as
    sent, and nothing in them is ever run."""
    auth = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'BE')}"}
    before = table_counts(session)
    response = client.post("/api/v1/shipments", json=shipment_payload(**INJECTIONS), headers=auth)
    assert response.status_code == 201, response.json
    stored = client.get(f"/api/v1/shipments/{response.json['id']}", headers=auth).json
    certificate = stored["certificate"]
    assert certificate["exporter"]["name"] == INJECTIONS["certificate.exporter.name"]
    assert certificate["importer"]["name"] == INJECTIONS["certificate.importer.name"]
    assert certificate["importer"]["address"] == INJECTIONS["certificate.importer.address"]
    assert stored["entry_point"] == INJECTIONS["entry_point"]
    after = table_counts(session)
    assert after["shipment"] == before["shipment"] + 1
    assert after["ledger_entry"] == before["ledger_entry"] + 1
