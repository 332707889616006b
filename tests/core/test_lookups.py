"""Look-ups between authorities' nodes (issue 10, ``caratflow.exchange.lookups``): what
the answering node refuses, and why; what it answers, signed; what the asker accepts of an answer.

BE's node answers the Dutch control point ("NL", a peer whose key each test makes) about
the digital identities Antwerp registered (LAW.md g7.digital_identity,
nl.trace.serial_lot). Look-ups are signed as ``caratflow.exchange.lookups.prepare`` signs them.
Two real nodes asking each other over HTTP are in ``tests/test_lookups_e2e.py``.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from caratflow.exchange import lookups, messages, sending
from caratflow.ledger import leaves, proofs, sealing, sequencer, signing_keys, verification
from caratflow.ledger.merkle import leaf_hash
from caratflow.ledger.signing import (
    canonical_json,
    format_timestamp,
    public_key_pem,
    verify_detached,
)
from caratflow.models import ExchangeMessage, LedgerEntry, utcnow
from caratflow.plugins.belgium_g7.identities import register_identity
from caratflow.plugins.belgium_g7.lookups import IDENTITY_LOOKUP

from .test_exchange import refusals, refused_with, signed, stored

URL = "/api/v1/exchange/lookups"
STONE = "BE-GIA-2231"
PARCEL = "BE-R-1"
KP_DOCUMENT = "ab" * 32


@pytest.fixture
def asking_peer(register_dutch):
    """NL, registered by BE: it may ask about G7 digital identities, and send nothing else."""
    return register_dutch("g7.digital_identity")


@pytest.fixture
def stone(session, officer, runtime) -> str:
    """A polished stone cut at Antwerp from a Canadian parcel, both sealed and sequenced."""
    register_identity(
        session,
        {
            "id": PARCEL,
            "kind": "rough_parcel",
            "carats": "10.00",
            "origin": {"CA": "100"},
            "documents": [KP_DOCUMENT],
        },
        officer,
    )
    register_identity(
        session,
        {"id": STONE, "kind": "polished", "carats": "0.70", "parents": [{"id": PARCEL}]},
        officer,
    )
    sequencer.sequence_pending(session, signing_keys.signing_key(runtime.settings))
    session.commit()
    return STONE


def look_up(key, identity: str = STONE, *, asked_at=None, **changes: Any) -> dict[str, Any]:
    """NL's look-up of ``identity``, signed with ``key``, as ``lookups.prepare`` signs it."""
    content = {
        "id": f"lookup:{uuid.uuid4().hex}",
        "type": "g7.digital_identity",
        "from": "NL",
        "to": "BE",
        "created_at": format_timestamp(asked_at or utcnow()),
        "subject": f"Look-up (g7.digital_identity): {identity}",
        "body": "",
        "data": {"identity": identity},
        **changes,
    }
    return sending.sign(content, key)


def as_asked(envelope, answering_key) -> lookups.Prepared:
    """What NL's node kept of its look-up, to check BE's answer with BE's key alone."""
    return lookups.Prepared(
        authority="NL",
        peer="BE",
        url="",
        public_key=public_key_pem(answering_key),
        kind=IDENTITY_LOOKUP,
        value=envelope["message"]["data"]["identity"],
        envelope=envelope,
    )


@pytest.fixture
def be_key(runtime):
    return signing_keys.signing_key(runtime.settings)


# -- answered ------------------------------------------------------------------------------


