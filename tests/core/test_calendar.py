"""Working-day calendars: the dates the law's deadlines fall on, with real 2025-2028 dates.

Expected values were counted by hand, day by day; each test's name says the rule.
"""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caratflow.law.calendar import WorkingCalendar

BRUSSELS = ZoneInfo("Europe/Brussels")
BELGIUM = WorkingCalendar(country="BE", zone="Europe/Brussels")
NORWAY = WorkingCalendar(country="NO", zone="Europe/Oslo")


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


# ---- Belgian and Norwegian public holidays ------------------------------------------


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 1, 1), "New Year's Day"),
        (date(2026, 4, 6), "Easter Monday"),
        (date(2026, 5, 1), "Labor Day"),
        (date(2026, 5, 14), "Ascension Day"),
        (date(2026, 5, 25), "Pentecost Monday"),
        (date(2026, 7, 21), "National Day"),
        (date(2026, 8, 15), "Assumption Day"),
        (date(2026, 11, 1), "All Saints' Day"),
        (date(2026, 11, 11), "Armistice Day"),
        (date(2026, 12, 25), "Christmas Day"),
    ],
)
def test_belgian_public_holiday_is_closed_and_named(day: date, name: str):
    assert not BELGIUM.is_working_day(day)
    assert BELGIUM.why_closed(day) == name


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 4, 2),  # Maundy Thursday: a holiday in Norway, not in Belgium
        date(2026, 4, 3),  # Good Friday: only a bank holiday in Belgium
        date(2026, 5, 15),  # Friday after Ascension: only a bank holiday
        date(2025, 12, 26),  # a Friday; 26 December is a holiday in Norway only
        date(2026, 12, 24),
        date(2026, 12, 31),
    ],
)
def test_belgium_works_on_days_other_authorities_close(day: date):
    assert BELGIUM.is_working_day(day)
    assert BELGIUM.why_closed(day) is None


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 1, 1), "New Year's Day"),
        (date(2026, 4, 2), "Maundy Thursday"),
        (date(2026, 4, 3), "Good Friday"),
        (date(2026, 4, 6), "Easter Monday"),
        (date(2026, 5, 1), "Labor Day"),
        (date(2026, 5, 14), "Ascension Day"),
        (date(2026, 5, 17), "Constitution Day"),  # a Sunday: the name beats "weekend"
        (date(2026, 5, 25), "Pentecost Monday"),
        (date(2026, 12, 25), "Christmas Day"),
        (date(2025, 12, 26), "Second Day of Christmas"),
        (date(2026, 12, 26), "Second Day of Christmas"),
    ],
)
def test_norwegian_public_holiday_is_closed_and_named(day: date, name: str):
    assert not NORWAY.is_working_day(day)
    assert NORWAY.why_closed(day) == name


def test_constitution_day_on_whit_monday_2027_names_both_holidays():
    assert NORWAY.why_closed(date(2027, 5, 17)) == "Constitution Day; Pentecost Monday"


@pytest.mark.parametrize("day", [date(2026, 7, 21), date(2026, 12, 24), date(2026, 12, 31)])
def test_norway_works_on_belgian_national_day_and_christmas_and_new_years_eve(day: date):
    assert NORWAY.is_working_day(day)


# ---- EU Art. 5(1)(a): confirm within 10 working days of presentation -----------------


def test_presented_friday_17_july_2026_is_due_monday_3_august_because_21_july_is_national_day():
    presented = datetime(2026, 7, 17, 18, 0, tzinfo=BRUSSELS)
    assert presented.astimezone(UTC) == utc(2026, 7, 17, 16, 0)

    assert BELGIUM.due_within(presented, 10) == date(2026, 8, 3)
    assert BELGIUM.why_closed(date(2026, 7, 21)) == "National Day"
    assert BELGIUM.working_days_between(date(2026, 7, 17), date(2026, 8, 3)) == 10


