"""Declared fields (issue 23): what a plugin's law needs is validated against its declaration,
with a 422 naming the field and nothing written, kept in its typed JSON form, and read back
typed by the rules, through the API as a customs system or a broker sends it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from caratflow.models import Event, Role, Shipment
from caratflow.plugins.norway.fields import AdvanceNotice
from caratflow.testing.api import act
from caratflow.testing.payloads import export_payload, shipment_payload

NOTICE = {"received_at": "2026-11-13T14:05:00+01:00", "dispatch_on": "2026-11-16"}


def norwegian(**changes):
    return shipment_payload(
        authority="NO", entry_point="OSL", presented_at="2026-11-17T08:30:00+01:00", **changes
    )


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def headers(make_token, authority: str, **extra) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(Role.OFFICER, authority)}", **extra}


def findings(body) -> dict[str, str]:
    return {f["rule"]: f["outcome"] for f in body["findings"]}


def test_an_advance_notice_without_its_dispatch_date_is_a_422_naming_the_field_and_writes_nothing(
    client, make_token, session
):
    before = count(session, Shipment)
    bad = norwegian(advance_notice={"received_at": "13 November", "extra": 1})
    answer = client.post("/api/v1/shipments", json=bad, headers=headers(make_token, "NO"))
    assert answer.status_code == 422, answer.json
    named = {e["field"] for e in answer.json["errors"]}
    assert named == {
        "advance_notice.received_at",
        "advance_notice.dispatch_on",
        "advance_notice.extra",
    }
    assert count(session, Shipment) == before


def test_the_advance_notice_is_stored_typed_and_read_typed_by_the_rule(client, make_token, session):
    notice = {**NOTICE, "carats": 123, "parcels": "2"}
    answer = client.post(
        "/api/v1/shipments",
        json=norwegian(advance_notice=notice),
        headers=headers(make_token, "NO"),
    )
    assert answer.status_code == 201, answer.json
    assert findings(answer.json)["no.advance_notice"] == "pass"
    stored = session.get(Shipment, answer.json["id"]).details["advance_notice"]
    assert stored == {**NOTICE, "carats": "123", "parcels": 2}
    typed = AdvanceNotice.read(stored)
    assert isinstance(typed.received_at, datetime) and typed.received_at.utcoffset() is not None


def test_an_advance_notice_that_arrives_later_is_added_as_a_record_and_timed(
    client, make_token, session
):
    auth = headers(make_token, "NO")
    presented = client.post("/api/v1/shipments", json=norwegian(), headers=auth).json
    assert findings(presented)["no.advance_notice"] == "warn"
    assert "record_advance_notice" in presented["available_actions"]
    base = f"/api/v1/shipments/{presented['id']}/actions/record_advance_notice"

    late = {"received_at": "2026-11-16T09:00:00+01:00", "dispatch_on": "2026-11-16"}
    missing = client.post(base, json={"inputs": {}}, headers={**auth, "If-Match": '"1"'})
    assert missing.status_code == 422
    assert [e["field"] for e in missing.json["errors"]] == ["inputs.advance_notice"]

    recorded = client.post(
        base, json={"inputs": {"advance_notice": late}}, headers={**auth, "If-Match": '"1"'}
    )
    assert recorded.status_code == 200, recorded.json
    assert session.get(Shipment, presented["id"]).details["advance_notice"] == late
    [event] = session.scalars(
        select(Event).where(
            Event.shipment_id == presented["id"], Event.action == "record_advance_notice"
        )
    )
    timed = {f.rule: f for f in event.findings}["no.advance_notice"]
    assert (timed.outcome, timed.data["received_on"]) == ("warn", "2026-11-16")


def test_a_control_without_its_outcome_is_refused_naming_the_input(client, make_token, session):
    auth = headers(make_token, "NO")
    presented = client.post(
        "/api/v1/shipments", json=norwegian(advance_notice=NOTICE), headers=auth
    ).json
    base = f"/api/v1/shipments/{presented['id']}/actions/control_documents"
    events = count(session, Event)
    for inputs, message in (({}, "required"), ({"outcome": "fine"}, "choose one of: pass, fail")):
        refused = client.post(base, json={"inputs": inputs}, headers={**auth, "If-Match": '"1"'})
        assert refused.status_code == 422
        [error] = refused.json["errors"]
        assert error["field"] == "inputs.outcome" and message in error["message"]
    assert count(session, Event) == events
    passed = client.post(
        base, json={"inputs": {"outcome": "pass"}}, headers={**auth, "If-Match": '"1"'}
    )
    assert passed.status_code == 200, passed.json


def test_an_export_destination_must_be_a_country_and_its_evidence_a_declared_kind(
    client, make_token, session
):
    before = count(session, Shipment)
    bad = export_payload(destination="India", lawful_import={"kind": "trust_me"})
    answer = client.post("/api/v1/shipments", json=bad, headers=headers(make_token, "BE"))
    assert answer.status_code == 422
    assert {e["field"] for e in answer.json["errors"]} == {"destination", "lawful_import.kind"}
    assert count(session, Shipment) == before


def test_the_remedial_release_ground_is_a_closed_choice_of_article_5_2(client, make_token):
    auth = headers(make_token, "BE")
    held = client.post(
        "/api/v1/shipments",
        json=shipment_payload(**{"containers.0.seals_intact": False}),
        headers=auth,
    ).json
    base = f"/api/v1/shipments/{held['id']}"
    act(client, f"{base}/actions/hold", auth, json={"reason": "seal broken"})
    refused = act(
        client,
        f"{base}/actions/remediate",
        auth,
        json={"reason": "fixed", "inputs": {"ground": "asked nicely"}},
    )
    assert refused.status_code == 422
    [error] = refused.json["errors"]
    assert error["field"] == "inputs.ground"
    assert "not_knowing_or_intentional, caused_by_another_authority" in error["message"]


def test_art_4_5_b_a_risk_based_verification_names_the_containers_opened_or_is_a_422(
    client, make_token, session
):
    """Reg. (EC) 2368/2002 Art. 4(5)(b): the authority determines which containers are
    opened; a verification by that method that names none is malformed, and nothing is
    written (issue 22 point 7)."""
    auth = headers(make_token, "BE")
    six = [{"id": f"C{i}", "seals": [f"S-{i}"], "seals_intact": True} for i in range(1, 7)]
    known = client.post("/api/v1/shipments", json=shipment_payload(containers=six), headers=auth)
    assert known.status_code == 201, known.json
    again = shipment_payload(containers=six, **{"certificate.number": "CA123457"})  # known now
    presented = client.post("/api/v1/shipments", json=again, headers=auth).json
    [analysis] = [f for f in presented["findings"] if f["rule"] == "eu.verify.method"]
    base = f"/api/v1/shipments/{presented['id']}"
    events = count(session, Event)
    refused = act(
        client, f"{base}/actions/verify", auth, json={"inputs": {"method": "risk_selection"}}
    )
    assert refused.status_code == 422, refused.json
    [error] = refused.json["errors"]
    assert error["field"] == "inputs.opened"
    assert (
        "Containers opened is required here (Reg. (EC) 2368/2002 Art. 4(5))" in (error["message"])
    )
    assert count(session, Event) == events
    assert client.get(base, headers=auth).json["state"] == "presented"
    opened = [{"container": label} for label in analysis["data"]["open"]]
    inputs = {"method": "risk_selection", "opened": opened}
    verified = act(client, f"{base}/actions/verify", auth, json={"inputs": inputs})
    assert verified.status_code == 200, verified.json
    assert verified.json["state"] == "verified"


def test_a_presentation_field_no_plugin_declares_is_a_422_naming_it_and_writes_nothing(
    client, make_token, session
):
    """No untyped ``details``: what no enabled plugin declares never reaches the record."""
    before = count(session, Shipment)
    answer = client.post(
        "/api/v1/shipments",
        json=shipment_payload(note="handle with care", transit_declared="yes"),
        headers=headers(make_token, "BE"),
    )
    assert answer.status_code == 422, answer.json
    assert answer.json["errors"] == [
        {"field": "note", "message": "is not a field of this presentation"}
    ]
    assert count(session, Shipment) == before
