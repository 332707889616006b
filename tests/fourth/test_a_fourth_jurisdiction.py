"""A fourth jurisdiction's declared field, collected on every face (issue 23)."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import select

from caratflow.cli import main
from caratflow.cli.context import CliContext
from caratflow.models import Role, Shipment
from caratflow.testing.payloads import shipment_payload

ICELANDIC = {"authority": "IS", "entry_point": "KEF"}


def test_the_fourth_jurisdictions_field_is_on_the_present_form(browser, make_person):
    officer = browser(make_person(Role.OFFICER, "IS"))
    page = officer.get("/shipments/new").text
    assert 'name="f.landing_permit"' in page and "Landing permit" in page


def test_the_fourth_jurisdictions_field_is_in_the_api_schema_and_checked(
    client, make_token, session
):
    document = client.get("/api/v1/openapi.json").json
    field = document["components"]["schemas"]["ShipmentIn"]["properties"]["landing_permit"]
    assert (field["x-rule"], field["x-article"], field["examples"]) == (
        "fourth.landing_permit",
        "Test Act §1",
        ["LP-2026-7"],
    )
    auth = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'IS')}"}
    refused = client.post("/api/v1/shipments", json=shipment_payload(**ICELANDIC), headers=auth)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json["errors"]] == ["landing_permit"]


def test_the_fourth_jurisdictions_field_is_a_cli_input(runtime, make_person, session, tmp_path):
    officer = make_person(Role.OFFICER, "IS")
    file = tmp_path / "shipment.json"
    file.write_text(json.dumps(shipment_payload(**ICELANDIC)))
    runner = CliRunner()

    def cli(*args: str):
        return runner.invoke(main, list(args), obj=CliContext(runtime), catch_exceptions=False)

    missing = cli("present", str(file), "--as", officer.name)
    assert missing.exit_code == 1 and "landing_permit: Landing permit is required" in missing.stderr
    given = cli("present", str(file), "--as", officer.name, "--input", "landing_permit=LP-9")
    assert given.exit_code == 0, given.stderr
    shown = json.loads(given.stdout)
    stored = session.scalar(select(Shipment).where(Shipment.id == shown["id"]))
    assert stored.details == {"landing_permit": "LP-9"}
