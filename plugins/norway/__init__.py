"""FOR-2004-02-24-470: Norway's regulation on the Kimberley Process for rough diamonds.

The controlling authority is Norges Gullsmedforbund; customs is Tollvesenet; appeals
go to Utenriksdepartementet (UD). An import waits in the bonded warehouse at Oslo
Gardermoen (§9) while the controls of §11 are recorded one by one; completing the
control (``verify``) grants the permit of §12 — the certificate is marked controlled and
a copy kept, Tollvesenet is told — and customs clearance (``release``) starts the ten
years of §13. An export's validation and sealing (``verify``) issues the Norwegian KP
certificate (§5, §6); a refusal of either can be appealed to UD. Rules in ``rules.py``,
legal text in ``rules.toml``, dated values in ``parameters/``, documents in
``documents.py``, notices to Tollvesenet in ``messages.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from caratflow.jurisdiction.clocks import DatedPeriod
from caratflow.jurisdiction.contributions import AuthorityProfile
from caratflow.jurisdiction.fields import FieldsRegistrar
from caratflow.jurisdiction.hookspecs import hookimpl
from caratflow.jurisdiction.notices import Addressee, NoticeRule
from caratflow.jurisdiction.reports import Report
from caratflow.jurisdiction.retention import RetentionFacts
from caratflow.jurisdiction.workflow import PRESENTED, STAY, WorkflowRegistrar
from caratflow.law.rules import Rule
from caratflow.plugins.norway.deadlines import advance_notice_in_time  # noqa: F401 - §8
from caratflow.plugins.norway.documents import caratflow_documents_register  # noqa: F401
from caratflow.plugins.norway.fields import RECORD_NOTICE, register_fields
from caratflow.plugins.norway.identity import valid_birth_number, valid_organisation_number
from caratflow.plugins.norway.messages import NOTICES
from caratflow.plugins.norway.reports import REPORTS
from caratflow.plugins.norway.rules import (
    AUTHORITY,
    CLEARANCE,
    PARAMETERS,
    RULES,
    TEXTS,
    keep_until,
)

HERE = Path(__file__).parent
HOLD_TARGET = DatedPeriod(PARAMETERS, "hold_target")  # issue 26: held too long, a service target
BONDED = "bonded"
CONTROLS = {
    "control_documents": "document control: certificate against the advance notice (§11)",
    "control_identity": "identity control: seals, container and markings (§11)",
    "control_physical": "physical control of the diamonds, where there is reason (§11)",
    "control_freight_documents": "control of the freight documents (§11)",
}


@hookimpl
def caratflow_workflow_extend(register: WorkflowRegistrar) -> None:
    register.state(BONDED, description="in the bonded warehouse at Oslo Gardermoen (§9)")
    register.state("appeal_lodged", description="a refusal is appealed (§6, §12)")
    register.state("appeal_forwarded", description="the appeal is with Utenriksdepartementet")
    register.transition(
        "store_bonded",
        PRESENTED,
        BONDED,
        directions={"import"},
        description="goods stored in the bonded warehouse until control and clearance (§9)",
    )
    register.transition(
        "verify",
        BONDED,
        "verified",
        requires_clean=True,
        description="control completed: permit granted, customs told (§12)",
    )
    register.transition(
        "hold", BONDED, "held", requires_reason=True, description="detain the consignment"
    )
    register.transition(
        "refuse", BONDED, "refused", requires_reason=True, description="refuse the consignment"
    )
    for action, description in CONTROLS.items():
        register.transition(
            action,
            [PRESENTED, BONDED],
            STAY,
            requires_reason=action == "control_physical",
            description=description,
        )
    register.transition(
        RECORD_NOTICE,
        [PRESENTED, BONDED],
        STAY,
        amends={"advance_notice"},
        description="record the advance notice of §8 as it reached the authority",
    )
    register.transition(
        "allow_late_registration",
        [PRESENTED, BONDED],
        STAY,
        requires_reason=True,
        roles={"supervisor", "admin"},
        description="allow registration after the shipment (§7)",
    )
    register.transition(
        "resume_control",
        "held",
        PRESENTED,
        requires_reason=True,
        description="the detention is lifted: the control resumes, to end in a permit or a "
        "refusal (customs clears nothing without the permit, §9, §10)",
    )
    register.transition(
        "notify_customs_suspicion",
        [PRESENTED, BONDED, "verified", "held"],
        STAY,
        requires_reason=True,
        roles={"supervisor", "admin"},
        description="tell Tollvesenet of a suspected offence (§12)",
    )
    register.transition(
        "lodge_appeal",
        "refused",
        "appeal_lodged",
        requires_reason=True,
        description="the party appeals the refusal to the ministry",
    )
    register.transition(
        "forward_appeal",
        "appeal_lodged",
        "appeal_forwarded",
        requires_reason=True,
        description="forward the appeal to UD",
    )
    register.transition(
        "uphold_appeal",
        "appeal_forwarded",
        "refused",
        requires_reason=True,
        description="UD upheld the refusal",
    )
    register.transition(
        "overturn_appeal",
        "appeal_forwarded",
        PRESENTED,
        requires_reason=True,
        description="UD overturned the refusal: the shipment is examined again",
    )


@hookimpl
def caratflow_fields_register(register: FieldsRegistrar) -> None:
    """The advance notice (§8) and the outcomes of the controls (§11), typed."""
    register_fields(register)


@hookimpl
def caratflow_texts_register(register: Callable[[Mapping[str, Mapping[str, str]]], None]) -> None:
    """What a person reads of this plugin, in the five languages of the UI."""
    register(TEXTS)


@hookimpl
def caratflow_rules_register(register: Callable[[Rule], None]) -> None:
    for rule in RULES:
        register(rule)


@hookimpl
def caratflow_authorities_register(register: Callable[[AuthorityProfile], None]) -> None:
    """The controlling authority of FOR-2004-02-24-470, as a profile (issue 24)."""
    for profile in PARAMETERS.value("authority_profiles", datetime.now(UTC).date()):
        register(AuthorityProfile.from_data(profile, hold_target=HOLD_TARGET))


@hookimpl
def caratflow_party_validate(
    authority: str, party: Mapping[str, Any], report: Callable[[str, str], None]
) -> None:
    """§7: name, address, phone, and an organisation or birth number, checked."""
    if authority != AUTHORITY:
        return
    organisation, person = party.get("organisation_number"), party.get("national_id")
    if not organisation and not person:
        report("organisation_number", "give the organisation number or the birth number (§7)")
    if organisation and not valid_organisation_number(organisation):
        report(
            "organisation_number",
            f"{organisation} is not a valid Norwegian organisation "
            "number (nine digits, MOD11 check digit)",
        )
    if person and not valid_birth_number(person):
        report(
            "national_id",
            "not a valid Norwegian birth number (eleven digits, two MOD11 check digits)",
        )


@hookimpl
def caratflow_retention_until(record: RetentionFacts) -> date | None:
    """§13: ten years from customs clearance; a refused shipment never cleared counts from
    its final decision (the documents of a refusal matter as much, and for as long)."""
    if record.authority != AUTHORITY:
        return None
    counted_from = record.last(*CLEARANCE) or record.decisions[-1][1]
    return keep_until(counted_from, record.presented_on)


@hookimpl
def caratflow_demo_register(register: Callable[[Mapping[str, Any]], None]) -> None:
    for payload in json.loads((HERE / "demo.json").read_text("utf-8")):
        register(payload)


@hookimpl
def caratflow_notices_register(register: Callable[[NoticeRule], None]) -> None:
    """§12: the permit granted, and a suspected offence, told to Tollvesenet."""
    for notice in NOTICES:
        register(notice)


@hookimpl
def caratflow_addressees_register(register: Callable[[Addressee], None]) -> None:
    """Tollvesenet's clearance offices and its investigators (§12; issue 24)."""
    entry = PARAMETERS.entry("addressees", datetime.now(UTC).date())
    for addressee in entry["value"]:
        register(Addressee(**addressee, source=entry["source"]))


@hookimpl
def caratflow_reports_register(register: Callable[[Report], None]) -> None:
    for report in REPORTS:
        register(report)