def test_a_peer_control_point_gets_the_sealed_identity_its_proof_and_the_verdict_signed(
    client, session, asking_peer, dutch_key, stone, be_key
):
    asked = look_up(dutch_key)
    answer = client.post(URL, json=asked)
    assert answer.status_code == 200, answer.json
    content = answer.json["answer"]
    # Signed by BE's node, over the answer's own context line, naming the look-up.
    signed_bytes = lookups.ANSWER_CONTEXT + canonical_json(content)
    assert verify_detached(be_key.public_key(), signed_bytes, answer.json["signature"])
    assert not verify_detached(
        be_key.public_key(),
        messages.MESSAGE_CONTEXT + canonical_json(content),
        answer.json["signature"],
    )
    assert (content["lookup"], content["from"], content["to"], content["status"]) == (
        asked["message"]["id"],
        "BE",
        "NL",
        "found",
    )
    # The record is the sealed leaf, proven under BE's signed tree head.
    assert proofs.check_inclusion(be_key.public_key(), content["proof"])
    leaf = json.loads(content["proof"]["leaf_data"])
    assert (leaf["kind"], leaf["key"]) == ("identity", STONE)
    assert leaf["record"]["carats"] == "0.7000"
    assert leaf["record"]["parents"] == [{"id": PARCEL, "carats": "0.7000"}]
    assert "officer.be" not in content["proof"]["leaf_data"]
    # Beside it, what Antwerp says of its lineage today, in the fields the plugin lists.
    lineage = content["data"]["lineage"]
    assert set(lineage) == {"on", "clean", "russian", "roots", "origin_countries", "problems"}
    assert (lineage["clean"], lineage["roots"], lineage["origin_countries"]) == (
        True,
        [PARCEL],
        ["CA"],
    )
    # The asker's checks pass, with BE's public key alone.
    checked, sealed = lookups.verify_answer(as_asked(asked, be_key), answer.json)
    assert sealed["record"]["id"] == STONE and checked["status"] == "found"
    # Who asked what is stored and sealed, as NL signed it.
    [row] = session.scalars(select(ExchangeMessage))
    assert (row.type, row.peer_code, row.content["data"]) == (
        "g7.digital_identity",
        "NL",
        {"identity": STONE},
    )
    assert sealing.find_entry(session, messages.EXCHANGE, str(row.id)) is not None


def test_an_identity_the_authority_did_not_register_is_a_signed_not_found(
    client, session, asking_peer, dutch_key, stone, be_key
):
    asked = look_up(dutch_key, "BE-GIA-0000")
    answer = client.post(URL, json=asked)
    assert answer.status_code == 200
    assert (answer.json["answer"]["status"], answer.json["answer"]["proof"]) == ("not_found", None)
    checked, _ = lookups.verify_answer(as_asked(asked, be_key), answer.json)
    assert checked["status"] == "not_found"


def test_before_the_sequencer_ran_the_answer_is_pending(
    client, session, officer, asking_peer, dutch_key
):
    register_identity(
        session,
        {"id": PARCEL, "kind": "rough_parcel", "carats": "1", "origin": {"CA": "100"}},
        officer,
    )
    session.commit()
    answer = client.post(URL, json=look_up(dutch_key, PARCEL))
    assert answer.status_code == 200
    assert (answer.json["answer"]["status"], answer.json["answer"]["proof"]) == ("pending", None)


# -- refused, each with its reason, logged and in the security log -----------------------------


def test_a_look_up_from_an_unknown_sender_is_refused(client, session, caplog, dutch_key, stone):
    answer = refused_with(client, session, caplog, look_up(dutch_key), 403, "unknown_sender", URL)
    assert "BE has no peer NL" in answer["message"]


def test_a_look_up_altered_on_the_way_or_signed_by_another_key_is_refused(
    client, session, caplog, asking_peer, dutch_key, stone
):
    altered = look_up(dutch_key)
    altered["message"]["data"]["identity"] = PARCEL
    refused_with(client, session, caplog, altered, 401, "bad_signature", URL)
    impostor = look_up(Ed25519PrivateKey.generate())
    refused_with(client, session, caplog, impostor, 401, "bad_signature", URL)


def test_a_peer_that_may_not_ask_is_refused(
    client, session, caplog, dutch_key, register_dutch, stone
):
    register_dutch("eu.import_confirmation")
    answer = refused_with(client, session, caplog, look_up(dutch_key), 422, "not_accepted", URL)
    assert "does not take 'g7.digital_identity' from NL" in answer["message"]


def test_a_look_up_not_asked_just_now_is_refused_as_stale(
    client, session, caplog, asking_peer, dutch_key, stone
):
    old = look_up(dutch_key, asked_at=utcnow() - messages.LOOKUP_MAX_AGE - timedelta(seconds=5))
    answer = refused_with(client, session, caplog, old, 401, "stale", URL)
    assert "within 5 minutes" in answer["message"]


def test_a_look_up_asked_again_is_refused_as_a_replay(
    client, session, asking_peer, dutch_key, stone
):
    asked = look_up(dutch_key)
    assert client.post(URL, json=asked).status_code == 200
    again = client.post(URL, json=asked)
    assert (again.status_code, again.json["reason"]) == (409, "replay")
    assert stored(session) == 1
    assert refusals(session)[-1].detail["reason"] == "replay"


