"""Messages and look-ups between authorities' caratflow nodes (issue 10; logic in
caratflow.exchange and caratflow.exchange.lookups).

| method and path | what |
|---|---|
| ``POST /api/v1/exchange/messages`` | a peer's signed message: stored, sealed, acted on (202) |
| ``POST /api/v1/exchange/lookups`` | a peer's signed look-up: stored, sealed, answered signed |
| ``GET /api/v1/exchange/peers/<code>/lookups/<type>/<value>`` | ask a peer; its verified answer |

The two POSTs take no bearer token: the Ed25519 signature of a registered peer
authenticates the message, and nothing else may. A refusal names its reason
(``unsigned``, ``unknown_sender``, ``bad_signature``, ``not_accepted``,
``wrong_endpoint``, ``stale``, ``replay``, ``malformed``, ``too_large``), is logged, and
is recorded in the security log of the authority it was addressed to. The GET is an
officer's or auditor's question, asked with a bearer token, signed by this node.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from flask import Blueprint, Response, g, request
from pydantic import BaseModel, ConfigDict, Field
from werkzeug.exceptions import HTTPException

from caratflow.case.access import Permission, require
from caratflow.errors import CaratflowError, Forbidden
from caratflow.exchange import lookups, messages
from caratflow.faces import ErrorOut, Out, Param, operation
from caratflow.ledger.signing_keys import signing_key
from caratflow.web import DATABASE_UNAVAILABLE, api, database_unavailable
from caratflow.web.context import db, runtime

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
    """A message another authority's node signed with its ledger key (Ed25519), as its
    outbox sends it; the receiver checks it with the key registered for that peer."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "message": {
                        "id": "NL:outbox:4711",
                        "type": "eu.import_confirmation",
                        "from": "NL",
                        "to": "BE",
                        "created_at": "2026-11-23T09:41:07Z",
                        "subject": "Import confirmation for EC004211",
                        "body": "The consignment under certificate EC004211 arrived in NL.",
                        "data": {"certificate": "EC004211", "carats": "123.45", "parcels": 2},
                    },
                    "key_id": "3f9a6c21d0e4b7a5",
                    "signature": "nq2x0Xc2m1Vx3uQk1d7l8r4Zc8kY0p5oGJtW9Qm3f2hV6sLr1bTq0aUeZ4yN"
                    "8cXw7vK2jH5gF3dS1aP9oI6uYt==",
                }
            ]
        },
    )

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
        "wrong_endpoint",
        "stale",
        "replay",
        "too_large",
    ]
    message: str


class AnswerOut(Out):
    """What the answering node signed: its RFC 8785 canonical JSON, after the context line."""

    lookup: str = Field(description="the id of the look-up it answers")
    type: str
    from_: str = Field(alias="from", description="the answering authority")
    to: str = Field(description="the asking authority")
    asked: dict[str, Any] = Field(description="what was asked about, e.g. {'identity': ...}")
    answered_at: str
    status: Literal["found", "not_found", "pending"]
    data: dict[str, Any] = Field(description="what the answering authority says of it today")
    proof: dict[str, Any] | None = Field(
        description="when found: the sealed leaf (leaf_data) with its inclusion proof under "
        "the answering node's signed tree head; caratflow.ledger.proofs.check_inclusion verifies it"
    )


class AnswerEnvelopeOut(Out):
    answer: AnswerOut
    key_id: str
    signature: str = Field(
        description="base64 Ed25519 signature of 'caratflow exchange answer v1\\n' followed "
        "by the canonical JSON (RFC 8785) of answer"
    )


class VerifiedOut(Out):
    verified: Literal[True]
    peer: str
    type: str
    asked: dict[str, Any]
    status: Literal["found"]
    answered_at: str
    record: dict[str, Any] = Field(description="the record as the peer sealed it in its ledger")
    sealed_at: str
    data: dict[str, Any] = Field(description="what the peer says of it today, signed")
    ledger: dict[str, Any] = Field(description="where the record stands in the peer's log")
    answer: AnswerEnvelopeOut = Field(description="the signed answer, to keep or check again")


class LookupFailedOut(ErrorOut):
    reason: Literal[
        "unknown_peer",
        "not_a_lookup",
        "unreachable",
        "peer_error",
        "refused",
        "unverified",
        "not_found",
        "pending",
    ]
    peer: str


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
    plugins = runtime().plugins
    types = plugins.lookup_types(plugins.plugin_names)
    clocks = plugins.message_clocks(plugins.plugin_names)
    return _signed(
        lambda payload: (
            messages.receive(db(), payload, lookups=types, clocks=clocks).as_json(),
            202,
        )
    )


