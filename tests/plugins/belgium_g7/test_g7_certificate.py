"""The G7 certificate at the Antwerp control point (LAW.md g7.polished.certificate): issued
when the export of a polished lot to a G7 market is validated and every stone's lineage is
clean, and the condition for that export to leave."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from caratflow.law.rules import LawForbids
from caratflow.models import DocumentStatus, IssuedDocument
from caratflow.plugins.belgium_g7.identities import register_identity
from caratflow.testing.payloads import outcomes, shipment_payload

EVIDENCE = [hashlib.sha256(b"KP certificate and mining declarations").hexdigest()]
G7 = "belgium_g7.g7_certificate"


@pytest.fixture
def register(session, officer):
    """Rough parcels as checked at the Diamond Office, and the stones cut from them."""

    def parcel(number: str, carats: str, **origin: str) -> None:
        payload = {"id": number, "kind": "rough_parcel", "carats": carats, "origin": origin}
        register_identity(session, {**payload, "documents": EVIDENCE}, officer)

    def stone(number: str, carats: str, parent: str) -> None:
        payload = {"id": number, "kind": "polished", "carats": carats, "parents": [{"id": parent}]}
        register_identity(session, payload, officer)

    parcel("BE-R-1", "10.00", CA="100")
    stone("BE-P-1", "1.20", "BE-R-1")
    stone("BE-P-2", "0.90", "BE-R-1")
    parcel("BE-R-9", "8.00", AO="99", RU="1")  # a mixed parcel with a 1% Russian share
    stone("BE-P-9", "0.80", "BE-R-9")
    session.flush()


def polished_export(session, service, officer, *stones: str, destination: str = "US"):
    weights = {"BE-P-1": "1.2", "BE-P-2": "0.9", "BE-P-9": "0.8"}
    payload = shipment_payload(
        direction="export",
        goods="polished",
        destination=destination,
        stones=[{"id": s, "identity": s, "carats": weights[s], "origin": "CA"} for s in stones],
        **{
            "certificate.number": "BE2026-0042",
            "certificate.issuing_country": "BE",
            "certificate.hs_codes": ["7102.39"],
        },
    )
    shipment = service.present(session, payload, officer).shipment
    session.flush()
    return shipment


def g7_certificates(session, shipment) -> list[IssuedDocument]:
    query = select(IssuedDocument).where(
        IssuedDocument.shipment_id == shipment.id, IssuedDocument.kind == G7
    )
    return list(session.scalars(query))


def test_a_clean_lot_gets_its_g7_certificate_and_leaves_with_it(
    session, service, officer, register
):
    shipment = polished_export(session, service, officer, "BE-P-1", "BE-P-2")
    verified = service.act(session, shipment.id, "verify", officer)
    assert outcomes(verified.events[-1].findings)["g7.polished.certificate"] == "pass"

    [certificate] = g7_certificates(session, shipment)
    assert certificate.number.startswith("G7BE")
    shown = {f["key"]: f["value"] for f in certificate.content["fields"]}
    assert shown["identities"] == "BE-P-1, BE-P-2"

    exported = service.act(session, shipment.id, "export", officer)
    assert outcomes(exported.events[-1].findings)["g7.polished.certificate"] == "pass"


def test_one_tainted_stone_refuses_the_certificate_for_the_whole_lot(
    session, service, officer, register
):
    # The trader declared Canadian origin; the lineage shows a parcel with a Russian share.
    shipment = polished_export(session, service, officer, "BE-P-1", "BE-P-9")
    with pytest.raises(LawForbids) as refused:
        service.act(session, shipment.id, "verify", officer)
    [finding] = [f for f in refused.value.findings if f.rule == "g7.polished.certificate"]
    assert finding.outcome == "refuse"
    assert "BE-R-9" in finding.message and "RU 1%" in finding.message
    assert g7_certificates(session, shipment) == []


def test_a_stone_without_a_digital_identity_holds_the_certificate(
    session, service, officer, register
):
    shipment = polished_export(session, service, officer, "BE-P-1")
    shipment.details = {
        **shipment.details,
        "stones": [*shipment.details["stones"], {"id": "loose-7", "carats": "0.3"}],
    }
    with pytest.raises(LawForbids) as refused:
        service.act(session, shipment.id, "verify", officer)
    assert outcomes(refused.value.findings)["g7.polished.certificate"] == "hold"


def test_no_export_to_a_g7_market_without_a_valid_g7_certificate(
    session, service, officer, register, runtime
):
    shipment = polished_export(session, service, officer, "BE-P-1")
    service.act(session, shipment.id, "verify", officer)
    [certificate] = g7_certificates(session, shipment)
    runtime.documents.change_status(
        session, certificate.number, DocumentStatus.REVOKED, officer, "issued in error"
    )
    with pytest.raises(LawForbids) as refused:
        service.act(session, shipment.id, "export", officer)
    assert outcomes(refused.value.findings)["g7.polished.certificate"] == "refuse"


def test_an_export_outside_the_g7_markets_needs_no_g7_certificate(
    session, service, officer, register
):
    shipment = polished_export(session, service, officer, "BE-P-2", destination="AE")
    service.act(session, shipment.id, "verify", officer)
    assert g7_certificates(session, shipment) == []
    exported = service.act(session, shipment.id, "export", officer)
    assert "g7.polished.certificate" not in outcomes(exported.events[-1].findings)
