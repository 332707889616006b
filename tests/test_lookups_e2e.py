"""One G7 control point asks another about a digital identity it registered (issue 10;
LAW.md g7.digital_identity, nl.trace.serial_lot), end to end.

Two real nodes, each served by waitress on its own localhost port with its own PostgreSQL
database and ledger key: Antwerp (BE) and a Dutch control point (NL: the eu and
belgium_g7 plugins, its authority added by its administrator). NL registers a parcel and
the stones cut from it; an Antwerp officer asks BE's node, by the API and the command
line, and gets NL's answer verified with NL's public key alone. NL answers only a peer it
registered, with the key it registered; and what is changed on the way, replayed, or
edited in NL's database after sealing, BE's node refuses to call verified.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, update

from caratflow.accounts.provisioning import add_user, create_token
from caratflow.case.access import Actor
from caratflow.db import unit_of_work
from caratflow.exchange import messages, peers, sending
from caratflow.exchange.peers import add_peer
from caratflow.ledger import leaves, proofs, sealing, verification
from caratflow.ledger.signing import key_id, public_key_pem
from caratflow.models import Authority, ExchangeMessage, LedgerEntry, Role, SecurityEvent
from caratflow.plugins.belgium_g7.identities import register_identity
from caratflow.testing.servers import JsonEndpoint, Node, node

pytestmark = pytest.mark.postgres_only

DUTCH_OFFICER = Actor("officer.nl", Role.OFFICER, frozenset({"NL"}))
STONE, TAINTED, PARCEL, MIXED = "NL-GIA-2231", "NL-GIA-2240", "NL-R-7", "NL-R-8"
ASK = "/api/v1/exchange/peers/NL/lookups/g7.digital_identity/"


def dutch_authority(*plugins: str) -> Authority:
    """An EU node's authority the plugins do not ship: its administrator adds it."""
    return Authority(
        code="NL",
        name="CDIU, Central Import and Export Office, Groningen",
        country="NL",
        zone="Europe/Amsterdam",
        plugins=list(plugins or ["eu"]),
    )


@contextmanager
def control_points(tmp_path, plugin_host) -> Iterator[tuple[Node, Node, str]]:
    """BE and NL, each knowing the other; NL's identities sealed and sequenced; the token
    of an Antwerp officer."""
    now = datetime.now(UTC).replace(microsecond=0)
    with (
        node("BE", tmp_path / "be", plugin_host, now) as belgium,
        node("NL", tmp_path / "nl", plugin_host, now, dutch_authority("eu", "belgium_g7")) as nl,
    ):
        belgium.register(nl)  # BE takes no message from NL: it only asks
        nl.register(belgium, "g7.digital_identity")  # NL answers BE's look-ups
        with unit_of_work(nl.runtime.sessions) as session:
            for identity in (
                {"id": PARCEL, "kind": "rough_parcel", "carats": "12.5", "origin": {"CA": "100"}},
                {
                    "id": MIXED,
                    "kind": "rough_parcel",
                    "carats": "4",
                    "origin": {"RU": "1", "AO": "99"},
                },
                {"id": STONE, "kind": "polished", "carats": "0.70", "parents": [{"id": PARCEL}]},
                {"id": TAINTED, "kind": "polished", "carats": "0.55", "parents": [{"id": MIXED}]},
            ):
                register_identity(session, {**identity, "documents": ["cd" * 32]}, DUTCH_OFFICER)
        nl.sequence()
        with unit_of_work(belgium.runtime.sessions) as session:
            add_user(session, "officer.be", Role.OFFICER, ["BE"])
            token = create_token(session, "officer.be")
        yield belgium, nl, token


def get(url: str, token: str) -> tuple[int, dict[str, Any], Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read()), error.headers


def cli(at: Node, *args: str) -> Any:
    """``caratflow`` on the node's own database and instance folder (its key)."""
    from caratflow.cli import main

    settings = at.runtime.settings
    env = {
        "CARATFLOW_DATABASE_URL": settings.database_url,
        "CARATFLOW_INSTANCE_PATH": str(settings.instance_path),
        "CARATFLOW_SIGNING_KEY": str(settings.signing_key_path),
    }
    return CliRunner(env=env).invoke(main, list(args), catch_exceptions=False)


def look_ups(at: Node) -> list[ExchangeMessage]:
    with at.runtime.sessions() as session:
        query = select(ExchangeMessage).where(ExchangeMessage.type == "g7.digital_identity")
        return list(session.scalars(query.order_by(ExchangeMessage.id)))


