"""Journeys through forms only, in a real browser (issue 23): no JSON typed anywhere, every
field the law asks for generated from its plugin's declaration."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from caratflow.accounts.provisioning import add_user
from caratflow.case.access import Actor
from caratflow.case.parties import register_party
from caratflow.db import unit_of_work
from caratflow.models import IssuedDocument, OutboxMessage, Role, Shipment
from caratflow.plugins.belgium_g7.identities import register_identity
from caratflow.testing.servers import LiveServer
from caratflow.web import create_app

from .test_browser import PASSWORD, open_page, shots, sign_in  # noqa: F401 - fixtures
from .test_plugin_languages import english_on, english_patterns, visible_text

IMPORTER = "Thune Gullsmed AS"


@pytest.fixture
def oslo(committed_runtime) -> Iterator[LiveServer]:
    """Norges Gullsmedforbund's node: an officer, and the importer registered (§7)."""
    with unit_of_work(committed_runtime.sessions) as session:
        add_user(session, "kari", Role.OFFICER, ["NO"], PASSWORD)
        register_party(
            session,
            committed_runtime.plugins,
            {
                "authority": "NO",
                "name": IMPORTER,
                "address": "Karl Johans gate 31, 0159 Oslo",
                "phone": "+47 22 42 50 10",
                "roles": ["importer"],
                "organisation_number": "923609016",
            },
            Actor("setup", Role.ADMIN, None, None),
        )
    with LiveServer(create_app({}, runtime=committed_runtime)) as live:
        yield live


def decide(page: Any, action: str, outcome: str | None = None, reason: str | None = None) -> None:
    """Open the action's form from the shipment page, fill what it asks, submit."""
    page.click(f"#decide a[href$='/actions/{action}']")
    if outcome:
        page.select_option("select[name='f.outcome']", outcome)
    if reason:
        page.fill("#reason", reason)
    page.click("form button[type=submit] >> nth=-1")
    page.wait_for_url("**/shipments/*")


def no_plugin_english(page: Any, runtime: Any, language: str) -> None:
    """The page a reader sees holds none of the plugins' English texts (issue 23)."""
    patterns = english_patterns(runtime.plugins.texts(), language)
    assert english_on(visible_text(page.content()), patterns) == []


def click_decision(page: Any, action: str) -> None:
    page.click(f"#decide form[action$='/actions/{action}'] button")
    page.wait_for_url("**/shipments/*")


