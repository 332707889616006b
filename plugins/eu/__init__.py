"""Council Regulation (EC) No 2368/2002: the Kimberley Process in the European Union.

Serves the competent Community authorities (Belgium: FPS Economy at the Antwerp
Diamond Office). Rules are in ``rules.py`` with their legal text in ``rules.toml``;
dated values (KP participants, the Member States) in ``parameters/``; the Community as
one territory (Art. 1) in ``territory.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from caratflow.jurisdiction.clocks import DatedPeriod, DeadlineRule
from caratflow.jurisdiction.contributions import AuthorityProfile
from caratflow.jurisdiction.documents import format_country
from caratflow.jurisdiction.fields import FieldsRegistrar
from caratflow.jurisdiction.hookspecs import hookimpl
from caratflow.jurisdiction.notices import Addressee, NoticeRule
from caratflow.jurisdiction.reports import Report
from caratflow.jurisdiction.retention import RetentionFacts
from caratflow.jurisdiction.workflow import PRESENTED, WorkflowRegistrar
from caratflow.law.rules import Rule
from caratflow.plugins.eu.deadlines import DEADLINES
from caratflow.plugins.eu.documents import caratflow_documents_register  # noqa: F401 - issue 5
from caratflow.plugins.eu.fields import register_fields
from caratflow.plugins.eu.messages import NOTICES, kp_authority
from caratflow.plugins.eu.reports import REPORTS
from caratflow.plugins.eu.rules import PARAMETERS, RULES, TEXTS
from caratflow.plugins.eu.scope import keep_until
from caratflow.plugins.eu.territory import ASSESSED  # noqa: F401 - Art. 1: one territory

HERE = Path(__file__).parent
HOLD_TARGET = DatedPeriod(PARAMETERS, "hold_target")  # issue 26: held too long, a service target
IN_TRANSIT = "in_customs_transit"


@hookimpl
def caratflow_workflow_extend(register: WorkflowRegistrar) -> None:
    register.state(
        IN_TRANSIT, description="under customs transit; verification suspended (Art. 4(3))"
    )
    register.state(
        "certificate_returned",
        terminal=True,
        description="the Community certificate went back unused; the goods did not leave",
    )
    register.transition(
        "place_under_transit",
        PRESENTED,
        IN_TRANSIT,
        requires_reason=True,
        directions={"import"},
        description="placed under customs transit (give the transit declaration)",
    )
    register.transition(
        "end_transit",
        IN_TRANSIT,
        PRESENTED,
        directions={"import"},
        description="the consignment reached the authority: verification resumes",
    )
    register.transition(
        "return_certificate",
        "verified",
        "certificate_returned",
        requires_reason=True,
        directions={"export"},
        description="the unused Community certificate is returned (Art. 12(5))",
    )


@hookimpl
def caratflow_fields_register(register: FieldsRegistrar) -> None:
    """An export's destination and lawful-import evidence; the ground of Art. 5(2)."""
    register_fields(register)


@hookimpl
def caratflow_rules_register(register: Callable[[Rule], None]) -> None:
    for rule in RULES:
        register(rule)


@hookimpl
def caratflow_authorities_register(register: Callable[[AuthorityProfile], None]) -> None:
    """Annex III: the Member States' Community authorities, as profiles (issue 24)."""
    for profile in PARAMETERS.value("authority_profiles", datetime.now(UTC).date()):
        register(AuthorityProfile.from_data(profile, hold_target=HOLD_TARGET))


@hookimpl
def caratflow_addressees_register(register: Callable[[Addressee], None]) -> None:
    """The Commission, and each participant's KP authority (issue 24)."""
    today = datetime.now(UTC).date()
    entry = PARAMETERS.entry("addressees", today)
    for addressee in entry["value"]:
        register(Addressee(**addressee, source=entry["source"]))
    naming = PARAMETERS.entry("kp_authority_addressee", today)
    for country in PARAMETERS.value("kp_participants", today):
        name = naming["value"]["name"].format(country=format_country(country))
        register(Addressee(kp_authority(country), name, naming["value"]["basis"], naming["source"]))


@hookimpl
def caratflow_demo_register(register: Callable[[Mapping[str, Any]], None]) -> None:
    for payload in json.loads((HERE / "demo.json").read_text("utf-8")):
        register(payload)


# -- deadlines (issue 4) ------------------------------------------------------------------


@hookimpl
def caratflow_deadlines_register(register: Callable[[DeadlineRule], None]) -> None:
    for deadline in DEADLINES:
        register(deadline)


# -- notices to other authorities (Art. 8, KP Annexes I-II) --------------------------------


@hookimpl
def caratflow_notices_register(register: Callable[[NoticeRule], None]) -> None:
    for notice in NOTICES:
        register(notice)


# -- reports ------------------------------------------------------------------------------


@hookimpl
def caratflow_reports_register(register: Callable[[Report], None]) -> None:
    for report in REPORTS:
        register(report)


# -- retention (Arts. 10(2), 12(4), 15(2)) --------------------------------------------------


@hookimpl
def caratflow_retention_until(record: RetentionFacts) -> date | None:
    return keep_until(record)


# -- what a person reads of it, in five languages (issue 23) ---------------------------------


@hookimpl
def caratflow_texts_register(register: Callable[[Mapping[str, Mapping[str, str]]], None]) -> None:
    register(TEXTS)
