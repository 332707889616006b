"""Look-ups between authorities' nodes: one node asks about a record another keeps, and
checks the answer with that node's public key alone (issue 10).

The first use is the G7 mechanism's information exchange between control points (LAW.md
``g7.digital_identity``, ``nl.trace.serial_lot``): Antwerp asks another control point's
node about a digital identity that node registered. The design, and why:

- **A look-up is a signed message** (``caratflow.exchange``): the same envelope, key and
  checks in the same order (signed; from a peer the asked authority registered; verifying
  with that peer's key; of a type taken from it, its ``accepts``; an id never seen
  before), so a node answers only the peers it knows, and each refusal names its reason,
  is logged and lands in the security log. It goes to ``LOOKUP_PATH`` rather than to the
  message endpoint (each refuses the other's types), and is answered only within
  ``exchange.LOOKUP_MAX_AGE`` of being asked: a look-up recorded on the way is not
  answered later, whatever became of its id. The answering node stores and seals it as
  any message: the record, signed by the asker, of who asked what and when.
- **An answer is about one sealed record**, named by its ledger key (an identity's
  number). It carries the leaf whole with its RFC 9162 inclusion proof under the
  answering node's signed tree head, so that the asker checks the record against the log
  it was sealed in (``ledger.check_inclusion``): a record edited in the answering node's
  database after it was sealed does not verify, though that node signs the answer. What
  the answering authority says of the record today (a lineage verdict) is not in the
  leaf; the answer's own signature vouches for it.
- **The answer is signed** over ``ANSWER_CONTEXT`` and its RFC 8785 canonical JSON, and
  names the look-up it answers, who answers, who asked and what was asked: it cannot be
  altered on the way, replayed for another question, nor pass for a message (another
  context line). "Not found" and "pending" (sealed, not yet under a signed tree head)
  are signed answers too.
- **Plugins say what may be asked; core says how** (hook ``caratflow_lookups_register``).
  A ``LookupType`` names the LAW.md rule it serves (its type), the field naming what is
  asked about and the form of its value, the ledger kind of the leaf that proves it,
  and what else the answering authority discloses (``describe``). Core knows no
  jurisdiction.
- **Asking** is ``prepare`` (a short read: the peer, the signed look-up) then ``ask``
  (the HTTP round trip and the checks), so no database transaction waits on another
  authority's node. What goes wrong is a ``LookupFailed`` with its reason:
  ``unknown_peer``, ``not_a_lookup``, ``unreachable``, ``peer_error``, ``refused`` (with
  the peer's reason), ``unverified``, ``not_found``, ``pending``. An answer that does
  not verify is logged and recorded in the asking authority's security log
  (``record_unverified``). Entry points: ``caratflow peers lookup`` and
  ``GET /api/v1/exchange/peers/<code>/lookups/<type>/<value>``.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from caratflow.accounts import audit
from caratflow.errors import CaratflowError, FieldError, InvalidInput, NotFound
from caratflow.exchange import messages, peers
from caratflow.ledger import proofs, sealing
from caratflow.ledger.signing import (
    canonical_json,
    format_timestamp,
    key_id,
    load_public_key,
    verify_detached,
)
from caratflow.models import Authority, utcnow

if TYPE_CHECKING:
    from caratflow.jurisdiction.contributions import Plugins


from caratflow.exchange import sending
from caratflow.jurisdiction.lookups import LookupType
from caratflow.ledger import leaves

log = logging.getLogger(__name__)


ANSWER_CONTEXT = b"caratflow exchange answer v1\n"
"""Prefix of every signed answer: an answer never verifies as a message, nor the reverse."""


FOUND, NOT_FOUND, PENDING = "found", "not_found", "pending"


TIMEOUT = 10.0
"""Seconds the asking node waits for the answer: someone is waiting for it."""


SECURITY_EVENT = "exchange_answer_unverified"


class LookupFailed(CaratflowError):
    """A look-up without a verified answer, and why (``reason``, see the module docstring)."""

    STATUS: Mapping[str, int] = {
        "unknown_peer": 404,
        "not_a_lookup": 422,
        "unreachable": 502,
        "peer_error": 502,
        "refused": 502,
        "unverified": 502,
        "not_found": 404,
        "pending": 503,
    }

    def __init__(self, reason: str, message: str, *, peer: str, **details: Any):
        super().__init__(message)
        self.reason, self.status, self.peer, self.details = (
            reason,
            self.STATUS[reason],
            peer,
            details,
        )

    def as_dict(self) -> dict[str, object]:
        return super().as_dict() | {"reason": self.reason, "peer": self.peer, **self.details}


@dataclass(frozen=True)
class Answered:
    """The signed answer to send back, and the look-up as stored and sealed."""

    envelope: dict[str, Any]
    status: str
    receipt: messages.Receipt


def answer(
    session: Session,
    payload: Any,
    plugins: Plugins,
    private_key: Ed25519PrivateKey,
    *,
    now: datetime | None = None,
) -> Answered:
    """Check a peer's look-up, store and seal it, and sign the answer, in the caller's
    transaction; ``exchange.Refused`` (logged) when it is not answered."""
    now = now or utcnow()
    types = plugins.lookup_types(plugins.plugin_names)
    receipt = messages.receive(session, payload, now=now, lookups=types, lookup=True)
    row = receipt.message
    kind = types[row.type]
    authority = session.get(Authority, row.authority_code)
    assert authority is not None  # the peer it was received from is registered for it
    day = authority.local_date(now)
    asked = row.content["data"].get(kind.about)
    who = {"sender": row.peer_code, "receiver": authority.code, "message_id": row.message_id}
    if kind.plugin not in authority.plugins or not kind.version.in_force_on(day):
        raise _refused("not_accepted", f"{authority.code} answers no {kind.type} look-ups", **who)
    if not kind.names(asked):
        raise _refused(
            "malformed", f"data.{kind.about}: what is asked about, as {kind.pattern}", **who
        )
    disclosed = kind.describe(session, authority.code, asked, day)
    status, proof = (NOT_FOUND, None) if disclosed is None else _proof(session, kind, asked)
    content = {
        "lookup": row.message_id,
        "type": kind.type,
        "from": authority.code,
        "to": row.peer_code,
        "asked": {kind.about: asked},
        "answered_at": format_timestamp(now),
        "status": status,
        "data": leaves.as_json(dict(disclosed or {})),
        "proof": proof,
    }
    signed = sending.sign(content, private_key, name="answer", context=ANSWER_CONTEXT)
    log.info(
        "lookups: %s answered %s's %s look-up %r of %s: %s",
        authority.code,
        row.peer_code,
        kind.type,
        row.message_id,
        asked,
        status,
    )
    return Answered(signed, status, receipt)


def _refused(reason: str, message: str, **who: Any) -> messages.Refused:
    refused = messages.Refused(reason, message, **who)
    messages.log_refusal(refused)
    return refused


def _proof(session: Session, kind: LookupType, key: str) -> tuple[str, dict[str, Any] | None]:
    """The record's leaf with its inclusion proof; "pending" before the sequencer ran."""
    entry = sealing.find_entry(session, kind.sealed_as, key)
    if entry is None:
        log.error("lookups: %s %s has no ledger entry: run 'caratflow ledger verify'", kind, key)
        return PENDING, None
    if entry.seq is None:
        return PENDING, None
    try:
        return FOUND, proofs.prove_inclusion(session, entry.seq, with_data=True).to_dict()
    except NotFound:  # sequenced in a batch whose head is being signed right now
        return PENDING, None


