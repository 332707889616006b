"""The pages' forms generated from the plugins' declared fields (issue 23): date and time
pickers in the authority's zone, selects for choices and countries, and "add a record" on
the shipment page; posted through real forms with their CSRF tokens."""

from __future__ import annotations

import re

from sqlalchemy import select

from caratflow.models import Event, Role, Shipment
from caratflow.testing.api import act
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.people import post_form

from .test_pages import COUNTER_FORM

OSLO_FORM = {
    **COUNTER_FORM,
    "authority": "NO",
    "entry_point": "OSL",
    "presented_at": "2026-11-17T08:30",
    "certificate_importer_name": "Thune Gullsmed AS",
}


def inputs(html: str) -> dict[str, str]:
    """Each declared input on the page, by name, with its tag or type."""
    found = {}
    for tag, attributes in re.findall(r"<(input|select)\b([^>]*)>", html):
        name = re.search(r'name="(f\.[^"]+)"', attributes)
        kind = re.search(r'type="([^"]+)"', attributes)
        if name:
            found[name.group(1)] = kind.group(1) if kind and tag == "input" else tag
    return found


def test_the_present_form_asks_for_the_advance_notice_in_oslo_time(browser, make_person, session):
    officer = browser(make_person(Role.OFFICER, "NO"))
    page = officer.get("/shipments/new").text
    shown = inputs(page)
    assert shown["f.advance_notice.received_at"] == "datetime-local"
    assert shown["f.advance_notice.dispatch_on"] == "date"
    assert shown["f.advance_notice.carats"] == "text"
    notice = {
        "f.advance_notice.received_at": "2026-11-13T14:05",
        "f.advance_notice.dispatch_on": "2026-11-16",
    }
    answer = post_form(officer, "/shipments/new", present="1", **OSLO_FORM, **notice)
    assert answer.status_code == 303, answer.text
    shipment = session.scalars(select(Shipment).order_by(Shipment.id.desc())).first()
    assert shipment.details["advance_notice"] == {
        "received_at": "2026-11-13T14:05:00+01:00",  # Oslo's winter time, as typed there
        "dispatch_on": "2026-11-16",
    }


def test_a_bad_date_on_the_present_form_is_a_422_naming_the_field(browser, make_person, session):
    officer = browser(make_person(Role.OFFICER, "NO"))
    before = len(session.scalars(select(Shipment)).all())
    answer = post_form(
        officer,
        "/shipments/new",
        present="1",
        **OSLO_FORM,
        **{"f.advance_notice.received_at": "2026-11-13T14:05", "f.advance_notice.dispatch_on": "x"},
    )
    assert answer.status_code == 422
    assert "advance_notice.dispatch_on" in answer.text
    assert len(session.scalars(select(Shipment)).all()) == before


def test_a_control_is_decided_with_its_outcome_from_a_list(
    browser, make_person, client, make_token, session
):
    auth = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'NO')}"}
    payload = shipment_payload(authority="NO", entry_point="OSL")
    shipment = client.post("/api/v1/shipments", json=payload, headers=auth).json["id"]
    officer = browser(make_person(Role.OFFICER, "NO"))
    page = f"/shipments/{shipment}/actions/control_identity"
    html = officer.get(page).text
    assert inputs(html)["f.outcome"] == "select"
    assert re.search(r'<option value="pass"', html) and re.search(r'<option value="fail"', html)
    detail = officer.get(f"/shipments/{shipment}").text
    assert f'href="/shipments/{shipment}/actions/control_identity"' in detail  # a form, not a click
    answer = post_form(officer, page, version="1", **{"f.outcome": "pass"})
    assert answer.status_code == 303, answer.text
    [event] = session.scalars(
        select(Event).where(Event.shipment_id == shipment, Event.action == "control_identity")
    )
    assert event.data["outcome"] == "pass"


