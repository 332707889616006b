"""The Commission's monthly reports and the KP statistics, from a year of Antwerp traffic."""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from caratflow.case.access import Actor
from caratflow.deadlines.outbox import DeliverySettings, Dispatcher, add_recipient
from caratflow.deadlines.sweep import message_sent
from caratflow.errors import Forbidden, InvalidInput, NotFound
from caratflow.jurisdiction.reports import Period
from caratflow.law.rules import LawForbids
from caratflow.models import Deadline, DeadlineStatus, IssuedDocument, Role
from caratflow.records.reports import open_report_deadlines, run_report
from caratflow.testing.payloads import outcomes, shipment_payload

BRUSSELS = ZoneInfo("Europe/Brussels")
ART_10_COLUMNS = [
    "certificate_number",
    "issuing_authority",
    "validating_authority",
    "issued_on",
    "expires_on",
    "provenance",
    "origin",
    "hs_codes",
    "carats",
    "value_usd",
    "verifying_authority",
    "verified_on",
]


def report(session, plugin_host, officer, name: str, period: str, authority: str = "BE"):
    return run_report(session, plugin_host, name, authority, period, officer)


def test_a_month_is_the_authoritys_own_month(session, service, plugin_host, officer):
    # 23:30 UTC on 31 October is 00:30 on 1 November in Brussels; likewise into December.
    for number, instant in [
        ("CA100001", "2026-10-31T23:30:00Z"),
        ("CA100002", "2026-11-30T23:30:00Z"),
    ]:
        service.present(
            session,
            shipment_payload(**{"certificate.number": number}, presented_at=instant),
            officer,
        )
    november = report(session, plugin_host, officer, "eu.report.import_monthly", "2026-11")
    assert [r["certificate_number"] for r in november.rows] == ["CA100001"]
    assert (november.period.start.isoformat(), november.period.end.isoformat()) == (
        "2026-11-01",
        "2026-12-01",
    )


def test_the_import_report_has_exactly_the_fields_of_art_10(session, service, plugin_host, officer):
    shipment = service.present(session, shipment_payload(), officer).shipment
    service.act(session, shipment.id, "verify", officer)
    result = report(session, plugin_host, officer, "eu.report.import_monthly", "2026-11")
    assert result.as_json()["columns"] == ART_10_COLUMNS
    assert result.as_json()["basis"] == "Reg. (EC) 2368/2002 Art. 10(1)"
    [row] = result.as_json()["rows"]
    assert row["carats"] == "123.45" and row["value_usd"] == "456789.00"
    assert row["verifying_authority"] == "FPS Economy, Diamond Office Antwerp"
    brussels = shipment.events[-1].at.astimezone(ZoneInfo("Europe/Brussels")).date()
    assert row["verified_on"] == brussels.isoformat()
    header, line = result.as_csv().splitlines()
    assert header == ",".join(ART_10_COLUMNS)
    assert line.startswith("CA123456,Natural Resources Canada,Natural Resources Canada,2026-11-10,")
    assert ",7102.10,123.45,456789.00," in line


def test_the_export_report_lists_only_validated_certificates(
    session, service, plugin_host, officer
):
    def export(number: str) -> Any:
        payload = shipment_payload(
            **{
                "direction": "export",
                "certificate.number": number,
                "certificate.issuing_country": "EU",
                "certificate.issuing_authority": "FPS Economy",
            }
        )
        payload.update(
            destination="CA", lawful_import={"kind": "lawful_presence", "reference": "LP-1"}
        )
        return service.present(session, payload, officer).shipment

    validated, pending = export("EC000101"), export("EC000102")
    service.act(
        session, validated.id, "verify", officer, inputs={"sealed_under_supervision": "yes"}
    )
    result = report(session, plugin_host, officer, "eu.report.export_monthly", "2026-11")
    # under the number of the Community certificate the office issued on validation
    [issued] = session.scalars(
        select(IssuedDocument.number).where(IssuedDocument.shipment_id == validated.id)
    )
    assert [r["certificate_number"] for r in result.rows] == [issued]
    assert result.rows[0]["destination"] == "CA"
    assert pending.state == "presented"


