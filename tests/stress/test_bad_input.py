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
from caratflow.testing.payloads import DELETE, shipment_payload, valid_today

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
        headers=auth | {"If-Match": '"1"'},
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
}
CLAIM = {"ground": "in_union_before_ban", "evidence": "'; DELETE FROM ledger_entry; --"}


def test_sql_and_html_in_free_text_are_stored_and_returned_verbatim(client, make_token, session):
    """Names and addresses may contain quotes and angle brackets: they are data, kept as
    sent, and nothing in them is ever run."""
    auth = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'BE')}"}
    before = table_counts(session)
    payload = shipment_payload(**INJECTIONS, sanctions_exemption=CLAIM)  # a declared text
    response = client.post("/api/v1/shipments", json=payload, headers=auth)
    assert response.status_code == 201, response.json
    stored = client.get(f"/api/v1/shipments/{response.json['id']}", headers=auth).json
    certificate = stored["certificate"]
    assert certificate["exporter"]["name"] == INJECTIONS["certificate.exporter.name"]
    assert certificate["importer"]["name"] == INJECTIONS["certificate.importer.name"]
    assert certificate["importer"]["address"] == INJECTIONS["certificate.importer.address"]
    assert stored["entry_point"] == INJECTIONS["entry_point"]
    assert stored["details"]["sanctions_exemption"] == CLAIM
    after = table_counts(session)
    assert after["shipment"] == before["shipment"] + 1
    # the decision, the shipment as presented and the clock it opened (issue 25)
    assert after["ledger_entry"] == before["ledger_entry"] + 3


# -- parameters in the path and the query string (issue 21) -------------------------------
# Each gave a 500 or a wrong answer: ``isdigit()`` says yes to ``²`` and ``١`` (and ``int``
# reads ``١`` as 1), ``int`` routes took any length, a day or period at the calendar's
# edge overflowed, a NUL in a path segment reached PostgreSQL.

API_PARAMETERS = [
    ("/api/v1/deadlines?cursor=\u00b2", "cursor"),
    ("/api/v1/deadlines?within=\u0661", "within"),
    ("/api/v1/deadlines?cursor=" + "9" * 30, "cursor"),
    ("/api/v1/deadlines?limit=\U0001d7d9", "limit"),
    ("/api/v1/ledger/proof/1?tree_size=\u00b2", "tree_size"),
    ("/api/v1/ledger/consistency?from=\u00b2", "from"),
    ("/api/v1/ledger/consistency?from=0&to=\u0661", "to"),
    ("/api/v1/shipments?cursor=\u0661", "cursor"),
    ("/api/v1/shipments?presented_to=9999-12-31", "presented_to"),
    ("/api/v1/shipments?presented_from=0000-01-01", "presented_from"),
    ("/api/v1/reports/eu.report.import_monthly?period=0000-01", "period"),
    ("/api/v1/reports/eu.report.import_monthly?period=9999-12", "period"),
    ("/api/v1/reports/eu.report.import_monthly?period=0001-01", "period"),
]


@pytest.mark.parametrize(("url", "field"), API_PARAMETERS, ids=[u for u, _ in API_PARAMETERS])
def test_a_parameter_in_other_digits_or_beyond_the_calendar_is_a_422_naming_it(
    client, auth, session, url, field
):
    before = table_counts(session)
    response = client.get(url, headers=auth)
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert field in [e["field"] for e in response.json["errors"]], response.json
    assert table_counts(session) == before


def test_a_day_at_the_calendar_edge_that_fits_is_answered(client, auth):
    response = client.get("/api/v1/shipments?presented_from=0001-01-01", headers=auth)
    assert response.status_code == 200, response.json


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/shipments/\u0661",  # was shipment 1
        "/api/v1/shipments/" + "9" * 30,
        "/api/v1/shipments/\u0661/history",
        "/api/v1/ledger/proof/\u00b2",
        "/api/v1/ledger/proof/" + "9" * 20,
    ],
)
def test_an_id_in_other_digits_or_too_long_is_not_found(client, auth, url):
    presented = client.post("/api/v1/shipments", json=shipment_payload(), headers=auth)
    assert presented.status_code == 201
    response = client.get(url, headers=auth)
    assert response.status_code == 404, response.get_data(as_text=True)[:300]
    assert response.is_json


@pytest.mark.parametrize("segment", ["N%00O/lookups/identity/ab", "NO/lookups/identity/a%00b"])
def test_a_nul_in_a_path_segment_is_a_400_before_any_database(client, auth, session, segment):
    before = table_counts(session)
    response = client.get(f"/api/v1/exchange/peers/{segment}", headers=auth)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert "NUL" in response.json["message"]
    assert table_counts(session) == before


PAGE_PARAMETERS = [
    ("/shipments/?cursor=\u00b2", 422, "cursor"),
    ("/shipments/?cursor=" + "9" * 30, 422, "cursor"),
    ("/shipments/?to=9999-12-31", 422, "to"),
    ("/shipments/?from=0001-01-01", 422, "from"),  # midnight in Brussels is in year 0
    ("/shipments/" + "9" * 30, 404, None),
    ("/shipments/\u0661", 404, None),
    ("/shipments/1/documents/" + "9" * 20 + ".pdf", 404, None),
]


