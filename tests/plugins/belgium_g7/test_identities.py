"""Digital identities and lineage at the Antwerp control point (LAW.md g7.digital_identity,
g7.lineage): every parcel and stone registered and sealed, every stone traced to its rough.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text

from caratflow.case.access import Actor
from caratflow.db import unit_of_work
from caratflow.errors import Conflict, Forbidden, InvalidInput, NotFound
from caratflow.law.rules import LawForbids
from caratflow.ledger import leaves, proofs, sealing, sequencer, signing_keys, verification
from caratflow.models import Authority, DigitalIdentity, IdentityCut, LedgerEntry, Role
from caratflow.plugins.belgium_g7.identities import (
    identity_required,
    register_identities,
    register_identity,
)
from caratflow.plugins.belgium_g7.lineage import lineage_graph, lineage_is_clean
from caratflow.plugins.belgium_g7.lookups import lookup
from caratflow.testing.databases import statements_sent
from caratflow.testing.payloads import shipment_payload

KP_CERTIFICATE = hashlib.sha256(b"KP certificate CA123456").hexdigest()
TODAY = date(2026, 11, 23)


def parcel(number: str = "BE-R-1", carats: str = "10.00", **origin: str) -> dict[str, Any]:
    """A rough parcel as the control point checked it, with its KP certificate's hash."""
    return {
        "id": number,
        "kind": "rough_parcel",
        "carats": carats,
        "origin": origin or {"CA": "100"},
        "documents": [KP_CERTIFICATE],
    }


def cut(number: str, carats: str, *parents: str | tuple[str, str], kind: str = "polished"):
    """A stone cut from ``parents`` (an ID, or an (ID, carats from it) pair)."""
    named = [{"id": p} if isinstance(p, str) else {"id": p[0], "carats": p[1]} for p in parents]
    return {"id": number, "kind": kind, "carats": carats, "parents": named}


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def key(runtime):
    return signing_keys.signing_key(runtime.settings)


# -- g7.digital_identity: registered, sealed, proven ------------------------------------


def test_a_parcel_is_registered_with_its_origin_and_proven_once_sequenced(session, officer, key):
    number = register_identity(session, parcel(CA="60", BW="40"), officer)
    registered = lookup(session, number, officer)
    assert registered.as_json()["origin"] == {"BW": "40", "CA": "60"}
    assert registered.as_json()["ledger"]["status"] == "pending"
    assert registered.as_json()["ledger"]["proof"] is None

    sequencer.sequence_pending(session, key)
    found = lookup(session, "BE-R-1", officer).as_json()
    proof = found["ledger"]["proof"]
    assert found["ledger"]["status"] == "sequenced" and found["ledger"]["matches_record"]
    assert proofs.check_inclusion(key.public_key(), proof)
    sealed = sealing.find_entry(session, leaves.IDENTITY, "BE-R-1").record
    assert sealed == {
        "id": "BE-R-1",
        "kind": "rough_parcel",
        "carats": "10.0000",
        "origin": {"BW": "40", "CA": "60"},
        "origin_countries": ["BW", "CA"],
        "documents": [KP_CERTIFICATE],
        "parents": [],
        "control_point": "BE",
        "registered_on": found["registered_on"],
    }
    assert "officer.be" not in proof["leaf_data"]  # the leaf is shown whole: no names in it


def test_a_proof_of_another_leaf_is_not_accepted_for_this_identity(session, officer, key):
    register_identity(session, parcel("BE-R-1"), officer)
    register_identity(session, parcel("BE-R-2", BW="100"), officer)
    sequencer.sequence_pending(session, key)
    proof = lookup(session, "BE-R-1", officer).as_json()["ledger"]["proof"]
    other = lookup(session, "BE-R-2", officer).as_json()["ledger"]["proof"]
    assert proofs.check_inclusion(key.public_key(), proof)
    assert not proofs.check_inclusion(key.public_key(), proof | {"leaf_data": other["leaf_data"]})


