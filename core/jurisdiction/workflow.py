"""The shipment state machine: core states and transitions plus what plugins contribute.

One ``transitions.Machine`` per workflow definition, built once per process for each
set of enabled plugins; shipments are ORM rows carrying their state and are never
added to the machine (a ``Machine`` per row costs ~270 µs and 8.5 KiB, and
``add_model`` keeps every model alive). The database transaction, not
``transitions``, undoes a state change when something later fails.

A plugin may also split the decisions of an authority between the bodies that share it
(``Duty``): where customs and a Community authority work side by side at one control
point, each action a duty reserves is taken only by the people who hold that duty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from transitions import Machine

from caratflow.errors import ActionNotAvailable
from caratflow.models import Shipment

PRESENTED = "presented"
STAY = "="  # transitions' reflexive destination: the decision is recorded, the state stays


@dataclass(frozen=True)
class State:
    """``lets_go``: the goods leave the authority's control here (released, exported,
    cleared, forwarded): no transition reaches it while a finding of the record forbids it
    (``caratflow.case.standing``), whatever the action."""

    name: str
    terminal: bool = False
    description: str = ""
    plugin: str | None = None
    lets_go: bool = False


@dataclass(frozen=True)
class Transition:
    """An action officers can take, with what it needs before the law allows it.

    ``requires_clean``: refused while any finding holds or refuses (the guard).
    ``requires_reason``: the decision must carry a written ground (detention, refusal,
    remedial release). ``directions`` of ``None`` means every direction; ``roles`` of
    ``None`` means every role that may decide at all. ``inputs`` names the choices the
    decision must record, each with its allowed values (``{"outcome": ("pass", "fail")}``).
    ``amends`` names the fields of the presentation the decision may complete from its
    inputs (evidence asked for earlier): the rules judge the completed record, and it
    is kept only if they let the decision pass.
    """

    action: str
    sources: tuple[str, ...]
    dest: str
    requires_clean: bool = False
    requires_reason: bool = False
    directions: frozenset[str] | None = None
    roles: frozenset[str] | None = None
    inputs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    amends: frozenset[str] = frozenset()
    description: str = ""
    plugin: str | None = None

    def allows(self, shipment: Shipment) -> bool:
        return shipment.state in self.sources and (
            self.directions is None or shipment.direction in self.directions
        )


@dataclass(frozen=True)
class Duty:
    """One body's share of the decisions at an authority (e.g. customs at a control point).

    An action that one or more duties reserve may be taken only by someone holding one of
    them; an action no duty names stays open to every role that may decide.
    """

    code: str
    name: str
    actions: frozenset[str]
    basis: str = ""
    plugin: str | None = None

    @classmethod
    def declared(cls, data: Mapping[str, Any]) -> Duty:
        """A duty an authority declares itself (``authorities.toml``, issue 24)."""
        return cls(data["code"], data["name"], frozenset(data["actions"]), data.get("basis", ""))


CORE_STATES = (
    State(PRESENTED, description="presented with its certificate; not yet verified"),
    State("verified", description="content verified against the certificate"),
    State("held", description="detained: a condition of the law is not met"),
    State("released", terminal=True, description="released into free circulation", lets_go=True),
    State(
        "exported",
        terminal=True,
        description="left under a validated export certificate",
        lets_go=True,
    ),
    State("refused", terminal=True, description="refused; the goods may not pass"),
)

CORE_TRANSITIONS = (
    Transition(
        "verify",
        (PRESENTED,),
        "verified",
        requires_clean=True,
        description="content checked against the certificate; the record is clean",
    ),
    Transition(
        "hold",
        (PRESENTED, "verified"),
        "held",
        requires_reason=True,
        description="detain the consignment",
    ),
    Transition(
        "release",
        ("verified",),
        "released",
        requires_clean=True,
        directions=frozenset({"import", "transit"}),
        description="release the verified consignment",
    ),
    Transition(
        "export",
        ("verified",),
        "exported",
        requires_clean=True,
        directions=frozenset({"export"}),
        description="let the verified consignment leave",
    ),
    Transition(
        "remediate",
        ("held",),
        "released",
        requires_reason=True,
        description="release after remedial action, with the recorded ground",
    ),
    Transition(
        "refuse",
        (PRESENTED, "held"),
        "refused",
        requires_reason=True,
        description="refuse the consignment for good",
    ),
)


@dataclass
class WorkflowRegistrar:
    """Handed to ``caratflow_workflow_extend``: a plugin adds states and transitions."""

    plugin: str
    states: list[State] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    duties: list[Duty] = field(default_factory=list)

    def state(
        self, name: str, *, terminal: bool = False, description: str = "", lets_go: bool = False
    ) -> None:
        self.states.append(State(name, terminal, description, self.plugin, lets_go))

    def duty(self, code: str, *, name: str, actions: Iterable[str], basis: str = "") -> None:
        self.duties.append(Duty(code, name, frozenset(actions), basis, self.plugin))

    def transition(
        self,
        action: str,
        sources: str | Iterable[str],
        dest: str,
        *,
        requires_clean: bool = False,
        requires_reason: bool = False,
        directions: Iterable[str] | None = None,
        roles: Iterable[str] | None = None,
        inputs: Mapping[str, Iterable[str]] | None = None,
        amends: Iterable[str] = (),
        description: str = "",
    ) -> None:
        self.transitions.append(
            Transition(
                action=action,
                sources=(sources,) if isinstance(sources, str) else tuple(sources),
                dest=dest,
                requires_clean=requires_clean,
                requires_reason=requires_reason,
                directions=None if directions is None else frozenset(directions),
                roles=None if roles is None else frozenset(roles),
                inputs={name: tuple(values) for name, values in (inputs or {}).items()},
                amends=frozenset(amends),
                description=description,
                plugin=self.plugin,
            )
        )


class Workflow:
    """States and transitions for one set of plugins, with its single shared machine."""

    def __init__(
        self,
        states: Iterable[State],
        transitions: Iterable[Transition],
        duties: Iterable[Duty] = (),
    ):
        self.states = {s.name: s for s in states}
        self.transitions = list(transitions)
        for t in self.transitions:
            unknown = [s for s in (*t.sources, t.dest) if s not in self.states and s != STAY]
            if unknown:
                raise ValueError(f"transition {t.action!r} names unknown states {unknown}")
        # A duty may name actions another plugin brings (customs transit is the EU's):
        # they are reserved where that plugin is enabled too.
        self.duties = {d.code: d for d in duties}
        self.machine = Machine(
            model=None,
            states=list(self.states),
            initial=None,
            auto_transitions=False,
            model_attribute="state",
            send_event=True,
        )
        for t in self.transitions:
            self.machine.add_transition(
                t.action, list(t.sources), t.dest, conditions=[_direction_is(t.directions)]
            )

    @property
    def actions(self) -> list[str]:
        return list(dict.fromkeys(t.action for t in self.transitions))

    def duties_for(self, action: str) -> list[Duty]:
        """The duties that reserve ``action`` (none: any role that may decide takes it)."""
        return [d for d in self.duties.values() if action in d.actions]

    def lets_go(self, transition: Transition) -> bool:
        """Does ``transition`` let the goods leave (its destination ``lets_go``)?"""
        return transition.dest != STAY and self.states[transition.dest].lets_go

    def available(self, shipment: Shipment) -> list[Transition]:
        return [t for t in self.transitions if t.allows(shipment)]

    def transition_for(self, shipment: Shipment, action: str) -> Transition:
        for t in self.transitions:
            if t.action == action and t.allows(shipment):
                return t
        raise ActionNotAvailable(
            action, shipment.state, [t.action for t in self.available(shipment)]
        )

    def fire(self, shipment: Shipment, action: str) -> None:
        """Move the shipment along ``action``; the caller's transaction makes it durable."""
        self.transition_for(shipment, action)  # explains what is possible instead
        if not self.machine.events[action].trigger(shipment):
            raise RuntimeError(f"machine refused {action!r} that the transition table allows")


def _direction_is(directions: frozenset[str] | None):  # type: ignore[no-untyped-def]
    def condition(event_data) -> bool:  # type: ignore[no-untyped-def]
        return directions is None or event_data.model.direction in directions

    return condition
