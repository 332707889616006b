"""Five languages: every text of the pages translated, the catalogues compiled, the
choice remembered, dates and amounts written as each language writes them."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

import caratflow.web
from caratflow.models import Role
from caratflow.testing.payloads import shipment_payload
from caratflow.web import i18n

WEB = Path(caratflow.web.__file__).parent
TRANSLATIONS = WEB / "translations"
LANGUAGES = [code for code in i18n.LOCALES if code != i18n.DEFAULT_LOCALE]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def _key(text: str | list[str] | tuple[str, ...]) -> str | tuple[str, ...]:
    return tuple(text) if isinstance(text, list | tuple) else text


def texts_in_the_code() -> set[str | tuple[str, ...]]:
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    return {
        _key(message)
        for _file, _line, message, _comments, _context in extract_from_dir(
            WEB, method_map, keywords=keywords
        )
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_text_of_the_pages_is_translated(language):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=language)
    missing = []
    for text in texts_in_the_code():
        found = catalog.get(text)
        strings = found.string if found else None
        if not strings or (isinstance(strings, tuple) and not all(strings)):
            missing.append(text)
    assert not missing, (
        f"{language}: translate these (see web/i18n.py): {sorted(map(str, missing))}"
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_every_placeholder(language):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=language)
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == wanted, (language, message.id, string)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_is_the_po_file(language):
    """The .mo files are committed (a clean clone works); they must say what the .po says."""
    folder = TRANSLATIONS / language / "LC_MESSAGES"
    with (folder / "messages.po").open("rb") as f:
        source = {_key(m.id): _key(m.string) for m in read_po(f, locale=language) if m.id}
    with (folder / "messages.mo").open("rb") as f:
        compiled = {_key(m.id): _key(m.string) for m in read_mo(f) if m.id}
    assert compiled == source, f"recompile: pybabel compile -d {TRANSLATIONS}"


def test_the_norwegian_ui_speaks_norwegian(browser, make_person, client, auth):
    shipment = client.post("/api/v1/shipments", json=shipment_payload(), headers=auth).json
    officer = browser(make_person(Role.OFFICER, "BE"))
    officer.environ_base["HTTP_ACCEPT_LANGUAGE"] = "nb-NO,nb;q=0.9,en;q=0.5"
    page = officer.get(f"/shipments/{shipment['id']}").text
    assert '<html lang="nb">' in page
    for norwegian in ("Forsendelse", "Tidslinje", "Sertifikat", "Mulige beslutninger nå"):
        assert norwegian in page
    assert "20. nov. 2026 10:15 CET" in page  # the presentation, in Brussels time
    assert "123,45" in page  # carats with a decimal comma


@pytest.mark.parametrize(
    ("locale", "instant", "carats", "usd"),
    [
        ("en_GB", "20 Nov 2026 10:15 CET", "1,250.40", "US$2,875,000.00"),
        ("nb", "20. nov. 2026 10:15 CET", "1\u00a0250,40", "2\u00a0875\u00a0000,00\u00a0USD"),
        ("nl", "20 nov 2026 10:15 CET", "1.250,40", "US$\u00a02.875.000,00"),
        ("fr", "20 nov. 2026 10:15 CET", "1\u202f250,40", "2\u202f875\u202f000,00\u00a0$US"),
        ("de", "20.11.2026 10:15 CET", "1.250,40", "2.875.000,00\u00a0$"),
    ],
)
def test_dates_and_amounts_read_as_each_language_writes_them(app, locale, instant, carats, usd):
    presented = datetime(2026, 11, 20, 9, 15, tzinfo=UTC)
    with app.test_request_context(headers={"Accept-Language": locale.replace("_", "-")}):
        assert i18n.instant(presented, "Europe/Brussels") == instant
        assert i18n.decimal(Decimal("1250.40")) == carats
        assert i18n.usd(Decimal("2875000.00")) == usd
        assert i18n.day(date(2026, 11, 20))


def test_a_browser_asking_for_norwegian_in_general_gets_bokmal(app):
    with app.test_request_context(headers={"Accept-Language": "no, en;q=0.5"}):
        assert i18n.select_locale() == "nb"
    with app.test_request_context(headers={"Accept-Language": "da, sv"}):
        assert i18n.select_locale() == "en_GB"
