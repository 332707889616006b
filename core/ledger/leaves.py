"""What a leaf is: the canonical JSON (RFC 8785) of a record with its kind, key and instant,
and what each kind of leaf seals of its rows. Defined once, used both when sealing and
when verifying, so the two can never drift apart. A new column on a sealed table is not
sealed until it is added here, with a new ``LEAF_VERSION``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from caratflow.ledger.signing import (
    MAX_SAFE_INTEGER,
    canonical_json,
    format_timestamp,
)
from caratflow.models import (
    FindingRecord,
)
from caratflow.types import Carats

if TYPE_CHECKING:
    pass


LEAF_VERSION = 1
"""Written into every leaf; bumped when what a kind of leaf seals changes."""


DECISION = "decision"


DOCUMENT = "document"


DOCUMENT_STATUS = "document_status"


IDENTITY = "identity"


PURGE = "purge"


LEGAL_HOLD = "legal_hold"


DEADLINE = "deadline"
"""A legal clock's status as it stood after each change, keyed ``<deadline id>:<n>``."""


PRESENTATION = "presentation"
"""A shipment as presented: its own columns, its certificate and containers (issue 25)."""


def leaf_bytes(kind: str, key: str, logged_at: datetime, record: Mapping[str, Any]) -> bytes:
    """The exact bytes of a leaf: canonical JSON (RFC 8785) of the record with what
    identifies it.

    ``signing.canonical_json`` defines the bytes. When every object key is ASCII (all our
    records), the C encoder of ``json`` writes exactly the same bytes several times
    faster: RFC 8785 orders keys by UTF-16 code units, which for ASCII is Python's order,
    and escapes strings as ``json.dumps`` does. Any other key takes the reference path.
    """
    leaf = {
        "v": LEAF_VERSION,
        "kind": kind,
        "key": key,
        "logged_at": logged_at,
        "record": sealable(record),
    }
    if not _ascii_keys(leaf["record"]):
        return canonical_json(leaf)
    return json.dumps(
        leaf,
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
        default=_json_default,
    ).encode("utf-8")


def _ascii_keys(value: Any) -> bool:
    if isinstance(value, dict):
        return all(key.isascii() and _ascii_keys(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_ascii_keys(item) for item in value)
    return True


def _json_default(value: Any) -> str:
    """What ``canonical_json`` writes for the types JSON has not: text, and only these."""
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"Decimal {value} is not finite")
        return str(value)
    raise TypeError(f"{type(value).__name__} is not allowed in canonical JSON")


def sealable(value: Any) -> Any:
    """``value`` in the types canonical JSON takes, the same way every time it is read.

    JSON columns may hold floats and integers beyond 2**53 that canonical JSON refuses;
    both are sealed as their exact decimal text, which a round trip through the database
    gives back unchanged.
    """
    if isinstance(value, Mapping):
        return {str(key): sealable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [sealable(item) for item in value]
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE_INTEGER:
        return str(value)
    return value


def as_json(value: Any) -> Any:
    """``value`` as canonical JSON would read back: ``json.loads(leaf_bytes(...))["record"]``
    without serialising (verification compares structures; the hash checks the bytes)."""
    if isinstance(value, Mapping):
        return {str(key): as_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(item) for item in value]
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) <= MAX_SAFE_INTEGER else str(value)
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)  # Decimal


EVENT_COLUMNS = (
    "id",
    "shipment_id",
    "action",
    "actor",
    "from_state",
    "to_state",
    "reason",
    "legal_date",
    "at",
    "data",
)


FINDING_COLUMNS = (
    "id",
    "rule",
    "outcome",
    "basis",
    "message",
    "rule_version",
    "data",
    # issue 23: sealed where a finding has them, so that what readers get in their language
    # cannot drift from the English; absent from the leaves of findings recorded before.
    "message_id",
    "message_params",
)
LATER_FINDING_COLUMNS = frozenset({"message_id", "message_params"})


DOCUMENT_COLUMNS = (
    "id",
    "number",
    "kind",
    "serial",
    "authority_code",
    "shipment_id",
    "issued_at",
    "issued_on",
    "valid_until",
    "actor",
    "content",
    "digest",
    "pdf",
    "key_id",
    "signature",
)


STATUS_COLUMNS = ("id", "document_id", "status", "at", "actor", "reason")


PURGE_COLUMNS = (
    "id",
    "shipment_id",
    "authority_code",
    "certificate_number",
    "kept_until",
    "actor",
    "reason",
    "purged_at",
)


HOLD_COLUMNS = (
    "id",
    "shipment_id",
    "authority_code",
    "kind",
    "reference",
    "reason",
    "actor",
    "at",
    "lifts",
)


DEADLINE_COLUMNS = (
    "id",
    "shipment_id",
    "rule",
    "status",
    "due_on",
    "met_at",
    "closed_at",
    "suspended_on",
    "schedule",
)


