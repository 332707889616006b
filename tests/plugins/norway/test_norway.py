"""FOR-2004-02-24-470 as Norges Gullsmedforbund applies it, scenario by scenario: routing
(§9), controls (§11), the advance notice (§8), registration (§7), retention and hand-over
(§13), and fees and the annual report (§3). The permit, the certificates, exports and
re-exports, the notices to Tollvesenet and the appeals (§5, §6, §10, §12) are in
``test_permits_and_appeals.py``."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest

from caratflow.case.access import Actor
from caratflow.case.parties import party_json, register_party
from caratflow.errors import Conflict, Forbidden, InvalidInput, NotFound, ReasonRequired
from caratflow.law.registry import Registry
from caratflow.law.rules import LawForbids
from caratflow.ledger import sequencer, verification
from caratflow.models import Role
from caratflow.plugins.norway.identity import valid_birth_number, valid_organisation_number
from caratflow.plugins.norway.rules import keep_until
from caratflow.records.retention import purge, retention_of
from caratflow.testing.payloads import outcomes, shipment_payload

OFFICER = Actor("officer.no", Role.OFFICER, frozenset({"NO"}))
SUPERVISOR = Actor("supervisor.no", Role.SUPERVISOR, frozenset({"NO"}))
ADMIN = Actor("admin.no", Role.ADMIN, frozenset({"NO"}))
IMPORTER = "Thune Gullsmed AS"
EXPORTER = "Nordic Rough AS"
PASS = {"outcome": "pass"}
SEALED = {"sealed_by_authority": "yes"}  # an export's containers sealed by the authority (§5)


# The advance notice (§8) the importer sent on Thursday 12 November for a dispatch on
# Monday 16 November: in time, and saying what the certificate will say (§11).
NOTICE = {
    "received_at": "2026-11-12T10:00:00+01:00",
    "dispatch_on": "2026-11-16",
    "certificate_number": "CA123456",
    "parcels": 2,
    "carats": "123.45",
    "exporter": "Arctic Rough Ltd",
    "importer": IMPORTER,
}


def import_payload(**changes: Any) -> dict[str, Any]:
    return shipment_payload(
        **{
            "authority": "NO",
            "entry_point": "OSL",
            "presented_at": "2026-11-17T08:30:00+01:00",
            "certificate.importer.name": IMPORTER,
            "advance_notice": NOTICE,
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
    payload.setdefault(
        "advance_notice", {"received_at": "2026-11-18T09:00:00+01:00", "dispatch_on": "2026-11-20"}
    )
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


def verified_import(session, service, **changes):
    """Stored at Gardermoen, its documents and identity controlled, the permit granted."""
    shipment = service.present(session, import_payload(**changes), OFFICER).shipment
    for action, inputs in [
        ("store_bonded", None),
        ("control_documents", PASS),
        ("control_identity", PASS),
        ("verify", None),
    ]:
        act(session, service, shipment, action, inputs=inputs)
    return shipment


def cleared_import(session, service, **changes):
    """A verified import that customs cleared (``release``)."""
    return act(session, service, verified_import(session, service, **changes), "release")


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
    notice = {**NOTICE, "parcels": 3, "carats": "123.450"}  # on the set form: timed (issue 23)
    findings = service.check(session, import_payload(advance_notice=notice), OFFICER)
    [document] = [f for f in findings if f.rule == "no.control.document"]
    assert document.outcome.value == "hold"
    assert document.data["differences"] == {"parcels": {"announced": "3", "presented": "2"}}


def test_an_import_from_a_non_participant_is_refused_citing_section_4(session, service, registered):
    libyan = import_payload(**{"certificate.issuing_country": "LY", "certificate.number": "LY9"})
    assert outcomes(service.check(session, libyan, OFFICER))["no.import.conditions"] == "refuse"


# -- §8 advance notice ----------------------------------------------------------------------


def notified(received_at: str, dispatch_on: str, presented_at: str) -> dict[str, Any]:
    return import_payload(
        presented_at=presented_at,
        advance_notice={**NOTICE, "received_at": received_at, "dispatch_on": dispatch_on},
    )


@pytest.mark.parametrize(
    ("received_at", "dispatch_on", "outcome", "working_days_before"),
    [
        # Received on Ascension Day (Thursday 14 May 2026) for a dispatch the day after.
        ("2026-05-14T09:00:00+02:00", "2026-05-15", "warn", 0),
        # Received on the day after Ascension Day for a dispatch that same day.
        ("2026-05-15T08:00:00+02:00", "2026-05-15", "warn", 0),
        # Wednesday 13 May is the last working day before that Friday.
        ("2026-05-13T16:00:00+02:00", "2026-05-15", "pass", 1),
        # The day after Ascension Day is a working day: in time for Monday 18 May.
        ("2026-05-15T08:00:00+02:00", "2026-05-18", "pass", 1),
    ],
)
def test_the_advance_notice_must_arrive_one_working_day_before_dispatch(
    session, service, registered, received_at, dispatch_on, outcome, working_days_before
):
    payload = notified(received_at, dispatch_on, presented_at="2026-05-18T10:00:00+02:00")
    shipment = service.present(session, payload, OFFICER).shipment
    [notice] = [f for f in shipment.events[0].findings if f.rule == "no.advance_notice"]
    assert (notice.outcome, notice.basis) == (outcome, "FOR-2004-02-24-470 §8")
    assert notice.data["working_days_before"] == working_days_before


def test_a_late_notice_is_a_finding_that_does_not_stop_the_control(session, service, registered):
    late = notified("2026-05-14T09:00:00+02:00", "2026-05-15", "2026-05-18T10:00:00+02:00")
    shipment = service.present(session, late, OFFICER).shipment
    [notice] = [f for f in shipment.events[0].findings if f.rule == "no.advance_notice"]
    assert "Thursday 14 May 2026 (Ascension Day, not a working day)" in notice.message
    for action, inputs in [
        ("store_bonded", None),
        ("control_documents", PASS),
        ("control_identity", PASS),
    ]:
        act(session, service, shipment, action, inputs=inputs)
    verified = act(session, service, shipment, "verify")
    assert verified.state == "verified"
    assert outcomes(verified.events[0].findings)["no.advance_notice"] == "warn"


def test_without_an_advance_notice_the_document_control_has_nothing_to_compare(
    session, service, registered
):
    payload = import_payload()
    del payload["advance_notice"]
    shipment = service.present(session, payload, OFFICER).shipment
    found = outcomes(shipment.events[0].findings)
    assert (found["no.advance_notice"], found["no.control.document"]) == ("warn", "hold")
    for action, inputs in [
        ("store_bonded", None),
        ("control_documents", PASS),
        ("control_identity", PASS),
    ]:
        act(session, service, shipment, action, inputs=inputs)
    with pytest.raises(LawForbids, match="no advance notice"):
        act(session, service, shipment, "verify")


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
    verified = act(session, service, shipment, "verify", inputs=SEALED)
    assert verified.state == "verified"
    assert outcomes(verified.events[-1].findings)["no.registration"] == "info"


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


def test_a_registration_names_the_party_its_address_and_phone(session, runtime):
    with pytest.raises(InvalidInput) as refused:
        register(session, runtime, "Uten Telefon AS", phone=None, address=None)
    assert {e.field for e in refused.value.errors} == {"phone", "address"}


@pytest.mark.parametrize(
    ("role", "shown"),
    [
        (Role.OFFICER, "*********80"),
        (Role.AUDITOR, "*********80"),
        (Role.SUPERVISOR, "01019012480"),
        (Role.ADMIN, "01019012480"),
    ],
)
def test_the_register_lists_a_birth_number_in_full_only_to_those_who_need_it(
    session, runtime, role, shown
):
    from caratflow.case import queries

    register(session, runtime, "Kari Nordmann", organisation_number=None, national_id="01019012480")
    register(session, runtime, IMPORTER)
    viewer = Actor(f"{role}.no", role, frozenset({"NO"}))
    listed = {p.name: party_json(p, viewer) for p in queries.parties(session, viewer, "NO")}
    assert listed["Kari Nordmann"]["national_id"] == shown
    assert listed[IMPORTER]["national_id"] is None
    assert listed[IMPORTER]["organisation_number"] == "923609016"  # a firm's is public


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


@pytest.mark.parametrize(
    ("presented_at", "cleared_at", "first_day_to_purge"),
    [
        # Cleared on a leap day: ten years on, 29 February does not exist; kept to 1 March.
        ("2028-02-25T10:00:00+01:00", "2028-02-29T10:00:00+01:00", date(2038, 3, 1)),
        # Presented in a common year, cleared after its 28 February.
        ("2027-02-26T10:00:00+01:00", "2027-03-01T10:00:00+01:00", date(2037, 3, 1)),
        # Presented on the leap day itself, cleared days later.
        ("2032-02-29T10:00:00+01:00", "2032-03-03T10:00:00+01:00", date(2042, 3, 3)),
        # Presented in December, cleared in January: the clearance's year counts.
        ("2031-12-30T10:00:00+01:00", "2032-01-02T00:30:00+01:00", date(2042, 1, 2)),
    ],
)
def test_retention_counts_from_clearance_not_presentation_across_leap_years(
    session, service, registered, plugin_host, clock, presented_at, cleared_at, first_day_to_purge
):
    presented = datetime.fromisoformat(presented_at)
    clock.now = presented.astimezone(UTC)
    shipment = verified_import(
        session,
        service,
        presented_at=presented_at,
        **{
            "certificate.issued_on": (presented - timedelta(days=5)).date().isoformat(),
            "certificate.expires_on": (presented + timedelta(days=55)).date().isoformat(),
        },
    )
    clock.now = datetime.fromisoformat(cleared_at).astimezone(UTC)
    released = act(session, service, shipment, "release")
    assert retention_of(plugin_host, released).keep_until == first_day_to_purge
    assert first_day_to_purge != keep_until(presented.date(), presented.date())
    release = released.events[-1].findings
    [retained] = [f for f in release if f.rule == "no.retain.10y"]
    assert retained.data["keep_until"] == first_day_to_purge.isoformat()


def test_a_refusal_is_kept_ten_years_from_the_final_decision(
    session, service, registered, plugin_host, clock
):
    clock.now = datetime(2028, 2, 29, 9, 0, tzinfo=UTC)
    shipment = service.present(session, import_payload(entry_point="BGO"), OFFICER).shipment
    refused = act(session, service, shipment, "refuse", reason="entered through Bergen (§9)")
    assert retention_of(plugin_host, refused).keep_until == date(2038, 3, 1)


def at_noon(day: date) -> datetime:
    """An instant on ``day`` in Oslo: what the legal clock reads then."""
    return datetime.combine(day, time(12), tzinfo=UTC)


def test_a_purge_before_ten_years_is_refused_and_after_them_leaves_a_tombstone(
    session, service, registered, plugin_host, runtime
):
    pass
    from caratflow.ledger.signing import load_private_key

    key = load_private_key(runtime.settings.signing_key_path)
    shipment = cleared_import(session, service)
    until = retention_of(plugin_host, shipment).keep_until
    day_before = until - timedelta(days=1)
    with pytest.raises(Conflict, match=f"must be kept until {until:%Y-%m-%d}"):
        purge(session, plugin_host, shipment.id, ADMIN, "routine", at_noon(day_before))
    with pytest.raises(Forbidden):
        purge(session, plugin_host, shipment.id, OFFICER, "routine", at_noon(until))
    sequencer.sequence_pending(session, key)
    importer = shipment.certificate.importer_name
    record = purge(session, plugin_host, shipment.id, ADMIN, "ten years passed", at_noon(until))
    # What is purged is no one's history any more (issue 28: the tallies forget it too).
    assert not Registry(session).party_history("NO", importer).seen_before
    sequencer.sequence_pending(session, key)
    assert verification.verify_ledger(session, key.public_key()).ok  # the purge is accounted for
    assert (record.certificate_number, record.kept_until) == ("CA123456", until)
    with pytest.raises(NotFound, match="no shipment"):
        service.get(session, shipment.id, OFFICER)


def test_the_purge_list_says_what_the_law_lets_go_of_and_from_when(
    session, service, registered, plugin_host, clock
):
    from caratflow.records.retention import retentions

    clock.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    cleared = cleared_import(session, service)
    waiting = service.present(session, import_payload(), OFFICER).shipment
    listed = {r.shipment.id: r for r in retentions(session, plugin_host, ADMIN)}
    assert listed[cleared.id].keep_until == date(2036, 11, 23)
    assert not listed[cleared.id].purgeable_on(date(2036, 11, 22))
    assert listed[cleared.id].purgeable_on(date(2036, 11, 23))
    assert listed[waiting.id].keep_until is None  # not cleared: kept, whatever the date
    assert not listed[waiting.id].purgeable_on(date(2099, 1, 1))


def test_an_unfinished_shipment_is_never_purgeable(session, service, registered, plugin_host):
    shipment = service.present(session, import_payload(), OFFICER).shipment
    assert retention_of(plugin_host, shipment).keep_until is None
    with pytest.raises(Conflict, match="not yet known"):
        purge(session, plugin_host, shipment.id, ADMIN, "tidy up", at_noon(date(2099, 1, 1)))


# -- §3 annual report ------------------------------------------------------------------------


def test_the_annual_report_to_the_ministry_counts_controls_and_fees(
    session, service, registered, plugin_host
):
    from caratflow.records.reports import run_report

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


def test_a_fee_schedule_above_the_average_cost_is_flagged_from_the_day_it_applies(
    session, service, registered, monkeypatch, tmp_path
):
    import shutil

    from caratflow.law.parameters import DatedParameters
    from caratflow.plugins.norway import rules

    folder = tmp_path / "parameters"
    shutil.copytree(rules.HERE / "parameters", folder)
    with (folder / "authority.toml").open("a", encoding="utf-8") as schedule:
        schedule.write(
            "\n[[control_fee_nok.values]]\neffective_from = 2026-06-01\n"
            'source = "a fee schedule raised above the reported cost"\nvalue = "2400.00"\n'
        )
    monkeypatch.setattr(rules, "PARAMETERS", DatedParameters.in_folder(folder))

    before = verified_import(
        session,
        service,
        presented_at="2026-05-18T10:00:00+02:00",
        advance_notice={
            **NOTICE,
            "certificate_number": "CA123400",
            "received_at": "2026-05-13T16:00:00+02:00",
            "dispatch_on": "2026-05-15",
        },
        **{"certificate.number": "CA123400"},  # one certificate, one consignment (§4)
    )
    after = verified_import(session, service)  # presented 17 November 2026
    fee = {
        shipment.id: next(f for f in shipment.events[-1].findings if f.rule == "no.authority.fees")
        for shipment in (before, after)
    }
    assert (fee[before.id].outcome, fee[before.id].data["fee_nok"]) == ("info", "1500.00")
    assert (fee[after.id].outcome, fee[after.id].basis) == ("warn", "FOR-2004-02-24-470 §3")
    assert "exceeds the average cost (NOK 1800.00)" in fee[after.id].message


def test_every_record_of_a_shipment_is_handed_over_in_one_verifiable_bundle(
    session, runtime, service, registered
):
    import hashlib
    import io
    import json
    import zipfile

    from caratflow.records.handover import handover_bundle

    shipment = cleared_import(session, service)
    bundle = zipfile.ZipFile(
        io.BytesIO(handover_bundle(session, service, runtime.documents, shipment.id, OFFICER))
    )
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
    # the copy of the certificate the authority keeps (§12) goes with it, signed
    [copy] = [n for n in bundle.namelist() if re.fullmatch(r"documents/NO-KK-\d{6}\.pdf", n)]
    assert f"{copy}.sig" in bundle.namelist()
    with pytest.raises(NotFound):
        handover_bundle(
            session,
            service,
            runtime.documents,
            shipment.id,
            Actor("officer.be", Role.OFFICER, frozenset({"BE"})),
        )
