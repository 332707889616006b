"""FOR-2004-02-24-470 from the completed control on: the permit and its notice to Tollvesenet
(§12), the controlled copy of an imported certificate (§12), the Norwegian KP certificate
issued for an export and the export itself (§5, §10), the restricted notice of a suspected
offence (§12) and appeals to Utenriksdepartementet (§6, §12). Decisions are taken on a test
clock; legal dates are Oslo's."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from caratflow.errors import ActionNotAvailable, Forbidden, InvalidInput
from caratflow.law.rules import LawForbids
from caratflow.models import DocumentStatus, IssuedDocument, OutboxMessage
from caratflow.testing.payloads import outcomes

from .test_norway import (
    EXPORTER,
    IMPORTER,
    OFFICER,
    PASS,
    SEALED,
    SUPERVISOR,
    act,
    cleared_import,
    export_payload,
    import_payload,
    registered,  # noqa: F401 - the fixture
    verified_import,
)

# Every scenario here has its importer and exporter registered (§7).
pytestmark = pytest.mark.usefixtures("registered")
GROUNDS = "seal numbers reused from a consignment refused in June"


def documents(session, shipment, kind) -> list[IssuedDocument]:
    query = select(IssuedDocument).where(
        IssuedDocument.shipment_id == shipment.id, IssuedDocument.kind == kind
    )
    return list(session.scalars(query.order_by(IssuedDocument.id)))


def notices(session, shipment, audience=None) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(
        OutboxMessage.shipment_id == shipment.id, OutboxMessage.kind == "notice"
    )
    found = list(session.scalars(query.order_by(OutboxMessage.id)))
    return [m for m in found if audience is None or m.audience == audience]


def finding(shipment, rule):
    return next(f for f in shipment.events[-1].findings if f.rule == rule)


def controlled_export(session, service, **changes):
    """An export presented, its documents and identity controlled, not yet validated."""
    shipment = service.present(session, export_payload(**changes), OFFICER).shipment
    for action in ("control_documents", "control_identity"):
        act(session, service, shipment, action, inputs=PASS)
    return shipment


def validated_export(session, service, **changes):
    """Sealed by the authority and validated: the Norwegian certificate issued (§5, §6)."""
    return act(
        session, service, controlled_export(session, service, **changes), "verify", inputs=SEALED
    )


# -- §12: the completed control of an import --------------------------------------------------


def test_completing_the_control_marks_the_certificate_and_the_authority_keeps_a_copy(
    session, service, clock
):
    clock.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Oslo
    shipment = verified_import(session, service)
    assert finding(shipment, "no.control.mark").outcome == "info"

    [copy] = documents(session, shipment, "norway.controlled_copy")
    assert re.fullmatch(r"NO-KK-\d{6}", copy.number)  # the mark written on the original
    assert (copy.status, copy.issued_on, copy.valid_until) == (
        DocumentStatus.VALID,
        date(2026, 11, 23),
        None,
    )
    assert (copy.content["rule"], copy.content["basis"]) == (
        "no.control.mark",
        "FOR-2004-02-24-470 §12 first paragraph",
    )
    fields = {f["key"]: f["value"] for f in copy.content["fields"]}
    assert fields["original_number"] == "CA123456"
    assert fields["controlled_on"] == "2026-11-23"
    assert IMPORTER in fields["importer"] and fields["parcels"] == "2"
    assert "kontrollen" in copy.content["statement"].casefold()
    assert documents(session, shipment, "norway.kp_certificate") == []  # that is for exports


def test_tollvesenet_is_told_the_import_permit_is_granted(session, service, clock):
    clock.now = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # already 24 November in Oslo
    shipment = verified_import(session, service)
    [copy] = documents(session, shipment, "norway.controlled_copy")

    [message] = notices(session, shipment, "customs")
    assert (message.data["rule"], message.data["basis"]) == (
        "no.control.mark",
        "FOR-2004-02-24-470 §12 first and second paragraphs",
    )
    assert {
        name: message.data[name]
        for name in ("certificate", "controlled_copy", "importer", "carats", "parcels")
    } == {
        "certificate": "CA123456",
        "controlled_copy": copy.number,
        "importer": IMPORTER,
        "carats": "123.45",
        "parcels": 2,
    }
    assert message.data["permit_granted_on"] == "2026-11-24"
    assert "Permit granted: import into Norway, KP certificate CA123456" in message.subject
    assert "24 November 2026" in message.body and "Carats: 123.45" in message.body


def test_no_permit_is_notified_while_a_control_is_missing(session, service):
    shipment = service.present(session, import_payload(), OFFICER).shipment
    act(session, service, shipment, "store_bonded")
    act(session, service, shipment, "control_documents", inputs=PASS)
    with pytest.raises(LawForbids, match="identity control has not been recorded"):
        act(session, service, shipment, "verify")
    assert notices(session, shipment) == []
    assert documents(session, shipment, "norway.controlled_copy") == []


def test_detaining_a_controlled_import_revokes_the_control_mark(session, service):
    shipment = verified_import(session, service)
    held = act(session, service, shipment, "hold", reason="the importer's registration is void")
    [copy] = documents(session, held, "norway.controlled_copy")
    assert copy.status == DocumentStatus.REVOKED
    assert copy.status_changes[-1].reason == "hold: the importer's registration is void"
    with pytest.raises(ActionNotAvailable):
        act(session, service, held, "release")  # customs clears nothing without the permit


def test_a_detained_import_is_cleared_only_once_its_control_is_completed(session, service):
    shipment = verified_import(session, service)
    act(session, service, shipment, "hold", reason="seal on K1 looks re-glued")
    with pytest.raises(LawForbids) as refused:
        act(session, service, shipment, "remediate", reason="seal confirmed by the issuer")
    [stop] = [f for f in refused.value.findings if f.stops]
    assert (stop.rule, stop.basis) == ("no.import.gardermoen", "FOR-2004-02-24-470 §9")

    resumed = act(session, service, shipment, "resume_control", reason="seal confirmed genuine")
    assert resumed.state == "presented"
    act(session, service, shipment, "verify")  # stored and controlled before the detention
    first, second = documents(session, shipment, "norway.controlled_copy")
    assert (first.status, second.status) == (DocumentStatus.REVOKED, DocumentStatus.VALID)
    assert len(notices(session, shipment, "customs")) == 2  # the permit, granted again
    assert act(session, service, shipment, "release").state == "released"


# -- §12: a suspected offence ----------------------------------------------------------------


def test_a_suspected_offence_is_reported_to_tollvesenets_investigators_only(
    session, service, clock
):
    clock.now = datetime(2026, 11, 23, 13, 15, tzinfo=UTC)
    shipment = service.present(session, import_payload(), OFFICER).shipment
    with pytest.raises(Forbidden, match="reserved to: admin, supervisor"):
        act(session, service, shipment, "notify_customs_suspicion", reason=GROUNDS)
    reported = act(
        session, service, shipment, "notify_customs_suspicion", SUPERVISOR, reason=GROUNDS
    )
    assert reported.state == "presented"  # the control goes on
    assert finding(reported, "no.control.suspicion").data == {
        "notify": "Tollvesenet",
        "audience": "customs-investigation",
    }

    [message] = notices(session, shipment)
    assert message.audience == "customs-investigation"
    assert (message.data["rule"], message.data["basis"]) == (
        "no.control.suspicion",
        "FOR-2004-02-24-470 §12 third paragraph",
    )
    assert (message.data["decided_by"], message.data["grounds"]) == ("supervisor.no", GROUNDS)
    assert message.data["restricted"] is True
    assert message.body.startswith("RESTRICTED")
    assert GROUNDS not in message.subject  # an unconfigured audience logs the subject alone
    assert "Decided at: 2026-11-23 14:15 CET" in message.body


def test_the_grounds_of_a_suspicion_never_reach_the_clearance_offices(session, service):
    shipment = service.present(session, import_payload(), OFFICER).shipment
    act(session, service, shipment, "notify_customs_suspicion", SUPERVISOR, reason=GROUNDS)
    for action, inputs in [
        ("store_bonded", None),
        ("control_documents", PASS),
        ("control_identity", PASS),
        ("verify", None),
    ]:
        act(session, service, shipment, action, inputs=inputs)
    customs = notices(session, shipment, "customs")
    assert [m.data["rule"] for m in customs] == ["no.control.mark"]
    for message in customs:
        assert GROUNDS not in f"{message.subject} {message.body} {message.data}"
        assert "supervisor.no" not in f"{message.body} {message.data}"


# -- §5, §6, §10: the export under a Norwegian KP certificate -----------------------------------


def test_an_export_to_a_non_participant_is_refused(session, service):
    found = outcomes(service.check(session, export_payload(destination="LY"), OFFICER))
    assert found["no.export.conditions"] == "refuse"
    assert outcomes(service.check(session, export_payload(), OFFICER))["no.export.conditions"] == (
        "pass"
    )


def test_an_export_travels_under_a_norwegian_certificate(session, service):
    foreign = export_payload(**{"certificate.issuing_country": "BE", "certificate.number": "BE1"})
    assert outcomes(service.check(session, foreign, OFFICER))["no.export.conditions"] == "refuse"


def test_the_authority_seals_an_export_before_it_issues_the_certificate(session, service):
    shipment = controlled_export(session, service)
    with pytest.raises(LawForbids, match="sealed_by_authority") as refused:
        act(session, service, shipment, "verify")
    assert outcomes(refused.value.findings)["no.export.conditions"] == "hold"
    assert documents(session, shipment, "norway.kp_certificate") == []


def test_validating_an_export_issues_the_norwegian_kp_certificate(session, service, clock):
    clock.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    shipment = validated_export(session, service)

    [certificate] = documents(session, shipment, "norway.kp_certificate")
    assert re.fullmatch(r"NO\d{6}", certificate.number)
    assert (certificate.issued_on, certificate.valid_until) == (
        date(2026, 11, 23),
        date(2027, 1, 23),
    )
    assert certificate.content["rule"] == "no.export.conditions"
    assert certificate.content["basis"].startswith("FOR-2004-02-24-470 §5 and §6")
    assert documents(session, shipment, "norway.controlled_copy") == []  # that is for imports

    # Tollvesenet is told of the export permit, under the certificate just issued (§12).
    [message] = notices(session, shipment, "customs")
    assert (message.data["certificate"], message.data["destination"]) == (certificate.number, "BE")
    assert (message.data["exporter"], message.data["parcels"]) == (EXPORTER, 2)
    assert message.data["permit_granted_on"] == "2026-11-23"
    assert "export from Norway" in message.subject


def test_customs_lets_an_export_out_only_with_the_permit_and_a_valid_certificate(
    session, service, clock
):
    shipment = validated_export(session, service)
    [certificate] = documents(session, shipment, "norway.kp_certificate")
    clock.advance(days=2)
    exported = act(session, service, shipment, "export")
    assert exported.state == "exported"
    assert outcomes(exported.events[-1].findings)["no.export.permit"] == "pass"
    assert finding(exported, "no.export.conditions").data == {"certificate": certificate.number}


def test_without_a_valid_norwegian_certificate_nothing_leaves(session, service, runtime):
    shipment = validated_export(session, service)
    [certificate] = documents(session, shipment, "norway.kp_certificate")
    runtime.documents.change_status(
        session, certificate.number, DocumentStatus.REVOKED, SUPERVISOR, "issued in error"
    )
    with pytest.raises(LawForbids, match=f"{certificate.number} was revoked") as refused:
        act(session, service, shipment, "export")
    assert outcomes(refused.value.findings)["no.export.conditions"] == "hold"


def test_an_expired_norwegian_certificate_does_not_take_the_goods_out(session, service, clock):
    clock.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    shipment = validated_export(session, service)
    clock.now = datetime(2027, 1, 24, 9, 0, tzinfo=UTC)  # valid until 23 January 2027
    with pytest.raises(LawForbids, match="expired on 23 January 2027"):
        act(session, service, shipment, "export")


def test_a_detained_export_leaves_only_under_a_permit_granted_anew(session, service):
    shipment = validated_export(session, service)
    act(session, service, shipment, "hold", reason="destination's authority asks to wait")
    with pytest.raises(LawForbids) as refused:
        act(session, service, shipment, "remediate", reason="the authority agrees")
    [stop] = [f for f in refused.value.findings if f.stops]
    assert (stop.rule, stop.basis) == ("no.export.permit", "FOR-2004-02-24-470 §10")

    act(session, service, shipment, "resume_control", reason="the destination's authority agrees")
    act(session, service, shipment, "verify", inputs=SEALED)
    first, second = documents(session, shipment, "norway.kp_certificate")
    assert (first.status, second.status) == (DocumentStatus.REVOKED, DocumentStatus.VALID)
    exported = act(session, service, shipment, "export")
    assert finding(exported, "no.export.conditions").data == {"certificate": second.number}


# -- §5 re-export -----------------------------------------------------------------------------


def test_a_reexport_without_the_import_certificate_is_refused(session, service):
    without = export_payload(reexport="yes")
    with pytest.raises(InvalidInput) as missing:  # §5: the certificate is asked for, typed
        service.check(session, without, OFFICER)
    assert [e.field for e in missing.value.errors] == ["import_certificate"]
    unknown = export_payload(reexport="yes", import_certificate="CA999999")
    assert outcomes(service.check(session, unknown, OFFICER))["no.reexport.proof"] == "refuse"
    cleared_import(session, service)
    proven = export_payload(reexport="yes", import_certificate="CA123456")
    assert outcomes(service.check(session, proven, OFFICER))["no.reexport.proof"] == "pass"


def test_goods_imported_but_not_yet_cleared_cannot_be_reexported(session, service):
    verified_import(session, service)  # the permit granted, customs clearance still to come
    pending = export_payload(reexport="yes", import_certificate="CA123456")
    shipment = controlled_export(session, service, reexport="yes", import_certificate="CA123456")
    assert outcomes(service.check(session, pending, OFFICER))["no.reexport.proof"] == "refuse"
    with pytest.raises(LawForbids, match="no import into Norway under certificate CA123456"):
        act(session, service, shipment, "verify", inputs=SEALED)


# -- §6, §12 appeals to Utenriksdepartementet ------------------------------------------------


def appeal(session, service, shipment, decided: str, reason: str):
    act(session, service, shipment, "lodge_appeal", reason="the party's appeal of 24 November")
    act(session, service, shipment, "forward_appeal", reason="forwarded to UD, ref 26/1187")
    return act(session, service, shipment, f"{decided}_appeal", reason=reason)


def test_an_appeal_to_the_ministry_overturns_a_refusal(session, service, clock):
    clock.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    shipment = service.present(session, import_payload(), OFFICER).shipment
    refused = act(session, service, shipment, "refuse", reason="certificate judged forged")
    refusal = refused.events[-1]
    clock.advance(days=14)
    overturned = appeal(
        session, service, shipment, "overturn", "UD 26/1187: certificate confirmed genuine"
    )
    assert overturned.state == "presented"
    found = finding(overturned, "no.control.appeal")
    assert found.basis == "FOR-2004-02-24-470 §12 fourth paragraph"
    assert found.message == ("Utenriksdepartementet overturned the control decision of 2026-11-23")
    # the appeal names the decision appealed, and where the ledger sealed it
    appealed = found.data["appealed"]
    assert (appealed["decision"], appealed["action"], appealed["reason"]) == (
        refusal.id,
        "refuse",
        "certificate judged forged",
    )
    assert appealed["on"] == "2026-11-23" and appealed["by"] == OFFICER.name
    assert appealed["ledger"]["kind"] == "decision" and appealed["ledger"]["key"] == str(refusal.id)
    assert re.fullmatch(r"[0-9a-f]{64}", appealed["ledger"]["leaf_hash"])
    assert found.data["lodged"]["reason"] == "the party's appeal of 24 November"

    # examined again, the import is controlled and cleared
    for action, inputs in [
        ("store_bonded", None),
        ("control_documents", PASS),
        ("control_identity", PASS),
        ("verify", None),
        ("release", None),
    ]:
        act(session, service, shipment, action, inputs=inputs)
    assert shipment.state == "released"


def test_an_export_refusal_is_appealed_under_section_6_and_overturned(session, service):
    shipment = validated_export(session, service)
    [first] = documents(session, shipment, "norway.kp_certificate")
    act(session, service, shipment, "hold", reason="destination's authority unreachable")
    act(session, service, shipment, "refuse", reason="the certificate is not to be issued")
    assert first.status == DocumentStatus.REVOKED  # a refusal withdraws the certificate

    overturned = appeal(session, service, shipment, "overturn", "UD: issue the certificate")
    found = finding(overturned, "no.certificate.appeal")
    assert found.basis == "FOR-2004-02-24-470 §6"
    assert found.message.startswith(
        "Utenriksdepartementet overturned the decision on the Norwegian certificate"
    )
    assert "no.control.appeal" not in outcomes(overturned.events[-1].findings)

    act(session, service, shipment, "verify", inputs=SEALED)
    second = documents(session, shipment, "norway.kp_certificate")[-1]
    assert second.number != first.number and second.status == DocumentStatus.VALID
    assert act(session, service, shipment, "export").state == "exported"


def test_an_appeal_upheld_leaves_the_export_refused(session, service):
    shipment = service.present(session, export_payload(), OFFICER).shipment
    act(session, service, shipment, "refuse", reason="destination unclear")
    upheld = appeal(session, service, shipment, "uphold", "UD upheld the refusal")
    assert upheld.state == "refused"
    appeals = {r: o for r, o in outcomes(upheld.events[-1].findings).items() if "appeal" in r}
    assert appeals == {"no.certificate.appeal": "info"}
    assert documents(session, shipment, "norway.kp_certificate") == []
