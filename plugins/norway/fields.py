"""What FOR-2004-02-24-470 asks to be filled in, declared once (``caratflow_fields_register``).

The advance notice of §8 (on the set form: when it reached the authority, the day of
dispatch, and what it announces, the reference of the document control of §11), given on
presentation or recorded later with ``record_advance_notice``; and the outcome of each
control step of §11; an export's destination, and for a re-export the certificate of the
import it re-exports (§5).
"""

from __future__ import annotations

from typing import Any

from pydantic import create_model

from caratflow.jurisdiction.fields import (
    Amount,
    Choice,
    Count,
    Country,
    Date,
    Declared,
    FieldsRegistrar,
    Instant,
    Text,
    declared,
    was_yes_no,
)

NOTICE_RULE, NOTICE_ARTICLE = "no.advance_notice", "FOR-2004-02-24-470 §8"
RECORD_NOTICE = "record_advance_notice"


class AdvanceNotice(Declared):
    """The notice on the set form, as it reached the authority."""

    received_at: Instant = declared(
        "Received at",
        help="When the notice reached the authority (the authority's time)",
        rule=NOTICE_RULE,
        article=NOTICE_ARTICLE,
        required_when=True,
        example="2026-11-13T14:05:00+01:00",
    )
    dispatch_on: Date = declared(
        "Dispatch date",
        help="The day the shipment is to be dispatched",
        rule=NOTICE_RULE,
        article=NOTICE_ARTICLE,
        required_when=True,
        example="2026-11-16",
    )
    certificate_number: Text = declared(
        "Certificate number announced", rule="no.control.document", article="§11"
    )
    parcels: Count = declared(
        "Parcels announced", rule="no.control.document", article="§11", unit="parcels"
    )
    carats: Amount = declared(
        "Carats announced", rule="no.control.document", article="§11", unit="ct"
    )
    exporter: Text = declared("Exporter announced", rule="no.control.document", article="§11")
    importer: Text = declared("Importer announced", rule="no.control.document", article="§11")


class NoticeOnPresentation(Declared):
    """The advance notice (§8)"""

    advance_notice: AdvanceNotice = declared(
        "Advance notice",
        help="The notice on the set form, due 1 working day before dispatch",
        rule=NOTICE_RULE,
        article=NOTICE_ARTICLE,
    )


class NoticeRecorded(Declared):
    """The advance notice (§8), arrived after presentation"""

    advance_notice: AdvanceNotice = declared(
        "Advance notice",
        help="The notice on the set form, as it reached the authority",
        rule=NOTICE_RULE,
        article=NOTICE_ARTICLE,
        required_when=True,
    )


class Export(Declared):
    """An export of rough diamonds (§5)"""

    @classmethod
    def stored_before(cls, stored: dict[str, Any]) -> dict[str, Any]:
        return was_yes_no(stored, "reexport")

    destination: Country = declared(
        "Destination country",
        help="Another Kimberley Process participant the diamonds are exported to",
        rule="no.export.conditions",
        article="FOR-2004-02-24-470 §5",
        example="BE",
    )
    reexport: Choice = declared(
        "Re-export",
        help="The diamonds were imported into Norway and are exported again",
        rule="no.reexport.proof",
        article="FOR-2004-02-24-470 §5 second paragraph",
        choices=("yes", "no"),
        example="no",
    )
    import_certificate: Text = declared(
        "Import certificate",
        help="The KP certificate that accompanied the import (for a re-export)",
        rule="no.reexport.proof",
        article="FOR-2004-02-24-470 §5 second paragraph",
        required_when={"reexport": {"yes"}},
        example="CA123456",
    )


def control_outcome(rule: str, what: str) -> type[Declared]:
    """The inputs of one control step of §11: its outcome, and what was seen."""
    outcome = declared(
        "Outcome",
        help=f"The outcome of the {what}",
        rule=rule,
        article="FOR-2004-02-24-470 §11",
        required_when=True,
        choices=("pass", "fail"),
        example="pass",
    )
    remarks = declared("Remarks", help="What was seen, where it matters", rule=rule)
    name = "".join(part.title() for part in what.split()) + "Outcome"
    return create_model(name, __base__=Declared, outcome=(Choice, outcome), remarks=(Text, remarks))


CONTROL_FIELDS = {
    "control_documents": control_outcome("no.control.document", "document control"),
    "control_identity": control_outcome("no.control.identity", "identity control"),
    "control_physical": control_outcome("no.control.physical", "physical control"),
    "control_freight_documents": control_outcome("no.control.freight_docs", "freight control"),
}


def register_fields(register: FieldsRegistrar) -> None:
    register.presentation(NoticeOnPresentation, goods={"rough"})
    register.presentation(Export, directions={"export"}, goods={"rough"})
    register.record(RECORD_NOTICE, NoticeRecorded, title="Advance notice (§8)", goods={"rough"})
    for action, model in CONTROL_FIELDS.items():
        register.action(action, model)
