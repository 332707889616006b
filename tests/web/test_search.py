"""Issue 26, point 2: a fragment finds the shipment, on the page, in the API and its CSV;
another authority's shipments are never found; the list sorts and keeps its filters."""

from __future__ import annotations

import csv
import io

import pytest

from caratflow.models import Role
from caratflow.testing.payloads import shipment_payload


def present(client, auth, **changes) -> int:
    created = client.post("/api/v1/shipments", json=shipment_payload(**changes), headers=auth)
    assert created.status_code == 201, created.json
    return created.json["id"]


def found(client, auth, q: str, **more) -> list[int]:
    answer = client.get("/api/v1/shipments", query_string={"q": q, **more}, headers=auth)
    assert answer.status_code == 200, answer.json
    return [item["id"] for item in answer.json["items"]]


@pytest.fixture
def three(client, auth) -> dict[str, int]:
    """Three Belgian shipments, each with its own trader, certificate, seal and stone."""
    return {
        "rough": present(
            client,
            auth,
            **{
                "certificate.number": "CA7710042",
                "certificate.importer.name": "Hoveniersstraat Trading BV",
                "containers.0.seals": ["BE-SEAL-55120"],
            },
        ),
        "other": present(
            client,
            auth,
            **{
                "certificate.number": "CA9930017",
                "certificate.importer.name": "Pelikaanstraat Gems NV",
                "containers.0.id": "BOX-ANT-9",
            },
        ),
        "stones": present(
            client,
            auth,
            **{
                "certificate.number": "BW5550001",
                "certificate.issuing_country": "BW",
                "certificate.exporter.name": "Okavango Diamond Company",
                "certificate.importer.name": "Antwerp Brilliant BVBA",
                "stones": [{"id": "GIA-2231-X7", "lot": "L1", "carats": "0.70", "origin": "BW"}],
            },
        ),
    }


def test_a_fragment_of_the_importers_name_finds_the_shipment(client, auth, three):
    assert found(client, auth, "veniersstr") == [three["rough"]]
    assert found(client, auth, "PELIKAAN") == [three["other"]]  # case does not matter
    assert found(client, auth, "okavango") == [three["stones"]]  # the exporter too


def test_a_fragment_of_the_certificate_number_finds_the_shipment(client, auth, three):
    assert found(client, auth, "771004") == [three["rough"]]
    assert found(client, auth, "ca99300") == [three["other"]]


def test_a_seal_a_container_or_a_stone_finds_the_shipment(client, auth, three):
    assert found(client, auth, "seal-5512") == [three["rough"]]
    assert found(client, auth, "box-ant") == [three["other"]]
    assert found(client, auth, "2231-x7") == [three["stones"]]  # declared in details


def test_a_registered_traders_organisation_number_finds_its_shipments(
    browser, make_person, client, auth, three
):
    clerk = browser(make_person(Role.OFFICER, "BE"))
    page = clerk.get("/parties")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    registered = clerk.post(
        "/parties",
        data={
            "csrf_token": token,
            "authority": "BE",
            "name": "Pelikaanstraat Gems NV",
            "address": "Pelikaanstraat 62, Antwerpen",
            "phone": "+32 3 234 56 78",
            "organisation_number": "0456781234",
            "roles": "importer",
        },
    )
    assert registered.status_code == 303, registered.text
    assert found(client, auth, "5678123") == [three["other"]]


def test_another_authoritys_shipments_are_never_found(make_token, client, auth, three):
    norway = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'NO')}"}
    assert found(client, norway, "hoveniers") == []
    assert found(client, norway, "771004") == []
    assert found(client, auth, "hoveniers") == [three["rough"]]


def test_a_fragment_shorter_than_three_characters_is_refused(client, auth, three):
    answer = client.get("/api/v1/shipments", query_string={"q": "ca"}, headers=auth)
    assert answer.status_code == 422, answer.json


def test_the_search_box_is_documented_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").json
    listed = document["paths"]["/api/v1/shipments"]["get"]["parameters"]
    by_name = {p["name"]: p for p in listed}
    assert "fragment" in by_name["q"]["description"]
    assert "-carats" in by_name["sort"]["schema"]["enum"]


def test_the_page_finds_sorts_and_keeps_its_filters_in_the_url(browser, make_person, three):
    officer = browser(make_person(Role.OFFICER, "BE"))
    page = officer.get("/shipments/", query_string={"q": "straat"}).text
    assert f'/shipments/{three["rough"]}"' in page and f'/shipments/{three["other"]}"' in page
    assert f'/shipments/{three["stones"]}"' not in page
    assert 'name="q" type="search" value="straat"' in page
    # each column header sorts, keeping the search; the order shows
    assert "sort=carats&amp;q=straat" in page or "q=straat&amp;sort=carats" in page
    by_number = officer.get("/shipments/", query_string={"q": "straat", "sort": "certificate"})
    text = by_number.text
    assert text.index("CA7710042") < text.index("CA9930017")
    assert 'aria-sort="ascending"' in text
    backwards = officer.get("/shipments/", query_string={"q": "straat", "sort": "-certificate"})
    assert backwards.text.index("CA9930017") < backwards.text.index("CA7710042")
    # the navigation's box searches too, from any page
    assert 'id="nav-q" name="q"' in officer.get("/work").text
    short = officer.get("/shipments/", query_string={"q": "ab"})
    assert short.status_code == 200 and "at least 3 characters" in short.text


def test_the_sort_pages_by_keyset(client, auth, three):
    # one a page, by certificate number: each page continues after the last
    seen, cursor = [], None
    while True:
        query = {"sort": "-certificate", "limit": 1, **({"cursor": cursor} if cursor else {})}
        answer = client.get("/api/v1/shipments", query_string=query, headers=auth).json
        seen += [item["certificate"]["number"] for item in answer["items"]]
        cursor = answer["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) >= 3


def test_the_list_as_csv_keeps_the_filters_and_disarms_formulas(
    browser, make_person, client, auth, three
):
    formula = present(
        client,
        auth,
        **{"certificate.number": "CA4440001", "certificate.importer.name": "=HYPERLINK(1) straat"},
    )
    officer = browser(make_person(Role.OFFICER, "BE"))
    answer = officer.get("/shipments/shipments.csv", query_string={"q": "straat", "sort": "id"})
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.is_streamed
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [int(r["id"]) for r in rows] == sorted([three["rough"], three["other"], formula])
    by_id = {int(r["id"]): r for r in rows}
    assert by_id[three["rough"]]["importer"] == "Hoveniersstraat Trading BV"
    assert by_id[three["rough"]]["certificate"] == "CA7710042"
    assert by_id[three["rough"]]["carats"] == "123.45"
    assert by_id[formula]["importer"] == "'=HYPERLINK(1) straat"  # read as text, never run
    page = officer.get("/shipments/", query_string={"q": "straat"}).text
    assert 'href="/shipments/shipments.csv?q=straat"' in page


def test_a_fragment_with_the_characters_sql_treats_specially_is_taken_as_typed(client, auth):
    slashed = present(client, auth, **{"certificate.number": "CA/2026/0042"})
    quoted = present(client, auth, **{"certificate.importer.name": "O'Brien & 100% Gems_Co"})
    assert found(client, auth, "a/2026/00") == [slashed]
    assert found(client, auth, "o'brien") == [quoted]
    assert found(client, auth, "100% gems_") == [quoted]
    assert found(client, auth, "0% g") == [quoted]
    assert found(client, auth, "00%") == [quoted]
    assert found(client, auth, "s_c") == [quoted]
    assert found(client, auth, '"x"') == []
