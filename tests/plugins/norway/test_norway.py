"""FOR-2004-02-24-470 as Norges Gullsmedforbund applies it, scenario by scenario."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from caratflow.errors import Conflict, Forbidden, InvalidInput, LawForbids, NotFound, ReasonRequired
from caratflow.models import Role
from caratflow.parties import party_json, register_party
from caratflow.plugins.norway.identity import valid_birth_number, valid_organisation_number
from caratflow.plugins.norway.rules import keep_until
from caratflow.retention import purge, retention_of
from caratflow.service import Actor
from caratflow.testing import outcomes, shipment_payload

OFFICER = Actor("officer.no", Role.OFFICER, frozenset({"NO"}))
SUPERVISOR = Actor("supervisor.no", Role.SUPERVISOR, frozenset({"NO"}))
ADMIN = Actor("admin.no", Role.ADMIN, frozenset({"NO"}))
IMPORTER = "Thune Gullsmed AS"
EXPORTER = "Nordic Rough AS"
PASS = {"outcome": "pass"}


def import_payload(**changes: Any) -> dict[str, Any]:
    return shipment_payload(
        **{
            "authority": "NO",
            "entry_point": "OSL",
            "presented_at": "2026-11-17T08:30:00+01:00",
            "certificate.importer.name": IMPORTER,
            **changes,
        }
    )


def export_payload(**changes: Any) -> dict[str, Any]:
    payload = shipment_payload(
        **{
            "authority": "NO",
            "direction": "export",
            "entry_point": "OSL",
            "certificate.number": "NO2026-0042",
            "certificate.issuing_country": "NO",
            "certificate.issuing_authority": "Norges Gullsmedforbund",
            "certificate.exporter.name": EXPORTER,
            **changes,
        }
    )
    payload.setdefault("destination", "BE")
    return payload


def register(session, runtime, name: str, **fields: Any):
    return register_party(
        session,
        runtime.plugins,
        {
            "authority": "NO",
            "name": name,
            "address": "Karl Johans gate 31, 0159 Oslo",
            "phone": "+47 22 42 50 10",
            "roles": ["importer", "exporter"],
            "organisation_number": "923609016",
            **fields,
        },
        OFFICER,
    )


@pytest.fixture
def registered(session, runtime):
    register(session, runtime, IMPORTER)
    register(session, runtime, EXPORTER)


def act(session, service, shipment, action, actor=OFFICER, **kw):
    return service.act(session, shipment.id, action, actor, **kw)


def cleared_import(session, service, **changes):
    shipment = service.present(session, import_payload(**changes), OFFICER).shipment
    for action, inputs in [
        ("store_bonded", None),
        ("control_documents", PASS),
        ("control_identity", PASS),
        ("verify", None),
        ("release", None),
    ]:
        act(session, service, shipment, action, inputs=inputs)
    return shipment


# -- §9 routing ------------------------------------------------------------------------------


def test_an_import_through_bergen_is_refused_citing_section_9(session, service, registered):
    findings = service.check(session, import_payload(entry_point="BGO"), OFFICER)
    [routing] = [f for f in findings if f.rule == "no.import.gardermoen"]
    assert (routing.outcome.value, routing.basis) == ("refuse", "FOR-2004-02-24-470 §9")
    assert "BGO" in routing.message


def test_an_import_is_controlled_only_after_storage_in_the_bonded_warehouse(
    session, service, registered
):
    shipment = service.present(session, import_payload(), OFFICER).shipment
    assert "store_bonded" in service.available_actions(shipment)
    for action in ("control_documents", "control_identity"):
        act(session, service, shipment, action, inputs=PASS)
    with pytest.raises(LawForbids, match="bonded warehouse"):
        act(session, service, shipment, "verify")
    act(session, service, shipment, "store_bonded")
    assert act(session, service, shipment, "verify").state == "verified"


def test_a_fully_controlled_import_is_cleared_and_the_permit_is_marked(
    session, service, registered
):
    shipment = cleared_import(session, service)
    assert shipment.state == "released"
    verify = next(e for e in shipment.events if e.action == "verify")
    outcomes = {f.rule: f.outcome for f in verify.findings}
    assert outcomes["no.control.mark"] == "info"
    assert outcomes["no.authority.fees"] == "info"
    mark = next(f for f in verify.findings if f.rule == "no.control.mark")
    assert mark.data == {"notify": "Tollvesenet"}


# -- §11 controls ----------------------------------------------------------------------------


def test_the_permit_waits_for_document_and_identity_controls(session, service, registered):
    shipment = service.present(session, import_payload(), OFFICER).shipment
    act(session, service, shipment, "store_bonded")
    with pytest.raises(LawForbids) as refused:
        act(session, service, shipment, "verify")
    missing = {f.rule for f in refused.value.findings if f.outcome.blocks}
    assert missing == {"no.control.document", "no.control.identity"}


def test_a_control_records_its_outcome_and_a_failed_one_holds_the_permit(
    session, service, registered
):
    shipment = service.present(session, import_payload(), OFFICER).shipment
    act(session, service, shipment, "store_bonded")
    with pytest.raises(InvalidInput, match=r"inputs\.outcome"):
        act(session, service, shipment, "control_identity")
    act(session, service, shipment, "control_documents", inputs=PASS)
    act(
        session,
        service,
        shipment,
        "control_identity",
        inputs={"outcome": "fail"},
        reason="marking on K1 reads BE-DO-44121, the certificate says 44120",
    )
    with pytest.raises(LawForbids, match="identity control failed"):
        act(session, service, shipment, "verify")
    assert shipment.events[-1].reason.startswith("marking on K1")


def test_a_physical_control_needs_its_reason(session, service, registered):
    shipment = service.present(session, import_payload(), OFFICER).shipment
    with pytest.raises(ReasonRequired):
        act(session, service, shipment, "control_physical", inputs=PASS)
    act(
        session,
        service,
        shipment,
        "control_physical",
        inputs=PASS,
        reason="value per carat far above the parcel's declared quality",
    )
    found = outcomes(service.check(session, import_payload(), OFFICER))
    assert "no.control.physical" not in found  # only where the authority found reason
    assert outcomes(shipment.events[-1].findings)["no.control.physical"] == "pass"


def test_freight_documents_can_be_checked_and_a_failure_holds(session, service, registered):
    shipment = service.present(session, import_payload(), OFFICER).shipment
    act(session, service, shipment, "control_freight_documents", inputs={"outcome": "fail"})
    assert outcomes(shipment.events[-1].findings)["no.control.freight_docs"] == "hold"


def test_a_seal_mismatch_is_held(session, service, registered):
    broken = import_payload(**{"containers.0.seals_intact": False})
    found = outcomes(service.check(session, broken, OFFICER))
    assert found["no.control.identity"] == "hold"
    assert found["no.import.conditions"] == "hold"


def test_the_certificate_is_compared_with_the_advance_notice_field_by_field(
    session, service, registered
):
    notice = {
        "certificate_number": "CA123456",
        "parcels": 3,
        "carats": "123.450",
        "exporter": "Arctic Rough Ltd",
        "importer": IMPORTER,
    }
    findings = service.check(session, import_payload(advance_notice=notice), OFFICER)
    [document] = [f for f in findings if f.rule == "no.control.document"]
    assert document.outcome.value == "hold"
    assert document.data["differences"] == {"parcels": {"announced": "3", "presented": "2"}}


def test_an_import_from_a_non_participant_is_refused_citing_section_4(session, service, registered):
    libyan = import_payload(**{"certificate.issuing_country": "LY", "certificate.number": "LY9"})
    assert outcomes(service.check(session, libyan, OFFICER))["no.import.conditions"] == "refuse"


# -- §7 registration -------------------------------------------------------------------------


def test_an_unregistered_exporter_is_refused_then_allowed_to_register_late(
    session, service, runtime
):
    shipment = service.present(session, export_payload(), OFFICER).shipment
    assert outcomes(shipment.events[0].findings)["no.registration"] == "refuse"
    with pytest.raises(LawForbids, match="not registered"):
        act(session, service, shipment, "verify")
    with pytest.raises(Forbidden, match="reserved to: admin, supervisor"):
        act(session, service, shipment, "allow_late_registration", reason="first export")
    act(
        session,
        service,
        shipment,
        "allow_late_registration",
        SUPERVISOR,
        reason="first export of a new firm; registration form received the same day",
    )
    register(session, runtime, EXPORTER)
    act(session, service, shipment, "control_identity", inputs=PASS)
    assert act(session, service, shipment, "verify").state == "verified"


def test_registration_checks_the_organisation_numbers_mod11_digit(session, runtime):
    with pytest.raises(InvalidInput, match="not a valid Norwegian organisation number"):
        register(session, runtime, "Typo AS", organisation_number="923609017")
    with pytest.raises(InvalidInput, match="organisation number or the birth number"):
        register(session, runtime, "Nobody AS", organisation_number=None)
    assert register(session, runtime, "Right AS", organisation_number="923 609 016").id


def test_a_persons_birth_number_is_masked_for_officers_and_shown_to_supervisors(session, runtime):
    person = register(
        session, runtime, "Kari Nordmann", organisation_number=None, national_id="01019012480"
    )
    assert party_json(person, OFFICER)["national_id"] == "*********80"
    assert party_json(person, SUPERVISOR)["national_id"] == "01019012480"
    with pytest.raises(Conflict, match="registered with NO already"):
        register(session, runtime, "Kari Nordmann", national_id="01019012480")


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("923609016", True),
        ("974760673", True),
        ("923609017", False),
        ("92360901", False),
    ],
)
def test_organisation_numbers(number, valid):
    assert valid_organisation_number(number) is valid


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("01019012480", True),
        ("01019012481", False),
        ("01019012470", False),
        ("0101901248", False),
    ],
)
def test_birth_numbers(number, valid):
    assert valid_birth_number(number) is valid


# -- §5, §10 export and re-export ------------------------------------------------------------


def test_an_export_to_a_non_participant_is_refused(session, service, registered):
    found = outcomes(service.check(session, export_payload(destination="LY"), OFFICER))
    assert found["no.export.conditions"] == "refuse"
    assert outcomes(service.check(session, export_payload(), OFFICER))["no.export.conditions"] == (
        "pass"
    )


def test_an_export_travels_under_a_norwegian_certificate(session, service, registered):
    foreign = export_payload(**{"certificate.issuing_country": "BE", "certificate.number": "BE1"})
    assert outcomes(service.check(session, foreign, OFFICER))["no.export.conditions"] == "refuse"


def test_a_reexport_without_the_import_certificate_is_refused(session, service, registered):
    without = export_payload(reexport=True)
    assert outcomes(service.check(session, without, OFFICER))["no.reexport.proof"] == "refuse"
    unknown = export_payload(reexport=True, import_certificate="CA999999")
    assert outcomes(service.check(session, unknown, OFFICER))["no.reexport.proof"] == "refuse"
    cleared_import(session, service)
    proven = export_payload(reexport=True, import_certificate="CA123456")
    assert outcomes(service.check(session, proven, OFFICER))["no.reexport.proof"] == "pass"


def test_customs_lets_an_export_out_only_with_the_permit(session, service, registered):
    shipment = service.present(session, export_payload(), OFFICER).shipment
    for action in ("control_documents", "control_identity"):
        act(session, service, shipment, action, inputs=PASS)
    act(session, service, shipment, "verify")
    exported = act(session, service, shipment, "export")
    assert outcomes(exported.events[-1].findings)["no.export.permit"] == "pass"


# -- §6, §12 appeals and suspicion -----------------------------------------------------------


def test_an_appeal_to_the_ministry_overturns_a_refusal(session, service, registered):
    shipment = service.present(session, import_payload(), OFFICER).shipment
    act(session, service, shipment, "refuse", reason="certificate judged forged")
    act(session, service, shipment, "lodge_appeal", reason="importer's appeal of 20 Nov")
    act(session, service, shipment, "forward_appeal", reason="forwarded to UD, ref 26/1187")
    overturned = act(
        session,
        service,
        shipment,
        "overturn_appeal",
        reason="UD 26/1187: certificate confirmed genuine by the issuing authority",
    )
    assert overturned.state == "presented"
    [appeal] = [f for f in overturned.events[-1].findings if f.rule.endswith(".appeal")]
    assert (appeal.rule, appeal.basis) == (
        "no.control.appeal",
        "FOR-2004-02-24-470 §12 fourth paragraph",
    )
    assert appeal.message.startswith("Utenriksdepartementet overturned the control decision")


def test_an_appeal_against_an_export_certificate_decision_cites_section_6(
    session, service, registered
):
    shipment = service.present(session, export_payload(), OFFICER).shipment
    act(session, service, shipment, "refuse", reason="destination unclear")
    act(session, service, shipment, "lodge_appeal", reason="exporter appeals")
    act(session, service, shipment, "forward_appeal", reason="to UD")
    upheld = act(session, service, shipment, "uphold_appeal", reason="UD upheld")
    assert upheld.state == "refused"
    appeals = {r: o for r, o in outcomes(upheld.events[-1].findings).items() if "appeal" in r}
    assert appeals == {"no.certificate.appeal": "info"}


def test_only_a_supervisor_tells_customs_of_a_suspected_offence(session, service, registered):
    shipment = service.present(session, import_payload(), OFFICER).shipment
    with pytest.raises(Forbidden):
        act(session, service, shipment, "notify_customs_suspicion", reason="x")
    act(
        session,
        service,
        shipment,
        "notify_customs_suspicion",
        SUPERVISOR,
        reason="seal numbers reused from an earlier consignment",
    )
    [finding] = [f for f in shipment.events[-1].findings if f.rule == "no.control.suspicion"]
    assert finding.data == {"notify": "Tollvesenet"}


# -- §13 retention ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cleared", "first_day_to_purge"),
    [
        (date(2026, 11, 23), date(2036, 11, 23)),
        (date(2028, 2, 29), date(2038, 3, 1)),  # a leap day never ends ten years early
        (date(2027, 2, 28), date(2037, 2, 28)),
        (date(2031, 3, 1), date(2041, 3, 1)),
    ],
)
def test_retention_runs_ten_years_from_the_clearance_date(cleared, first_day_to_purge):
    assert keep_until(cleared, date(2026, 1, 1)) == first_day_to_purge


def test_retention_counts_from_clearance_not_presentation(
    session, service, registered, plugin_host
):
    shipment = cleared_import(session, service, presented_at="2025-06-02T09:00:00+02:00")
    cleared_on = shipment.events[-1].at.astimezone(ZoneInfo("Europe/Oslo")).date()
    assert cleared_on > date(2025, 6, 2)
    retention = retention_of(plugin_host, shipment)
    assert retention.keep_until == keep_until(cleared_on, date(2025, 6, 2))
    assert retention.keep_until.year == cleared_on.year + 10
    release = shipment.events[-1]
    assert outcomes(release.findings)["no.retain.10y"] == "info"


def test_a_purge_before_ten_years_is_refused_and_after_them_leaves_a_tombstone(
    session, service, registered, plugin_host, runtime
):
    from caratflow import ledger
    from caratflow.signing import load_private_key

    key = load_private_key(runtime.settings.signing_key_path)
    shipment = cleared_import(session, service)
    until = retention_of(plugin_host, shipment).keep_until
    day_before = until - timedelta(days=1)
    with pytest.raises(Conflict, match=f"must be kept until {until:%Y-%m-%d}"):
        purge(session, plugin_host, shipment.id, day_before, ADMIN, "routine")
    with pytest.raises(Forbidden):
        purge(session, plugin_host, shipment.id, until, OFFICER, "routine")
    ledger.sequence_pending(session, key)
    record = purge(session, plugin_host, shipment.id, until, ADMIN, "ten years passed")
    ledger.sequence_pending(session, key)
    assert ledger.verify_ledger(session, key.public_key()).ok  # the purge is accounted for
    assert (record.certificate_number, record.kept_until) == ("CA123456", until)
    with pytest.raises(NotFound, match="no shipment"):
        service.get(session, shipment.id, OFFICER)


def test_an_unfinished_shipment_is_never_purgeable(session, service, registered, plugin_host):
    shipment = service.present(session, import_payload(), OFFICER).shipment
    assert retention_of(plugin_host, shipment).keep_until is None
    with pytest.raises(Conflict, match="not yet known"):
        purge(session, plugin_host, shipment.id, date(2099, 1, 1), ADMIN, "tidy up")


# -- §3 annual report ------------------------------------------------------------------------


def test_the_annual_report_to_the_ministry_counts_controls_and_fees(
    session, service, registered, plugin_host
):
    from caratflow.reports import run_report

    cleared_import(session, service)
    refused = service.present(session, import_payload(entry_point="BGO"), OFFICER).shipment
    act(session, service, refused, "refuse", reason="entered through Bergen")
    result = run_report(session, plugin_host, "no.authority.fees", "NO", "2026", OFFICER)
    counts = {row["activity"]: row["count"] for row in result.rows}
    assert counts["import shipments presented"] == 2
    assert counts["permits granted"] == 1 and counts["refusals"] == 1
    assert counts["document controls"] == 1 and counts["imports cleared by customs"] == 1
    assert counts["control fees charged (NOK)"] == Decimal("1500.00")
    assert result.as_json()["basis"] == "FOR-2004-02-24-470 §3"


def test_every_record_of_a_shipment_is_handed_over_in_one_verifiable_bundle(
    session, service, registered
):
    import hashlib
    import io
    import json
    import zipfile

    from caratflow.handover import handover_bundle

    shipment = cleared_import(session, service)
    bundle = zipfile.ZipFile(io.BytesIO(handover_bundle(session, service, shipment.id, OFFICER)))
    manifest = json.loads(bundle.read("manifest.json"))
    assert set(manifest["files"]) <= set(bundle.namelist())
    for name, digest in manifest["files"].items():
        assert hashlib.sha256(bundle.read(name)).hexdigest() == digest
    history = json.loads(bundle.read("history.json"))
    assert [e["action"] for e in history] == [
        "present",
        "store_bonded",
        "control_documents",
        "control_identity",
        "verify",
        "release",
    ]
    assert json.loads(bundle.read("shipment.json"))["certificate"]["number"] == "CA123456"
    with pytest.raises(NotFound):
        handover_bundle(
            session, service, shipment.id, Actor("officer.be", Role.OFFICER, frozenset({"BE"}))
        )
