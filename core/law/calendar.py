"""Working-day arithmetic for legal deadlines, in an authority's own time zone.

The core knows no country: a jurisdiction plugin says which deadline applies and how
many working days it runs; the authority's configuration supplies the country,
subdivision, zone and closure days. Public holidays and the weekend come from the
``holidays`` package, so a country whose weekend is not Saturday-Sunday (or changed,
like the United Arab Emirates in 2022) is counted correctly.

Counting convention, as in "within 10 working days of presentation": the day of the
event is day 0 whatever the hour, and day n is the n-th working day after it.
"""

from __future__ import annotations

import calendar as gregorian
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from holidays import HolidayBase

WEEKEND = "weekend"
CLOSURE_DAY = "closure day"

_ONE_DAY = timedelta(days=1)
_ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, kw_only=True)
class WorkingCalendar:
    """The working days of one authority: its country's public holidays and weekend,
    plus the closure days its administrator adds, seen from its own time zone.

    ``language`` names the holidays in ``why_closed``; it is always passed to the
    ``holidays`` package explicitly because, left unset, that package picks the
    language from the process locale (``LANG``), so the same date would be explained
    in Dutch on one server and in English on another.
    """

    country: str
    zone: str
    subdivision: str | None = None
    closure_days: frozenset[date] = frozenset()
    language: str = "en_US"

    _tz: ZoneInfo = field(init=False, repr=False, compare=False)
    _holidays: HolidayBase = field(init=False, repr=False, compare=False)
    _closed_days_by_year: dict[int, dict[date, str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _year_lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        closure_days = frozenset(_require_dates(self.closure_days))
        object.__setattr__(self, "closure_days", closure_days)
        object.__setattr__(self, "_tz", _load_zone(self.zone))
        object.__setattr__(
            self, "_holidays", _load_holidays(self.country, self.subdivision, self.language)
        )

    # ---- single days -------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """True unless ``d`` is a public holiday, a weekend day or a closure day."""
        return self.why_closed(d) is None

    def why_closed(self, d: date) -> str | None:
        """Why ``d`` is not a working day, so an officer can see why a date was skipped:
        the holiday's name, ``"weekend"`` or ``"closure day"``; None on a working day.

        A holiday's name wins over "weekend" (Easter Sunday says more than Sunday), and
        both win over "closure day" (an office closure on a holiday changes nothing).
        """
        _require_date(d)
        return self._closed_days_in(d.year).get(d)

    # ---- counting ----------------------------------------------------------------

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day after ``d``; for n = 0, ``d`` itself if it is a working
        day, else the next one (a deadline never falls on a closed day)."""
        _require_date(d)
        _require_not_negative(n, instead="subtract_working_days")
        return self._step(d, n, _ONE_DAY)

    def subtract_working_days(self, d: date, n: int) -> date:
        """The n-th working day before ``d`` ("at least n working days before"); for
        n = 0, ``d`` itself if it is a working day, else the previous one, so a
        backward count never lands later than ``d``."""
        _require_date(d)
        _require_not_negative(n, instead="add_working_days")
        return self._step(d, n, -_ONE_DAY)

    def working_days_between(self, start: date, end: date) -> int:
        """The number of working days in (start, end]: the day the count starts from is
        day 0 and is not counted. Negative when ``end`` is before ``start``, so that
        counts over adjoining periods add up."""
        _require_date(start)
        _require_date(end)
        if end < start:
            return -self.working_days_between(end, start)
        count = 0
        day = start + _ONE_DAY
        while day <= end:
            if self.is_working_day(day):
                count += 1
            day += _ONE_DAY
        return count

    def due_within(self, instant: datetime, n: int) -> date:
        """The last legal date for something due "within n working days of" an event
        at ``instant``: the event's local date is day 0 whatever the hour, so a
        shipment presented on Friday evening counts from Friday even where UTC
        already says Saturday (or from Friday where UTC still says Thursday)."""
        return self.add_working_days(self.legal_date(instant), n)

    def suspended_shift(self, due: date, suspended_from: date, resumed_on: date) -> date:
        """Move ``due`` later by the working days lost while the law stopped the clock
        (e.g. verification suspended under customs transit): those in
        (suspended_from, resumed_on]."""
        if resumed_on < suspended_from:
            raise ValueError(
                f"a suspension cannot end ({resumed_on}) before it starts ({suspended_from})"
            )
        lost = self.working_days_between(suspended_from, resumed_on)
        return self.add_working_days(due, lost) if lost else due

    @staticmethod
    def months_after(d: date, months: int) -> date:
        """The same day ``months`` calendar months later ("within one month", "valid
        two months"), clamped to the last day of a shorter month: 31 January + 1
        month is 28 (or 29) February. Negative ``months`` count back."""
        _require_date(d)
        month_index = d.year * 12 + (d.month - 1) + months
        year, month = divmod(month_index, 12)
        month += 1
        last_day = gregorian.monthrange(year, month)[1]
        return date(year, month, min(d.day, last_day))

    # ---- instants ----------------------------------------------------------------

    def legal_date(self, instant: datetime) -> date:
        """The date an instant falls on in the authority's zone: the law counts local
        days, while instants are stored in UTC."""
        if not isinstance(instant, datetime):
            raise TypeError(f"legal_date needs a datetime, got {type(instant).__name__}")
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError(
                f"naive datetime {instant.isoformat()}: give an aware (UTC) instant, "
                "a wall-clock time without a zone could be any of several instants"
            )
        return instant.astimezone(self._tz).date()

    def end_of_day(self, d: date) -> datetime:
        """The last instant of legal date ``d`` in the zone, as an aware UTC datetime
        (deadlines are stored as UTC instants).

        Computed as the start of the next local day minus one microsecond, which stays
        right on days whose length is not 24 hours: on the day clocks change, and in
        zones that change them at midnight (where 23:30 can happen twice).
        """
        _require_date(d)
        return self._start_of_day(d + _ONE_DAY) - _ONE_MICROSECOND

    def _start_of_day(self, d: date) -> datetime:
        # fold=0 picks the first of two local midnights; a midnight skipped by a
        # spring-forward maps to the instant the clocks jump, where the day starts.
        return datetime.combine(d, time.min, tzinfo=self._tz).astimezone(UTC)

    # ---- internals ---------------------------------------------------------------

    def _step(self, d: date, n: int, step: timedelta) -> date:
        day = d
        if n == 0:
            while not self.is_working_day(day):
                day += step
            return day
        remaining = n
        while remaining:
            day += step
            if self.is_working_day(day):
                remaining -= 1
        return day

    def _closed_days_in(self, year: int) -> dict[date, str]:
        """The closed days of one year with their reason, built once per year: a
        10-day count is then a handful of dictionary look-ups."""
        closed = self._closed_days_by_year.get(year)
        if closed is None:
            # The holidays object fills itself year by year and is not thread-safe.
            with self._year_lock:
                closed = self._closed_days_by_year.get(year)
                if closed is None:
                    closed = self._build_closed_days(year)
                    self._closed_days_by_year[year] = closed
        return closed

    def _build_closed_days(self, year: int) -> dict[date, str]:
        closed: dict[date, str] = {}
        day = date(year, 1, 1)
        while day.year == year:
            holiday_name = self._holidays.get(day)
            if holiday_name:
                closed[day] = holiday_name
            # is_working_day rather than the class's `weekend` set: it follows weekends
            # that changed over the years or differ by subdivision, and the weekend
            # days some countries declare working days.
            elif not self._holidays.is_working_day(day):
                closed[day] = WEEKEND
            elif day in self.closure_days:
                closed[day] = CLOSURE_DAY
            day += _ONE_DAY
        return closed


def _load_zone(zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError) as exc:
        # OSError: with the tzdata package, ZoneInfo("Europe") meets a folder.
        raise ValueError(
            f"unknown time zone {zone!r}: expected an IANA name such as 'Europe/Brussels'"
        ) from exc


def _load_holidays(country: str, subdivision: str | None, language: str) -> HolidayBase:
    try:
        holidays.country_holidays(country)
    except NotImplementedError as exc:
        raise ValueError(
            f"unknown country {country!r}: the holidays package has no calendar for it "
            "(expected an ISO 3166-1 code such as 'BE')"
        ) from exc
    try:
        country_holidays = holidays.country_holidays(country, subdiv=subdivision, language=language)
    except NotImplementedError as exc:
        raise ValueError(f"unknown subdivision {subdivision!r} of {country!r}: {exc}") from exc
    translations = type(country_holidays).supported_languages
    if translations and language not in translations:
        raise ValueError(
            f"holiday names for {country!r} exist in {', '.join(sorted(translations))}, "
            f"not {language!r}"
        )
    return country_holidays


def _require_date(d: object) -> None:
    # datetime is a subclass of date and never equals one, so it would silently miss
    # every holiday; the caller must say which zone's date it means (legal_date).
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(f"expected a date, got {type(d).__name__}; use legal_date() for an instant")


def _require_dates(days: Iterable[date]) -> Iterator[date]:
    for d in days:
        _require_date(d)
        yield d


def _require_not_negative(n: int, *, instead: str) -> None:
    if n < 0:
        raise ValueError(f"n must be 0 or more, got {n}; use {instead}() to count the other way")
