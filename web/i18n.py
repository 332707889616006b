"""Languages (Flask-Babel) and how dates, instants and amounts read in each.

English, Norwegian Bokmål, Dutch, French and German. The language is the user's
remembered choice, else the one chosen before signing in, else the browser's. Instants
are shown in the zone of the authority they concern (a Brussels presentation in
Brussels time), dates and amounts in the reader's language.

Catalogues live in ``translations/``: each ``.po`` with its compiled ``.mo``, both
committed, so a clean clone works with ``pip install -e .`` and no build step (tests
fail when a text is untranslated or a ``.mo`` is stale). After changing a text::

    pybabel extract -F web/babel.cfg -k _l -k lazy_gettext --no-location \
        --sort-output -o web/translations/messages.pot .
    pybabel update -i web/translations/messages.pot -d web/translations --no-location
    (translate the new entries in each messages.po)
    pybabel compile -d web/translations
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, dates, numbers
from flask import Flask, current_app, g, request, session
from flask_babel import Babel, get_locale, lazy_gettext
from flask_login import current_user
from jinja2 import pass_context

from caratflow.jurisdiction import texts

LOCALES = {
    "en_GB": "English",
    "nb": "Norsk bokmål",
    "nl": "Nederlands",
    "fr": "Français",
    "de": "Deutsch",
}
DEFAULT_LOCALE = "en_GB"
NORWEGIAN = ("no", "nn")  # browsers that ask for Norwegian in general get Bokmål

# Names (and descriptions) of core states and actions as officers read them; a plugin's
# own come from its catalogue (``plugin_text``).
LABELS = {
    "presented": lazy_gettext("presented"),
    "verified": lazy_gettext("verified"),
    "held": lazy_gettext("held"),
    "released": lazy_gettext("released"),
    "exported": lazy_gettext("exported"),
    "refused": lazy_gettext("refused"),
    "present": lazy_gettext("present"),
    "verify": lazy_gettext("verify"),
    "hold": lazy_gettext("hold"),
    "release": lazy_gettext("release"),
    "export": lazy_gettext("export"),
    "remediate": lazy_gettext("release after remedial action"),
    "refuse": lazy_gettext("refuse"),
    "import": lazy_gettext("import"),
    "transit": lazy_gettext("transit"),
    "rough": lazy_gettext("rough"),
    "polished": lazy_gettext("polished"),
    "synthetic": lazy_gettext("synthetic"),
    "officer": lazy_gettext("officer"),
    "supervisor": lazy_gettext("supervisor"),
    "auditor": lazy_gettext("auditor"),
    "admin": lazy_gettext("administrator"),
    "pass": lazy_gettext("pass"),
    "info": lazy_gettext("info"),
    "warn": lazy_gettext("warning"),
    "open": lazy_gettext("open"),
    "met": lazy_gettext("met"),
    "missed": lazy_gettext("missed"),
    "suspended": lazy_gettext("suspended"),
    "cancelled": lazy_gettext("cancelled"),
    # the core workflow's descriptions of its states and decisions (jurisdiction/workflow.py)
    "presented with its certificate; not yet verified": lazy_gettext(
        "presented with its certificate; not yet verified"
    ),
    "content verified against the certificate": lazy_gettext(
        "content verified against the certificate"
    ),
    "detained: a condition of the law is not met": lazy_gettext(
        "detained: a condition of the law is not met"
    ),
    "released into free circulation": lazy_gettext("released into free circulation"),
    "left under a validated export certificate": lazy_gettext(
        "left under a validated export certificate"
    ),
    "refused; the goods may not pass": lazy_gettext("refused; the goods may not pass"),
    "content checked against the certificate; the record is clean": lazy_gettext(
        "content checked against the certificate; the record is clean"
    ),
    "detain the consignment": lazy_gettext("detain the consignment"),
    "release the verified consignment": lazy_gettext("release the verified consignment"),
    "let the verified consignment leave": lazy_gettext("let the verified consignment leave"),
    "release after remedial action, with the recorded ground": lazy_gettext(
        "release after remedial action, with the recorded ground"
    ),
    "refuse the consignment for good": lazy_gettext("refuse the consignment for good"),
}

babel = Babel()


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.filters.update(
        instant=instant,
        day=day,
        month=month,
        decimal=decimal,
        usd=usd,
        label=per_request(label),
        text=per_request(plugin_text),
        finding=finding_text,
        period=period_text,
        count=count,
        by_severity=by_severity,
    )
    app.jinja_env.globals.update(LOCALES=LOCALES, html_lang=html_lang)


def per_request(function: Callable[..., str]) -> Callable[..., str]:
    """A filter Jinja must call at each rendering: on a constant (``'g7.lineage.clean'|text``)
    it would otherwise call it once, when compiling, and keep that reader's language."""

    @pass_context
    def each_time(_context: Any, *args: Any, **kwargs: Any) -> str:
        return function(*args, **kwargs)

    return each_time


