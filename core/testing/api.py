"""Calling the API as an integrator does: an action carries the version it was decided on."""

from __future__ import annotations

from typing import Any


def act(client: Any, url: str, headers: dict[str, str], **how: Any) -> Any:
    """POST the action at ``url`` (``…/shipments/<id>/actions/<action>``) with ``If-Match``:
    the ETag of the shipment as ``headers``' caller reads it now (the API answers 428
    without one)."""
    shipment_url = url.split("/actions/", 1)[0]
    seen = client.get(shipment_url, headers=headers)
    assert seen.status_code == 200, f"cannot read {shipment_url} for its ETag: {seen.status_code}"
    return client.post(url, headers={**headers, "If-Match": seen.headers["ETag"]}, **how)