def test_a_norwegian_import_through_forms_only_in_norwegian(
    chromium,
    oslo,
    committed_runtime,
    shots,  # noqa: F811
):
    page, problems = open_page(chromium, locale="nb-NO")
    sign_in(page, oslo.url, "kari")
    page.select_option("#locale", "nb")
    page.wait_for_load_state("networkidle")

    page.click("nav >> text=Legg fram")
    page.select_option("#authority", "NO")
    page.fill("#presented_at", "2026-11-17T08:30")
    page.fill("#entry_point", "OSL")
    # The advance notice of §8 on its own fields: a time in Oslo, a day of dispatch.
    page.fill("input[name='f.advance_notice.received_at']", "2026-11-13T14:05")
    page.fill("input[name='f.advance_notice.dispatch_on']", "2026-11-16")
    page.fill("input[name='f.advance_notice.certificate_number']", "BE2026-118877")
    page.fill("input[name='f.advance_notice.carats']", "58.20")
    for name, value in {
        "certificate_number": "BE2026-118877",
        "certificate_issuing_country": "BE",
        "certificate_issuing_authority": "FPS Economy, Diamond Office Antwerp",
        "certificate_issued_on": "2026-11-12",
        "certificate_expires_on": "2027-01-12",
        "certificate_exporter_name": "Schupstraat Diamonds NV",
        "certificate_exporter_address": "Schupstraat 9, 2018 Antwerpen",
        "certificate_importer_name": IMPORTER,
        "certificate_importer_address": "Karl Johans gate 31, 0159 Oslo",
        "certificate_parcels": "1",
        "certificate_carats": "58,20",
        "certificate_value_usd": "96500.00",
        "certificate_hs_codes": "7102.31",
        "certificate_origin": "BW",
        "certificate_provenance": "BE",
        "containers-0-label": "C1",
        "containers-0-seals": "BE-55120",
    }.items():
        page.fill(f"#{name}", value)
    no_plugin_english(page, committed_runtime, "nb")
    shots(page, "norwegian-counter-form")
    page.click("button[name=present]")
    page.wait_for_url("**/shipments/*")
    assert page.locator(".headline [data-state]").get_attribute("data-state") == "presented"
    notice = page.locator('#findings [data-rule="no.advance_notice"]')
    assert notice.get_attribute("data-outcome") == "pass"

    click_decision(page, "store_bonded")
    assert page.locator(".headline [data-state]").get_attribute("data-state") == "bonded"
    decide(page, "control_documents", "pass")
    decide(page, "control_identity", "pass")
    decide(page, "control_physical", "pass", reason="Parcel weighed: 58,20 ct, as declared")
    no_plugin_english(page, committed_runtime, "nb")
    shots(page, "controls-recorded")
    click_decision(page, "verify")  # asks for confirmation: cannot be undone
    assert page.locator(".headline [data-state]").get_attribute("data-state") == "verified"
    click_decision(page, "release")
    assert page.locator(".headline [data-state]").get_attribute("data-state") == "released"
    shots(page, "released")
    no_plugin_english(page, committed_runtime, "nb")
    assert page.locator("html").get_attribute("lang") == "nb"
    assert problems == []

    with unit_of_work(committed_runtime.sessions) as session:
        shipment = session.scalars(select(Shipment).order_by(Shipment.id.desc())).first()
        assert shipment.details["advance_notice"]["received_at"] == "2026-11-13T14:05:00+01:00"
        actions = [e.action for e in shipment.events]
        assert actions == [
            "present",
            "store_bonded",
            "control_documents",
            "control_identity",
            "control_physical",
            "verify",
            "release",
        ]
        assert {e.actor for e in shipment.events} == {"kari"}
        told = session.scalars(
            select(OutboxMessage).where(OutboxMessage.shipment_id == shipment.id)
        ).all()
        assert any(m.audience == "customs" for m in told)  # the permit, to Tollvesenet (§12)


@pytest.fixture
def antwerp(committed_runtime) -> Iterator[LiveServer]:
    """The Antwerp Diamond Office: an officer of both bodies there."""
    with unit_of_work(committed_runtime.sessions) as session:
        add_user(
            session,
            "camille",
            Role.OFFICER,
            ["BE"],
            PASSWORD,
            duties=["fps_economy", "customs"],
            host=committed_runtime.plugins,
        )
    with LiveServer(create_app({}, runtime=committed_runtime)) as live:
        yield live