def test_presented_monday_30_march_2026_is_due_tuesday_14_april_after_easter_monday():
    presented = utc(2026, 3, 30, 7, 15)  # 09:15 in Brussels

    assert BELGIUM.due_within(presented, 10) == date(2026, 4, 14)
    assert BELGIUM.is_working_day(date(2026, 4, 3)), "Good Friday is counted in Belgium"
    assert not BELGIUM.is_working_day(date(2026, 4, 6))


def test_friday_evening_in_brussels_is_day_0_though_utc_reads_two_hours_earlier():
    presented = utc(2026, 7, 17, 21, 30)
    assert presented.astimezone(BRUSSELS).replace(tzinfo=None) == datetime(2026, 7, 17, 23, 30)

    assert BELGIUM.legal_date(presented) == date(2026, 7, 17)
    assert BELGIUM.due_within(presented, 10) == date(2026, 8, 3)


def test_half_past_midnight_friday_in_brussels_counts_from_friday_though_utc_says_thursday():
    presented = utc(2026, 7, 16, 22, 30)  # Friday 00:30 in Brussels

    assert BELGIUM.legal_date(presented) == date(2026, 7, 17)
    assert BELGIUM.due_within(presented, 10) == date(2026, 8, 3)
    # Counting from the UTC date would have cut a working day off the importer's period.
    assert BELGIUM.add_working_days(date(2026, 7, 16), 10) == date(2026, 7, 31)


def test_half_past_midnight_saturday_in_brussels_is_saturday_though_utc_says_friday():
    presented = utc(2026, 7, 17, 22, 30)  # Saturday 00:30 in Brussels

    assert BELGIUM.legal_date(presented) == date(2026, 7, 18)
    # Day 0 is a Saturday, so day 1 is Monday: the due date is the same as from Friday.
    assert BELGIUM.due_within(presented, 10) == date(2026, 8, 3)


def test_friday_evening_west_of_greenwich_is_friday_though_utc_already_says_saturday():
    new_york = WorkingCalendar(country="US", subdivision="NY", zone="America/New_York")
    presented = utc(2026, 7, 18, 1, 0)  # Friday 21:00 EDT

    assert new_york.legal_date(presented) == date(2026, 7, 17)
    assert new_york.due_within(presented, 1) == date(2026, 7, 20)


def test_due_within_zero_working_days_of_a_saturday_is_the_monday():
    assert BELGIUM.due_within(utc(2026, 7, 18, 10, 0), 0) == date(2026, 7, 20)


# ---- Norway §8: advance notice at least 1 working day before dispatch ----------------


def test_notice_for_dispatch_friday_15_may_2026_must_arrive_by_wednesday_13_may():
    assert NORWAY.why_closed(date(2026, 5, 14)) == "Ascension Day"
    assert NORWAY.subtract_working_days(date(2026, 5, 15), 1) == date(2026, 5, 13)


def test_notice_for_dispatch_monday_18_may_2026_must_arrive_by_friday_15_may():
    assert NORWAY.subtract_working_days(date(2026, 5, 18), 1) == date(2026, 5, 15)


def test_zero_working_days_from_a_holiday_moves_forward_when_adding_and_back_when_subtracting():
    assert NORWAY.add_working_days(date(2026, 5, 14), 0) == date(2026, 5, 15)
    assert NORWAY.subtract_working_days(date(2026, 5, 14), 0) == date(2026, 5, 13)
    assert NORWAY.add_working_days(date(2026, 5, 13), 0) == date(2026, 5, 13)
    assert NORWAY.subtract_working_days(date(2026, 5, 13), 0) == date(2026, 5, 13)


# ---- across the year end ---------------------------------------------------------------


@pytest.mark.parametrize("authority", [BELGIUM, NORWAY], ids=["belgium", "norway"])
def test_24_december_2026_plus_5_working_days_is_monday_4_january_2027(
    authority: WorkingCalendar,
):
    # 25 Dec (Fri) and 1 Jan (Fri) are closed in both; 26 Dec 2026 is a Saturday anyway.
    assert authority.add_working_days(date(2026, 12, 24), 5) == date(2027, 1, 4)
    assert authority.working_days_between(date(2026, 12, 24), date(2027, 1, 4)) == 5


