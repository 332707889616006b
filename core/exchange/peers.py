"""Peers: the other authorities' nodes this one exchanges with, each with its base URL, its
Ed25519 public key and the message types taken from it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from caratflow.errors import Conflict, FieldError, InvalidInput
from caratflow.ledger.signing import key_id, load_public_key, public_key_pem
from caratflow.models import (
    Authority,
    Peer,
    utcnow,
)

SCHEME = "peer"
"""Outbox addresses ``peer:<CODE>`` are delivered by ``PeerChannel``."""


AUTHORITY_CODE = re.compile(r"^[A-Z0-9]{2,16}$")


_URL = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")


def add_peer(
    session: Session,
    authority: str,
    code: str,
    *,
    base_url: str,
    public_key: str,
    accepts: Iterable[str],
    name: str | None = None,
    actor: str = "",
    replace: bool = False,
) -> Peer:
    """Register (or, with ``replace``, update) authority ``code``'s node for ``authority``.

    ``accepts`` are the message types (LAW.md ids) taken from it, look-ups included; none
    for a system that only receives (a customs endpoint). Its ``public_key`` (PEM) must be
    Ed25519, as every node's ledger key is.
    """
    problems = []
    if session.get(Authority, authority) is None:
        problems.append(FieldError("authority", f"unknown authority {authority!r}"))
    code = code.strip().upper()
    if not AUTHORITY_CODE.match(code):
        problems.append(FieldError("code", "the peer authority's code: 2-16 letters or digits"))
    base_url = base_url.strip().rstrip("/")
    if not _URL.match(base_url) or len(base_url) > 300:
        problems.append(FieldError("url", "the peer's base URL: http(s)://host[:port][/path]"))
    types = sorted({t.strip() for t in accepts if t.strip()})
    if not all(MESSAGE_TYPE.match(t) for t in types):
        problems.append(
            FieldError("accepts", "the message types taken from it, e.g. eu.import_confirmation")
        )
    try:
        pem = public_key_pem_of(public_key)
    except (ValueError, TypeError, UnicodeError) as error:
        problems.append(FieldError("public_key", f"not an Ed25519 public key in PEM: {error}"))
    if problems:
        raise InvalidInput(problems)
    peer = find_peer(session, authority, code)
    if peer is not None and not replace:
        raise Conflict(f"{authority} has a peer {code} already; replace it to change it")
    if peer is None:
        peer = Peer(authority_code=authority, code=code)
        session.add(peer)
    peer.name = (name or code).strip()[:200]
    peer.base_url, peer.public_key, peer.accepts = base_url, pem, types
    peer.added_by, peer.added_at = actor, utcnow()
    session.flush()
    return peer


def public_key_pem_of(text: str) -> str:
    """``text`` as a canonical Ed25519 public key PEM (``TypeError`` for another kind)."""
    key = load_public_key(text.strip() + "\n")
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def find_peer(session: Session, authority: str | None, code: str) -> Peer | None:
    return session.scalar(select(Peer).where(Peer.authority_code == authority, Peer.code == code))


def peers(session: Session, authority: str | None = None) -> list[Peer]:
    query = select(Peer).order_by(Peer.authority_code, Peer.code)
    if authority is not None:
        query = query.where(Peer.authority_code == authority)
    return list(session.scalars(query))


def peer_key_id(peer: Peer) -> str:
    return key_id(load_public_key(peer.public_key))


def own_public_key(private_key: Ed25519PrivateKey) -> tuple[str, str]:
    """This node's public key as a peer registers it: (PEM, key id)."""
    return public_key_pem(private_key), key_id(private_key.public_key())


MESSAGE_TYPE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,79}$")