SHIPMENT_COLUMNS = ("id", "authority_code", "direction", "goods", "presented_at", "entry_point")


CERTIFICATE_COLUMNS = (
    "id",
    "number",
    "issuing_country",
    "issuing_authority",
    "validating_authority",
    "issued_on",
    "expires_on",
    "exporter_name",
    "exporter_address",
    "importer_name",
    "importer_address",
    "parcels",
    "carats",
    "value_usd",
    "hs_codes",
    "origin",
    "provenance",
)


CONTAINER_COLUMNS = ("id", "label", "seals", "seals_intact")


def row_of(obj: object, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in names}


def finding_row(finding: FindingRecord) -> dict[str, Any]:
    return row_of(finding, FINDING_COLUMNS)


def plain(value: Any) -> Any:
    """Enum members as their values, so a row read back and an object give the same leaf."""
    return getattr(value, "value", value) if not isinstance(value, str | int) else value


def sealed_decision(
    event: Mapping[str, Any], findings: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A decision as sealed: every column of the event, and each finding with its id."""
    record = {name: plain(event[name]) for name in EVENT_COLUMNS}
    record["findings"] = [
        {
            name: plain(f[name])
            for name in FINDING_COLUMNS
            if name not in LATER_FINDING_COLUMNS or f[name] is not None
        }
        for f in sorted(findings, key=lambda f: f["id"])
    ]
    return record


def sealed_document(row: Mapping[str, Any]) -> dict[str, Any]:
    """An issued document as sealed, with nothing personal in the clear.

    The public check shows this leaf whole, so that anyone can recompute its hash: the
    parts that name people (the content, the officer) are sealed by their SHA-256 only,
    and what the document says by the SHA-256 of its canonical form (issue 28: its PDF is
    rendered after the decision). A document of before that seals its PDF's SHA-256 and
    signature instead.
    """
    private = canonical_json({"actor": row["actor"], "content": sealable(row["content"])})
    sealed = {
        "id": row["id"],
        "number": row["number"],
        "kind": row["kind"],
        "serial": row["serial"],
        "authority": row["authority_code"],
        "shipment_id": row["shipment_id"],
        "issued_at": row["issued_at"],
        "issued_on": row["issued_on"],
        "valid_until": row["valid_until"],
        "private_sha256": hashlib.sha256(private).hexdigest(),
        "key_id": row["key_id"],
    }
    if row["digest"] is not None:
        return sealed | {"document_sha256": row["digest"]}
    pdf_sha256 = hashlib.sha256(bytes(row["pdf"])).hexdigest()
    return sealed | {"pdf_sha256": pdf_sha256, "signature": row["signature"]}


def sealed_status(row: Mapping[str, Any], number: str) -> dict[str, Any]:
    return {
        "id": row["id"],
        "document": number,
        "status": plain(row["status"]),
        "at": row["at"],
        "actor": row["actor"],
        "reason": row["reason"],
    }


def sealed_purge(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in PURGE_COLUMNS}


def _exact(value: Any) -> Any:
    """A Decimal without the zeros a column's scale pads on, however it was read back."""
    return format(value.normalize(), "f") if isinstance(value, Decimal) else plain(value)


def sealed_presentation(
    shipment: Mapping[str, Any],
    certificate: Mapping[str, Any] | None,
    containers: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """A shipment as presented: where and how, the certificate and the containers, so that
    no later edit of what the decisions judged passes unseen."""
    record = {name: plain(shipment[name]) for name in SHIPMENT_COLUMNS}
    record["certificate"] = (
        {name: _exact(certificate[name]) for name in CERTIFICATE_COLUMNS}
        if certificate is not None
        else None
    )
    record["containers"] = [
        {name: plain(c[name]) for name in CONTAINER_COLUMNS}
        for c in sorted(containers, key=lambda c: c["id"])
    ]
    return record


IDENTITY_COLUMNS = (
    "id",
    "number",
    "authority_code",
    "kind",
    "carats",
    "origin",
    "origin_countries",
    "documents",
    "registered_on",
)


def exact_carats(carats: Any) -> Decimal:
    """Carats at the columns' full scale, however the database reads them back, so that a
    sealed leaf and an answer always write them the same way."""
    return Decimal(carats).quantize(Decimal(1).scaleb(-Carats().scale))


def sealed_identity(row: Mapping[str, Any], parents: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """What the ledger seals of a digital identity, with the cuts it was made of: everything
    but the officer's name, so that the leaf can be shown whole with its proof (the same
    function rebuilds it from the rows, issue 25)."""
    return {
        "id": row["number"],
        "kind": plain(row["kind"]),
        "carats": exact_carats(row["carats"]),
        "origin": dict(row["origin"]),
        "origin_countries": list(row["origin_countries"]),
        "documents": list(row["documents"]),
        "parents": [
            {"id": number, "carats": exact_carats(carats)} for number, carats in sorted(parents)
        ],
        "control_point": row["authority_code"],
        "registered_on": row["registered_on"],
    }
