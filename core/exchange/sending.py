"""Sending signed messages to a peer's node: the envelope (RFC 8785 JSON signed with the
node's ledger key after a context line) and the outbox channel that POSTs it, retried with
backoff until the peer answers 202, or 409 "replay" (it has it already)."""

from __future__ import annotations

import http.client
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session, sessionmaker

from caratflow.deadlines.outbox import DeliveryError
from caratflow.errors import CaratflowError
from caratflow.exchange.messages import MAX_ENVELOPE_BYTES, MESSAGE_CONTEXT, PATH
from caratflow.exchange.peers import find_peer
from caratflow.ledger import leaves
from caratflow.ledger.signing import (
    canonical_json,
    format_timestamp,
    key_id,
    sign_detached,
)
from caratflow.models import (
    OutboxMessage,
)

log = logging.getLogger(__name__)


def message_type(message: OutboxMessage) -> str:
    """The LAW.md id a message is sent under (a notice's ``rule``), else its outbox kind."""
    rule = (message.data or {}).get("rule")
    return rule if isinstance(rule, str) and rule else message.kind


def envelope(message: OutboxMessage, to: str, private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """The signed envelope of an outbox message for peer ``to``; the same bytes every time."""
    if not message.authority_code:
        raise ValueError(f"{message.key} belongs to no authority: nobody could sign it")
    content = {
        "id": message.key,
        "type": message_type(message),
        "from": message.authority_code,
        "to": to,
        "created_at": format_timestamp(message.scheduled_for),
        "subject": message.subject,
        "body": message.body,
        "data": leaves.sealable(dict(message.data or {})),
    }
    return sign(content, private_key)


def sign(
    content: Mapping[str, Any],
    private_key: Ed25519PrivateKey,
    *,
    name: str = "message",
    context: bytes = MESSAGE_CONTEXT,
) -> dict[str, Any]:
    """``{name: content, "key_id", "signature"}``: signed over ``context`` and the RFC 8785
    canonical JSON of ``content`` (a look-up's answer has a context line of its own)."""
    return {
        name: dict(content),
        "key_id": key_id(private_key.public_key()),
        "signature": sign_detached(private_key, context + canonical_json(content)),
    }


@dataclass
class PeerChannel:
    """The outbox channel of ``peer:<CODE>`` addresses (built by ``caratflow.scheduler``).

    202 is delivered; 409 with reason "replay" too (the peer stored it on an earlier
    attempt whose answer was lost); anything else, or no answer, is a ``DeliveryError``
    that the outbox retries with backoff.
    """

    sessions: sessionmaker[Session]
    private_key: Callable[[], Ed25519PrivateKey]  # read at send time: the key may come later
    timeout: float = 30.0

    def send(self, message: OutboxMessage, late: bool) -> None:
        code = message.address.partition(":")[2].strip().upper()
        with self.sessions() as session:
            peer = find_peer(session, message.authority_code, code)
            url = f"{peer.base_url}{PATH}" if peer is not None else None
        if url is None:
            raise DeliveryError(
                f"{message.authority_code} has no peer {code!r}: register it "
                "(caratflow peers add) or change the recipient"
            )
        try:
            sealed = envelope(message, code, self.private_key())
        except (CaratflowError, OSError, ValueError, TypeError) as error:
            raise DeliveryError(f"cannot sign for peer {code}: {error}") from None
        try:
            status, answer = post(url, sealed, key=message.key, timeout=self.timeout)
        except Unreachable as error:
            raise DeliveryError(f"peer {code} unreachable at {url}: {error}") from None
        if status == 409 and answer.get("reason") == "replay":
            if answer.get("same_content") is False:
                log.warning(
                    "exchange: peer %s holds %s with other content: %s",
                    code,
                    message.key,
                    answer.get("message"),
                )
            log.info("exchange: peer %s had %s already", code, message.key)
            return
        if status != 202:
            said = answer.get("message") or "no reason given"
            reason = answer.get("reason") or ""
            raise DeliveryError(f"peer {code} answered {status} {reason}: {said}")

    def close(self) -> None:
        pass


class Unreachable(Exception):
    """No HTTP answer from a peer: refused, timed out, cut off, or not HTTP at all."""


def post(
    url: str, body: Mapping[str, Any], *, key: str, timeout: float
) -> tuple[int, dict[str, Any]]:
    """POST ``body`` as JSON to a peer: its HTTP status and its JSON answer (``{}`` when it
    sent none, or too much); ``Unreachable`` when there was no answer."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Idempotency-Key": key,
            "User-Agent": "caratflow-exchange",
        },
    )
    try:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, _json_of(response)
        except urllib.error.HTTPError as error:
            with error:
                return error.code, _json_of(error)
    except (OSError, http.client.HTTPException) as error:
        raise Unreachable(str(error) or type(error).__name__) from None


def _json_of(response: Any) -> dict[str, Any]:
    raw = response.read(MAX_ENVELOPE_BYTES + 1)
    try:
        found = json.loads(raw) if 0 < len(raw) <= MAX_ENVELOPE_BYTES else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
