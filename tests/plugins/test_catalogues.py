"""Each plugin's own message catalogue (issue 23): every entry in every language of the UI,
and, for the plugins that ship one, every state, action and declared field they bring."""

from __future__ import annotations

import re
from datetime import date

import pytest

from caratflow.jurisdiction.fields import Spec, specs
from caratflow.jurisdiction.texts import mismatched, missing
from caratflow.models import Role
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.people import post_form

SHIPPED = ["eu", "norway", "belgium_g7"]  # the plugins of this repository (not tests' own)
CORE = {"verify", "hold", "refuse", "verified", "held", "refused", "release", "export", ""}


def texts_read(spec: Spec) -> list[str]:
    found = [spec.about.label, *([spec.about.help] if spec.about.help else [])]
    return found + [t for child in spec.children for t in texts_read(child)]


def texts_of(contributed) -> set[str]:
    """Every text a person reads of a plugin: its states and actions with their
    descriptions, its declared fields, its deadlines', reports' and documents' names."""
    wanted = {s.name for s in contributed.workflow.states}
    wanted |= {s.description for s in contributed.workflow.states}
    wanted |= {t.action for t in contributed.workflow.transitions}
    wanted |= {t.description for t in contributed.workflow.transitions}
    for fieldset in contributed.fields.sets if contributed.fields else ():
        wanted.add(fieldset.title or (fieldset.model.__doc__ or "").strip())
        for spec in specs(fieldset.model, {}, date.today()):
            wanted |= set(texts_read(spec))
            wanted |= set(spec.choices or [])
    wanted |= {d.version.id for d in contributed.deadlines}
    for report in contributed.reports:
        wanted |= {report.title, *report.columns}
    for document in contributed.documents:
        wording = document.wording(date.today())
        wanted |= {wording.title, wording.subtitle}
    return wanted - CORE


def test_every_catalogue_entry_is_in_every_language(plugin_host):
    for name in plugin_host.plugin_names:
        assert missing(plugin_host.contributions(name).texts) == [], name


def test_every_translation_keeps_the_parameters_of_the_english(plugin_host):
    for name in plugin_host.plugin_names:
        assert mismatched(plugin_host.contributions(name).texts) == [], name


@pytest.mark.parametrize("plugin", SHIPPED)
def test_the_catalogue_names_everything_its_plugin_shows(plugin_host, plugin):
    contributed = plugin_host.contributions(plugin)
    assert sorted(texts_of(contributed) - set(contributed.texts)) == []


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
