"""The law of the day (issue 22, point 10 and the replay of "Done when"): the Kimberley
Process participants as a dated history of Annex II, and ``replay --as-of`` showing what a
dated change makes of a case decided before and after it."""

from __future__ import annotations

from typing import Any

from caratflow.plugins.eu.rules import PARAMETERS
from caratflow.testing.payloads import outcomes, shipment_payload


def certificate_of(country: str, presented_at: str, issued: str, expires: str) -> dict[str, Any]:
    return shipment_payload(
        presented_at=presented_at,
        **{
            "certificate.number": f"{country}004711",
            "certificate.issuing_country": country,
            "certificate.origin": [country],
            "certificate.provenance": country,
            "certificate.issued_on": issued,
            "certificate.expires_on": expires,
        },
    )


def replayed(session, service, officer, payload, as_of) -> list[str]:
    shipment = service.present(session, payload, officer).shipment
    session.flush()
    [line] = service.replay(session, shipment.id, as_of, officer)
    return line.differences


def test_annex_ii_the_participants_are_kept_as_a_dated_history_with_their_sources():
    from datetime import date

    assert "CF" in PARAMETERS.value("kp_participants", date(2013, 5, 22))
    assert "CF" not in PARAMETERS.value("kp_participants", date(2013, 5, 23))
    assert "UZ" not in PARAMETERS.value("kp_participants", date(2024, 11, 7))
    on_the_day = PARAMETERS.entry("kp_participants", date(2024, 11, 8))
    assert {"CF", "UZ"} <= set(on_the_day["value"])
    assert "UNVERIFIED" in on_the_day["source"]


def test_annex_ii_a_suspended_participants_certificate_is_detained_and_replays_after_readmission(
    session, service, officer
):
    """The Central African Republic, suspended on 23 May 2013, fully readmitted in November
    2024: a certificate presented in 2020 was a non-participant's; under the list of 2025
    it would be a participant's."""
    central_african = certificate_of(
        "CF", "2020-06-15T10:00:00+02:00", issued="2020-06-01", expires="2020-08-01"
    )
    found = outcomes(service.check(session, central_african, officer))
    assert found["eu.import.certificate"] == "hold"
    assert found["kp.no_non_participants"] == "hold"
    differences = replayed(session, service, officer, central_african, as_of=_d("2025-01-10"))
    assert "eu.import.certificate: hold -> pass" in differences
    assert "kp.no_non_participants: hold -> pass" in differences


def test_annex_ii_an_uzbek_certificate_counts_from_the_admission_of_uzbekistan(
    session, service, officer
):
    uzbek = certificate_of(
        "UZ", "2024-10-01T10:00:00+02:00", issued="2024-09-20", expires="2024-12-20"
    )
    assert outcomes(service.check(session, uzbek, officer))["eu.import.certificate"] == "hold"
    differences = replayed(session, service, officer, uzbek, as_of=_d("2024-11-08"))
    assert "eu.import.certificate: hold -> pass" in differences


def test_annex_i_a_replay_under_another_days_law_judges_the_certificate_on_its_own_day(
    session, service, officer
):
    """The law replays; the facts do not: a certificate valid when it was presented is not
    'expired' under the law of a later day."""
    assert replayed(session, service, officer, shipment_payload(), as_of=_d("2027-06-01")) == []


def _d(text: str):
    from datetime import date

    return date.fromisoformat(text)
