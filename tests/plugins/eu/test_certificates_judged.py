"""A KP certificate judged as the scheme judges it (issue 22, points 3 and 4): on the legal
date of presentation, its provenance a participant that day, its Annex I content checked on
a recorded presentation (not turned away as invalid input), and used for one consignment."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from caratflow.case.access import Actor
from caratflow.law.rules import LawForbids
from caratflow.models import Role, Shipment
from caratflow.testing.api import act
from caratflow.testing.payloads import shipment_payload

DETAINED = "to be detained (Art. 5(1)(b))"


def findings_of(session, service, officer, **changes: Any) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for f in service.check(session, shipment_payload(**changes), officer):
        found.setdefault(f.rule, []).append(f)
    return found


def held_by(session, service, officer, rule: str, **changes: Any) -> list[str]:
    """The messages of ``rule``'s holds on a presentation with ``changes``."""
    found = findings_of(session, service, officer, **changes).get(rule, [])
    return [f.message for f in found if f.outcome.value == "hold"]


# -- point 3: the dates, on the legal date of presentation ----------------------------------


def test_annex_i_a_certificate_expired_on_the_day_of_presentation_detains_the_consignment(
    session, service, officer
):
    [message] = held_by(
        session,
        service,
        officer,
        "kp.certificate.fields",
        **{"certificate.expires_on": "2026-11-19"},
    )
    assert "expired on 2026-11-19" in message and DETAINED in message


def test_annex_i_a_certificate_is_valid_on_its_date_of_expiry(session, service, officer):
    changes = {"certificate.expires_on": "2026-11-20"}
    assert held_by(session, service, officer, "kp.certificate.fields", **changes) == []


def test_annex_i_the_day_of_presentation_is_the_authoritys_own_day(session, service, officer):
    """23:30 UTC on 20 November is already 21 November in Brussels: a certificate expiring
    on the 20th has expired when presented then."""
    late = {"presented_at": "2026-11-20T23:30:00+00:00", "certificate.expires_on": "2026-11-20"}
    [message] = held_by(session, service, officer, "kp.certificate.fields", **late)
    assert "before its presentation on 2026-11-21" in message


def test_annex_i_a_certificate_issued_after_its_presentation_detains_the_consignment(
    session, service, officer
):
    [message] = held_by(
        session,
        service,
        officer,
        "kp.certificate.fields",
        **{"certificate.issued_on": "2026-11-21"},
    )
    assert "issued on 2026-11-21, after its presentation on 2026-11-20" in message


def test_annex_i_a_certificate_expiring_before_its_issue_is_recorded_and_detained(
    session, service, officer
):
    changes = {"certificate.issued_on": "2026-11-10", "certificate.expires_on": "2026-11-09"}
    messages = held_by(session, service, officer, "kp.certificate.fields", **changes)
    assert any("expires on 2026-11-09, before it was issued" in m for m in messages)


def test_annex_i_an_expired_certificate_blocks_verification(session, service, officer):
    payload = shipment_payload(**{"certificate.expires_on": "2026-11-01"})
    shipment = service.present(session, payload, officer).shipment
    with pytest.raises(LawForbids, match=r"kp\.certificate\.fields.*expired"):
        service.act(session, shipment.id, "verify", officer)


# -- point 3: provenance and no trade with non-participants, on imports too -----------------


def test_kpcs_section_iii_an_import_whose_provenance_is_no_participant_is_detained(
    session, service, officer
):
    """The certificate comes from a participant, but the parcel was last exported from a
    country outside the scheme."""
    changes = {"certificate.provenance": "LY"}
    [message] = held_by(session, service, officer, "kp.no_non_participants", **changes)
    assert "provenance LY is not a Kimberley Process participant" in message
    assert DETAINED in message
    ok = findings_of(session, service, officer)["kp.no_non_participants"]
    assert [f.outcome.value for f in ok] == ["pass"]


# -- point 3: Annex I minimum content is judged, not turned away ----------------------------


def test_annex_i_a_number_without_the_issuing_countrys_code_is_recorded_and_detained(
    client, auth, session
):
    """Art. 5(1)(b): a certificate that fails Annex I is a presented document; the
    presentation is recorded (201) with a hold finding, not refused as invalid input."""
    payload = shipment_payload(**{"certificate.number": "BW123456"})
    created = client.post("/api/v1/shipments", json=payload, headers=auth)
    assert created.status_code == 201, created.json
    [finding] = [
        f
        for f in created.json["findings"]
        if f["rule"] == "kp.certificate.fields" and f["outcome"] == "hold"
    ]
    assert (
        "BW123456 does not carry the ISO 3166-1 code of its issuing country (CA)"
        in (finding["message"])
    )
    assert finding["basis"].startswith("Reg. (EC) 2368/2002 Annex I")
    verify = act(client, f"/api/v1/shipments/{created.json['id']}/actions/verify", auth)
    assert verify.status_code == 422
    assert session.scalar(select(func.count()).select_from(Shipment)) == 1


def test_annex_i_a_number_of_digits_alone_is_a_document_to_judge_not_malformed_input(
    session, service, officer
):
    changes = {"certificate.number": "123456"}
    [message] = held_by(session, service, officer, "kp.certificate.fields", **changes)
    assert "123456 does not carry" in message


# -- point 4: one certificate, one consignment, across the deployment -----------------------

NORWAY = Actor("officer.no", Role.OFFICER, frozenset({"NO"}))
AT_GARDERMOEN = {"authority": "NO", "entry_point": "OSL"}


def test_art_3_a_a_certificate_presented_again_detains_the_second_consignment_naming_the_first(
    client, auth
):
    first = client.post("/api/v1/shipments", json=shipment_payload(), headers=auth).json
    second = client.post("/api/v1/shipments", json=shipment_payload(), headers=auth)
    assert second.status_code == 201
    [reuse] = [
        f
        for f in second.json["findings"]
        if f["rule"] == "eu.import.certificate" and f["outcome"] == "hold"
    ]
    assert f"already presented for shipment {first['id']} at authority BE" in reuse["message"]
    assert reuse["data"] == {"first_shipment": first["id"], "first_authority": "BE"}
    base = "/api/v1/shipments"
    assert act(client, f"{base}/{second.json['id']}/actions/verify", auth).status_code == 422
    verified = act(client, f"{base}/{first['id']}/actions/verify", auth)
    assert verified.status_code == 200, verified.json  # the first keeps its certificate


def test_art_3_a_a_certificate_used_at_another_authority_of_the_deployment_counts_too(
    session, service, officer
):
    earlier = service.present(session, shipment_payload(**AT_GARDERMOEN), NORWAY).shipment
    session.flush()
    [message] = held_by(session, service, officer, "eu.import.certificate")
    assert f"already presented for shipment {earlier.id} at authority NO" in message


def test_norway_4_a_certificate_presented_in_antwerp_is_not_clearly_for_a_second_consignment(
    session, service, officer
):
    earlier = service.present(session, shipment_payload(), officer).shipment
    session.flush()
    found = service.check(session, shipment_payload(**AT_GARDERMOEN), NORWAY)
    [reuse] = [f for f in found if f.rule == "no.import.conditions" and f.outcome.value == "hold"]
    assert f"already presented for shipment {earlier.id} at authority BE" in reuse.message
    assert reuse.basis.startswith("FOR-2004-02-24-470 §4")


def test_art_3_a_another_certificate_number_is_another_certificate(session, service, officer):
    service.present(session, shipment_payload(), officer)
    session.flush()
    other = {"certificate.number": "CA123457"}
    assert held_by(session, service, officer, "eu.import.certificate", **other) == []
