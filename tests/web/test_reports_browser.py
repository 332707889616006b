"""Issue 26, point 3, in a real browser at 1366×768: the report page and the dashboard
never scroll sideways, in English and in German; a wide report scrolls inside its card;
the charts carry their axis titles."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from caratflow.accounts.provisioning import actor_for
from caratflow.db import unit_of_work
from caratflow.models import Role
from caratflow.testing.payloads import presented_now
from caratflow.testing.people import PASSWORD, add_person
from caratflow.testing.servers import LiveServer
from caratflow.web import create_app

LONG = "Government Diamond Valuator of the Republic, Kimberley Process Certificate Office"
PAGE_SCROLLS = "document.scrollingElement.scrollWidth > window.innerWidth"


@pytest.fixture
def office(committed_runtime) -> Iterator[LiveServer]:
    """A month of shipments of BE, one held, and an officer who signs in."""
    service = committed_runtime.shipments
    with unit_of_work(committed_runtime.sessions) as session:
        user = add_person(
            session, committed_runtime.plugins, Role.OFFICER, name="reader", password=PASSWORD
        )
        actor = actor_for(user)
        for n in range(6):
            changes = {
                "certificate.number": f"CA90000{n}",
                "certificate.issuing_authority": LONG,
                "certificate.validating_authority": LONG,
            }
            shipment = service.present(session, presented_now(**changes), actor).shipment
            if n == 0:
                service.act(session, shipment.id, "hold", actor, reason="seal S-991 differs")
    with LiveServer(create_app({}, runtime=committed_runtime)) as live:
        yield live


@pytest.mark.parametrize("locale", ["en-GB", "de-DE"])
def test_the_report_page_and_the_dashboard_fit_a_1366_pixel_window(new_page, office, locale):
    page, problems = new_page(width=1366, height=768, locale=locale)
    page.goto(f"{office.url}/login")
    page.fill("#name", "reader")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{office.url}/")

    assert not page.evaluate(PAGE_SCROLLS), "the dashboard scrolls sideways"
    for chart in ("#carats-chart", "#decisions-chart"):
        assert page.locator(f"{chart} .x-title").text_content().strip()
        assert page.locator(f"{chart} .y-title").text_content().strip()
        box = page.locator(f"{chart} svg").bounding_box()
        assert box["width"] <= 1366 and box["height"] > 100

    month = datetime.now(UTC).strftime("%Y-%m")  # Brussels' month but near midnight
    page.goto(f"{office.url}/reports?authority=BE&report=eu.report.import_monthly&period={month}")
    assert page.locator("#report tbody tr").count() >= 5
    assert not page.evaluate(PAGE_SCROLLS), "the report page scrolls sideways"
    scroller = page.locator("#report .table-scroll")
    inside = scroller.evaluate("e => e.scrollWidth > e.clientWidth")
    assert inside, "the wide report should scroll inside its card"
    heading = page.locator('#report th[data-column="certificate_number"]').inner_text()
    assert "_" not in heading  # a name people read, not the column's id

    page.goto(f"{office.url}/workflow")
    assert not page.evaluate(PAGE_SCROLLS), "the workflow page scrolls sideways"
    diagram = page.locator(".diagram svg").first
    card = page.locator(".diagram").first
    assert diagram.bounding_box()["width"] <= card.bounding_box()["width"] + 1  # fits its card
    assert problems == []
