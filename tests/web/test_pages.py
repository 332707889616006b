"""What an officer does through the pages: present, check, decide, confirm, register.

Real forms, real CSRF tokens, the same service underneath as the API.
"""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from caratflow.case import foureyes
from caratflow.models import Event, PendingDecision, Role, Shipment
from caratflow.testing.api import act
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.people import form_token, post_form

COUNTER_FORM = {
    "authority": "BE",
    "direction": "import",
    "goods": "rough",
    "presented_at": "2026-11-20T10:15",
    "entry_point": "BRU",
    "certificate_number": "ca 123456",
    "certificate_issuing_country": "ca",
    "certificate_issuing_authority": "Natural Resources Canada",
    "certificate_issued_on": "2026-11-10",
    "certificate_expires_on": "2027-01-10",
    "certificate_exporter_name": "Arctic Rough Ltd",
    "certificate_exporter_address": "400 Burrard St, Vancouver",
    "certificate_importer_name": "Schupstraat Diamonds NV",
    "certificate_importer_address": "Schupstraat 9, Antwerpen",
    "certificate_parcels": "2",
    "certificate_carats": "123,45",
    "certificate_value_usd": "456789.00",
    "certificate_hs_codes": "7102.10",
    "certificate_origin": "CA",
    "certificate_provenance": "CA",
    "containers-0-label": "C1",
    "containers-0-seals": "S-991, S-992",
    "containers-0-seals_intact": "y",
}


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def present_through_api(client, auth, **changes) -> dict:
    response = client.post("/api/v1/shipments", json=shipment_payload(**changes), headers=auth)
    assert response.status_code == 201, response.json
    return response.json


def test_an_officer_presents_at_the_counter_and_lands_on_the_shipment(
    browser, make_person, session
):
    officer = browser(make_person(Role.OFFICER, "BE"))
    response = post_form(officer, "/shipments/new", present="1", **COUNTER_FORM)
    assert response.status_code == 303, response.text
    shipment = session.scalar(select(Shipment))
    assert response.headers["Location"] == f"/shipments/{shipment.id}"
    # typed as at a Belgian desk: a decimal comma, lower case, spaces; stored exactly
    assert str(shipment.certificate.carats) == "123.45"
    assert shipment.certificate.number == "CA123456"
    assert shipment.presented_at.isoformat() == "2026-11-20T09:15:00+00:00"  # Brussels time
    assert [(c.label, c.seals, c.seals_intact) for c in shipment.containers] == [
        ("C1", ["S-991", "S-992"], True)
    ]
    page = officer.get(response.headers["Location"]).text
    assert "eu.import.certificate" in page and "Reg. (EC) 2368/2002 Art. 3(a)" in page
    assert "Shipment presented." in page


def test_the_check_button_shows_the_findings_and_records_nothing(browser, make_person, session):
    officer = browser(make_person(Role.OFFICER, "BE"))
    form = COUNTER_FORM | {"containers-0-seals_intact": ""}  # unticked: a broken seal
    response = post_form(officer, "/shipments/new", check="1", **form)
    assert response.status_code == 200
    assert "A presentation would be held or refused as it stands." in response.text
    assert 'data-rule="eu.import.container" data-outcome="hold"' in response.text
    assert count(session, Shipment) == 0


def test_bad_fields_are_shown_beside_the_field_and_nothing_is_written(
    browser, make_person, session
):
    officer = browser(make_person(Role.OFFICER, "BE"))
    form = COUNTER_FORM | {"certificate_carats": "1.234,5", "certificate_issuing_country": "XX"}
    response = post_form(officer, "/shipments/new", present="1", **form)
    assert response.status_code == 422
    assert "without thousands separators" in response.text
    assert "is not an ISO 3166-1 alpha-2 country code" in response.text
    assert count(session, Shipment) == 0


