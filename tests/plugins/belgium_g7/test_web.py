"""G7 digital identities over HTTP: register, look up with a proof, follow the lineage.

The same conventions as the rest of API v1: bearer tokens, roles, authority isolation,
one JSON error shape, nothing written on a refusal.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from caratflow.cli import main
from caratflow.cli.context import CliContext
from caratflow.ledger import proofs, sequencer, signing_keys
from caratflow.models import DigitalIdentity, LedgerEntry, Role
from caratflow.pluginhost import load_plugin_host
from caratflow.runtime import Runtime
from caratflow.web import create_app

KP_CERTIFICATE = hashlib.sha256(b"KP certificate CA123456").hexdigest()


def parcel(number: str = "BE-R-1", carats: str = "5.00", **origin: str) -> dict[str, Any]:
    return {
        "id": number,
        "kind": "rough_parcel",
        "carats": carats,
        "origin": origin or {"CA": "60", "BW": "40"},
        "documents": [KP_CERTIFICATE],
    }


def cut(number: str, carats: str, parent: str, kind: str = "polished") -> dict[str, Any]:
    return {"id": number, "kind": kind, "carats": carats, "parents": [{"id": parent}]}


@pytest.fixture
def register(client, auth):
    def post(body: dict[str, Any], expect: int = 201) -> dict[str, Any]:
        response = client.post("/api/v1/identities", json=body, headers=auth)
        assert response.status_code == expect, response.json
        return response.json

    return post


@pytest.fixture
def two_cuts_away(register):
    """Rough parcel → sawn stone → polished stone, registered through the API."""
    register(parcel())
    register(cut("BE-S-1", "2.00", "BE-R-1", kind="intermediate"))
    return register(cut("BE-P-1", "0.90", "BE-S-1"))


def written(session) -> tuple[int, int]:
    identities = session.scalar(select(func.count()).select_from(DigitalIdentity))
    return identities, session.scalar(select(func.count()).select_from(LedgerEntry))


def test_a_registered_identity_is_pending_then_proven(client, auth, register, runtime, session):
    response = client.post("/api/v1/identities", json=parcel(), headers=auth)
    assert response.status_code == 201, response.json
    assert response.headers["Location"].endswith("/api/v1/identities/BE-R-1")
    body = response.json
    assert (body["id"], body["kind"], body["carats"]) == ("BE-R-1", "rough_parcel", "5.0000")
    assert body["ledger"]["status"] == "pending" and body["ledger"]["proof"] is None
    assert "sequencer" in body["ledger"]["message"]

    key = signing_keys.signing_key(runtime.settings)
    sequencer.sequence_pending(session, key)
    session.commit()
    found = client.get("/api/v1/identities/BE-R-1", headers=auth).json
    assert found["ledger"]["status"] == "sequenced"
    assert proofs.check_inclusion(key.public_key(), found["ledger"]["proof"])
    head = client.get("/api/v1/ledger/head").json  # what another authority would check with
    assert found["ledger"]["proof"]["tree_head"]["key_id"] == head["key_id"]


def test_bad_input_is_a_422_naming_every_field_and_writes_nothing(client, auth, session):
    before = written(session)  # (0, 1): the officer behind ``auth`` is sealed (issue 25)
    bad = {**parcel(), "carats": "0.12345", "origin": {"CA": "101"}, "kind": "gravel"}
    response = client.post("/api/v1/identities", json=bad, headers=auth)
    assert response.status_code == 422
    assert {e["field"] for e in response.json["errors"]} >= {"carats", "origin.CA", "kind"}
    assert client.post("/api/v1/identities", data="[]", headers=auth).status_code == 422
    assert written(session) == before == (0, 1)


def test_more_polished_carats_than_the_rough_had_is_refused_citing_g7_lineage(
    client, auth, register, session
):
    register(parcel(carats="1.00"))
    register(cut("BE-P-1", "0.70", "BE-R-1"))
    before = written(session)
    refused = register(cut("BE-P-2", "0.31", "BE-R-1"), expect=422)
    assert refused["error"] == "LawForbids"
    [finding] = refused["findings"]
    assert (finding["rule"], finding["outcome"]) == ("g7.lineage", "refuse")
    assert finding["data"]["already_cut"] == "0.7000"
    assert written(session) == before


def test_an_id_is_registered_once(register):
    register(parcel())
    assert register(parcel(), expect=409)["error"] == "Conflict"


def test_the_lineage_of_a_stone_two_cuts_away_is_its_full_path(client, auth, two_cuts_away):
    assert two_cuts_away["origin_countries"] == ["BW", "CA"]  # inherited, two cuts away
    graph = client.get("/api/v1/identities/BE-P-1/lineage", headers=auth).json
    assert [(n["id"], n["relation"], n["layer"]) for n in graph["nodes"]] == [
        ("BE-R-1", "ancestor", 0),
        ("BE-S-1", "ancestor", 1),
        ("BE-P-1", "self", 2),
    ]
    assert graph["edges"] == [
        {"parent": "BE-R-1", "child": "BE-S-1", "carats": "2.0000"},
        {"parent": "BE-S-1", "child": "BE-P-1", "carats": "0.9000"},
    ]
    assert graph["roots"] == ["BE-R-1"] and graph["lineage"]["clean"] is True


def test_a_russian_share_two_cuts_away_shows_in_the_stones_lineage(client, auth, register):
    register(parcel(AO="99", RU="1"))
    register(cut("BE-S-1", "2.00", "BE-R-1", kind="intermediate"))
    stone = register(cut("BE-P-1", "0.90", "BE-S-1"))
    assert stone["lineage"]["russian"] is True and stone["lineage"]["clean"] is False
    assert stone["lineage"]["problems"][0]["rule"] == "g7.lineage"


def test_auditors_read_but_do_not_register(client, make_token, register):
    register(parcel())
    auditor = {"Authorization": f"Bearer {make_token(Role.AUDITOR, 'BE')}"}
    assert client.get("/api/v1/identities/BE-R-1", headers=auditor).status_code == 200
    response = client.post("/api/v1/identities", json=parcel("BE-R-2"), headers=auditor)
    assert response.status_code == 403


def test_only_authorities_that_enable_belgium_g7_use_the_identities(client, make_token, register):
    register(parcel())
    norway = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'NO')}"}
    looked_up = client.get("/api/v1/identities/BE-R-1", headers=norway)
    assert looked_up.status_code == 403
    assert "belgium_g7" in looked_up.json["message"]
    posted = client.post(
        "/api/v1/identities", json={**parcel("NO-R-1"), "authority": "NO"}, headers=norway
    )
    assert posted.status_code == 403 and "belgium_g7" in posted.json["message"]


def test_an_officer_of_several_authorities_registers_where_identities_are_kept(client, make_token):
    both = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'BE', 'NO')}"}
    response = client.post("/api/v1/identities", json=parcel(), headers=both)
    assert response.status_code == 201 and response.json["authority"] == "BE"


def test_without_a_token_nothing_is_answered(client, register):
    register(parcel())
    assert client.get("/api/v1/identities/BE-R-1").status_code == 401
    assert client.post("/api/v1/identities", json=parcel("BE-R-2")).status_code == 401


@pytest.mark.parametrize("unknown", ["BE-R-404", "nonsense", "x" * 300])
def test_an_unknown_identity_is_a_404(client, auth, unknown):
    for path in (f"/api/v1/identities/{unknown}", f"/api/v1/identities/{unknown}/lineage"):
        response = client.get(path, headers=auth)
        assert response.status_code == 404, (path, response.json)
        assert response.json["error"] == "NotFound"


def test_a_nul_in_an_identity_is_a_400_as_in_every_path(client, auth):
    """Issue 21: a NUL in any path segment is refused before any view reads it."""
    for path in ("/api/v1/identities/BE-%00", "/api/v1/identities/BE-%00/lineage"):
        response = client.get(path, headers=auth)
        assert response.status_code == 400, (path, response.json)
        assert "NUL" in response.json["message"]


def test_the_identities_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert set(paths["/api/v1/identities"]["post"]["responses"]) >= {"201", "403", "409", "422"}
    assert "200" in paths["/api/v1/identities/{identity_id}"]["get"]["responses"]
    assert "200" in paths["/api/v1/identities/{identity_id}/lineage"]["get"]["responses"]


# -- the plugin's own face (issue 20) --------------------------------------------------------


@pytest.fixture
def without_g7(runtime):
    """The app of a deployment that enables the EU and Norway only."""
    host = load_plugin_host(["eu", "norway"])
    others = Runtime.assemble(runtime.settings, runtime.engine, runtime.sessions, host)
    return create_app({"TESTING": True}, runtime=others).test_client()


def test_a_deployment_without_the_g7_plugin_serves_none_of_its_routes(without_g7, make_token):
    auth = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'BE')}"}
    assert without_g7.post("/api/v1/identities", json=parcel(), headers=auth).status_code == 404
    assert without_g7.get("/api/v1/identities/BE-R-1", headers=auth).status_code == 404
    assert without_g7.get("/api/v1/identities/BE-R-1/lineage", headers=auth).status_code == 404
    assert without_g7.get("/identities/BE-R-1/lineage").status_code == 404
    paths = without_g7.get("/api/v1/openapi.json").json["paths"]
    assert "/api/v1/shipments" in paths
    assert not [path for path in paths if "identities" in path]


@pytest.mark.parametrize(("plugins", "listed"), [("eu,norway", False), ("eu,belgium_g7", True)])
def test_the_identities_commands_come_with_the_plugin(plugins, listed):
    result = CliRunner().invoke(main, ["--help"], env={"CARATFLOW_PLUGINS": plugins})
    assert result.exit_code == 0, result.output
    commands = [
        line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line
    ]
    assert ("identities" in commands) is listed
    shown = CliRunner().invoke(main, ["identities", "--help"], env={"CARATFLOW_PLUGINS": plugins})
    assert (shown.exit_code == 0) is listed, shown.output


def test_the_identities_commands_show_a_record_and_its_lineage(runtime, two_cuts_away, monkeypatch):
    monkeypatch.setattr(CliContext, "get", lambda self: runtime)
    shown = CliRunner().invoke(main, ["identities", "show", "BE-P-1"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["id"] == "BE-P-1"
    lineage = CliRunner().invoke(main, ["identities", "lineage", "BE-P-1"])
    assert lineage.exit_code == 0, lineage.output
    assert json.loads(lineage.output)["roots"] == ["BE-R-1"]


# -- the page ---------------------------------------------------------------------------


def test_the_lineage_page_draws_the_graph_of_a_stone(browser, make_person, two_cuts_away):
    officer = browser(make_person(Role.OFFICER, "BE"))
    page = officer.get("/identities/BE-P-1/lineage")
    assert page.status_code == 200
    html = page.text
    svg = html[html.index("<svg") : html.index("</svg>")]
    drawn = re.findall(r'<g class="wf-node [^"]+" data-identity="([^"]+)"', svg)
    assert sorted(drawn) == ["BE-P-1", "BE-R-1", "BE-S-1"]
    edges = re.findall(r'data-parent="([^"]+)" data-child="([^"]+)"', svg)
    assert edges == [("BE-R-1", "BE-S-1"), ("BE-S-1", "BE-P-1")]
    assert svg.count('class="wf-edge"') == 2
    assert 'data-lineage="clean"' in html
    assert "2.0000 ct" in svg and "0.9000 ct" in svg


def test_the_lineage_page_names_the_russian_share(browser, make_person, register):
    register(parcel(AO="99", RU="1"))
    register(cut("BE-P-1", "0.90", "BE-R-1"))
    page = browser(make_person(Role.AUDITOR, "BE")).get("/identities/BE-P-1/lineage")
    assert page.status_code == 200
    assert 'data-lineage="russian"' in page.text and "RU 1%" in page.text


def test_the_lineage_page_of_another_authority_is_refused(browser, make_person, register):
    register(parcel())
    norwegian = browser(make_person(Role.OFFICER, "NO"))
    assert norwegian.get("/identities/BE-R-1/lineage").status_code == 403
    assert browser(make_person(Role.OFFICER, "BE")).get("/identities/X/lineage").status_code == 404
