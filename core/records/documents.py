"""Documents an authority issues: certificates and certified copies, signed, numbered, logged.

Plugins say which documents exist and what they hold (``caratflow_documents_register``
with a ``DocumentType``: its wording, its numbering from the plugin's data, its validity,
its fields); the engine numbers, renders, signs and seals them, so every jurisdiction's
documents get the same protection:

- a unique number from the authority's assigned range (the plugin's dated data);
- what the document says (its number, dates, signer, fields, issuer and check address)
  in a canonical form, whose SHA-256 a ledger leaf seals in the issuing transaction (the
  public check shows the leaf's inclusion proof);
- a PDF (reportlab) of that form, with a QR code (segno) pointing to the public check
  ``/verify/<number>``, and a detached Ed25519 signature of the PDF's bytes, with the
  ledger's key.

A decision that issues a document seals it and no more (issue 28: rendering was 32-42 %
of a verification's time, inside its transaction); the PDF is rendered after the commit,
by the worker's ``render_pending`` or at the first download (``pdf_of``), from what was
sealed, the same bytes whoever renders it, and cached. An explicit
``runtime.documents.issue(session, shipment, kind, actor)`` renders at once: its caller
asked for the file.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session, sessionmaker

from caratflow.db import unit_of_work
from caratflow.errors import CaratflowError, Conflict, FieldError, Forbidden, InvalidInput, NotFound
from caratflow.ledger import proofs, sealing, sequencer, signing_keys
from caratflow.ledger.signing import (
    canonical_json,
    key_id,
    sign_detached,
    verify_detached,
    verify_rendition,
)
from caratflow.models import (
    Authority,
    DocumentStatus,
    DocumentStatusChange,
    Event,
    IssuedDocument,
    Role,
    Shipment,
)

if TYPE_CHECKING:
    from caratflow.case.access import Actor
    from caratflow.config import Settings
    from caratflow.jurisdiction.contributions import Jurisdiction, Plugins


from caratflow.jurisdiction.documents import (
    DocumentContext,
    DocumentType,
    Field,
    Numbering,
    Wording,
    printed_in,
)
from caratflow.ledger import leaves
from caratflow.records.rendering import FRAME, render_pdf

log = logging.getLogger(__name__)

EXPIRED = "expired"
"""The public status of a valid document past its ``valid_until`` date (never stored)."""


_NUMBER_ATTEMPTS = 5


class DocumentRefused(CaratflowError):
    """The document cannot be issued for this shipment (wrong goods, no range, ...)."""

    status = 422


class DocumentTampered(CaratflowError):
    """The stored document no longer says what its decision sealed; it is not rendered."""

    status = 409


def canonical_form(document: IssuedDocument) -> dict[str, Any]:
    """What a document says, everything its PDF shows: the form its digest seals."""
    return {
        "number": document.number,
        "kind": document.kind,
        "issued_on": document.issued_on,
        "valid_until": document.valid_until,
        "signer": document.key_id,
        "content": document.content,
    }


def digest_of(document: IssuedDocument) -> str:
    """The SHA-256 of the document's canonical form (RFC 8785), as the ledger seals it."""
    return hashlib.sha256(canonical_json(leaves.sealable(canonical_form(document)))).hexdigest()


def pdf_is_genuine(key: Ed25519PublicKey, document: IssuedDocument) -> bool:
    """The cached PDF is this document's: its signature verifies, and it carries the
    document's digest (so a genuine PDF of another document does not pass), which is the
    digest of what the row says. A document of before issue 28 has no digest."""
    if document.digest is None:  # signed within its decision, before issue 28
        return document.pdf is not None and verify_detached(
            key, document.pdf, document.signature or ""
        )
    return document.digest == digest_of(document) and verify_rendition(
        key, document.pdf, document.signature, document.digest
    )


def render_pending(
    sessions: sessionmaker[Session], documents: DocumentService, limit: int = 50
) -> int:
    """Render the PDFs decisions sealed but nobody rendered yet (the worker, after the
    commit), each in a unit of work of its own; say how many. Whoever renders a document
    first, here or at a download, writes the same bytes."""
    with unit_of_work(sessions) as session:
        waiting = session.scalars(
            select(IssuedDocument.id)
            .where(IssuedDocument.pdf.is_(None), IssuedDocument.digest.is_not(None))
            .order_by(IssuedDocument.id)
            .limit(limit)
        ).all()
    rendered = 0
    for document_id in waiting:
        try:
            with unit_of_work(sessions) as session:
                document = session.get(IssuedDocument, document_id)
                if document is not None and document.pdf is None:
                    documents.pdf_of(session, document)
                    rendered += 1
        except DocumentTampered:
            log.exception("document %s is not rendered", document_id)
    return rendered


