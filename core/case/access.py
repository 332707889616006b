"""Who may do what: the role policy the service layer enforces for every caller.

The web hides what a user may not do, but the decision is taken here (and by each
transition's own ``roles``), so an API token, a forged form or the CLI meets the same
rule. Authority isolation is the other half: ``Actor.may_act_for``; where a plugin
splits an authority's decisions between bodies, ``Actor.holds`` the duty is the third.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from caratflow.errors import Forbidden
from caratflow.models import Role

if TYPE_CHECKING:
    from caratflow.jurisdiction.workflow import Transition, Workflow
    from caratflow.models import Shipment


@dataclass(frozen=True)
class Actor:
    """Who acts, in which role, for which authorities and holding which duties
    (``None`` for either: a local administrator, who acts for all and holds all)."""

    name: str
    role: Role
    authorities: frozenset[str] | None
    duties: frozenset[str] | None = frozenset()

    def may_act_for(self, authority_code: str) -> bool:
        return self.authorities is None or authority_code in self.authorities

    def holds(self, duty: str) -> bool:
        return self.duties is None or duty in self.duties


class Permission(StrEnum):
    READ = "read"  # shipments, decisions, parties, reports, the workflow diagrams
    CHECK = "check"  # the completeness pre-check: records nothing
    PRESENT = "present"
    DECIDE = "decide"  # workflow actions, and confirming a colleague's four-eyes request
    REGISTER_PARTIES = "register_parties"
    AUDIT = "audit"  # the security log of the own authorities
    ADMINISTER = "administer"  # users, roles, authorities' settings


_OFFICE = frozenset(
    {
        Permission.READ,
        Permission.CHECK,
        Permission.PRESENT,
        Permission.DECIDE,
        Permission.REGISTER_PARTIES,
    }
)

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.OFFICER: _OFFICE,
    Role.SUPERVISOR: _OFFICE | {Permission.AUDIT},
    Role.AUDITOR: frozenset({Permission.READ, Permission.CHECK, Permission.AUDIT}),
    Role.ADMIN: frozenset(Permission),
}

# The decisions an authority may put under four eyes (DESIGN.md "Web"): a second
# officer confirms a remedial release (Art. 5(2)) or the validation of an export.
FOUR_EYES_ACTIONS = ("remediate", "export")

_WHAT = {
    Permission.READ: "read records",
    Permission.CHECK: "check presentations",
    Permission.PRESENT: "present shipments",
    Permission.DECIDE: "take decisions",
    Permission.REGISTER_PARTIES: "register parties",
    Permission.AUDIT: "read the security log",
    Permission.ADMINISTER: "administer users and authorities",
}


def may(actor: Actor, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[actor.role]


def require(actor: Actor, permission: Permission) -> None:
    """Raise ``Forbidden`` unless the actor's role grants ``permission``."""
    if not may(actor, permission):
        raise Forbidden(f"the {actor.role.value} role may not {_WHAT[permission]}")


def why_not(actor: Actor, workflow: Workflow, transition: Transition) -> str | None:
    """Why this actor may not fire this transition (role policy, the transition's own
    roles, the duties that reserve its action), or ``None`` when they may."""
    if not may(actor, Permission.DECIDE):
        return f"the {actor.role.value} role may not {_WHAT[Permission.DECIDE]}"
    if transition.roles is not None and actor.role.value not in transition.roles:
        return f"'{transition.action}' is reserved to: {', '.join(sorted(transition.roles))}"
    duties = workflow.duties_for(transition.action)
    if duties and not any(actor.holds(d.code) for d in duties):
        held = ", ".join(sorted(actor.duties or ())) or "no duty"
        bodies = " or ".join(f"{d.name} ({d.code}; {d.basis})" for d in duties)
        return f"'{transition.action}' is a decision for {bodies}; {actor.name} holds {held}"
    return None


def actions_for(workflow: Workflow, shipment: Shipment, actor: Actor) -> list[Transition]:
    """The transitions this actor may take on the shipment now, one per action."""
    seen: dict[str, Transition] = {}
    if not actor.may_act_for(shipment.authority_code):
        return []
    for transition in workflow.available(shipment):
        if why_not(actor, workflow, transition) is None:
            seen.setdefault(transition.action, transition)
    return list(seen.values())
