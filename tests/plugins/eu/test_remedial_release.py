"""Reg. (EC) 2368/2002 Art. 5(2)-(3) and 14(3): what a remedy lifts, what it continues,
and when the Commission must be told (issue 22, points 1, 2 and 8)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from caratflow.case import foureyes
from caratflow.deadlines.keeping import deadline_of
from caratflow.errors import InvalidInput
from caratflow.law.rules import RecordForbids
from caratflow.models import Event, IssuedDocument, OutboxMessage, PendingDecision, Role, Shipment
from caratflow.testing.api import act as act_by_api
from caratflow.testing.payloads import export_payload, outcomes, shipment_payload

GROUND = {"ground": "caused_by_another_authority"}
REMEDY = {
    **GROUND,
    "remedy": "the Canadian authority inspected and resealed container C1",
    "remedy_evidence": "letter of Natural Resources Canada, ref. KP-2026-117",
}
BROKEN_SEAL = {"containers.0.seals_intact": False}
NON_PARTICIPANT = {"certificate.issuing_country": "LY", "certificate.number": "LY0001"}


def present(session, service, officer, payload: dict[str, Any]) -> Shipment:
    shipment = service.present(session, payload, officer).shipment
    session.flush()
    return shipment


def act(session, service, officer, shipment, action, **kw) -> Shipment:
    return service.act(session, shipment.id, action, officer, **kw)


def held(session, service, officer, **changes) -> Shipment:
    shipment = present(session, service, officer, shipment_payload(**changes))
    return act(session, service, officer, shipment, "hold", reason="does not meet Art. 3")


def audiences(session, shipment, rule: str) -> list[str]:
    query = select(OutboxMessage).where(
        OutboxMessage.shipment_id == shipment.id, OutboxMessage.kind == "notice"
    )
    return sorted(m.audience for m in session.scalars(query) if m.data.get("rule") == rule)


# -- point 1: a remedy lifts only what the law lets it lift ---------------------------------


def test_art_5_2_remedy_cannot_release_goods_under_a_non_participants_certificate(
    session, service, officer
):
    shipment = held(session, service, officer, **NON_PARTICIPANT)
    before = session.scalars(select(Event.id)).all()
    with pytest.raises(RecordForbids) as forbidden:
        act(session, service, officer, shipment, "remediate", reason="good faith", inputs=REMEDY)
    assert ("eu.import.certificate", "Reg. (EC) 2368/2002 Art. 3(a)") in {
        (f.rule, f.basis) for f in forbidden.value.findings
    }
    assert session.scalars(select(Event.id)).all() == before
    assert shipment.state == "held"


def test_art_5_2_a_remedy_of_the_seals_does_not_lift_a_non_participants_certificate(
    session, service, officer
):
    shipment = held(session, service, officer, **BROKEN_SEAL, **NON_PARTICIPANT)
    with pytest.raises(RecordForbids) as forbidden:
        act(session, service, officer, shipment, "remediate", reason="resealed", inputs=REMEDY)
    assert [f.rule for f in forbidden.value.findings] == ["eu.import.certificate"]


def test_art_5_2_remedial_release_records_the_remedy_and_its_evidence(session, service, officer):
    shipment = held(session, service, officer, **BROKEN_SEAL)
    with pytest.raises(InvalidInput) as missing:
        act(session, service, officer, shipment, "remediate", reason="resealed", inputs=GROUND)
    assert [e.field for e in missing.value.errors] == ["inputs.remedy", "inputs.remedy_evidence"]
    released = act(
        session, service, officer, shipment, "remediate", reason="resealed", inputs=REMEDY
    )
    [lifted] = released.events[-1].data["lifted"]
    assert lifted["rule"] == "eu.import.container"
    assert lifted["basis"] == "Reg. (EC) 2368/2002 Art. 5(2)"
    assert lifted["evidence"] == {k: REMEDY[k] for k in ("remedy", "remedy_evidence")}


# -- point 2: after the remedy, the procedure goes on as for a compliant import -------------


def test_art_5_2_remedial_release_issues_the_certified_copy_of_art_5_1_a(session, service, officer):
    shipment = held(session, service, officer, **BROKEN_SEAL)
    act(session, service, officer, shipment, "remediate", reason="resealed", inputs=REMEDY)
    [copy] = session.scalars(
        select(IssuedDocument).where(
            IssuedDocument.shipment_id == shipment.id, IssuedDocument.kind == "eu.certified_copy"
        )
    ).all()
    assert copy.status.value == "valid"


def test_art_5_2_remedial_release_sends_the_art_8_import_confirmation(session, service, officer):
    shipment = held(session, service, officer, **BROKEN_SEAL)
    released = act(
        session, service, officer, shipment, "remediate", reason="resealed", inputs=REMEDY
    )
    assert audiences(session, released, "eu.import_confirmation") == ["kp-authority:CA"]
    assert outcomes(released.events[-1].findings)["kp.import_confirmation.fields"] == "info"


def test_art_12_1_a_an_import_released_after_remedy_is_evidence_of_lawful_import(
    session, service, officer
):
    shipment = held(session, service, officer, **BROKEN_SEAL)
    act(session, service, officer, shipment, "remediate", reason="resealed", inputs=REMEDY)
    evidence = {"kind": "confirmed_import", "certificate": "CA123456"}
    found = service.check(session, export_payload(lawful_import=evidence), officer)
    [issue] = [f for f in found if f.rule == "eu.export.issue"]
    assert issue.outcome.value == "pass", issue.message


# -- point 8: the one-month notice opens on a non-compliance, detained or refused -----------


def test_art_5_3_an_import_refused_outright_is_notified_to_the_commission_and_the_issuer(
    session, service, officer
):
    shipment = present(session, service, officer, shipment_payload(**NON_PARTICIPANT))
    refused = act(session, service, officer, shipment, "refuse", reason="not a participant")
    assert deadline_of(refused, "eu.notify.1_month") is not None
    assert audiences(session, refused, "eu.notify.1_month") == ["commission", "kp-authority:LY"]
    [subject] = {
        m.subject
        for m in session.scalars(
            select(OutboxMessage).where(OutboxMessage.shipment_id == shipment.id)
        )
        if m.data.get("rule") == "eu.notify.1_month" and m.kind == "notice"
    }
    assert subject.startswith("Non-compliant consignment refused")


def test_art_5_3_a_refusal_after_a_detention_is_notified_once(session, service, officer):
    shipment = held(session, service, officer, **BROKEN_SEAL)
    refused = act(session, service, officer, shipment, "refuse", reason="seal not explained")
    assert audiences(session, refused, "eu.notify.1_month") == ["commission", "kp-authority:CA"]


def test_art_14_3_an_export_refused_outright_to_a_non_participant_is_notified(
    session, service, officer
):
    shipment = present(session, service, officer, export_payload(destination="LY"))
    refused = act(session, service, officer, shipment, "refuse", reason="no KP participant")
    assert audiences(session, refused, "eu.notify.1_month") == ["commission"]


def test_art_5_3_a_compliant_import_refused_for_no_kp_reason_but_the_officers_is_notified(
    session, service, officer
):
    """The officer's own ground (a count that differs, say) is a finding under Art. 5(1)(b)."""
    shipment = present(session, service, officer, shipment_payload())
    held_ = act(session, service, officer, shipment, "hold", reason="one parcel missing")
    assert deadline_of(held_, "eu.notify.1_month") is not None


