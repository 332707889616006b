"""A remedy under the Kimberley Process does not lift a sanction (issue 22, points 1, 8).

Reg. (EC) 2368/2002 Art. 5(2) lets an authority release a detained consignment once
remedial action fulfils the conditions of its Art. 3; it cannot release what Reg. (EU)
833/2014 Art. 3p forbids. And a KP-compliant parcel stopped under the sanctions alone is
no non-compliance with the KP Regulation: no notice under its Art. 5(3).
"""

from __future__ import annotations

from sqlalchemy import select

from caratflow.models import Deadline, Event, OutboxMessage, Role, Shipment
from caratflow.testing.api import act
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.people import post_form

REMEDY = {
    "ground": "caused_by_another_authority",
    "remedy": "the exporting authority re-issued the certificate",
    "remedy_evidence": "its letter ref. 2026/117",
}


def russian_rough(**changes):
    return shipment_payload(**{"certificate.origin": ["RU"], **changes})


def held_over_http(client, auth, payload) -> str:
    created = client.post("/api/v1/shipments", json=payload, headers=auth)
    assert created.status_code == 201, created.json
    base = f"/api/v1/shipments/{created.json['id']}"
    held = act(client, f"{base}/actions/hold", json={"reason": "Russian origin"}, headers=auth)
    assert held.status_code == 200, held.json
    return base


def test_art_5_2_remedy_cannot_release_goods_refused_under_art_3p_of_833_2014(
    client, auth, session
):
    base = held_over_http(client, auth, russian_rough())
    before = session.scalars(select(Event.id)).all()
    answer = act(
        client,
        f"{base}/actions/remediate",
        json={"reason": "the importer acted in good faith", "inputs": REMEDY},
        headers=auth,
    )
    assert answer.status_code == 409, answer.json
    cited = {(f["rule"], f["outcome"]) for f in answer.json["findings"]}
    assert ("g7.rough.non_russian", "refuse") in cited
    assert any("833/2014" in f["basis"] for f in answer.json["findings"])
    assert session.scalars(select(Event.id)).all() == before  # nothing written
    assert client.get(base, headers=auth).json["state"] == "held"


def test_art_5_3_a_kp_compliant_parcel_held_under_art_3p_is_no_kp_non_compliance(
    client, auth, session
):
    base = held_over_http(client, auth, russian_rough())
    shipment = session.get(Shipment, int(base.rsplit("/", 1)[1]))
    rules = session.scalars(select(Deadline.rule).where(Deadline.shipment_id == shipment.id))
    assert "eu.notify.1_month" not in list(rules)
    subjects = session.scalars(
        select(OutboxMessage.subject).where(OutboxMessage.shipment_id == shipment.id)
    ).all()
    assert not [s for s in subjects if "Art. 5(3)" in s]
    [hold] = [e for e in shipment.events if e.action == "hold"]
    notice = {f.rule: f for f in hold.findings}["eu.notify.1_month"]
    assert "another law" in notice.message


def test_art_5_3_a_parcel_failing_the_kp_and_the_sanctions_is_notified(client, auth, session):
    base = held_over_http(client, auth, russian_rough(**{"containers.0.seals_intact": False}))
    shipment_id = int(base.rsplit("/", 1)[1])
    rules = session.scalars(select(Deadline.rule).where(Deadline.shipment_id == shipment_id))
    assert "eu.notify.1_month" in list(rules)


def test_art_5_2_the_officers_page_refuses_the_remedial_release_naming_art_3p(
    client, auth, browser, make_person
):
    base = held_over_http(client, auth, russian_rough())
    shipment_id = base.rsplit("/", 1)[1]
    officer = browser(make_person(Role.OFFICER, "BE", name="anna"))
    answer = post_form(
        officer,
        f"/shipments/{shipment_id}/actions/remediate",
        version="2",
        reason="the importer acted in good faith",
        particulars="\n".join(f"{k} = {v}" for k, v in REMEDY.items()),
    )
    assert answer.status_code == 409
    assert 'data-rule="g7.rough.non_russian"' in answer.text
    assert 'data-state="held"' in officer.get(f"/shipments/{shipment_id}").text