def test_24_december_2025_plus_5_working_days_is_2_january_in_belgium_but_5_january_in_norway():
    # 26 December 2025 is a Friday: a working day in Belgium, a holiday in Norway.
    assert BELGIUM.add_working_days(date(2025, 12, 24), 5) == date(2026, 1, 2)
    assert NORWAY.add_working_days(date(2025, 12, 24), 5) == date(2026, 1, 5)


def test_working_days_between_counts_back_as_a_negative_number():
    assert BELGIUM.working_days_between(date(2027, 1, 4), date(2026, 12, 24)) == -5
    assert BELGIUM.working_days_between(date(2026, 12, 24), date(2026, 12, 24)) == 0


# ---- time zones and summer time -----------------------------------------------------------


@pytest.mark.parametrize("zone", ["Europe/Brussels", "Europe/Oslo"])
@pytest.mark.parametrize(
    ("day", "last_instant_utc", "local_offset_hours"),
    [
        (date(2026, 3, 28), utc(2026, 3, 28, 22, 59, 59, 999999), 1),  # still winter time
        (date(2026, 3, 29), utc(2026, 3, 29, 21, 59, 59, 999999), 2),  # clocks went forward
        (date(2026, 10, 24), utc(2026, 10, 24, 21, 59, 59, 999999), 2),  # still summer time
        (date(2026, 10, 25), utc(2026, 10, 25, 22, 59, 59, 999999), 1),  # clocks went back
    ],
)
def test_end_of_day_is_local_23_59_59_999999_in_utc_on_either_side_of_a_clock_change(
    zone: str, day: date, last_instant_utc: datetime, local_offset_hours: int
):
    authority = WorkingCalendar(country="BE", zone=zone)

    end = authority.end_of_day(day)

    assert end == last_instant_utc
    assert end.utcoffset() == timedelta(0)
    local = end.astimezone(ZoneInfo(zone))
    assert (local.date(), local.hour, local.minute, local.second, local.microsecond) == (
        day,
        23,
        59,
        59,
        999999,
    )
    assert local.utcoffset() == timedelta(hours=local_offset_hours)


@pytest.mark.parametrize("authority", [BELGIUM, NORWAY], ids=["brussels", "oslo"])
@pytest.mark.parametrize(
    ("instant", "legal_date"),
    [
        (utc(2026, 3, 28, 22, 59, 59, 999999), date(2026, 3, 28)),
        (utc(2026, 3, 28, 23, 0), date(2026, 3, 29)),  # midnight CET
        (utc(2026, 3, 29, 21, 59, 59, 999999), date(2026, 3, 29)),
        (utc(2026, 3, 29, 22, 0), date(2026, 3, 30)),  # midnight CEST: one hour earlier
        (utc(2026, 10, 24, 21, 59, 59, 999999), date(2026, 10, 24)),
        (utc(2026, 10, 24, 22, 0), date(2026, 10, 25)),  # midnight CEST
        (utc(2026, 10, 25, 22, 59, 59, 999999), date(2026, 10, 25)),
        (utc(2026, 10, 25, 23, 0), date(2026, 10, 26)),  # midnight CET: one hour later
    ],
)
def test_legal_date_of_instants_around_midnight_on_clock_change_weekends(
    authority: WorkingCalendar, instant: datetime, legal_date: date
):
    assert authority.legal_date(instant) == legal_date


def test_legal_date_of_an_instant_given_in_another_zone_is_still_the_authoritys_date():
    saturday_morning_in_tokyo = datetime(2026, 7, 18, 6, 0, tzinfo=ZoneInfo("Asia/Tokyo"))

    assert BELGIUM.legal_date(saturday_morning_in_tokyo) == date(2026, 7, 17)


