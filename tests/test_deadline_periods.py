"""The counting rules (民法典第201–203条): start day not counted, corresponding day, rest days, 调休, working days."""
import datetime as dt

import pytest

from miyun.deadlines.periods import add_months, count, day_info, weekday_name

D = dt.date


def test_the_issue_example_60_days():
    p = count(D(2026, 9, 10), 60, "day")
    assert p.last_day == D(2026, 11, 9) and weekday_name(p.last_day) == "星期一" and not p.moved


def test_start_day_is_not_counted():
    assert count(D(2026, 11, 10), 1, "day").last_day == D(2026, 11, 11)
    assert count(D(2026, 11, 10), 1, "workday").last_day == D(2026, 11, 11)


@pytest.mark.parametrize("start, months, expected", [
    (D(2026, 3, 15), 6, D(2026, 9, 15)),       # corresponding day
    (D(2026, 8, 31), 1, D(2026, 9, 30)),       # no 31st in September: the month's last day
    (D(2023, 8, 31), 6, D(2024, 2, 29)),       # leap year: 29 February exists
    (D(2025, 8, 31), 6, D(2026, 2, 28)),       # not a leap year
    (D(2026, 12, 31), 2, D(2027, 2, 28)),      # across the year end
    (D(2026, 1, 31), 13, D(2027, 2, 28)),
])
def test_month_periods_end_on_the_corresponding_day(start, months, expected):
    assert add_months(start, months) == expected


def test_year_period_from_29_february():
    assert count(D(2024, 2, 29), 1, "year").nominal == D(2025, 2, 28)
    assert count(D(2024, 2, 29), 4, "year").nominal == D(2028, 2, 29)


def test_last_day_in_the_national_day_holiday_moves_to_the_first_working_day():
    p = count(D(2026, 9, 20), 15, "day")
    assert p.nominal == D(2026, 10, 5) and p.last_day == D(2026, 10, 8)
    assert p.moved and p.moved_over == ["国庆节"]


def test_last_day_on_an_ordinary_weekend_moves_to_monday():
    p = count(D(2026, 11, 11), 10, "day")
    assert p.nominal == D(2026, 11, 21) and p.last_day == D(2026, 11, 23) and p.moved_over == ["周末"]


def test_a_tiaoxiu_working_saturday_is_not_moved_past():
    info = day_info(D(2026, 10, 10))
    assert info.workday and info.in_lieu_workday       # Saturday, an official working day
    p = count(D(2026, 9, 25), 15, "day")
    assert p.last_day == D(2026, 10, 10) and not p.moved and p.ends_on_in_lieu_workday


def test_holiday_then_tiaoxiu_sunday():
    p = count(D(2025, 12, 31), 1, "day")            # 元旦 1–3 January 2026, Sunday 4 January is worked
    assert p.last_day == D(2026, 1, 4) and p.moved_over == ["元旦"]


def test_labour_day_holiday():
    assert count(D(2026, 4, 30), 1, "day").last_day == D(2026, 5, 6)


def test_working_days_skip_holidays_and_count_tiaoxiu_days():
    p = count(D(2026, 9, 30), 3, "workday")          # 10-08 Thu, 10-09 Fri, 10-10 Sat (调休)
    assert p.last_day == D(2026, 10, 10)
    p = count(D(2026, 11, 13), 3, "workday")          # Fri → Mon, Tue, Wed
    assert p.last_day == D(2026, 11, 18)


def test_twenty_working_days_over_national_day():
    p = count(D(2026, 9, 28), 20, "workday")
    # 9-29, 9-30 (2), 10-08..10-10 (5), 10-12..16 (10), 10-19..23 (15), 10-26..30 (20)
    assert p.last_day == D(2026, 10, 30)


def test_years_beyond_the_calendar_data_are_reported_and_weekends_still_apply():
    p = count(D(2026, 8, 31), 6, "month")
    assert p.nominal == D(2027, 2, 28) and p.last_day == D(2027, 3, 1)   # a Sunday → Monday
    assert p.unchecked_years == [2027]
    assert not count(D(2026, 3, 15), 6, "month").unchecked_years


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        count(D(2026, 1, 1), 0, "day")
    with pytest.raises(ValueError):
        count(D(2026, 1, 1), 3, "week")
