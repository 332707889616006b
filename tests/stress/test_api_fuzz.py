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

import copy
import json
import re
import zlib
from html.parser import HTMLParser
from pathlib import Path
from tempfile import mkdtemp
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import func, select

from caratflow.case.access import Actor
from caratflow.config import Settings
from caratflow.ledger import sequencer
from caratflow.models import LedgerEntry, Role
from caratflow.runtime import Runtime
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.people import TOKEN
from caratflow.web import create_app

from .conftest import STRESS_PROFILE, table_counts

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
    return present_in_every_state(runtime, session)


def present_in_every_state(runtime, session) -> list[int]:
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


def steer(case, ids: list[int], actions: list[str], etag_of=lambda shipment: '"1"') -> None:
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
    # A made-up If-Match is always stale: make it the shipment's own half the time, so that
    # decisions happen (dropping it is a 428, issue 26).
    stale = case.headers and "If-Match" in case.headers and isinstance(action, str)
    if stale and zlib.crc32(action.encode("utf-8", "surrogatepass")) % 2:
        others = {k: v for k, v in case.headers.items() if k.lower() != "if-match"}
        case.headers = {**others, "If-Match": etag_of(parameters.get("shipment_id"))}
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
    def etag_of(shipment: object) -> str:
        seen = app.test_client().get(f"/api/v1/shipments/{shipment}", headers=people[0])
        return seen.headers.get("ETag", '"1"')

    steer(case, shipments_in_every_state, ACTIONS, etag_of)
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


# -- every route and every field, on both databases, with the inputs of issue 21 ---------
#
# The operations and their parameters come from the app itself (its url_map and the
# OpenAPI document it serves), the forms from the pages it renders: a new route, query
# parameter, body field or form field is fuzzed without a line here. Properties: no
# 5xx; a refusal is a 4xx that names the field (the API's ``errors[].field``, the page's
# form error); nothing written by what was refused.

HOSTILE_TEXT = [
    *("١", "٣٢", "²", "𝟙", "١٢٣"),  # digits of other scripts: str.isdigit() says yes
    *("9" * 11, "9" * 20, "9" * 30, str(2**31), str(2**63), "-1", "0", "1"),  # sizes
    *("0000-01", "0001-01", "9999-12", "9999-Q4", "0000", "9999"),  # periods at the edges
    *("0000-01-01", "0001-01-01", "9999-12-31", "2026-02-30"),  # days at the edges
    *("a\x00b", "\x00"),  # NUL
    *("1e400", "-1e400", "Infinity", "NaN", "1_000", "12.5"),  # numbers that are not
]
hostile_text = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=12))

BAD_JSON = {  # a JSON value no field may hold
    "1e400": "1e400",
    "-1e400": "-1e400",
    "Infinity": "Infinity",
    "NaN": "[NaN]",
    "nested 600 deep": "[" * 600 + "]" * 600,
    "NUL": '"a\\u0000b"',
    "lone surrogate": '"a\\ud800b"',
}
ODD_JSON = [  # values a field may or may not take: whichever, never a 5xx
    '"1_000"',
    '"\\u0661\\u0662\\u0663"',
    "12.5",
    '"yes"',
    "1",
    "true",
    "null",
    "[]",
    "{}",
    "9" * 25,
    '"9999-12-31"',
    '"0001-01-01"',
    '"0000-01"',
    '"\\u00b2"',
]
NOT_COUNTED = {"security_event", "web_session", "user_profile"}
"""Rows a refused request may write: the security log records refusals (and seals each,
issue 25: its ledger entries are not counted either), and a page view touches its
session."""

EXAMPLE_BODIES = {
    "ShipmentIn": lambda: shipment_payload(**{"certificate.number": "CA7654321"}),
    "ActionIn": lambda: {"reason": "seal S-991 broken", "inputs": {"weighed_carats": "1.5"}},
    "SubmissionIn": lambda: {"period": "2026-10", "authority": "BE"},
    "IdentityIn": lambda: {
        "id": "GIA-2231",
        "kind": "rough",
        "carats": "1.25",
        "origin": {"CA": "100"},
    },
    "EnvelopeIn": lambda: {"message": {"type": "lookup"}, "signature": "00"},
}
"""A valid body of each request schema, whose fields the fuzz replaces one at a time (a
schema without one here fails ``test_every_request_body_has_an_example``)."""