def test_the_shipment_page_adds_an_advance_notice_that_arrived_later(
    browser, make_person, client, make_token, session
):
    auth = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'NO')}"}
    payload = shipment_payload(authority="NO", entry_point="OSL")
    shipment = client.post("/api/v1/shipments", json=payload, headers=auth).json["id"]
    officer = browser(make_person(Role.OFFICER, "NO"))
    detail = f"/shipments/{shipment}"
    html = officer.get(detail).text
    assert 'id="record-record_advance_notice"' in html
    assert inputs(html)["f.advance_notice.received_at"] == "datetime-local"
    answer = post_form(
        officer,
        detail,
        f"{detail}/actions/record_advance_notice",
        version="1",
        **{
            "f.advance_notice.received_at": "2026-11-19T09:00",
            "f.advance_notice.dispatch_on": "2026-11-20",
        },
    )
    assert answer.status_code == 303, answer.text
    session.expire_all()
    assert session.get(Shipment, shipment).details["advance_notice"] == {
        "received_at": "2026-11-19T09:00:00+01:00",
        "dispatch_on": "2026-11-20",
    }


def test_a_remedial_release_takes_its_ground_from_the_list_of_article_5_2(
    browser, make_person, client, auth, session
):
    payload = shipment_payload(**{"containers.0.seals_intact": False})
    shipment = client.post("/api/v1/shipments", json=payload, headers=auth).json["id"]
    act(client, f"/api/v1/shipments/{shipment}/actions/hold", auth, json={"reason": "seal"})
    officer = browser(make_person(Role.OFFICER, "BE"))
    page = f"/shipments/{shipment}/actions/remediate"
    html = officer.get(page).text
    assert inputs(html)["f.ground"] == "select"
    assert '<option value="caused_by_another_authority"' in html
    answer = post_form(
        officer,
        page,
        version="2",
        reason="the exporting authority resealed it",
        **{"f.ground": "caused_by_another_authority", "f.remedy": "resealed"},
        **{"f.remedy_evidence": "letter 114"},
    )
    assert answer.status_code == 303, answer.text
    session.expire_all()
    assert session.get(Shipment, shipment).state == "released"


def test_the_shipment_page_greys_what_the_duties_or_the_findings_block_and_says_why(
    browser, make_person, client, auth
):
    clean = client.post("/api/v1/shipments", json=shipment_payload(), headers=auth).json["id"]
    broken = shipment_payload(**{"containers.0.seals_intact": False})
    held = client.post("/api/v1/shipments", json=broken, headers=auth).json["id"]
    customs = browser(make_person(Role.OFFICER, "BE", duties=["customs"]))
    page = customs.get(f"/shipments/{clean}").text
    assert re.search(r'<button type="button" class="blocked" disabled data-blocked="verify"', page)
    why = re.search(r'data-blocked-why="verify">(.*?)</p>', page, re.S).group(1)
    assert "fps_economy" in why
    officer = browser(make_person(Role.OFFICER, "BE"))
    page = officer.get(f"/shipments/{held}").text
    assert re.search(r'class="button blocked" aria-disabled="true" data-blocked="verify"', page)
    why = re.search(r'data-blocked-why="verify">(.*?)</p>', page, re.S).group(1)
    assert "eu.import.container" in why and "Art. 3(b)" in why


def test_a_decision_that_cannot_be_undone_asks_for_confirmation(browser, make_person, client, auth):
    clean = client.post("/api/v1/shipments", json=shipment_payload(), headers=auth).json["id"]
    officer = browser(make_person(Role.OFFICER, "BE"))
    verify = officer.get(f"/shipments/{clean}/actions/verify").text
    assert "data-confirm=" in verify
    assert inputs(verify)["f.method"] == "select"  # Art. 4(5), from its dated list
    refuse = officer.get(f"/shipments/{clean}/actions/refuse").text
    assert "data-confirm=" in refuse
    hold = officer.get(f"/shipments/{clean}/actions/hold").text
    assert "data-confirm=" not in hold


def test_a_blank_row_of_containers_opened_keeps_the_verify_form_sendable(
    browser, make_person, client, auth
):
    """A repeating group's blank rows are no rows: none of their inputs is ``required`` (the
    browser would refuse to send the form at all), each is labelled for screen readers, and
    the server names what a row lacks."""
    shipment = client.post("/api/v1/shipments", json=shipment_payload(), headers=auth).json["id"]
    officer = browser(make_person(Role.OFFICER, "BE"))
    html = officer.get(f"/shipments/{shipment}/actions/verify").text
    rows = re.findall(r'<input\b[^>]*name="f\.opened\.\d+\.container"[^>]*>', html)
    assert rows, "the form offers rows of containers opened"
    for row in rows:
        assert "required" not in row, row
        assert re.search(r'aria-label="Container \d+"', row), row
