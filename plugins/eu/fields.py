"""What Reg. (EC) 2368/2002 asks to be filled in, declared once (``caratflow_fields_register``).

An export's destination and its evidence of lawful import (Art. 12(1)(a), Arts. 6 and 7,
Annex V); an import's Member States (Art. 4(1)), its export date (Art. 7) and mixed
origin (Annex I); a transit's destination and the certificate's statement of transit
(Art. 18); the invoice's warranty (Art. 17); the ground of a remedial release (Art. 5(2))
as a closed choice of the grounds in force on the legal date; and the containers opened
in a verification (Art. 4(5)), required under a risk-based selection. The rules in
``rules.py`` read these fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from caratflow.jurisdiction.fields import (
    Amount,
    Choice,
    Count,
    Country,
    Date,
    Declared,
    FieldsRegistrar,
    Text,
    declared,
    was_list,
    was_yes_no,
)
from caratflow.law.parameters import DatedParameters

PARAMETERS = DatedParameters.in_folder(Path(__file__).parent / "parameters")
ROUGH = {"rough"}
YES_NO = ("yes", "no")
EVIDENCE = ("confirmed_import", "annex_v_declaration", "lawful_presence")


class LawfulImport(Declared):
    """Conclusive evidence that the diamonds were lawfully imported (Art. 12(1)(a))."""

    kind: Choice = declared(
        "Evidence",
        help="Which evidence shows the lawful import",
        rule="eu.export.issue",
        article="Reg. (EC) 2368/2002 Art. 12(1)(a)",
        required_when=True,
        choices=EVIDENCE,
        example="annex_v_declaration",
    )
    certificate: Text = declared(
        "Import certificate",
        help="The certificate under which the diamonds were imported and confirmed here",
        rule="eu.export.issue",
        article="Reg. (EC) 2368/2002 Art. 12(1)(a)",
    )
    reference: Text = declared(
        "Confirmation reference",
        help="The reference of the confirmation of lawful presence",
        rule="eu.certified_stocks",
        article="Reg. (EC) 2368/2002 Arts. 6, 7",
    )
    # Free text, not a closed choice: a declaration by another body is a fact the rule
    # judges (a hold naming it), not a typing error.
    organisation: Text = declared(
        "Organisation",
        help="The Annex V organisation whose member signed the declaration",
        rule="eu.export.wdc_declaration",
        article="Reg. (EC) 2368/2002 Art. 12(1)(a), Annex V",
        example="World Diamond Council",
    )
    member: Text = declared(
        "Signing member",
        rule="eu.export.wdc_declaration",
        article="Reg. (EC) 2368/2002 Annex V",
        example="Schupstraat Diamonds NV",
    )
    signed_on: Date = declared(
        "Signed on", rule="eu.export.wdc_declaration", article="Reg. (EC) 2368/2002 Annex V"
    )


class Export(Declared):
    """An export of rough diamonds (Arts. 11, 12)"""

    destination: Country = declared(
        "Destination country",
        help="The Kimberley Process participant the diamonds are exported to",
        rule="kp.no_non_participants",
        article="Reg. (EC) 2368/2002 Art. 11",
        example="IN",
    )
    lawful_import: LawfulImport = declared(
        "Evidence of lawful import",
        rule="eu.export.issue",
        article="Reg. (EC) 2368/2002 Art. 12(1)(a)",
    )


class Invoice(Declared):
    """The traders' invoices (Art. 17)"""

    @classmethod
    def stored_before(cls, stored: dict[str, Any]) -> dict[str, Any]:
        return was_yes_no(stored, "invoice_warranty")

    invoice_warranty: Choice = declared(
        "Invoice carries the KP warranty",
        help="The invoice carries the warranty statement of the System of Warranties",
        rule="eu.industry.records",
        article="Reg. (EC) 2368/2002 Art. 17(2)(a)(i)",
        choices=YES_NO,
        example="yes",
    )


MIXED = declared(
    "Mixed origin",
    help="The certificate covers diamonds of mixed origin (no single country of origin)",
    rule="kp.certificate.fields",
    article="Reg. (EC) 2368/2002 Annex I",
    choices=YES_NO,
    example="no",
)


class Import(Declared):
    """An import of rough diamonds (Arts. 3, 4, 7)"""

    @classmethod
    def stored_before(cls, stored: dict[str, Any]) -> dict[str, Any]:
        return was_yes_no(stored, "mixed")

    member_state_of_import: Country = declared(
        "Member State of import",
        help="Where the consignment entered the Community",
        rule="eu.present",
        article="Reg. (EC) 2368/2002 Art. 4(1)",
        example="BE",
    )
    member_state_of_destination: Country = declared(
        "Member State of destination",
        help="The Member State the accompanying documents name as destination",
        rule="eu.present",
        article="Reg. (EC) 2368/2002 Art. 4(1)",
        example="BE",
    )
    exported_on: Date = declared(
        "Exported on",
        help="The day the diamonds were exported from the participant, where before 2003",
        rule="eu.pre_application",
        article="Reg. (EC) 2368/2002 Art. 7",
    )
    mixed: Choice = MIXED


