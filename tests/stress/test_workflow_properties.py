"""Random people taking random decisions on random shipments never leave the workflow.

A hypothesis state machine presents EU imports, EU exports and Norwegian imports (some
compliant, some with a defect the law holds or refuses) and fires every action any
workflow knows, as officers, supervisors, auditors and administrators of Belgium, Norway
or both, with and without a reason or the choices an action asks for. After each step
it compares what happened with the workflow's own transition table:

- a decision is taken only where a transition allows it (state, direction, role, reason,
  choices), and then it lands exactly on that transition's destination;
- a transition that needs a clean record is never recorded with a hold or refusal among
  its findings; a refusal by the law names a finding that holds or refuses;
- each decision bumps the version once and adds one event, sealed in the ledger; a
  refused one changes nothing at all;
- no shipment reaches a state that lets goods go (released, exported…) while a refusal of
  its record stands, and every hold on its record was later either assessed again and
  found clear, or named by a decision as lifted with the remedy's evidence (issue 22);

and at the end of each run the ledger verifies. Examples are few and derandomized (the
``caratflow-stress`` profile), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from caratflow.case import access
from caratflow.case.access import Actor
from caratflow.case.parties import register_party
from caratflow.case.service import facts_of, legal_date
from caratflow.errors import (
    ActionNotAvailable,
    CaratflowError,
    Forbidden,
    InvalidInput,
    NotFound,
    ReasonRequired,
)
from caratflow.jurisdiction.workflow import STAY
from caratflow.law.rules import LawForbids, Outcome, RecordForbids
from caratflow.ledger import leaves, sealing, sequencer, signing_keys, verification
from caratflow.models import (
    Authority,
    Deadline,
    Event,
    LedgerEntry,
    OutboxMessage,
    Role,
    Shipment,
)
from caratflow.testing.payloads import DELETE, export_payload, shipment_payload

from .conftest import STRESS_PROFILE

pytestmark = pytest.mark.slow

REGISTERED = "Thune Gullsmed AS"


def eu_import(**changes: Any) -> dict[str, Any]:
    return shipment_payload(**changes)


def without(payload: dict[str, Any], field: str) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != field}


def norway_import(**changes: Any) -> dict[str, Any]:
    return shipment_payload(
        **{
            "authority": "NO",
            "entry_point": "OSL",
            "presented_at": "2026-11-17T08:30:00+01:00",
            "certificate.importer.name": REGISTERED,
            **changes,
        }
    )


# Each kind of shipment, compliant first, then with defects the law holds or refuses.
SHIPMENTS = {
    "EU import": [
        eu_import(),
        eu_import(**{"containers.0.seals_intact": False}),
        eu_import(**{"certificate.issuing_country": "LY", "certificate.number": "LY1"}),
        eu_import(**{"certificate.validating_authority": DELETE}),
        eu_import(**{"certificate.origin": ["RU"]}),
        eu_import(**{"certificate.expires_on": "2026-11-19"}),  # expired when presented
        eu_import(**{"certificate.provenance": "LY"}),  # last exported by a non-participant
        eu_import(**{"certificate.number": "BW123456"}),  # not the issuing country's code
    ],
    "EU export": [
        export_payload(),
        export_payload(destination="LY"),
        without(export_payload(), "lawful_import"),
    ],
    "Norwegian import": [
        norway_import(),
        norway_import(entry_point="BGO"),
        norway_import(**{"certificate.importer.name": "Unregistered Gullsmed AS"}),
    ],
}
PAYLOADS = [p for kind in SHIPMENTS.values() for p in [kind[0], kind[0], *kind]]
"""Compliant ones twice as often, so that more of them go the whole way."""
SERIALS = itertools.count(100000)


def numbered(payload: dict[str, Any], again: bool) -> dict[str, Any]:
    """The payload under a certificate number of its own, or (``again``) the one it was
    written with, which an earlier presentation may have used (issue 22: one certificate,
    one consignment)."""
    if again:
        return payload
    certificate = payload["certificate"]
    prefix = certificate["number"][:2]
    return {**payload, "certificate": {**certificate, "number": f"{prefix}{next(SERIALS)}"}}


ROLES = list(Role)
AUTHORITIES = [frozenset({"BE"}), frozenset({"NO"}), frozenset({"BE", "NO"})]
REASONS = [None, "", "   ", "seal S-991 broken on arrival"]
INPUTS = [
    None,
    {"outcome": "pass"},
    {"outcome": "fail"},
    {"outcome": "maybe"},
    {"weighed_carats": "121.90", "counted_parcels": 2},  # lighter than certified
    {"counted_parcels": 1},  # a parcel missing
    {  # a remedial release, its ground, the remedy and its evidence (Art. 5(2))
        "ground": "caused_by_another_authority",
        "remedy": "the exporting authority resealed the container",
        "remedy_evidence": "its letter ref. 2026/117",
    },
    {"ground": "not_knowing_or_intentional"},  # a ground without its remedy
]


DUTIES = [frozenset(), frozenset({"customs"}), frozenset({"fps_economy"}), None]  # None: all


def actors() -> st.SearchStrategy[Actor]:
    return st.builds(
        lambda role, authorities, duties: Actor(
            f"{role.value}.{'+'.join(sorted(authorities))}", role, authorities, duties
        ),
        st.sampled_from(ROLES),
        st.sampled_from(AUTHORITIES),
        st.sampled_from(DUTIES),
    )


def nothing_stands_on_the_way_out(shipment: Shipment) -> None:
    """Goods that went: every refusal and hold of the record was assessed again and found
    clear, or (a hold only) a decision lifted it with its evidence."""
    events = shipment.events

    def cleared_later(rule: str, later: list[Event]) -> bool:
        assessed = [[f for f in e.findings if f.rule == rule] for e in later]
        assessed = [found for found in assessed if found]
        return bool(assessed) and not any(Outcome(f.outcome).blocks for f in assessed[-1])

    for i, event in enumerate(events):
        lifted = {x["rule"]: x for e in events[i:] for x in e.data.get("lifted", [])}
        for finding in event.findings:
            outcome, rule = Outcome(finding.outcome), finding.rule
            if outcome == Outcome.HOLD and rule in lifted:
                assert all(lifted[rule]["evidence"].values()), (shipment.id, rule)
            elif outcome.blocks:
                assert cleared_later(rule, events[i + 1 :]), (shipment.state, event.action, rule)


def workflow_machine(runtime, connection) -> type[RuleBasedStateMachine]:
    service = runtime.shipments
    with runtime.sessions() as session:
        workflows = {
            code: service.host.jurisdiction(session.get(Authority, code).plugins).workflow
            for code in ("BE", "NO")
        }
    every_action = sorted({a for w in workflows.values() for a in w.actions})

    class Decisions(RuleBasedStateMachine):
        shipments = Bundle("shipments")

        def __init__(self) -> None:
            super().__init__()
            self.savepoint = connection.begin_nested()  # each run starts from the same data
            self.decisions = 0
            with runtime.sessions() as session:
                register_party(
                    session,
                    runtime.plugins,
                    {
                        "authority": "NO",
                        "name": REGISTERED,
                        "address": "Karl Johans gate 31, 0159 Oslo",
                        "phone": "+47 22 42 50 10",
                        "roles": ["importer"],
                        "organisation_number": "923609016",
                    },
                    Actor("admin.no", Role.ADMIN, frozenset({"NO"})),
                )
                session.commit()

        def teardown(self) -> None:
            try:
                if self.decisions:
                    self.check_the_ledger_and_every_history()
            finally:
                self.savepoint.rollback()

        # -- rules -----------------------------------------------------------------------

        @rule(
            target=shipments,
            payload=st.sampled_from(PAYLOADS),
            actor=actors(),
            again=st.sampled_from([False, False, True]),
        )
        def present(self, payload: dict[str, Any], actor: Actor, again: bool) -> Any:
            payload = numbered(payload, again)
            expected = set()
            if not access.may(actor, access.Permission.PRESENT):
                expected.add(Forbidden)
            if not actor.may_act_for(payload["authority"]):
                expected.add(Forbidden)
            before = self.totals()
            with runtime.sessions() as session:
                try:
                    shipment = service.present(session, payload, actor).shipment
                    session.commit()
                except CaratflowError as error:
                    session.rollback()
                    assert type(error) in expected, f"{actor} presenting: {error!r}"
                    assert self.totals() == before, "a refused presentation wrote something"
                    return multiple()
                assert not expected, f"{actor} presented, which {expected} should have stopped"
                assert (shipment.state, shipment.version) == ("presented", 1)
                self.decisions += 1
                return shipment.id

        @rule(
            shipment_id=shipments,
            action=st.sampled_from(every_action),
            actor=actors(),
            reason=st.sampled_from(REASONS),
            inputs=st.sampled_from(INPUTS),
        )
        def act_at_random(
            self,
            shipment_id: int,
            action: str,
            actor: Actor,
            reason: str | None,
            inputs: dict[str, Any] | None,
        ) -> None:
            """Any action, anyone, anything: mostly refusals, each of which must be right."""
            self.act(shipment_id, action, actor, reason, inputs)

        @rule(shipment_id=shipments, data=st.data())
        def act_as_an_office_would(self, shipment_id: int, data: st.DataObject) -> None:
            """An action the shipment's state offers, mostly by someone of its authority and
            mostly with what it asks for: the decisions the law must then judge."""
            with runtime.sessions() as session:
                shipment = session.get(Shipment, shipment_id)
                offered = workflows[shipment.authority_code].available(shipment)
                home = frozenset({shipment.authority_code})
            if not offered:
                return
            transition = data.draw(st.sampled_from(offered), label="transition")
            office = st.sampled_from([Role.OFFICER, Role.SUPERVISOR])
            colleague = st.builds(Actor, st.just("colleague"), office, st.just(home), st.just(None))
            actor = data.draw(st.one_of(colleague, colleague, colleague, actors()), label="actor")
            reason = data.draw(st.sampled_from([REASONS[-1], *REASONS]), label="reason")
            asked = {name: st.sampled_from(values) for name, values in transition.inputs.items()}
            inputs = data.draw(
                st.one_of(st.fixed_dictionaries(asked), st.sampled_from(INPUTS)), label="inputs"
            )
            self.act(shipment_id, transition.action, actor, reason, inputs)

        def act(
            self,
            shipment_id: int,
            action: str,
            actor: Actor,
            reason: str | None,
            inputs: dict[str, Any] | None,
        ) -> None:
            with runtime.sessions() as session:
                shipment = session.get(Shipment, shipment_id)
                state, version, direction = shipment.state, shipment.version, shipment.direction
                workflow = workflows[shipment.authority_code]
                allowed = [t for t in workflow.available(shipment) if t.action == action]
                stoppers = self.what_stops(shipment, allowed, actor, reason, inputs)
            before = self.totals(shipment_id)
            with runtime.sessions() as session:
                try:
                    service.act(session, shipment_id, action, actor, reason=reason, inputs=inputs)
                    session.commit()
                except CaratflowError as error:
                    session.rollback()
                    if stoppers:
                        assert isinstance(error, tuple(stoppers)), (action, state, error, stoppers)
                    elif isinstance(error, RecordForbids | InvalidInput):
                        self.why_no_way_out(workflow, allowed[0], error)
                    else:
                        assert isinstance(error, LawForbids), (action, state, error)
                        clean = allowed[0].requires_clean
                        assert any(
                            f.stops or (clean and f.outcome.blocks) for f in error.findings
                        ), f"'{action}' refused by the law without a finding that stops it"
                    assert self.totals(shipment_id) == before, f"refused '{action}' wrote"
                    return
            assert not stoppers, f"{actor} took '{action}' in '{state}' despite {stoppers}"
            transition = allowed[0]
            self.decisions += 1
            with runtime.sessions() as session:
                shipment = session.get(Shipment, shipment_id)
                event = shipment.events[-1]
                landed = state if transition.dest == STAY else transition.dest
                assert shipment.state == landed, (state, action, shipment.state)
                assert shipment.state in workflow.states
                assert (event.action, event.from_state, event.to_state) == (action, state, landed)
                assert shipment.version == version + 1, "one decision, one version"
                assert len(shipment.events) == before["events"] + 1
                if transition.requires_clean:
                    blocking = [f.rule for f in event.findings if Outcome(f.outcome).blocks]
                    assert not blocking, f"'{action}' needs a clean record, recorded {blocking}"
                if transition.requires_reason:
                    assert event.reason and event.reason.strip()
                assert sealing.find_entry(session, leaves.DECISION, str(event.id)) is not None
                assert shipment.direction == direction
                if workflow.lets_go(transition):
                    nothing_stands_on_the_way_out(shipment)

        # -- the oracle ------------------------------------------------------------------

        @staticmethod
        def why_no_way_out(workflow, transition, error: CaratflowError) -> None:
            """The record stops only a way out: by a refusal or a hold it names, or for
            want of the evidence of the remedy that would lift a hold."""
            assert workflow.lets_go(transition), (transition.action, error)
            if isinstance(error, RecordForbids):
                assert error.findings and all(f.outcome.blocks for f in error.findings)
            else:
                evidence = {"inputs.remedy", "inputs.remedy_evidence"}
                assert {e.field for e in error.errors} <= evidence, error

        @staticmethod
        def what_stops(shipment, allowed, actor, reason, inputs) -> set[type[CaratflowError]]:
            """Every reason the transition table and the role policy give to refuse."""
            stoppers: set[type[CaratflowError]] = set()
            if not actor.may_act_for(shipment.authority_code):
                stoppers.add(NotFound)
            if not access.may(actor, access.Permission.DECIDE):
                stoppers.add(Forbidden)
            if not allowed:
                stoppers.add(ActionNotAvailable)
                return stoppers
            transition = allowed[0]
            if transition.roles is not None and actor.role.value not in transition.roles:
                stoppers.add(Forbidden)
            reserving = workflows[shipment.authority_code].duties_for(transition.action)
            if reserving and not any(actor.holds(d.code) for d in reserving):
                stoppers.add(Forbidden)
            if transition.requires_reason and not (reason or "").strip():
                stoppers.add(ReasonRequired)
            if any((inputs or {}).get(k) not in v for k, v in transition.inputs.items()):
                stoppers.add(InvalidInput)
            facts, declared = facts_of(shipment), service.jurisdiction_of(shipment).fields
            try:  # the inputs its law declares (issue 23): a §11 outcome, an Art. 5(2) ground
                sets = declared.action(transition.action, facts)
                declared.validate(sets, inputs or {}, facts, legal_date(shipment), "inputs.")
            except InvalidInput:
                stoppers.add(InvalidInput)
            return stoppers

        def totals(self, shipment_id: int | None = None) -> dict[str, Any]:
            """What any decision would add to: rows of the shipment's and in total."""
            with runtime.sessions() as session:

                def count(*where) -> int:
                    return session.scalar(select(func.count()).where(*where)) or 0

                totals = {
                    "shipments": count(Shipment.id.is_not(None)),
                    "all events": count(Event.id.is_not(None)),
                    "ledger": count(LedgerEntry.kind.is_not(None)),
                    "deadlines": count(Deadline.id.is_not(None)),
                    "outbox": count(OutboxMessage.id.is_not(None)),
                }
                if shipment_id is not None:
                    shipment = session.get(Shipment, shipment_id)
                    totals |= {
                        "events": count(Event.shipment_id == shipment_id),
                        "version": shipment.version,
                        "state": shipment.state,
                    }
                return totals

        def check_the_ledger_and_every_history(self) -> None:
            sequencer.sequence_once(runtime.sessions, runtime.settings)
            with runtime.sessions() as session:
                report = verification.verify_ledger(
                    session, signing_keys.public_key(runtime.settings)
                )
                assert report.ok, [str(d) for d in report.discrepancies]
                assert report.pending == 0
                for shipment in session.scalars(select(Shipment)):
                    events = shipment.events
                    assert shipment.version == len(events), shipment.id
                    assert shipment.state == events[-1].to_state
                    for earlier, later in itertools.pairwise(events):
                        assert later.from_state == earlier.to_state

    return Decisions


