"""The public check: anyone with a document number learns whether it is genuine, its status
and the ledger's proof, and nothing about the importer or the exporter."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from caratflow.ledger import proofs, sequencer, signing_keys
from caratflow.ledger.signing import load_public_key, verify_detached
from caratflow.models import DocumentStatus, IssuedDocument
from caratflow.testing.payloads import shipment_payload

PARTIES = ["Antwerp Rough Traders", "Hoveniersstraat", "Mumbai Cutting Works", "Opera House"]
EXPORT = shipment_payload(
    direction="export",
    destination="IN",
    **{
        "certificate.number": "BE2026-0002",
        "certificate.issuing_country": "BE",
        "certificate.exporter": {
            "name": "Antwerp Rough Traders NV",
            "address": "Hoveniersstraat 2",
        },
        "certificate.importer": {"name": "Mumbai Cutting Works", "address": "Opera House, Mumbai"},
    },
)


@pytest.fixture
def issue(runtime, session, officer):
    def issue_one(now: datetime | None = None) -> IssuedDocument:
        shipment = runtime.shipments.present(session, EXPORT, officer).shipment
        document = runtime.documents.issue(
            session, shipment, "eu.community_certificate", officer, now=now
        )
        session.commit()
        return document

    return issue_one


def sequence(runtime, session) -> None:
    sequencer.sequence_pending(session, signing_keys.signing_key(runtime.settings))
    session.commit()


def test_a_genuine_certificate_shows_what_it_covers_and_no_one_it_names(client, issue):
    issue()
    page = client.get("/verify/EC000001")
    assert page.status_code == 200 and page.mimetype == "text/html"
    for shown in ["Genuine", "Valid", "EC000001", "Canada (CA)", "123.45 ct", "India (IN)"]:
        assert shown in page.text, shown
    answer = client.get("/verify/EC000001.json").json
    assert answer["genuine"] and answer["status"] == "valid"
    assert answer["document"]["fields"]["carats"]["value"] == "123.45 ct"
    for private in [*PARTIES, "456,789", "officer.be"]:
        assert private not in page.text and private not in json.dumps(answer), private


def test_the_json_answer_is_the_same_by_content_negotiation(client, issue):
    issue()
    negotiated = client.get("/verify/EC000001", headers={"Accept": "application/json"})
    assert negotiated.mimetype == "application/json"
    assert negotiated.json == client.get("/verify/EC000001.json").json


def test_anyone_can_check_the_proof_and_the_file_with_the_public_key_alone(
    client, runtime, session, issue
):
    document = issue()
    pending = client.get("/verify/EC000001.json").json
    assert pending["genuine"] and pending["ledger"]["status"] == "pending"
    sequence(runtime, session)
    answer = client.get("/verify/EC000001.json").json
    proof = answer["ledger"]
    assert proof["status"] == "included"
    # What another authority does: fetch the published key, check the proof and the file.
    key = load_public_key(client.get("/api/v1/ledger/head").json["public_key"])
    assert proofs.check_inclusion(key, proof)
    leaf = json.loads(proof["leaf_data"])
    assert leaf["record"]["number"] == "EC000001"
    assert leaf["record"]["document_sha256"] == answer["signature"]["document_sha256"]
    assert hashlib.sha256(document.pdf).hexdigest() == answer["signature"]["pdf_sha256"]
    assert verify_detached(key, document.pdf, answer["signature"]["value"])


def test_an_unknown_number_is_not_genuine(client):
    page = client.get("/verify/EC999999")
    assert page.status_code == 404 and "Not found" in page.text  # issue 26: said plainly
    answer = client.get("/verify/EC999999.json")
    assert answer.status_code == 404 and answer.json["genuine"] is False
    odd = client.get("/verify/<script>alert(1)</script>")
    assert odd.status_code == 404 and "<script>alert" not in odd.text


def test_a_number_with_a_line_break_is_answered_as_asked_not_with_an_error_page(client):
    answer = client.get("/verify/EC99%0A9999.json")
    assert answer.status_code == 404 and answer.json["genuine"] is False
    assert answer.json["problems"] == ["this is not a document number"]


def test_a_revoked_or_expired_certificate_says_so(client, runtime, session, officer, issue):
    issue()
    runtime.documents.change_status(
        session, "EC000001", DocumentStatus.REVOKED, officer, "issued on a forged application"
    )
    session.commit()
    issue(now=datetime(2025, 1, 10, 9, 0, tzinfo=UTC))  # valid until 2025-03-10
    revoked = client.get("/verify/EC000001.json").json
    expired = client.get("/verify/EC000002.json").json
    assert (revoked["status"], expired["status"]) == ("revoked", "expired")
    assert revoked["genuine"] and expired["genuine"]  # issued here, but no longer covering goods
    assert "forged application" not in json.dumps(revoked)
    assert "Revoked" in client.get("/verify/EC000001").text
    assert "expired" in client.get("/verify/EC000002").text


def test_an_edited_certificate_is_not_genuine(client, runtime, session, issue):
    issue()
    sequence(runtime, session)
    session.execute(
        update(IssuedDocument)
        .where(IssuedDocument.number == "EC000001")
        .values(valid_until=datetime(2099, 1, 1).date())
    )
    session.commit()
    answer = client.get("/verify/EC000001.json").json
    assert answer["genuine"] is False
    assert "no longer matches its ledger entry" in " ".join(answer["problems"])
    assert "Not genuine" in client.get("/verify/EC000001").text


def test_a_forged_file_fails_the_signature(client, session, issue):
    document = issue()
    session.execute(
        update(IssuedDocument)
        .where(IssuedDocument.id == document.id)
        .values(pdf=document.pdf[:-100] + bytes([document.pdf[-100] ^ 1]) + document.pdf[-99:])
    )
    session.commit()
    problems = client.get("/verify/EC000001.json").json["problems"]
    assert "the document's signature does not verify" in problems


# -- issue 26: the box, "not found", the rate limit, the reader's language ----------------


def test_the_box_takes_a_number_as_typed_to_its_check(client, issue):
    issue()
    box = client.get("/verify")
    assert box.status_code == 200 and 'name="number"' in box.text
    typed = client.get("/verify?number=EC 000 001")  # as read off the paper, with spaces
    assert typed.status_code == 303 and typed.headers["Location"].endswith("/verify/EC000001")
    assert "Genuine" in client.get(typed.headers["Location"]).text


def test_a_mistyped_number_is_plainly_not_found(client, issue):
    issue()
    page = client.get("/verify/EC000091")
    assert page.status_code == 404
    assert 'id="not-found"' in page.text and "No document with this number" in page.text
    assert 'value="EC000091"' in page.text  # in the box again, to correct it


def test_the_check_is_rate_limited_per_address_so_the_series_cannot_be_walked(app, client):
    app.config.update(VERIFY_CHECKS=5, VERIFY_WINDOW_SECONDS=60)
    answers = [client.get(f"/verify/EC{n:06d}.json").status_code for n in range(1, 8)]
    assert answers[:5] == [404] * 5
    assert answers[5:] == [429, 429]
    refused = client.get("/verify/EC000009")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Too many checks" in refused.text
    other = client.get("/verify/EC000009.json", environ_base={"REMOTE_ADDR": "10.0.0.8"})
    assert other.status_code == 404  # another address is not held up


def test_the_check_speaks_the_readers_language(client, issue):
    issue()
    page = client.get("/verify/EC000001", headers={"Accept-Language": "nl-BE,nl;q=0.9"})
    assert '<html lang="nl' in page.text
    assert "Echt" in page.text and "Wat het dekt" in page.text
    missing = client.get("/verify/EC000091", headers={"Accept-Language": "fr"})
    assert "Aucun document portant ce numéro" in missing.text
