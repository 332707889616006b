"""Belgium's peers: the Dutch node ("NL", a G7 control point it looks identities up with)
and the Norwegian one ("NO", the participant outside the Community it exchanges
exports with): their keys, and their registration by BE."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from caratflow.exchange import peers
from caratflow.ledger.signing import public_key_pem
from caratflow.models import Peer


@pytest.fixture
def dutch_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def register_dutch(session, dutch_key) -> Callable[..., Peer]:
    """BE registers NL's node (at the discard port: nobody listens), taking ``accepts``."""

    def register(*accepts: str) -> Peer:
        peer = peers.add_peer(
            session,
            "BE",
            "NL",
            base_url="http://127.0.0.1:9/",
            public_key=public_key_pem(dutch_key),
            accepts=accepts,
            name="CDIU, Groningen",
        )
        session.commit()
        return peer

    return register


@pytest.fixture
def norwegian_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def register_norwegian(session, norwegian_key) -> Callable[..., Peer]:
    """BE registers the node of Norway, a participant outside the Community (at the discard
    port: nobody listens), taking ``accepts``."""

    def register(*accepts: str) -> Peer:
        peer = peers.add_peer(
            session,
            "BE",
            "NO",
            base_url="http://127.0.0.1:9/",
            public_key=public_key_pem(norwegian_key),
            accepts=accepts,
            name="Norges Gullsmedforbund",
        )
        session.commit()
        return peer

    return register