def test_a_row_changed_after_registration_no_longer_matches_its_leaf(session, officer, key):
    register_identity(session, parcel(), officer)
    session.execute(
        DigitalIdentity.__table__.update().values(carats=Decimal("12.0000"))  # a forger
    )
    assert lookup(session, "BE-R-1", officer).as_json()["ledger"]["matches_record"] is False


def test_an_identity_is_registered_once(session, officer):
    register_identity(session, parcel(), officer)
    with pytest.raises(Conflict, match="registered already"):
        register_identity(session, parcel(carats="11"), officer)


def cutters_batch(stones: int = 40) -> list[dict[str, Any]]:
    """A batch as a cutting works registers it: a parcel for the next batch, and stones
    cut from the parcel of the batch before (``BE-R-1``)."""
    return [parcel("BE-R-2")] + [cut(f"BE-P-{n:02d}", "0.50", "BE-R-1") for n in range(stones)]


def cutting_works(session, officer) -> list[str]:
    register_identity(session, parcel("BE-R-1", carats="50.00"), officer)
    return register_identities(session, cutters_batch(), officer)


def ledger_inserts(session, action) -> int:
    """How many statements ``action`` sends to write ledger entries."""
    with statements_sent(session) as sent:
        action()
    return sum(statement.startswith("INSERT INTO ledger_entry") for statement, _ in sent)


def test_a_batch_is_sealed_in_one_statement_and_every_leaf_is_proven(session, officer, key):
    register_identity(session, parcel("BE-R-1", carats="50.00"), officer)
    numbers: list[str] = []

    def register() -> None:
        numbers.extend(register_identities(session, cutters_batch(), officer))

    assert ledger_inserts(session, register) == 1
    sequencer.sequence_pending(session, key, batch_size=16)  # heads that cut through the batch
    report = verification.verify_ledger(session, key.public_key())
    assert report.ok and report.entries == 42, report.discrepancies
    for number in numbers:
        found = lookup(session, number, officer).as_json()["ledger"]
        assert found["status"] == "sequenced" and found["matches_record"], number
        assert proofs.check_inclusion(key.public_key(), found["proof"]), number
        assert json.loads(found["proof"]["leaf_data"])["record"]["id"] == number


def test_a_batch_whose_leaf_cannot_be_written_leaves_no_row_behind(session, officer):
    sealing.record_digital_identity(session, "BE-P-17", {"id": "BE-P-17"})  # sealed outside
    with pytest.raises(Conflict):
        cutting_works(session, officer)
    assert count(session, DigitalIdentity) == 1 and count(session, IdentityCut) == 0
    assert count(session, LedgerEntry) == 2  # BE-R-1's and the stray one


def swap_places(session, first: str, second: str) -> None:
    entries = LedgerEntry.__table__
    places = dict(
        session.execute(
            select(entries.c.record_key, entries.c.seq).where(
                entries.c.record_key.in_([first, second])
            )
        ).all()
    )
    for number, seq in ((first, -1), (second, places[first]), (first, places[second])):
        session.execute(entries.update().where(entries.c.record_key == number).values(seq=seq))


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        (
            lambda s: s.execute(
                LedgerEntry.__table__.update()
                .where(LedgerEntry.record_key == "BE-P-17")
                .values(leaf_data=func.replace(LedgerEntry.leaf_data, "0.5000", "0.4000"))
            ),
            {"ledger_entry identity:BE-P-17"},
        ),
        (
            lambda s: s.execute(
                LedgerEntry.__table__.delete().where(LedgerEntry.record_key == "BE-P-17")
            ),
            {"ledger_entry seq 18", "ledger_entry identity:BE-P-17"},  # and its row unsealed
        ),
        (
            lambda s: swap_places(s, "BE-P-17", "BE-P-30"),
            {"ledger_entry identity:BE-P-17", "ledger_entry identity:BE-P-30"},
        ),
    ],
    ids=["edited", "deleted", "reordered"],
)
def test_ledger_verify_names_the_leaf_tampered_in_a_batch(session, officer, key, tamper, named):
    cutting_works(session, officer)
    sequencer.sequence_pending(session, key, batch_size=16)
    assert sealing.find_entry(session, leaves.IDENTITY, "BE-P-17").seq == 18  # after
    tamper(session)
    report = verification.verify_ledger(session, key.public_key())
    assert not report.ok
    identities = {row for row in report.rows if row.startswith("ledger_entry")}
    assert identities == named, report.discrepancies