def test_a_look_up_and_a_message_each_go_to_their_own_endpoint(
    client, session, caplog, dutch_key, register_dutch, stone
):
    register_dutch("g7.digital_identity", "nl.trace.serial_lot")
    as_message = refused_with(
        client, session, caplog, look_up(dutch_key), 422, "wrong_endpoint", messages.PATH
    )
    assert f"POST it to {messages.LOOKUP_PATH}" in as_message["message"]
    traced = signed(dutch_key, sender="NL", rule="nl.trace.serial_lot")  # between control points
    refused_with(client, session, caplog, traced, 422, "wrong_endpoint", URL)


def test_a_look_up_that_names_no_identity_is_refused_and_not_kept(
    client, session, caplog, asking_peer, dutch_key, stone
):
    nameless = look_up(dutch_key, data={"identity": "not an id"})
    answer = refused_with(client, session, caplog, nameless, 422, "malformed", URL)
    assert answer["message"].startswith("data.identity")


# -- what the asker accepts of an answer -----------------------------------------------------


@pytest.fixture
def answered(client, asking_peer, dutch_key, stone):
    """NL's look-up of the stone and BE's answer, as received."""
    asked = look_up(dutch_key)
    answer = client.post(URL, json=asked)
    assert answer.status_code == 200
    return asked, answer.json


def unverified(asked, answer, key) -> str:
    with pytest.raises(lookups.LookupFailed) as failed:
        lookups.verify_answer(as_asked(asked, key), answer)
    assert (failed.value.reason, failed.value.status) == ("unverified", 502)
    return str(failed.value)


def test_an_answer_altered_on_the_way_does_not_verify(answered, be_key):
    asked, answer = answered
    verdict = copy.deepcopy(answer)
    verdict["answer"]["data"]["lineage"]["clean"] = False
    assert "its signature is not BE's" in unverified(asked, verdict, be_key)
    record = copy.deepcopy(answer)
    leaf = record["answer"]["proof"]["leaf_data"]
    record["answer"]["proof"]["leaf_data"] = leaf.replace('"0.7000"', '"0.9000"')
    assert "its signature is not BE's" in unverified(asked, record, be_key)
    # The same answer checked with another authority's key does not verify either.
    assert "its signature is not BE's" in unverified(asked, answer, Ed25519PrivateKey.generate())


def test_an_answer_to_another_look_up_does_not_verify(answered, dutch_key, be_key):
    _, answer = answered
    later = look_up(dutch_key)  # asked again: the first answer replayed to it
    assert "it answers another look-up (lookup differ)" in unverified(later, answer, be_key)


def test_a_signed_answer_whose_record_is_not_in_the_signed_log_does_not_verify(
    answered, session, be_key
):
    """A node whose ledger entry was edited after sealing still signs what it reads: the
    inclusion proof under its own signed tree head is what catches it."""
    asked, answer = answered
    forged = copy.deepcopy(answer["answer"])
    forged["proof"]["leaf_data"] = forged["proof"]["leaf_data"].replace('"0.7000"', '"0.9000"')
    forged["proof"]["leaf_hash"] = leaf_hash(forged["proof"]["leaf_data"].encode()).hex()
    resigned = sending.sign(forged, be_key, name="answer", context=lookups.ANSWER_CONTEXT)
    why = unverified(asked, resigned, be_key)
    assert "the record is not in the log BE signed" in why


def test_a_proof_of_another_record_does_not_verify(answered, session, be_key):
    asked, answer = answered
    parcel = sealing.find_entry(session, leaves.IDENTITY, PARCEL)
    other = copy.deepcopy(answer["answer"])
    other["proof"] = proofs.prove_inclusion(session, parcel.seq, with_data=True).to_dict()
    resigned = sending.sign(other, be_key, name="answer", context=lookups.ANSWER_CONTEXT)
    assert f"the proof is of another record (identity {PARCEL})" in unverified(
        asked, resigned, be_key
    )


def test_every_stored_look_up_is_in_the_ledger(answered, session, runtime):
    key = signing_keys.signing_key(runtime.settings)
    sequencer.sequence_pending(session, key)
    sealed = session.scalars(select(LedgerEntry.kind).where(LedgerEntry.kind == messages.EXCHANGE))
    assert list(sealed) == [messages.EXCHANGE]
    assert verification.verify_ledger(session, key.public_key()).ok
