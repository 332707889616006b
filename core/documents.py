"""Documents an authority issues: certificates and certified copies, signed, numbered, logged.

Plugins say which documents exist and what they hold (``caratflow_documents_register``
with a ``DocumentType``: its wording, its numbering from the plugin's data, its validity,
its fields); the engine numbers, renders, signs and seals them, so every jurisdiction's
documents get the same protection:

- a unique number from the authority's assigned range (the plugin's dated data);
- a PDF (reportlab) with the plugin's fields, the issuing authority, the dates, and a QR
  code (segno) pointing to the public check ``/verify/<number>``;
- a detached Ed25519 signature of the PDF's bytes, with the ledger's key;
- a ledger leaf in the issuing transaction, whose inclusion proof the public check
  shows.

Issuing is an explicit call, ``runtime.documents.issue(session, shipment, kind, actor)``,
made by the workflows that need it, in their own unit of work.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pycountry
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from caratflow import ledger
from caratflow.errors import CaratflowError, Conflict, FieldError, Forbidden, InvalidInput, NotFound
from caratflow.models import (
    Authority,
    DocumentStatus,
    DocumentStatusChange,
    Event,
    IssuedDocument,
    Role,
    Shipment,
)
from caratflow.signing import key_id, sign_detached, verify_detached

if TYPE_CHECKING:
    from caratflow.config import Settings
    from caratflow.pluginhost import Jurisdiction, PluginHost
    from caratflow.service import Actor

EXPIRED = "expired"
"""The public status of a valid document past its ``valid_until`` date (never stored)."""

_NUMBER_ATTEMPTS = 5


class DocumentRefused(CaratflowError):
    """The document cannot be issued for this shipment (wrong goods, no range, ...)."""

    status = 422


# ---------------------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Field:
    """One line of a document: a stable key, its printed label and its value as printed.

    ``public`` fields are shown on the public check page; importer and exporter details
    never are.
    """

    key: str
    label: str
    value: str
    public: bool = False


@dataclass(frozen=True)
class Numbering:
    """A range of serial numbers and how they are written: ``EC`` + six digits."""

    prefix: str
    digits: int
    first: int = 1
    last: int | None = None

    def __post_init__(self) -> None:
        last = self.last if self.last is not None else 10**self.digits - 1
        if not (0 < self.digits <= 12 and 0 <= self.first <= last < 10**self.digits):
            raise ValueError(f"invalid numbering {self!r}")

    @property
    def end(self) -> int:
        return self.last if self.last is not None else 10**self.digits - 1

    def format(self, serial: int) -> str:
        return f"{self.prefix}{serial:0{self.digits}d}"

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Numbering:
        """From a plugin's data table: ``{prefix = "EC", digits = 6, first = 1, last = ...}``."""
        return cls(data["prefix"], data["digits"], data.get("first", 1), data.get("last"))


@dataclass(frozen=True)
class DocumentContext:
    """What a plugin's content function sees when a document is issued."""

    shipment: Shipment
    authority: Authority
    issued_on: date
    valid_until: date | None


@dataclass(frozen=True)
class Wording:
    """What a document says above its fields, in force on a date (the plugin's data)."""

    title: str
    statement: str = ""
    subtitle: str = ""

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Wording:
        return cls(data["title"], data.get("statement", ""), data.get("subtitle", ""))


@dataclass(frozen=True)
class DocumentType:
    """A kind of document a plugin's law lets the authority issue.

    ``kind`` starts with the plugin's name (``eu.community_certificate``); ``rule`` and
    ``basis`` cite the law. Each callable answers for the issue date, from the plugin's
    dated data: ``wording`` (title, statement), ``numbering`` (the authority's serial
    range), ``validity`` (the last valid day, ``None`` for no expiry) and ``required``
    (the field keys the law says it must show, e.g. the KP Annex I minimum content,
    checked at every issue). ``refuses`` gives a reason not to issue it for a shipment,
    or ``None``; ``content`` the fields.

    ``issued_by`` names the decisions that issue it, in their own transaction, for every
    shipment it does not refuse (an export's validation issues its certificate);
    ``returned_by`` and ``revoked_by`` the decisions after which a still-valid one is
    returned (e.g. unused, Art. 12(5)) or revoked (the consignment was detained).
    """

    kind: str
    rule: str
    basis: str
    wording: Callable[[date], Wording]
    numbering: Callable[[Authority, date], Numbering]
    content: Callable[[DocumentContext], Sequence[Field]]
    validity: Callable[[date], date | None] = lambda issued_on: None
    refuses: Callable[[Shipment], str | None] = lambda shipment: None
    required: Callable[[date], Sequence[str]] = lambda issued_on: ()
    issued_by: frozenset[str] = frozenset()
    returned_by: frozenset[str] = frozenset()
    revoked_by: frozenset[str] = frozenset()

    @property
    def plugin(self) -> str:
        return self.kind.partition(".")[0]

    def title(self, on: date | None = None) -> str:
        return self.wording(on or date.today()).title