def test_end_of_day_where_clocks_go_back_at_midnight_is_the_second_23_59_59():
    # Chile: on Saturday 4 April 2026 at 24:00 -03 the clocks go back to 23:00 -04, so
    # the last hour of Saturday happens twice; the day ends after the second one.
    santiago = WorkingCalendar(country="CL", zone="America/Santiago")
    first_pass = datetime(2026, 4, 4, 23, 59, 59, 999999, tzinfo=ZoneInfo("America/Santiago"))

    assert santiago.end_of_day(date(2026, 4, 4)) == utc(2026, 4, 5, 3, 59, 59, 999999)
    assert first_pass.astimezone(UTC) == utc(2026, 4, 5, 2, 59, 59, 999999)
    assert santiago.legal_date(utc(2026, 4, 5, 3, 30)) == date(2026, 4, 4)


def test_end_of_day_before_clocks_skip_midnight_is_the_instant_before_they_jump():
    # Chile: on Saturday 5 September 2026 at 24:00 -04 the clocks jump to 01:00 -03.
    santiago = WorkingCalendar(country="CL", zone="America/Santiago")

    assert santiago.end_of_day(date(2026, 9, 5)) == utc(2026, 9, 6, 3, 59, 59, 999999)
    assert santiago.legal_date(utc(2026, 9, 6, 4, 0)) == date(2026, 9, 6)
    assert santiago.end_of_day(date(2026, 9, 6)) == utc(2026, 9, 7, 2, 59, 59, 999999)


# ---- closure days and reasons --------------------------------------------------------------


def test_office_closure_on_monday_20_july_2026_moves_the_10_day_deadline_to_tuesday_4_august():
    antwerp = WorkingCalendar(
        country="BE", zone="Europe/Brussels", closure_days=[date(2026, 7, 20)]
    )

    assert antwerp.why_closed(date(2026, 7, 20)) == "closure day"
    assert antwerp.due_within(utc(2026, 7, 17, 16, 0), 10) == date(2026, 8, 4)
    assert BELGIUM.is_working_day(date(2026, 7, 20)), "a closure belongs to one calendar"


def test_closure_on_a_holiday_or_weekend_keeps_the_more_telling_reason():
    antwerp = WorkingCalendar(
        country="BE",
        zone="Europe/Brussels",
        closure_days={date(2026, 7, 21), date(2026, 7, 18)},
    )

    assert antwerp.why_closed(date(2026, 7, 21)) == "National Day"
    assert antwerp.why_closed(date(2026, 7, 18)) == "weekend"


def test_calendars_with_the_same_closure_days_are_equal_however_the_days_were_given():
    as_list = WorkingCalendar(
        country="BE", zone="Europe/Brussels", closure_days=[date(2026, 7, 20)]
    )
    as_set = WorkingCalendar(
        country="BE", zone="Europe/Brussels", closure_days=frozenset({date(2026, 7, 20)})
    )

    assert as_list == as_set
    assert hash(as_list) == hash(as_set)
    assert as_list.closure_days == frozenset({date(2026, 7, 20)})
    assert as_list != BELGIUM


def test_ordinary_weekend_is_explained_as_weekend_and_a_working_day_as_none():
    assert BELGIUM.why_closed(date(2026, 7, 18)) == "weekend"
    assert NORWAY.why_closed(date(2026, 7, 19)) == "weekend"
    assert BELGIUM.why_closed(date(2026, 7, 20)) is None


def test_holiday_on_a_sunday_is_explained_by_its_name():
    assert BELGIUM.why_closed(date(2026, 4, 5)) == "Easter Sunday"
    assert BELGIUM.why_closed(date(2026, 5, 24)) == "Pentecost"


@pytest.mark.parametrize(
    ("language", "name"), [("nl", "Nationale feestdag"), ("fr", "Fête nationale")]
)
def test_holiday_names_can_be_given_in_the_authoritys_language(language: str, name: str):
    authority = WorkingCalendar(country="BE", zone="Europe/Brussels", language=language)
    assert authority.why_closed(date(2026, 7, 21)) == name