class Transit(Declared):
    """A transit through the Community (Art. 18)"""

    @classmethod
    def stored_before(cls, stored: dict[str, Any]) -> dict[str, Any]:
        """``transit_declared`` was the list of what the certificate stated as transit."""
        declared = stored.get("transit_declared")
        if isinstance(declared, list):
            stored = {**stored, "transit_declared": "yes" if "EU" in declared else "no"}
        return was_yes_no(stored, "mixed")

    destination: Country = declared(
        "Destination beyond the Community",
        help="The participant outside the Community the diamonds pass through to",
        rule="eu.transit",
        article="Reg. (EC) 2368/2002 Art. 18",
        example="AE",
    )
    transit_declared: Choice = declared(
        "Certificate states the transit",
        help="The accompanying certificate clearly states transit through the Community",
        rule="eu.transit",
        article="Reg. (EC) 2368/2002 Art. 18",
        choices=YES_NO,
        example="yes",
    )
    mixed: Choice = MIXED


class OpenedContainer(Declared):
    """One container opened for the verification."""

    container: Text = declared(
        "Container",
        help="The container's id as presented",
        rule="eu.verify.method",
        article="Reg. (EC) 2368/2002 Art. 4(5)",
        required_when=True,
        example="C1",
    )


METHOD = declared(
    "Verification method",
    help="Every container opened, or those a risk analysis selected",
    rule="eu.verify.method",
    article="Reg. (EC) 2368/2002 Art. 4(5)",
    choices=lambda day: PARAMETERS.value("verification_methods", day),
    example="every_container",
)
OPENED = declared(
    "Containers opened",
    help="Each container opened: every one under that method, and under a risk-based "
    "selection those the risk analysis selected",
    rule="eu.verify.method",
    article="Reg. (EC) 2368/2002 Art. 4(5)",
    required_when={"method": {"risk_selection"}},
    example=[{"container": "C1"}, {"container": "C2"}],
)


class RemedialRelease(Declared):
    """A release after remedial action (Art. 5(2))"""

    ground: Choice = declared(
        "Ground of the release",
        help="Why the consignment may be released after remedial action",
        rule="eu.remedial_release",
        article="Reg. (EC) 2368/2002 Art. 5(2)",
        required_when=True,
        choices=lambda day: PARAMETERS.value("remedial_release_grounds", day),
        example="not_knowing_or_intentional",
    )
    remedy: Text = declared(
        "Remedial action taken",
        help="What was done so that the conditions of Art. 3 are met",
        rule="eu.remedial_release",
        article="Reg. (EC) 2368/2002 Art. 5(2)",
    )
    remedy_evidence: Text = declared(
        "Evidence of the remedy",
        help="What shows the remedy (a document's reference, a new certificate)",
        rule="eu.remedial_release",
        article="Reg. (EC) 2368/2002 Art. 5(2)",
    )


class Opening(Declared):
    """What a verification under Art. 4(5) records of its method."""

    @classmethod
    def stored_before(cls, stored: dict[str, Any]) -> dict[str, Any]:
        return was_list(stored, "opened", "container")  # the labels, once a plain list


class ImportVerification(Opening):
    """The verification of an import (Art. 4(5))"""

    method: Choice = METHOD
    opened: list[OpenedContainer] = OPENED
    counted_parcels: Count = declared(
        "Parcels counted",
        rule="eu.import.identifies",
        article="Reg. (EC) 2368/2002 Art. 3(c)",
        unit="parcels",
        example=2,
    )
    weighed_carats: Amount = declared(
        "Carats weighed",
        rule="eu.import.identifies",
        article="Reg. (EC) 2368/2002 Art. 3(c)",
        unit="ct",
        example="123.45",
    )


class ExportValidation(Opening):
    """The validation of a Community certificate (Art. 12(2))"""

    method: Choice = METHOD
    opened: list[OpenedContainer] = OPENED
    sealed_under_supervision: Choice = declared(
        "Sealed under supervision",
        help="The containers were sealed under the authority's supervision",
        rule="eu.export.validate",
        article="Reg. (EC) 2368/2002 Art. 12(2)",
        choices=("yes", "no"),
        example="yes",
    )


def register_fields(register: FieldsRegistrar) -> None:
    register.presentation(Export, directions={"export"}, goods=ROUGH)
    register.presentation(Import, directions={"import"}, goods=ROUGH)
    register.presentation(Invoice, directions={"import", "export"}, goods=ROUGH)
    register.presentation(Transit, directions={"transit"}, goods=ROUGH)
    register.action("remediate", RemedialRelease, goods=ROUGH)
    register.action("verify", ImportVerification, directions={"import"}, goods=ROUGH)
    register.action("verify", ExportValidation, directions={"export"}, goods=ROUGH)
