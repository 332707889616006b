"""Signed messages between authorities' caratflow nodes (issue 10).

The Kimberley Process recommends that the exporting authority tell the importing one
what is coming, and that imports be confirmed back (LAW.md ``kp.electronic_messages``,
``eu.import_confirmation``); the G7 mechanism rests on information exchange between
control points (``nl.trace.serial_lot``). Today that runs on e-mail. Here two nodes talk
directly, and each can prove what the other said:

- **Peers.** An authority registers another authority's node (``peer`` table,
  ``caratflow peers add``): its code, base URL, Ed25519 public key and the message types
  it may send here (``accepts``; none for a system that only receives, such as a customs
  endpoint).
- **Sending.** Any outbox notice goes to a peer once an administrator maps its audience
  (e.g. ``kp-authority:NO``) to the address ``peer:NO``. ``PeerChannel`` turns the
  outbox row into a signed envelope and POSTs it to ``<base_url>/api/v1/exchange/messages``;
  the outbox retries with backoff until the peer answers 202 (or 409 "replay": it has
  the message already). Delivery is at least once, storage exactly once.
- **Receiving.** ``receive`` checks, in this order, that the envelope is signed, that
  the sender is a registered peer of the receiving authority, that the signature
  verifies with that peer's key, that the peer may send this type and that this message
  id is new; each refusal names its reason, is logged and lands in the security log.
  An accepted message is stored (``exchange_message``) and sealed in the ledger in one
  transaction, then meets the open deadline its ``type`` names on the local shipment it
  refers to (e.g. the exporter's ``eu.import_confirmation``).
- **Look-ups** are messages too, asked at ``LOOKUP_PATH`` and answered there, signed:
  ``caratflow.exchange.lookups`` (which says why).

The envelope::

    {"message": {"id": <outbox key, stable across retries>, "type": <LAW.md id>,
                 "from": <sending authority>, "to": <receiving authority>,
                 "created_at": <UTC, ...Z>, "subject": ..., "body": ..., "data": {...}},
     "key_id": <16 hex digits>, "signature": <base64 Ed25519>}

The signature covers ``MESSAGE_CONTEXT`` followed by the RFC 8785 canonical JSON of
``message``: the node's one key also signs tree heads and documents, and the context
line keeps a message signature from ever passing for either (domain separation, as
``caratflow.ledger.signing`` does for tree heads). Ed25519 is deterministic, so a retry sends
the very same bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from caratflow.accounts import audit
from caratflow.deadlines.keeping import WATCHED, fulfil
from caratflow.errors import CaratflowError
from caratflow.exchange.peers import AUTHORITY_CODE, MESSAGE_TYPE, find_peer
from caratflow.ledger import leaves, sealing, sources, verification
from caratflow.ledger.signing import (
    canonical_json,
    format_timestamp,
    key_id,
    load_public_key,
    parse_timestamp,
    verify_detached,
)
from caratflow.models import (
    Authority,
    Certificate,
    Deadline,
    DeadlineStatus,
    ExchangeMessage,
    IssuedDocument,
    Shipment,
    utcnow,
)

log = logging.getLogger(__name__)


PATH = "/api/v1/exchange/messages"
"""Where a node receives messages, below a peer's base URL."""


LOOKUP_PATH = "/api/v1/exchange/lookups"
"""Where a node answers look-ups (``caratflow.exchange.lookups``), below a peer's base URL."""


LOOKUP_MAX_AGE = timedelta(minutes=5)
"""How far a look-up's ``created_at`` may be from the answering node's clock: an old one is
not replayed into an answer, whatever became of its id (clock skew stays well below)."""


EXCHANGE = "exchange"
"""The ledger kind of a received message."""


MESSAGE_CONTEXT = b"caratflow exchange message v1\n"
"""Prefix of every signed message; see the module docstring."""


MAX_ENVELOPE_BYTES = 1_000_000


SECURITY_EVENT = "exchange_refused"