# ---------------------------------------------------------------------------- service


@dataclass(frozen=True)
class DocumentService:
    """Issues documents and changes their status; wired once in ``Runtime.assemble``."""

    host: PluginHost
    settings: Settings

    def types_for(self, authority: Authority) -> dict[str, DocumentType]:
        """The document types of the plugins this authority enables."""
        return self.host.document_types(authority.plugins)

    def issue(
        self,
        session: Session,
        shipment: Shipment,
        kind: str,
        actor: Actor,
        *,
        now: datetime | None = None,
    ) -> IssuedDocument:
        """Number, render, sign and seal a document of ``kind`` for ``shipment``.

        Runs in the caller's unit of work: the document and its ledger entry are written
        together or not at all. Refused (``DocumentRefused``) when the plugin's law does
        not allow it for this shipment or a required field is empty; ``Conflict`` when a
        document of this kind for this shipment is still valid.
        """
        if actor.role == Role.AUDITOR:
            raise Forbidden("the auditor role may not issue documents")
        if not actor.may_act_for(shipment.authority_code):
            raise Forbidden(f"{actor.name} does not act for authority {shipment.authority_code}")
        authority = shipment.authority
        available = self.types_for(authority)
        document_type = available.get(kind)
        if document_type is None:
            raise NotFound(
                f"authority {authority.code} issues no document {kind!r}; it issues: "
                f"{', '.join(sorted(available)) or 'none'}"
            )
        reason = document_type.refuses(shipment)
        if reason:
            raise DocumentRefused(f"{document_type.title()}: {reason}")
        return self._issue(session, shipment, document_type, actor.name, now or datetime.now(UTC))

    def on_decision(
        self, session: Session, shipment: Shipment, event: Event, jurisdiction: Jurisdiction
    ) -> None:
        """The decision observer (wired in ``Runtime.assemble``): issue, return or revoke
        the documents the decision calls for, as part of the decision itself."""
        for document_type in self.host.document_types(jurisdiction.plugins).values():
            if event.action in document_type.issued_by and not document_type.refuses(shipment):
                self._issue(session, shipment, document_type, event.actor, event.at)
            for status, actions in (
                (DocumentStatus.RETURNED, document_type.returned_by),
                (DocumentStatus.REVOKED, document_type.revoked_by),
            ):
                if event.action in actions:
                    for document in valid_documents(session, shipment.id, document_type.kind):
                        reason = f"{event.action}: {event.reason or 'no reason given'}"
                        _change_status(session, document, status, event.actor, reason, event.at)

    def _issue(
        self,
        session: Session,
        shipment: Shipment,
        document_type: DocumentType,
        actor: str,
        moment: datetime,
    ) -> IssuedDocument:
        kind, authority = document_type.kind, shipment.authority
        earlier = session.scalar(
            select(IssuedDocument.number).where(
                IssuedDocument.shipment_id == shipment.id,
                IssuedDocument.kind == kind,
                IssuedDocument.status == DocumentStatus.VALID,
            )
        )
        if earlier is not None:
            raise Conflict(
                f"{earlier} was already issued for shipment {shipment.id}; return or revoke "
                "it before issuing another"
            )
        moment = moment.astimezone(UTC)
        issued_on = authority.local_date(moment)
        valid_until = document_type.validity(issued_on)
        wording = document_type.wording(issued_on)
        context = DocumentContext(shipment, authority, issued_on, valid_until)
        fields = list(document_type.content(context))
        _require(document_type, wording, issued_on, fields)
        try:
            numbering = document_type.numbering(authority, issued_on)
        except LookupError as error:
            raise DocumentRefused(
                f"no number range for {wording.title} at authority {authority.code}: {error}"
            ) from None
        content = {
            "title": wording.title,
            "subtitle": wording.subtitle,
            "statement": wording.statement,
            "rule": document_type.rule,
            "basis": document_type.basis,
            "fields": [asdict(f) for f in fields],
        }
        private_key = ledger.signing_key(self.settings)
        for _ in range(_NUMBER_ATTEMPTS):
            serial = _next_serial(session, kind, authority.code, numbering)
            number = numbering.format(serial)
            pdf = render_pdf(
                number=number,
                content=content,
                authority=authority,
                issued_on=issued_on,
                valid_until=valid_until,
                check_url=check_url(self.settings.public_url, number),
                signer=key_id(private_key.public_key()),
            )
            document = IssuedDocument(
                number=number,
                kind=kind,
                serial=serial,
                authority_code=authority.code,
                shipment_id=shipment.id,
                issued_at=moment,
                issued_on=issued_on,
                valid_until=valid_until,
                actor=actor,
                content=content,
                status=DocumentStatus.VALID,
                pdf=pdf,
                key_id=key_id(private_key.public_key()),
                signature=sign_detached(private_key, pdf),
            )
            try:
                with session.begin_nested():  # a concurrent issue may take the same serial
                    session.add(document)
                    session.flush()
            except IntegrityError:
                continue
            ledger.seal_document(session, document)
            return document
        raise Conflict(f"could not number {wording.title}: try again")

    def change_status(
        self,
        session: Session,
        number: str,
        status: DocumentStatus,
        actor: Actor,
        reason: str,
        *,
        now: datetime | None = None,
    ) -> IssuedDocument:
        """Return or revoke a document, sealing the change (e.g. an unused EU certificate
        returned after two months, LAW.md eu.export.valid_2_months)."""
        if actor.role == Role.AUDITOR:
            raise Forbidden("the auditor role may not change documents")
        document = find_document(session, number)
        if document is None or not actor.may_act_for(document.authority_code):
            raise NotFound(f"no document {number}")
        status = DocumentStatus(status)
        if status == DocumentStatus.VALID:
            raise InvalidInput([FieldError("status", "a document can be returned or revoked")])
        if document.status != DocumentStatus.VALID:
            raise Conflict(f"{number} is already {document.status.value}")
        reason = (reason or "").strip()
        if not reason:
            raise InvalidInput([FieldError("reason", f"say why {number} is {status.value}")])
        _change_status(session, document, status, actor.name, reason, now or datetime.now(UTC))
        return document


