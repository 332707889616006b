"""Dated legal values: each with the date it takes effect and its source, the old ones kept,
so a case is judged, and replayed, under the values of its own day.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass


class DatedParameters:
    """Legal values that change over time, each with the date it takes effect and its source.

    A file holds one table per parameter::

        [kp_participants]
        description = "Participants in the Kimberley Process Certification Scheme"
        [[kp_participants.values]]
        effective_from = 2003-01-01
        source = "Reg. (EC) 2368/2002 Annex II"
        value = ["AO", "AU"]
    """

    def __init__(self, *files: Path):
        self._values: dict[str, list[dict[str, Any]]] = {}
        for path in files:
            for name, table in read_toml(path).items():
                if name in self._values:
                    raise ValueError(f"parameter {name!r} is defined twice ({path})")
                values = sorted(table["values"], key=lambda v: v["effective_from"])
                for value in values:
                    if "source" not in value:
                        raise ValueError(
                            f"{path}: {name} from {value['effective_from']} has no source"
                        )
                self._values[name] = values

    @classmethod
    def in_folder(cls, folder: Path) -> DatedParameters:
        """Every ``*.toml`` of a plugin's ``parameters/`` folder; none at all is an install
        that lost its data, not a plugin without law."""
        files = sorted(folder.glob("*.toml"))
        if not files:
            raise FileNotFoundError(f"no parameter files in {folder}")
        return cls(*files)

    def entry(self, name: str, on: date) -> dict[str, Any]:
        """The dated entry of ``name`` in force on ``on`` (value, source, effective_from)."""
        try:
            history = self._values[name]
        except KeyError:
            raise LookupError(f"no parameter {name!r}") from None
        in_force = [v for v in history if v["effective_from"] <= on]
        if not in_force:
            raise LookupError(f"parameter {name!r} is not in force on {on}")
        return in_force[-1]

    def value(self, name: str, on: date) -> Any:
        return self.entry(name, on)["value"]

    def history(self, name: str) -> list[Any]:
        """Every value ``name`` has had, oldest first (a choice a case of any day may make)."""
        return [v["value"] for v in self._values[name]]

    def names(self) -> list[str]:
        return sorted(self._values)


def read_toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        return tomllib.load(f)
