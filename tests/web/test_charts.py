"""Issue 26, point 3: the dashboard's charts have axes with titles and ticks, the week's
decisions and holds are charted, and the workflow diagram counts the shipments in each
state."""

from __future__ import annotations

import re

from caratflow.models import Role
from caratflow.testing.api import act
from caratflow.testing.payloads import presented_now


def chart(page: str, name: str) -> str:
    return page.split(f'id="{name}"', 1)[1].split("</figure>", 1)[0]


def test_the_dashboard_charts_have_axes_with_titles(client, auth, browser, make_person):
    created = client.post("/api/v1/shipments", json=presented_now(), headers=auth)
    assert created.status_code == 201, created.json
    shipment = created.json["id"]
    act(client, f"/api/v1/shipments/{shipment}/actions/hold", json={"reason": "seal"}, headers=auth)
    page = browser(make_person(Role.OFFICER, "BE")).get("/").text

    carats = chart(page, "carats-chart")
    assert re.search(r'class="axis-title x-title"[^>]*>Day of \w+ \d{4}<', carats)
    assert re.search(r'class="axis-title y-title"[^>]*>Carats<', carats)
    assert '<text class="tick"' in carats and ">0</text>" in carats  # the value axis from 0
    assert ">150</text>" in carats  # up to a round number above the day's 123.45 ct

    decisions = chart(page, "decisions-chart")
    assert re.search(r'class="axis-title x-title"[^>]*>Week beginning<', decisions)
    assert re.search(r'class="axis-title y-title"[^>]*>Decisions<', decisions)
    assert ">Holds</text>" in decisions  # the legend: two series
    assert "1 decisions, 1 holds" in decisions  # this week's hold, in its tooltip


def test_the_workflow_diagram_counts_the_shipments_in_each_state(
    client, auth, browser, make_person
):
    for number in ("CA1", "CA2"):
        changes = {"certificate.number": number}
        assert (
            client.post(
                "/api/v1/shipments", json=presented_now(**changes), headers=auth
            ).status_code
            == 201
        )
    page = browser(make_person(Role.OFFICER, "BE")).get("/workflow").text
    drawing = page.split('data-state="presented"', 1)[1].split("</g>", 1)[0]
    assert 'class="wf-count"' in drawing and 'data-count="2"' in drawing
    held = page.split('data-state="held"', 1)[1].split("</g>", 1)[0]
    assert 'data-count="0"' in held
