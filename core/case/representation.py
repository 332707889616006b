"""Shipments and decisions as JSON-ready dicts: the one shape the API and the CLI show."""

from __future__ import annotations

from typing import Any

from caratflow.ledger.sealing import reference as ledger_reference
from caratflow.models import Deadline, Event, FindingRecord, Shipment


def finding_json(finding: FindingRecord) -> dict[str, Any]:
    return {
        "rule": finding.rule,
        "outcome": finding.outcome,
        "basis": finding.basis,
        "message": finding.message,
        "version": finding.rule_version.isoformat(),
        "data": finding.data,
        "message_id": finding.message_id,  # issue 23: to render it in the reader's language
        "params": finding.message_params or {},
    }


def event_json(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "action": event.action,
        "actor": event.actor,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "reason": event.reason,
        "at": event.at.isoformat(),
        "legal_date": event.legal_date.isoformat(),
        "inputs": event.data,
        "findings": [finding_json(f) for f in event.findings],
        "ledger": ledger_reference(event),  # issue 5: leaf hash, and seq once sequenced
    }


def shipment_json(shipment: Shipment, available_actions: list[str]) -> dict[str, Any]:
    cert = shipment.certificate
    latest = shipment.events[-1] if shipment.events else None
    return {
        "id": shipment.id,
        "authority": shipment.authority_code,
        "direction": shipment.direction.value,
        "goods": shipment.goods.value,
        "state": shipment.state,
        "version": shipment.version,
        "presented_at": shipment.presented_at.isoformat(),
        "entry_point": shipment.entry_point,
        "certificate": {
            "number": cert.number,
            "issuing_country": cert.issuing_country,
            "issuing_authority": cert.issuing_authority,
            "validating_authority": cert.validating_authority,
            "issued_on": cert.issued_on.isoformat(),
            "expires_on": cert.expires_on.isoformat(),
            "exporter": {"name": cert.exporter_name, "address": cert.exporter_address},
            "importer": {"name": cert.importer_name, "address": cert.importer_address},
            "parcels": cert.parcels,
            "carats": str(cert.carats),
            "value_usd": str(cert.value_usd),
            "hs_codes": cert.hs_codes,
            "origin": cert.origin,
            "provenance": cert.provenance,
        },
        "containers": [
            {"id": c.label, "seals": c.seals, "seals_intact": c.seals_intact}
            for c in shipment.containers
        ],
        "details": shipment.details,
        "findings": [finding_json(f) for f in latest.findings] if latest else [],
        "deadlines": [deadline_json(d) for d in shipment.deadlines],
        "available_actions": available_actions,
    }


# -- deadlines (issue 4) ------------------------------------------------------------------


def deadline_json(deadline: Deadline) -> dict[str, Any]:
    """A legal clock: the rule it keeps, when it runs out (a legal date in the authority's
    zone and the UTC instant that ends it) and where it stands."""
    return {
        "id": deadline.id,
        "rule": deadline.rule,
        "basis": deadline.basis,
        "status": deadline.status.value,
        "period": deadline.period,
        "starts_on": deadline.starts_on.isoformat(),
        "due_on": deadline.due_on.isoformat(),
        "due_at": deadline.due_at.isoformat(),
        "suspended_since": deadline.suspended_on.isoformat() if deadline.suspended_on else None,
        "suspended_working_days": deadline.suspended_days,
        "met_at": deadline.met_at.isoformat() if deadline.met_at else None,
        "closed_at": deadline.closed_at.isoformat() if deadline.closed_at else None,
        "shipment": deadline.shipment_id,
        "authority": deadline.authority_code,
    }
