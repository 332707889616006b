"""Forms generated from the plugins' declared fields (issue 23): the same declaration the
engine validates against gives each page its inputs, so a field a plugin adds appears
on the present form, the decision form and the shipment's "add a record" form without a
line of ``web/`` changing.

Every declared input is named ``<prefix><dotted path>`` (``f.advance_notice.received_at``,
``f.stones.0.carats``); ``read`` turns what was posted back into the nested values the
engine takes: an instant typed in the authority's zone becomes an aware ISO 8601 time, an
uploaded file its SHA-256 (the file itself is not kept).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pycountry
from werkzeug.datastructures import FileStorage, MultiDict

from caratflow.jurisdiction.fields import FieldSet, Kind, Spec, from_dotted, specs

PREFIX = "f."
BLANK_ROWS = 3  # rows of a repeating group offered beyond those already filled in


@dataclass(frozen=True)
class Section:
    """One declared model on a page: its title and its fields as the form shows them."""

    fieldset: FieldSet
    title: str
    fields: list[Spec]


def sections(sets: Iterable[FieldSet], facts: Mapping[str, str], day: date) -> list[Section]:
    return [
        Section(
            s, s.title or (s.model.__doc__ or "").strip().split("\n")[0], specs(s.model, facts, day)
        )
        for s in sets
    ]


def distinct(found: Iterable[Section]) -> list[Section]:
    """Each field once: where several sets declare the same name (an export's destination
    under two plugins' law) the first shows it, so one input posts one value; a section
    left without fields is dropped."""
    seen: set[str] = set()
    kept = []
    for section in found:
        fields = [f for f in section.fields if f.name not in seen]
        seen |= {f.name for f in fields}
        if fields:
            kept.append(Section(section.fieldset, section.title, fields))
    return kept


def countries() -> list[tuple[str, str]]:
    return sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda c: c[1])


def local_instant(value: str | None, zone: ZoneInfo) -> str | None:
    """A ``datetime-local`` value (no zone: the authority's) as an aware ISO 8601 time;
    anything else as it was typed, for the engine to refuse naming the field."""
    if not value:
        return value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)).isoformat()


def read(
    form: MultiDict[str, str],
    files: MultiDict[str, FileStorage],
    fields: Sequence[Spec],
    zone: ZoneInfo,
    prefix: str = PREFIX,
) -> dict[str, Any]:
    """The posted declared fields as nested values (blank ones left out)."""
    kinds = dict(_kinds(fields, ""))
    pairs: list[tuple[str, Any]] = []
    for key in form:
        if not key.startswith(prefix):
            continue
        path = key.removeprefix(prefix)
        value = form.get(key)
        if kinds.get(_shape(path)) is Kind.INSTANT:
            value = local_instant(value, zone)
        pairs.append((path, value))
    for key in files:
        upload = files[key]
        if key.startswith(prefix) and upload and upload.filename:
            digest = hashlib.file_digest(upload.stream, "sha256")  # type: ignore[arg-type]
            pairs.append((key.removeprefix(prefix), digest.hexdigest()))
    return from_dotted(pairs)


def _kinds(fields: Sequence[Spec], at: str) -> Iterable[tuple[str, Kind]]:
    for spec in fields:
        path = f"{at}{spec.name}"
        yield path, spec.kind
        if spec.kind is Kind.REPEATING:
            yield from _kinds(spec.children, f"{path}.#.")
        elif spec.kind is Kind.GROUP:
            yield from _kinds(spec.children, f"{path}.")


def _shape(path: str) -> str:
    """``stones.0.carats`` → ``stones.#.carats``: the field whatever the row."""
    return ".".join("#" if part.isdigit() else part for part in path.split("."))


def rows(values: Any) -> int:
    """How many rows to show of a repeating group: those filled in, and some blank."""
    return (len(values) if isinstance(values, list) else 0) + BLANK_ROWS