def test_every_polished_stone_from_the_weight_in_force_must_carry_an_identity():
    assert not identity_required("polished", Decimal("0.70"), date(2024, 3, 1))  # before
    assert not identity_required("polished", Decimal("0.70"), date(2024, 5, 1))  # 1.0 ct then
    assert identity_required("polished", Decimal("0.70"), date(2024, 10, 1))  # 0.5 ct since
    assert not identity_required("polished", Decimal("0.49"), TODAY)
    assert identity_required("synthetic", Decimal("0.50"), TODAY)
    assert identity_required("rough_parcel", Decimal("0.01"), TODAY)  # every parcel


def test_bad_input_names_every_field_and_writes_nothing(session, officer):
    bad = {
        "id": "NL-R-1",  # another control point's prefix
        "kind": "rough_parcel",
        "carats": "-1",
        "origin": {"XX": "100"},
        "documents": ["not a hash"],
    }
    with pytest.raises(InvalidInput) as refused:
        register_identity(session, bad, officer)
    fields = {e.field for e in refused.value.errors}
    assert {"carats", "origin.XX.[key]", "documents.0"} <= fields
    with pytest.raises(InvalidInput) as refused:
        register_identity(session, {**parcel(), "id": "NL-R-1"}, officer)
    assert [e.field for e in refused.value.errors] == ["id"]
    assert count(session, DigitalIdentity) == count(session, LedgerEntry) == 0


@pytest.mark.parametrize(
    ("stone", "field"),
    [
        ({**parcel(), "parents": [{"id": "BE-R-0"}]}, "parents"),  # a parcel starts a lineage
        ({**cut("BE-P-1", "1", "BE-R-1"), "origin": {"BW": "100"}}, "origin"),  # inherited
        (cut("BE-P-1", "1", "BE-R-404"), "parents.0.id"),  # unknown parent
        (cut("BE-P-1", "1", "BE-R-1", kind="synthetic"), "parents.0.id"),  # never mixed
        (cut("BE-P-1", "1", ("BE-R-1", "0.4"), "BE-R-2"), "parents.1.carats"),
        (cut("BE-P-1", "1", ("BE-R-1", "0.4"), ("BE-R-2", "0.4")), "parents"),  # not 1 ct
        ({**parcel(), "origin": {"CA": "60", "BW": "60"}}, "origin"),  # 120%
    ],
)
def test_a_lineage_must_be_stated_as_the_law_reads_it(session, officer, stone, field):
    register_identity(session, parcel("BE-R-1"), officer)
    register_identity(session, parcel("BE-R-2"), officer)
    with pytest.raises(InvalidInput) as refused:
        register_identity(session, stone, officer)
    assert field in [e.field for e in refused.value.errors]


def test_an_auditor_reads_but_does_not_register(session, officer):
    auditor = Actor("auditor.be", Role.AUDITOR, frozenset({"BE"}))
    with pytest.raises(Forbidden):
        register_identity(session, parcel(), auditor)
    register_identity(session, parcel(), officer)
    assert lookup(session, "BE-R-1", auditor).number == "BE-R-1"


def test_only_authorities_that_enable_belgium_g7_keep_identities(session, officer):
    register_identity(session, parcel(), officer)
    norwegian = Actor("officer.no", Role.OFFICER, frozenset({"NO"}))
    with pytest.raises(Forbidden, match="belgium_g7"):
        register_identity(session, {**parcel("NO-R-1"), "authority": "NO"}, norwegian)
    with pytest.raises(Forbidden, match="belgium_g7"):
        lookup(session, "BE-R-1", norwegian)