def test_an_auditor_may_check_but_not_present(browser, make_person, session):
    auditor = browser(make_person(Role.AUDITOR, "BE"))
    assert post_form(auditor, "/shipments/new", check="1", **COUNTER_FORM).status_code == 200
    assert post_form(auditor, "/shipments/new", present="1", **COUNTER_FORM).status_code == 403
    assert count(session, Shipment) == 0


def test_the_broker_pre_check_reads_the_api_file_and_names_every_bad_field(
    browser, make_person, session
):
    broker = browser(make_person(Role.OFFICER, "BE"))
    incomplete = shipment_payload(**{"certificate.carats": "-1", "certificate.origin": ["RU"]})
    bad = post_form(broker, "/shipments/check", document=json.dumps(incomplete))
    assert bad.status_code == 422
    assert "certificate.carats" in bad.text
    russian = shipment_payload(**{"certificate.origin": ["RU"]})
    found = post_form(broker, "/shipments/check", document=json.dumps(russian))
    assert 'data-rule="g7.rough.non_russian" data-outcome="refuse"' in found.text
    assert count(session, Shipment) == 0


def test_hold_needs_a_reason_then_remedial_release_shows_in_the_timeline(
    browser, make_person, client, auth, session
):
    shipment = present_through_api(client, auth)
    officer = browser(make_person(Role.OFFICER, "BE", name="anna"))
    url = f"/shipments/{shipment['id']}/actions/hold"
    no_reason = post_form(officer, url, version="1", reason="  ")
    assert no_reason.status_code == 422
    assert "needs a written reason" in no_reason.text
    held = post_form(officer, url, version="1", reason="seal number differs from the certificate")
    assert held.status_code == 303
    released = post_form(
        officer,
        f"/shipments/{shipment['id']}/actions/remediate",
        version="2",
        reason="the issuing authority corrected its seal record",
        particulars="ground = caused_by_another_authority",
    )
    assert released.status_code == 303
    page = officer.get(f"/shipments/{shipment['id']}").text
    assert 'data-state="released"' in page
    assert page.index('data-action="remediate"') < page.index('data-action="hold"')  # newest first
    assert "the issuing authority corrected its seal record" in page
    actors = session.scalars(select(Event.actor).order_by(Event.id)).all()
    assert actors[1:] == ["anna", "anna"]


def test_a_stale_form_is_a_409_that_shows_the_shipment_as_it_is_now(
    browser, make_person, client, auth
):
    shipment = present_through_api(client, auth)
    officer = browser(make_person(Role.OFFICER, "BE"))
    page = officer.get(f"/shipments/{shipment['id']}/actions/hold")
    act(client, f"/api/v1/shipments/{shipment['id']}/actions/verify", headers=auth)
    stale = officer.post(
        f"/shipments/{shipment['id']}/actions/hold",
        data={"csrf_token": form_token(page.text), "version": "1", "reason": "too late"},
    )
    assert stale.status_code == 409
    assert "reload it and decide again" in stale.text
    assert 'name="version" type="hidden" value="2"' in stale.text


def test_the_law_forbidding_a_decision_shows_the_findings_with_their_articles(
    browser, make_person, client, auth
):
    shipment = present_through_api(client, auth, **{"containers.0.seals_intact": False})
    officer = browser(make_person(Role.OFFICER, "BE"))
    detail = officer.get(f"/shipments/{shipment['id']}")
    refused = officer.post(
        f"/shipments/{shipment['id']}/actions/verify",
        data={"csrf_token": form_token(detail.text), "version": "1"},
    )
    assert refused.status_code == 422
    assert "The law forbids it" in refused.text
    assert "Reg. (EC) 2368/2002 Art. 3(b)" in refused.text


