"""Rules with their LAW.md id, legal basis and dates in force, and the findings they give.

A jurisdiction keeps its periods, thresholds and lists in dated TOML files
(``parameters/*.toml``) and its rules as small functions registered in a
``RuleBook``. When the law changes, a new dated value or rule version is added and
the old one stays, so a past case can be replayed under the law of its day.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from caratflow.errors import CaratflowError

if TYPE_CHECKING:
    from caratflow.law.registry import Registry
    from caratflow.models import Shipment


from caratflow.law.parameters import read_toml


class Outcome(StrEnum):
    """What a rule says of a case, from harmless to fatal."""

    PASS = "pass"
    INFO = "info"
    WARN = "warn"
    HOLD = "hold"
    REFUSE = "refuse"

    @property
    def blocks(self) -> bool:
        """A hold or refusal stops every transition that needs a clean record."""
        return self in (Outcome.HOLD, Outcome.REFUSE)


@dataclass(frozen=True)
class Verdict:
    """What a rule function returns; the engine adds the rule's id, basis and version."""

    outcome: Outcome
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)


def passed(message: str, **data: Any) -> Verdict:
    return Verdict(Outcome.PASS, message, data)


def info(message: str, **data: Any) -> Verdict:
    return Verdict(Outcome.INFO, message, data)


def warn(message: str, **data: Any) -> Verdict:
    return Verdict(Outcome.WARN, message, data)


def hold(message: str, **data: Any) -> Verdict:
    return Verdict(Outcome.HOLD, message, data)


def refuse(message: str, **data: Any) -> Verdict:
    return Verdict(Outcome.REFUSE, message, data)


@dataclass(frozen=True)
class Finding:
    """One rule's verdict on one case, citing the law and the version in force."""

    rule: str
    outcome: Outcome
    basis: str
    message: str
    version: date
    data: Mapping[str, Any] = field(default_factory=dict)
    guard: bool = False  # a hold or refusal here stops the action itself, clean or not

    @property
    def stops(self) -> bool:
        """Does this finding stop the action it was assessed for, even one needing no
        clean record? (Only a guard rule's hold or refusal does.)"""
        return self.guard and self.outcome.blocks

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "outcome": self.outcome.value,
            "basis": self.basis,
            "message": self.message,
            "version": self.version.isoformat(),
            "data": dict(self.data),
            "message_id": getattr(self.message, "msgid", None),  # issue 23
            "params": getattr(self.message, "params", {}),
        }


@dataclass(frozen=True)
class Case:
    """What a rule sees: the shipment, the action under way and the legal date.

    ``legal_date`` is the date in the authority's zone whose law applies (the
    presentation date, or the date asked for by a replay); ``at`` is the instant of the
    decision itself; ``registry`` answers the questions a rule may ask of stored records
    without the rule touching SQL.
    """

    shipment: Shipment
    action: str
    legal_date: date
    registry: Registry
    at: datetime
    inputs: Mapping[str, Any] = field(default_factory=dict)
    amended: Mapping[str, Any] = field(default_factory=dict)

    @property
    def details(self) -> Mapping[str, Any]:
        """The presentation's extra fields, as the decision under way would complete them
        (``Transition.amends``)."""
        return {**self.shipment.details, **self.amended} if self.amended else self.shipment.details

    @property
    def decision_date(self) -> date:
        """The decision's date in the authority's zone (e.g. the customs clearance date)."""
        return self.shipment.authority.local_date(self.at)


RuleCheck = Callable[[Case], "Verdict | Iterable[Verdict] | None"]


@dataclass(frozen=True)
class RuleVersion:
    """A rule's text in force from ``effective_from`` until the day before ``repealed_on``."""

    id: str
    basis: str
    effective_from: date
    source: str
    repealed_on: date | None = None
    label: str = "original"

    def in_force_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.repealed_on is None or day < self.repealed_on)


@dataclass(frozen=True)
class Lift:
    """A plugin's declaration, citing the article that allows it, that ``action`` lifts a
    hold of its own rule ``rule`` once the decision records ``evidence`` (the names of the
    inputs that state the remedy and what shows it).

    Kept as ``[[lift]]`` data in the plugin's ``rules.toml``. Nothing else lifts a hold;
    nothing at all lifts a refusal (``caratflow.case.standing``)."""

    rule: str
    action: str
    basis: str
    source: str
    effective_from: date
    evidence: tuple[str, ...]
    plugin: str
    repealed_on: date | None = None

    def in_force_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.repealed_on is None or day < self.repealed_on)

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "by": self.action, "basis": self.basis}


class Cites:
    """What the law requires (a rule, a deadline, a notice) answers to the id and basis of
    the version of its rule it is bound to."""

    version: RuleVersion

    @property
    def id(self) -> str:
        return self.version.id

    @property
    def basis(self) -> str:
        return self.version.basis


@dataclass(frozen=True)
class Rule(Cites):
    """A rule function bound to one version of its legal text, with where it applies.

    ``actions``, ``goods`` and ``directions`` of ``None`` mean "all": a rule without
    ``actions`` is re-evaluated at every decision, so each decision records the
    findings that stood when it was taken. A ``guard`` rule states a condition of the
    actions it names: its hold or refusal stops them even where the transition needs
    no clean record (a remedial release without a lawful ground, say).
    """

    version: RuleVersion
    check: RuleCheck
    plugin: str
    actions: frozenset[str] | None = None
    goods: frozenset[str] | None = None
    directions: frozenset[str] | None = None
    guard: bool = False
    lifts: tuple[Lift, ...] = ()  # the actions its plugin declared may lift its holds

    @property
    def summary(self) -> str:
        return (self.check.__doc__ or "").strip().splitlines()[0] if self.check.__doc__ else ""

    def applies(self, case: Case) -> bool:
        shipment = case.shipment
        return (
            self.version.in_force_on(case.legal_date)
            and (self.actions is None or case.action in self.actions)
            and (self.goods is None or shipment.goods in self.goods)
            and (self.directions is None or shipment.direction in self.directions)
        )

    def evaluate(self, case: Case) -> list[Finding]:
        result = self.check(case)
        if result is None:
            return []
        verdicts = [result] if isinstance(result, Verdict) else list(result)
        version = self.version.effective_from
        return [
            Finding(self.id, v.outcome, self.basis, v.message, version, v.data, self.guard)
            for v in verdicts
        ]


