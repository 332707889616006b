"""Messages the law makes the authority send, queued in the outbox with the decision.

Some decisions oblige the authority to tell someone else: the import confirmation to
the authority that validated the certificate (EU Art. 8), the permit granted and a
suspected offence to customs (Norway §12). A plugin declares each as a ``NoticeRule``
(hook ``caratflow_notices_register``): which decision sends it, to which audience, with
which text and data. ``send_notices`` — a ``ShipmentService`` observer — queues them in
the decision's own transaction, so a decision and its notices are written together or
not at all, and the outbox delivers them with retries.

A notice that must go out within a period belongs to a deadline instead
(``caratflow.deadlines.DeadlineRule.notices``), whose reminders keep asking for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from caratflow.law import Cites
from caratflow.models import Event, Shipment
from caratflow.outbox import enqueue

if TYPE_CHECKING:
    from caratflow.law import RuleBook, RuleVersion
    from caratflow.pluginhost import Jurisdiction

NOTICE = "notice"  # the outbox kind of every notice


@dataclass(frozen=True)
class Notice:
    """One message to ``audience`` (an outbox audience, e.g. ``customs`` or
    ``kp-authority:CA``, reached at the addresses its administrator configured)."""

    audience: str
    subject: str
    body: str
    data: Mapping[str, Any] = field(default_factory=dict)


NoticeMaker = Callable[[Shipment, Event], Iterable[Notice]]


@dataclass(frozen=True)
class NoticeRule(Cites):
    """The notices a decision sends, declared by a plugin as data with the law behind them.

    ``goods`` and ``directions`` of ``None`` mean "all"; ``when`` narrows further.
    """

    version: RuleVersion
    plugin: str
    sent_by: frozenset[str]
    notices: NoticeMaker
    goods: frozenset[str] | None = None
    directions: frozenset[str] | None = None
    when: Callable[[Shipment, Event], bool] | None = None

    def sends(self, shipment: Shipment, event: Event) -> bool:
        return answers(self, self.sent_by, shipment, event)


class DecisionRule(Protocol):
    """What a notice or a deadline declares about the decisions it answers."""

    version: RuleVersion
    goods: frozenset[str] | None
    directions: frozenset[str] | None
    when: Callable[[Shipment, Event], bool] | None


def answers(rule: DecisionRule, actions: frozenset[str], shipment: Shipment, event: Event) -> bool:
    """Does ``rule`` answer this decision: one of ``actions``, under the law in force on
    its legal date, for these goods and directions, and its own condition?"""
    return (
        event.action in actions
        and rule.version.in_force_on(event.legal_date)
        and (rule.goods is None or shipment.goods in rule.goods)
        and (rule.directions is None or shipment.direction in rule.directions)
        and (rule.when is None or rule.when(shipment, event))
    )


def declare_notice(
    book: RuleBook,
    rule_id: str,
    *,
    sent_by: Iterable[str],
    notices: NoticeMaker,
    goods: Iterable[str] | None = None,
    directions: Iterable[str] | None = None,
    when: Callable[[Shipment, Event], bool] | None = None,
    label: str = "original",
) -> NoticeRule:
    """A ``NoticeRule`` citing the ``[[rule]]`` of ``rules.toml`` that ``book`` reads."""
    return NoticeRule(
        version=book.version(rule_id, label),
        plugin=book.plugin,
        sent_by=frozenset(sent_by),
        notices=notices,
        goods=None if goods is None else frozenset(goods),
        directions=None if directions is None else frozenset(directions),
        when=when,
    )


def send_notices(
    session: Session, shipment: Shipment, event: Event, jurisdiction: Jurisdiction
) -> None:
    """The decision observer (wired in ``Runtime.assemble``): queue what the law says to send."""
    for rule in jurisdiction.notices:
        if rule.sends(shipment, event):
            for notice in rule.notices(shipment, event):
                queue_notice(
                    session,
                    notice,
                    key=f"event:{event.id}:{rule.id}:{notice.audience}",
                    authority=shipment.authority_code,
                    cites=rule.version,
                    at=event.at,
                    shipment_id=shipment.id,
                )


def queue_notice(
    session: Session,
    notice: Notice,
    *,
    key: str,
    authority: str,
    cites: RuleVersion,
    at: datetime,
    shipment_id: int | None = None,
    deadline_id: int | None = None,
) -> int:
    """Queue ``notice`` for delivery, naming the rule and basis that require it; one that
    belongs to a deadline meets it once delivered."""
    return enqueue(
        session,
        key=key,
        authority=authority,
        audience=notice.audience,
        kind=NOTICE,
        subject=notice.subject,
        body=notice.body,
        data={**notice.data, "rule": cites.id, "basis": cites.basis},
        scheduled_for=at,
        shipment_id=shipment_id,
        deadline_id=deadline_id,
        fulfils_deadline=deadline_id is not None,
    )
