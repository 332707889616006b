"""Issue 26, point 1, in a real browser: the second officer finds the four-eyes request
on his start page and confirms it from there, without opening the shipment first."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from caratflow.accounts.provisioning import actor_for
from caratflow.case import foureyes
from caratflow.db import unit_of_work
from caratflow.models import Role
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.people import PASSWORD, add_person
from caratflow.testing.servers import LiveServer
from caratflow.web import create_app

REMEDY = {"ground": "caused_by_another_authority"}


@pytest.fixture
def held_for_four_eyes(committed_runtime) -> Iterator[tuple[LiveServer, int]]:
    """Anna held a shipment and asked for its remedial release; Bert is her colleague."""
    service = committed_runtime.shipments
    with unit_of_work(committed_runtime.sessions) as session:
        anna = add_person(session, committed_runtime.plugins, Role.OFFICER, name="anna")
        add_person(session, committed_runtime.plugins, Role.OFFICER, name="bert", password=PASSWORD)
        foureyes.set_four_eyes(session, "BE", ["remediate"], by="admin")
        actor = actor_for(anna)
        shipment = service.present(session, shipment_payload(), actor).shipment
        service.act(session, shipment.id, "hold", actor, reason="seal S-991 differs")
        service.decide(
            session, shipment.id, "remediate", actor, reason="record corrected", inputs=REMEDY
        )
        shipment_id = shipment.id
    with LiveServer(create_app({}, runtime=committed_runtime)) as live:
        yield live, shipment_id


def test_the_second_officer_confirms_the_four_eyes_request_from_his_start_page(
    new_page, held_for_four_eyes
):
    server, shipment_id = held_for_four_eyes
    page, problems = new_page()
    page.goto(f"{server.url}/login")
    page.fill("#name", "bert")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{server.url}/")
    assert page.get_attribute("#nav-work .count", "data-count") != "0"
    page.click("#nav-work")
    page.wait_for_url(f"{server.url}/work")
    request = page.locator(f'#requests li:has(a[href="/shipments/{shipment_id}"])')
    assert "requested by anna" in request.inner_text()
    request.locator("button[type=submit]").click()
    page.wait_for_url(f"{server.url}/shipments/{shipment_id}")
    assert page.locator(".headline [data-state]").get_attribute("data-state") == "released"
    page.goto(f"{server.url}/work")
    assert page.locator(f'#requests a[href="/shipments/{shipment_id}"]').count() == 0
    assert problems == []