def test_another_control_points_identities_are_not_found_nor_usable_as_parents(session, officer):
    session.add(
        Authority(
            code="AN",
            name="Another G7 control point",
            country="BE",
            zone="Europe/Brussels",
            plugins=["belgium_g7"],
        )
    )
    session.flush()
    theirs = Actor("officer.an", Role.OFFICER, frozenset({"AN"}))
    register_identity(session, {**parcel("AN-R-1"), "authority": "AN"}, theirs)
    with pytest.raises(NotFound):
        lookup(session, "AN-R-1", officer)
    with pytest.raises(NotFound):
        lineage_graph(session, "AN-R-1", officer)
    with pytest.raises(InvalidInput, match="no digital identity AN-R-1 at BE"):
        register_identity(session, cut("BE-P-1", "1", "AN-R-1"), officer)


# -- g7.lineage: weight -----------------------------------------------------------------


def test_polished_carats_can_never_exceed_the_rough_they_came_from(session, officer):
    register_identity(session, parcel("BE-R-1", carats="1.00"), officer)
    register_identity(session, cut("BE-P-1", "0.60", "BE-R-1"), officer)
    before = count(session, DigitalIdentity), count(session, LedgerEntry)
    with pytest.raises(LawForbids) as refused:
        register_identity(session, cut("BE-P-2", "0.41", "BE-R-1"), officer)
    [finding] = refused.value.findings
    assert finding.rule == "g7.lineage" and finding.outcome.value == "refuse"
    assert finding.basis.startswith("Reg. (EU) 833/2014 Art. 3p")
    assert finding.data == {
        "parent": "BE-R-1",
        "parent_carats": "1.0000",
        "already_cut": "0.6000",
        "requested": "0.4100",
    }
    assert (count(session, DigitalIdentity), count(session, LedgerEntry)) == before
    register_identity(session, cut("BE-P-2", "0.40", "BE-R-1"), officer)  # exactly the rest


def test_a_stone_heavier_than_the_rough_it_came_from_is_refused(session, officer):
    register_identity(session, parcel("BE-R-1", carats="2.50"), officer)
    with pytest.raises(LawForbids, match=r"g7\.lineage"):
        register_identity(session, cut("BE-P-1", "2.5001", "BE-R-1"), officer)


def test_the_weight_is_summed_exactly_on_every_database(session, officer):
    register_identity(session, parcel("BE-R-1", carats="0.9999"), officer)
    for n in range(3):
        register_identity(session, cut(f"BE-P-{n}", "0.3333", "BE-R-1"), officer)
    with pytest.raises(LawForbids):
        register_identity(session, cut("BE-P-3", "0.0001", "BE-R-1"), officer)


def test_a_batch_that_overdraws_a_parent_between_its_own_stones_is_refused_whole(session, officer):
    register_identity(session, parcel("BE-R-1", carats="1.00"), officer)
    batch = [cut("BE-P-1", "0.50", "BE-R-1"), cut("BE-P-2", "0.51", "BE-R-1")]
    with pytest.raises(LawForbids):
        register_identities(session, batch, officer)
    assert count(session, DigitalIdentity) == 1


def test_a_stone_cut_from_two_parents_draws_its_carats_from_each(session, officer):
    register_identity(session, parcel("BE-R-1", carats="1.00", CA="100"), officer)
    register_identity(session, parcel("BE-R-2", carats="1.00", BW="100"), officer)
    number = register_identity(
        session, cut("BE-P-1", "1.20", ("BE-R-1", "0.70"), ("BE-R-2", "0.50")), officer
    )
    stone = lookup(session, number, officer).as_json()
    assert stone["origin_countries"] == ["BW", "CA"]  # inherited from both
    with pytest.raises(LawForbids, match="BE-R-1"):
        register_identity(session, cut("BE-P-2", "0.31", "BE-R-1"), officer)
    register_identity(session, cut("BE-P-3", "0.50", "BE-R-2"), officer)


# -- g7.lineage: origin, two cuts away --------------------------------------------------


