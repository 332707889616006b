"""Each plugin's own message catalogue (issue 23): every entry in every language of the UI,
and, for the plugins that ship one, every state, action and declared field they bring."""

from __future__ import annotations

import re
from datetime import date

import pytest

from caratflow.jurisdiction.fields import Spec, specs
from caratflow.jurisdiction.texts import missing
from caratflow.models import Role
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.people import post_form

SHIPPING = ["norway"]  # the plugins whose whole catalogue is written (EU and G7: to do)


def texts_read(spec: Spec) -> list[str]:
    found = [spec.about.label, *([spec.about.help] if spec.about.help else [])]
    return found + [t for child in spec.children for t in texts_read(child)]


def test_every_catalogue_entry_is_in_every_language(plugin_host):
    for name in plugin_host.plugin_names:
        assert missing(plugin_host.contributions(name).texts) == [], name


@pytest.mark.parametrize("plugin", SHIPPING)
def test_the_catalogue_names_every_state_action_and_field_of_its_plugin(plugin_host, plugin):
    contributed = plugin_host.contributions(plugin)
    wanted = {s.name for s in contributed.workflow.states}
    wanted |= {t.action for t in contributed.workflow.transitions}
    for fieldset in contributed.fields.sets:
        wanted.add(fieldset.title or (fieldset.model.__doc__ or "").strip())
        for spec in specs(fieldset.model, {}, date.today()):
            wanted |= set(texts_read(spec))
            wanted |= set(spec.choices or [])
    wanted -= {"verify", "hold", "refuse", "verified", "held", "refused", ""}  # the core's own
    assert sorted(wanted - set(contributed.texts)) == []


def test_a_norwegian_control_reads_in_norwegian(browser, make_person, client, make_token):
    auth = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'NO')}"}
    payload = shipment_payload(authority="NO", entry_point="OSL")
    shipment = client.post("/api/v1/shipments", json=payload, headers=auth).json["id"]
    officer = browser(make_person(Role.OFFICER, "NO"))
    post_form(officer, "/shipments/", "/locale", locale="nb")
    page = officer.get(f"/shipments/{shipment}/actions/control_documents").text
    assert "<h1>dokumentkontroll</h1>" in page
    assert re.search(r"Resultat \*</label>", page) and ">godkjent</option>" in page
    assert "Outcome" not in page and "Remarks" not in page
    detail = officer.get(f"/shipments/{shipment}").text
    assert "Forhåndsmelding" in detail and "Mottatt" in detail and "Received at" not in detail