def test_four_eyes_a_remedial_release_waits_for_a_second_officer(
    browser, make_person, client, auth, session
):
    foureyes.set_four_eyes(session, "BE", ["remediate"], by="test")
    session.commit()
    shipment = present_through_api(client, auth)
    base = f"/shipments/{shipment['id']}"
    first = browser(make_person(Role.OFFICER, "BE", name="first"))
    post_form(first, f"{base}/actions/hold", version="1", reason="seal differs")
    asked = post_form(
        first,
        f"{base}/actions/remediate",
        version="2",
        reason="corrected",
        particulars="ground: caused_by_another_authority",
    )
    assert asked.status_code == 303
    assert "A second officer must confirm" in first.get(base).text
    request = session.scalar(select(PendingDecision))
    confirm_url = f"{base}/requests/{request.id}/confirm"
    own = post_form(first, base, url=confirm_url)
    assert own.status_code == 303
    assert session.get(Shipment, shipment["id"]).state == "held"  # not by the same officer
    second = browser(make_person(Role.OFFICER, "BE", name="second"))
    assert "Confirm as second officer" in second.get(base).text
    post_form(second, base, url=confirm_url)
    session.expire_all()
    assert session.get(Shipment, shipment["id"]).state == "released"
    last = session.scalars(select(Event).order_by(Event.id.desc())).first()
    assert (last.actor, last.reason) == ("second", "corrected")
    assert last.data["four_eyes"]["requested_by"] == "first"


def test_parties_are_registered_per_authority(browser, make_person, session):
    officer = browser(make_person(Role.OFFICER, "BE"))
    response = post_form(
        officer,
        "/parties",
        authority="BE",
        name="Hoveniersstraat Trading BV",
        address="Hoveniersstraat 30, 2018 Antwerpen",
        phone="+32 3 555 12 12",
        roles="importer",
    )
    assert response.status_code == 303, response.text
    assert "Hoveniersstraat Trading BV" in officer.get("/parties").text
    norwegian = browser(make_person(Role.OFFICER, "NO"))
    assert "Hoveniersstraat Trading BV" not in norwegian.get("/parties").text


def test_the_list_searches_by_certificate_number_and_pages_by_cursor(
    browser, make_person, client, auth
):
    ids = [
        present_through_api(client, auth, **{"certificate.number": f"CA10000{n}"})["id"]
        for n in range(3)
    ]
    officer = browser(make_person(Role.OFFICER, "BE"))
    found = officer.get("/shipments/?certificate=ca 100001").text
    assert re.findall(r'href="/shipments/(\d+)"', found)[0] == str(ids[1])
    assert "CA100000" not in found and "CA100002" not in found
    from caratflow.web import shipments

    original = shipments.PAGE_SIZE
    shipments.PAGE_SIZE = 2
    try:
        first = officer.get("/shipments/").text
        older = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
        second = officer.get(older).text
    finally:
        shipments.PAGE_SIZE = original
    assert "CA100002" in first and "CA100001" in first and "CA100000" not in first
    assert "CA100000" in second and "CA100002" not in second


def test_the_list_reads_rows_not_an_orm_object_per_shipment(browser, make_person, client, auth):
    """Issue 28: a page of the list reads what it shows as rows, no Shipment with its
    Certificate object per line (6.3 KiB each loaded against 2.3 as a row). (The "my
    work" count in the header still loads the shipments awaiting the user: not listed.)"""
    from sqlalchemy import event

    from caratflow.models import Certificate

    for n in range(3):
        present_through_api(client, auth, **{"certificate.number": f"CA20000{n}"})
    officer = browser(make_person(Role.OFFICER, "BE"))
    loaded: list[object] = []

    def count(target: object, context: object) -> None:
        loaded.append(target)

    for model in (Shipment, Certificate):
        event.listen(model, "load", count)
    try:
        page = officer.get("/shipments/")
    finally:
        for model in (Shipment, Certificate):
            event.remove(model, "load", count)
    assert page.status_code == 200
    assert all(f"CA20000{n}" in page.text for n in range(3))
    assert "123.45" in page.text
    assert [o for o in loaded if isinstance(o, Certificate)] == []