@dataclass(frozen=True)
class Prepared:
    """A signed look-up, and all the asking node needs to check its answer."""

    authority: str
    peer: str
    url: str
    public_key: str  # the peer's, PEM
    kind: LookupType
    value: str
    envelope: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.envelope["message"]["id"])


def prepare(
    session: Session,
    plugins: Plugins,
    authority: str,
    peer: str,
    value: str,
    private_key: Ed25519PrivateKey,
    *,
    type_: str | None = None,
    now: datetime | None = None,
) -> Prepared:
    """``authority``'s look-up of ``value`` at ``peer``, signed; ``type_`` may be left out
    when the authority's plugins declare one look-up only."""
    asking = session.get(Authority, authority)
    if asking is None:
        raise InvalidInput([FieldError("authority", f"unknown authority {authority!r}")])
    peer = peer.strip().upper()
    registered = peers.find_peer(session, authority, peer)
    if registered is None:
        raise LookupFailed(
            "unknown_peer",
            f"{authority} has no peer {peer}: register its node first (caratflow peers add)",
            peer=peer,
        )
    types = plugins.lookup_types(asking.plugins)
    if type_ is None and len(types) == 1:
        [type_] = types
    if type_ not in types:
        raise LookupFailed(
            "not_a_lookup",
            f"{type_ or 'the type'}: name a look-up {authority}'s plugins declare "
            f"({', '.join(sorted(types)) or 'none'})",
            peer=peer,
        )
    kind = types[type_]
    if not kind.names(value):
        raise InvalidInput([FieldError(kind.about, f"not a {kind.about}: {kind.pattern}")])
    content = {
        "id": f"lookup:{uuid.uuid4().hex}",
        "type": kind.type,
        "from": authority,
        "to": peer,
        "created_at": format_timestamp(now or utcnow()),
        "subject": f"Look-up ({kind.type}): {value}",
        "body": f"{asking.name} asks about {kind.about} {value} ({kind.version.basis}).",
        "data": {kind.about: value},
    }
    return Prepared(
        authority,
        peer,
        f"{registered.base_url}{messages.LOOKUP_PATH}",
        registered.public_key,
        kind,
        value,
        sending.sign(content, private_key),
    )


