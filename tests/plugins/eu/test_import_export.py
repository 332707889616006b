"""Reg. (EC) 2368/2002 at the Antwerp Diamond Office: import, export and transit controls."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from caratflow.deadlines.keeping import deadline_of
from caratflow.errors import InvalidInput
from caratflow.law.rules import LawForbids
from caratflow.models import DeadlineStatus, IssuedDocument
from caratflow.records.rendering import FRAME
from caratflow.testing.payloads import DELETE, export_payload, outcomes, shipment_payload


def rows(labels):
    """The containers opened, as the declared rows of ``opened``."""
    return [{"container": label} for label in labels]


def check(session, service, officer, payload) -> dict[str, str]:
    return outcomes(service.check(session, payload, officer))


def present(session, service, officer, payload=None):
    shipment = service.present(session, payload or shipment_payload(), officer).shipment
    session.flush()
    return shipment


# -- Art. 3 and Annex I ---------------------------------------------------------------------


def test_an_import_whose_seal_is_broken_is_detained_citing_art_3b(session, service, officer):
    broken = shipment_payload(**{"containers.0.seals_intact": False})
    [finding] = [
        f for f in service.check(session, broken, officer) if f.rule == "eu.import.container"
    ]
    assert (finding.outcome.value, finding.basis) == ("hold", "Reg. (EC) 2368/2002 Art. 3(b)")
    assert "C1" in finding.message


def test_an_import_certified_by_a_non_participant_is_detained_citing_art_3a(
    session, service, officer
):
    libyan = shipment_payload(**{"certificate.issuing_country": "LY", "certificate.number": "LY1"})
    findings = service.check(session, libyan, officer)
    assert outcomes(findings)["eu.import.certificate"] == "hold"
    assert (
        outcomes(service.check(session, shipment_payload(), officer))["eu.import.certificate"]
        == "pass"
    )


def test_a_certificate_not_validated_by_the_exporting_authority_is_detained(
    session, service, officer
):
    unvalidated = shipment_payload(**{"certificate.validating_authority": DELETE})
    assert check(session, service, officer, unvalidated)["kp.certificate.fields"] == "hold"
    assert check(session, service, officer, shipment_payload())["kp.certificate.fields"] == "pass"


def test_an_unmixed_parcel_without_origin_is_detained_but_a_mixed_one_is_not(
    session, service, officer
):
    silent = shipment_payload(**{"certificate.origin": []})
    assert check(session, service, officer, silent)["kp.certificate.fields"] == "hold"
    silent["mixed"] = "yes"
    assert check(session, service, officer, silent)["kp.certificate.fields"] == "pass"


def test_wrong_carats_found_at_verification_detain_the_consignment_citing_art_3c(
    session, service, officer
):
    shipment = present(session, service, officer)
    with pytest.raises(LawForbids, match=r"eu\.import\.identifies.*carats"):
        service.act(
            session,
            shipment.id,
            "verify",
            officer,
            inputs={"weighed_carats": "121.90", "counted_parcels": 2},
        )
    verified = service.act(
        session,
        shipment.id,
        "verify",
        officer,
        inputs={"weighed_carats": "123.455", "counted_parcels": 2},
    )
    assert verified.state == "verified"


def test_a_missing_parcel_detains_the_consignment(session, service, officer):
    shipment = present(session, service, officer)
    with pytest.raises(LawForbids, match="parcels"):
        service.act(session, shipment.id, "verify", officer, inputs={"counted_parcels": 1})


# -- Art. 4 ---------------------------------------------------------------------------------


def test_presentation_outside_the_member_state_of_import_or_destination_is_flagged(
    session, service, officer
):
    elsewhere = shipment_payload(member_state_of_import="DE", member_state_of_destination="NL")
    assert check(session, service, officer, elsewhere)["eu.present"] == "warn"
    due = shipment_payload(member_state_of_import="DE", member_state_of_destination="BE")
    assert check(session, service, officer, due)["eu.present"] == "pass"


def test_the_risk_analysis_explains_its_selection_at_presentation(session, service, officer):
    payload = shipment_payload(
        containers=[{"id": f"C{i}", "seals": [f"S-{i}"], "seals_intact": True} for i in range(1, 7)]
    )
    shipment = present(session, service, officer, payload)
    [analysis] = [f for f in shipment.events[0].findings if f.rule == "eu.verify.method"]
    assert analysis.data["reasons"] == [
        "first shipment of Arctic Rough Ltd",
        "first shipment of Schupstraat Diamonds NV",
    ]
    assert analysis.data["open_every_container"] is True  # two first-time traders: score 4
    assert analysis.data["open"] == ["C1", "C2", "C3", "C4", "C5", "C6"]


def test_a_known_trader_gets_a_risk_based_selection_that_must_be_opened(session, service, officer):
    containers = [{"id": f"C{i}", "seals": [f"S-{i}"], "seals_intact": True} for i in range(1, 7)]
    present(session, service, officer, shipment_payload(containers=containers))
    again = shipment_payload(containers=containers, **{"certificate.number": "CA123457"})
    shipment = present(session, service, officer, again)
    [analysis] = [f for f in shipment.events[0].findings if f.rule == "eu.verify.method"]
    assert analysis.data["score"] == 0 and analysis.data["open_every_container"] is False
    selection = analysis.data["open"]
    assert len(selection) == 3  # a third of six, by a reproducible draw
    not_selected = sorted({c["id"] for c in containers} - set(selection))
    with pytest.raises(LawForbids, match="was not opened"):
        service.act(
            session,
            shipment.id,
            "verify",
            officer,
            inputs={"method": "risk_selection", "opened": rows(not_selected)},
        )
    verified = service.act(
        session,
        shipment.id,
        "verify",
        officer,
        inputs={"method": "risk_selection", "opened": rows(selection)},
    )
    [method] = [f for f in verified.events[-1].findings if f.rule == "eu.verify.method"]
    assert method.outcome == "pass" and "risk-based selection" in method.message


def test_a_high_risk_consignment_may_not_be_verified_by_selection(session, service, officer):
    shipment = present(session, service, officer)
    with pytest.raises(LawForbids, match="requires every container to be opened"):
        service.act(
            session,
            shipment.id,
            "verify",
            officer,
            inputs={"method": "risk_selection", "opened": rows(["C1"])},
        )


def test_days_the_office_was_closed_are_no_delay(session, service, officer):
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from caratflow.deadlines.keeping import add_closure_day

    presented = datetime.now(UTC) - timedelta(days=10)
    shipment = present(
        session, service, officer, shipment_payload(presented_at=presented.isoformat())
    )
    # Every day from presentation to tomorrow, as the office's calendar counts them: in
    # Brussels, where 23:30 UTC is already the next day.
    first = presented.astimezone(ZoneInfo("Europe/Brussels")).date()
    for back in range(0, 12):
        add_closure_day(
            session,
            "BE",
            first + timedelta(days=back),
            "strike at the Diamond Office",
            "admin",
        )
    verified = service.act(session, shipment.id, "verify", officer)
    [delay] = [f for f in verified.events[-1].findings if f.rule == "eu.verify.without_delay"]
    assert (delay.outcome, delay.message) == (
        "pass",
        "verified 0 working day(s) after presentation",
    )


def test_verification_long_after_presentation_is_not_without_delay(session, service, officer):
    late = shipment_payload(
        presented_at="2026-01-05T10:00:00+01:00",
        **{"certificate.issued_on": "2025-12-20", "certificate.expires_on": "2026-02-20"},
    )
    shipment = present(session, service, officer, late)
    verified = service.act(session, shipment.id, "verify", officer)
    assert outcomes(verified.events[-1].findings)["eu.verify.without_delay"] == "warn"


# -- Art. 5 ---------------------------------------------------------------------------------

REMEDY = {
    "remedy": "the exporting authority inspected and resealed container C1",
    "remedy_evidence": "letter of the Botswana Diamond Office, ref. BDO/2026/117",
}


def test_a_broken_seal_is_detained_and_released_only_on_a_lawful_ground(session, service, officer):
    shipment = present(
        session, service, officer, shipment_payload(**{"containers.0.seals_intact": False})
    )
    held = service.act(session, shipment.id, "hold", officer, reason="seal S-991 broken")
    assert outcomes(held.events[-1].findings)["eu.detain"] == "info"
    with pytest.raises(InvalidInput) as refused:  # a closed choice of Art. 5(2) (issue 23)
        service.act(
            session,
            shipment.id,
            "remediate",
            officer,
            reason="fixed",
            inputs={"ground": "the importer asked nicely"},
        )
    assert [e.field for e in refused.value.errors] == ["inputs.ground"]
    released = service.act(
        session,
        shipment.id,
        "remediate",
        officer,
        reason="exporting authority confirmed it resealed after inspection",
        inputs={"ground": "caused_by_another_authority", **REMEDY},
    )
    assert released.state == "released"
    [lifted] = released.events[-1].data["lifted"]
    assert (lifted["rule"], lifted["basis"]) == (
        "eu.import.container",
        "Reg. (EC) 2368/2002 Art. 5(2)",
    )


# -- Arts. 6 and 7 --------------------------------------------------------------------------


def test_goods_exported_five_days_before_the_regulation_applied_may_be_admitted(
    session, service, officer
):
    early = shipment_payload(exported_on="2002-12-27", presented_at="2003-01-06T10:00:00+01:00")
    assert check(session, service, officer, early)["eu.pre_application"] == "info"
    late = shipment_payload(exported_on="2002-12-28", presented_at="2003-01-06T10:00:00+01:00")
    assert "eu.pre_application" not in check(session, service, officer, late)


def test_a_lawful_presence_confirmation_needs_its_reference(session, service, officer):
    vague = export_payload(lawful_import={"kind": "lawful_presence"})
    assert check(session, service, officer, vague)["eu.certified_stocks"] == "hold"
    stated = export_payload(lawful_import={"kind": "lawful_presence", "reference": "LP-2003-11"})
    assert check(session, service, officer, stated)["eu.certified_stocks"] == "pass"


# -- Arts. 11 to 14 -------------------------------------------------------------------------


def test_an_export_to_a_non_participant_is_refused(session, service, officer):
    assert (
        check(session, service, officer, export_payload(destination="LY"))["kp.no_non_participants"]
        == "refuse"
    )
    assert check(session, service, officer, export_payload())["kp.no_non_participants"] == "pass"


def test_an_export_needs_conclusive_evidence_of_lawful_import(session, service, officer):
    none = export_payload(lawful_import={})
    assert check(session, service, officer, none)["eu.export.issue"] == "hold"
    unknown = export_payload(lawful_import={"kind": "confirmed_import", "certificate": "CA1"})
    assert check(session, service, officer, unknown)["eu.export.issue"] == "hold"
    imported = present(session, service, officer)
    service.act(session, imported.id, "verify", officer)
    confirmed = export_payload(
        lawful_import={"kind": "confirmed_import", "certificate": "CA123456"}
    )
    assert check(session, service, officer, confirmed)["eu.export.issue"] == "pass"


def test_an_industry_declaration_counts_only_from_an_annex_v_member(session, service, officer):
    assert check(session, service, officer, export_payload())["eu.export.wdc_declaration"] == "pass"
    outsider = export_payload(
        lawful_import={
            "kind": "annex_v_declaration",
            "organisation": "Diamond Friends Club",
            "member": "X",
            "signed_on": "2026-11-18",
        }
    )
    assert check(session, service, officer, outsider)["eu.export.wdc_declaration"] == "hold"


def test_an_export_certificate_is_validated_only_after_sealing_under_supervision(
    session, service, officer
):
    shipment = present(session, service, officer, export_payload())
    with pytest.raises(LawForbids, match="sealed under the authority's supervision"):
        service.act(session, shipment.id, "verify", officer)
    service.act(session, shipment.id, "verify", officer, inputs={"sealed_under_supervision": "yes"})
    assert service.act(session, shipment.id, "export", officer).state == "exported"


def test_a_detained_export_cites_art_14(session, service, officer):
    shipment = present(session, service, officer, export_payload(destination="LY"))
    held = service.act(session, shipment.id, "hold", officer, reason="destination not in KP")
    assert outcomes(held.events[-1].findings)["eu.export.detain"] == "info"
    # ... and, as Art. 5(3) has it, the Commission is told within one month
    notice = deadline_of(held, "eu.notify.1_month")
    assert notice is not None and notice.status == DeadlineStatus.OPEN
    [told] = [f for f in held.events[-1].findings if f.rule == "eu.notify.1_month"]
    assert told.message.startswith("the Commission are to be informed")


# -- Arts. 17 to 19 -------------------------------------------------------------------------


def test_transit_is_exempt_when_untampered_and_declared(session, service, officer):
    transit = shipment_payload(direction="transit", transit_declared="yes", destination="AE")
    assert check(session, service, officer, transit)["eu.transit"] == "pass"
    undeclared = shipment_payload(direction="transit", destination="AE")
    assert check(session, service, officer, undeclared)["eu.transit"] == "hold"
    tampered = shipment_payload(
        direction="transit",
        transit_declared="yes",
        destination="AE",
        **{"containers.0.seals_intact": False},
    )
    assert check(session, service, officer, tampered)["eu.transit"] == "hold"


def test_art_18_transit_to_a_non_participant_is_not_exempt(session, service, officer):
    onward = shipment_payload(direction="transit", transit_declared="yes", destination="LY")
    [transit] = [f for f in service.check(session, onward, officer) if f.rule == "eu.transit"]
    assert transit.outcome.value == "hold"
    assert "LY, which is not a Kimberley Process participant, is not exempt" in transit.message
    assert transit.basis == "Reg. (EC) 2368/2002 Art. 18"


def test_art_18_goods_bound_for_the_community_are_no_transit(session, service, officer):
    for destination in ("NL", "BE"):  # another Member State, or the authority's own
        staying = shipment_payload(
            direction="transit", transit_declared="yes", destination=destination
        )
        [finding] = [f for f in service.check(session, staying, officer) if f.rule == "eu.transit"]
        assert finding.outcome == "hold", destination
        assert "do not only pass through the Community" in finding.message, destination
    unstated = shipment_payload(direction="transit", transit_declared="yes")
    assert check(session, service, officer, unstated)["eu.transit"] == "hold"


# -- Art. 4(5)(a) and 12(2): every container means every container -------------------------

THREE = [{"id": f"C{i}", "seals": [f"S-{i}"], "seals_intact": True} for i in range(1, 4)]


def test_art_4_5_a_a_container_left_unopened_blocks_verification_by_every_container(
    session, service, officer
):
    shipment = present(session, service, officer, shipment_payload(containers=THREE))
    every = {"method": "every_container"}
    with pytest.raises(LawForbids, match=r"every container is to be opened.*C3 was not"):
        service.act(
            session, shipment.id, "verify", officer, inputs={**every, "opened": rows(["C1", "C2"])}
        )
    verified = service.act(
        session,
        shipment.id,
        "verify",
        officer,
        inputs={**every, "opened": rows(["C3", "C2", "C1"])},
    )
    [method] = [f for f in verified.events[-1].findings if f.rule == "eu.verify.method"]
    assert method.data["opened"] == ["C1", "C2", "C3"]


def test_art_4_5_a_a_verification_by_every_container_names_each_one(session, service, officer):
    shipment = present(session, service, officer, shipment_payload(containers=THREE))
    verified = service.act(session, shipment.id, "verify", officer)
    [method] = [f for f in verified.events[-1].findings if f.rule == "eu.verify.method"]
    assert (method.outcome, method.data["opened"]) == ("pass", ["C1", "C2", "C3"])
    assert "C1, C2, C3" in method.message


def test_art_12_2_an_export_is_validated_only_with_every_container_opened(
    session, service, officer
):
    shipment = present(session, service, officer, export_payload(containers=THREE))
    with pytest.raises(LawForbids, match="C2 was not"):
        service.act(
            session,
            shipment.id,
            "verify",
            officer,
            inputs={"sealed_under_supervision": "yes", "opened": rows(["C1", "C3"])},
        )


def test_art_4_5_a_a_container_not_in_the_consignment_cannot_be_opened(session, service, officer):
    shipment = present(session, service, officer)
    with pytest.raises(LawForbids, match="no container C9"):
        service.act(session, shipment.id, "verify", officer, inputs={"opened": rows(["C1", "C9"])})


def test_an_invoice_without_the_kp_warranty_is_flagged(session, service, officer):
    bare = shipment_payload(invoice_warranty="no")
    assert check(session, service, officer, bare)["eu.industry.records"] == "warn"


def test_the_fee_is_recorded_and_never_above_the_cost(session, service, officer):
    shipment = present(session, service, officer)
    verified = service.act(session, shipment.id, "verify", officer)
    [fee] = [f for f in verified.events[-1].findings if f.rule == "eu.fees"]
    assert (fee.outcome, fee.data) == ("info", {"fee_eur": "120.00"})


# -- Arts. 10(2), 12(4), 15(2): retention ---------------------------------------------------


def test_an_imports_original_certificate_is_kept_three_years_from_presentation(
    session, service, officer, plugin_host
):
    from datetime import date

    from caratflow.records.retention import retention_of

    shipment = present(session, service, officer)
    service.act(session, shipment.id, "verify", officer)
    released = service.act(session, shipment.id, "release", officer)
    assert retention_of(plugin_host, released).keep_until == date(2029, 11, 20)


def test_an_exports_copy_is_kept_three_years_from_validation(
    session, service, officer, plugin_host
):
    from zoneinfo import ZoneInfo

    from caratflow.jurisdiction.retention import years_after
    from caratflow.records.retention import retention_of

    shipment = present(session, service, officer, export_payload())
    service.act(session, shipment.id, "verify", officer, inputs={"sealed_under_supervision": "yes"})
    exported = service.act(session, shipment.id, "export", officer)
    validated = exported.events[1].at.astimezone(ZoneInfo("Europe/Brussels")).date()
    assert retention_of(plugin_host, exported).keep_until == years_after(validated, 3)


def test_what_the_plugin_leaves_out_is_declared_with_its_reason():
    from caratflow.plugins.eu.scope import OUT_OF_SCOPE

    assert set(OUT_OF_SCOPE) == {"kp.dealers.records_5y"}
    assert all("Art" in reason or "Annex" in reason for reason in OUT_OF_SCOPE.values())


def test_records_kept_before_the_declaration_are_read_in_their_old_shape():
    """Art. 4(5) and 18: a verification that once recorded ``opened`` as a list of labels,
    a transit whose ``transit_declared`` was a list, an invoice warranty kept as a
    boolean: the typed readers still read them (a replay decides them as then)."""
    from caratflow.plugins.eu.fields import ImportVerification, Invoice, Transit

    verification = ImportVerification.of({"method": "every_container", "opened": ["C1", "C2"]})
    assert [c.container for c in verification.opened or []] == ["C1", "C2"]
    assert Transit.of({"transit_declared": ["EU"], "destination": "AE"}).transit_declared == "yes"
    assert Transit.of({"transit_declared": []}).transit_declared == "no"
    assert Invoice.of({"invoice_warranty": False}).invoice_warranty == "no"


def test_the_community_certificate_is_printed_in_english_and_the_member_states_language(
    session, service, officer, runtime, tmp_path
):
    """Annex IV, 'Language': English and, where relevant, the language of the Member State
    concerned. Antwerp's certificate reads in English and Dutch, each label once."""
    import pypdfium2 as pdfium

    shipment = service.present(session, export_payload(), officer).shipment
    service.act(session, shipment.id, "verify", officer, inputs={"sealed_under_supervision": "yes"})
    document = session.scalar(
        select(IssuedDocument).where(IssuedDocument.shipment_id == shipment.id)
    )
    assert document.content["languages"] == ["en", "nl"]
    printed = document.content["printed"]  # the pages keep the English, and translate it
    assert printed[document.content["title"]] == (
        "Kimberley Process Certificate / Certificaat van het Kimberleyproces"
    )
    assert all(" / " in printed[field["label"]] for field in document.content["fields"])
    pdf = pdfium.PdfDocument(runtime.documents.pdf_of(session, document))
    assert len(pdf) == 1  # a smaller type keeps the two languages on one page
    text = " ".join(" ".join(page.get_textpage().get_text_bounded() for page in pdf).split())
    assert "Certificaat van het Kimberleyproces" in text and "Kimberley Process Certificate" in text


def test_the_certified_copy_is_printed_in_english_and_dutch_too(session, service, officer):
    """The certified copy a Community authority gives the importer (Art. 5(1)(a)) reads in
    the same languages: every label, the title and the statement."""
    shipment = service.present(session, shipment_payload(), officer).shipment
    service.act(session, shipment.id, "verify", officer)
    issued = select(IssuedDocument).where(IssuedDocument.shipment_id == shipment.id)
    copy = session.scalar(issued)
    assert copy.kind == "eu.certified_copy" and copy.content["languages"] == ["en", "nl"]
    printed = copy.content["printed"]
    shown = [copy.content["title"], copy.content["statement"], *FRAME]
    shown += [field["label"] for field in copy.content["fields"]]
    assert [text for text in shown if " / " not in printed[text]] == []
