"""Every legal period says which rule counts it (issue 22, point 11): calendar months,
working days, Reg. (EEC, Euratom) No 1182/71 or the scheme's own wording; and a period
counted "to the day" ends on the date it falls on, a closed day too."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from caratflow.jurisdiction.clocks import Period, Unit
from caratflow.law.calendar import WorkingCalendar
from caratflow.law.parameters import read_toml

PLUGINS = Path(__file__).parents[2] / "plugins"


def _is_period(value: Any) -> bool:
    if isinstance(value, dict) and set(value) == {"months"}:  # a document's validity
        return True
    try:
        Period.parse(value)
    except (TypeError, ValueError):
        return False
    return True


PERIODS = [
    pytest.param(entry, id=f"{path.parent.parent.name}.{name}.{entry['effective_from']}")
    for path in sorted(PLUGINS.glob("*/parameters/*.toml"))
    for name, table in read_toml(path).items()
    for entry in table["values"]
    if _is_period(entry["value"])
]


def test_the_plugins_have_periods_to_check():
    assert len(PERIODS) >= 8


@pytest.mark.parametrize("entry", PERIODS)
def test_every_period_says_which_rule_counts_it(entry):
    assert len(entry.get("counted_by", "")) > 20, entry


BRUSSELS = WorkingCalendar(country="BE", zone="Europe/Brussels")


@pytest.mark.parametrize(
    ("start", "period", "due"),
    [
        # Reg. 1182/71: a month to the same date, off a closed day to the next working day
        (date(2026, 9, 14), "2 months", date(2026, 11, 16)),  # Saturday 14 -> Monday 16
        (date(2027, 10, 25), "2 months", date(2027, 12, 27)),  # Christmas (Saturday) -> Monday
        (date(2027, 12, 31), "2 months", date(2028, 2, 29)),  # leap year, a Tuesday
        (date(2026, 12, 31), "2 months", date(2027, 3, 1)),  # 28 February 2027 is a Sunday
        (date(2026, 1, 31), "1 month", date(2026, 3, 2)),  # 28 February 2026: a Saturday
        # to the day: the date a document states
        (date(2026, 9, 14), "2 months, to the day", date(2026, 11, 14)),
        (date(2026, 12, 31), "2 months, to the day", date(2027, 2, 28)),
        (date(2027, 12, 31), "2 months, to the day", date(2028, 2, 29)),
        # working days: the day itself not counted, weekends and holidays skipped
        (date(2027, 12, 24), "1 working day", date(2027, 12, 27)),
        (date(2027, 12, 31), "1 working day", date(2028, 1, 3)),
    ],
)
def test_a_period_ends_as_the_rule_that_counts_it_says(start, period, due):
    assert Period.parse(period).due_after(BRUSSELS, start) == due


def test_a_period_to_the_day_reads_back_as_written():
    period = Period.parse("2 months, to the day")
    assert (period.unit, period.to_the_day, str(period)) == (
        Unit.MONTHS,
        True,
        "2 months, to the day",
    )
    assert str(Period.parse("10 working days")) == "10 working days"