class Refused(CaratflowError):
    """A message this node will not store, with the reason a peer's operator can act on.

    ``reason``: ``malformed`` (422), ``unsigned`` (401), ``unknown_sender`` (403),
    ``bad_signature`` (401), ``not_accepted`` (422), ``wrong_endpoint`` (422: a look-up
    sent as a message, or the reverse), ``stale`` (401: a look-up not asked just now),
    ``replay`` (409), ``too_large`` (413).
    """

    STATUS: Mapping[str, int] = {
        "malformed": 422,
        "unsigned": 401,
        "unknown_sender": 403,
        "bad_signature": 401,
        "not_accepted": 422,
        "wrong_endpoint": 422,
        "stale": 401,
        "replay": 409,
        "too_large": 413,
    }

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        sender: str | None = None,
        receiver: str | None = None,
        message_id: str | None = None,
        **details: Any,
    ):
        super().__init__(message)
        self.reason, self.status = reason, self.STATUS[reason]
        self.sender, self.receiver, self.message_id = sender, receiver, message_id
        self.details = details

    def as_dict(self) -> dict[str, object]:
        return {
            "error": "MessageRefused",
            "reason": self.reason,
            "message": str(self),
            "id": self.message_id,
            **self.details,
        }


@dataclass(frozen=True)
class Receipt:
    """A message stored and sealed, and the deadlines it met."""

    message: ExchangeMessage
    leaf: sealing.LeafRef
    deadlines_met: list[Deadline] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        row = self.message
        return {
            "status": "received",
            "id": row.message_id,
            "from": row.peer_code,
            "to": row.authority_code,
            "type": row.type,
            "reference": row.reference,
            "received_at": format_timestamp(row.received_at),
            "ledger": self.leaf.to_dict(),
            "deadlines_met": [{"id": d.id, "rule": d.rule} for d in self.deadlines_met],
        }


def read_envelope(raw: bytes) -> Any:
    """The JSON sent, or ``Refused``: too large, not UTF-8 JSON, or a bare NaN."""
    if len(raw) > MAX_ENVELOPE_BYTES:
        raise Refused("too_large", f"a message may be at most {MAX_ENVELOPE_BYTES} bytes")
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise Refused("malformed", "the body is not JSON") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def receive(
    session: Session,
    payload: Any,
    *,
    now: datetime | None = None,
    lookups: Collection[str] = (),
    lookup: bool = False,
    clocks: Mapping[str, Collection[str]] | None = None,
) -> Receipt:
    """Check a peer's envelope and store, seal and act on its message, in the caller's
    transaction; ``Refused`` (logged with its reason) when it may not be stored.

    ``lookups`` are the types that are look-ups (``caratflow.exchange.lookups``), which only the
    look-up endpoint takes (``lookup``): there the message is a question, checked the
    same way, stored and sealed as the record of who asked what, and answered by the
    caller; it must also have been asked just now (``LOOKUP_MAX_AGE``). ``clocks``: the
    deadlines each type meets besides the one it names (``PluginHost.message_clocks``).
    """
    try:
        return _receive(session, payload, now or utcnow(), frozenset(lookups), lookup, clocks or {})
    except Refused as refused:
        log_refusal(refused)
        raise


def log_refusal(refused: Refused) -> None:
    log.warning(
        "exchange: refused message %r from %s to %s: %s (%s)",
        refused.message_id,
        refused.sender or "?",
        refused.receiver or "?",
        refused.reason,
        refused,
    )