def test_an_antwerp_export_through_forms_only_in_french(
    chromium,
    antwerp,
    committed_runtime,
    shots,  # noqa: F811
):
    page, problems = open_page(chromium, locale="fr-BE")
    sign_in(page, antwerp.url, "camille")
    page.select_option("#locale", "fr")
    page.wait_for_load_state("networkidle")

    page.click("nav >> text=Présenter")
    page.select_option("#authority", "BE")
    page.select_option("#direction", "export")
    page.fill("#presented_at", "2026-11-20T10:15")
    page.fill("#entry_point", "ANR")
    # The destination from the list of countries, the evidence of lawful import on its fields.
    page.select_option("select[name='f.destination']", "CA")
    page.select_option("select[name='f.lawful_import.kind']", "annex_v_declaration")
    page.fill("input[name='f.lawful_import.organisation']", "World Diamond Council")
    page.fill("input[name='f.lawful_import.member']", "Schupstraat Diamonds NV")
    page.fill("input[name='f.lawful_import.signed_on']", "2026-11-18")
    for name, value in {
        "certificate_number": "EC004211",
        "certificate_issuing_country": "EU",
        "certificate_issuing_authority": "FPS Economy, Diamond Office Antwerp",
        "certificate_issued_on": "2026-11-19",
        "certificate_expires_on": "2027-01-19",
        "certificate_exporter_name": "Schupstraat Diamonds NV",
        "certificate_exporter_address": "Schupstraat 9, 2018 Antwerpen",
        "certificate_importer_name": "Maple Leaf Diamonds Inc",
        "certificate_importer_address": "100 King St W, Toronto",
        "certificate_parcels": "2",
        "certificate_carats": "123,45",
        "certificate_value_usd": "456789.00",
        "certificate_hs_codes": "7102.10",
        "certificate_origin": "BW",
        "certificate_provenance": "BE",
        "containers-0-label": "C1",
        "containers-0-seals": "BE-77120",
    }.items():
        page.fill(f"#{name}", value)
    no_plugin_english(page, committed_runtime, "fr")
    shots(page, "antwerp-export-form-fr")
    page.click("button[name=present]")
    page.wait_for_url("**/shipments/*")
    assert page.locator(".headline [data-state]").get_attribute("data-state") == "presented"

    page.click("#decide a[href$='/actions/verify']")  # validation under supervision
    page.select_option("select[name='f.sealed_under_supervision']", "yes")
    page.click("form button[type=submit] >> nth=-1")  # confirmed: it cannot be undone
    page.wait_for_url("**/shipments/*")
    assert page.locator(".headline [data-state]").get_attribute("data-state") == "verified"
    no_plugin_english(page, committed_runtime, "fr")
    shots(page, "validated-fr")
    page.click("#decide form[action$='/actions/export'] button")
    page.wait_for_url("**/shipments/*")
    assert page.locator(".headline [data-state]").get_attribute("data-state") == "exported"
    no_plugin_english(page, committed_runtime, "fr")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert problems == []

    with unit_of_work(committed_runtime.sessions) as session:
        shipment = session.scalars(select(Shipment).order_by(Shipment.id.desc())).first()
        assert shipment.details["destination"] == "CA"
        assert shipment.details["lawful_import"]["signed_on"] == "2026-11-18"
        kinds = {d.kind for d in session.scalars(select(IssuedDocument))}
        assert "eu.community_certificate" in kinds


# -- a G7 polished import at Antwerp, its stones row by row ---------------------------------

STONES = {"BE-P-1": ("0.90", "CA"), "BE-P-2": ("0.60", "BW")}


@pytest.fixture
def cut_in_antwerp(antwerp, committed_runtime) -> LiveServer:
    """The rough these stones were cut from, and the stones, registered as the cutting
    works does it (through the identities API's service, not the journey's forms)."""
    works = Actor("camille", Role.OFFICER, frozenset({"BE"}), frozenset({"fps_economy"}))
    licence = hashlib.sha256(b"KP certificate CA2026-0091").hexdigest()
    with unit_of_work(committed_runtime.sessions) as session:
        register_identity(
            session,
            {
                "id": "BE-R-1",
                "kind": "rough_parcel",
                "carats": "5.00",
                "origin": {"CA": "60", "BW": "40"},
                "documents": [licence],
            },
            works,
        )
        for number, (carats, _) in STONES.items():
            payload = {"id": number, "kind": "polished", "carats": carats}
            register_identity(session, {**payload, "parents": [{"id": "BE-R-1"}]}, works)
    return antwerp