def test_holiday_names_do_not_follow_the_server_locale(monkeypatch: pytest.MonkeyPatch):
    # Left to itself, the holidays package picks the names' language from LANG.
    monkeypatch.setenv("LANGUAGE", "nl_BE")
    monkeypatch.setenv("LANG", "nl_BE.UTF-8")

    fresh = WorkingCalendar(country="BE", zone="Europe/Brussels")

    assert fresh.why_closed(date(2026, 7, 21)) == "National Day"


# ---- the weekend comes from the country, not from an assumed Saturday-Sunday ---------------


def test_united_arab_emirates_moved_the_weekend_from_friday_saturday_to_saturday_sunday_in_2022():
    dubai = WorkingCalendar(country="AE", zone="Asia/Dubai")

    assert dubai.why_closed(date(2021, 1, 8)) == "weekend"  # Friday
    assert dubai.is_working_day(date(2021, 1, 10))  # Sunday
    assert dubai.is_working_day(date(2023, 1, 6))  # Friday
    assert dubai.why_closed(date(2023, 1, 8)) == "weekend"  # Sunday


def test_a_saturday_a_country_declares_a_working_day_is_counted():
    # Belarus moved the day off from Saturday 25 April 2026 to Monday 20 April.
    minsk = WorkingCalendar(country="BY", zone="Europe/Minsk")

    assert minsk.is_working_day(date(2026, 4, 25))
    assert not minsk.is_working_day(date(2026, 4, 20))
    assert minsk.add_working_days(date(2026, 4, 24), 1) == date(2026, 4, 25)


# ---- calendar months ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 7, 17), 1, date(2026, 8, 17)),
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 12, 31), 2, date(2027, 2, 28)),
        (date(2027, 12, 31), 2, date(2028, 2, 29)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2026, 10, 31), 2, date(2026, 12, 31)),
        (date(2026, 5, 15), 0, date(2026, 5, 15)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
    ],
)
def test_months_after_counts_calendar_months_and_clamps_to_the_last_day(
    start: date, months: int, expected: date
):
    assert WorkingCalendar.months_after(start, months) == expected
    assert BELGIUM.months_after(start, months) == expected


def test_a_month_may_end_on_a_holiday_and_the_rule_decides_whether_to_move_it():
    one_month_later = BELGIUM.months_after(date(2026, 4, 25), 1)

    assert one_month_later == date(2026, 5, 25)  # Whit Monday: not moved by months_after
    assert BELGIUM.add_working_days(one_month_later, 0) == date(2026, 5, 26)


# ---- a clock stopped by the law (EU Art. 4(3), customs transit) ---------------------------


def test_suspension_from_wednesday_22_to_tuesday_28_july_adds_4_working_days():
    assert BELGIUM.suspended_shift(
        date(2026, 8, 3), suspended_from=date(2026, 7, 22), resumed_on=date(2026, 7, 28)
    ) == date(2026, 8, 7)


def test_suspension_over_the_national_day_only_costs_the_working_days_in_it():
    # (20 July, 22 July] holds 21 July (National Day) and 22 July: one working day.
    assert BELGIUM.suspended_shift(
        date(2026, 8, 3), suspended_from=date(2026, 7, 20), resumed_on=date(2026, 7, 22)
    ) == date(2026, 8, 4)


@pytest.mark.parametrize(
    ("suspended_from", "resumed_on"),
    [(date(2026, 7, 24), date(2026, 7, 26)), (date(2026, 7, 22), date(2026, 7, 22))],
    ids=["over-a-weekend", "resumed-same-day"],
)
def test_suspension_without_working_days_leaves_the_due_date(
    suspended_from: date, resumed_on: date
):
    assert BELGIUM.suspended_shift(date(2026, 8, 3), suspended_from, resumed_on) == date(2026, 8, 3)


def test_suspension_cannot_end_before_it_starts():
    with pytest.raises(ValueError, match="before it starts"):
        BELGIUM.suspended_shift(date(2026, 8, 3), date(2026, 7, 28), date(2026, 7, 22))


