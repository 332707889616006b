"""Issue 26, point 1: an officer's start page says what waits for them."""

from __future__ import annotations

import re
from datetime import time, timedelta

from sqlalchemy import select

from caratflow.accounts import digest
from caratflow.accounts.provisioning import create_token
from caratflow.case import foureyes
from caratflow.models import CaseClaim, Event, Role, utcnow
from caratflow.testing.api import act
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.people import post_form

REMEDY = {
    "reason": "seal record corrected by the issuing authority",
    "inputs": {"ground": "caused_by_another_authority"},
}


def present(client, auth, **changes) -> int:
    created = client.post("/api/v1/shipments", json=shipment_payload(**changes), headers=auth)
    assert created.status_code == 201, created.json
    return created.json["id"]


def listed(page: str, section: str) -> set[int]:
    """The shipment ids a section of the start page lists."""
    part = page.split(f'id="{section}"', 1)[1].split("</section>", 1)[0]
    return {int(n) for n in re.findall(r'/shipments/(\d+)"', part)}


def nav_count(page: str) -> int:
    return int(re.search(r'id="nav-work">[^<]*<span class="count" data-count="(\d+)"', page)[1])


def test_a_presentation_waits_for_the_body_whose_duty_decides_it(
    browser, make_person, client, auth
):
    presented, verified = (
        present(client, auth),
        present(client, auth, **{"certificate.number": "CA7"}),
    )
    act(client, f"/api/v1/shipments/{verified}/actions/verify", headers=auth)
    fps = browser(make_person(Role.OFFICER, "BE", duties=["fps_economy"]))
    customs = browser(make_person(Role.OFFICER, "BE", duties=["customs"]))
    assert presented in listed(fps.get("/work").text, "awaiting")  # FPS Economy verifies
    assert verified not in listed(fps.get("/work").text, "awaiting")  # the release is not its call
    assert verified in listed(customs.get("/work").text, "awaiting")  # customs releases


def test_a_four_eyes_request_waits_for_a_colleague_not_for_the_requester(
    browser, make_person, client, session
):
    foureyes.set_four_eyes(session, "BE", ["remediate"], by="test")
    session.commit()
    requester = browser(make_person(Role.OFFICER, "BE", name="first"))
    colleague = browser(make_person(Role.OFFICER, "BE", name="second"))
    first = {"Authorization": f"Bearer {create_token(session, 'first')}"}
    session.commit()
    shipment = present(client, first)
    base = f"/api/v1/shipments/{shipment}"
    act(client, f"{base}/actions/hold", json={"reason": "seal differs"}, headers=first)
    assert act(client, f"{base}/actions/remediate", json=REMEDY, headers=first).status_code == 202
    assert shipment not in listed(requester.get("/work").text, "requests")
    page = colleague.get("/work").text
    assert shipment in listed(page, "requests")
    assert nav_count(page) >= 1


def test_a_shipment_held_longer_than_its_authoritys_target_is_listed(
    browser, make_person, client, auth, session
):
    recent, old = present(client, auth), present(client, auth, **{"certificate.number": "CA7"})
    for shipment in (recent, old):
        url = f"/api/v1/shipments/{shipment}/actions/hold"
        act(client, url, json={"reason": "seal differs"}, headers=auth)
    held = session.scalar(select(Event).where(Event.shipment_id == old, Event.to_state == "held"))
    held.at = utcnow() - timedelta(days=30)  # past the eu plugin's 10 working days
    session.commit()
    page = browser(make_person(Role.OFFICER, "BE")).get("/work").text
    assert listed(page, "held") == {old}


def test_a_claim_is_shown_to_colleagues_and_released_by_anyone(
    browser, make_person, client, auth, session
):
    shipment = present(client, auth)
    anna = browser(make_person(Role.OFFICER, "BE", name="anna"))
    bert = browser(make_person(Role.OFFICER, "BE", name="bert"))
    detail = f"/shipments/{shipment}"
    assert post_form(anna, detail, url=f"{detail}/claim").status_code == 303
    assert session.get(CaseClaim, shipment).claimed_by == "anna"
    assert 'data-claimed-by="anna"' in bert.get(detail).text
    assert 'data-claimed-by="anna"' in bert.get("/work").text  # on the colleague's list too
    assert shipment in listed(anna.get("/work").text, "claimed")
    taken = post_form(bert, detail, url=f"{detail}/claim")  # openly, never a lock
    assert "took this case over from anna" in bert.get(taken.headers["Location"]).text
    assert session.get(CaseClaim, shipment).claimed_by == "bert"
    post_form(anna, detail, url=f"{detail}/release")
    session.expire_all()
    assert session.get(CaseClaim, shipment) is None


def test_a_claim_needs_no_one_else_to_stay_away(browser, make_person, client, auth, session):
    """A claim is never a lock on the law: a colleague still decides."""
    shipment = present(client, auth)
    anna = browser(make_person(Role.OFFICER, "BE", name="anna"))
    post_form(anna, f"/shipments/{shipment}", url=f"/shipments/{shipment}/claim")
    verified = act(client, f"/api/v1/shipments/{shipment}/actions/verify", headers=auth)
    assert verified.status_code == 200


def test_an_auditor_may_not_claim_a_case(browser, make_person, client, auth):
    shipment = present(client, auth)
    auditor = browser(make_person(Role.AUDITOR, "BE"))
    refused = post_form(auditor, f"/shipments/{shipment}", url=f"/shipments/{shipment}/claim")
    assert refused.status_code == 403


def test_an_officer_opts_in_to_the_digest_on_the_start_page_and_out_again(
    browser, make_person, session
):
    person = make_person(Role.OFFICER, "BE", name="digested")
    officer = browser(person)
    page = officer.get("/work").text
    assert 'id="digest"' in page and 'value="07:30"' in page  # the deployment's time
    wrong = post_form(officer, "/work", url="/work/digest", address="nobody", send_at="07:30")
    assert wrong.status_code == 422 and "an e-mail address" in wrong.text
    chosen = post_form(
        officer, "/work", url="/work/digest", address="d@diamonds.example.be", send_at="06:45"
    )
    assert chosen.status_code == 303
    session.expire_all()
    stored = digest.digest_of(session, person.user)
    assert (stored.address, stored.send_at) == ("d@diamonds.example.be", time(6, 45))
    page = officer.get("/work").text
    assert "Every day at 06:45 (Europe/Brussels) to d@diamonds.example.be" in page
    assert post_form(officer, "/work", url="/work/digest", stop="1").status_code == 303
    session.expire_all()
    assert digest.digest_of(session, person.user) is None
