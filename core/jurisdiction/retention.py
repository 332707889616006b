"""What a plugin's retention rule sees of a finished shipment (``caratflow_retention_until``):
the dates its periods count from. ``caratflow.records.retention`` purges by them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class RetentionFacts:
    """What a retention rule counts from: the shipment's decisions and their legal dates."""

    shipment_id: int
    authority: str
    direction: str
    goods: str
    state: str
    presented_on: date
    decisions: tuple[tuple[str, date], ...]  # (action, legal date of the decision)

    def last(self, *actions: str) -> date | None:
        """The date of the latest decision among ``actions`` (e.g. customs clearance)."""
        dates = [day for action, day in self.decisions if action in actions]
        return max(dates) if dates else None


def years_after(day: date, years: int) -> date:
    """The first day after ``years`` full years from ``day``: "keep at least N years".

    From 29 February the anniversary in a common year is 1 March, so a period of
    retention never ends a day early.
    """
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a common year
        return date(day.year + years, 3, 1)