def test_asking_wrongly_is_a_clear_error(session, plugin_host, officer):
    with pytest.raises(NotFound, match=r"available: eu\.report\.export_monthly"):
        report(session, plugin_host, officer, "eu.report.weekly", "2026-11")
    with pytest.raises(InvalidInput, match="a month such as 2026-11"):
        report(session, plugin_host, officer, "eu.report.import_monthly", "2026-13")
    with pytest.raises(InvalidInput, match="a quarter such as 2026-Q3"):
        report(session, plugin_host, officer, "kp.statistics", "2026-11")
    norwegian = Actor("officer.no", Role.OFFICER, frozenset({"NO"}))
    with pytest.raises(Forbidden):
        report(session, plugin_host, norwegian, "eu.report.import_monthly", "2026-11")


# -- submission: due a month after the month, met once delivered ---------------------------


def report_deadlines(session) -> dict[str, Deadline]:
    session.expire_all()
    query = select(Deadline).where(Deadline.shipment_id.is_(None))
    return {d.rule: d for d in session.scalars(query)}


def test_each_report_falls_due_once_its_period_has_ended(session, plugin_host):
    # 2 December 2026 in Brussels: November is over, and so is the third quarter.
    now = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    assert open_report_deadlines(session, plugin_host, now) >= 3
    due = report_deadlines(session)
    monthly = due["eu.report.import_monthly"]
    # one month from 1 December: 1 January 2027 is closed, 2 and 3 January a weekend
    assert (monthly.starts_on, monthly.due_on) == (date(2026, 12, 1), date(2027, 1, 4))
    assert monthly.basis == "Reg. (EC) 2368/2002 Art. 10(1)"
    statistics = due["kp.statistics"]  # Annex III: within two months of the quarter
    assert (statistics.starts_on, statistics.due_on) == (date(2026, 10, 1), date(2026, 12, 1))
    assert open_report_deadlines(session, plugin_host, now) == 0  # once per period


def test_a_report_submitted_to_the_commission_meets_its_deadline_when_delivered(
    client, auth, session, sessions, smtp_server, plugin_host
):
    add_recipient(session, "BE", "commission", "mailto:kimberley@commission.example.eu")
    session.commit()
    # The app submits at the real instant: the month that ended last is due a month on.
    last_month = Period.last_ended(datetime.now(BRUSSELS).date(), "month").label
    url = "/api/v1/reports/eu.report.import_monthly/submissions"
    first = client.post(url, json={"period": last_month}, headers=auth)
    assert first.status_code == 202, first.json
    assert (first.json["recipient"], first.json["queued"]) == ("commission", True)
    assert first.json["deadline"]["status"] == "open"
    assert client.post(url, json={"period": last_month}, headers=auth).json["queued"] is False

    settings = DeliverySettings(smtp_host=smtp_server.host, smtp_port=smtp_server.port)
    Dispatcher(sessions, settings, on_sent=[message_sent]).dispatch()
    [email] = smtp_server.messages
    assert email["To"] == "kimberley@commission.example.eu"
    assert "certificate_number,issuing_authority" in email.get_payload()
    assert report_deadlines(session)["eu.report.import_monthly"].status == DeadlineStatus.MET


def test_a_report_period_must_be_asked_for_clearly(client, auth):
    url = "/api/v1/reports/eu.report.import_monthly/submissions"
    for period, why in [("November", "a month such as"), ("2099-01", "has not ended")]:
        answer = client.post(url, json={"period": period}, headers=auth)
        assert answer.status_code == 422
        assert answer.json["errors"][0]["field"] == "period"
        assert why in answer.json["errors"][0]["message"]


# -- a year of Antwerp ---------------------------------------------------------------------