@dataclass(frozen=True)
class DocumentService:
    """Issues documents and changes their status; wired once in ``Runtime.assemble``."""

    host: Plugins
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
        """Number, seal, render and sign a document of ``kind`` for ``shipment``.

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
        document = self._issue(
            session, shipment, document_type, actor.name, now or datetime.now(UTC)
        )
        self._render(document, signing_keys.signing_key(self.settings))
        return document

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
            numbering = numbering_at(authority, document_type, issued_on)
        except LookupError as error:
            raise DocumentRefused(
                f"no number range for {wording.title} at authority {authority.code}: {error}"
            ) from None
        languages = list(document_type.languages(authority, issued_on))
        printed = printed_in(self.host.texts(), languages)
        content = {
            "title": wording.title,
            "subtitle": wording.subtitle,
            "statement": wording.statement,
            "rule": document_type.rule,
            "basis": document_type.basis,
            "fields": [asdict(f) for f in fields],
            "issuer": {"name": authority.name, "country": authority.country},
        }
        if languages != ["en"]:  # issue 23: printed as Annex IV has it; pages translate
            texts = [wording.title, wording.subtitle, wording.statement, *FRAME]
            texts += [f.label for f in fields]
            content["languages"] = languages
            content["printed"] = {text: printed(text) for text in texts if text}
        signer = key_id(signing_keys.public_key(self.settings))
        for _ in range(_NUMBER_ATTEMPTS):
            serial = _next_serial(session, kind, authority.code, numbering)
            number = numbering.format(serial)
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
                content=content | {"check_url": check_url(self.settings.public_url, number)},
                status=DocumentStatus.VALID,
                key_id=signer,
            )
            document.digest = digest_of(document)
            try:
                with session.begin_nested():  # a concurrent issue may take the same serial
                    session.add(document)
                    session.flush()
            except IntegrityError:
                continue
            sealing.seal_document(session, document)
            return document
        raise Conflict(f"could not number {wording.title}: try again")

    def pdf_of(self, session: Session, document: IssuedDocument) -> bytes:
        """The document's PDF: the cached one while it is genuine (``pdf_is_genuine``),
        else rendered now from what the decision sealed, signed and cached in the
        caller's unit of work. ``DocumentTampered`` when the document no longer says
        what its leaf seals, or when a document of before issue 28 lost its PDF."""
        key = signing_keys.signing_key(self.settings)
        if pdf_is_genuine(key.public_key(), document):
            return document.pdf  # type: ignore[return-value]
        entry = sealing.find_entry(session, leaves.DOCUMENT, document.number)
        sealed = entry.record.get("document_sha256") if entry is not None else None
        if document.digest is None or not sealed == document.digest == digest_of(document):
            raise DocumentTampered(
                f"{document.number} no longer says what its ledger entry seals: not rendered"
            )
        return self._render(document, key)

    def _render(self, document: IssuedDocument, key: Ed25519PrivateKey) -> bytes:
        pdf = render_pdf(canonical_form(document), digest=document.digest or "")
        document.pdf, document.signature = pdf, sign_detached(key, pdf)
        return pdf

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
    sealing.seal_status_change(session, change, document.number)


def _require(
    document_type: DocumentType, wording: Wording, day: date, fields: Sequence[Field]
) -> None:
    shown = {f.key for f in fields if f.value.strip()}
    missing = [key for key in document_type.required(day) if key not in shown]
    if missing:
        raise DocumentRefused(
            f"{wording.title} must show {', '.join(missing)} ({document_type.basis})"
        )


def numbering_at(authority: Authority, document_type: DocumentType, day: date) -> Numbering:
    """The authority's own series for this kind where it declared one (``authorities.toml``:
    e.g. the EC serials the Commission allocated to its Member State, issue 24), else the
    plugin's dated one; ``LookupError`` when neither has a range for it."""
    declared = (authority.series or {}).get(document_type.kind)
    if declared is not None:
        return Numbering.from_data(declared)
    return document_type.numbering(authority, day)


def _next_serial(session: Session, kind: str, authority: str, numbering: Numbering) -> int:
    """One past the highest serial issued in the range. On PostgreSQL the transaction first
    takes a lock of its own for the range, so concurrent decisions on several nodes wait
    for each other's number instead of colliding until they give up (the failover test saw
    five collisions in a row under four clients); the unique number still settles any race.
    SQLite's writers are one at a time already (BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.blake2b(f"{kind}:{authority}".encode(), digest_size=8).digest()
        session.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest, signed=True))))
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
    pdf_sha256: str = ""  # empty until the PDF is rendered (issue 28)
    document_sha256: str = ""
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
                "document_sha256": self.document_sha256,
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
    if document.pdf is not None and not pdf_is_genuine(key, document):
        problems.append("the document's signature does not verify")
    proof: dict[str, Any] = {}
    entry = sealing.find_entry(session, leaves.DOCUMENT, number)
    if entry is None:
        problems.append("the document is not sealed in the ledger")
    else:
        expected = leaves.leaf_bytes(
            leaves.DOCUMENT, number, entry.logged_at, sealing.document_record(document)
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
        pdf_sha256=hashlib.sha256(document.pdf).hexdigest() if document.pdf else "",
        document_sha256=document.digest or "",
        signature=document.signature or "",
        key_id=document.key_id,
        ledger=proof,
    )


def _ledger_proof(
    session: Session, entry: sealing.SealedEntry, key: Ed25519PublicKey, problems: list[str]
) -> dict[str, Any]:
    head = sequencer.latest_head(session)
    if entry.seq is None or head is None or entry.seq >= head.tree_size:
        return {
            "status": "pending",
            "leaf_hash": entry.leaf_hash.hex(),
            "leaf_data": entry.leaf_data,
            "message": "sealed; its place in the log comes with the next signed tree head",
        }
    answer = proofs.prove_inclusion(session, entry.seq, head, with_data=True).to_dict()
    if not proofs.check_inclusion(key, answer):
        problems.append("the ledger's inclusion proof does not verify")
        return {"status": "failed", **answer}
    return {"status": "included", **answer}
