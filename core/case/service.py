"""The service layer: present a shipment, fire an action, replay a case.

Each method runs inside the caller's unit of work (``caratflow.db.unit_of_work``): it
loads, asks the plugins' rules for findings, moves the state machine, records the
decision with its findings and flushes. The caller commits all of it or none of it.
Methods take a session and never commit one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from caratflow.case import (
    access,
    foureyes,
    history,
    search,  # noqa: F401  (its listener keeps the search text current)
    standing,
)
from caratflow.case.access import Actor
from caratflow.case.schemas import ShipmentIn, parse_shipment
from caratflow.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound, ReasonRequired
from caratflow.inputs import refuse_unstorable
from caratflow.jurisdiction.contributions import Jurisdiction, Plugins, authority_jurisdiction
from caratflow.jurisdiction.workflow import PRESENTED, Transition
from caratflow.law.registry import Registry
from caratflow.law.rules import Case, Finding, LawForbids
from caratflow.models import (
    Authority,
    Certificate,
    Container,
    Event,
    FindingRecord,
    PendingDecision,
    Shipment,
    utcnow,
)
from caratflow.types import jsonable

PRESENT = "present"
# What every decision reads, loaded with the shipment in one query instead of one per
# attribute (a shipment has a few containers: joined, they cost no query of their own).
DECISION_LOAD = (
    joinedload(Shipment.authority),
    joinedload(Shipment.certificate),
    joinedload(Shipment.containers),
)
NOT_ASSESSED = "not assessed"


@dataclass(frozen=True)
class Presentation:
    shipment: Shipment
    created: bool  # False when an Idempotency-Key replayed an earlier presentation


@dataclass(frozen=True)
class ReplayLine:
    """One recorded decision re-assessed under the law of another date."""

    event: Event
    recorded: list[tuple[str, str]]
    replayed: list[Finding]

    @property
    def differences(self) -> list[str]:
        before = dict(self.recorded)
        after = {f.rule: f.outcome.value for f in self.replayed}
        return [
            f"{rule}: {before.get(rule, NOT_ASSESSED)} -> {after.get(rule, NOT_ASSESSED)}"
            for rule in sorted(before.keys() | after.keys())
            if before.get(rule) != after.get(rule)
        ]


DecisionObserver = Callable[[Session, Shipment, Event, Jurisdiction], None]
"""Called in the decision's own transaction after it is recorded (ledger, deadlines)."""


