"""Reg. (EC) 2368/2002 Art. 1: for the Kimberley Process the Community is one territory
without internal borders. What moves between two Member States is neither an import
(Art. 2(j)) nor an export (Art. 2(k)): no Community certificate, no KP import control.
The Member States are dated data of their own, apart from the participants (Annex II)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select, update

from caratflow.law.rules import LawForbids
from caratflow.models import IssuedDocument, Shipment
from caratflow.plugins.eu.rules import PARAMETERS
from caratflow.testing.payloads import export_payload, outcomes, shipment_payload

SEALED = {"sealed_under_supervision": "yes"}


def shipments(session) -> int:
    return session.scalar(select(func.count()).select_from(Shipment))


def refused_at_the_counter(session, service, officer, payload) -> dict:
    """Presenting ``payload`` is refused by a guard of the Community's territory, and
    nothing is recorded; the refusing finding."""
    before = shipments(session)
    with pytest.raises(LawForbids) as refused:
        service.present(session, payload, officer)
    session.rollback()
    assert shipments(session) == before
    [finding] = [f for f in refused.value.findings if f.stops]
    assert "Art. 1" in finding.message and finding.outcome == "refuse"
    return finding


def test_an_export_to_another_member_state_is_refused_citing_art_1(session, service, officer):
    finding = refused_at_the_counter(session, service, officer, export_payload(destination="NL"))
    assert (finding.rule, finding.basis) == ("eu.export.issue", "Reg. (EC) 2368/2002 Art. 12(1)")
    assert finding.data["field"] == "destination"
    assert "no export (Art. 2(k))" in finding.message and "12(1)(c)" in finding.message
    # The pre-check says the same, and records nothing either.
    checked = outcomes(service.check(session, export_payload(destination="DE"), officer))
    assert checked["eu.export.issue"] == "refuse"
    assert "kp.no_non_participants" not in checked  # no question of participation


def test_an_export_to_a_participant_outside_the_community_takes_a_community_certificate(
    session, service, officer
):
    shipment = service.present(session, export_payload(destination="NO"), officer).shipment
    assert outcomes(shipment.events[0].findings)["kp.no_non_participants"] == "pass"
    service.act(session, shipment.id, "verify", officer, inputs=SEALED)
    issued = session.scalar(select(IssuedDocument).where(IssuedDocument.shipment_id == shipment.id))
    assert issued.number.startswith("EC")


def test_no_community_certificate_issues_for_a_record_bound_for_a_member_state(
    session, service, officer
):
    """A record presented before the rule (its destination NL) cannot verify its way to a
    certificate."""
    shipment = service.present(session, export_payload(), officer).shipment
    session.execute(
        update(Shipment)
        .where(Shipment.id == shipment.id)
        .values(details={**shipment.details, "destination": "NL"})
    )
    session.commit()
    session.expire_all()
    with pytest.raises(LawForbids, match=r"eu\.export\.issue.*Art\. 1"):
        service.act(session, shipment.id, "verify", officer, inputs=SEALED)
    session.rollback()
    issued = select(IssuedDocument).where(IssuedDocument.shipment_id == shipment.id)
    assert session.scalar(issued) is None


def test_an_import_under_a_community_certificate_is_no_import(session, service, officer):
    from_netherlands = shipment_payload(
        **{
            "certificate.number": "EC004211",
            "certificate.issuing_country": "EU",
            "certificate.issuing_authority": "CDIU, Groningen",
            "certificate.validating_authority": "CDIU, Groningen",
            "certificate.provenance": "EU",
        }
    )
    finding = refused_at_the_counter(session, service, officer, from_netherlands)
    assert (finding.rule, finding.basis) == (
        "eu.import.certificate",
        "Reg. (EC) 2368/2002 Art. 3(a)",
    )
    assert finding.data["field"] == "certificate.issuing_country"
    assert "no import (Art. 2(j))" in finding.message
    assert "no KP import control" in finding.message


def test_an_import_whose_provenance_is_a_member_state_is_no_import(session, service, officer):
    via_germany = shipment_payload(**{"certificate.provenance": "DE"})
    finding = refused_at_the_counter(session, service, officer, via_germany)
    assert (finding.data["field"], finding.data["country"]) == ("certificate.provenance", "DE")


def test_an_import_from_a_participant_outside_the_community_is_controlled(
    session, service, officer
):
    from_norway = shipment_payload(
        **{
            "certificate.number": "NO2026-0042",
            "certificate.issuing_country": "NO",
            "certificate.issuing_authority": "Norges Gullsmedforbund",
            "certificate.validating_authority": "Norges Gullsmedforbund",
            "certificate.provenance": "NO",
        }
    )
    shipment = service.present(session, from_norway, officer).shipment
    assert outcomes(shipment.events[0].findings)["eu.import.certificate"] == "pass"


def test_the_api_refuses_an_intra_community_export_with_the_article_and_writes_nothing(
    client, session, auth
):
    before = shipments(session)
    answer = client.post("/api/v1/shipments", json=export_payload(destination="FR"), headers=auth)
    assert answer.status_code == 422, answer.json
    [stopping] = [f for f in answer.json["findings"] if f["outcome"] == "refuse"]
    assert stopping["rule"] == "eu.export.issue" and stopping["data"]["field"] == "destination"
    assert "Art. 1" in answer.json["message"]
    session.expire_all()
    assert shipments(session) == before


def test_greenland_and_the_union_have_been_one_entity_since_2014(session, service, officer):
    """Art. 1, second paragraph, as amended: rough bound for Greenland leaves no Community
    and takes no Community certificate; rough from Greenland is no import."""
    finding = refused_at_the_counter(session, service, officer, export_payload(destination="GL"))
    assert finding.rule == "eu.export.issue" and finding.data["destination"] == "GL"
    assert "one entity with the Union" in finding.message
    from_greenland = shipment_payload(**{"certificate.provenance": "GL"})
    finding = refused_at_the_counter(session, service, officer, from_greenland)
    assert (finding.data["field"], finding.data["country"]) == ("certificate.provenance", "GL")
    assert "one entity with the Union" in finding.message

    def entity(on: str) -> list[str]:
        return PARAMETERS.value("one_entity_with_the_union", date.fromisoformat(on))

    assert entity("2014-03-29") == [] and entity("2014-03-30") == ["GL"]
    assert "GL" not in PARAMETERS.value("member_states", date(2026, 11, 20))


def test_the_member_states_are_dated_data_apart_from_the_participants():
    def members(on: str) -> set[str]:
        return set(PARAMETERS.value("member_states", date.fromisoformat(on)))

    participants = set(PARAMETERS.value("kp_participants", date(2026, 11, 20)))
    assert "EU" in participants and not members("2026-11-20") & participants
    assert len(members("2003-01-01")) == 15 and "PL" not in members("2004-04-30")
    assert "PL" in members("2004-05-01") and "RO" in members("2007-01-01")
    assert "HR" not in members("2013-06-30") and "HR" in members("2013-07-01")
    assert "GB" in members("2020-12-31") and "GB" not in members("2021-01-01")
    assert len(members("2026-11-20")) == 27
    for on in ("2003-01-01", "2004-05-01", "2007-01-01", "2013-07-01", "2021-01-01"):
        assert PARAMETERS.entry("member_states", date.fromisoformat(on))["source"]


def test_an_export_to_the_united_kingdom_was_intra_community_until_the_transition_ended(
    session, service, officer
):
    """Replayed under the law of 2020, an export to GB is the movement within the
    Community it then was (the Withdrawal Agreement's transition period)."""
    shipment = service.present(session, export_payload(destination="GB"), officer).shipment
    assert ("eu.export.issue", "refuse") not in [
        (f.rule, f.outcome) for f in shipment.events[0].findings
    ]
    [presented] = service.replay(session, shipment.id, date(2020, 6, 1), officer)
    assert ("eu.export.issue", "refuse") in [(f.rule, f.outcome) for f in presented.replayed]
    [now] = service.replay(session, shipment.id, date(2021, 1, 1), officer)
    assert ("eu.export.issue", "refuse") not in [(f.rule, f.outcome) for f in now.replayed]


def test_an_export_to_greenland_became_a_movement_within_the_one_entity_in_2014(
    session, service, officer
):
    """Presented under the law of March 2014, before Greenland joined the entity, and
    replayed after: the same export is then refused as no export (Art. 1)."""
    to_greenland = export_payload(
        destination="GL",
        presented_at="2014-03-20T10:00:00+01:00",
        **{"certificate.issued_on": "2014-03-19", "certificate.expires_on": "2014-05-19"},
    )
    shipment = service.present(session, to_greenland, officer).shipment
    assert ("eu.export.issue", "refuse") not in [
        (f.rule, f.outcome) for f in shipment.events[0].findings
    ]
    [after] = service.replay(session, shipment.id, date(2014, 3, 30), officer)
    assert ("eu.export.issue", "refuse") in [(f.rule, f.outcome) for f in after.replayed]


def test_the_demo_pairs_antwerp_with_norway_and_moves_nothing_between_member_states(
    session, service, plugin_host
):
    """Every demo shipment loads (the territory's guards would refuse an intra-Community
    one); Antwerp exports to Norway, and Norway imports under a Community certificate."""
    from caratflow.accounts.provisioning import load_demo

    payloads = plugin_host.demo_payloads()
    assert load_demo(session, plugin_host, service) == len(payloads)
    members = set(PARAMETERS.value("member_states", date(2026, 11, 20)))
    for payload in payloads:
        certificate = payload["certificate"]
        if payload["authority"] != "BE":
            continue  # another participant's: it may send to and take from Member States
        assert payload.get("destination") not in members
        if payload["direction"] == "import":
            assert {certificate["issuing_country"], certificate["provenance"]}.isdisjoint(
                members | {"EU"}
            )
    pairs = {(p["authority"], p["direction"], p.get("destination")) for p in payloads}
    assert {("BE", "export", "NO"), ("NO", "export", "BE")} <= pairs
    assert any(
        p["authority"] == "NO" and p["certificate"]["issuing_country"] == "EU" for p in payloads
    )


def test_the_counter_shows_why_an_import_from_a_member_state_is_no_import(
    browser, make_person, session
):
    from caratflow.models import Role
    from caratflow.testing.people import post_form

    officer = browser(make_person(Role.OFFICER, "BE"))
    via_france = {
        "authority": "BE",
        "direction": "import",
        "goods": "rough",
        "presented_at": "2026-11-20T10:15",
        "entry_point": "BRU",
        "certificate_number": "CA123456",
        "certificate_issuing_country": "CA",
        "certificate_issuing_authority": "Natural Resources Canada",
        "certificate_issued_on": "2026-11-10",
        "certificate_expires_on": "2027-01-10",
        "certificate_exporter_name": "Lyon Rough SARL",
        "certificate_exporter_address": "2 quai Saint-Antoine, Lyon",
        "certificate_importer_name": "Schupstraat Diamonds NV",
        "certificate_importer_address": "Schupstraat 9, Antwerpen",
        "certificate_parcels": "2",
        "certificate_carats": "123.45",
        "certificate_value_usd": "456789.00",
        "certificate_hs_codes": "7102.10",
        "certificate_origin": "CA",
        "certificate_provenance": "FR",  # it comes from France, a Member State
        "containers-0-label": "C1",
        "containers-0-seals": "S-991",
        "containers-0-seals_intact": "y",
    }
    response = post_form(officer, "/shipments/new", present="1", **via_france)
    assert response.status_code == 422, response.text
    assert "Reg. (EC) 2368/2002 Art. 1" in response.text and "no import" in response.text
    assert "Lyon Rough SARL" in response.text  # the form comes back as typed, to correct
    assert shipments(session) == 0