@pytest.mark.parametrize(
    ("url", "status", "field"), PAGE_PARAMETERS, ids=[u for u, _, _ in PAGE_PARAMETERS]
)
def test_the_pages_refuse_the_same_parameters_saying_which(
    make_person, browser, session, url, status, field
):
    page = browser(make_person(Role.OFFICER, "BE"))
    before = table_counts(session)
    response = page.get(url)
    assert response.status_code == status, response.text[:300]
    if field is not None:
        assert f"{field}: must be" in response.text or f"{field}: a day" in response.text
    assert {k: v for k, v in table_counts(session).items() if k != "web_session"} == {
        k: v for k, v in before.items() if k != "web_session"
    }


# -- what the pages' forms take as JSON (issue 21) ----------------------------------------

BAD_PARTICULARS = {
    "1e400": "1e400",
    "-1e400": "-1e400",
    "NaN": "NaN",
    "Infinity": "[Infinity]",
    "nested 600 deep": "[" * 600 + "]" * 600,
}


@pytest.mark.parametrize("value", BAD_PARTICULARS.values(), ids=list(BAD_PARTICULARS))
def test_a_particular_no_record_can_keep_is_a_form_error_and_writes_nothing(
    client, auth, make_person, browser, session, value
):
    from caratflow.testing.people import post_form

    presented = client.post("/api/v1/shipments", json=shipment_payload(), headers=auth).json
    page = browser(make_person(Role.OFFICER, "BE"))
    before = table_counts(session)
    url = f"/shipments/{presented['id']}/actions/hold"
    response = post_form(
        page,
        url,
        reason="seal broken",
        version=str(presented["version"]),
        particulars=f"weighed = {value}",
    )
    assert response.status_code == 422, response.text[:300]
    assert "particulars: line 1:" in response.text
    assert table_counts(session)["event"] == before["event"]
    assert table_counts(session)["shipment"] == before["shipment"]


@pytest.mark.parametrize("value", BAD_PARTICULARS.values(), ids=list(BAD_PARTICULARS))
def test_further_particulars_of_a_presentation_no_record_can_keep_are_a_form_error(
    make_person, browser, session, value
):
    from caratflow.testing.people import post_form

    page = browser(make_person(Role.OFFICER, "BE"))
    form = _presentation_form()
    before = table_counts(session)
    response = post_form(page, "/shipments/new", **form, details=f'{{"extra": {value}}}')
    assert response.status_code == 422, response.text[:300]
    assert table_counts(session)["shipment"] == before["shipment"]
    assert 'class="errors"' in response.text  # beside the particulars' field


def _presentation_form() -> dict[str, str]:
    """A compliant Belgian import as typed into the counter's form."""
    p = shipment_payload(**valid_today())  # presented now: the form has no presented_at
    c = p["certificate"]
    return {
        "authority": "BE",
        "direction": p["direction"],
        "goods": p["goods"],
        "certificate_number": c["number"],
        "certificate_issuing_country": c["issuing_country"],
        "certificate_issuing_authority": c["issuing_authority"],
        "certificate_issued_on": c["issued_on"],
        "certificate_expires_on": c["expires_on"],
        "certificate_exporter_name": c["exporter"]["name"],
        "certificate_exporter_address": c["exporter"]["address"],
        "certificate_importer_name": c["importer"]["name"],
        "certificate_importer_address": c["importer"]["address"],
        "certificate_parcels": str(c["parcels"]),
        "certificate_carats": c["carats"],
        "certificate_value_usd": c["value_usd"],
        "certificate_hs_codes": ",".join(c["hs_codes"]),
        "certificate_origin": ",".join(c["origin"]),
        "certificate_provenance": c["provenance"],
        "containers-0-label": p["containers"][0]["id"],
        "containers-0-seals": ",".join(p["containers"][0]["seals"]),
        "containers-0-seals_intact": "y",
    }


@pytest.mark.parametrize("carats", ["1_000", "\u0661\u0662\u0663"])
def test_the_counter_form_reads_carats_as_the_api_does(make_person, browser, session, carats):
    from caratflow.testing.people import post_form

    page = browser(make_person(Role.OFFICER, "BE"))
    before = table_counts(session)
    response = post_form(
        page, "/shipments/new", **_presentation_form() | {"certificate_carats": carats}
    )
    assert response.status_code == 422, response.text[:300]
    assert table_counts(session)["shipment"] == before["shipment"]


def test_the_counter_form_itself_presents(make_person, browser, session):
    """The form above is a valid one: the refusals above are the fuzzed field's."""
    from caratflow.testing.people import post_form

    page = browser(make_person(Role.OFFICER, "BE"))
    response = post_form(page, "/shipments/new", **_presentation_form())
    assert response.status_code == 303, response.text[:2000]


# -- a failed statement on PostgreSQL, then the error page (issue 21) ---------------------


def test_the_error_page_after_a_failed_statement_is_a_500_page_not_a_second_failure(
    app, make_person, browser
):
    """A statement that failed leaves the session unusable until it is rolled back (and
    PostgreSQL's transaction aborted): the error page, which asks who is signed in, rolls
    back first instead of failing in turn."""
    from caratflow.models import Authority
    from caratflow.web.context import db

    def fails_in_the_database() -> str:
        # A row the database refuses at flush (as it refused Infinity in a JSON column).
        db().add(Authority(code="BE", name="again", country="BE", zone="UTC", plugins=[]))
        db().flush()
        return "unreachable"

    app.add_url_rule("/test-only/fails", view_func=fails_in_the_database)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as served: the error page answers
    page = browser(make_person(Role.OFFICER, "BE"))
    response = page.get("/test-only/fails")
    assert response.status_code == 500
    assert "Something went wrong" in response.text
