"""Hook specifications: everything a jurisdiction plugin can contribute to the engine.

Plugins implement these with ``@caratflow.jurisdiction.hookspecs.hookimpl`` and register through the
entry-point group ``caratflow.plugins``. The engine calls hooks only through
``caratflow.pluginhost.PluginHost``, once per plugin when the process starts, handing
each call a ``register`` callback bound to that plugin (so every contribution knows
which jurisdiction it came from and can be enabled per authority).

Evolve a hook by adding arguments; never rename one in place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

import click
import pluggy

if TYPE_CHECKING:
    from caratflow.jurisdiction.clocks import DeadlineRule
    from caratflow.jurisdiction.contributions import AuthorityProfile
    from caratflow.jurisdiction.documents import DocumentType
    from caratflow.jurisdiction.fields import FieldsRegistrar
    from caratflow.jurisdiction.lookups import LookupType
    from caratflow.jurisdiction.notices import Addressee, NoticeRule
    from caratflow.jurisdiction.reports import Report
    from caratflow.jurisdiction.retention import RetentionFacts
    from caratflow.jurisdiction.workflow import WorkflowRegistrar
    from caratflow.law.rules import Rule

PROJECT = "caratflow"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --------------------------------------------------------------------------------------
# Contributions: called once per plugin at start-up; the results are cached for the
# life of the process. Each takes a ``register`` callback instead of returning a list.
# --------------------------------------------------------------------------------------


@hookspec
def caratflow_workflow_extend(register: WorkflowRegistrar) -> None:
    """Add states, transitions and duties to the core shipment workflow.

    Called once per plugin when the plugin host starts. Call ``register.state(...)``
    and ``register.transition(...)``; a transition may use core states and the states
    this plugin adds. ``register.duty(code, name=..., actions=[...])`` reserves actions
    (core ones too) to the people holding that duty, where the law splits an authority's
    decisions between bodies. The contributions apply only to shipments of authorities
    that enable this plugin. Return nothing.
    """


@hookspec
def caratflow_rules_register(register: Callable[[Rule], None]) -> None:
    """Register the plugin's rules (``caratflow.law.Rule``, usually from a ``RuleBook``).

    Called once per plugin at start-up. The engine evaluates a rule for every decision
    on a shipment of an authority that enables the plugin, when the rule's actions,
    goods and directions match and a version of it is in force on the legal date.
    Return nothing.
    """


@hookspec
def caratflow_authorities_register(register: Callable[[AuthorityProfile], None]) -> None:
    """Describe the authorities this jurisdiction knows (``AuthorityProfile``: code,
    country and subdivision, zone, name, entry points, offices, series, duties, source).

    Called once per plugin at start-up. ``caratflow init`` writes the ``default`` ones
    into ``<instance>/authorities.toml`` when a deployment declares none, and offers the
    others (issue 24); the file always wins. Several plugins may name the same authority
    (Belgium: ``eu`` and ``belgium_g7``); their plugin lists are merged. Return nothing.
    """


@hookspec
def caratflow_demo_register(register: Callable[[Mapping[str, Any]], None]) -> None:
    """Offer realistic demo shipments, each a presentation payload as the API accepts it.

    Called by ``caratflow serve --demo`` on an empty database. A payload may carry
    ``"demo_actions": [{"action": "verify"}, {"action": "hold", "reason": "..."}]`` to
    walk it along the workflow after presentation (with ``"inputs"`` where an action
    records choices), and ``"demo_parties": [...]`` to register its importer or exporter
    first. Return nothing.
    """


@hookspec
def caratflow_fields_register(register: FieldsRegistrar) -> None:
    """Declare the typed fields the plugin's law needs (``caratflow.jurisdiction.fields``):
    ``register.presentation(Model, directions=…, goods=…)`` for a presentation,
    ``register.action(action, Model)`` for a decision's inputs, and
    ``register.record(action, Model, title=…)`` for a record added to a shipment after
    presentation (an action whose transition ``amends`` those fields).

    Called once per plugin at start-up. The engine validates what is presented or
    decided against them for authorities that enable the plugin (a 422 naming the field,
    nothing written) and stores their JSON form; the forms, the API schema and the CLI are
    generated from them. Return nothing.
    """


@hookspec
def caratflow_texts_register(register: Callable[[Mapping[str, Mapping[str, str]]], None]) -> None:
    """Give the plugin's message catalogue (``caratflow.jurisdiction.texts``): for each
    message id (a state's or action's name or description, the English text of a declared
    field's label or help, a report's title or column, a document's title, a deadline's
    rule id, or a finding's message with its ``{parameters}``), its text in every language
    of the UI (en, nb, nl, fr, de). Rules write findings with ``Messages`` over the same
    catalogue, so each finding keeps its id and parameters beside its English.

    Called once per plugin at start-up; the pages and the API show the reader's language,
    English where an entry is missing. Return nothing.
    """


# --------------------------------------------------------------------------------------
# Per-record questions: called for one authority's plugins only (those it enables).
# --------------------------------------------------------------------------------------


@hookspec
def caratflow_party_validate(
    authority: str, party: Mapping[str, Any], report: Callable[[str, str], None]
) -> None:
    """Check a party registration against the jurisdiction's own rules (e.g. Norway §7).

    Called before a party (importer/exporter) is registered with ``authority``;
    ``party`` holds the submitted fields. Call ``report(field, message)`` for every
    problem; the registration is refused with all of them. Return nothing.
    """


@hookspec
def caratflow_retention_until(record: RetentionFacts) -> date | None:
    """The first day on which the law no longer requires a shipment's records to be kept.

    Called by ``caratflow purge`` for each finished shipment, with the dates its
    retention periods count from. Return ``None`` when this jurisdiction sets no
    period, or the date, with the legal basis in the plugin's rules.toml. The engine
    keeps a record until the latest date any enabled plugin returns; a record for
    which a period cannot be computed yet (e.g. not cleared by customs) is kept.
    """


# --------------------------------------------------------------------------------------
# Deadlines (issue 4): a contribution like those above, called once per plugin at start-up.
# --------------------------------------------------------------------------------------


@hookspec
def caratflow_deadlines_register(register: Callable[[DeadlineRule], None]) -> None:
    """Declare the legal clocks of the plugin's law (``caratflow.deadlines.DeadlineRule``,
    usually made with ``caratflow.jurisdiction.clocks.declare`` from the plugin's ``RuleBook``).

    Called once per plugin at start-up. Each rule says which decision opens a deadline,
    which meet, cancel, suspend or resume it, its period (in the authority's working-day
    calendar and zone) and its reminders. The engine opens and closes the rows in each
    decision's transaction for authorities that enable the plugin; the scheduler's sweep
    reminds, marks missed and escalates. Return nothing.
    """


# --------------------------------------------------------------------------------------
# Documents (issue 5): a contribution like those above, called once per plugin at start-up.
# --------------------------------------------------------------------------------------


@hookspec
def caratflow_documents_register(register: Callable[[DocumentType], None]) -> None:
    """Declare the documents the plugin's law lets an authority issue
    (``caratflow.records.documents.DocumentType``: wording, numbering, validity, fields).

    Called once per plugin at start-up. A kind starts with the plugin's name
    (``eu.community_certificate``). The engine numbers, renders, signs and seals a
    document when a workflow calls ``runtime.documents.issue``, for authorities that
    enable the plugin; the public check ``/verify/<number>`` shows its status. Return
    nothing.
    """


# --------------------------------------------------------------------------------------
# Reports: a contribution like those above, called once per plugin at start-up.
# --------------------------------------------------------------------------------------


@hookspec
def caratflow_reports_register(register: Callable[[Report], None]) -> None:
    """Declare the periodic reports the plugin's law requires (``caratflow.records.reports.Report``:
    the rule that requires it, its period, its columns and a function building its rows).

    Called once per plugin at start-up. ``caratflow report`` and
    ``GET /api/v1/reports/<name>?period=…`` build a report for an authority that
    enables the plugin, from the shipments presented within the period. Return nothing.
    """


@hookspec
def caratflow_notices_register(register: Callable[[NoticeRule], None]) -> None:
    """Declare the messages the plugin's law makes a decision send to someone else
    (``caratflow.deadlines.notices.NoticeRule``, usually made with ``declare_notice`` from the
    plugin's ``RuleBook``): e.g. the import confirmation of EU Art. 8, Norway's notices
    to customs under §12.

    Called once per plugin at start-up. The engine queues the notices in the outbox in
    the deciding transaction, for authorities that enable the plugin. Return nothing.
    """


@hookspec
def caratflow_addressees_register(register: Callable[[Addressee], None]) -> None:
    """Declare who the plugin's notices go to (``caratflow.jurisdiction.notices.Addressee``:
    the audience, who it is, the article): the Commission, participants' KP authorities,
    customs. Usually read from the plugin's dated data.

    Called once per plugin at start-up. The directory of an authority that enables the
    plugin lists them beside the addresses its administrator gave; ``caratflow doctor``
    names each legal one that has none. Return nothing.
    """


# --------------------------------------------------------------------------------------
# Exchange between authorities (issue 10): a contribution, called once per plugin at start-up.
# --------------------------------------------------------------------------------------


@hookspec
def caratflow_lookups_register(register: Callable[[LookupType], None]) -> None:
    """Declare what another authority's node may ask this one about a record the plugin
    keeps (``caratflow.exchange.lookups.LookupType``): the LAW.md rule it serves, which names the
    look-up; the field naming what is asked about; the ledger kind whose leaf proves the
    record; what else is disclosed of it (e.g. the G7 digital identities).

    Called once per plugin at start-up. The engine answers a look-up, signed, with the
    leaf and its inclusion proof, for authorities that enable the plugin and to peers
    they registered as sending that type; an authority that enables it may also ask its
    peers. Return nothing.
    """


# --------------------------------------------------------------------------------------
# Faces (issue 20): a plugin's own pages, API routes and commands, built with
# ``caratflow.faces``. Called by the face that serves them, for the enabled
# plugins only, so a deployment without the plugin serves none of them.
# --------------------------------------------------------------------------------------


@hookspec
def caratflow_web_extend(register: Callable[..., None]) -> None:
    """Add the plugin's pages and API routes: ``register(blueprint)`` for pages,
    ``register(blueprint, api=True)`` for routes under ``/api/v1`` (they get the API's JSON
    error answers). Describe each API view with ``faces.operation`` and the OpenAPI
    document lists it like a core route.

    Called once by ``caratflow.web.create_app``. Return nothing.
    """


@hookspec
def caratflow_cli_extend(register: Callable[[click.Command], None]) -> None:
    """Add the plugin's commands to ``caratflow`` (``register(command)``; a group for
    several). A command reaches the database and its user through ``faces.cli()``.

    Called when the ``caratflow`` command starts. Return nothing.
    """