# ---- errors ---------------------------------------------------------------------------------


def test_naive_datetime_is_refused_because_it_could_be_any_of_several_instants():
    with pytest.raises(ValueError, match="naive"):
        BELGIUM.legal_date(datetime(2026, 7, 17, 18, 0))
    with pytest.raises(ValueError, match="naive"):
        BELGIUM.due_within(datetime(2026, 7, 17, 18, 0), 10)


def test_a_datetime_is_not_accepted_where_a_legal_date_is_meant():
    with pytest.raises(TypeError, match="legal_date"):
        BELGIUM.is_working_day(utc(2026, 7, 21, 10, 0))
    with pytest.raises(TypeError, match="legal_date"):
        WorkingCalendar(country="BE", zone="Europe/Brussels", closure_days=[utc(2026, 7, 20)])
    with pytest.raises(TypeError, match="datetime"):
        BELGIUM.legal_date(date(2026, 7, 17))  # type: ignore[arg-type]


@pytest.mark.parametrize("country", ["XX", "be", ""])
def test_unknown_country_is_refused(country: str):
    with pytest.raises(ValueError, match="unknown country"):
        WorkingCalendar(country=country, zone="Europe/Brussels")


def test_unknown_subdivision_is_refused():
    with pytest.raises(ValueError, match="unknown subdivision"):
        WorkingCalendar(country="BE", subdivision="Antwerp", zone="Europe/Brussels")


@pytest.mark.parametrize("zone", ["Europe/Antwerp", "CET+1", "", "../etc/passwd", "Europe"])
def test_unknown_zone_is_refused(zone: str):
    with pytest.raises(ValueError, match="unknown time zone"):
        WorkingCalendar(country="BE", zone=zone)


def test_language_without_holiday_names_is_refused():
    with pytest.raises(ValueError, match="not 'sv'"):
        WorkingCalendar(country="BE", zone="Europe/Brussels", language="sv")


def test_negative_counts_are_refused_in_favour_of_the_other_direction():
    with pytest.raises(ValueError, match="subtract_working_days"):
        BELGIUM.add_working_days(date(2026, 7, 17), -1)
    with pytest.raises(ValueError, match="add_working_days"):
        BELGIUM.subtract_working_days(date(2026, 7, 17), -1)


# ---- cost ------------------------------------------------------------------------------------


def test_holidays_are_computed_once_per_year_not_once_per_count(
    monkeypatch: pytest.MonkeyPatch,
):
    built_years: list[int] = []
    build = WorkingCalendar._build_closed_days

    def counting_build(self: WorkingCalendar, year: int) -> dict[date, str]:
        built_years.append(year)
        return build(self, year)

    monkeypatch.setattr(WorkingCalendar, "_build_closed_days", counting_build)
    holiday_objects: list[str] = []
    country_holidays = holidays.country_holidays

    def counting_country_holidays(country: str, **options: object) -> holidays.HolidayBase:
        holiday_objects.append(country)
        return country_holidays(country, **options)

    authority = WorkingCalendar(country="BE", zone="Europe/Brussels")
    monkeypatch.setattr(holidays, "country_holidays", counting_country_holidays)

    for _ in range(200):
        assert authority.add_working_days(date(2026, 7, 17), 10) == date(2026, 8, 3)
        assert authority.add_working_days(date(2026, 12, 24), 5) == date(2027, 1, 4)

    assert built_years == [2026, 2027]
    assert holiday_objects == []


# ---- properties -------------------------------------------------------------------------------

