"""Notices as a plugin declares them: the messages a decision makes the authority send, with
the rule that requires them. ``caratflow.deadlines.notices`` queues them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from caratflow.law.rules import Cites
from caratflow.models import Event, Shipment

if TYPE_CHECKING:
    from caratflow.law.rules import RuleBook, RuleVersion


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
class Addressee:
    """Someone the plugin's law makes an authority write to, as its directory lists them
    (issue 24): the audience its notices name (``commission``, ``kp-authority:CA``,
    ``customs``), who that is, and the law behind it. How to reach them (the channel) is
    each deployment's entry; the plugin ships who, not where. ``legal``: a notice to
    them that cannot go is ``undeliverable``, and ``caratflow doctor`` fails until one can."""

    audience: str
    name: str
    basis: str
    source: str = ""
    legal: bool = True


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