@dataclass(frozen=True)
class Verified:
    """A found record as the peer sealed it, and what the peer said of it, both verified."""

    prepared: Prepared
    answer: Mapping[str, Any]  # the signed content
    leaf: Mapping[str, Any]  # the sealed leaf: kind, key, logged_at, record
    envelope: Mapping[str, Any]  # as received, to keep or check again

    def as_json(self) -> dict[str, Any]:
        proof, asked = self.answer["proof"], self.prepared
        return {
            "verified": True,
            "peer": asked.peer,
            "type": asked.kind.type,
            "asked": dict(self.answer["asked"]),
            "status": FOUND,
            "answered_at": self.answer["answered_at"],
            "record": self.leaf["record"],
            "sealed_at": self.leaf["logged_at"],
            "data": self.answer["data"],
            "ledger": {
                "seq": proof["seq"],
                "tree_size": proof["tree_size"],
                "root_hash": proof["tree_head"]["root_hash"],
                "signed_at": proof["tree_head"]["timestamp"],
                "key_id": proof["tree_head"]["key_id"],
            },
            "answer": dict(self.envelope),
        }


def ask(prepared: Prepared, *, timeout: float = TIMEOUT) -> Verified:
    """Send the look-up and check the answer with the peer's key; ``LookupFailed`` unless
    the peer holds the record and proves it."""
    peer = prepared.peer
    try:
        status, body = sending.post(
            prepared.url, prepared.envelope, key=prepared.id, timeout=timeout
        )
    except sending.Unreachable as error:
        raise LookupFailed(
            "unreachable", f"{peer}'s node did not answer at {prepared.url}: {error}", peer=peer
        ) from None
    if status != 200:
        said = body.get("message") or "no reason given"
        if body.get("error") == "MessageRefused":
            raise LookupFailed(
                "refused",
                f"{peer} refused the look-up: {body.get('reason')}: {said}",
                peer=peer,
                peer_reason=body.get("reason"),
            )
        raise LookupFailed("peer_error", f"{peer}'s node answered {status}: {said}", peer=peer)
    content, leaf = verify_answer(prepared, body)
    value = f"{prepared.kind.about} {prepared.value}"
    if content["status"] == NOT_FOUND:
        raise LookupFailed("not_found", f"{peer} keeps no {value} (its signed answer)", peer=peer)
    if content["status"] == PENDING:
        raise LookupFailed(
            "pending",
            f"{peer} registered {value}, but its ledger has not yet put it under a signed "
            "tree head, so there is no proof yet: ask again in a minute",
            peer=peer,
        )
    log.info("lookups: %s verified %s's answer about %s", prepared.authority, peer, value)
    return Verified(prepared, content, leaf, body)