def counted(session) -> dict[str, int]:
    counts = {k: v for k, v in table_counts(session).items() if k not in NOT_COUNTED}
    sealed_refusals = select(func.count()).where(LedgerEntry.kind.in_(NOT_COUNTED))
    counts["ledger_entry"] -= session.scalar(sealed_refusals) or 0
    return counts


def leaf_paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a document a value can be put: each member, each item, and one
    new member of each object (an extra field)."""
    if isinstance(value, dict):
        found = [(*prefix, "extra")]
        for key, item in value.items():
            found += [(*prefix, key), *leaf_paths(item, (*prefix, key))]
        return found
    if isinstance(value, list):
        return [
            p
            for i, item in enumerate(value)
            for p in [(*prefix, i), *leaf_paths(item, (*prefix, i))]
        ]
    return []


PLACEHOLDER = "\ue000fuzzed\ue000"


def with_raw_value(document: Any, path: tuple, raw: str) -> bytes:
    """``document`` with the JSON text ``raw`` at ``path`` (raw, so that ``1e400`` and
    ``NaN`` travel as a client would write them)."""
    document = copy.deepcopy(document)
    target = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = PLACEHOLDER
    return json.dumps(document).replace(json.dumps(PLACEHOLDER), raw).encode()


def dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)


@pytest.fixture
def fuzz_world(app, runtime, session, make_token, make_person, browser):
    """Shipments in several states, a token and a signed-in page for an officer and an
    administrator of both authorities, and the app's operations and forms."""
    ids = present_in_every_state(runtime, session)
    officer = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'BE')}"}
    admin = {"Authorization": f"Bearer {make_token(Role.ADMIN, 'BE', 'NO')}"}
    pages = {
        "officer": browser(make_person(Role.OFFICER, "BE", "NO")),
        "admin": browser(make_person(Role.ADMIN, "BE", "NO")),
    }
    return SimpleNamespace(ids=ids, tokens=[officer, admin], pages=pages, app=app)


def concrete(rule, ids: list[int], value: str | None = None, which: str | None = None) -> str:
    """The rule's path with real values (a shipment, an action it allows), and ``value``
    in place of the variable ``which``."""
    real = {"shipment_id": str(ids[0]), "action": "hold", "report": REPORTS[0], "seq": "0"}
    real |= {"code": "BE", "day": "2026-12-25", "user_id": "1"}
    parts = {}
    for name in rule.arguments:
        parts[name] = value if name == which else real.get(name, "1")
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(rf"<(?:[^:>]+:)?{name}>", lambda _m, n=name: quote(parts[n], safe=""), path)
    return path


def query_names(app, rule) -> list[str]:
    """The query parameters the operation documents; for a page, those pages read."""
    view = app.view_functions[rule.endpoint]
    described = getattr(view, "__openapi__", None)
    if described is not None and described.query:
        return [p.name for p in described.query]
    return list(PAGE_QUERY)


VALID_QUERY = {"period": "2026-10", "from": "0"}


def required_query(app, rule) -> dict[str, str]:
    """Valid values of the operation's required parameters, so that the fuzzed one is
    what an answer is about."""
    described = getattr(app.view_functions[rule.endpoint], "__openapi__", None)
    query = described.query if described is not None else ()
    return {p.name: VALID_QUERY.get(p.name, "1") for p in query if p.required}


PAGE_QUERY = ("cursor", "before", "from", "to", "period", "authority", "state", "report", "next")


def routes(app, method: str) -> list:
    return sorted(
        (r for r in app.url_map.iter_rules() if method in r.methods and r.endpoint != "static"),
        key=lambda r: r.rule,
    )


def assert_a_clear_answer(response, session, before: dict[str, int], where: str) -> None:
    status = response.status_code
    assert status < 500, (where, status, response.get_data(as_text=True)[:300])
    if 400 <= status < 500:
        assert counted(session) == before, (where, "a refusal wrote something")
        if response.request.path.startswith("/api/") and response.is_json:
            body = response.json
            assert body.get("error") and body.get("message"), (where, body)
            if status == 422 and "errors" in body:
                assert all(e["field"] for e in body["errors"]), (where, body)