@pytest.mark.parametrize("locale", ["nb", "de"])
def test_the_language_choice_is_remembered_for_the_user(browser, make_person, locale):
    person = make_person(Role.OFFICER, "BE")
    officer = browser(person)
    post_form(officer, "/", url="/locale", locale=locale, next="/shipments/")
    again = browser(person)  # another browser, signed in afresh
    assert f'<html lang="{locale}">' in again.get("/").text


def test_the_workflow_page_draws_each_plugin_set(browser, make_person):
    admin = browser(make_person(Role.SUPERVISOR, "BE", "NO"))
    page = admin.get("/workflow").text
    assert page.count("<svg") == 2
    assert 'data-state="origin_evidence_requested"' in page  # belgium_g7's own state
    assert 'data-state="bonded"' in page  # Norway's bonded warehouse


def test_an_administrator_sets_four_eyes_and_closes_the_office_for_a_day(
    browser, make_person, session
):
    from caratflow.deadlines.keeping import closure_days

    admin = browser(make_person(Role.ADMIN, "BE"))
    saved = post_form(
        admin, "/admin/", url="/admin/authorities/BE/four-eyes", **{"BE-four_eyes": "export"}
    )
    assert saved.status_code == 303
    assert foureyes.four_eyes_actions(session, "BE") == {"export"}
    closed = post_form(
        admin,
        "/admin/",
        url="/admin/authorities/BE/closure-days",
        day="2026-12-24",
        reason="office closed for Christmas Eve",
    )
    assert closed.status_code == 303
    assert [c.day.isoformat() for c in closure_days(session, "BE")] == ["2026-12-24"]
    page = admin.get("/admin/").text
    assert "office closed for Christmas Eve" in page
    norwegian = browser(make_person(Role.ADMIN, "NO"))
    refused = post_form(
        norwegian,
        "/admin/",
        url="/admin/authorities/BE/closure-days",
        day="2026-12-27",
        reason="not theirs",
    )
    assert refused.status_code == 403


def test_each_officer_sees_only_their_bodys_buttons(browser, make_person, client, auth):
    # At the Antwerp Diamond Office (belgium_g7's duties): FPS Economy verifies, customs
    # handles transit and release.
    shipment = present_through_api(client, auth)
    customs = browser(make_person(Role.OFFICER, "BE", duties=["customs"]))
    fps = browser(make_person(Role.OFFICER, "BE", duties=["fps_economy"]))
    page = f"/shipments/{shipment['id']}"
    assert "/actions/verify" not in customs.get(page).text
    assert f"/shipments/{shipment['id']}/actions/verify" in fps.get(page).text
    assert "/actions/place_under_transit" in customs.get(page).text


def test_the_workflow_page_names_the_body_each_decision_belongs_to(browser, make_person):
    page = browser(make_person(Role.SUPERVISOR, "BE")).get("/workflow").text
    assert 'data-duty="customs"' in page and 'data-duty="fps_economy"' in page


def test_an_administrator_gives_and_changes_a_users_duties(browser, make_person, session):
    from caratflow.models import User

    admin = browser(make_person(Role.ADMIN, "BE"))
    form = admin.get("/admin/").text
    assert 'value="customs"' in form and 'value="fps_economy"' in form
    added = post_form(
        admin,
        "/admin/",
        url="/admin/users",
        name="douane.jan",
        role="officer",
        authorities="BE",
        duties="customs",
        password="a long enough password",
    )
    assert added.status_code == 303
    jan = session.scalar(select(User).where(User.name == "douane.jan"))
    assert jan.duties == ["customs"]
    changed = post_form(
        admin,
        f"/admin/users/{jan.id}",
        role="officer",
        authorities="BE",
        duties=["customs", "fps_economy"],
        active="y",
    )
    assert changed.status_code == 303
    session.refresh(jan)
    assert jan.duties == ["customs", "fps_economy"]
    assert "customs, fps_economy" in admin.get("/admin/").text
