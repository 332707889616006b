"""What stands on a shipment's record, and whether it lets the goods go.

Every decision records the findings of the rules that applied to it. What *stands* is,
for each rule, the latest it said: a decision that assessed the rule again (on a record
completed with evidence, say) replaces what it said before; a rule not assessed again
stands as it was recorded. A transition into a state that lets the goods go
(``State.lets_go``: released, exported, cleared…) fires, whatever the action — a
release, a remedial release, the end of a transit, an appeal, a confirmation by a second
officer, a plugin's own — only when nothing standing forbids it:

- a refusal stands for good: nothing lifts it (a sanction, a non-participant);
- a hold stands until a decision lifts it: the action its plugin declared for that rule
  (``caratflow.law.rules.Lift``, with the article that allows it), taken with the
  evidence the lift names. That decision records under ``lifted`` in its data each hold
  it lifted, the article, the remedy and its evidence, so the record shows why the goods
  could go.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from caratflow.errors import FieldError, InvalidInput
from caratflow.jurisdiction.texts import recorded
from caratflow.law.rules import Finding, Lift, Outcome, RecordForbids, Rule
from caratflow.models import Event, FindingRecord

LIFTED = "lifted"
"""The key of a decision's data under which the engine records what it lifted."""


def standing(events: Iterable[Event], current: Sequence[Finding] = ()) -> dict[str, list[Finding]]:
    """Each rule's latest findings on the record, ``current`` (the decision under way)
    counting as the latest decision."""
    latest: dict[str, list[Finding]] = {}
    for event in events:
        latest.update(_by_rule(_finding(f) for f in event.findings))
    latest.update(_by_rule(current))
    return latest


def lifted(events: Iterable[Event]) -> dict[str, Mapping[str, Any]]:
    """The holds earlier decisions lifted, by rule, with what lifted them."""
    return {e["rule"]: e for event in events for e in (event.data or {}).get(LIFTED, [])}


def clear_to_go(
    rules: Iterable[Rule],
    events: Sequence[Event],
    current: Sequence[Finding],
    action: str,
    inputs: Mapping[str, Any],
    day: date,
) -> list[dict[str, Any]]:
    """What ``action`` lifts, to be recorded with it; raises ``RecordForbids`` naming
    every refusal and unlifted hold that stands, and ``InvalidInput`` naming the evidence
    a lift asks for that the decision does not give."""
    lifts = {(lift.rule, lift.action): lift for rule in rules for lift in rule.lifts}
    done = lifted(events)
    forbidding: list[Finding] = []
    lifting: list[tuple[Lift, list[Finding]]] = []
    for rule_id, findings in standing(events, current).items():
        refusals = [f for f in findings if f.outcome is Outcome.REFUSE]
        holds = [f for f in findings if f.outcome is Outcome.HOLD]
        lift = lifts.get((rule_id, action))
        if refusals:
            forbidding.extend(refusals)
        elif not holds or rule_id in done:
            continue
        elif lift is not None and lift.in_force_on(day):
            lifting.append((lift, holds))
        else:
            forbidding.extend(holds)
    if forbidding:
        raise RecordForbids(action, forbidding)
    asked = {name for lift, _ in lifting for name in lift.evidence}
    missing = sorted(name for name in asked if not inputs.get(name))
    if missing:
        held = ", ".join(f"{lift.rule} ({lift.basis})" for lift, _ in lifting)
        raise InvalidInput(
            [
                FieldError(f"inputs.{name}", f"record the remedy that lifts the hold of {held}")
                for name in missing
            ]
        )
    return [
        {
            **lift.as_dict(),
            "held": [f.message for f in holds],
            "evidence": {name: inputs[name] for name in lift.evidence},
        }
        for lift, holds in lifting
    ]


def _by_rule(findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    grouped: dict[str, list[Finding]] = {}
    for finding in findings:
        grouped.setdefault(finding.rule, []).append(finding)
    return grouped


def _finding(record: FindingRecord) -> Finding:
    return Finding(
        record.rule,
        Outcome(record.outcome),
        record.basis,
        recorded(record.message, record.message_id, record.message_params),
        record.rule_version,
        record.data or {},
    )