def valid_documents(session: Session, shipment_id: int, kind: str) -> list[IssuedDocument]:
    return list(
        session.scalars(
            select(IssuedDocument).where(
                IssuedDocument.shipment_id == shipment_id,
                IssuedDocument.kind == kind,
                IssuedDocument.status == DocumentStatus.VALID,
            )
        )
    )


def valid_number(shipment: Shipment, kind: str) -> str | None:
    """The number of the still-valid document of ``kind`` issued for the shipment, if any:
    what a notice sent with the issuing decision names."""
    session = object_session(shipment)
    found = valid_documents(session, shipment.id, kind) if session is not None else []
    return found[-1].number if found else None


def _change_status(
    session: Session,
    document: IssuedDocument,
    status: DocumentStatus,
    actor: str,
    reason: str,
    at: datetime,
) -> None:
    change = DocumentStatusChange(
        document=document, status=status, at=at, actor=actor, reason=reason
    )
    document.status = status
    session.add(change)
    session.flush()
    ledger.seal_status_change(session, change, document.number)


def _require(
    document_type: DocumentType, wording: Wording, day: date, fields: Sequence[Field]
) -> None:
    shown = {f.key for f in fields if f.value.strip()}
    missing = [key for key in document_type.required(day) if key not in shown]
    if missing:
        raise DocumentRefused(
            f"{wording.title} must show {', '.join(missing)} ({document_type.basis})"
        )