def _receive(
    session: Session,
    payload: Any,
    now: datetime,
    lookups: frozenset[str],
    lookup: bool,
    clocks: Mapping[str, Collection[str]],
) -> Receipt:
    message = payload.get("message") if isinstance(payload, Mapping) else None
    if not isinstance(message, Mapping):
        raise Refused(
            "malformed", "send {'message': {...}, 'key_id': ..., 'signature': ...} as JSON"
        )
    sender, receiver, message_id = message.get("from"), message.get("to"), message.get("id")
    message_id = message_id if isinstance(message_id, str) else None
    if not all(isinstance(c, str) and AUTHORITY_CODE.match(c) for c in (sender, receiver)):
        raise Refused(
            "malformed",
            "message.from and message.to must be authority codes",
            message_id=message_id,
        )
    who = {"sender": sender, "receiver": receiver, "message_id": message_id}
    signature = payload.get("signature")
    if not _well_formed_signature(signature):
        raise Refused(
            "unsigned", "the message carries no Ed25519 signature (base64, 64 bytes)", **who
        )
    peer = find_peer(session, receiver, sender)
    if peer is None:
        raise Refused(
            "unknown_sender", f"{receiver} has no peer {sender}: this node does not know it", **who
        )
    public = load_public_key(peer.public_key)
    registered = key_id(public)
    try:
        signed = MESSAGE_CONTEXT + canonical_json(message)
    except (TypeError, ValueError):
        raise Refused(
            "bad_signature",
            "the message holds what canonical JSON cannot (a float, a huge number): "
            "it is not what was signed",
            **who,
        ) from None
    if not verify_detached(public, signed, signature):
        claimed = payload.get("key_id")
        why = (
            f"it was signed with key {claimed}, not with {sender}'s registered key {registered}"
            if isinstance(claimed, str) and claimed != registered
            else "the message was altered after it was signed"
        )
        raise Refused("bad_signature", f"the signature does not verify: {why}", **who)
    _check_fields(message, who)
    kind = message["type"]
    if kind not in peer.accepts:
        raise Refused(
            "not_accepted",
            f"{receiver} does not take {kind!r} from {sender} (it takes: "
            f"{', '.join(peer.accepts) or 'nothing'})",
            **who,
        )
    if (kind in lookups) is not lookup:
        raise Refused(
            "wrong_endpoint",
            f"{kind!r} is a look-up: POST it to {LOOKUP_PATH} for an answer"
            if kind in lookups
            else f"{kind!r} is no look-up {receiver} answers: POST messages to {PATH}",
            **who,
        )
    asked_at = parse_timestamp(message["created_at"])
    if lookup and abs(now - asked_at) > LOOKUP_MAX_AGE:
        raise Refused(
            "stale",
            f"a look-up is answered within {LOOKUP_MAX_AGE.total_seconds() / 60:g} minutes of "
            f"being asked; this one was asked at {message['created_at']} (check the clocks)",
            **who,
        )
    earlier = _stored(session, receiver, sender, message_id)
    if earlier is not None:
        raise _replay(earlier, message, who)
    data = message["data"]
    reference = data.get("certificate")
    row = ExchangeMessage(
        authority_code=receiver,
        peer_code=sender,
        message_id=message_id,
        type=kind,
        reference=reference if isinstance(reference, str) and 0 < len(reference) <= 40 else None,
        content=dict(message),
        key_id=registered,
        signature=signature,
        received_at=now,
    )
    try:
        with session.begin_nested():  # a concurrent delivery of the same message may win
            session.add(row)
            session.flush()
    except IntegrityError:
        earlier = _stored(session, receiver, sender, message_id)
        if earlier is None:
            raise
        raise _replay(earlier, message, who) from None
    leaf = sealing.append_entry(
        session, EXCHANGE, str(row.id), message_record(_columns(row)), logged_at=now
    )
    met = [] if lookup else meet_deadlines(session, row, now, clocks.get(kind, ()))
    log.info(
        "exchange: %s received %s %r from %s (reference %s)%s",
        receiver,
        kind,
        message_id,
        sender,
        row.reference,
        f"; met deadline(s) {', '.join(str(d.id) for d in met)}" if met else "",
    )
    return Receipt(row, leaf, met)


def _well_formed_signature(signature: object) -> bool:
    if not isinstance(signature, str) or len(signature) != 88:
        return False
    try:
        return len(base64.b64decode(signature.encode("ascii"), validate=True)) == 64
    except (binascii.Error, UnicodeEncodeError):
        return False


def _check_fields(message: Mapping[str, Any], who: Mapping[str, Any]) -> None:
    """After the signature: the fields a stored message needs, in a shape we can store."""
    problems = []
    message_id = message.get("id")
    if not isinstance(message_id, str) or not 0 < len(message_id) <= 200:
        problems.append("id: 1 to 200 characters")
    if not isinstance(message.get("type"), str) or not MESSAGE_TYPE.match(message["type"]):
        problems.append("type: a rule id such as eu.import_confirmation")
    try:
        parse_timestamp(message.get("created_at"))  # type: ignore[arg-type]
    except (ValueError, TypeError):
        problems.append("created_at: an instant in UTC ending in Z")
    for name in ("subject", "body"):
        if not isinstance(message.get(name), str):
            problems.append(f"{name}: text")
    if not isinstance(message.get("data"), Mapping):
        problems.append("data: an object")
    if _has_nul(message):
        problems.append("a text holds a NUL character, which no database stores")
    if problems:
        raise Refused("malformed", f"the message is incomplete: {'; '.join(problems)}", **who)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _stored(
    session: Session, receiver: str, sender: str, message_id: str | None
) -> ExchangeMessage | None:
    return session.scalar(
        select(ExchangeMessage).where(
            ExchangeMessage.authority_code == receiver,
            ExchangeMessage.peer_code == sender,
            ExchangeMessage.message_id == message_id,
        )
    )


