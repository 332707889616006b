"""Issue 24: a legal notice nobody can be reached for is red on the dashboard and the
board; an administrator reaches its addressee from the directory page, and it goes."""

from __future__ import annotations

from caratflow.deadlines.outbox import undeliverable
from caratflow.models import OutboxStatus, Role
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.people import form_token

NON_PARTICIPANT = {"certificate.issuing_country": "LY", "certificate.number": "LY0001"}


def refused_non_participant(session, service, officer):
    shipment = service.present(session, shipment_payload(**NON_PARTICIPANT), officer).shipment
    service.act(session, shipment.id, "refuse", officer, reason="not a participant")
    session.flush()
    return shipment


def test_an_undeliverable_notice_is_red_on_the_dashboard_and_the_board(
    session, service, officer, browser, make_person
):
    refused_non_participant(session, service, officer)
    person = browser(make_person(Role.OFFICER, "BE"))
    for page in ("/", "/deadlines"):
        html = person.get(page).text
        assert 'class="card undeliverable"' in html, page
        assert 'data-audience="commission"' in html and "Non-compliant consignment" in html
    norwegian = browser(make_person(Role.OFFICER, "NO"))
    assert "card undeliverable" not in norwegian.get("/").text  # not theirs to see


def test_an_administrator_adds_the_addressee_on_the_directory_page_and_the_notice_goes(
    session, service, officer, browser, make_person
):
    refused_non_participant(session, service, officer)
    admin = browser(make_person(Role.ADMIN, "BE"))
    page = admin.get("/admin/").text
    assert 'id="directory"' in page and 'class="reach-missing" data-audience="commission"' in page
    token = form_token(page)
    added = admin.post(
        "/admin/authorities/BE/directory",
        data={
            "csrf_token": token,
            "dir-BE-csrf_token": token,
            "dir-BE-audience": "commission",
            "dir-BE-address": "mailto:kp-notices@commission.example.eu",
            "dir-BE-name": "European Commission, DG TRADE",
        },
    )
    assert added.status_code == 303
    session.expire_all()
    assert [m.audience for m in undeliverable(session, ["BE"])] == ["kp-authority:LY"]
    page = admin.get("/admin/").text
    assert 'class="reach-reachable" data-audience="commission"' in page
    assert "European Commission, DG TRADE" in page


def test_a_bad_address_on_the_directory_page_is_refused_and_nothing_changes(
    session, service, officer, browser, make_person
):
    refused_non_participant(session, service, officer)
    admin = browser(make_person(Role.ADMIN, "BE"))
    token = form_token(admin.get("/admin/").text)
    refused = admin.post(
        "/admin/authorities/BE/directory",
        data={
            "csrf_token": token,
            "dir-BE-csrf_token": token,
            "dir-BE-audience": "commission",
            "dir-BE-address": "ftp://nowhere",
        },
        follow_redirects=True,
    )
    assert "address" in refused.text
    session.expire_all()
    statuses = {m.status for m in undeliverable(session, ["BE"])}
    assert statuses == {OutboxStatus.UNDELIVERABLE}
    assert len(undeliverable(session, ["BE"])) == 2