def _next_serial(session: Session, kind: str, authority: str, numbering: Numbering) -> int:
    """One past the highest serial issued in the range; the unique number settles races."""
    highest = session.scalar(
        select(func.max(IssuedDocument.serial)).where(
            IssuedDocument.kind == kind,
            IssuedDocument.authority_code == authority,
            IssuedDocument.serial.between(numbering.first, numbering.end),
        )
    )
    serial = numbering.first if highest is None else highest + 1
    if serial > numbering.end:
        raise DocumentRefused(
            f"the serial range {numbering.format(numbering.first)}-"
            f"{numbering.format(numbering.end)} is used up: a new range must be assigned"
        )
    return serial


def find_document(session: Session, number: str) -> IssuedDocument | None:
    return session.scalar(select(IssuedDocument).where(IssuedDocument.number == number))


def check_url(public_url: str, number: str) -> str:
    """The public check address a document's QR code carries."""
    return f"{public_url.rstrip('/')}/verify/{number}"


def public_status(document: IssuedDocument, today: date) -> str:
    """valid, expired, returned or revoked, as the public check reports it."""
    if document.status != DocumentStatus.VALID:
        return document.status.value
    if document.valid_until is not None and today > document.valid_until:
        return EXPIRED
    return DocumentStatus.VALID.value


# ---------------------------------------------------------------------------- public check


@dataclass(frozen=True)
class DocumentCheck:
    """What anyone may learn about a document number: nothing personal.

    ``genuine`` holds when the document exists, its row still matches its sealed leaf,
    its signature verifies, and its leaf is proven in the latest signed tree head (or
    waits, sealed, for the next one).
    """

    number: str
    genuine: bool
    status: str | None = None
    title: str = ""
    authority: str = ""
    authority_country: str = ""
    issued_on: date | None = None
    valid_until: date | None = None
    fields: list[Field] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    pdf_sha256: str = ""
    signature: str = ""
    key_id: str = ""
    ledger: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        if not self.status:
            return {"number": self.number, "genuine": False, "problems": self.problems}
        return {
            "number": self.number,
            "genuine": self.genuine,
            "status": self.status,
            "document": {
                "title": self.title,
                "issuing_authority": self.authority,
                "issuing_country": self.authority_country,
                "issued_on": self.issued_on.isoformat() if self.issued_on else None,
                "valid_until": self.valid_until.isoformat() if self.valid_until else None,
                "fields": {f.key: {"label": f.label, "value": f.value} for f in self.fields},
            },
            "signature": {
                "algorithm": "Ed25519",
                "key_id": self.key_id,
                "signed": "the PDF file's bytes",
                "pdf_sha256": self.pdf_sha256,
                "value": self.signature,
            },
            "ledger": self.ledger,
            "problems": self.problems,
        }


def check_document(
    session: Session, number: str, key: Ed25519PublicKey, *, today: date | None = None
) -> DocumentCheck:
    """The public check of ``number``: genuine or not, its status and its ledger proof."""
    document = find_document(session, number)
    if document is None:
        return DocumentCheck(
            number, False, problems=[f"no document {number} was issued by this authority"]
        )
    authority = document.authority
    today = today or authority.local_date(datetime.now(UTC))
    problems = []
    if not verify_detached(key, document.pdf, document.signature):
        problems.append("the document's signature does not verify")
    proof: dict[str, Any] = {}
    entry = ledger.find_entry(session, ledger.DOCUMENT, number)
    if entry is None:
        problems.append("the document is not sealed in the ledger")
    else:
        expected = ledger.leaf_bytes(
            ledger.DOCUMENT, number, entry.logged_at, ledger.document_record(document)
        )
        if expected.decode("utf-8") != entry.leaf_data:
            problems.append("the document's record no longer matches its ledger entry")
        proof = _ledger_proof(session, entry, key, problems)
    return DocumentCheck(
        number=number,
        genuine=not problems,
        status=public_status(document, today),
        title=document.content.get("title", ""),
        authority=authority.name,
        authority_country=authority.country,
        issued_on=document.issued_on,
        valid_until=document.valid_until,
        fields=[Field(**f) for f in document.content.get("fields", []) if f.get("public")],
        problems=problems,
        pdf_sha256=hashlib.sha256(document.pdf).hexdigest(),
        signature=document.signature,
        key_id=document.key_id,
        ledger=proof,
    )


