"""Issue 26, point 6: the API viewer works offline, in a real browser.

Every request the page makes is intercepted: one for any other host than this server
fails the test (and is aborted), so a CDN link cannot sneak back in.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from caratflow.testing.servers import LiveServer
from caratflow.web import create_app


@pytest.fixture
def server(committed_runtime) -> Iterator[LiveServer]:
    with LiveServer(create_app({}, runtime=committed_runtime)) as live:
        yield live


def test_the_docs_page_loads_with_no_request_leaving_the_server(new_page, server):
    page, problems = new_page()
    asked: list[str] = []
    elsewhere: list[str] = []

    def only_here(route: Any) -> None:
        url = route.request.url
        asked.append(url)
        if url.startswith(f"{server.url}/") or url.startswith("data:"):
            route.continue_()
        else:
            elsewhere.append(url)
            route.abort()

    page.route("**/*", only_here)
    page.goto(f"{server.url}/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "caratflow API v1" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() >= 10  # every operation, by tag
    # Open the presentation and see its example body, as an integrator would.
    page.click(".opblock-post:has-text('/api/v1/shipments') >> nth=0")
    page.wait_for_selector(".opblock-body .body-param__example, .opblock-body .microlight")
    assert "Thune Gullsmed AS" in page.inner_text(".opblock.is-open")  # SHIPMENT_EXAMPLE
    assert elsewhere == []
    assert f"{server.url}/api/v1/openapi.json" in asked
    assert [p for p in problems if "Content Security Policy" in p] == []
