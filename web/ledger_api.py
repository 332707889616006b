"""The ledger's public API: signed tree heads and proofs, for anyone to audit the log.

Nothing here needs a token and nothing here is personal: heads, hashes and proofs only.
Another authority keeps the heads it has seen, asks for consistency proofs to check the
log only grew, and verifies inclusion proofs with ``caratflow.ledger.proofs.check_inclusion``
and our public key (given with every head).

| method and path | what |
|---|---|
| ``GET /api/v1/ledger/head`` | the latest signed tree head and the public key |
| ``GET /api/v1/ledger/proof/<seq>[?tree_size=N]`` | inclusion proof of entry ``seq`` |
| ``GET /api/v1/ledger/consistency?from=A[&to=B]`` | consistency proof from size A to B |
| ``GET /api/v1/ledger/checkpoint`` | the latest head as a C2SP checkpoint, with the
  cosignatures of witnesses kept for it (what ``caratflow ledger watch`` fetches) |
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import Field

from caratflow import inputs
from caratflow.errors import CaratflowError, FieldError, InvalidInput, NotFound
from caratflow.faces import ErrorOut, Out, Param, TreeHeadOut, operation
from caratflow.ledger import checkpoints, proofs, sequencer, signing_keys, witness
from caratflow.ledger.signing import key_id, public_key_pem
from caratflow.web.context import db, runtime

blueprint = Blueprint("ledger_api", __name__, url_prefix="/api/v1/ledger")

MAX_SIZE = 10**15 - 1
"""A tree size or entry number beyond any ledger (15 digits, as before)."""


class KeyOut(Out):
    key_id: str
    public_key: str = Field(description="the log's Ed25519 public key, PEM")


class HeadOut(KeyOut):
    tree_head: TreeHeadOut


class InclusionOut(KeyOut):
    """An RFC 9162 inclusion proof; ``caratflow.ledger.proofs.check_inclusion`` verifies it."""

    seq: int
    leaf_hash: str
    tree_size: int
    proof: list[str] = Field(description="the audit path, lower-case hex, leaf to root")
    tree_head: TreeHeadOut


class ConsistencyOut(Out):
    from_: int = Field(alias="from")
    to: int
    proof: list[str] = Field(description="RFC 9162 consistency proof, lower-case hex")
    from_head: TreeHeadOut | None = Field(description="the head signed at that size, if any")
    to_head: TreeHeadOut | None


@blueprint.get("/head")
@operation(
    summary="The latest signed tree head of the ledger, and the key that signed it",
    tag="ledger",
    public=True,
    responses={
        200: ("the head", HeadOut),
        404: ("the ledger has no signed tree head yet", ErrorOut),
    },
)
def head() -> Response:
    latest = sequencer.latest_head(db())
    if latest is None:
        raise NotFound("the ledger has no signed tree head yet")
    return _json({"tree_head": latest.to_dict(), **_key()})


@blueprint.get("/checkpoint")
@operation(
    summary="The latest signed tree head as a C2SP tlog-checkpoint note, with its cosignatures",
    tag="ledger",
    public=True,
    responses={200: ("the signed note", None), 404: ("no signed tree head yet", ErrorOut)},
    other_content={200: {"text/plain": {"type": "string"}}},
)
def checkpoint() -> Response:
    latest = sequencer.latest_head(db())
    if latest is None:
        raise NotFound("the ledger has no signed tree head yet")
    settings = runtime().settings
    origin = checkpoints.origin_of(settings.public_url)
    note = checkpoints.signed_checkpoint(origin, latest, signing_keys.signing_key(settings))
    seen = checkpoints.Checkpoint(origin, latest.tree_size, latest.root_hash)
    note += witness.cosignatures_of(witness.cosignatures_folder(settings.instance_path), seen)
    return Response(note, mimetype="text/plain")


@blueprint.get("/proof/<int:seq>")
@operation(
    summary="The inclusion proof of one ledger entry under a signed tree head",
    tag="ledger",
    public=True,
    query=[Param("tree_size", "a signed head's size (default: the latest head)")],
    responses={
        200: ("the proof", InclusionOut),
        404: ("no such entry under a signed tree head, or no head of that size", ErrorOut),
        422: ("a size that is not a whole number", ErrorOut),
    },
)
def proof(seq: int) -> Response:
    size = _size_arg("tree_size", None)
    signed = None
    if size is not None:
        signed = sequencer.head_at(db(), size)
        if signed is None:
            raise NotFound(f"no signed tree head at size {size}")
    return _json(proofs.prove_inclusion(db(), seq, signed).to_dict() | _key())


@blueprint.get("/consistency")
@operation(
    summary="The proof that the ledger at one size is a prefix of it at a later size",
    tag="ledger",
    public=True,
    query=[
        Param("from", "the size of the tree head you hold", required=True),
        Param("to", "a later size (default: the latest head's)"),
    ],
    responses={
        200: ("the proof, with the heads signed at both sizes", ConsistencyOut),
        404: ("a size beyond the latest signed tree head, or in the wrong order", ErrorOut),
        422: ("no 'from', or a size that is not a whole number", ErrorOut),
    },
)
def consistency() -> Response:
    latest = sequencer.latest_head(db())
    old = _size_arg("from", None)
    if old is None:
        raise InvalidInput([FieldError("from", "give the size of the tree head you hold")])
    new = _size_arg("to", latest.tree_size if latest else 0)
    nodes = proofs.prove_consistency(db(), old, new)
    old_head, new_head = sequencer.head_at(db(), old), sequencer.head_at(db(), new)
    return _json(
        {
            "from": old,
            "to": new,
            "proof": [node.hex() for node in nodes],
            "from_head": old_head.to_dict() if old_head else None,
            "to_head": new_head.to_dict() if new_head else None,
        }
    )


@blueprint.errorhandler(CaratflowError)
def ledger_error(error: CaratflowError) -> Response:
    return _json(error.as_dict(), error.status)


def _key() -> dict[str, str]:
    private = signing_keys.signing_key(runtime().settings)
    return {"key_id": key_id(private.public_key()), "public_key": public_key_pem(private)}


def _size_arg(name: str, default: int | None) -> int | None:
    return inputs.optional_whole_number(request.args.get(name) or None, name, default, 0, MAX_SIZE)


def _json(body: Any, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response