def _ledger_proof(
    session: Session, entry: ledger.SealedEntry, key: Ed25519PublicKey, problems: list[str]
) -> dict[str, Any]:
    head = ledger.latest_head(session)
    if entry.seq is None or head is None or entry.seq >= head.tree_size:
        return {
            "status": "pending",
            "leaf_hash": entry.leaf_hash.hex(),
            "leaf_data": entry.leaf_data,
            "message": "sealed; its place in the log comes with the next signed tree head",
        }
    answer = ledger.prove_inclusion(session, entry.seq, head, with_data=True).to_dict()
    if not ledger.check_inclusion(key, answer):
        problems.append("the ledger's inclusion proof does not verify")
        return {"status": "failed", **answer}
    return {"status": "included", **answer}


# ---------------------------------------------------------------------------- content

CERTIFICATE_LABELS = {
    "origin": "Country of origin",
    "provenance": "Country of provenance",
    "destination": "Country of destination",
    "exporter": "Exporter",
    "importer": "Importer",
    "carats": "Carat weight",
    "value_usd": "Value",
    "parcels": "Number of parcels",
    "hs_codes": "HS code(s)",
    "containers": "Containers and seals",
}
"""The printed labels of ``certificate_fields``; a plugin may pass its own (bilingual)."""


def certificate_fields(
    context: DocumentContext, labels: Mapping[str, str] | None = None
) -> list[Field]:
    """The goods and parties of the shipment's certificate as fields, keyed as the model is.

    Origin, provenance, destination (where the shipment names one), weight, parcels,
    HS codes and seals are public (the check page shows them); the parties and the
    value are not.
    """
    label = {**CERTIFICATE_LABELS, **(labels or {})}
    shipment = context.shipment
    cert = shipment.certificate
    origins = [format_country(code) for code in cert.origin]
    if len(origins) == 1:
        origin = origins[0]
    else:
        origin = f"Mixed: {', '.join(origins)}" if origins else "Mixed (not stated)"
    fields = [
        Field("origin", label["origin"], origin, public=True),
        Field("provenance", label["provenance"], format_country(cert.provenance), public=True),
    ]
    if destination := shipment.details.get("destination"):
        fields.append(Field("destination", label["destination"], format_country(destination), True))
    fields += [
        Field("exporter", label["exporter"], f"{cert.exporter_name}\n{cert.exporter_address}"),
        Field("importer", label["importer"], f"{cert.importer_name}\n{cert.importer_address}"),
        Field("carats", label["carats"], format_carats(cert.carats), public=True),
        Field("value_usd", label["value_usd"], format_usd(cert.value_usd)),
        Field("parcels", label["parcels"], str(cert.parcels), public=True),
        Field("hs_codes", label["hs_codes"], ", ".join(cert.hs_codes), public=True),
    ]
    seals = "; ".join(f"{c.label}: {', '.join(c.seals) or 'no seal'}" for c in shipment.containers)
    if seals:
        fields.append(Field("containers", label["containers"], seals, public=True))
    return fields


def format_carats(value: Decimal) -> str:
    return f"{value:,} ct"


def format_usd(value: Decimal) -> str:
    return f"USD {value:,.2f}"


def format_country(code: str | None) -> str:
    """'Canada (CA)': the name a reader knows, and the ISO code Annex I asks for."""
    if not code:
        return ""
    found = pycountry.countries.get(alpha_2=code)
    return f"{found.name} ({code})" if found is not None else code


# ---------------------------------------------------------------------------- rendering


