"""The public certificate check: ``GET /verify/<number>``, where a document's QR code points.

Anyone holding a document (a customs officer abroad, a buyer) learns whether it is
genuine, its status (valid, expired, returned, revoked), what it covers (origin, weight,
parcels, HS codes: nothing that names the importer or the exporter) and the ledger's
proof that it was sealed, checkable with the authority's public key. No account needed.

| method and path | what |
|---|---|
| ``GET /verify/<number>`` | HTML page (JSON when the client asks for ``application/json``) |
| ``GET /verify/<number>.json`` | the same as JSON |
"""

from __future__ import annotations

import re
from typing import Any, Literal

from flask import Blueprint, Response, jsonify, render_template, request
from pydantic import Field

from caratflow.faces import Out, operation
from caratflow.ledger import signing_keys
from caratflow.records.documents import DocumentCheck, check_document
from caratflow.web.context import read_db, runtime

blueprint = Blueprint("verify", __name__)

NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9/-]{0,39}")


class CheckedDocumentOut(Out):
    """What anyone may learn of a document: nothing that names the importer or exporter."""

    number: str
    genuine: bool = Field(description="signature, record and ledger entry all agree")
    status: Literal["valid", "expired", "returned", "revoked"] | None = None
    document: dict[str, Any] | None = Field(None, description="title, issuer, dates, fields")
    signature: dict[str, Any] | None = Field(None, description="Ed25519 over the PDF's bytes")
    ledger: dict[str, Any] | None = Field(None, description="its leaf and inclusion proof")
    problems: list[str] = Field(description="why it is not genuine; empty when it is")


# What both forms of the check share in the OpenAPI document.
_CHECK: dict[str, Any] = {
    "description": "Where a document's QR code points; no account needed.",
    "tag": "verify",
    "public": True,
    "responses": {
        200: ("issued here; 'genuine' says whether it checks out", CheckedDocumentOut),
        404: ("no document of that number was issued here", CheckedDocumentOut),
    },
}


@blueprint.get("/verify/<anything:number>.json")
@operation(summary="The public check of a document, as JSON", **_CHECK)
def check_json(number: str) -> Response:
    return _answer(number, as_json=True)


@blueprint.get("/verify/<anything:number>")
@operation(
    summary="The public check of a document: a page, or JSON when asked for",
    **_CHECK,
    other_content={status: {"text/html": {"type": "string"}} for status in (200, 404)},
)
def check_page(number: str) -> Response:
    wanted = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return _answer(number, as_json=wanted == "application/json")


def _answer(number: str, *, as_json: bool) -> Response:
    if NUMBER.fullmatch(number):
        result = check_document(read_db(), number, signing_keys.public_key(runtime().settings))
    else:
        result = DocumentCheck(number[:60], False, problems=["this is not a document number"])
    status = 200 if result.status else 404
    if as_json:
        response = jsonify(result.to_dict())
    else:
        response = Response(
            render_template("verify/check.html", check=result, body=result.to_dict())
        )
    response.status_code = status
    return response