def verify_answer(
    prepared: Prepared, body: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The answer's content and, when found, its leaf: signed by the peer, for this very
    look-up, and the leaf in the log the peer signed, with the peer's key alone.
    ``LookupFailed`` "unverified" (logged) when any of it is not so."""
    peer, public = prepared.peer, load_public_key(prepared.public_key)

    def unverified(why: str) -> LookupFailed:
        log.warning("lookups: %s's answer to %s does not verify: %s", peer, prepared.id, why)
        return LookupFailed(
            "unverified", f"{peer}'s answer does not verify: {why}", peer=peer, lookup=prepared.id
        )

    content = body.get("answer")
    if not isinstance(content, Mapping):
        raise unverified("it carries no signed answer")
    try:
        signed = ANSWER_CONTEXT + canonical_json(content)
    except (TypeError, ValueError):
        raise unverified("it holds what canonical JSON cannot: it is not what was signed") from None
    if not verify_detached(public, signed, body.get("signature")):
        raise unverified(
            f"its signature is not {peer}'s (key {key_id(public)}): altered on the way, or "
            "signed with another key"
        )
    asked = prepared.kind
    expected = {
        "lookup": prepared.id,
        "type": asked.type,
        "from": peer,
        "to": prepared.authority,
        "asked": {asked.about: prepared.value},
    }
    other = [name for name, value in expected.items() if content.get(name) != value]
    if other:
        raise unverified(f"it answers another look-up ({', '.join(other)} differ)")
    if content.get("status") not in (FOUND, NOT_FOUND, PENDING):
        raise unverified(
            f"status {content.get('status')!r} is none of {FOUND}, {NOT_FOUND}, {PENDING}"
        )
    if content["status"] != FOUND:
        return dict(content), {}
    proof = content.get("proof")
    if (
        not isinstance(proof, Mapping)
        or "leaf_data" not in proof
        or not proofs.check_inclusion(public, proof)
    ):
        raise unverified(
            f"the record is not in the log {peer} signed: its inclusion proof does not "
            f"verify with {peer}'s key"
        )
    try:
        leaf = json.loads(proof["leaf_data"])
    except ValueError:
        leaf = None
    if not isinstance(leaf, dict):
        raise unverified("the proven leaf is not a sealed record")
    if leaf.get("kind") != asked.sealed_as or leaf.get("key") != prepared.value:
        raise unverified(
            f"the proof is of another record ({leaf.get('kind')} {leaf.get('key')}), not of "
            f"{asked.sealed_as} {prepared.value}"
        )
    return dict(content), leaf


def record_unverified(
    session: Session,
    failed: LookupFailed,
    prepared: Prepared,
    *,
    user_name: str | None,
    remote_addr: str | None = None,
    path: str | None = None,
) -> None:
    """An answer that did not verify, in the asking authority's security log (the caller
    commits): a peer's node, or someone between, said what its key does not vouch for."""
    audit.record(
        session,
        SECURITY_EVENT,
        user_name=user_name,
        remote_addr=remote_addr,
        path=path,
        authorities=[prepared.authority],
        peer=prepared.peer,
        lookup=prepared.id,
        type=prepared.kind.type,
        asked=prepared.value,
        message=str(failed),
    )
