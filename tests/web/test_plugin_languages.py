"""Issue 23, point 3: what a plugin says reads in the reader's language on every page of a
demo (states, actions, findings, deadlines, reports, the lineage page, the public check),
asserted against the English of the plugins' own catalogues, so that it cannot pass for
want of anything to look for."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from caratflow.accounts.provisioning import load_demo
from caratflow.jurisdiction.reports import Period
from caratflow.jurisdiction.texts import placeholders
from caratflow.ledger.leaves import finding_row
from caratflow.models import FindingRecord, IssuedDocument, Role
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.people import post_form

LANGUAGES = ("nb", "nl", "fr", "de")
DEMO_DAY = date(2026, 11, 20)
LINKS = re.compile(r'href="(/(?:shipments/\d+(?:/actions/\w+)?|identities/[^"/]+/lineage))"')
HIDDEN = re.compile(r"<(script|style|pre)\b.*?</\1>", re.S)  # <pre>: the data as given
CODES = re.compile(r"[\w-]+(?:[._][\w-]+)+")  # rule ids, field names: the law's own codes
TITLES = re.compile(r'\btitle="([^"]*)"')


def visible_text(page: str) -> str:
    """What a reader sees of a page, tooltips included, its spaces made single."""
    page = HIDDEN.sub(" ", page)
    text = " ".join([re.sub(r"<[^>]+>", " ", page), *TITLES.findall(page)])
    return " ".join(CODES.sub(" ", html.unescape(text)).split())


def english_patterns(catalogue: Mapping[str, Mapping[str, str]], language: str) -> dict[str, Any]:
    """For each entry that reads otherwise in ``language``: its English, as a pattern
    (parameters match anything), whole words only."""
    found = {}
    for msgid, texts in catalogue.items():
        english, translated = texts["en"], texts[language]
        if english.casefold() == translated.casefold():
            continue
        literal = re.split(r"\{[^}]*\}", english)
        pattern = r".{1,80}?".join(re.escape(part) for part in literal)
        if len(" ".join(literal).split()) < 2 or (
            placeholders(english) and not any(len(part.strip()) > 8 for part in literal)
        ):
            continue  # one word (a code's, a citation's, the data's too), or all parameters
        found[msgid] = re.compile(rf"(?<!\w){pattern}(?!\w)")
    return found


def english_on(text: str, patterns: Mapping[str, Any]) -> list[str]:
    """Each English text found, with what surrounds it."""
    return [
        f"{msgid}: …{text[max(0, m.start() - 40) : m.end() + 20]}…"
        for msgid, p in patterns.items()
        if (m := p.search(text))
    ]


@pytest.fixture
def demo(session, runtime) -> Iterator[None]:
    assert load_demo(session, runtime.plugins, runtime.shipments) > 0
    session.commit()
    yield


def pages_of_the_demo(client: Any, session: Any, host: Any) -> Iterator[tuple[str, str]]:
    """Every page an officer of the demo reads: lists, each shipment, each decision form,
    the reports, the lineage pages, the public check of each issued document."""
    seen: set[str] = set()
    queue = ["/", "/shipments/", "/deadlines", "/workflow", "/reports"]
    for name in host.plugin_names:
        for report in host.contributions(name).reports:
            period = Period.containing(DEMO_DAY, report.period).label
            queue.append(f"/reports?authority={_authority(report.plugin)}&report={report.name}")
            queue[-1] += f"&period={period}"
    queue += [f"/verify/{n}" for n in session.scalars(select(IssuedDocument.number))]
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        assert response.status_code in (200, 422), url
        page = response.text
        queue += [link for link in LINKS.findall(page) if link not in seen]
        yield url, page


def _authority(plugin: str) -> str:
    return "NO" if plugin == "norway" else "BE"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_plugin_english_on_the_pages_of_a_demo(
    demo, browser, make_person, runtime, session, language
):
    host = runtime.plugins
    patterns = english_patterns(host.texts(), language)
    assert len(patterns) > 300  # the catalogues' English, to look for
    reader = browser(make_person(Role.SUPERVISOR, "BE", "NO"))
    post_form(reader, "/shipments/", "/locale", locale=language)
    english, read = {}, 0
    for url, page in pages_of_the_demo(reader, session, host):
        read += 1
        if found := english_on(visible_text(page), patterns):
            english[url] = found
    assert read > 20
    assert english == {}, "\n".join(f"{url}: {found}" for url, found in english.items())


def test_the_api_gives_each_finding_in_the_readers_language_beside_its_record(
    client, make_token, session
):
    """The recorded (and sealed) message stays English; ``text`` is the reader's, from the
    message id and parameters stored with the finding."""
    token = make_token(Role.OFFICER, "NO")
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "de-DE,de;q=0.9"}
    payload = shipment_payload(authority="NO", entry_point="OSL")
    body = client.post("/api/v1/shipments", json=payload, headers=headers).json
    [entry] = [f for f in body["findings"] if f["rule"] == "no.import.gardermoen"]
    assert entry["message"] == "entered through OSL"
    assert entry["message_id"] == "no.import.entered" and entry["params"] == {"entry": "OSL"}
    assert entry["text"] == "eingeführt über OSL"
    record = session.scalars(
        select(FindingRecord).where(FindingRecord.message_id == "no.import.entered")
    ).one()
    assert record.message == "entered through OSL"  # what the ledger sealed
    sealed = finding_row(record)
    assert sealed["message"] == "entered through OSL"
    assert sealed["message_id"] == "no.import.entered"  # sealed too: the French cannot drift

    history = client.get(
        f"/api/v1/shipments/{body['id']}/history", headers={**headers, "Accept-Language": "fr"}
    ).json
    texts = [f["text"] for e in history["events"] for f in e["findings"]]
    assert "entré par OSL" in texts


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_lineage_page_reads_in_the_readers_language(
    client, auth, browser, make_person, runtime, language
):
    """belgium_g7's lineage page, its drawing and its problems (a Russian share, a stone
    registered without its rough) in each language, none of its English left."""
    parcel = {"id": "BE-R-9", "kind": "rough_parcel", "carats": "5.00"}
    parcel |= {"origin": {"AO": "99", "RU": "1"}, "documents": ["a" * 64]}
    for body in (
        parcel,
        {"id": "BE-P-9", "kind": "polished", "carats": "0.90", "parents": [{"id": "BE-R-9"}]},
        {"id": "BE-P-8", "kind": "polished", "carats": "0.50", "origin": {"BW": "100"}},
    ):
        response = client.post("/api/v1/identities", json=body, headers=auth)
        assert response.status_code == 201, response.json
    reader = browser(make_person(Role.AUDITOR, "BE"))
    post_form(reader, "/shipments/", "/locale", locale=language)
    patterns = english_patterns(runtime.plugins.texts(), language)
    for number in ("BE-P-9", "BE-P-8"):
        page = reader.get(f"/identities/{number}/lineage")
        assert page.status_code == 200
        assert 'data-lineage="' in page.text
        assert english_on(visible_text(page.text), patterns) == []