KINDS = ["compliant"] * 10 + [
    "broken_seal",
    "non_participant",
    "wrong_carats",
    "late_confirmation",
    "remedial_release",
    "export_to_non_participant",
    "expired_ec_certificate",
]
EXPORTS = {"export_to_non_participant", "expired_ec_certificate"}
LAWFUL_PRESENCE = {"kind": "lawful_presence", "reference": "BE-LP-2026"}


def traffic(seed: int = 2026, per_month: int = 20) -> list[dict[str, Any]]:
    """A year of presentations at Antwerp, each with what should become of it."""
    draw = random.Random(seed)
    cases = []
    for month in range(1, 13):
        for n in range(per_month):
            kind = draw.choice(KINDS)
            carats = Decimal(draw.randrange(500, 500_000)) / 100
            value = (carats * Decimal(draw.randrange(50, 4000))).quantize(Decimal("0.01"))
            day, hour = draw.randrange(1, 29), draw.randrange(8, 18)
            country = "LY" if kind == "non_participant" else draw.choice(["CA", "BW", "ZA", "NA"])
            presented_at = datetime(2026, month, day, hour, tzinfo=BRUSSELS)
            changes = {
                "certificate.number": f"{country}{month:02d}{n:04d}",
                "certificate.issuing_country": country,
                "certificate.carats": str(carats),
                "certificate.value_usd": str(value),
                "presented_at": presented_at.isoformat(),
                # issued before and in force on the day of presentation (Annex I)
                "certificate.issued_on": (presented_at - timedelta(days=10)).date().isoformat(),
                "certificate.expires_on": (presented_at + timedelta(days=50)).date().isoformat(),
            }
            if kind in {"broken_seal", "remedial_release"}:
                changes["containers.0.seals_intact"] = False
            payload = shipment_payload(**changes)
            if kind in EXPORTS:
                destination = "LY" if kind == "export_to_non_participant" else "IN"
                payload.update(
                    direction="export", destination=destination, lawful_import=LAWFUL_PRESENCE
                )
                payload["certificate"].update(number=f"EC{month:02d}{n:04d}", issuing_country="EU")
            cases.append(
                {
                    "kind": kind,
                    "month": month,
                    "payload": payload,
                    "presented_at": presented_at,
                    "carats": carats,
                    "value": value,
                }
            )
    return cases


def handle(session, service, officer, clock, case: dict[str, Any]) -> str:
    """Walk one case through the office, on the days an officer would take each step."""
    clock.now = case["presented_at"] + timedelta(minutes=30)
    shipment = service.present(session, case["payload"], officer).shipment

    def act(action: str, after: timedelta = timedelta(hours=2), **kw: Any):
        clock.advance(seconds=after.total_seconds())
        return service.act(session, shipment.id, action, officer, **kw)

    kind = case["kind"]
    if kind == "compliant":
        act("verify"), act("release")
    elif kind == "late_confirmation":  # confirmed four weeks on: past the 10 working days
        verified = act("verify", after=timedelta(days=28))
        assert outcomes(verified.events[-1].findings)["eu.confirm.10_days"] == "warn"
        act("release")
    elif kind == "broken_seal":
        act("hold", reason="seal broken"), act("refuse", reason="seal broken, goods not released")
    elif kind == "remedial_release":
        act("hold", reason="seal broken")
        act(
            "remediate",
            reason="issuing authority resealed",
            inputs={
                "ground": "caused_by_another_authority",
                "remedy": "the issuing authority resealed the container",
                "remedy_evidence": "its letter of confirmation",
            },
        )
    elif kind == "non_participant":
        act("hold", reason="no KP participant"), act("refuse", reason="no KP participant")
    elif kind == "wrong_carats":
        with pytest.raises(LawForbids):
            act("verify", inputs={"weighed_carats": str(case["carats"] + 1)})
        act("hold", reason="carats differ from the certificate")
    elif kind == "export_to_non_participant":
        act("hold", reason="destination not a participant")
    elif kind == "expired_ec_certificate":  # validated, then not used for ten weeks
        act("verify", inputs={"sealed_under_supervision": "yes"})
        with pytest.raises(LawForbids, match="expired on"):
            act("export", after=timedelta(weeks=10))
        act("return_certificate", reason="not used within two months")
    return shipment.state


