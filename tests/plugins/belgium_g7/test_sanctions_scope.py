"""The scope of the ban on Russian diamonds as dated data (issue 22, point 9): the goods by
code (industrial diamonds outside), the dates, the 16th package's mixed-origin rule, the
due-diligence statement for polished stones, and the exemptions a trader may claim."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import update

from caratflow.errors import InvalidInput
from caratflow.models import Shipment
from caratflow.plugins.belgium_g7.rules import PARAMETERS
from caratflow.testing.payloads import documents, shares, shipment_payload

RUSSIAN = {
    "certificate.issuing_country": "RU",
    "certificate.number": "RU0077",
    "certificate.origin": ["RU"],
    "certificate.provenance": "RU",
}


def rough(presented: str, **changes: Any) -> dict[str, Any]:
    """Rough presented on ``presented``, its certificate issued ten days before."""
    day = date.fromisoformat(presented)
    return shipment_payload(
        **{
            "presented_at": f"{presented}T10:00:00+01:00",
            "certificate.issued_on": day.replace(day=1).isoformat(),
            "certificate.expires_on": date(day.year + 1, 1, 1).isoformat(),
            **changes,
        }
    )


def polished(presented: str, **changes: Any) -> dict[str, Any]:
    return shipment_payload(
        **{
            "goods": "polished",
            "certificate.hs_codes": ["7102.39"],
            "certificate.number": "IN2026-5531",
            "certificate.issuing_country": "IN",
            "certificate.provenance": "IN",
            "certificate.origin": ["BW"],
            "presented_at": f"{presented}T10:00:00+01:00",
            **changes,
        }
    )


def found(session, service, officer, payload, rule: str) -> list[Any]:
    return [f for f in service.check(session, payload, officer) if f.rule == rule]


def outcome(session, service, officer, payload, rule: str) -> list[str]:
    return [f.outcome.value for f in found(session, service, officer, payload, rule)]


# -- the goods, by code --------------------------------------------------------------------


def test_art_3p_industrial_rough_diamonds_are_outside_the_ban(session, service, officer):
    industrial = rough("2026-11-20", **RUSSIAN, **{"certificate.hs_codes": ["7102.21"]})
    [ban] = found(session, service, officer, industrial, "g7.rough.non_russian")
    assert ban.outcome.value == "pass" and "industrial diamonds are outside" in ban.message
    gem_quality = rough("2026-11-20", **RUSSIAN)
    assert outcome(session, service, officer, gem_quality, "g7.rough.non_russian") == ["refuse"]


def test_art_3p_the_codes_of_the_ban_are_dated_data_with_their_source():
    entry = PARAMETERS.entry("ban_scope_hs_codes", date(2024, 1, 1))
    assert "7102.21" not in entry["value"] and "7102.39" in entry["value"]
    assert "2023/2878" in entry["source"] and "UNVERIFIED" in entry["source"]


# -- Reg. (EU) 2025/395: mixed-origin rough from 1 March 2025 -------------------------------

MIXED = {"certificate.origin": ["BW", "CA"], "origin_shares": shares({"BW": "60", "CA": "40"})}


def test_reg_2025_395_a_mixed_origin_rough_certificate_waits_for_the_g7_verification(
    session, service, officer
):
    before = rough("2025-02-28", **MIXED)
    assert outcome(session, service, officer, before, "g7.mining_countries") == []
    after = rough("2025-03-03", **MIXED)
    [held] = found(session, service, officer, after, "g7.mining_countries")
    assert held.outcome.value == "hold" and "verified through the G7 mechanism" in held.message


def test_reg_2025_395_the_g7_verification_clears_a_mixed_origin_parcel(session, service, officer):
    shipment = service.present(session, rough("2025-03-03", **MIXED), officer).shipment
    service.act(session, shipment.id, "request_origin_evidence", officer, reason="mixed origin")
    evidence = {
        "origin_shares": shares({"BW": "60", "CA": "40"}),
        "origin_documents": documents(["a" * 64]),
    }
    verified = service.act(session, shipment.id, "verify_origin", officer, inputs=evidence)
    [listed] = [f for f in verified.events[-1].findings if f.rule == "g7.mining_countries"]
    assert listed.outcome == "pass"


# -- the due-diligence statement for polished stones from 1 January 2026 -------------------

STONES = {"stones": [{"id": "S1", "carats": "0.62", "origin": "BW"}]}
STATEMENT = {
    "origin_statement": {
        "made_by": "Schupstraat Diamonds NV",
        "made_on": "2026-01-10",
        "reference": "DD-2026-004",
    }
}


def test_polished_stones_of_half_a_carat_need_an_origin_statement_from_1_january_2026(
    session, service, officer
):
    assert (
        outcome(session, service, officer, polished("2025-12-31", **STONES), "g7.mining_countries")
        == []
    )
    [held] = found(
        session, service, officer, polished("2026-01-12", **STONES), "g7.mining_countries"
    )
    assert held.outcome.value == "hold" and "due-diligence statement" in held.message
    stated = polished("2026-01-12", **STONES, **STATEMENT)
    assert outcome(session, service, officer, stated, "g7.mining_countries") == ["pass"]
    small = {"stones": [{"id": "S2", "carats": "0.49", "origin": "BW"}]}
    assert outcome(
        session, service, officer, polished("2026-01-12", **small), "g7.mining_countries"
    ) == ["pass"]


# -- the 14th package's exemptions: grounds with evidence ----------------------------------


def test_art_3p_an_exemption_is_claimed_with_its_evidence_and_recorded(session, service, officer):
    claim = {
        "sanctions_exemption": {
            "ground": "temporary_import_repair",
            "evidence": "repair order RO-77, temporary admission ATA-BE-2026-0091",
        }
    }
    [exempt] = found(
        session, service, officer, rough("2026-11-20", **RUSSIAN, **claim), "g7.rough.non_russian"
    )
    assert exempt.outcome.value == "warn"
    assert exempt.data["exemption"] == "temporary_import_repair"
    assert exempt.data["evidence"].startswith("repair order RO-77")


def test_art_3p_an_exemption_without_evidence_or_ground_leaves_the_ban_standing(
    session, service, officer
):
    bare = {"sanctions_exemption": {"ground": "temporary_import_repair"}}
    [ban] = found(
        session, service, officer, rough("2026-11-20", **RUSSIAN, **bare), "g7.rough.non_russian"
    )
    assert ban.outcome.value == "refuse" and "without its evidence" in ban.message
    invented = {"sanctions_exemption": {"ground": "good_faith", "evidence": "a letter"}}
    with pytest.raises(InvalidInput) as refused:  # a closed choice of the grounds in force
        service.check(session, rough("2026-11-20", **RUSSIAN, **invented), officer)
    [error] = refused.value.errors
    assert error.field == "sanctions_exemption.ground"
    assert "temporary_import_fair" in error.message


def test_art_3p_no_exemption_can_be_claimed_before_the_14th_package(session, service, officer):
    claim = {"sanctions_exemption": {"ground": "temporary_import_fair", "evidence": "fair pass"}}
    [ban] = found(
        session, service, officer, rough("2024-05-06", **RUSSIAN, **claim), "g7.rough.non_russian"
    )
    assert ban.outcome.value == "refuse" and "is no ground on 2024-05-06" in ban.message


# -- the dates, replayed --------------------------------------------------------------------


def test_replay_shows_the_indirect_ban_reaching_half_carat_stones_from_1_september_2024(
    session, service, officer
):
    stone = {
        "certificate.origin": ["RU"],
        "stones": [{"id": "R1", "carats": "0.70", "origin": "RU"}],
    }
    shipment = service.present(session, polished("2024-08-20", **stone), officer).shipment
    session.flush()
    [recorded] = [f for f in shipment.events[0].findings if f.rule == "g7.russian_ban"]
    assert recorded.outcome == "pass"
    [line] = service.replay(session, shipment.id, date(2024, 9, 1), officer)
    assert "g7.russian_ban: pass -> refuse" in line.differences
    [line] = service.replay(session, shipment.id, date(2023, 12, 31), officer)
    assert "g7.russian_ban: pass -> not assessed" in line.differences


# -- records kept before the fields were declared (issue 23) -------------------------------


def test_a_record_kept_before_the_declaration_replays_as_it_was_decided(session, service, officer):
    """Shares once kept as ``{"AO": "99", "RU": "1"}``, transit countries and a stone's
    origin once kept as lists: the typed readers read them still, so a replay of an old
    case still sees its Russian share, route and stone (Reg. (EU) 833/2014 Art. 3p)."""
    parcel = service.present(session, rough("2026-11-20"), officer).shipment
    russian = {"certificate.origin": ["RU"]}  # no stone weighed yet: held
    stone = service.present(session, polished("2024-10-01", **russian), officer).shipment
    old = {
        parcel.id: {"origin_shares": {"AO": "99", "RU": "1"}, "transit_countries": ["AE"]},
        stone.id: {"stones": [{"id": "R1", "carats": "0.70", "origin": ["CA", "RU"]}]},
    }
    for shipment_id, details in old.items():
        session.execute(update(Shipment).where(Shipment.id == shipment_id).values(details=details))
    session.commit()
    session.expire_all()
    [line] = service.replay(session, parcel.id, date(2026, 11, 20), officer)
    assert "g7.mixed_parcels: not assessed -> refuse" in line.differences
    [line] = service.replay(session, stone.id, date(2024, 10, 1), officer)
    assert "g7.russian_ban: hold -> refuse" in line.differences