def render_pdf(
    *,
    number: str,
    content: Mapping[str, Any],
    authority: Authority,
    issued_on: date,
    valid_until: date | None,
    check_url: str,
    signer: str,
) -> bytes:
    """An A4 PDF of the document: title, number, statement, fields, dates, QR check.

    Rendered in reportlab's invariant mode, so the same document gives the same bytes.
    """
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    regular, bold = _fonts()
    ink = colors.HexColor("#14213d")
    style = ParagraphStyle("body", fontName=regular, fontSize=9.5, leading=12.5)
    small = ParagraphStyle("small", parent=style, fontSize=8, leading=10.5, textColor=colors.grey)
    label_style = ParagraphStyle("label", parent=style, fontName=bold, textColor=ink)
    title_style = ParagraphStyle(
        "title", parent=style, fontName=bold, fontSize=17, leading=21, textColor=ink
    )

    def cell(text: Any, cell_style: ParagraphStyle = style) -> Paragraph:
        return Paragraph(_escape(str(text)).replace("\n", "<br/>"), cell_style)

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"{content['title']} {number}",
        author=authority.name,
        subject=content.get("basis", ""),
        creator="caratflow",
        invariant=True,
    )
    width = A4[0] - 36 * mm
    heading = Table(
        [
            [
                [cell(content["title"], title_style), cell(content.get("subtitle", ""), style)],
                [cell("No.", small), cell(number, title_style)],
            ]
        ],
        colWidths=[width * 0.68, width * 0.32],
    )
    heading.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, 0), 1.2, ink),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
            ]
        )
    )
    rows = [
        [cell("Issuing authority", label_style), cell(f"{authority.name} ({authority.country})")],
        [cell("Date of issue", label_style), cell(issued_on.isoformat())],
    ]
    if valid_until is not None:
        rows.append([cell("Date of expiry", label_style), cell(valid_until.isoformat())])
    rows += [[cell(f["label"], label_style), cell(f["value"])] for f in content["fields"]]
    body = Table(rows, colWidths=[width * 0.32, width * 0.68])
    body.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.lightgrey),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    validation = (
        f"Issued and validated by {authority.name} ({authority.country}) on "
        f"{issued_on.isoformat()}. Legal basis: {content.get('basis', '')}."
    )
    check = Table(
        [
            [
                _qr_code(check_url, 34 * mm),
                [
                    cell("Check this document", label_style),
                    cell(
                        "Scan the code or open the address below to see whether this document "
                        "is genuine and still valid. No account is needed."
                    ),
                    Spacer(1, 2 * mm),
                    cell(check_url, label_style),
                    Spacer(1, 2 * mm),
                    cell(
                        "This file is signed (Ed25519, detached signature of the PDF bytes; key "
                        f"{signer}) and sealed in the issuing authority's tamper-evident ledger; "
                        "the check page gives the signature and the ledger proof.",
                        small,
                    ),
                ],
            ]
        ],
        colWidths=[40 * mm, width - 40 * mm],
    )
    check.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BOX", (0, 0), (-1, -1), 0.6, ink),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    story = [heading, Spacer(1, 5 * mm)]
    if content.get("statement"):
        story += [cell(content["statement"], style), Spacer(1, 5 * mm)]
    story += [body, Spacer(1, 5 * mm), cell(validation), Spacer(1, 6 * mm), check]
    document.build(story)
    return buffer.getvalue()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
)


@cache
def _fonts() -> tuple[str, str]:
    """DejaVu Sans where the system has it (Latin, Greek, Cyrillic: every EU language and
    most names); otherwise the Vera fonts that ship with reportlab (Latin-1)."""
    from reportlab import rl_config
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    regular_file, bold_file = _FONT_CANDIDATES
    if not (regular_file.exists() and bold_file.exists()):
        folder = Path(rl_config.__file__).parent / "fonts"
        regular_file, bold_file = folder / "Vera.ttf", folder / "VeraBd.ttf"
    pdfmetrics.registerFont(TTFont("caratflow-regular", str(regular_file)))
    pdfmetrics.registerFont(TTFont("caratflow-bold", str(bold_file)))
    return "caratflow-regular", "caratflow-bold"


def _qr_code(data: str, size: float) -> Any:
    """A vector QR code (segno's module matrix drawn as squares): sharp at any zoom."""
    import segno
    from reportlab.platypus import Flowable

    matrix = segno.make(data, error="m", micro=False).matrix
    modules = len(matrix) + 8  # with the quiet zone of four modules on each side
    step = size / modules

    class QrCode(Flowable):  # type: ignore[misc]
        def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
            return size, size

        def draw(self) -> None:
            self.canv.setFillColorRGB(0, 0, 0)
            for row_number, row in enumerate(matrix):
                y = size - (row_number + 5) * step
                for column, dark in enumerate(row):
                    if dark:
                        self.canv.rect((column + 4) * step, y, step, step, stroke=0, fill=1)

    return QrCode()