@settings(STRESS_PROFILE, max_examples=60, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_hostile_path_and_query_values_on_every_route_get_a_clear_4xx_and_write_nothing(
    data, fuzz_world, session
):
    """Each GET route of the API and the pages, a path variable or query parameter set
    to a hostile value (digits of other scripts, 30-digit ids, NUL, the calendar's
    edges): never a 5xx, never a write; a number parsed strictly or not at all."""
    app = fuzz_world.app
    rule = data.draw(st.sampled_from(routes(app, "GET")), label="route")
    value = data.draw(hostile_text, label="value")
    names = list(rule.arguments) + [f"?{q}" for q in query_names(app, rule)]
    which = data.draw(st.sampled_from(names), label="where")
    if which.startswith("?"):
        query = required_query(app, rule) | {which[1:]: value}
        url = f"{concrete(rule, fuzz_world.ids)}?{urlencode(query)}"
    else:
        url = concrete(rule, fuzz_world.ids, value, which)
    before = counted(session)
    if rule.rule.startswith("/api/"):
        response = app.test_client().get(url, headers=fuzz_world.tokens[0])
    else:
        response = fuzz_world.pages["admin" if rule.rule.startswith("/admin") else "officer"].get(
            url
        )
    assert_a_clear_answer(response, session, before, url)
    if response.status_code == 422 and response.is_json and which.startswith("?"):
        assert which[1:] in [e["field"] for e in response.json.get("errors", [])], response.json


ONE_OF_EACH_CLASS = [
    *("\u0661", "\u00b2", "9" * 30, str(2**31)),
    *("0000-01", "9999-12", "0001-01", "9999-12-31", "0001-01-01", "0000-01-01"),
    *("a\x00b", "1e400", "NaN", "1_000"),
]


def test_every_route_and_parameter_takes_each_class_of_issue_21_without_5xx_or_a_write(
    fuzz_world, session
):
    """The sweep beside the search above: every GET route, every path variable and query
    parameter, one value of each class the issue found (a search of a few dozen examples
    may miss one pair among hundreds). Every failure is reported at once."""
    app = fuzz_world.app
    before = counted(session)
    wrong = []
    for rule in routes(app, "GET"):
        names = list(rule.arguments) + [f"?{q}" for q in query_names(app, rule)]
        for which in names:
            for value in ONE_OF_EACH_CLASS:
                if which.startswith("?"):
                    query = required_query(app, rule) | {which[1:]: value}
                    url = f"{concrete(rule, fuzz_world.ids)}?{urlencode(query)}"
                else:
                    url = concrete(rule, fuzz_world.ids, value, which)
                if rule.rule.startswith("/api/"):
                    response = app.test_client().get(url, headers=fuzz_world.tokens[0])
                else:
                    who = "admin" if rule.rule.startswith("/admin") else "officer"
                    response = fuzz_world.pages[who].get(url)
                if response.status_code >= 500:
                    wrong.append((url, response.status_code))
                elif response.status_code == 422 and response.is_json and which[0] == "?":
                    named = [e["field"] for e in response.json.get("errors", [])]
                    wrong += [(url, named)] if which[1:] not in named else []
    assert wrong == []
    assert counted(session) == before


@settings(STRESS_PROFILE, max_examples=80, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_hostile_json_in_every_body_field_is_refused_naming_it_and_writes_nothing(
    data, fuzz_world, session
):
    """Each POST operation of the document, one field of a valid body (or an extra one)
    replaced by a value no JSON column may hold (named, 4xx, nothing written) or by an
    odd one (whatever the answer, never a 5xx)."""
    document = schema.raw_schema
    app = fuzz_world.app
    posts = sorted(
        (path, op)
        for path, methods in document["paths"].items()
        for method, op in methods.items()
        if method == "post"
    )
    path, op = data.draw(st.sampled_from(posts), label="operation")
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = EXAMPLE_BODIES[ref.rsplit("/", 1)[1]]()
    where = data.draw(st.sampled_from(leaf_paths(body)), label="field")
    bad = data.draw(st.booleans(), label="bad")
    raw = (
        BAD_JSON[data.draw(st.sampled_from(sorted(BAD_JSON)))]
        if bad
        else data.draw(st.sampled_from(ODD_JSON))
    )
    rule = next(r for r in routes(app, "POST") if openapi_path(r.rule) == path)
    url = concrete(rule, fuzz_world.ids)
    before = counted(session)
    response = app.test_client().post(
        url,
        data=with_raw_value(body, where, raw),
        content_type="application/json",
        headers=fuzz_world.tokens[0],
    )
    assert_a_clear_answer(response, session, before, f"{url} {dotted(where)}={raw[:20]}")
    if bad and not path.startswith("/api/v1/exchange/"):  # a peer's envelope is signed first
        assert response.status_code == 422, (url, dotted(where), response.json)
        named = [e["field"] for e in response.json["errors"]]
        assert any(n == dotted(where) or n.startswith(dotted(where) + ".") for n in named), (
            dotted(where),
            named,
        )


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule)


class _Forms(HTMLParser):
    """The POST forms of a page: their action and fields with the values shown."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._in: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "").lower() == "post":
            self._in = {}
            self.forms.append((a.get("action", ""), self._in))
        elif self._in is not None and tag in ("input", "textarea", "select") and a.get("name"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                self._in.setdefault(a["name"], "")
            else:
                self._in[a["name"]] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in = None


def form_catalogue(app, pages: dict[str, Any], ids: list[int]) -> list[tuple]:
    """(page, who, action, fields shown) of every POST form the pages render, found by
    opening every page route: taken once, before the fuzz, so that the examples draw
    from the same list whatever they change."""
    found: dict[tuple, tuple] = {}
    for rule in routes(app, "GET"):
        if rule.rule.startswith("/api/") or rule.endpoint in SKIP:
            continue
        who = "admin" if rule.rule.startswith("/admin") else "officer"
        url = concrete(rule, ids)
        page = pages[who].get(url)
        assert page.status_code < 500, (url, page.status_code)
        if page.status_code != 200 or page.mimetype != "text/html":
            continue
        parser = _Forms()
        parser.feed(page.get_data(as_text=True))
        for action, fields in parser.forms:
            if set(fields) - {"csrf_token"} and not action.endswith("/logout"):
                key = (action or url, tuple(sorted(fields)))
                found.setdefault(key, (url, who, action or url, dict(sorted(fields.items()))))
    return list(found.values())


SKIP = {"auth.logout"}  # would end the session the examples share


@settings(STRESS_PROFILE, max_examples=60, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_hostile_values_in_every_form_field_get_a_form_error_and_write_nothing(
    data, fuzz_world, session
):
    """Each form of each page, one field set to a hostile value (the others as the page
    shows them): never a 5xx; a refusal writes nothing and says what is wrong on the page."""
    if not hasattr(fuzz_world, "forms"):
        fuzz_world.forms = form_catalogue(fuzz_world.app, fuzz_world.pages, fuzz_world.ids)
    url, who, action, fields = data.draw(st.sampled_from(fuzz_world.forms), label="form")
    name = data.draw(st.sampled_from([n for n in fields if n != "csrf_token"]), label="field")
    particulars = [f"x = {v}" for v in BAD_JSON.values()]
    value = data.draw(st.one_of(hostile_text, st.sampled_from(ODD_JSON + particulars)))
    client = fuzz_world.pages[who]
    page = client.get(url)
    assert page.status_code < 500, (url, page.status_code)
    token = TOKEN.search(page.text)
    fresh = {"csrf_token": token.group(1) or token.group(2)} if token else {}
    before = counted(session)
    response = client.post(action, data={**fields, **fresh, name: value})
    assert_a_clear_answer(response, session, before, f"{action} {name}={value[:20]!r}")
    if response.status_code == 422:  # the form again, with what is wrong said on it
        assert 'class="errors"' in response.text or 'role="alert"' in response.text, action


def test_the_form_fuzz_reaches_the_pages_that_take_input(fuzz_world):
    """The catalogue is the fuzz's reach: if a page's form vanished from it (a page that
    no longer renders for these people), the fuzz would prove less without failing."""
    forms = form_catalogue(fuzz_world.app, fuzz_world.pages, fuzz_world.ids)
    actions = {action.split("?")[0] for _, _, action, _ in forms}
    for expected in ("/shipments/new", "/shipments/check", "/parties"):
        assert expected in actions, sorted(actions)
    assert any("/actions/" in a for a in actions), sorted(actions)
    assert any(a.startswith("/admin") for a in actions), sorted(actions)
