"""Certificates: declared by the plugins, numbered, rendered, signed and sealed by the engine.

The PDFs are read back with PDFium (``pypdfium2``, the engine of Chromium's viewer) as a
person or another program would see them, and the QR code is decoded from the rendered
page (zxing-cpp) and followed to the public check.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import segno
import zxingcpp
from PIL import Image
from sqlalchemy import select, update

from caratflow.case.access import Actor
from caratflow.db import unit_of_work
from caratflow.errors import Conflict, Forbidden, InvalidInput, NotFound
from caratflow.jurisdiction.documents import DocumentType, Field, Numbering, Wording
from caratflow.jurisdiction.hookspecs import hookimpl
from caratflow.ledger import leaves, sealing, signing_keys, verification
from caratflow.ledger.signing import verify_detached
from caratflow.models import Authority, DocumentStatus, IssuedDocument, Role
from caratflow.pluginhost import load_plugin_host
from caratflow.records.documents import (
    DocumentRefused,
    DocumentService,
    canonical_form,
    check_document,
    digest_of,
    render_pending,
)
from caratflow.records.rendering import QR_MASK, qr_matrix, render_pdf
from caratflow.testing.payloads import shipment_payload

NOON = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
EXPORT = {
    "direction": "export",
    "certificate.number": "BE2026-0001",
    "certificate.issuing_country": "BE",
    "certificate.issuing_authority": "FPS Economy",
    "certificate.exporter": {"name": "Antwerp Rough Traders NV", "address": "Hoveniersstraat 2"},
    "certificate.importer": {"name": "Mumbai Cutting Works Pvt", "address": "Opera House, Mumbai"},
    "destination": "IN",
}


def pdf_text(pdf: bytes, folder: Path) -> str:
    """The text as PDFium reads it, pages and lines joined (titles may wrap)."""
    document = pdfium.PdfDocument(pdf)
    text = " ".join(page.get_textpage().get_text_bounded() for page in document)
    return " ".join(text.split())


def render_pages(pdf: bytes, folder: Path, dpi: int = 150) -> list[Path]:
    """Each page as a PNG, as a viewer shows it."""
    pages = []
    for number, page in enumerate(pdfium.PdfDocument(pdf), start=1):
        path = folder / f"page-{number}.png"
        page.render(scale=dpi / 72).to_pil().save(path)
        pages.append(path)
    return pages


@pytest.fixture
def export(runtime, session, officer) -> Callable[..., object]:
    def present(**changes: object) -> object:
        payload = shipment_payload(**{**EXPORT, **changes})
        return runtime.shipments.present(session, payload, officer).shipment

    return present


# -- the EU Community certificate -------------------------------------------------------


def test_an_export_gets_a_community_certificate_numbered_ec_and_valid_two_months(
    runtime, session, officer, export, tmp_path
):
    first = runtime.documents.issue(
        session, export(), "eu.community_certificate", officer, now=NOON
    )
    second = runtime.documents.issue(
        session, export(), "eu.community_certificate", officer, now=NOON
    )
    assert (first.number, second.number) == ("EC000001", "EC000002")  # Annex IV
    assert first.issued_on == date(2026, 11, 20)
    assert first.valid_until == date(2027, 1, 20)  # Art. 12(5): two months from issue
    text = pdf_text(first.pdf, tmp_path)
    for shown in [
        "Kimberley Process Certificate",
        "have been handled in accordance with the provisions of the",
        "EC000001",
        "FPS Economy, Diamond Office Antwerp (BE)",
        "Date of issue",
        "2026-11-20",
        "Date of expiry",
        "2027-01-20",
        "Country of origin",
        "Canada (CA)",
        "Country of destination",
        "India (IN)",
        "Antwerp Rough Traders NV",
        "Mumbai Cutting Works Pvt",
        "123.45 ct",
        "USD 456,789.00",
        "Number of parcels",
        "7102.10",
        "Issued and validated by FPS Economy",
        "http://127.0.0.1:5000/verify/EC000001",
    ]:
        assert shown in text, shown


def test_two_months_after_the_last_day_of_december_is_the_end_of_february(
    runtime, session, officer, export
):
    late = datetime(2026, 12, 31, 12, 0, tzinfo=UTC)
    document = runtime.documents.issue(
        session, export(), "eu.community_certificate", officer, now=late
    )
    assert document.valid_until == date(2027, 2, 28)
    # Issued at 23:30 UTC on 31 December, it is already 1 January in Brussels.
    night = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    document = runtime.documents.issue(
        session, export(), "eu.community_certificate", officer, now=night
    )
    assert (document.issued_on, document.valid_until) == (date(2027, 1, 1), date(2027, 3, 1))


def test_the_pdf_renders_readably_and_its_qr_code_opens_the_public_check(
    runtime, session, officer, export, client, tmp_path
):
    document = runtime.documents.issue(session, export(), "eu.community_certificate", officer)
    session.commit()
    pages = render_pages(document.pdf, tmp_path)
    assert len(pages) == 1
    image = Image.open(pages[0])
    assert image.size == (1241, 1754)  # A4 at 150 dpi
    (code,) = zxingcpp.read_barcodes(image)
    assert code.text == "http://127.0.0.1:5000/verify/EC000001"
    # issue 28: drawn with the one fixed mask (segno would score all eight and pick 7)
    assert qr_matrix(code.text) == segno.make(code.text, error="m", mask=QR_MASK).matrix
    assert segno.make(code.text, error="m", micro=False).mask != QR_MASK
    page = client.get(code.text.removeprefix("http://127.0.0.1:5000"))
    assert page.status_code == 200
    assert "Genuine" in page.text and "Valid" in page.text and "EC000001" in page.text


def test_the_pdf_carries_a_detached_signature_and_is_sealed(runtime, session, officer, export):
    document = runtime.documents.issue(session, export(), "eu.community_certificate", officer)
    public = signing_keys.signing_key(runtime.settings).public_key()
    assert verify_detached(public, document.pdf, document.signature)
    assert not verify_detached(public, document.pdf + b"\n", document.signature)
    entry = sealing.find_entry(session, leaves.DOCUMENT, "EC000001")
    assert entry.record["document_sha256"] == digest_of(document) == document.digest
    assert "Antwerp Rough" not in entry.leaf_data  # nothing personal
    assert verification.verify_ledger(session, public).ok


def test_the_same_document_renders_to_the_same_bytes(runtime, session, officer, export):
    document = runtime.documents.issue(session, export(), "eu.community_certificate", officer)
    again = render_pdf(canonical_form(document), digest=document.digest)
    assert again == document.pdf


def test_a_community_certificate_is_for_rough_exports_only(runtime, session, officer):
    imported = runtime.shipments.present(session, shipment_payload(), officer).shipment
    with pytest.raises(DocumentRefused, match="export of rough diamonds only"):
        runtime.documents.issue(session, imported, "eu.community_certificate", officer)
    with pytest.raises(
        NotFound, match=r"it issues: belgium_g7\.g7_certificate, eu\.certified_copy"
    ):
        runtime.documents.issue(session, imported, "eu.passport", officer)
    assert session.scalar(select(IssuedDocument.id)) is None


def test_who_may_issue(runtime, session, export):
    shipment = export()
    auditor = Actor("auditor.be", Role.AUDITOR, frozenset({"BE"}))
    norwegian = Actor("officer.no", Role.OFFICER, frozenset({"NO"}))
    with pytest.raises(Forbidden, match="auditor"):
        runtime.documents.issue(session, shipment, "eu.community_certificate", auditor)
    with pytest.raises(Forbidden, match="does not act for authority BE"):
        runtime.documents.issue(session, shipment, "eu.community_certificate", norwegian)


def test_one_valid_document_of_a_kind_per_shipment_until_it_is_returned(
    runtime, session, officer, export, client
):
    shipment = export()
    first = runtime.documents.issue(session, shipment, "eu.community_certificate", officer)
    with pytest.raises(Conflict, match="EC000001 was already issued"):
        runtime.documents.issue(session, shipment, "eu.community_certificate", officer)
    with pytest.raises(InvalidInput, match="reason"):
        runtime.documents.change_status(
            session, first.number, DocumentStatus.RETURNED, officer, " "
        )
    runtime.documents.change_status(
        session, first.number, DocumentStatus.RETURNED, officer, "not exported within two months"
    )
    with pytest.raises(Conflict, match="already returned"):
        runtime.documents.change_status(
            session, first.number, DocumentStatus.REVOKED, officer, "again"
        )
    second = runtime.documents.issue(session, shipment, "eu.community_certificate", officer)
    assert second.number == "EC000002"
    session.commit()
    assert client.get("/verify/EC000001.json").json["status"] == "returned"
    assert client.get("/verify/EC000002.json").json["status"] == "valid"
    assert verification.verify_ledger(
        session, signing_keys.signing_key(runtime.settings).public_key()
    ).ok


def test_a_document_expires_after_its_last_valid_day(runtime, session, officer, export):
    document = runtime.documents.issue(
        session, export(), "eu.community_certificate", officer, now=NOON
    )
    key = signing_keys.signing_key(runtime.settings).public_key()
    on_last_day = check_document(session, document.number, key, today=date(2027, 1, 20))
    after = check_document(session, document.number, key, today=date(2027, 1, 21))
    assert (on_last_day.status, after.status) == ("valid", "expired")
    assert after.genuine  # expired, but genuine: it was issued here


# -- the other documents ----------------------------------------------------------------


def test_confirming_an_import_issues_its_certified_copy(runtime, session, officer, tmp_path):
    imported = runtime.shipments.present(session, shipment_payload(), officer).shipment
    runtime.shipments.act(session, imported.id, "verify", officer)
    [copy] = session.scalars(
        select(IssuedDocument).where(IssuedDocument.shipment_id == imported.id)
    )
    assert (copy.kind, copy.number, copy.valid_until) == ("eu.certified_copy", "BE-CC-000001", None)
    assert copy.actor == officer.name
    # issue 28: the decision sealed what the copy says and rendered nothing
    assert copy.pdf is None and copy.signature is None
    entry = sealing.find_entry(session, leaves.DOCUMENT, copy.number)
    assert entry.record["document_sha256"] == copy.digest == digest_of(copy)
    session.commit()
    assert render_pending(runtime.sessions, runtime.documents) == 1  # the worker, after it
    assert render_pending(runtime.sessions, runtime.documents) == 0
    session.expire_all()
    assert copy.pdf == render_pdf(canonical_form(copy), digest=entry.record["document_sha256"])
    assert copy.digest.encode() in copy.pdf
    public = signing_keys.public_key(runtime.settings)
    assert verify_detached(public, copy.pdf, copy.signature)
    text = pdf_text(copy.pdf, tmp_path)
    for shown in ["Certified copy of a Kimberley Process Certificate", "Art. 5(1)(a)", "CA123456"]:
        assert shown in text, shown


def test_the_first_download_renders_the_copy_and_a_tampered_file_is_rendered_again(
    runtime, session, officer, browser, make_person
):
    imported = runtime.shipments.present(session, shipment_payload(), officer).shipment
    runtime.shipments.act(session, imported.id, "verify", officer)
    [copy] = session.scalars(
        select(IssuedDocument).where(IssuedDocument.shipment_id == imported.id)
    )
    session.commit()
    client = browser(make_person(Role.OFFICER, "BE"))
    address = f"/shipments/{imported.id}/documents/{copy.id}.pdf"
    first = client.get(address)
    assert first.status_code == 200 and first.mimetype == "application/pdf"
    assert first.data == render_pdf(canonical_form(copy), digest=copy.digest)
    session.expire_all()
    assert copy.pdf == first.data  # kept: the next download sends it as it is
    forged = first.data[:-100] + bytes([first.data[-100] ^ 1]) + first.data[-99:]
    session.execute(update(IssuedDocument).where(IssuedDocument.id == copy.id).values(pdf=forged))
    session.commit()
    assert client.get(address).data == first.data  # its signature fails: rendered again
    session.expire_all()
    assert copy.pdf == first.data
    # A genuine, signed PDF of another document does not pass for this one.
    second = runtime.shipments.present(
        session, shipment_payload(**{"certificate.number": "CA000002"}), officer
    ).shipment
    runtime.shipments.act(session, second.id, "verify", officer)
    [other] = session.scalars(select(IssuedDocument).where(IssuedDocument.shipment_id == second.id))
    runtime.documents.pdf_of(session, other)
    session.execute(
        update(IssuedDocument)
        .where(IssuedDocument.id == copy.id)
        .values(pdf=other.pdf, signature=other.signature)
    )
    session.commit()
    assert client.get(address).data == first.data
    # A copy that no longer says what its decision sealed is not rendered at all.
    session.execute(
        update(IssuedDocument)
        .where(IssuedDocument.id == copy.id)
        .values(pdf=None, valid_until=date(2099, 1, 1))
    )
    session.commit()
    refused = client.get(address)
    assert refused.status_code == 409 and b"%PDF" not in refused.data


def test_the_norwegian_kp_certificate_is_bilingual(runtime, session, tmp_path):
    officer = Actor("officer.no", Role.OFFICER, frozenset({"NO"}))
    payload = shipment_payload(
        authority="NO",
        direction="export",
        entry_point="OSL",
        **{"certificate.number": "NO2026-17", "certificate.issuing_country": "NO"},
    )
    shipment = runtime.shipments.present(session, payload, officer).shipment
    document = runtime.documents.issue(
        session, shipment, "norway.kp_certificate", officer, now=NOON
    )
    assert document.number == "NO000001" and document.valid_until == date(2027, 1, 20)
    text = pdf_text(document.pdf, tmp_path)
    for shown in [
        "Kimberley-prosess-sertifikat / Kimberley Process Certificate",
        "De uslepne diamantene i denne forsendelsen er håndtert",
        "Opprinnelsesland / Country of origin",
        "Norges Gullsmedforbund (NO)",
    ]:
        assert shown in text, shown


def test_the_g7_certificate_is_for_polished_exports(runtime, session, officer, export):
    polished = export(goods="polished", destination="US", **{"certificate.hs_codes": ["7102.39"]})
    document = runtime.documents.issue(session, polished, "belgium_g7.g7_certificate", officer)
    assert document.number == "G7BE000001" and document.content["title"] == "G7 Certificate"
    with pytest.raises(DocumentRefused, match="polished"):
        runtime.documents.issue(session, export(), "belgium_g7.g7_certificate", officer)
    to_india = export(goods="polished", **{"certificate.hs_codes": ["7102.39"]})
    with pytest.raises(DocumentRefused, match="IN is not a G7 market"):
        runtime.documents.issue(session, to_india, "belgium_g7.g7_certificate", officer)


# -- the mechanism, with a plugin of the tests' own -------------------------------------


class PermitPlugin:
    """A plugin declaring a document whose law demands a field it cannot always fill."""

    @hookimpl
    def caratflow_documents_register(self, register: Callable[[DocumentType], None]) -> None:
        register(
            DocumentType(
                kind="testdocs.permit",
                rule="test.flag",
                basis="Test Act s. 1",
                wording=lambda day: Wording("Test permit", "Issued for tests."),
                numbering=lambda authority, day: Numbering("TP", 2, first=98, last=99),
                content=lambda context: [
                    Field("flag", "Flag", context.shipment.details.get("flag", ""), public=True)
                ],
                required=lambda day: ["flag"],
            )
        )


def service_with(runtime, session, plugin: object) -> DocumentService:
    host = load_plugin_host(extra={"testdocs": plugin})
    authority = session.get(Authority, "BE")
    authority.plugins = [*authority.plugins, "testdocs"]
    return DocumentService(host, runtime.settings)


def test_the_law_required_fields_and_the_number_range_bind_every_document(
    runtime, session, officer
):
    documents = service_with(runtime, session, PermitPlugin())
    bare = runtime.shipments.present(session, shipment_payload(), officer).shipment
    with pytest.raises(DocumentRefused, match="must show flag"):
        documents.issue(session, bare, "testdocs.permit", officer)
    numbers = []
    for _ in range(2):
        flagged = runtime.shipments.present(session, shipment_payload(flag="info"), officer)
        numbers.append(
            documents.issue(session, flagged.shipment, "testdocs.permit", officer).number
        )
    assert numbers == ["TP98", "TP99"]
    last = runtime.shipments.present(session, shipment_payload(flag="info"), officer).shipment
    with pytest.raises(DocumentRefused, match="TP98-TP99 is used up"):
        documents.issue(session, last, "testdocs.permit", officer)


def test_a_plugin_declares_only_its_own_documents():
    class Impostor:
        @hookimpl
        def caratflow_documents_register(self, register):
            register(
                DocumentType(
                    kind="eu.community_certificate",
                    rule="x",
                    basis="x",
                    wording=lambda day: Wording("x"),
                    numbering=lambda authority, day: Numbering("X", 1),
                    content=lambda context: [],
                )
            )

    with pytest.raises(ValueError, match=r"'impostor' registered document 'eu\.community"):
        load_plugin_host(extra={"impostor": Impostor()})


# -- concurrency ------------------------------------------------------------------------


@pytest.mark.postgres_only
def test_two_officers_issuing_at_once_get_two_numbers(committed_runtime, officer):
    rt = committed_runtime
    with unit_of_work(rt.sessions) as session:
        ids = [
            rt.shipments.present(session, shipment_payload(**EXPORT), officer).shipment.id
            for _ in range(4)
        ]
    barrier = threading.Barrier(4)
    numbers: list[str] = []

    def issue(shipment_id: int) -> None:
        with unit_of_work(rt.sessions) as session:
            shipment = rt.shipments.get(session, shipment_id, officer)
            barrier.wait()
            numbers.append(
                rt.documents.issue(session, shipment, "eu.community_certificate", officer).number
            )

    threads = [threading.Thread(target=issue, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(numbers) == ["EC000001", "EC000002", "EC000003", "EC000004"]