@blueprint.post("/lookups")
@operation(
    summary="Answer another authority's signed look-up",
    description=(
        "Checked as a message is (401 unsigned, 403 unknown_sender, 401 bad_signature, "
        "422 not_accepted, 409 replay), and: a look-up type, not a message (422 "
        "wrong_endpoint), asked within minutes of now (401 stale). Then stored and sealed "
        "as the record of who asked what, and answered, signed with this node's key: "
        "found (with the sealed leaf and its inclusion proof), not_found or pending."
    ),
    tag="exchange",
    public=True,
    body=EnvelopeIn,
    body_example={
        "message": {
            "id": "lookup:5b0c1e9f3a7d4e2c8b6a1f0e9d8c7b6a",
            "type": "g7.digital_identity",
            "from": "NL",
            "to": "BE",
            "created_at": "2026-11-23T09:41:07Z",
            "subject": "Look-up (g7.digital_identity): BE-GIA-2231",
            "body": "Diamantkantoor Nederland asks about identity BE-GIA-2231.",
            "data": {"identity": "BE-GIA-2231"},
        },
        "key_id": "3f9a6c21d0e4b7a5",
        "signature": "Jr7pW0y4Lk2Qf8s1Vb6Xn3Md9Tg5Ha0Ce7Zu2Io4Ep8Ry1Aw6Sx3Fl9Kj5Nh0Gq"
        "2Bt7Dv4Pm8Yc1Ox6Uz3WrLa==",
    },
    responses={
        200: ("the signed answer", AnswerEnvelopeOut),
        401: ("unsigned, not verifying, or stale", RefusalOut),
        403: ("no such peer of the asked authority", RefusalOut),
        409: ("asked before (replay)", RefusalOut),
        413: ("larger than a message may be", RefusalOut),
        422: ("malformed, not taken from this peer, or not a look-up", RefusalOut),
    },
)
def answer_lookup() -> Response:
    key = signing_key(runtime().settings)
    return _signed(
        lambda payload: (lookups.answer(db(), payload, runtime().plugins, key).envelope, 200)
    )


@blueprint.get("/peers/<code>/lookups/<kind>/<value>")
@operation(
    summary="Ask a peer authority's node about a record it keeps, and verify the answer",
    description=(
        "Signs the look-up with this node's key, sends it to the peer and checks the "
        "answer with the peer's public key alone: its signature, that it answers this "
        "look-up, and the record's inclusion proof under the peer's signed tree head. "
        "The asking authority is the token's only one, or ?authority=. An answer that "
        "does not verify is recorded in the security log."
    ),
    tag="exchange",
    query=[Param("authority", "the asking authority (one of yours)")],
    responses={
        200: ("the verified answer", VerifiedOut),
        401: ("no valid bearer token", ErrorOut),
        403: ("the token's role or authorities do not allow it", ErrorOut),
        404: ("no such peer (unknown_peer), or the peer keeps no such record", LookupFailedOut),
        422: ("not a look-up the authority's plugins declare, or a malformed value", ErrorOut),
        502: ("the peer was unreachable, refused, or its answer does not verify", LookupFailedOut),
        503: ("the peer has not yet sealed the record under a signed tree head", LookupFailedOut),
    },
    response_headers={503: {"Retry-After": "seconds to wait before asking again"}},
)
def look_up(code: str, kind: str, value: str) -> Response:
    actor = api._actor()
    require(actor, Permission.READ)
    authority = request.args.get("authority") or api._only_authority(actor)
    if not actor.may_act_for(authority):
        raise Forbidden(f"{actor.name} does not act for authority {authority}")
    session, settings = db(), runtime().settings
    prepared = lookups.prepare(
        session, runtime().plugins, authority, code, value, signing_key(settings), type_=kind
    )
    session.rollback()  # nothing held while the peer answers
    try:
        verified = lookups.ask(prepared)
    except lookups.LookupFailed as failed:
        if failed.reason == "unverified":
            lookups.record_unverified(
                session,
                failed,
                prepared,
                user_name=g.api_user.name,
                remote_addr=request.remote_addr,
                path=request.path,
            )
            session.commit()
        response = api._json(failed.as_dict(), failed.status)
        if failed.reason == "pending":
            response.headers["Retry-After"] = "60"
        return response
    return api._json(verified.as_json())


def _signed(take: Callable[[Any], tuple[Any, int]]) -> Response:
    """Run ``take(payload)`` on a peer's envelope: its (answer, status), or the refusal,
    recorded in the security log after dropping whatever was written."""
    session = db()
    try:
        if (request.content_length or 0) > messages.MAX_ENVELOPE_BYTES:
            raise messages.Refused("too_large", "the message is too large")
        body, status = take(messages.read_envelope(request.get_data(cache=False)))
    except messages.Refused as refused:
        session.rollback()
        messages.record_refusal(
            session, refused, remote_addr=request.remote_addr, path=request.path
        )
        session.commit()
        return api._json(refused.as_dict(), refused.status)
    session.commit()
    return api._json(body, status)


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