def security_events(at: Node, kind: str) -> list[SecurityEvent]:
    with at.runtime.sessions() as session:
        query = select(SecurityEvent).where(SecurityEvent.kind == kind)
        return list(session.scalars(query.order_by(SecurityEvent.id)))


def ledger_verifies(at: Node) -> bool:
    at.sequence()
    with verification.snapshot(at.runtime.sessions) as session:
        return verification.verify_ledger(session, at.private_key().public_key()).ok


def point(at: Node, peer: str, url: str, key: str) -> None:
    """The administrator changes the peer's registration (``peers add --replace``)."""
    with unit_of_work(at.runtime.sessions) as session:
        current = peers.find_peer(session, at.code, peer)
        add_peer(
            session,
            at.code,
            peer,
            base_url=url,
            public_key=key,
            accepts=current.accepts,
            replace=True,
        )


def proxy(target: str, alter: Callable[[dict[str, Any]], dict[str, Any]]) -> JsonEndpoint:
    """A man in the middle on localhost: forwards each POST to ``target`` and hands back
    ``alter(answer)`` of the JSON answer."""

    def forward(path: str, body: Any) -> tuple[int, Any]:
        status, answer = sending.post(target + path, body, key="proxy", timeout=10)
        return status, alter(answer)

    return JsonEndpoint(forward)


# -- asked and verified ------------------------------------------------------------------------


def test_a_control_point_asks_another_about_an_identity_and_verifies_the_answer(
    tmp_path, plugin_host
):
    with control_points(tmp_path, plugin_host) as (belgium, netherlands, token):
        dutch_key = netherlands.private_key().public_key()
        with netherlands.serve(), belgium.serve():
            # An Antwerp officer asks BE's node, which asks NL's and checks the answer.
            status, found, _ = get(belgium.url + ASK + STONE, token)
            assert status == 200, found
            assert (found["verified"], found["peer"], found["status"]) == (True, "NL", "found")
            record = found["record"]
            assert (record["id"], record["kind"], record["carats"], record["control_point"]) == (
                STONE,
                "polished",
                "0.7000",
                "NL",
            )
            assert record["parents"] == [{"id": PARCEL, "carats": "0.7000"}]
            lineage = found["data"]["lineage"]
            assert (lineage["clean"], lineage["roots"], lineage["origin_countries"]) == (
                True,
                [PARCEL],
                ["CA"],
            )
            # What it returns can be checked again by anyone with NL's key: it is evidence.
            kept = found["answer"]
            assert kept["key_id"] == key_id(dutch_key)
            assert proofs.check_inclusion(dutch_key, kept["answer"]["proof"])

            # A stone cut from a parcel with a Russian share: NL says so, and signs it.
            status, tainted, _ = get(belgium.url + ASK + TAINTED, token)
            assert status == 200
            assert (tainted["data"]["lineage"]["clean"], tainted["data"]["lineage"]["russian"]) == (
                False,
                True,
            )

            # The same from the command line on Antwerp's server.
            result = cli(belgium, "peers", "lookup", "NL", STONE)
            assert result.exit_code == 0, result.output
            assert json.loads(result.stdout)["record"] == record

            # Not registered at NL: a signed "not found".
            status, missing, _ = get(belgium.url + ASK + "NL-GIA-9999", token)
            assert (status, missing["reason"]) == (404, "not_found")
            assert "NL keeps no identity NL-GIA-9999" in missing["message"]

            # Registered, not yet under a signed tree head: ask again shortly.
            with unit_of_work(netherlands.runtime.sessions) as session:
                register_identity(
                    session,
                    {
                        "id": "NL-GIA-2232",
                        "kind": "polished",
                        "carats": "0.61",
                        "parents": [{"id": PARCEL}],
                    },
                    DUTCH_OFFICER,
                )
            status, pending, headers = get(belgium.url + ASK + "NL-GIA-2232", token)
            assert (status, pending["reason"], headers["Retry-After"]) == (503, "pending", "60")
            netherlands.sequence()
            status, proven, _ = get(belgium.url + ASK + "NL-GIA-2232", token)
            assert status == 200 and proven["record"]["carats"] == "0.6100"

        # NL kept every look-up as BE signed it, sealed in its ledger; both ledgers verify.
        asked = look_ups(netherlands)
        assert len(asked) == 6
        assert {m.key_id for m in asked} == {key_id(belgium.private_key().public_key())}
        assert [m.content["data"]["identity"] for m in asked][-2:] == ["NL-GIA-2232"] * 2
        assert ledger_verifies(netherlands) and ledger_verifies(belgium)


