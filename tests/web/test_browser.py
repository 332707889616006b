"""An officer at the counter, in a real browser (Debian's chromium, driven by Playwright).

The app is served by waitress on localhost, as in production, over a database that
really commits. Screenshots of every step land in ``test-artifacts/browser/`` (git
ignores it; CI keeps it as an artifact), so a reviewer sees what the officer saw.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from caratflow.accounts.provisioning import add_user
from caratflow.db import unit_of_work
from caratflow.models import Role
from caratflow.testing.people import add_person
from caratflow.testing.servers import LiveServer
from caratflow.web import create_app

playwright_api = pytest.importorskip("playwright.sync_api")

PASSWORD = "correct horse battery"


@pytest.fixture
def server(committed_runtime) -> Iterator[LiveServer]:
    with unit_of_work(committed_runtime.sessions) as session:
        add_person(session, committed_runtime.plugins, Role.OFFICER, name="anna", password=PASSWORD)
        add_user(session, "ola", Role.OFFICER, ["NO"], PASSWORD)
    app = create_app({}, runtime=committed_runtime)
    with LiveServer(app) as live:
        yield live


@pytest.fixture
def shots(request, backend) -> Any:
    """``shots(page, "name")``: a full-page screenshot under test-artifacts/browser/."""
    folder = request.config.rootpath / "test-artifacts" / "browser" / backend
    folder.mkdir(parents=True, exist_ok=True)
    taken: list[Path] = []

    def take(page: Any, name: str) -> Path:
        path = folder / f"{request.node.originalname}-{len(taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)
        return path

    return take


def open_page(chromium: Any, locale: str = "en-GB") -> tuple[Any, list[str]]:
    context = chromium.new_context(viewport={"width": 1360, "height": 900}, locale=locale)
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda dialog: dialog.accept())
    return page, problems


def sign_in(page: Any, url: str, name: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{url}/")


def test_an_officer_presents_holds_and_releases_a_shipment(chromium, server, shots):
    page, problems = open_page(chromium)
    sign_in(page, server.url, "anna")
    shots(page, "dashboard")

    page.click("nav >> text=Present")
    page.select_option("#authority", "BE")
    page.fill("#presented_at", "2026-11-20T10:15")
    page.fill("#entry_point", "BRU")
    page.fill("#certificate_number", "BW0093321")
    page.fill("#certificate_issuing_country", "BW")
    page.fill("#certificate_issuing_authority", "Ministry of Minerals and Energy, Botswana")
    page.fill("#certificate_issued_on", "2026-11-12")
    page.fill("#certificate_expires_on", "2027-01-12")
    page.fill("#certificate_exporter_name", "Okavango Diamond Company")
    page.fill("#certificate_exporter_address", "Plot 63, Gaborone")
    page.fill("#certificate_importer_name", "Hoveniersstraat Trading BV")
    page.fill("#certificate_importer_address", "Hoveniersstraat 30, 2018 Antwerpen")
    page.fill("#certificate_parcels", "2")
    page.fill("#certificate_carats", "842,15")
    page.fill("#certificate_value_usd", "1120000.00")
    page.fill("#certificate_hs_codes", "7102.21")
    page.fill("#certificate_origin", "BW")
    page.fill("#certificate_provenance", "BW")
    page.fill("#containers-0-label", "C1")
    page.fill("#containers-0-seals", "BW-7731")
    page.fill("#containers-1-label", "C2")
    page.fill("#containers-1-seals", "BW-7732")
    page.uncheck("#containers-1-seals_intact")  # found broken at the counter
    shots(page, "counter-form")
    page.click("button[name=present]")
    page.wait_for_url(f"{server.url}/shipments/*")

    # The finding, with its rule id and its article of law.
    container = page.locator('#findings [data-rule="eu.import.container"]')
    assert container.get_attribute("data-outcome") == "hold"
    assert "Reg. (EC) 2368/2002 Art. 3(b)" in container.inner_text()
    assert "C2" in container.inner_text()
    assert page.locator(".headline [data-state]").get_attribute("data-state") == "presented"
    shots(page, "presented-with-finding")

    page.click("#decide >> text=hold")
    page.fill("#reason", "Seal BW-7732 on container C2 found broken at the counter")
    shots(page, "hold-form")
    page.click("form button[type=submit] >> nth=-1")
    page.wait_for_url(f"{server.url}/shipments/*")
    assert page.locator(".headline [data-state]").get_attribute("data-state") == "held"
    shots(page, "held")

    page.click("#decide >> text=release after remedial action")
    page.fill("#reason", "Botswana's authority re-sealed and confirmed the consignment")
    # The ground of Art. 5(2) chosen from its list, the remedy typed in its fields (issue 23).
    page.select_option("select[name='f.ground']", "caused_by_another_authority")
    page.fill("input[name='f.remedy']", "Botswana's authority re-sealed container C2")
    page.fill("input[name='f.remedy_evidence']", "its letter BDO/2026/117")
    page.click("form button[type=submit] >> nth=-1")
    page.wait_for_url(f"{server.url}/shipments/*")
    assert page.locator(".headline [data-state]").get_attribute("data-state") == "released"

    timeline = page.locator("#timeline li")
    assert [timeline.nth(i).get_attribute("data-action") for i in range(3)] == [
        "remediate",
        "hold",
        "present",
    ]
    assert "re-sealed and confirmed" in page.locator("#timeline").inner_text()
    deadlines = page.locator("#deadlines").inner_text()
    assert "eu.notify.1_month" in deadlines and "Reg. (EC) 2368/2002 Art. 5(3)" in deadlines
    shots(page, "released-timeline-deadlines")

    page.goto(f"{server.url}/shipments/?certificate=BW0093321")
    assert page.locator("#shipments tbody tr").count() == 1
    shots(page, "list")
    assert problems == []  # no script error, no Content-Security-Policy violation


def test_the_norwegian_ui_shows_norwegian_and_remembers_it(chromium, server, shots):
    page, problems = open_page(chromium, locale="en-GB")
    sign_in(page, server.url, "ola")
    page.select_option("#locale", "nb")  # submits itself (caratflow.js)
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "nb"
    nav = page.locator("nav").inner_text()
    assert "Forsendelser" in nav and "Frister" in nav and "Oversikt" in nav
    assert "Forsendelser etter tilstand" in page.content()
    shots(page, "dashboard-nb")

    page.click("nav >> text=Legg fram")
    assert "Legg fram en forsendelse" in page.inner_text("h1")
    shots(page, "counter-form-nb")

    other, _ = open_page(chromium, locale="en-GB")  # another browser: the choice is the user's
    sign_in(other, server.url, "ola")
    assert other.locator("html").get_attribute("lang") == "nb"
    assert problems == []