def two_cuts_away(session, officer, **origin: str) -> None:
    """Rough parcel → sawn (intermediate) stone → polished stone."""
    register_identity(session, parcel("BE-R-1", carats="5.00", **origin), officer)
    register_identity(session, cut("BE-S-1", "2.00", "BE-R-1", kind="intermediate"), officer)
    register_identity(session, cut("BE-P-1", "0.90", "BE-S-1"), officer)


def test_a_russian_share_two_cuts_away_makes_the_polished_stone_russian(session, officer):
    two_cuts_away(session, officer, AO="99", RU="1")
    check = lineage_is_clean(session, ["BE-P-1"], TODAY)
    assert not check
    assert check.russian == ["BE-P-1"]
    [problem] = check.stones["BE-P-1"].problems
    assert (problem.identity, problem.rule) == ("BE-R-1", "g7.lineage")
    assert "RU 1%" in problem.message
    stone = lookup(session, "BE-P-1", officer).as_json()
    assert stone["origin_countries"] == ["AO", "RU"]  # inherited at registration, and sealed
    assert sealing.find_entry(session, leaves.IDENTITY, "BE-P-1").record["origin_countries"] == [
        "AO",
        "RU",
    ]


def test_a_stone_two_cuts_away_from_documented_non_russian_rough_is_clean(session, officer):
    two_cuts_away(session, officer, AO="60", BW="40")
    check = lineage_is_clean(session, ["BE-P-1", "BE-S-1"], TODAY)
    assert check and check.stones["BE-P-1"].roots == ("BE-R-1",)
    assert check.stones["BE-P-1"].origin_countries == ("AO", "BW")


def test_russia_is_sanctioned_only_from_the_date_the_parameters_say(session, officer):
    two_cuts_away(session, officer, RU="100")
    with pytest.raises(LookupError):  # no law of the G7 system before 2024: nothing to judge
        lineage_is_clean(session, ["BE-P-1"], date(2023, 12, 31))
    assert lineage_is_clean(session, ["BE-P-1"], date(2024, 1, 1)).russian == ["BE-P-1"]


def test_the_lineage_of_a_stone_two_cuts_away_reaches_its_rough(session, officer):
    two_cuts_away(session, officer)
    graph = lineage_graph(session, "BE-P-1", officer)
    assert graph.path_to_roots() == [["BE-P-1", "BE-S-1", "BE-R-1"]]
    assert [(n.number, n.relation, n.layer) for n in graph.nodes] == [
        ("BE-R-1", "ancestor", 0),
        ("BE-S-1", "ancestor", 1),
        ("BE-P-1", "self", 2),
    ]
    assert [(e.parent, e.child, str(e.carats)) for e in graph.edges] == [
        ("BE-R-1", "BE-S-1", "2.0000"),
        ("BE-S-1", "BE-P-1", "0.9000"),
    ]
    from_the_rough = lineage_graph(session, "BE-R-1", officer)
    assert {(n.number, n.relation) for n in from_the_rough.nodes} == {
        ("BE-R-1", "self"),
        ("BE-S-1", "descendant"),
        ("BE-P-1", "descendant"),
    }


def test_a_lineage_that_joins_two_parcels_shows_both_roots(session, officer):
    register_identity(session, parcel("BE-R-1", carats="1"), officer)
    register_identity(session, parcel("BE-R-2", carats="1", BW="100"), officer)
    register_identity(
        session,
        cut("BE-S-1", "1.5", ("BE-R-1", "1"), ("BE-R-2", "0.5"), kind="intermediate"),
        officer,
    )
    register_identity(session, cut("BE-P-1", "0.8", "BE-S-1"), officer)
    graph = lineage_graph(session, "BE-P-1", officer)
    assert graph.path_to_roots() == [
        ["BE-P-1", "BE-S-1", "BE-R-1"],
        ["BE-P-1", "BE-S-1", "BE-R-2"],
    ]
    assert graph.lineage.roots == ("BE-R-1", "BE-R-2") and graph.lineage.clean