def _replay(
    earlier: ExchangeMessage, message: Mapping[str, Any], who: Mapping[str, Any]
) -> Refused:
    same = leaves.as_json(earlier.content) == leaves.as_json(dict(message))
    return Refused(
        "replay",
        f"message {earlier.message_id!r} from {earlier.peer_code} was received on "
        f"{format_timestamp(earlier.received_at)}" + ("" if same else ", with other content"),
        same_content=same,
        received_at=format_timestamp(earlier.received_at),
        **who,
    )


def meet_deadlines(
    session: Session, message: ExchangeMessage, at: datetime, also: Collection[str] = ()
) -> list[Deadline]:
    """Meet the open deadlines named by the message's type (and ``also``, those declared
    met by it) on the local shipments its reference identifies (a document number issued
    for them, or their certificate's).

    Only types a peer may send (its ``accepts``) get here, so an administrator decides
    which of the authority's clocks another authority's message can stop.
    """
    if message.reference is None:
        return []
    authority, reference = message.authority_code, message.reference
    issued = select(IssuedDocument.shipment_id).where(
        IssuedDocument.authority_code == authority,
        IssuedDocument.number == reference,
        IssuedDocument.shipment_id.is_not(None),
    )
    presented = (
        select(Certificate.shipment_id)
        .join(Shipment, Shipment.id == Certificate.shipment_id)
        .where(Shipment.authority_code == authority, Certificate.number == reference)
    )
    shipments = {*session.scalars(issued), *session.scalars(presented)}
    if not shipments:
        return []
    query = (
        select(Deadline)
        .where(
            Deadline.shipment_id.in_(shipments),
            Deadline.rule.in_({message.type, *also}),
            or_(
                Deadline.status.in_(WATCHED),
                (Deadline.status == DeadlineStatus.MISSED) & Deadline.met_at.is_(None),
            ),
        )
        .order_by(Deadline.id)
        .with_for_update()  # the sweep may be marking it missed right now
    )
    met = []
    for deadline in session.scalars(query):
        fulfil(deadline, at)
        deadline.note = (
            f"met by message {message.message_id} from {message.peer_code}, "
            f"received {format_timestamp(at)}"
        )[:2000]
        met.append(deadline)
    session.flush()
    return met


def record_refusal(
    session: Session, refused: Refused, *, remote_addr: str | None, path: str | None
) -> None:
    """A refused message in the security log (the caller commits), seen by the supervisors
    and auditors of the authority it was addressed to."""
    concerned = refused.receiver if session.get(Authority, refused.receiver or "") else None
    audit.record(
        session,
        SECURITY_EVENT,
        user_name=f"peer:{refused.sender}" if refused.sender else None,
        remote_addr=remote_addr,
        path=path,
        authorities=[concerned] if concerned else [],
        reason=refused.reason,
        message=str(refused),
        message_id=refused.message_id,
    )


_MESSAGE_COLUMNS = (
    "id",
    "authority_code",
    "peer_code",
    "message_id",
    "type",
    "reference",
    "content",
    "key_id",
    "signature",
    "received_at",
)


def message_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """A received message as sealed: the signed content whole, with the signature, so
    that the leaf alone proves what the peer said."""
    return {name: row[name] for name in _MESSAGE_COLUMNS}


def _columns(row: ExchangeMessage) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _MESSAGE_COLUMNS}


def _load_messages(session: Session, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    ids = [int(key) for key in keys if key.isdigit()]
    if not ids:
        return {}
    table = ExchangeMessage.__table__
    rows = session.execute(
        select(*(table.c[name] for name in _MESSAGE_COLUMNS)).where(table.c.id.in_(ids))
    )
    return {str(row.id): message_record(row._asdict()) for row in rows}


sources.SOURCES.setdefault(
    EXCHANGE,
    verification.Source(
        EXCHANGE,
        "exchange_message",
        _load_messages,
        sources.unsealed_keys(EXCHANGE, ExchangeMessage.id),
        sources.changed_columns("exchange_message"),
    ),
)
"""``verify_ledger`` compares each received message with its leaf, like a decision."""
