"""What every face reads from the outside world the same, strict way (issue 21).

JSON documents, whole numbers in query strings and forms, days: each read here once, so
that the API, the pages and the plugins' own routes refuse the same inputs with the
same 4xx naming the field, and no odd input reaches the database or a recursive walk.

- JSON: ``NaN``, ``Infinity`` and numbers too large for a float (``1e400``) are refused:
  PostgreSQL refuses them in a JSON column and SQLite stores them as text no JSON reader
  accepts. Nesting is bounded (``MAX_DEPTH``), far below Python's recursion limit, and
  strings must be storable (no NUL, no lone surrogate).
- Whole numbers: ASCII digits only (``str.isdigit`` also accepts ``²`` and Arabic-Indic
  digits, and ``int`` reads the latter), within given bounds.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from caratflow.errors import FieldError, InvalidInput

MAX_DEPTH = 32
"""Levels of nesting a JSON value may have (a shipment's deepest field is at 4)."""

MAX_ID = 2**31 - 1
"""The largest record id (an INTEGER column on PostgreSQL)."""

_WHOLE = re.compile(r"[0-9]{1,18}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _field(path: str) -> str:
    return path or "$"


def refuse_unstorable(value: Any, path: str = "") -> None:
    """Raise ``InvalidInput`` naming the first part of ``value`` that no JSON column may
    keep: nested deeper than ``MAX_DEPTH``, a non-finite number, a NUL or a lone
    surrogate in a string or key. Walks without recursion, so any depth is safe."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, here, depth = stack.pop()
        if isinstance(item, str):
            problem = _unstorable_text(item)
            if problem:
                raise InvalidInput([FieldError(_field(here), problem)])
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidInput([FieldError(_field(here), "must be a finite number")])
        elif isinstance(item, Mapping | list | tuple):
            if depth >= MAX_DEPTH:
                message = f"nested more than {MAX_DEPTH} levels deep"
                raise InvalidInput([FieldError(_field(here), message)])
            pairs = item.items() if isinstance(item, Mapping) else enumerate(item)
            for key, child in reversed(list(pairs)):
                inner = f"{here}.{key}" if here else str(key)
                if isinstance(key, str) and _unstorable_text(key):
                    raise InvalidInput([FieldError(inner, _unstorable_text(key))])
                stack.append((child, inner, depth + 1))


def _unstorable_text(text: str) -> str:
    if "\x00" in text:
        return "contains a NUL character, which cannot be stored"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a character that cannot be stored (a lone surrogate)"
    return ""


class NotJson(ValueError):
    """The text is not JSON at all (the caller decides whether that is an error)."""


def loads(text: str | bytes, path: str = "") -> Any:
    """Parse JSON strictly: ``NotJson`` if it is not JSON, ``InvalidInput`` naming the
    field if it is JSON that cannot be kept (see ``refuse_unstorable``)."""
    try:
        value = json.loads(text, parse_constant=float)  # NaN and Infinity: refused below
    except RecursionError:
        raise InvalidInput([FieldError(_field(path), "nested too deeply")]) from None
    except ValueError as error:  # also not UTF-8, or an integer of more than 4300 digits
        raise NotJson(str(error)) from None
    refuse_unstorable(value, path)
    return value


def whole_number(raw: str, field: str, low: int = 0, high: int = MAX_ID) -> int:
    """``raw`` as a whole number of ASCII digits from ``low`` to ``high``, else
    ``InvalidInput`` naming ``field``."""
    if not _WHOLE.fullmatch(raw) or not low <= int(raw) <= high:
        raise InvalidInput([FieldError(field, f"must be a whole number {low}..{high}")])
    return int(raw)


def optional_whole_number(
    raw: str | None, field: str, default: int | None, low: int = 0, high: int = MAX_ID
) -> int | None:
    """``whole_number``, or ``default`` when the parameter is absent."""
    return default if raw is None else whole_number(raw, field, low, high)


def day_start(raw: str | None, field: str, zone: str = "UTC", days: int = 0) -> datetime | None:
    """The start of the day ``raw`` (YYYY-MM-DD) plus ``days``, at midnight in ``zone``,
    as a UTC instant; ``None`` if absent. A day whose midnight falls outside
    the calendar (9999-12-31 plus one, or 0001-01-01 east of Greenwich) is refused."""
    if raw is None:
        return None
    try:
        if not _DAY.fullmatch(raw):
            raise ValueError(raw)
        day = date.fromisoformat(raw) + timedelta(days=days)
        return datetime.combine(day, time(), ZoneInfo(zone)).astimezone(UTC)
    except (ValueError, OverflowError):
        message = "a day as YYYY-MM-DD, from 0001-01-02 to 9999-12-30"
        raise InvalidInput([FieldError(field, message)]) from None


def written_as_text(value: Any) -> Any:
    """A date or instant as JSON writes one, ISO 8601 text: pydantic would read a number
    as seconds since 1970, so ``"presented_at": 0`` would pass for a presentation in 1970
    (issue 26: found by fuzzing from the documented example)."""
    if not isinstance(value, str | date):  # a datetime is a date
        raise ValueError("must be ISO 8601 text, e.g. 2026-11-20T10:15:00+01:00 or 2026-11-20")
    return value