@pytest.mark.parametrize(
    ("root", "rule"),
    [
        ({**parcel(), "origin": {"AO": "60", "BW": "30"}}, "g7.mining_countries"),  # 90%
        ({**parcel(), "documents": []}, "g7.rough.non_russian"),  # nothing documents it
        ({**parcel(), "kind": "intermediate", "carats": "3"}, "g7.lineage"),  # no rough
    ],
)
def test_a_stone_is_clean_only_when_traced_to_documented_rough(session, officer, root, rule):
    register_identity(session, {**root, "id": "BE-R-1"}, officer)
    register_identity(session, cut("BE-P-1", "1", "BE-R-1"), officer)
    check = lineage_is_clean(session, ["BE-P-1"], TODAY)
    assert not check and not check.russian
    assert [p.rule for p in check.problems] == [rule]


def test_a_replayed_decision_sees_the_register_as_it_stood(session, officer):
    two_cuts_away(session, officer)
    registered_at = lookup(session, "BE-P-1", officer).row["registered_at"]
    earlier = lineage_is_clean(session, ["BE-P-1"], TODAY, as_of=registered_at - timedelta(1))
    assert [p.rule for p in earlier.problems] == ["g7.digital_identity"]
    assert lineage_is_clean(session, ["BE-P-1"], TODAY, as_of=registered_at)


def test_an_unregistered_stone_is_not_clean(session):
    check = lineage_is_clean(session, ["BE-P-404"], TODAY)
    assert not check and check.problems[0].rule == "g7.digital_identity"


def test_synthetic_stones_trace_to_their_production(session, officer):
    register_identity(
        session,
        {"id": "BE-Y-1", "kind": "synthetic", "carats": "3", "origin": {"IN": "100"}},
        officer,
    )
    register_identity(session, cut("BE-Y-2", "1", "BE-Y-1", kind="synthetic"), officer)
    check = lineage_is_clean(session, ["BE-Y-2"], TODAY)
    assert [p.rule for p in check.problems] == ["g7.scope"]  # no document for its production


# -- the two rules at the counter -------------------------------------------------------


def polished_export(*stones: dict[str, Any]) -> dict[str, Any]:
    return shipment_payload(
        **{
            "direction": "export",
            "goods": "polished",
            "certificate.number": "BE000123",
            "certificate.issuing_country": "BE",
            "certificate.hs_codes": ["7102.39"],
            "certificate.provenance": "BE",
            "presented_at": "2026-11-20T10:00:00+01:00",
        },
        stones=list(stones),
    )


def verdicts(session, service, officer, payload) -> dict[str, Any]:
    return {f.rule: f for f in service.check(session, payload, officer)}


def test_a_polished_stone_leaves_only_with_its_digital_identity(session, service, officer):
    two_cuts_away(session, officer, AO="60", BW="40")
    unregistered = {"id": "GIA-1", "carats": "0.90"}
    found = verdicts(session, service, officer, polished_export(unregistered))
    assert found["g7.digital_identity"].outcome.value == "hold"
    registered = {"id": "GIA-1", "identity": "BE-P-1", "carats": "0.90"}
    found = verdicts(session, service, officer, polished_export(registered))
    assert found["g7.digital_identity"].outcome.value == "pass"
    assert found["g7.lineage"].outcome.value == "pass"
    small = {"id": "GIA-2", "carats": "0.30"}  # below the weight: traced by its lot
    assert "g7.digital_identity" not in verdicts(session, service, officer, polished_export(small))


def test_a_stone_whose_identity_says_another_weight_is_held(session, service, officer):
    two_cuts_away(session, officer)
    other = {"id": "GIA-1", "identity": "BE-P-1", "carats": "0.95"}
    found = verdicts(session, service, officer, polished_export(other))
    assert found["g7.digital_identity"].outcome.value == "hold"


