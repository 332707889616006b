"""The first rules of the EU plugin, read like the law (its full law follows)."""

from __future__ import annotations

from caratflow.testing import shipment_payload


def outcomes(findings) -> dict[str, str]:
    return {f.rule: f.outcome.value for f in findings}


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
