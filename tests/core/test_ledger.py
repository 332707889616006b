"""The ledger seals every decision where it is taken, sequences in batches, and proves it.

Proofs are read from the stored tree through SQL on both databases and checked with the
public key alone, as another authority would; every proof altered in any way fails.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from caratflow.db import unit_of_work
from caratflow.ledger import (
    leaves,
    merkle,
    proofs,
    sealing,
    sequencer,
    signing_keys,
    tree,
    verification,
)
from caratflow.ledger.merkle import verify_consistency, verify_inclusion
from caratflow.ledger.signing import canonical_json, load_public_key, public_key_pem
from caratflow.models import Deadline, Event, LedgerEntry, LedgerNode, LedgerTreeHead, PurgeRecord
from caratflow.testing.databases import query_plans, statements_sent
from caratflow.testing.payloads import shipment_payload

MOMENT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@pytest.fixture
def key(runtime):
    return signing_keys.signing_key(runtime.settings)


NOTE = "note"
"""Cheap leaves: a kind without a source table, whose entry is its record (identities are
compared with their rows since issue 25)."""


def identities(session, count, start=0):
    """Cheap leaves, keyed like identities."""
    for number in range(start, start + count):
        sealing.append_entry(
            session, NOTE, f"ID-{number:05d}", {"carats": "0.51", "origin": ["CA"], "n": number}
        )


# -- sealing ----------------------------------------------------------------------------


def test_every_decision_is_sealed_with_its_findings_in_its_own_transaction(
    runtime, session, officer, key
):
    shipment = runtime.shipments.present(session, shipment_payload(), officer).shipment
    runtime.shipments.act(session, shipment.id, "verify", officer)
    events = list(session.scalars(select(Event).where(Event.shipment_id == shipment.id)))
    assert [e.action for e in events] == ["present", "verify"]
    for event in events:
        entry = sealing.find_entry(session, leaves.DECISION, str(event.id))
        assert entry is not None and entry.seq is None  # sealed now, placed by the sequencer
        assert entry.record["to_state"] == event.to_state
        assert [f["rule"] for f in entry.record["findings"]] == [f.rule for f in event.findings]
        assert entry.record["findings"], "the findings that drove the decision are sealed"
    session.rollback()  # the decision's transaction undone: its seal goes with it
    assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 0


def test_the_history_carries_each_decisions_ledger_reference(client, auth, runtime, key):
    created = client.post("/api/v1/shipments", json=shipment_payload(), headers=auth)
    assert created.status_code == 201, created.json
    history = client.get(f"/api/v1/shipments/{created.json['id']}/history", headers=auth).json
    reference = history["events"][0]["ledger"]
    assert reference["kind"] == "decision" and reference["seq"] is None
    assert len(reference["leaf_hash"]) == 64
    with runtime.sessions() as session:
        sequencer.sequence_pending(session, key)
        session.commit()
    history = client.get(f"/api/v1/shipments/{created.json['id']}/history", headers=auth).json
    # the user behind ``auth`` was sealed before (a register leaf, issue 25): seq 1
    assert history["events"][0]["ledger"] == reference | {"seq": 1}


def test_a_record_is_sealed_once(session):
    identities(session, 1)
    with pytest.raises(IntegrityError), session.begin_nested():
        identities(session, 1)


def test_a_batch_is_sealed_at_one_instant_and_placed_in_the_order_of_its_keys(session, key):
    refs = sealing.append_entries(session, NOTE, [(f"ID-{n}", {"n": n}) for n in (3, 1, 2)])
    assert [ref.key for ref in refs] == ["ID-3", "ID-1", "ID-2"]  # as given
    assert [sealing.find_entry(session, NOTE, ref.key).ref for ref in refs] == refs
    assert sealing.append_entries(session, NOTE, []) == []
    sequencer.sequence_pending(session, key)
    entries = session.execute(
        select(LedgerEntry.record_key, LedgerEntry.logged_at).order_by(LedgerEntry.seq)
    ).all()
    assert [entry.record_key for entry in entries] == ["ID-1", "ID-2", "ID-3"]
    assert len({entry.logged_at for entry in entries}) == 1
    assert verification.verify_ledger(session, key.public_key()).ok


def test_floats_and_huge_integers_in_inputs_are_sealed_as_their_exact_text(session, key):
    record = {"ratio": 0.1, "big": 2**60, "nested": [1.5, {"x": -(2**55)}]}
    sealing.append_entry(session, NOTE, "ID-odd", record)
    sealed = sealing.find_entry(session, NOTE, "ID-odd").record
    assert sealed == {"ratio": "0.1", "big": str(2**60), "nested": ["1.5", {"x": str(-(2**55))}]}
    assert verification.verify_ledger(session, key.public_key()).ok


# -- sequencing -------------------------------------------------------------------------


def test_the_sequencer_places_pending_entries_in_batches_each_with_a_signed_head(session, key):
    identities(session, 25)
    head = sequencer.sequence_pending(session, key, batch_size=10, now=MOMENT)
    assert head.tree_size == 25 and head.timestamp == MOMENT
    heads = session.execute(
        select(LedgerTreeHead.tree_size, LedgerTreeHead.previous_size).order_by(
            LedgerTreeHead.tree_size
        )
    ).all()
    assert [tuple(h) for h in heads] == [(10, None), (20, 10), (25, 20)]
    seqs = session.scalars(select(LedgerEntry.seq).order_by(LedgerEntry.seq))
    assert list(seqs) == list(range(25))
    # Every perfect subtree is stored once: 25 leaves, 12 + 6 + 3 + 1 above them.
    assert session.scalar(select(func.count()).select_from(LedgerNode)) == 25 + 12 + 6 + 3 + 1
    assert sequencer.sequence_pending(session, key) is None  # nothing pending
    identities(session, 3, start=25)
    assert sequencer.sequence_pending(session, key).tree_size == 28
    assert verification.verify_ledger(session, key.public_key()).ok


def test_the_sequencer_stops_on_a_ledger_that_does_not_add_up(session, key):
    identities(session, 4)
    sequencer.sequence_pending(session, key)
    session.execute(text("DELETE FROM ledger_tree_head"))
    identities(session, 1, start=4)
    with pytest.raises(sealing.LedgerError, match="ledger verify"):
        sequencer.sequence_pending(session, key)


# -- proofs -----------------------------------------------------------------------------

LEDGER_SIZE = 33
"""Every size 1..33 gets its own signed head: each inclusion and consistency is proven."""


def altered_paths(path):
    """Every way to spoil a proof: each node changed, one dropped, one added, order swapped."""
    for position in range(len(path)):
        spoiled = list(path)
        spoiled[position] = bytes([path[position][0] ^ 1]) + path[position][1:]
        yield spoiled
        yield path[:position] + path[position + 1 :]
    yield [*path, bytes(32)]
    if len(path) > 1:
        yield path[::-1]


def test_inclusion_and_consistency_proofs_verify_for_every_size_and_fail_when_altered(session, key):
    """Every proof is read through the SQL store and checked with the public key; each
    alteration is checked against the same signed root (the signature is checked once)."""
    public = key.public_key()
    for number in range(LEDGER_SIZE):  # one head per size, so every size is signed
        identities(session, 1, start=number)
        sequencer.sequence_pending(session, key)
    heads = {size: sequencer.head_at(session, size) for size in range(1, LEDGER_SIZE + 1)}
    checked = 0
    for size, head in heads.items():
        for seq in range(size):
            proof = proofs.prove_inclusion(session, seq, head, with_data=True)
            assert proofs.check_inclusion(public, proof.to_dict()), (seq, size)
            for spoiled in altered_paths(proof.path):
                assert not verify_inclusion(proof.leaf_hash, seq, size, spoiled, head.root)
            for wrong_seq in {(seq + 1) % size, seq + size}:
                if wrong_seq != seq:
                    assert not verify_inclusion(
                        proof.leaf_hash, wrong_seq, size, proof.path, head.root
                    )
            assert not proofs.check_inclusion(public, proof.to_dict() | {"leaf_data": "{}"})
            checked += 1
        for old in range(1, size + 1):
            path = proofs.prove_consistency(session, old, size)
            old_head = heads[old]
            assert proofs.check_consistency(
                public, old_head.to_dict(), head.to_dict(), [n.hex() for n in path]
            )
            if old < size:
                for spoiled in altered_paths(path):
                    assert not verify_consistency(old, size, old_head.root, head.root, spoiled)
                assert not verify_consistency(old, size, head.root, old_head.root, path)
    assert checked == LEDGER_SIZE * (LEDGER_SIZE + 1) // 2


def test_proofs_read_the_stored_tree_by_its_primary_key_never_by_a_scan(session, key):
    """What keeps a proof at a million entries as fast as at a thousand on both databases
    (bench/bench_identities.py): each node is a search of the primary key."""
    identities(session, 300)
    sequencer.sequence_pending(session, key, batch_size=64)
    plans = query_plans(session, lambda s: proofs.prove_inclusion(s, 150))
    plans += query_plans(session, lambda s: proofs.prove_consistency(s, 37, 300))
    reads = [plan for plan in plans if "ledger_node" in plan]
    assert len(reads) == 2  # one query each
    for plan in reads:
        if session.get_bind().dialect.name == "sqlite":
            assert "SEARCH ledger_node USING INDEX" in plan and "SCAN" not in plan, plan
        else:
            assert "pk_ledger_node" in plan and "Seq Scan" not in plan, plan


def test_the_stored_tree_is_read_whole_however_many_nodes_are_asked_at_once(session, key):
    identities(session, 300)
    sequencer.sequence_pending(session, key, batch_size=64)
    stored = [(level, index) for level in range(9) for index in range(300 >> level)]
    store = tree.SqlNodeStore(session)
    with statements_sent(session) as sent:
        store.prefetch([*stored, (0, 300), (9, 0)])
        fetched = [store.get(*c) for c in stored]
    assert len(sent) == -(-(len(stored) + 2) // 64)  # in queries of a bounded size, no more
    memory = merkle.MemoryNodeStore()
    leaves = session.scalars(select(LedgerEntry.leaf_data).order_by(LedgerEntry.seq))
    memory.put_many(merkle.append_many(0, [merkle.leaf_hash(d.encode()) for d in leaves], memory))
    assert fetched == [memory.get(*c) for c in stored]
    with pytest.raises(KeyError):
        store.get(0, 300)  # not stored: not made up


def test_a_proof_with_an_altered_head_fails_the_check(session, key):
    identities(session, 6)
    sequencer.sequence_pending(session, key, batch_size=4)
    public = key.public_key()
    answer = proofs.prove_inclusion(session, 2).to_dict()
    assert proofs.check_inclusion(public, answer)
    head = answer["tree_head"]
    for field, value in [
        ("tree_size", 7),
        ("root_hash", "0" * 64),
        ("timestamp", "2020-01-01T00:00:00Z"),
    ]:
        assert not proofs.check_inclusion(public, answer | {"tree_head": head | {field: value}})
    assert not proofs.check_inclusion(public, answer | {"tree_size": 4})
    old = sequencer.head_at(session, 4).to_dict()
    path = [n.hex() for n in proofs.prove_consistency(session, 4, 6)]
    assert proofs.check_consistency(public, old, head, path)
    assert not proofs.check_consistency(public, old | {"root_hash": "1" * 64}, head, path)


def test_a_head_signed_by_another_key_fails_the_check(session, key, tmp_path):
    identities(session, 3)
    sequencer.sequence_pending(session, key)
    answer = proofs.prove_inclusion(session, 1).to_dict()
    other = signing_keys.signing_key(_other_settings(tmp_path))
    assert proofs.check_inclusion(key.public_key(), answer)
    assert not proofs.check_inclusion(other.public_key(), answer)


def _other_settings(tmp_path):
    from caratflow.config import Settings
    from caratflow.testing.servers import with_ledger_key

    return with_ledger_key(Settings.from_env({}, instance_path=tmp_path / "other"))


def test_an_auditor_checks_the_api_with_the_published_public_key_alone(client, session, key):
    assert client.get("/api/v1/ledger/head").status_code == 404  # nothing signed yet
    identities(session, 5)
    sequencer.sequence_pending(session, key)
    session.commit()
    first = client.get("/api/v1/ledger/head").json
    public = load_public_key(first["public_key"])  # what the auditor keeps
    assert first["public_key"] == public_key_pem(key)
    identities(session, 6, start=5)
    sequencer.sequence_pending(session, key)
    session.commit()
    now = client.get("/api/v1/ledger/head").json["tree_head"]
    assert now["tree_size"] == 11
    proof = client.get("/api/v1/ledger/proof/7").json
    assert proofs.check_inclusion(public, proof)
    old = client.get("/api/v1/ledger/proof/2?tree_size=5").json
    assert old["tree_size"] == 5 and proofs.check_inclusion(public, old)
    grown = client.get("/api/v1/ledger/consistency?from=5").json
    assert grown["to"] == 11 and grown["from_head"] == first["tree_head"]
    assert proofs.check_consistency(public, first["tree_head"], now, grown["proof"])


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/ledger/proof/11", 404),  # not under a signed head
        ("/api/v1/ledger/proof/1?tree_size=3", 404),  # no head at that size
        ("/api/v1/ledger/proof/1?tree_size=abc", 422),
        ("/api/v1/ledger/consistency", 422),
        ("/api/v1/ledger/consistency?from=-1", 422),
        ("/api/v1/ledger/consistency?from=3&to=99", 404),
        ("/api/v1/ledger/consistency?from=9&to=4", 404),
    ],
)
def test_bad_ledger_questions_get_a_clear_json_answer(client, session, key, path, status):
    identities(session, 11)
    sequencer.sequence_pending(session, key, batch_size=5)
    session.commit()
    answer = client.get(path)
    assert answer.status_code == status, answer.json
    assert answer.json["message"]


# -- concurrency ------------------------------------------------------------------------


@pytest.mark.postgres_only
def test_writers_never_wait_for_the_sequencer_and_two_sequencers_never_collide(
    committed_runtime, officer
):
    rt = committed_runtime
    key = signing_keys.signing_key(rt.settings)
    with unit_of_work(rt.sessions) as session:
        identities(session, 100)
    sequencing, release = threading.Event(), threading.Event()
    heads = []

    def slow_sequencer() -> None:
        with unit_of_work(rt.sessions) as session:
            heads.append(sequencer.sequence_pending(session, key))
            sequencing.set()
            release.wait(10)  # hold the sequencer's transaction (and its lock) open

    worker = threading.Thread(target=slow_sequencer)
    worker.start()
    assert sequencing.wait(10)
    try:
        # A decision commits while the sequencer's transaction is open: it does not queue.
        done = threading.Event()

        def decide() -> None:
            with unit_of_work(rt.sessions) as session:
                rt.shipments.present(session, shipment_payload(), officer)
            done.set()

        writer = threading.Thread(target=decide)
        writer.start()
        assert done.wait(5), "a writer waited for the sequencer"
        writer.join()
        with unit_of_work(rt.sessions) as session:  # a second sequencer finds the lock held
            assert sequencer.sequence_pending(session, key) is None
    finally:
        release.set()
        worker.join()
    assert heads[0].tree_size == 100
    with unit_of_work(rt.sessions) as session:
        assert sequencer.sequence_pending(session, key).tree_size == 103  # with its presentation
        # and the confirmation clock it opened (issue 25)
        assert verification.verify_ledger(session, key.public_key()).ok


def test_the_periodic_task_sequences_in_its_own_transaction(committed_runtime):
    rt = committed_runtime
    with unit_of_work(rt.sessions) as session:
        identities(session, 3)
    assert sequencer.sequence_once(rt.sessions, rt.settings) == 3
    assert sequencer.sequence_once(rt.sessions, rt.settings) is None


def test_a_missing_key_is_a_clear_error(runtime, tmp_path):
    from dataclasses import replace

    settings = replace(runtime.settings, signing_key_path=tmp_path / "nowhere.pem")
    with pytest.raises(sealing.LedgerError, match="caratflow init"):
        signing_keys.signing_key(settings)
    assert signing_keys.ensure_signing_key(tmp_path / "keys" / "new.pem")
    before = (tmp_path / "keys" / "new.pem").read_bytes()
    assert not signing_keys.ensure_signing_key(tmp_path / "keys" / "new.pem")  # never replaced
    assert (tmp_path / "keys" / "new.pem").read_bytes() == before


# -- what verification compares ---------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**62), 2**62)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.text(st.characters(min_codepoint=0xE000), max_size=3)
    | st.decimals(allow_nan=False, allow_infinity=False, places=4)
    | st.dates()
    | st.datetimes(timezones=st.just(UTC)),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=500)
@given(
    record=st.dictionaries(
        st.text(max_size=6) | st.text(st.characters(min_codepoint=0xE000), max_size=3),
        json_values,
        max_size=5,
    )
)
def test_a_leaf_is_canonical_json_and_verification_reads_it_back_exactly(record):
    """The fast paths never drift from the reference: ``leaf_bytes`` writes exactly what
    ``canonical_json`` writes (keys of any script, astral planes included), and
    ``as_json`` (what verify compares) is what those bytes read back as."""
    leaf = leaves.leaf_bytes("decision", "1", MOMENT, record)
    reference = {
        "v": leaves.LEAF_VERSION,
        "kind": "decision",
        "key": "1",
        "logged_at": MOMENT,
        "record": leaves.sealable(record),
    }
    assert leaf == canonical_json(reference)
    assert json.loads(leaf)["record"] == leaves.as_json(record)


def test_a_lawful_purge_is_sealed_and_accounts_for_the_decisions_it_removed(
    runtime, session, officer, key
):
    shipment = runtime.shipments.present(session, shipment_payload(), officer).shipment
    sequencer.sequence_pending(session, key)
    clock = session.scalar(select(Deadline.id).where(Deadline.shipment_id == shipment.id))
    tombstone = PurgeRecord(
        shipment_id=shipment.id,
        authority_code="BE",
        certificate_number="CA123456",
        kept_until=MOMENT.date(),
        actor="admin",
        reason="retention period over",
    )
    session.add(tombstone)
    session.delete(shipment)
    session.flush()
    unsealed = verification.verify_ledger(session, key.public_key())
    # a purge record without its leaf makes no decision's absence lawful (issue 25)
    assert unsealed.rows == {
        f"purge_record {tombstone.id}",
        f"ledger_entry purge:{tombstone.id}",
        f"event {shipment.events[0].id}",
        f"ledger_entry decision:{shipment.events[0].id}",
        f"shipment {shipment.id}",
        f"ledger_entry presentation:{shipment.id}",
        f"deadline {clock}",
        f"ledger_entry deadline:{clock}:1",
    }
    sealing.seal_purge(session, tombstone)  # what caratflow.records.retention.purge is to call
    assert verification.verify_ledger(session, key.public_key()).ok
    session.delete(tombstone)  # but a purge record removed later leaves the events unexplained
    session.flush()
    assert "deleted" in {
        d.problem for d in verification.verify_ledger(session, key.public_key()).discrepancies
    }
