"""The Commission's monthly reports and the KP statistics, from a year of Antwerp traffic."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from caratflow.errors import Forbidden, InvalidInput, LawForbids, NotFound
from caratflow.models import Role
from caratflow.reports import run_report
from caratflow.service import Actor
from caratflow.testing import shipment_payload

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
    assert [r["certificate_number"] for r in result.rows] == ["EC000101"]
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


# -- a year of Antwerp ---------------------------------------------------------------------

KINDS = ["compliant"] * 10 + [
    "broken_seal",
    "non_participant",
    "wrong_carats",
    "remedial_release",
    "export_to_non_participant",
]


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
            changes = {
                "certificate.number": f"{country}{month:02d}{n:04d}",
                "certificate.issuing_country": country,
                "certificate.carats": str(carats),
                "certificate.value_usd": str(value),
                "presented_at": f"2026-{month:02d}-{day:02d}T{hour:02d}:00:00+01:00",
            }
            if kind in {"broken_seal", "remedial_release"}:
                changes["containers.0.seals_intact"] = False
            payload = shipment_payload(**changes)
            if kind == "export_to_non_participant":
                payload.update(
                    direction="export",
                    destination="LY",
                    lawful_import={"kind": "lawful_presence", "reference": "LP"},
                )
                payload["certificate"].update(number=f"EC{month:02d}{n:04d}", issuing_country="EU")
            cases.append(
                {"kind": kind, "month": month, "payload": payload, "carats": carats, "value": value}
            )
    return cases


def handle(session, service, officer, case: dict[str, Any]) -> str:
    shipment = service.present(session, case["payload"], officer).shipment
    act = lambda action, **kw: service.act(session, shipment.id, action, officer, **kw)  # noqa: E731
    kind = case["kind"]
    if kind == "compliant":
        act("verify"), act("release")
    elif kind == "broken_seal":
        act("hold", reason="seal broken"), act("refuse", reason="seal broken, goods not released")
    elif kind == "remedial_release":
        act("hold", reason="seal broken")
        act(
            "remediate",
            reason="issuing authority resealed",
            inputs={"ground": "caused_by_another_authority"},
        )
    elif kind == "non_participant":
        act("hold", reason="no KP participant"), act("refuse", reason="no KP participant")
    elif kind == "wrong_carats":
        with pytest.raises(LawForbids):
            act("verify", inputs={"weighed_carats": str(case["carats"] + 1)})
        act("hold", reason="carats differ from the certificate")
    elif kind == "export_to_non_participant":
        act("hold", reason="destination not a participant")
    return shipment.state


@pytest.mark.slow
def test_a_year_of_antwerp_traffic_adds_up_in_the_monthly_reports(
    session, service, plugin_host, officer
):
    cases = traffic()
    states = Counter(handle(session, service, officer, case) for case in cases)
    expected_states = Counter({"released": 0, "refused": 0, "held": 0})
    for case in cases:
        expected_states[
            {
                "compliant": "released",
                "remedial_release": "released",
                "broken_seal": "refused",
                "non_participant": "refused",
            }.get(case["kind"], "held")
        ] += 1
    assert states == +expected_states

    by_month: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for case in cases:
        if case["kind"] != "export_to_non_participant":
            by_month[case["month"]].append(case)
    for month in range(1, 13):
        result = report(
            session, plugin_host, officer, "eu.report.import_monthly", f"2026-{month:02d}"
        )
        imports = by_month[month]
        assert len(result.rows) == len(imports), month
        assert sum(r["carats"] for r in result.rows) == sum(c["carats"] for c in imports)
        assert sum(r["value_usd"] for r in result.rows) == sum(c["value"] for c in imports)
        verified = [r for r in result.rows if r["verified_on"]]
        assert len(verified) == sum(c["kind"] == "compliant" for c in imports), month
        exports = report(
            session, plugin_host, officer, "eu.report.export_monthly", f"2026-{month:02d}"
        )
        assert exports.rows == []  # no export to a non-participant was ever validated

    quarter = report(session, plugin_host, officer, "kp.statistics", "2026-Q1")
    kept = [
        c for c in cases if c["month"] <= 3 and c["kind"] not in {"broken_seal", "non_participant"}
    ]
    assert sum(r["shipments"] for r in quarter.rows) == len(kept)
    assert sum(r["carats"] for r in quarter.rows) == sum(c["carats"] for c in kept)
