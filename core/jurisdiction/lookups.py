"""Look-ups as a plugin declares them: what another authority's node may ask about a record
the plugin keeps, and what is disclosed. ``caratflow.exchange.lookups`` asks and answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from caratflow.law.rules import RuleVersion

if TYPE_CHECKING:
    pass


Describe = Callable[[Session, str, str, date], Mapping[str, Any] | None]


@dataclass(frozen=True)
class LookupType:
    """What another authority may ask about, declared by a plugin (module docstring).

    ``describe(session, authority, value, legal_date)`` says what the authority discloses
    of its record ``value`` beside the sealed leaf, or ``None`` when it keeps no such
    record (another authority's is not found).
    """

    version: RuleVersion
    plugin: str
    about: str  # the field of the look-up's data naming what is asked about
    pattern: str  # the form of its value, which is the key of the leaf that seals it
    sealed_as: str  # the ledger kind of that leaf
    describe: Describe

    @property
    def type(self) -> str:
        return self.version.id

    def names(self, value: object) -> bool:
        return isinstance(value, str) and re.fullmatch(self.pattern, value) is not None