# -- the same through four eyes, over HTTP --------------------------------------------------


def presented(client, headers, payload) -> str:
    created = client.post("/api/v1/shipments", json=payload, headers=headers)
    assert created.status_code == 201, created.json
    return f"/api/v1/shipments/{created.json['id']}"


def test_art_5_2_a_second_officers_confirmation_lifts_the_hold_as_the_first_asked(
    client, make_token, session
):
    foureyes.set_four_eyes(session, "BE", ["remediate"], by="admin")
    session.commit()
    first, second = (
        {"Authorization": f"Bearer {make_token(Role.OFFICER, 'BE', name=name)}"}
        for name in ("first", "second")
    )
    base = presented(client, first, shipment_payload(**BROKEN_SEAL))
    act_by_api(client, f"{base}/actions/hold", json={"reason": "seal broken"}, headers=first)
    body = {"reason": "resealed by the exporting authority", "inputs": REMEDY}
    assert (
        act_by_api(client, f"{base}/actions/remediate", json=body, headers=first).status_code == 202
    )
    confirmed = act_by_api(client, f"{base}/actions/remediate", headers=second)
    assert confirmed.status_code == 200, confirmed.json
    last = client.get(f"{base}/history", headers=second).json["events"][-1]
    assert [x["rule"] for x in last["inputs"]["lifted"]] == ["eu.import.container"]


def test_art_5_2_no_request_is_recorded_for_a_release_the_record_forbids(
    client, make_token, session
):
    foureyes.set_four_eyes(session, "BE", ["remediate"], by="admin")
    session.commit()
    first = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'BE', name='first')}"}
    base = presented(client, first, shipment_payload(**NON_PARTICIPANT))
    act_by_api(client, f"{base}/actions/hold", json={"reason": "not a participant"}, headers=first)
    body = {"reason": "good faith", "inputs": REMEDY}
    asked = act_by_api(client, f"{base}/actions/remediate", json=body, headers=first)
    assert asked.status_code == 409, asked.json
    assert session.scalars(select(PendingDecision)).all() == []