def test_a_g7_polished_import_at_antwerp_with_its_stones_entered_row_by_row(
    chromium,
    cut_in_antwerp,
    committed_runtime,
    shots,  # noqa: F811
):
    """Reg. (EU) 833/2014 Art. 3p at the Antwerp control point: each stone on its own row
    of the generated form (serial number, weight, country of mining from the list, digital
    identity), the due-diligence statement on its fields, then verified by FPS Economy,
    released by customs, and each stone's lineage traced to its rough. In Dutch, as an
    Antwerp officer reads it: no plugin text stays English."""
    page, problems = open_page(chromium, locale="nl-BE")
    sign_in(page, cut_in_antwerp.url, "camille")
    page.select_option("#locale", "nl")
    page.wait_for_load_state("networkidle")

    page.click("nav >> text=Aanbieden")
    page.select_option("#authority", "BE")
    page.select_option("#direction", "import")
    page.select_option("#goods", "polished")
    page.fill("#presented_at", "2026-11-20T10:15")
    page.fill("#entry_point", "ANR")
    for row, (number, (carats, origin)) in enumerate(STONES.items()):
        page.fill(f"input[name='f.stones.{row}.id']", f"GIA-{row + 1}")
        page.fill(f"input[name='f.stones.{row}.carats']", carats)
        page.select_option(f"select[name='f.stones.{row}.origin']", origin)
        page.fill(f"input[name='f.stones.{row}.identity']", number)
    page.fill("input[name='f.origin_statement.made_by']", "Maple Leaf Diamonds Inc")
    page.fill("input[name='f.origin_statement.made_on']", "2026-11-18")
    page.fill("input[name='f.origin_statement.reference']", "DDS-2026-114")
    for name, value in {
        "certificate_number": "CA2026-0091",
        "certificate_issuing_country": "CA",
        "certificate_issuing_authority": "Natural Resources Canada",
        "certificate_issued_on": "2026-11-12",
        "certificate_expires_on": "2027-01-12",
        "certificate_exporter_name": "Maple Leaf Diamonds Inc",
        "certificate_exporter_address": "100 King St W, Toronto",
        "certificate_importer_name": "Schupstraat Diamonds NV",
        "certificate_importer_address": "Schupstraat 9, 2018 Antwerpen",
        "certificate_parcels": "1",
        "certificate_carats": "1.50",
        "certificate_value_usd": "9400.00",
        "certificate_hs_codes": "7102.39",
        "certificate_origin": "CA",
        "certificate_provenance": "CA",
        "containers-0-label": "C1",
        "containers-0-seals": "CA-30117",
    }.items():
        page.fill(f"#{name}", value)
    no_plugin_english(page, committed_runtime, "nl")
    shots(page, "g7-polished-import-form")
    page.click("button[name=present]")
    page.wait_for_url("**/shipments/*")
    assert page.locator(".headline [data-state]").get_attribute("data-state") == "presented"
    for rule in ("g7.russian_ban", "g7.mining_countries", "nl.trace.serial_lot", "g7.lineage"):
        finding = page.locator(f'#findings [data-rule="{rule}"]').first
        assert finding.get_attribute("data-outcome") == "pass", rule

    click_decision(page, "verify")  # FPS Economy; asks for confirmation
    assert page.locator(".headline [data-state]").get_attribute("data-state") == "verified"
    click_decision(page, "release")  # customs
    assert page.locator(".headline [data-state]").get_attribute("data-state") == "released"
    no_plugin_english(page, committed_runtime, "nl")
    shots(page, "g7-polished-import-released")

    page.goto(f"{cut_in_antwerp.url}/identities/BE-P-1/lineage")
    assert page.locator("[data-lineage]").get_attribute("data-lineage") == "clean"
    assert page.locator('tr[data-identity="BE-R-1"]').count() == 1  # traced to its rough
    no_plugin_english(page, committed_runtime, "nl")
    assert page.locator("html").get_attribute("lang") == "nl"
    shots(page, "g7-stone-lineage")
    assert problems == []

    with unit_of_work(committed_runtime.sessions) as session:
        shipment = session.scalars(select(Shipment).order_by(Shipment.id.desc())).first()
        assert shipment.details["stones"] == [
            {"id": f"GIA-{row + 1}", "carats": carats, "origin": origin, "identity": number}
            for row, (number, (carats, origin)) in enumerate(STONES.items())
        ]
        assert shipment.details["origin_statement"]["made_on"] == "2026-11-18"
        assert [e.action for e in shipment.events] == ["present", "verify", "release"]
