"""The annual report Norges Gullsmedforbund gives Utenriksdepartementet (§3)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from caratflow.jurisdiction.reports import Report, ReportInput
from caratflow.plugins.norway.rules import PARAMETERS, RULES

COUNTED = {
    "store_bonded": "imports stored in the bonded warehouse",
    "control_documents": "document controls",
    "control_identity": "identity controls",
    "control_physical": "physical controls",
    "control_freight_documents": "freight document controls",
    "verify": "permits granted",
    "release": "imports cleared by customs",
    "export": "exports let out",
    "hold": "detentions",
    "resume_control": "detentions lifted to complete the control",
    "refuse": "refusals",
    "lodge_appeal": "appeals lodged",
    "overturn_appeal": "appeals upheld by the ministry in the party's favour",
    "notify_customs_suspicion": "suspicions reported to Tollvesenet",
}


def annual_rows(source: ReportInput) -> Iterator[Mapping[str, Any]]:
    """What the authority did in the year, and the fees it charged for it."""
    directions = Counter(s.direction.value for s in source.shipments)
    yield {"activity": "import shipments presented", "count": directions["import"]}
    yield {"activity": "export shipments presented", "count": directions["export"]}
    decisions = Counter(e.action for s in source.shipments for e in s.events)
    for action, activity in COUNTED.items():
        yield {"activity": activity, "count": decisions[action]}
    fee = Decimal(PARAMETERS.value("control_fee_nok", source.period.start))
    yield {"activity": "control fees charged (NOK)", "count": decisions["verify"] * fee}


REPORTS = (
    Report(
        RULES.version("no.authority.fees"),
        "Annual report to Utenriksdepartementet",
        "year",
        ("activity", "count"),
        annual_rows,
        "norway",
    ),
)
