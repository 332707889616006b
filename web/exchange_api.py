"""Messages from other authorities' caratflow nodes (issue 10; logic in caratflow.exchange).

| method and path | what |
|---|---|
| ``POST /api/v1/exchange/messages`` | a peer's signed message: stored, sealed, acted on (202) |

No bearer token: the Ed25519 signature of a registered peer authenticates the message,
and nothing else may. A refusal names its reason (``unsigned``, ``unknown_sender``,
``bad_signature``, ``not_accepted``, ``replay``, ``malformed``, ``too_large``), is
logged, and is recorded in the security log of the authority it was addressed to.
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint, Response, request
from pydantic import BaseModel, ConfigDict, Field
from werkzeug.exceptions import HTTPException

from caratflow import exchange
from caratflow.errors import CaratflowError
from caratflow.web import DATABASE_UNAVAILABLE, api, database_unavailable
from caratflow.web.apimodels import Out
from caratflow.web.context import db
from caratflow.web.openapi import operation

blueprint = Blueprint("exchange_api", __name__, url_prefix="/api/v1/exchange")

_CODE = r"^[A-Z0-9]{2,16}$"


# -- what is sent and answered, as the OpenAPI document describes it ------------------------


class MessageIn(BaseModel):
    """What the sender signed: its RFC 8785 canonical JSON, after the context line."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(min_length=1, max_length=200, description="unique per sender, for good")
    type: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_.:-]{0,79}$",
        description="the LAW.md rule it is sent under, e.g. 'eu.import_confirmation'",
    )
    from_: str = Field(alias="from", pattern=_CODE, description="the sending authority")
    to: str = Field(pattern=_CODE, description="the receiving authority")
    created_at: str = Field(description="UTC instant ending in Z")
    subject: str
    body: str
    data: dict[str, Any] = Field(description="e.g. certificate, carats, parcels, importer")


class EnvelopeIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    message: MessageIn
    key_id: str = Field(description="16 hex digits naming the signing key")
    signature: str = Field(
        min_length=88,
        max_length=88,
        description="base64 Ed25519 signature of 'caratflow exchange message v1\\n' "
        "followed by the canonical JSON (RFC 8785) of message",
    )


class LeafOut(Out):
    kind: str
    key: str
    leaf_hash: str
    seq: int | None


class DeadlineMetOut(Out):
    id: int
    rule: str


class ReceiptOut(Out):
    status: Literal["received"]
    id: str
    from_: str = Field(alias="from")
    to: str
    type: str
    reference: str | None = Field(description="the certificate number it concerns")
    received_at: str
    ledger: LeafOut = Field(description="the leaf that seals it (seq once sequenced)")
    deadlines_met: list[DeadlineMetOut]


class RefusalOut(Out):
    error: str
    reason: Literal[
        "malformed",
        "unsigned",
        "unknown_sender",
        "bad_signature",
        "not_accepted",
        "replay",
        "too_large",
    ]
    message: str


# -- URL table ----------------------------------------------------------------------------


@blueprint.post("/messages")
@operation(
    summary="Receive a signed message from another authority's node",
    description=(
        "Checked in this order: signed (else 401 unsigned), from a peer the addressed "
        "authority registered (403 unknown_sender), the signature verifies with that "
        "peer's key (401 bad_signature), a type taken from it (422 not_accepted), new "
        "(409 replay: stored before; the sender counts it delivered). Then stored once, "
        "sealed in the ledger and acted on: it meets the open deadline its type names on "
        "the shipment its data.certificate identifies."
    ),
    tag="exchange",
    public=True,
    body=EnvelopeIn,
    responses={
        202: ("stored and sealed", ReceiptOut),
        401: ("unsigned, or the signature does not verify", RefusalOut),
        403: ("no such peer of the addressed authority", RefusalOut),
        409: ("received before (replay)", RefusalOut),
        413: ("larger than a message may be", RefusalOut),
        422: ("malformed, or a type not taken from this peer", RefusalOut),
    },
)
def receive() -> Response:
    session = db()
    try:
        if (request.content_length or 0) > exchange.MAX_ENVELOPE_BYTES:
            raise exchange.Refused("too_large", "the message is too large")
        payload = exchange.read_envelope(request.get_data(cache=False))
        receipt = exchange.receive(session, payload)
    except exchange.Refused as refused:
        session.rollback()
        exchange.record_refusal(
            session, refused, remote_addr=request.remote_addr, path=request.path
        )
        session.commit()
        return api._json(refused.as_dict(), refused.status)
    session.commit()
    return api._json(receipt.as_json(), 202)


# -- errors: the API's own answers ----------------------------------------------------------


@blueprint.errorhandler(CaratflowError)
def caratflow_error(error: CaratflowError) -> Response:
    return api.caratflow_error(error)


@blueprint.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    return api.http_error(error)


for _unavailable in DATABASE_UNAVAILABLE:  # a 503 to retry, as the API answers
    blueprint.register_error_handler(_unavailable, database_unavailable)


@blueprint.errorhandler(Exception)
def unexpected_error(error: Exception) -> Response:
    return api.unexpected_error(error)