def test_random_decisions_by_random_people_keep_to_the_workflow_and_the_ledger(runtime, connection):
    run_state_machine_as_test(workflow_machine(runtime, connection), settings=STRESS_PROFILE)


# -- the ways out, tried by an office that knows what each action asks for ----------------

REMEDY = INPUTS[-2]
DEFECTS = [
    *SHIPMENTS["EU import"][1:],
    eu_import(**{"certificate.origin": ["RU"], "containers.0.seals_intact": False}),
    eu_import(
        **{
            "certificate.issuing_country": "LY",
            "certificate.number": "LY2",
            "containers.0.seals_intact": False,
        }
    ),
    export_payload(destination="LY"),
    norway_import(entry_point="BGO"),
]
OFFICE = Actor("office", Role.SUPERVISOR, frozenset({"BE", "NO"}), None)


def test_no_shipment_leaves_while_a_finding_of_its_record_forbids_it(runtime, connection):
    """Random defective shipments, random paths through what their states offer, each
    decision taken with a reason and with the remedy's evidence or without it: whatever
    lets the goods go (a release, a remedial release, an export, a plugin's own) does so
    only on a record where nothing forbids it."""
    service = runtime.shipments

    @settings(STRESS_PROFILE, max_examples=30, suppress_health_check=list(HealthCheck))
    @given(payload=st.sampled_from(DEFECTS), data=st.data())
    def ways_out(payload: dict[str, Any], data: st.DataObject) -> None:
        savepoint = connection.begin_nested()
        try:
            with runtime.sessions() as session:
                shipment_id = service.present(session, payload, OFFICE).shipment.id
                session.commit()
            for _ in range(6):
                with runtime.sessions() as session:
                    shipment = session.get(Shipment, shipment_id)
                    workflow = service.jurisdiction_of(shipment).workflow
                    offered = workflow.available(shipment)
                    if not offered:
                        return
                    transition = data.draw(st.sampled_from(offered), label="transition")
                    asked = {k: st.sampled_from(v) for k, v in transition.inputs.items()}
                    inputs = data.draw(
                        st.one_of(st.just(REMEDY), st.fixed_dictionaries(asked)), label="inputs"
                    )
                    try:
                        service.act(
                            session,
                            shipment_id,
                            transition.action,
                            OFFICE,
                            reason=REASONS[-1],
                            inputs=inputs,
                        )
                        session.commit()
                    except CaratflowError:
                        session.rollback()
                        continue
                    if workflow.lets_go(transition):
                        nothing_stands_on_the_way_out(session.get(Shipment, shipment_id))
        finally:
            savepoint.rollback()

    ways_out()