class ShipmentService:
    """``clock`` gives the instant a decision is taken (a scenario replays months of
    traffic on its own clock); every decision reads it once."""

    def __init__(
        self,
        host: Plugins,
        observers: Sequence[DecisionObserver] = (),
        clock: Callable[[], datetime] = utcnow,
    ):
        self.host = host
        self.observers = list(observers)
        self.clock = clock

    # -- reading -----------------------------------------------------------------------

    def get(self, session: Session, shipment_id: int, actor: Actor) -> Shipment:
        """The shipment, if the actor may see it; another authority's is simply not found."""
        shipment = session.get(Shipment, shipment_id, options=DECISION_LOAD)
        if shipment is None or not actor.may_act_for(shipment.authority_code):
            raise NotFound(f"no shipment {shipment_id}")
        return shipment

    def jurisdiction_of(self, shipment: Shipment) -> Jurisdiction:
        return authority_jurisdiction(self.host, shipment.authority)

    def available_actions(self, shipment: Shipment) -> list[str]:
        transitions = self.jurisdiction_of(shipment).workflow.available(shipment)
        return list(dict.fromkeys(t.action for t in transitions))

    # -- presenting --------------------------------------------------------------------

    def check(self, session: Session, payload: Any, actor: Actor) -> list[Finding]:
        """Every finding a presentation would get; nothing is written."""
        parsed = parse_shipment(payload)
        authority = self._authority(session, parsed.authority, actor)
        shipment = self._declared(_build(parsed, authority))
        return self._assess(session, shipment, PRESENT, legal_date(shipment))

    def present(
        self,
        session: Session,
        payload: Any,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> Presentation:
        """Record a presented shipment with the findings of every applicable rule;
        ``LawForbids`` (nothing recorded) when a guard rule of ``present`` refuses it (an
        EU "export" to another Member State is no export at all, say).

        With an ``idempotency_key``, presenting the same payload again returns the
        first shipment; the same key with a different payload is a conflict. A key is
        the account's own, and a replay is answered only to whoever may present (issue
        21: an auditor replaying an officer's key was answered "presented").
        """
        access.require(actor, access.Permission.PRESENT)
        parsed = parse_shipment(payload)
        authority = self._authority(session, parsed.authority, actor)
        digest = _digest(payload)
        if idempotency_key is not None:
            earlier = self._by_idempotency_key(session, authority, actor, idempotency_key, digest)
            if earlier is not None:
                return Presentation(earlier, created=False)

        shipment = self._declared(_build(parsed, authority))
        shipment.idempotency_key, shipment.request_digest = idempotency_key, digest
        shipment.idempotency_owner = actor.name if idempotency_key is not None else None
        day, now = legal_date(shipment), self.clock()
        findings = self._assess(session, shipment, PRESENT, day, at=now)
        if any(f.stops for f in findings):  # a guard of "present": the law knows no such case
            raise LawForbids(PRESENT, findings)
        try:
            with session.begin_nested():
                session.add(shipment)
                self._record(session, shipment, PRESENT, actor, None, None, day, findings, {}, now)
        except IntegrityError:
            if idempotency_key is None:
                raise
            # A concurrent request with the same key won the race: answer as it did.
            earlier = self._by_idempotency_key(session, authority, actor, idempotency_key, digest)
            assert earlier is not None
            return Presentation(earlier, created=False)
        return Presentation(shipment, created=True)

    # -- deciding ----------------------------------------------------------------------

    def act(
        self,
        session: Session,
        shipment_id: int,
        action: str,
        actor: Actor,
        *,
        expected_version: int | None = None,
        reason: str | None = None,
        inputs: Mapping[str, Any] | None = None,
    ) -> Shipment:
        """Fire ``action`` on the shipment if the workflow and the law allow it.

        Raises ``Conflict`` when ``expected_version`` is stale or a concurrent decision
        got there first, ``ActionNotAvailable`` when the state does not allow the
        action, ``LawForbids`` (with the findings) when a rule holds or refuses.
        """
        shipment = self.get(session, shipment_id, actor)
        access.require(actor, access.Permission.DECIDE)
        foureyes.refuse_client_attribution(inputs)
        if expected_version is not None and expected_version != shipment.version:
            raise Conflict(
                f"shipment {shipment_id} is at version {shipment.version}, not {expected_version}; "
                "reload it and decide again"
            )
        workflow = self.jurisdiction_of(shipment).workflow
        transition = workflow.transition_for(shipment, action)
        if refused := access.why_not(actor, workflow, transition):
            raise Forbidden(refused)
        second_look = foureyes.take_open_request(session, shipment, action, actor)
        if second_look is not None:  # confirming a colleague's request: decide what was asked
            reason, inputs = second_look.reason, foureyes.confirmed_inputs(second_look)
        reason = (reason or "").strip() or None
        if transition.requires_reason and reason is None:
            raise ReasonRequired(f"'{action}' needs a written reason")
        inputs = inputs or {}
        _check_inputs(transition, inputs)
        inputs = self._declared_inputs(shipment, action, inputs)
        amended = {name: inputs[name] for name in sorted(transition.amends) if name in inputs}
        day, now = legal_date(shipment), self.clock()
        findings = self._assess(session, shipment, action, day, inputs, now, amended)
        if any(f.stops or (transition.requires_clean and f.outcome.blocks) for f in findings):
            raise LawForbids(action, findings)
        if workflow.lets_go(transition):  # the whole record, not only this decision's rules
            rules = self.jurisdiction_of(shipment).rules
            lifted = standing.clear_to_go(rules, shipment.events, findings, action, inputs, day)
            if lifted:
                inputs = {**inputs, standing.LIFTED: lifted}
        if second_look is None:
            foureyes.refuse_single_officer(session, shipment, action)
        if amended:  # the decision's inputs, sealed with it, show what was completed
            shipment.details = {**shipment.details, **jsonable(amended)}
        from_state = shipment.state
        workflow.fire(shipment, action)
        shipment.updated_at = now  # every decision bumps the version, state change or not
        try:  # the UPDATE carries "WHERE version = <the version we loaded>"
            self._record(
                session, shipment, action, actor, from_state, reason, day, findings, inputs, now
            )
        except StaleDataError:
            raise Conflict(
                f"shipment {shipment_id} was changed by someone else; reload it and decide again"
            ) from None
        return shipment

    def decide(
        self,
        session: Session,
        shipment_id: int,
        action: str,
        actor: Actor,
        *,
        expected_version: int | None = None,
        reason: str | None = None,
        inputs: Mapping[str, Any] | None = None,
    ) -> Shipment | PendingDecision:
        """Take the decision; where the authority wants four eyes, record the request instead.

        The request is recorded only after ``act`` has checked everything else (role,
        version, state, reason, the law), so a second officer confirms a decision that was
        possible when it was asked for.
        """
        refuse_unstorable({"reason": reason, "inputs": dict(inputs or {})})  # whichever face
        try:
            return self.act(
                session,
                shipment_id,
                action,
                actor,
                expected_version=expected_version,
                reason=reason,
                inputs=inputs,
            )
        except foureyes.SecondOfficerRequired:
            shipment = self.get(session, shipment_id, actor)
            return foureyes.record_request(session, shipment, action, actor, reason, inputs)

    def confirm_request(self, session: Session, request_id: int, actor: Actor) -> Shipment:
        """A second officer takes the requested decision, with the requester's reason."""
        request = self._visible_request(session, request_id, actor)
        return self.act(
            session,
            request.shipment_id,
            request.action,
            actor,
            expected_version=request.shipment_version,
            reason=request.reason,
            inputs=request.inputs,
        )

    def withdraw_request(self, session: Session, request_id: int, actor: Actor) -> PendingDecision:
        """The requester (or a supervisor) withdraws an open request."""
        return foureyes.withdraw(session, self._visible_request(session, request_id, actor), actor)

    def _visible_request(self, session: Session, request_id: int, actor: Actor) -> PendingDecision:
        request = foureyes.open_request(session, request_id)
        self.get(session, request.shipment_id, actor)  # another authority's: not found
        return request

    # -- auditing ----------------------------------------------------------------------

    def replay(
        self, session: Session, shipment_id: int, as_of: date, actor: Actor
    ) -> list[ReplayLine]:
        """Re-assess every recorded decision under the law as it stood on ``as_of``."""
        shipment = self.get(session, shipment_id, actor)
        lines = []
        for event in shipment.events:
            replayed = self._assess(session, shipment, event.action, as_of, event.data, event.at)
            recorded = [(f.rule, f.outcome) for f in event.findings]
            lines.append(ReplayLine(event, recorded, replayed))
        return lines

    # -- declared fields (issue 23) ------------------------------------------------------

    def _declared(self, shipment: Shipment) -> Shipment:
        """The presentation's declared fields checked and kept in their typed JSON form."""
        fields = self.jurisdiction_of(shipment).fields
        facts = facts_of(shipment)
        day, details = legal_date(shipment), shipment.details
        details = fields.validate(fields.presentation(facts), details, facts, day, "")
        # Fields of a set that does not apply here (an export's on an import, another
        # authority's law) are typed as the API document describes them, never required.
        applying = set(fields.presentation(facts))
        everywhere = self.host.declared_fields()
        undeclared = sorted(set(details) - everywhere.names(everywhere.presentation_sets()))
        if undeclared:  # no field reaches the record that no plugin declares
            raise InvalidInput(
                [FieldError(name, "is not a field of this presentation") for name in undeclared]
            )
        given = everywhere.given(details)
        elsewhere = [s for s in given if s not in applying]
        shipment.details = fields.validate(elsewhere, details, facts, day, "", applying=False)
        return shipment

    def _declared_inputs(
        self, shipment: Shipment, action: str, inputs: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The decision's declared inputs checked (``inputs.<name>`` when not), typed."""
        fields = self.jurisdiction_of(shipment).fields
        facts = facts_of(shipment)
        return fields.validate(
            fields.action(action, facts), inputs, facts, legal_date(shipment), "inputs."
        )

    # -- internals ---------------------------------------------------------------------

    def _authority(self, session: Session, code: str, actor: Actor) -> Authority:
        authority = session.get(Authority, code)
        if authority is None:
            raise InvalidInput([FieldError("authority", f"unknown authority {code!r}")])
        if not actor.may_act_for(code):
            raise Forbidden(f"{actor.name} does not act for authority {code}")
        return authority

    def _assess(
        self,
        session: Session,
        shipment: Shipment,
        action: str,
        day: date,
        inputs: Mapping[str, Any] | None = None,
        at: datetime | None = None,
        amended: Mapping[str, Any] | None = None,
    ) -> list[Finding]:
        case = Case(
            shipment,
            action,
            day,
            Registry(session),
            at or self.clock(),
            inputs or {},
            amended or {},
        )
        return [
            f
            for rule in self.jurisdiction_of(shipment).rules
            if rule.applies(case)
            for f in rule.evaluate(case)
        ]

    def _record(
        self,
        session: Session,
        shipment: Shipment,
        action: str,
        actor: Actor,
        from_state: str | None,
        reason: str | None,
        day: date,
        findings: Sequence[Finding],
        inputs: Mapping[str, Any] | None,
        at: datetime,
    ) -> Event:
        event = Event(
            shipment=shipment,  # appends to shipment.events only if already loaded
            at=at,
            action=action,
            actor=actor.name,
            from_state=from_state,
            to_state=shipment.state,
            reason=reason,
            legal_date=day,
            data=jsonable(dict(inputs or {})),
        )
        session.add(event)
        session.flush()
        set_committed_value(event, "findings", _insert_findings(session, event, findings))
        if action == PRESENT:
            history.count_presentation(session, shipment)
        else:
            history.count_decision(session, shipment, event)
        jurisdiction = self.jurisdiction_of(shipment)
        for observe in self.observers:
            observe(session, shipment, event, jurisdiction)
        return event

    def _by_idempotency_key(
        self, session: Session, authority: Authority, actor: Actor, key: str, digest: str
    ) -> Shipment | None:
        earlier = session.scalar(
            select(Shipment).where(
                Shipment.authority_code == authority.code,
                Shipment.idempotency_owner == actor.name,
                Shipment.idempotency_key == key,
            )
        )
        if earlier is not None and earlier.request_digest != digest:
            raise Conflict(f"Idempotency-Key {key!r} was already used for a different shipment")
        return earlier


def legal_date(shipment: Shipment) -> date:
    """The presentation date in the authority's own zone: the date whose law applies."""
    return shipment.authority.local_date(shipment.presented_at)


def facts_of(shipment: Shipment) -> dict[str, str]:
    """What a declared field's ``required_when`` is tested against."""
    return {
        "direction": str(shipment.direction),
        "goods": str(shipment.goods),
        "authority": shipment.authority_code,
    }


def latest_findings(shipment: Shipment) -> list[FindingRecord]:
    return list(shipment.events[-1].findings) if shipment.events else []


def _build(parsed: ShipmentIn, authority: Authority) -> Shipment:
    cert = parsed.certificate
    return Shipment(
        authority=authority,
        authority_code=authority.code,
        direction=parsed.direction,
        goods=parsed.goods,
        state=PRESENTED,
        presented_at=parsed.presented_instant(),
        entry_point=parsed.entry_point,
        details=jsonable(parsed.details),
        certificate=Certificate(
            number=cert.number,
            issuing_country=cert.issuing_country,
            issuing_authority=cert.issuing_authority,
            validating_authority=cert.validating_authority,
            issued_on=cert.issued_on,
            expires_on=cert.expires_on,
            exporter_name=cert.exporter.name,
            exporter_address=cert.exporter.address,
            importer_name=cert.importer.name,
            importer_address=cert.importer.address,
            parcels=cert.parcels,
            carats=cert.carats,
            value_usd=cert.value_usd,
            hs_codes=list(cert.hs_codes),
            origin=list(cert.origin),
            provenance=cert.provenance,
        ),
        containers=[
            Container(label=c.id, seals=list(c.seals), seals_intact=c.seals_intact)
            for c in parsed.containers
        ],
    )


def _insert_findings(
    session: Session, event: Event, findings: Sequence[Finding]
) -> list[FindingRecord]:
    """The decision's findings in one INSERT (the ORM's flush sends one per row on SQLite,
    which cannot promise RETURNING's order; issue 28), in the order the rules gave them."""
    if not findings:
        return []
    rows = [
        {
            "event_id": event.id,
            "rule": f.rule,
            "outcome": f.outcome.value,
            "basis": f.basis,
            "message": f.message,
            "rule_version": f.version,
            "data": jsonable(dict(f.data)),
            "message_id": getattr(f.message, "msgid", None),
            "message_params": getattr(f.message, "params", None),
        }
        for f in findings
    ]
    records = session.scalars(insert(FindingRecord).returning(FindingRecord), rows).all()
    return sorted(records, key=lambda record: record.id)


def _check_inputs(transition: Transition, inputs: Mapping[str, Any]) -> None:
    problems = [
        FieldError(f"inputs.{name}", f"choose one of: {', '.join(allowed)}")
        for name, allowed in transition.inputs.items()
        if inputs.get(name) not in allowed
    ]
    if standing.LIFTED in inputs:
        problems.append(FieldError(f"inputs.{standing.LIFTED}", "recorded by caratflow, not given"))
    if problems:
        raise InvalidInput(problems)


def _digest(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
