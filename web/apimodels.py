"""The shapes the API v1 answers with, as pydantic models: the OpenAPI document's schemas.

They describe ``caratflow.case.representation`` (the one JSON shape of a shipment and a
decision); the contract tests and schemathesis hold every answer against them. They
allow fields beyond those listed: adding a field is not a breaking change.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from caratflow.deadlines.board import Bucket
from caratflow.faces import Exact, FindingOut, Out
from caratflow.models import Direction, Goods


class HealthOut(Out):
    status: Literal["ok", "degraded"]
    plugins: list[str]
    database: Literal["reachable", "unreachable"]


class PartyOut(Out):
    name: str
    address: str


class CertificateOut(Out):
    number: str
    issuing_country: str
    issuing_authority: str
    validating_authority: str | None
    issued_on: date
    expires_on: date
    exporter: PartyOut
    importer: PartyOut
    parcels: int
    carats: Exact = Field(description="exact, as a decimal string")
    value_usd: Exact = Field(description="exact, as a decimal string")
    hs_codes: list[str]
    origin: list[str]
    provenance: str


class ContainerOut(Out):
    id: str
    seals: list[str]
    seals_intact: bool


class DeadlineOut(Out):
    """A legal clock kept for the shipment, in the authority's working-day calendar."""

    id: int
    rule: str
    basis: str
    status: str
    due_on: date = Field(description="the legal date, in the authority's zone")
    due_at: datetime = Field(description="the instant the due day ends")


class DeadlineOnBoardOut(DeadlineOut):
    """A deadline on the board: where it stands in its authority's working days."""

    shipment: int
    authority: str
    working_days_left: int = Field(description="negative once overdue")
    bucket: Bucket = Field(description="closed: met, missed and made good, or cancelled")


class DeadlineBoardOut(Out):
    items: list[DeadlineOnBoardOut] = Field(description="soonest first")
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class ShipmentOut(Out):
    id: int
    authority: str
    direction: Direction
    goods: Goods
    state: str
    version: int = Field(description="also the ETag; send it back as If-Match")
    presented_at: datetime
    entry_point: str | None
    certificate: CertificateOut
    containers: list[ContainerOut]
    details: dict[str, Any]
    findings: list[FindingOut] = Field(description="the findings of the latest decision")
    deadlines: list[DeadlineOut]
    available_actions: list[str]


class ShipmentList(Out):
    items: list[ShipmentOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class CheckOut(Out):
    findings: list[FindingOut]
    blocking: bool = Field(description="true if any finding would hold or refuse")


class EventOut(Out):
    id: int
    action: str
    actor: str
    from_state: str | None
    to_state: str
    reason: str | None
    at: datetime
    legal_date: date
    inputs: dict[str, Any]
    findings: list[FindingOut]


class HistoryOut(Out):
    shipment: int
    events: list[EventOut]


class PendingOut(Out):
    id: int
    action: str
    reason: str | None
    requested_by: str
    requested_at: datetime
    status: str


class PendingAnswer(Out):
    """202: the authority wants a second officer to confirm; the request is recorded."""

    pending_decision: PendingOut
    shipment: ShipmentOut


class ReportOut(Out):
    """A statutory report of one authority for one period (``caratflow.records.reports``)."""

    report: str = Field(description="the rule that requires it, e.g. 'eu.report.import_monthly'")
    title: str
    basis: str = Field(description="the article of law that requires it")
    authority: str
    period: str = Field(description="as asked: '2026-11', '2026-Q3' or '2026'")
    from_: date = Field(alias="from", description="the first day, in the authority's calendar")
    until: date = Field(description="the first day after the period")
    columns: list[str]
    rows: list[dict[str, Any]] = Field(description="one object per row, keyed by column")


class SubmissionIn(BaseModel):
    """Which period of a report to send to its recipient; ``authority`` only if you act
    for more than one."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"period": "2026-11", "authority": "BE"}]}
    )

    period: Annotated[str, StringConstraints(max_length=20)]
    authority: Annotated[str, StringConstraints(max_length=10)] | None = None


class SubmissionOut(Out):
    """A report queued for its recipient; its deadline is met once it is delivered."""

    report: str
    authority: str
    period: str
    recipient: str = Field(description="the outbox audience, e.g. 'commission'")
    queued: bool = Field(description="false: this period was submitted before, nothing new")
    rows: int
    deadline: DeadlineOut | None = Field(description="the submission's legal clock, if any")


class ActionIn(BaseModel):
    """The body of an action: the written ground (required to hold, refuse or remediate),
    and the inputs the transition asks for (e.g. ``remedy`` and ``remedy_evidence`` for
    ``remediate``). A verification needs no body; a second officer confirming a four-eyes
    request sends none."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reason": "Seal BW-7732 on container C2 found broken; container resealed",
                    "inputs": {
                        "remedy": "the Botswana authority inspected and resealed container C2",
                        "remedy_evidence": "letter of the Ministry of Minerals, ref. KP-2026-117",
                    },
                }
            ]
        },
    )

    reason: Annotated[str, StringConstraints(max_length=4000)] | None = None
    inputs: dict[Annotated[str, StringConstraints(max_length=60)], Any] = {}


# Request examples (issue 23): each body the API takes, as a client would send it.
SHIPMENT_EXAMPLE: dict[str, Any] = {
    "authority": "NO",
    "direction": "import",
    "goods": "rough",
    "presented_at": "2026-11-17T08:30:00+01:00",
    "entry_point": "OSL",
    "advance_notice": {"received_at": "2026-11-13T14:05:00+01:00", "dispatch_on": "2026-11-16"},
    "certificate": {
        "number": "EC118877",
        "issuing_country": "EU",
        "issuing_authority": "FPS Economy, Diamond Office Antwerp",
        "validating_authority": "FPS Economy, Diamond Office Antwerp",
        "issued_on": "2026-11-12",
        "expires_on": "2027-01-12",
        "exporter": {"name": "Schupstraat Diamonds NV", "address": "Schupstraat 9, Antwerpen"},
        "importer": {"name": "Thune Gullsmed AS", "address": "Karl Johans gate 31, Oslo"},
        "parcels": 1,
        "carats": "58.20",
        "value_usd": "96500.00",
        "hs_codes": ["7102.31"],
        "origin": ["BW", "NA"],
        "provenance": "EU",
    },
    "containers": [{"id": "C1", "seals": ["S-991"], "seals_intact": True}],
}
ACTION_EXAMPLE: dict[str, Any] = {
    "reason": "the exporting authority resealed the parcel after inspection",
    "inputs": {
        "ground": "caused_by_another_authority",
        "remedy": "resealed",
        "remedy_evidence": "letter GSD-2026-114",
    },
}
SUBMISSION_EXAMPLE: dict[str, Any] = {"period": "2026-11", "authority": "BE"}