class RuleBook:
    """A plugin's rules: functions in code, their basis and dates from ``rules.toml``.

    ``rules.toml`` holds one ``[[rule]]`` table per version of a rule (``id``,
    ``basis``, ``effective_from``, ``source``, optional ``repealed_on`` and ``label``),
    so that the legal metadata is reviewed as data, beside the other parameters. A
    version stays in force until the next version of the same rule takes effect.
    ``[[lift]]`` tables (``rules``, ``action``, ``basis``, ``effective_from``, ``source``,
    ``evidence``, optional ``repealed_on``) say which action lifts which of these rules'
    holds (``Lift``); a lift names only rules of this file.
    """

    def __init__(self, plugin: str, rules_file: Path):
        self.plugin = plugin
        data = read_toml(rules_file)
        entries = sorted(data.get("rule", []), key=lambda e: (e["id"], e["effective_from"]))
        self._versions: dict[tuple[str, str], RuleVersion] = {}
        for entry, following in zip(entries, [*entries[1:], None], strict=True):
            # A later version of the same rule ends the earlier one, unless it was repealed.
            superseded = (
                following["effective_from"]
                if following and following["id"] == entry["id"]
                else None
            )
            version = RuleVersion(
                id=entry["id"],
                basis=entry["basis"],
                effective_from=entry["effective_from"],
                source=entry["source"],
                repealed_on=entry.get("repealed_on", superseded),
                label=entry.get("label", "original"),
            )
            self._versions[(version.id, version.label)] = version
        self._lifts = [lift for entry in data.get("lift", []) for lift in self._lifts_of(entry)]
        self._rules: list[Rule] = []

    def _lifts_of(self, entry: Mapping[str, Any]) -> list[Lift]:
        own = {rule_id for rule_id, _ in self._versions}
        foreign = sorted(set(entry["rules"]) - own)
        if foreign:
            raise ValueError(f"{self.plugin}: a lift names rules not in its rules.toml: {foreign}")
        return [
            Lift(
                rule=rule_id,
                action=entry["action"],
                basis=entry["basis"],
                source=entry["source"],
                effective_from=entry["effective_from"],
                evidence=tuple(entry["evidence"]),
                plugin=self.plugin,
                repealed_on=entry.get("repealed_on"),
            )
            for rule_id in entry["rules"]
        ]

    def rule(
        self,
        rule_id: str,
        *,
        label: str = "original",
        actions: Iterable[str] | None = None,
        goods: Iterable[str] | None = None,
        directions: Iterable[str] | None = None,
        guard: bool = False,
    ) -> Callable[[RuleCheck], Rule]:
        """Decorate a rule function; its legal text must be listed in ``rules.toml``."""
        version = self.version(rule_id, label)

        def decorate(check: RuleCheck) -> Rule:
            bound = Rule(
                version=version,
                check=check,
                plugin=self.plugin,
                actions=_frozen(actions),
                goods=_frozen(goods),
                directions=_frozen(directions),
                guard=guard,
                lifts=tuple(lift for lift in self._lifts if lift.rule == rule_id),
            )
            if guard and actions is None:
                raise ValueError(f"guard rule {rule_id} must name the actions it guards")
            self._rules.append(bound)
            return bound

        return decorate

    def __iter__(self) -> Iterator[Rule]:
        return iter(self._rules)

    @property
    def versions(self) -> list[RuleVersion]:
        return list(self._versions.values())

    def version(self, rule_id: str, label: str = "original") -> RuleVersion:
        """The legal text of ``rule_id`` for whatever cites it: a rule, a deadline, a report."""
        try:
            return self._versions[(rule_id, label)]
        except KeyError:
            raise LookupError(
                f"{self.plugin}: {rule_id!r} ({label}) is not in rules.toml"
            ) from None


def _frozen(values: Iterable[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


class LawForbids(CaratflowError):
    """A rule's finding (hold or refuse) stops a transition that needs a clean record."""

    status = 422

    def __init__(self, action: str, findings: Sequence[Finding]):
        self.action = action
        self.findings = list(findings)
        blocking = [f for f in self.findings if f.outcome.blocks]
        cited = "; ".join(f"{f.rule} ({f.basis}): {f.message}" for f in blocking)
        super().__init__(f"'{action}' is forbidden: {cited}")

    def as_dict(self) -> dict[str, object]:
        return super().as_dict() | {"findings": [f.as_dict() for f in self.findings]}


class RecordForbids(LawForbids):
    """Findings standing on the shipment's record forbid an action that lets the goods
    go: a refusal, or a hold no later decision lifted. Nothing is written."""

    status = 409

    def __init__(self, action: str, standing: Sequence[Finding]):
        self.action = action
        self.findings = list(standing)
        cited = "; ".join(f"{f.rule} ({f.basis}, {f.outcome.value}): {f.message}" for f in standing)
        CaratflowError.__init__(
            self, f"'{action}' would let the goods go while findings stand: {cited}"
        )
