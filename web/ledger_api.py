"""The ledger's public API: signed tree heads and proofs, for anyone to audit the log.

Nothing here needs a token and nothing here is personal: heads, hashes and proofs only.
Another authority keeps the heads it has seen, asks for consistency proofs to check the
log only grew, and verifies inclusion proofs with ``caratflow.ledger.check_inclusion``
and our public key (given with every head).

| method and path | what |
|---|---|
| ``GET /api/v1/ledger/head`` | the latest signed tree head and the public key |
| ``GET /api/v1/ledger/proof/<seq>[?tree_size=N]`` | inclusion proof of entry ``seq`` |
| ``GET /api/v1/ledger/consistency?from=A[&to=B]`` | consistency proof from size A to B |
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from caratflow import ledger
from caratflow.errors import CaratflowError, FieldError, InvalidInput, NotFound
from caratflow.signing import key_id, public_key_pem
from caratflow.web.context import db, runtime

blueprint = Blueprint("ledger_api", __name__, url_prefix="/api/v1/ledger")


@blueprint.get("/head")
def head() -> Response:
    latest = ledger.latest_head(db())
    if latest is None:
        raise NotFound("the ledger has no signed tree head yet")
    return _json({"tree_head": latest.to_dict(), **_key()})


@blueprint.get("/proof/<int:seq>")
def proof(seq: int) -> Response:
    size = _size_arg("tree_size", None)
    signed = None
    if size is not None:
        signed = ledger.head_at(db(), size)
        if signed is None:
            raise NotFound(f"no signed tree head at size {size}")
    return _json(ledger.prove_inclusion(db(), seq, signed).to_dict() | _key())


@blueprint.get("/consistency")
def consistency() -> Response:
    latest = ledger.latest_head(db())
    old = _size_arg("from", None)
    if old is None:
        raise InvalidInput([FieldError("from", "give the size of the tree head you hold")])
    new = _size_arg("to", latest.tree_size if latest else 0)
    nodes = ledger.prove_consistency(db(), old, new)
    old_head, new_head = ledger.head_at(db(), old), ledger.head_at(db(), new)
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
    private = ledger.signing_key(runtime().settings)
    return {"key_id": key_id(private.public_key()), "public_key": public_key_pem(private)}


def _size_arg(name: str, default: int | None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or len(raw) > 15:
        raise InvalidInput([FieldError(name, "must be a whole number of entries")])
    return int(raw)


def _json(body: Any, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response
