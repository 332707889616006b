"""A plugin's own message catalogue (issue 23): what a person reads of it (its states,
actions, declared fields' labels and help, record titles, findings, deadlines, reports,
documents) in every language of the UI.

Kept as TOML beside the plugin's law, one table per message id (a state's or an
action's name, the English text of a label, or a finding's id)::

    [store_bonded]
    en = "store in the bonded warehouse"
    nb = "lagre på tollager"

    [no.entered_through]
    en = "entered through {entry}"
    nb = "innført gjennom {entry}"

registered with ``caratflow_texts_register``. A test fails when an entry lacks a language
or a translation names other parameters than the English.

A rule writes its finding with ``Messages``: ``passed(T("no.entered_through", entry=...))``
gives a ``Text``, a ``str`` holding the English (the recorded, sealed message) that also
remembers its id and parameters, so that every reader gets it in their language
(``render``). Every face renders through ``render``; nothing else formats a plugin text.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel import dates

from caratflow.jurisdiction.clocks import Period

LANGUAGES = ("en", "nb", "nl", "fr", "de")
Catalogue = Mapping[str, Mapping[str, str]]
NESTED = "$text"  # a parameter that is itself a catalogue text: {"$text": id, "params": {...}}
JOINED = "$join"  # several, joined: {"$join": "; ", "items": [...]}


def load_catalogue(path: Path) -> dict[str, dict[str, str]]:
    with path.open("rb") as file:
        return {msgid: dict(texts) for msgid, texts in _flatten(tomllib.load(file))}


def _flatten(table: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    """Dotted ids (``[eu.verified]``) read by TOML as nested tables, flattened back. An id
    may be an entry and the prefix of others at once: Norway's ``[no]`` (the answer) and
    its ``[no.export.…]`` texts."""
    for key, value in table.items():
        strings = {k: v for k, v in value.items() if isinstance(v, str)}
        if strings:
            yield f"{prefix}{key}", strings
        children = {k: v for k, v in value.items() if isinstance(v, Mapping)}
        if children:
            yield from _flatten(children, f"{prefix}{key}.")


def missing(catalogue: Catalogue, languages: Iterable[str] = LANGUAGES) -> list[str]:
    """``msgid [lang]`` for every translation the catalogue lacks."""
    wanted = list(languages)
    return [
        f"{msgid} [{lang}]"
        for msgid, texts in catalogue.items()
        for lang in wanted
        if not str(texts.get(lang) or "").strip()
    ]


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def mismatched(catalogue: Catalogue) -> list[str]:
    """``msgid [lang]`` for every translation naming other parameters than the English."""
    return [
        f"{msgid} [{lang}]"
        for msgid, texts in catalogue.items()
        for lang, text in texts.items()
        if placeholders(text) != placeholders(texts.get("en", ""))
    ]


class Text(str):
    """A plugin text as English (what is recorded), with its message id and parameters."""

    msgid: str
    params: dict[str, Any]

    def __new__(cls, english: str, msgid: str, params: Mapping[str, Any] | None = None) -> Text:
        text = super().__new__(cls, english)
        text.msgid, text.params = msgid, dict(params or {})
        return text


def recorded(message: str, msgid: str | None, params: Mapping[str, Any] | None) -> str:
    """A finding's message read back from its record: a ``Text`` again where it has an id."""
    return Text(message, msgid, params) if msgid else message


class Joined(tuple[Any, ...]):
    """Several parameters shown as one, joined by ``sep`` (each may be a ``Text``)."""

    sep: str

    def __new__(cls, sep: str, items: Iterable[Any]) -> Joined:
        joined = super().__new__(cls, items)
        joined.sep = sep
        return joined


def plain(value: Any) -> Any:
    """A parameter as stored (JSON): a nested text by its id, dates and amounts as text."""
    if isinstance(value, Text):
        return {NESTED: value.msgid, "params": value.params}
    if isinstance(value, Joined):
        return {JOINED: value.sep, "items": [plain(item) for item in value]}
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(plain(v)) for v in value)
    return value


class Messages:
    """A plugin's catalogue as its rules write with it: ``T(msgid, **params)``."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue

    def __call__(self, msgid: str, **params: Any) -> Text:
        if msgid not in self.catalogue:
            raise KeyError(f"{msgid!r} is not in the plugin's catalogue")
        stored = {name: plain(value) for name, value in params.items()}
        english = {
            n: v if isinstance(v, date | Decimal | int) else stored[n] for n, v in params.items()
        }
        return Text(render(self.catalogue, msgid, "en", english), msgid, stored)

    def period(self, period: Period | str) -> str:
        """A legal period (or its text, as a deadline keeps it) in words of the catalogue's
        ``period.<unit>.one`` or ``.many`` entries where it has them, else as written."""
        if isinstance(period, str):
            try:
                period = Period.parse(period)
            except ValueError:
                return period
        number = "one" if period.count == 1 else "many"
        msgid = f"period.{str(period.unit).replace(' ', '_')}.{number}"
        if msgid in self.catalogue and not period.to_the_day:
            return self(msgid, count=period.count)
        return str(period)


def render(
    catalogue: Catalogue,
    msgid: str | None,
    language: str,
    params: Mapping[str, Any] | None = None,
    default: str | None = None,
) -> str:
    """``msgid`` in ``language`` (else English, else ``default``, else the id itself),
    its parameters filled in, nested texts in the same language."""
    if not msgid:
        return ""
    texts = catalogue.get(msgid) or {}
    template = texts.get(language) or texts.get("en")
    if template is None:
        return msgid if default is None else default
    if not params:
        return template
    values = {name: _value(catalogue, value, language) for name, value in params.items()}
    return _Filler(language).vformat(template, (), _Lenient(values))


def _value(catalogue: Catalogue, value: Any, language: str) -> Any:
    if isinstance(value, Mapping) and NESTED in value:
        return render(catalogue, value[NESTED], language, value.get("params"))
    if isinstance(value, Mapping) and JOINED in value:
        return value[JOINED].join(str(_value(catalogue, v, language)) for v in value["items"])
    return value


class _Lenient(dict[str, Any]):
    """A parameter the recorded finding lacks reads as its name, not as an error."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class _Filler(string.Formatter):
    """Fills a template in one language: a date parameter with a format (``{due_on:%d %B
    %Y}``) as that language writes dates (the stored parameter is ISO text)."""

    def __init__(self, language: str):
        self.language = language

    def format_field(self, value: Any, format_spec: str) -> str:
        if not format_spec.startswith("%"):
            return super().format_field(value, format_spec)
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value[:10])
            except ValueError:
                return value
        if self.language == "en":
            return format(value, format_spec)
        wanted = "full" if "%A" in format_spec else "long"
        return dates.format_date(value, wanted, locale=self.language)
