"""The public certificate check: ``GET /verify/<number>``, where a document's QR code points.

Anyone holding a document (a customs officer abroad, a buyer) learns whether it is
genuine, its status (valid, expired, returned, revoked), what it covers (origin, weight,
parcels, HS codes: nothing that names the importer or the exporter) and the ledger's
proof that it was sealed, checkable with the authority's public key. No account needed.

| method and path | what |
|---|---|
| ``GET /verify`` | a box to type a number in (``?number=`` goes to its check) |
| ``GET /verify/<number>`` | HTML page (JSON when the client asks for ``application/json``) |
| ``GET /verify/<number>.json`` | the same as JSON |

Document numbers run in series and are easy to guess, so the check is rate-limited per
address (``VERIFY_CHECKS`` within ``VERIFY_WINDOW_SECONDS``, issue 26): a holder checks a
few, an enumeration of the register stops at once. The page speaks the reader's language.
"""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict, deque
from typing import Any, Literal

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from pydantic import Field

from caratflow.faces import ErrorOut, Out, operation
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
        429: ("too many checks from this address: wait (Retry-After seconds)", ErrorOut),
    },
}


class Checks:
    """How many checks each address made within the window, in this process: enough to
    stop a script walking the series (each node counts its own)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: dict[str, deque[float]] = defaultdict(deque)

    def wait(self, address: str, limit: int, window: float) -> int:
        """Seconds to wait before this address may check again (0: it may now, counted)."""
        now = time.monotonic()
        with self.lock:
            times = self.seen[address]
            while times and times[0] <= now - window:
                times.popleft()
            if len(times) >= limit:
                return int(times[0] + window - now) + 1
            times.append(now)
            if len(self.seen) > 100_000:  # forget the quiet ones, keep memory bounded
                for quiet in [a for a, t in self.seen.items() if not t]:
                    del self.seen[quiet]
            return 0


@blueprint.get("/verify")
def index() -> Response | str:
    """The box to type a number in, for those without the QR code at hand."""
    number = "".join(request.args.get("number", "").split())
    if number:
        return redirect(url_for(".check_page", number=number[:60]), 303)
    return render_template("verify/index.html")


@blueprint.get("/verify/<anything:number>.json")
@operation(summary="The public check of a document, as JSON", **_CHECK)
def check_json(number: str) -> Response:
    return _answer(number, as_json=True)


@blueprint.get("/verify/<anything:number>")
@operation(
    summary="The public check of a document: a page, or JSON when asked for",
    **_CHECK,
    other_content={status: {"text/html": {"type": "string"}} for status in (200, 404, 429)},
)
def check_page(number: str) -> Response:
    wanted = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return _answer(number, as_json=wanted == "application/json")


def _answer(number: str, *, as_json: bool) -> Response:
    config = current_app.config
    checks = current_app.extensions.setdefault("caratflow.verify", Checks())
    wait = checks.wait(
        request.remote_addr or "", config["VERIFY_CHECKS"], config["VERIFY_WINDOW_SECONDS"]
    )
    if wait:
        message = _(
            "Too many checks from your address. Try again in %(seconds)s seconds.", seconds=wait
        )
        if as_json:
            response = jsonify({"error": "TooManyChecks", "message": message})
        else:
            response = Response(render_template("verify/index.html", message=message))
        response.status_code = 429
        response.headers["Retry-After"] = str(wait)
        return response
    if NUMBER.fullmatch(number):
        result = check_document(read_db(), number, signing_keys.public_key(runtime().settings))
    else:
        result = DocumentCheck(number[:60], False, problems=[_("this is not a document number")])
    status = 200 if result.status else 404
    if as_json:
        response = jsonify(result.to_dict())
    else:
        response = Response(
            render_template(
                "verify/check.html", check=result, body=result.to_dict(), number=result.number
            )
        )
    response.status_code = status
    return response