ENDS = {
    "compliant": "released",
    "late_confirmation": "released",
    "remedial_release": "released",
    "broken_seal": "refused",
    "non_participant": "refused",
    "expired_ec_certificate": "certificate_returned",
}


@pytest.mark.slow
def test_a_year_of_antwerp_traffic_adds_up_in_the_monthly_reports(
    session, service, plugin_host, officer, clock
):
    cases = traffic()
    assert set(KINDS) <= {c["kind"] for c in cases}
    states = Counter(handle(session, service, officer, clock, case) for case in cases)
    assert states == Counter(ENDS.get(case["kind"], "held") for case in cases)

    by_month: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for case in cases:
        by_month[case["month"]].append(case)
    for month in range(1, 13):
        period = f"2026-{month:02d}"
        imports = [c for c in by_month[month] if c["kind"] not in EXPORTS]
        result = report(session, plugin_host, officer, "eu.report.import_monthly", period)
        assert len(result.rows) == len(imports), month
        assert sum(r["carats"] for r in result.rows) == sum(c["carats"] for c in imports)
        assert sum(r["value_usd"] for r in result.rows) == sum(c["value"] for c in imports)
        verified = [r for r in result.rows if r["verified_on"]]
        confirmed = {"compliant", "late_confirmation"}
        assert len(verified) == sum(c["kind"] in confirmed for c in imports), month

        # Art. 15: the certificates validated, under the numbers the office gave them;
        # none for the export to a non-participant, which was never validated.
        validated = [c for c in by_month[month] if c["kind"] == "expired_ec_certificate"]
        exports = report(session, plugin_host, officer, "eu.report.export_monthly", period)
        assert len(exports.rows) == len(validated), month
        assert all(re.fullmatch(r"EC\d{6}", r["certificate_number"]) for r in exports.rows)
        assert sum(r["carats"] for r in exports.rows) == sum(c["carats"] for c in validated)

    quarter = report(session, plugin_host, officer, "kp.statistics", "2026-Q1")
    never_passed = {"broken_seal", "non_participant", "expired_ec_certificate"}
    kept = [c for c in cases if c["month"] <= 3 and c["kind"] not in never_passed]
    assert sum(r["shipments"] for r in quarter.rows) == len(kept)
    assert sum(r["carats"] for r in quarter.rows) == sum(c["carats"] for c in kept)


def test_a_report_reads_rows_not_an_orm_object_per_shipment(
    runtime, session, service, plugin_host, officer
):
    """Issue 28: a year's report lists tens of thousands of shipments; it reads them, their
    certificates and their decisions as rows (6.3 KiB an ORM-loaded shipment, 2.3 a row)."""
    from caratflow.models import Certificate, Event, Shipment

    for number in ("CA200001", "CA200002"):
        shipment = service.present(
            session, shipment_payload(**{"certificate.number": number}), officer
        ).shipment
        service.act(session, shipment.id, "verify", officer)
    session.commit()
    loaded: list[object] = []

    def count(target: object, context: object) -> None:
        loaded.append(target)

    for model in (Shipment, Certificate, Event):
        event.listen(model, "load", count)
    try:
        with runtime.sessions() as fresh:
            result = report(fresh, plugin_host, officer, "eu.report.import_monthly", "2026-11")
    finally:
        for model in (Shipment, Certificate, Event):
            event.remove(model, "load", count)
    assert sorted(r["certificate_number"] for r in result.rows) == ["CA200001", "CA200002"]
    assert all(r["verified_on"] for r in result.rows)
    assert loaded == []