def select_locale() -> str:
    chosen = getattr(current_user, "locale", None) if current_user else None
    if chosen in LOCALES:
        return chosen
    if session.get("locale") in LOCALES:
        return session["locale"]
    for value, _quality in request.accept_languages:  # the browser's best first
        language = value.replace("_", "-").split("-")[0].lower()
        language = "nb" if language in NORWEGIAN else language
        for code in LOCALES:
            if code.split("_")[0] == language:
                return code
    return DEFAULT_LOCALE


def html_lang() -> str:
    return str(get_locale()).replace("_", "-")


class Formats:
    """One language's patterns, parsed once per process (a list page formats hundreds)."""

    def __init__(self, code: str):
        self.locale = Locale.parse(code)
        self.date = dates.get_date_format("medium", self.locale)
        self.clock = dates.parse_pattern("HH:mm")
        self.exact = numbers.parse_pattern("#,##0.00##")
        self.whole = numbers.parse_pattern(self.locale.decimal_formats[None].pattern)
        self.currency = self.locale.currency_formats["standard"]
        # Made within a request in this language (``formats()``), so these are translated.
        self.labels = {name: str(text) for name, text in LABELS.items()}


@cache
def _formats(code: str) -> Formats:
    return Formats(code)


def formats() -> Formats:
    """The reader's formats (and labels, translated), looked up once per request."""
    if "formats" not in g:
        g.formats = _formats(str(get_locale()))
    return g.formats


def instant(value: datetime | None, zone: str = "UTC") -> str:
    """An instant in ``zone``, as the reader's language writes it, with the zone's name."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(zone))
    f = formats()
    return f"{f.date.apply(local, f.locale)} {f.clock.apply(local, f.locale)} {local.tzname()}"


def day(value: date | None) -> str:
    if value is None:
        return ""
    f = formats()
    return f.date.apply(value, f.locale)


def short_day(value: date) -> str:
    """Day and month, for a chart's axis (``8 Dec``, ``8. Dez.``)."""
    return dates.format_skeleton("dMMM", value, locale=formats().locale)


def month(value: date) -> str:
    return dates.format_skeleton("yMMMM", value, locale=formats().locale)


def decimal(value: Decimal | int | None) -> str:
    """An exact amount (carats) in the reader's notation: two decimals, or every stored one."""
    if value is None:
        return ""
    f = formats()
    return f.exact.apply(value, f.locale, decimal_quantization=False)


SEVERITY = {"refuse": 0, "hold": 1, "warn": 2, "info": 3, "pass": 4}


def by_severity(findings: Iterable[Any]) -> list[Any]:
    """What stops a shipment first, then what warns, then what passed."""

    def rank(finding: Any) -> int:
        return SEVERITY.get(str(getattr(finding.outcome, "value", finding.outcome)), 5)

    return sorted(findings, key=rank)


def usd(value: Decimal | None) -> str:
    if value is None:
        return ""
    f = formats()
    return f.currency.apply(value, f.locale, currency="USD")


def count(value: int) -> str:
    f = formats()
    return f.whole.apply(value, f.locale)


def label(name: str | None) -> str:
    if not name:
        return ""
    known = formats().labels.get(name)
    return known if known is not None else plugin_text(name, name.replace("_", " "))


def reader_language() -> str:
    return str(get_locale()).split("_")[0]


def _catalogue() -> Mapping[str, Mapping[str, str]]:
    runtime = current_app.extensions.get("caratflow")
    return runtime.plugins.texts() if runtime is not None else {}


def plugin_text(msgid: str | None, default: str | None = None, **params: Any) -> str:
    """A plugin's text in the reader's language, from its own catalogue (issue 23);
    as written where it has none."""
    return texts.render(_catalogue(), msgid, reader_language(), params, default)


def period_text(period: str) -> str:
    """A legal period ("10 working days") in the reader's language, in the words of the
    plugins' catalogues."""
    said = texts.Messages(_catalogue()).period(period)
    return plugin_text(said.msgid, said, **said.params) if isinstance(said, texts.Text) else said


def finding_text(finding: Any) -> str:
    """A finding's message in the reader's language (a record, a rule's finding or its
    JSON); the recorded English where it was written without a message id."""
    if isinstance(finding, Mapping):
        message, msgid, params = (
            finding["message"],
            finding.get("message_id"),
            finding.get("params"),
        )
    else:
        message = finding.message
        msgid = getattr(finding, "message_id", None) or getattr(message, "msgid", None)
        params = getattr(finding, "message_params", None) or getattr(message, "params", None)
    return plugin_text(msgid, str(message), **(params or {})) if msgid else str(message)


def spoken(body: Any) -> Any:
    """A JSON body with each finding's ``text`` in the reader's language beside its
    recorded ``message`` (the API's answers, issue 23)."""
    if isinstance(body, Mapping):
        found = {key: spoken(value) for key, value in body.items()}
        msgid = found.get("message_id", 0)
        if isinstance(found.get("message"), str) and (msgid is None or isinstance(msgid, str)):
            found["text"] = finding_text(found)
        return found
    if isinstance(body, list):
        return [spoken(item) for item in body]
    return body
