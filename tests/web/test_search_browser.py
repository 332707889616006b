"""Issue 26, point 2, in a real browser: an officer types a fragment of an importer's
name into the navigation's search box and finds the shipment; its page prints clean."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from caratflow.accounts.provisioning import actor_for
from caratflow.db import unit_of_work
from caratflow.models import Role
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.people import PASSWORD, add_person
from caratflow.testing.servers import LiveServer
from caratflow.web import create_app


@pytest.fixture
def presented(committed_runtime) -> Iterator[tuple[LiveServer, int, str, str]]:
    """A shipment to an importer with a name of its own, and an officer who may read it."""
    importer = f"Rijfstraat Brilliants {uuid.uuid4().hex[:6]} NV"
    officer = f"searcher-{uuid.uuid4().hex[:6]}"
    with unit_of_work(committed_runtime.sessions) as session:
        person = add_person(
            session, committed_runtime.plugins, Role.OFFICER, name=officer, password=PASSWORD
        )
        payload = shipment_payload(
            **{
                "certificate.number": f"CA{uuid.uuid4().int % 10**7:07d}",
                "certificate.importer.name": importer,
            }
        )
        shipment = committed_runtime.shipments.present(session, payload, actor_for(person))
        shipment_id = shipment.shipment.id
    with LiveServer(create_app({}, runtime=committed_runtime)) as live:
        yield live, shipment_id, importer, officer


def test_a_fragment_of_the_importers_name_finds_the_shipment(new_page, presented):
    server, shipment_id, importer, officer = presented
    page, problems = new_page()
    page.goto(f"{server.url}/login")
    page.fill("#name", officer)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{server.url}/")
    typed = f"LLIANTS {importer.split()[2]}"  # from inside a word, in another case
    page.fill("#nav-q", typed)
    page.press("#nav-q", "Enter")
    page.wait_for_url(f"{server.url}/shipments/?q=*")
    rows = page.locator("#shipments tbody tr")
    assert rows.count() == 1, page.content()
    assert importer in rows.first.inner_text()
    assert page.input_value("#q") == typed  # kept in the box and the URL
    rows.first.locator(f'a[href="/shipments/{shipment_id}"]').first.click()
    page.wait_for_url(f"{server.url}/shipments/{shipment_id}")
    page.emulate_media(media="print")  # the print stylesheet: the record, no navigation
    assert not page.locator("header.top").is_visible()
    assert page.locator("main").is_visible()
    assert problems == []
