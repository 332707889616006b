"""Presentations as posted: a compliant rough import and an export, changed per test."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

COMPLIANT_ROUGH_IMPORT: dict[str, Any] = {
    "authority": "BE",
    "direction": "import",
    "goods": "rough",
    "presented_at": "2026-11-20T10:15:00+01:00",
    "entry_point": "BRU",
    "certificate": {
        "number": "CA123456",
        "issuing_country": "CA",
        "issuing_authority": "Natural Resources Canada",
        "validating_authority": "Natural Resources Canada",
        "issued_on": "2026-11-10",
        "expires_on": "2027-01-10",
        "exporter": {"name": "Arctic Rough Ltd", "address": "400 Burrard St, Vancouver"},
        "importer": {"name": "Schupstraat Diamonds NV", "address": "Schupstraat 9, Antwerpen"},
        "parcels": 2,
        "carats": "123.45",
        "value_usd": "456789.00",
        "hs_codes": ["7102.10"],
        "origin": ["CA"],
        "provenance": "CA",
    },
    "containers": [{"id": "C1", "seals": ["S-991"], "seals_intact": True}],
}


def shipment_payload(**changes: Any) -> dict[str, Any]:
    """A compliant Belgian rough import, with dotted-path changes applied.

    ``shipment_payload(**{"certificate.carats": "-1"})``; a value of ``DELETE`` removes
    the field.
    """
    payload = copy.deepcopy(COMPLIANT_ROUGH_IMPORT)
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        target: Any = payload
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if value is DELETE:
            del target[leaf]
        elif isinstance(target, list):
            target[int(leaf)] = value
        else:
            target[leaf] = value
    return payload


DELETE = object()


def valid_today(now: datetime | None = None) -> dict[str, str]:
    """The certificate dates of a certificate that is valid ``now`` (default: the clock's
    now): issued ten days before, expiring fifty days after. Tests that present at the
    real time need them; the fixed dates above expire on 2027-01-10."""
    now = now or datetime.now(UTC)
    return {
        "certificate.issued_on": (now - timedelta(days=10)).date().isoformat(),
        "certificate.expires_on": (now + timedelta(days=50)).date().isoformat(),
    }


def presented_now(**changes: Any) -> dict[str, Any]:
    """``shipment_payload`` presented at the clock's now, with a certificate valid then."""
    now = datetime.now(UTC).replace(microsecond=0)
    return shipment_payload(**{"presented_at": now.isoformat(), **valid_today(now), **changes})


def export_payload(**changes: Any) -> dict[str, Any]:
    """A Belgian export of rough diamonds to Canada on an Annex V declaration: what an
    application for a Community certificate carries, with dotted-path changes applied
    (``destination`` and ``lawful_import`` too)."""
    payload = shipment_payload(
        **{
            "direction": "export",
            "certificate.number": "EC004211",
            "certificate.issuing_country": "EU",
            "certificate.issuing_authority": "FPS Economy, Diamond Office Antwerp",
            "certificate.exporter.name": "Schupstraat Diamonds NV",
            "destination": "CA",
            "lawful_import": {
                "kind": "annex_v_declaration",
                "organisation": "World Diamond Council",
                "member": "Schupstraat Diamonds NV",
                "signed_on": "2026-11-18",
            },
            **changes,
        }
    )
    return payload


def outcomes(findings: Any) -> dict[str, str]:
    """``{rule: outcome}`` of findings or of their stored records, for terse assertions."""
    return {f.rule: str(f.outcome) for f in findings}


def shares(by_country: dict[str, str]) -> list[dict[str, str]]:
    """A parcel's shares by country of mining as the G7 plugin declares them (rows)."""
    return [{"country": country, "percent": percent} for country, percent in by_country.items()]


def documents(digests: list[str]) -> list[dict[str, str]]:
    """Evidence documents as the G7 plugin declares them: one row per SHA-256."""
    return [{"sha256": digest} for digest in digests]