# -- refused, with the reason the asker is told ---------------------------------------------


def test_a_node_answers_only_a_peer_it_registered_with_the_key_it_registered(tmp_path, plugin_host):
    with control_points(tmp_path, plugin_host) as (belgium, netherlands, token):
        with belgium.serve():
            # Nobody at BE registered a German node.
            status, unknown, _ = get(belgium.url + ASK.replace("/NL/", "/DE/") + "DE-GIA-1", token)
            assert (status, unknown["reason"]) == (404, "unknown_peer")

            # NL's node is down.
            status, down, _ = get(belgium.url + ASK + STONE, token)
            assert (status, down["reason"]) == (502, "unreachable")

            with netherlands.serve():
                # NL registered BE with a key that is not BE's.
                point(netherlands, "BE", belgium.url, public_key_pem(Ed25519PrivateKey.generate()))
                status, refused, _ = get(belgium.url + ASK + STONE, token)
                assert (status, refused["reason"], refused["peer_reason"]) == (
                    502,
                    "refused",
                    "bad_signature",
                )
                assert "NL refused the look-up: bad_signature" in refused["message"]

                # NL no longer knows BE at all.
                with unit_of_work(netherlands.runtime.sessions) as session:
                    session.delete(peers.find_peer(session, "NL", "BE"))
                status, refused, _ = get(belgium.url + ASK + STONE, token)
                assert (status, refused["peer_reason"]) == (502, "unknown_sender")
                assert "NL has no peer BE" in refused["message"]

        # Each refusal is in NL's security log, for NL's supervisors; nothing was answered.
        events = security_events(netherlands, messages.SECURITY_EVENT)
        assert [(e.detail["reason"], e.authorities, e.user_name) for e in events] == [
            ("bad_signature", ["NL"], "peer:BE"),
            ("unknown_sender", ["NL"], "peer:BE"),
        ]
        assert look_ups(netherlands) == []


def test_an_answer_changed_on_the_way_replayed_or_edited_at_rest_is_not_verified(
    tmp_path, plugin_host
):
    with control_points(tmp_path, plugin_host) as (belgium, netherlands, token):
        dutch_key = netherlands.public_key()
        captured: list[dict[str, Any]] = []

        def lighter(answer: dict[str, Any]) -> dict[str, Any]:
            proof = answer["answer"]["proof"]
            proof["leaf_data"] = proof["leaf_data"].replace('"0.7000"', '"0.9000"')
            return answer

        def cleaner(answer: dict[str, Any]) -> dict[str, Any]:
            answer["answer"]["data"]["lineage"]["clean"] = True
            return answer

        def replayed(answer: dict[str, Any]) -> dict[str, Any]:
            captured.append(answer)
            return captured[0]

        with netherlands.serve(), belgium.serve():
            for alter, why, identity in [
                (lighter, "its signature is not NL's", STONE),
                (cleaner, "its signature is not NL's", TAINTED),
                (replayed, None, STONE),  # the first answer goes through: it is this one's
                (replayed, "it answers another look-up (lookup differ)", STONE),
            ]:
                with proxy(netherlands.url, alter) as middle:
                    point(belgium, "NL", middle.url, dutch_key)
                    status, answer, _ = get(belgium.url + ASK + identity, token)
                if why is None:
                    assert status == 200, answer
                    continue
                assert (status, answer["reason"]) == (502, "unverified"), answer
                assert why in answer["message"]

            # At rest: someone edits the sealed leaf in NL's database. NL's node still signs
            # what it reads; the proof under NL's own signed tree head gives it away.
            point(belgium, "NL", netherlands.url, dutch_key)
            with unit_of_work(netherlands.runtime.sessions) as session:
                entry = sealing.find_entry(session, leaves.IDENTITY, STONE)
                session.execute(
                    update(LedgerEntry)
                    .where(LedgerEntry.seq == entry.seq)
                    .values(leaf_data=entry.leaf_data.replace('"0.7000"', '"0.9000"'))
                )
            status, answer, _ = get(belgium.url + ASK + STONE, token)
            assert (status, answer["reason"]) == (502, "unverified")
            assert "the record is not in the log NL signed" in answer["message"]

        # Every answer that did not verify is in BE's security log, for BE's supervisors.
        events = security_events(belgium, "exchange_answer_unverified")
        assert len(events) == 4
        assert {(e.user_name, tuple(e.authorities), e.detail["peer"]) for e in events} == {
            ("officer.be", ("BE",), "NL")
        }