ANTWERP_WITH_CLOSURES = WorkingCalendar(
    country="BE",
    zone="Europe/Brussels",
    closure_days={date(2026, 7, 20), date(2026, 12, 24), date(2026, 12, 31)},
)
DUBAI = WorkingCalendar(country="AE", zone="Asia/Dubai")
authorities = st.sampled_from([BELGIUM, NORWAY, ANTWERP_WITH_CLOSURES, DUBAI])
days = st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31))
counts = st.integers(min_value=0, max_value=45)
ZONES = [
    "Europe/Brussels",
    "Europe/Oslo",
    "America/Santiago",  # changes clocks at midnight
    "America/New_York",
    "Asia/Kolkata",  # +05:30, no summer time
    "Australia/Lord_Howe",  # summer time of half an hour
    "Pacific/Chatham",  # +12:45 / +13:45
]
calendars_by_zone = {zone: WorkingCalendar(country="BE", zone=zone) for zone in ZONES}


@settings(deadline=None)
@given(authorities, days, counts)
def test_adding_working_days_always_lands_on_a_later_working_day(
    authority: WorkingCalendar, start: date, n: int
):
    due = authority.add_working_days(start, n)

    assert authority.is_working_day(due)
    assert due >= start
    if n > 0:
        assert due > start


@settings(deadline=None)
@given(authorities, days, st.integers(min_value=1, max_value=45))
def test_counting_the_working_days_up_to_a_due_date_gives_back_n(
    authority: WorkingCalendar, start: date, n: int
):
    due = authority.add_working_days(start, n)

    assert authority.working_days_between(start, due) == n
    assert authority.working_days_between(start, due - timedelta(days=1)) == n - 1


@settings(deadline=None)
@given(authorities, days, st.integers(min_value=1, max_value=45))
def test_subtracting_undoes_adding_back_to_the_last_working_day_on_or_before_the_start(
    authority: WorkingCalendar, start: date, n: int
):
    due = authority.add_working_days(start, n)

    assert authority.subtract_working_days(due, n) == authority.subtract_working_days(start, 0)


@settings(deadline=None)
@given(authorities, days, days, counts, counts)
def test_a_later_start_or_a_longer_period_never_gives_an_earlier_due_date(
    authority: WorkingCalendar, first: date, second: date, n: int, m: int
):
    earlier, later = sorted([first, second])
    shorter, longer = sorted([n, m])

    assert authority.add_working_days(earlier, n) <= authority.add_working_days(later, n)
    assert authority.add_working_days(first, shorter) <= authority.add_working_days(first, longer)
    assert authority.subtract_working_days(earlier, n) <= authority.subtract_working_days(later, n)


@settings(deadline=None)
@given(authorities, days, st.integers(-400, 400), st.integers(-400, 400))
def test_working_days_over_adjoining_periods_add_up(
    authority: WorkingCalendar, start: date, to_middle: int, to_end: int
):
    middle = start + timedelta(days=to_middle)
    end = middle + timedelta(days=to_end)

    assert authority.working_days_between(start, middle) + authority.working_days_between(
        middle, end
    ) == authority.working_days_between(start, end)


@settings(deadline=None)
@given(st.sampled_from([("BE", BELGIUM), ("NO", NORWAY)]), days)
def test_working_day_means_monday_to_friday_and_not_a_public_holiday(
    country_and_authority: tuple[str, WorkingCalendar], day: date
):
    country, authority = country_and_authority
    public_holidays = holidays.country_holidays(country, years=day.year)

    assert authority.is_working_day(day) == (day.weekday() < 5 and day not in public_holidays)


@given(st.sampled_from(ZONES), days)
def test_end_of_day_is_the_last_instant_of_the_legal_date(zone: str, day: date):
    authority = calendars_by_zone[zone]

    end = authority.end_of_day(day)

    assert end.utcoffset() == timedelta(0)
    assert authority.legal_date(end) == day
    assert authority.legal_date(end + timedelta(microseconds=1)) == day + timedelta(days=1)


@given(days, st.integers(min_value=-30, max_value=30))
def test_months_after_keeps_the_day_of_month_or_clamps_to_the_month_end(start: date, months: int):
    result = WorkingCalendar.months_after(start, months)

    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == months
    assert result.day <= start.day
    if result.day < start.day:
        assert (result + timedelta(days=1)).day == 1