def test_a_stone_cut_from_a_parcel_with_a_russian_share_is_refused_at_export(
    session, service, officer
):
    two_cuts_away(session, officer, AO="99", RU="1")
    stone = {"id": "GIA-1", "identity": "BE-P-1", "carats": "0.90"}
    refusal = verdicts(session, service, officer, polished_export(stone))["g7.lineage"]
    assert (refusal.outcome.value, refusal.data) == ("refuse", {"stones": ["BE-P-1"]})


# -- two officers, one parent, at the same time (PostgreSQL row locks) ------------------


@pytest.mark.postgres_only
def test_two_concurrent_cuts_cannot_together_exceed_their_parent(committed_runtime, officer):
    rt = committed_runtime
    with unit_of_work(rt.sessions) as session:
        register_identity(session, parcel("BE-R-1", carats="1.00"), officer)
    outcome: dict[str, Any] = {}

    def second_officer() -> None:
        with rt.sessions() as session:
            try:
                register_identity(session, cut("BE-P-2", "0.60", "BE-R-1"), officer)
                session.commit()
                outcome["second"] = "registered"
            except LawForbids as refused:
                outcome["second"] = refused.findings[0].rule

    with rt.sessions() as first:
        register_identity(first, cut("BE-P-1", "0.60", "BE-R-1"), officer)  # not committed
        racing = threading.Thread(target=second_officer)
        racing.start()
        time.sleep(0.5)
        assert racing.is_alive(), "the second cut must wait for the first one's lock"
        first.commit()
    racing.join(timeout=30)
    assert outcome == {"second": "g7.lineage"}
    with rt.sessions() as session:
        assert session.scalar(select(func.sum(IdentityCut.carats))) == Decimal("0.6000")


@pytest.mark.parametrize(
    ("statement", "named", "said"),
    [
        (
            "UPDATE digital_identity SET carats = carats * 2 WHERE number = 'BE-R-1'",
            "digital_identity BE-R-1",
            "digital_identity BE-R-1 carats: sealed '50.0000', now '100.0000'",
        ),
        (
            """UPDATE digital_identity SET origin = '{"RU": "100"}' WHERE number = 'BE-R-2'""",
            "digital_identity BE-R-2",
            "digital_identity BE-R-2 origin: sealed {'CA': '100'}, now {'RU': '100'}",
        ),
        (
            "DELETE FROM identity_cut WHERE child_id = "
            "(SELECT id FROM digital_identity WHERE number = 'BE-P-07')",
            "identity_cut BE-R-1>BE-P-07",
            "identity_cut BE-R-1>BE-P-07 (the cut of BE-P-07 from BE-R-1) was deleted",
        ),
        (
            "UPDATE identity_cut SET carats = carats / 2 WHERE child_id = "
            "(SELECT id FROM digital_identity WHERE number = 'BE-P-03')",
            "identity_cut BE-R-1>BE-P-03",
            "identity_cut BE-R-1>BE-P-03 carats: sealed '0.5000', now '0.2500'",
        ),
    ],
)
def test_an_identity_or_a_cut_edited_by_sql_is_named_by_verify(
    session, officer, key, statement, named, said
):
    """Issue 25: the rows a lineage is judged by are compared with their leaves, sequenced
    or pending; before, carats doubled, an origin rewritten or a cut deleted all passed."""
    cutting_works(session, officer)
    sequencer.sequence_pending(session, key, batch_size=16)
    assert verification.verify_ledger(session, key.public_key()).ok
    session.execute(text(statement))
    report = verification.verify_ledger(session, key.public_key())
    assert named in report.rows
    assert any(said in d.message for d in report.discrepancies), report.discrepancies


def test_a_deleted_identity_is_named_by_verify(session, officer, key):
    cutting_works(session, officer)
    session.execute(
        text(
            "DELETE FROM identity_cut WHERE child_id = "
            "(SELECT id FROM digital_identity WHERE number = 'BE-P-39')"
        )
    )
    session.execute(text("DELETE FROM digital_identity WHERE number = 'BE-P-39'"))
    report = verification.verify_ledger(session, key.public_key())
    assert [d.problem for d in report.discrepancies] == ["deleted"]
    assert "digital_identity BE-P-39" in report.rows
