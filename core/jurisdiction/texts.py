"""A plugin's own message catalogue (issue 23): what a person reads of it (its states,
actions, declared fields' labels and help, record titles) in every language of the UI.

Kept as TOML beside the plugin's law, one table per message id (a state's or an
action's name, or the English text of a label)::

    [store_bonded]
    en = "store in the bonded warehouse"
    nb = "lagre på tollager"

registered with ``caratflow_texts_register``. A test fails when an entry lacks a language.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

LANGUAGES = ("en", "nb", "nl", "fr", "de")
Catalogue = Mapping[str, Mapping[str, str]]


def load_catalogue(path: Path) -> dict[str, dict[str, str]]:
    with path.open("rb") as file:
        return {msgid: dict(texts) for msgid, texts in tomllib.load(file).items()}


def missing(catalogue: Catalogue, languages: Iterable[str] = LANGUAGES) -> list[str]:
    """``msgid [lang]`` for every translation the catalogue lacks."""
    wanted = list(languages)
    return [
        f"{msgid} [{lang}]"
        for msgid, texts in catalogue.items()
        for lang in wanted
        if not str(texts.get(lang) or "").strip()
    ]
