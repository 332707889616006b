"""Every record of a shipment in one bundle, for the authorities entitled to ask for it
(e.g. Norway §13: hand documents over "without undue delay").

The bundle is a ZIP: the shipment as the API shows it, its decisions with their
findings, every document issued for it (the signed PDF and its detached signature),
and a manifest with the SHA-256 of each file, so the receiver can tell that nothing
was changed on the way.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caratflow.case.access import Actor
from caratflow.case.representation import event_json, shipment_json
from caratflow.case.service import ShipmentService
from caratflow.models import IssuedDocument
from caratflow.records.documents import DocumentService


def handover_bundle(
    session: Session,
    shipments: ShipmentService,
    documents: DocumentService,
    shipment_id: int,
    actor: Actor,
) -> bytes:
    """The ZIP of one shipment's records, as ``actor`` may see them."""
    shipment = shipments.get(session, shipment_id, actor)
    files: dict[str, bytes] = {
        "shipment.json": _json(shipment_json(shipment, shipments.available_actions(shipment))),
        "history.json": _json([event_json(e) for e in shipment.events]),
    }
    issued = session.scalars(
        select(IssuedDocument).where(IssuedDocument.shipment_id == shipment.id)
    )
    for document in issued:
        files[f"documents/{document.number}.pdf"] = documents.pdf_of(session, document)
        files[f"documents/{document.number}.pdf.sig"] = (document.signature or "").encode()
    manifest = {
        "shipment": shipment.id,
        "authority": shipment.authority_code,
        "certificate": shipment.certificate.number,
        "generated_at": datetime.now(UTC).isoformat(),
        "generated_by": actor.name,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in sorted(files.items()):
            bundle.writestr(name, data)
        bundle.writestr("manifest.json", _json(manifest))
    return buffer.getvalue()


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True).encode()
